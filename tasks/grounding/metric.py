"""Grounding metric glue: the box IoU of one response for the per-split box mIoU (PROTOCOL §6.5).

Which reading feeds the metric:
* strict: the *same* reading the reward grades (`StrictGrounding.parse`: the first box of the answer
  block, corners sorted, clipped), handed over by the task, against the box of all target polygons;
  exact IoU (`tasks.geometry.iou_xyxy`), so the metric IoU equals the reward's accuracy.
* official: the official *eval* reading, which is not the official reward's: the first
  ``(int,int),(int,int)`` anywhere in the untrimmed decode (prompt text included, D22,
  `official_eval_box`), divided by 1000, against ``shapes[0]``'s box / (w, h, w, h), IoU = I/(U + 1e-6)
  (`tasks.geometry.official_lisa_iou`).
A missing or unreadable answer scores 0 in both. gIoU / cIoU: SAM masks prompted with the same readings
(`tasks.grounding.masks`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tasks.geometry import Box, iou_xyxy, official_lisa_iou
from tasks.grounding.parse import official_decode, official_eval_box
from tasks.grounding.rewards import GroundingTarget
from tasks.rewards import StrictParse
from tasks.spec import GroundingSample


def strict_eval_iou(parsed: StrictParse[Box], target: GroundingTarget) -> tuple[float, str | None]:
    """(IoU, failure reason) of the strict reading the reward graded."""
    if parsed.failure is not None or parsed.value is None:
        return 0.0, parsed.failure
    return iou_xyxy(parsed.value, target.box), None


def official_eval_reading(system: str | None, prompt: str, completion: str) -> Box | None:
    """The official eval's box (0–1 corners as read) in its untrimmed decode, or None."""
    return official_eval_box(official_decode(system, prompt, completion))


def official_eval_iou(sample: GroundingSample, pred: Box | None) -> tuple[float, str | None]:
    """(IoU, failure reason) as the official eval computes it from its own reading (`official_eval_reading`)."""
    if pred is None:
        return 0.0, "no_box"
    w, h = sample.image.width, sample.image.height
    x1, y1, x2, y2 = (float(v) for v in sample.gt_xyxy)
    return official_lisa_iou(pred, (x1 / w, y1 / h, x2 / w, y2 / h)), None


def miou_percent(ious: Sequence[float]) -> float | None:
    """Mean IoU ×100 over every item of a split (failures count 0); None for an empty split."""
    return 100.0 * float(np.mean(ious)) if ious else None
