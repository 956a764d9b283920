"""Grounding (LISA ReasonSeg) verifiers: ``accuracy`` and ``format``.

`OfficialGrounding` reproduces ``grpo_lisa.py`` (PROTOCOL §5.7): math_verify short-circuit, 2.0 on
an exact string match, otherwise GIoU + 1 on a "box" built from the first two corner points of all
``(x,y),(x,y)`` matches in the answer (or the whole completion): defect D15. GIoU + 1 is in [0, 2]
only for well-ordered boxes; see `OfficialGrounding` for the true range.
`StrictGrounding`: accuracy = IoU in [0, 1] of the first box in the answer block, corners sorted,
coordinates clipped to [0, 1000]; ``(x1,y1),(x2,y2)`` and ``[x1, y1, x2, y2]`` are both read.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache

from tasks import mathverify
from tasks.answer import extract_answer, official_first_answer, official_format, strict_format
from tasks.geometry import iou_xyxy
from tasks.spec import Score

COMPONENTS = ("accuracy", "format")
NORM = 1000.0

_NUM = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_STRICT_BOX = re.compile(
    rf"\(\s*({_NUM})\s*,\s*({_NUM})\s*\)\s*,?\s*\(\s*({_NUM})\s*,\s*({_NUM})\s*\)"
    rf"|\[\s*({_NUM})\s*,\s*({_NUM})\s*,\s*({_NUM})\s*,\s*({_NUM})\s*\]"
)
_OFFICIAL_BOX = re.compile(r"\(\s*(\d+)\s*,\s*(\d+)\s*\)\s*,\s*\(\s*(\d+)\s*,\s*(\d+)\s*\)")

Box = tuple[float, float, float, float]


def parse_box_strict(text: str) -> Box | None:
    """The first box in `text`, as sorted 0–1000 corners (clipped), or None. Never raises."""
    m = _STRICT_BOX.search(text)
    if m is None:
        return None
    vals = [float(g) for g in m.groups() if g is not None]
    if not all(math.isfinite(v) for v in vals):
        return None
    x1, y1, x2, y2 = (min(max(v, 0.0), NORM) for v in vals)
    return (min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2))


@dataclass(frozen=True)
class GroundingTarget:
    """The GT box in 0–1000 space, corners sorted."""

    box: Box

    @classmethod
    def from_solution(cls, solution: str) -> GroundingTarget:
        span = extract_answer(solution)
        box = parse_box_strict(span.text if span is not None else solution)
        if box is None:
            raise ValueError(f"grounding solution has no (x1,y1),(x2,y2) box: {solution[:200]!r}")
        return cls(box)

    @classmethod
    def from_pixels(cls, xyxy: tuple[float, float, float, float], width: float, height: float) -> GroundingTarget:
        x1, y1, x2, y2 = xyxy
        box = (x1 * NORM / width, y1 * NORM / height, x2 * NORM / width, y2 * NORM / height)
        return cls((min(box[0], box[2]), min(box[1], box[3]), max(box[0], box[2]), max(box[1], box[3])))


@lru_cache(maxsize=65_536)
def _cached_target(solution: str) -> GroundingTarget:
    return GroundingTarget.from_solution(solution)


@dataclass(frozen=True)
class StrictGrounding:
    components = COMPONENTS

    def parse_target(self, solution: str) -> GroundingTarget:
        return _cached_target(solution)

    def score(self, completion: str, target: GroundingTarget | str) -> Score:
        gt = self.parse_target(target) if isinstance(target, str) else target
        fmt = strict_format(completion)
        span = extract_answer(completion)
        if span is None:
            return Score({"accuracy": 0.0, "format": fmt}, "no_answer")
        box = parse_box_strict(span.text)
        if box is None:
            return Score({"accuracy": 0.0, "format": fmt}, "no_box")
        return Score({"accuracy": iou_xyxy(box, gt.box), "format": fmt}, "ok", {"box": str(box)})


def _official_points(text: str) -> list[tuple[float, float]]:
    matches = _OFFICIAL_BOX.findall(text)
    tops = [(int(a) / 1000, int(b) / 1000) for a, b, _, _ in matches]
    bottoms = [(int(c) / 1000, int(d) / 1000) for _, _, c, d in matches]
    return tops + bottoms


def official_giou(pred: list[tuple[float, float]], gt: list[tuple[float, float]]) -> float:
    """The official GIoU on point lists (signed areas; PROTOCOL §5.7 step 4). IndexError if short."""
    (px1, py1), (px2, py2) = pred[0], pred[1]
    (gx1, gy1), (gx2, gy2) = gt[0], gt[1]
    inter = max(0.0, min(px2, gx2) - max(px1, gx1)) * max(0.0, min(py2, gy2) - max(py1, gy1))
    union = (gx2 - gx1) * (gy2 - gy1) + (px2 - px1) * (py2 - py1) - inter
    iou = inter / union if union > 0 else 0.0
    hull = (max(px2, gx2) - min(px1, gx1)) * (max(py2, gy2) - min(py1, gy1))
    return iou - (hull - union) / hull if hull > 0 else iou


@dataclass(frozen=True)
class OfficialGrounding:
    """The official LISA reward. Its accuracy is GIoU + 1, in [0, 2] for well-ordered boxes; the
    signed-area GIoU leaves that range for inverted boxes (D15). On 0–1000 corners it spans about
    −1,000 (``(0,1000),(1000,0)`` against a 1×1 GT: −999.999) to 1,000,001 (``(1000,1000),(0,0)``
    against the same GT); the eval regex reads any integer, so larger corners reach any size
    (``(1000000,1000000),(0,0)``: about 1e12). Only finiteness is guaranteed (NaN/inf become 0)."""

    math_verify: bool | None = None

    components = COMPONENTS

    def __post_init__(self) -> None:
        if self.math_verify and not mathverify.available():
            raise ValueError("math_verify=True needs the math-verify package (pip install math-verify)")

    def parse_target(self, solution: str) -> str:
        return solution

    def score(self, completion: str, target: str) -> Score:
        fmt = official_format(completion)
        use_mv = mathverify.available() if self.math_verify is None else self.math_verify
        if use_mv and mathverify.short_circuit(completion, target):
            return Score({"accuracy": 1.0, "format": fmt}, "math_verify")
        sol = official_first_answer(target)
        gt_text = sol.strip() if sol is not None else target.strip()
        ans = official_first_answer(completion, dotall=True)
        student = ans.strip() if ans is not None else completion.strip()
        if student == gt_text:
            return Score({"accuracy": 2.0, "format": fmt}, "exact_string")
        try:
            value = official_giou(_official_points(student), _official_points(gt_text)) + 1.0
        except Exception:  # the official reward swallows every error (no box, overflow, ...)
            return Score({"accuracy": 0.0, "format": fmt}, "no_box")
        value = value if math.isfinite(value) else 0.0
        return Score({"accuracy": value, "format": fmt})
