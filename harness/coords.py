"""Box coordinates at the edge: models that answer in pixels are converted to the paper's 0–1000 space
before any task code reads them, so `tasks/` only ever sees one convention.

* ``norm1000`` (Qwen2-VL and the paper): integers in [0, 1000] relative to the original image; no change.
* ``pixels`` (Qwen2.5-VL style): absolute pixels of the *resized* image the model saw (Qwen2-VL's
  ``smart_resize`` under the run's min/max_pixels policy). Each number of a ``'Position': [x1, y1, x2, y2]``
  list, of a ``(x1,y1),(x2,y2)`` pair or of a bare ``[x1, y1, x2, y2]`` box is rescaled by 1000 / resized side.
"""

from __future__ import annotations

import re

from harness.backends.images import smart_resize
from tasks.geometry import NORM

COORDS = ("norm1000", "pixels")
_N = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)"
_LIST4 = re.compile(rf"\[\s*({_N})\s*,\s*({_N})\s*,\s*({_N})\s*,\s*({_N})\s*\]")
_PAIRS = re.compile(rf"\(\s*({_N})\s*,\s*({_N})\s*\)\s*,\s*\(\s*({_N})\s*,\s*({_N})\s*\)")


def _fmt(v: float) -> str:
    return str(round(v)) if abs(v - round(v)) < 1e-9 else f"{v:.2f}"


def pixels_to_norm1000(text: str, width: int, height: int, min_pixels: int, max_pixels: int) -> str:
    """Rewrite every box of `text` from resized-image pixels to 0–1000 (rounded to integers)."""
    rh, rw = smart_resize(height, width, min_pixels=min_pixels, max_pixels=max_pixels)
    sx, sy = NORM / rw, NORM / rh

    def list4(m: re.Match[str]) -> str:
        x1, y1, x2, y2 = (float(g) for g in m.groups())
        return f"[{round(x1 * sx)}, {round(y1 * sy)}, {round(x2 * sx)}, {round(y2 * sy)}]"

    def pairs(m: re.Match[str]) -> str:
        x1, y1, x2, y2 = (float(g) for g in m.groups())
        return f"({round(x1 * sx)},{round(y1 * sy)}),({round(x2 * sx)},{round(y2 * sy)})"

    return _PAIRS.sub(pairs, _LIST4.sub(list4, text))
