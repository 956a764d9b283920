"""``RUN_DIR/masks.jsonl``: the SAM masks of a run (the one writer and reader of the format).

One JSON object per line, appended and flushed per batch like ``generations.jsonl`` (`harness.records`): a
killed mask stage keeps every finished line, a torn last line is ignored on reading and cut before the
next append, and one process writes the file at a time (`masks_lock`). A line::

    {"task": "lisa_grounding", "request_id": "test/x", "box": [x1, y1, x2, y2],
     "rle": {"size": [H, W], "counts": "..."}, "sam": {"model": ..., "fingerprint": ...},
     "profiles": ["official", "strict"], "image_wh": [W, H]}

``box`` is the pixel box SAM was prompted with (`tasks.grounding.masks`: each profile reads its own box, so
one request can have two lines), ``rle`` the mask as COCO RLE (pycocotools, as ``box2mask.py`` stores it),
``profiles`` the readings that asked for that box. A line with ``error`` instead of ``rle`` records an
image that could not be read (scored as an empty mask, counted; a rerun tries it again). A later line for
the same (task, request, box) wins. Every line of a file comes from one SAM model: the mask stage refuses
to mix two.
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from harness.records import exclusive_lock, iter_jsonl
from tasks.grounding.masks import MaskKey, StoredMasks

MASKS = "masks.jsonl"


class MasksFileError(ValueError):
    """A masks.jsonl that cannot be used as it is (names the file and line, and the fix)."""


def masks_lock(run_dir: Path) -> contextlib.AbstractContextManager[None]:
    """The lock of the one writer of ``masks.jsonl`` (a second mask stage on the run is refused)."""
    return exclusive_lock(run_dir / f".{MASKS}.lock", f"writing {MASKS}")


def mask_line(
    task: str,
    request_id: str,
    box: Iterable[float],
    sam: Mapping[str, Any],
    profiles: Iterable[str],
    image_wh: tuple[int, int],
    *,
    rle: Mapping[str, Any] | None = None,
    error: str | None = None,
) -> str:
    """One line of masks.jsonl: a mask (`rle`) or the reason it could not be made (`error`)."""
    if (rle is None) == (error is None):
        raise ValueError("mask_line: give exactly one of rle and error")
    line: dict[str, Any] = {
        "task": task,
        "request_id": request_id,
        "box": [float(v) for v in box],
        "sam": dict(sam),
        "profiles": sorted(profiles),
        "image_wh": [int(image_wh[0]), int(image_wh[1])],
    }
    line.update({"rle": dict(rle)} if rle is not None else {"error": str(error)})
    return json.dumps(line, sort_keys=True) + "\n"


def _key(obj: Mapping[str, Any], where: str) -> tuple[str, MaskKey]:
    task, rid, box = obj.get("task"), obj.get("request_id"), obj.get("box")
    if not isinstance(task, str) or not isinstance(rid, str):
        raise MasksFileError(f"{where}: 'task' and 'request_id' must be strings")
    if (
        not isinstance(box, list)
        or len(box) != 4
        or not all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in box)
    ):
        raise MasksFileError(f"{where}: 'box' must be 4 finite numbers [x1, y1, x2, y2] (pixels), got {box!r}")
    x1, y1, x2, y2 = (float(v) for v in box)
    return task, (rid, (x1, y1, x2, y2))


def read_run_masks(run_dir: Path) -> dict[str, StoredMasks] | None:
    """task -> the masks of `run_dir`; None without masks.jsonl (the mask stage never ran: no SAM numbers).
    The stage creates the file even when no answer has a box, so a task absent from it has no masks to
    make. A torn last line (a killed stage) is skipped; any other malformed line, or lines from two SAM
    models, raise MasksFileError naming the file and line and what to do."""
    path = run_dir / MASKS
    if not path.is_file():
        return None
    fix = f"move {path} away and make the masks again (vrft score {run_dir} --sam MODEL)"
    rles: dict[str, dict[MaskKey, Mapping[str, Any]]] = {}
    errors: dict[str, dict[MaskKey, str]] = {}
    sam: dict[str, Any] | None = None
    lines = list(iter_jsonl(path))
    for i, (number, obj, raw) in enumerate(lines):
        where = f"{path}:{number}"
        if obj is None:
            if i == len(lines) - 1 and not raw.endswith("\n"):
                continue  # cut by a kill: made again by the next mask stage
            raise MasksFileError(f"{where}: not a JSON object; {fix}")
        task, key = _key(obj, where)
        line_sam = obj.get("sam")
        if not isinstance(line_sam, dict) or not isinstance(line_sam.get("model"), str):
            raise MasksFileError(f"{where}: 'sam' must be {{'model': str, 'fingerprint': ...}}; {fix}")
        if sam is None:
            sam = line_sam
        elif line_sam.get("fingerprint") != sam.get("fingerprint"):
            raise MasksFileError(
                f"{where}: made by SAM {line_sam['model']!r}, earlier lines by {sam['model']!r}: one file holds "
                f"the masks of one SAM; {fix}"
            )
        rle, error = obj.get("rle"), obj.get("error")
        if isinstance(rle, dict):
            rles.setdefault(task, {})[key] = rle
            errors.get(task, {}).pop(key, None)
        elif isinstance(error, str):
            errors.setdefault(task, {})[key] = error
            rles.get(task, {}).pop(key, None)
        else:
            raise MasksFileError(f"{where}: needs 'rle' (COCO RLE of the mask) or 'error' (why there is none); {fix}")
    return {
        task: StoredMasks(rles.get(task, {}), errors.get(task, {}), dict(sam or {}))
        for task in sorted(set(rles) | set(errors))
    }
