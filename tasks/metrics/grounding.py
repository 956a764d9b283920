"""Reasoning-grounding (LISA) metrics: box mIoU and mask gIoU/cIoU (PROTOCOL §6.5).

Two variants, chosen by ``official``:

* ``official=True`` reproduces the official scripts: box IoU = I/(U + 1e-6) in normalised [0,1]
  coordinates (``merge_eval.py``); mask GT from ``shapes[0]`` only with no ``ignore`` handling
  (D23); per-image IoU = I/(U + 1e-6), gIoU = mean, cIoU = ΣI/(ΣU + 1e-6); a size-mismatched item
  is skipped, i.e. dropped from the mean (D24; logged here).
* ``official=False`` (strict) follows LISA's own protocol: GT = all polygons except ``flag``
  ones, ``ignore`` polygons mark pixels excluded from both I and U; IoU = I/U with an empty union
  counting 1.0 (LISA's "no-object target" rule); a size mismatch is an error.

Pixel convention (both variants, the same rasteriser as the official ``mask_iou.py``): PIL
``ImageDraw.polygon(points, fill=1, outline=1)``. Points are ``(x, y)`` = (column, row) pixel
indices; pixels inside the polygon *and on its outline* are set, so the square with corners (0,0)
and (2,2) covers 3×3 pixels.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from tasks.geometry import OFFICIAL_LISA_EPS, iou_xyxy, official_lisa_iou

logger = logging.getLogger(__name__)

OFFICIAL_EPS = OFFICIAL_LISA_EPS  # the official scripts add this to every union

Box = Sequence[float]
Polygon = Sequence[Sequence[float]]


def box_iou_official(pred_norm: Box, gt_norm: Box) -> float:
    """IoU as the official LISA eval computes it: I/(U + 1e-6) on normalised xyxy boxes
    (`tasks.geometry.official_lisa_iou`). A perfect box of area 0.04 scores 0.999975, not 1."""
    return official_lisa_iou(pred_norm, gt_norm)


def box_iou(pred: Box, gt: Box) -> float:
    """Exact IoU = I/U in [0, 1] (`tasks.geometry.iou_xyxy`); 0 when the union is empty or either box
    is inverted."""
    if len(pred) != 4 or len(gt) != 4:
        raise ValueError(f"boxes must be 4 numbers x1, y1, x2, y2; got {list(pred)!r} and {list(gt)!r}")
    return iou_xyxy(pred, gt)


def box_miou(pred_boxes: Sequence[Box | None], gt_boxes: Sequence[Box], *, official: bool = False) -> float:
    """Mean over items of the box IoU in [0, 1]; a missing prediction (``None``) scores 0.

    Every item counts (the official ``merge_eval.py`` averages the IoU list, failures included).
    """
    if len(pred_boxes) != len(gt_boxes):
        raise ValueError(f"{len(pred_boxes)} predictions for {len(gt_boxes)} GT boxes")
    if not gt_boxes:
        raise ValueError("mIoU of zero items is undefined: the task produced no samples")
    iou = box_iou_official if official else box_iou
    ious = [0.0 if p is None else iou(p, g) for p, g in zip(pred_boxes, gt_boxes, strict=True)]
    return float(np.mean(ious))


def polygons_to_mask(polygons: Sequence[Polygon], height: int, width: int) -> np.ndarray:
    """Union of filled polygons as a bool ``(height, width)`` array (convention: module docstring).

    Each polygon is a sequence of ``(x, y)`` points in pixels (LISA's ``shapes[i]["points"]``).
    """
    canvas = Image.new("L", (int(width), int(height)), 0)
    draw = ImageDraw.Draw(canvas)
    for i, poly in enumerate(polygons):
        points = [(float(p[0]), float(p[1])) for p in poly]
        if not points or not all(math.isfinite(c) for pt in points for c in pt):
            raise ValueError(f"polygon {i}: needs at least one point, all coordinates finite")
        draw.polygon(points, fill=1, outline=1)
    return np.asarray(canvas, dtype=bool)


def lisa_gt_masks(
    shapes: Sequence[Mapping[str, Any]], height: int, width: int, *, official: bool = False
) -> tuple[np.ndarray, np.ndarray | None]:
    """GT mask (and ignore mask, strict only) from a LISA annotation's ``shapes`` list.

    official: ``shapes[0]`` only, no ignore mask (D23). Strict: LISA's ``get_mask_from_json``
    rule: drop ``flag`` shapes, paint the rest from the largest to the smallest area, a shape whose
    label contains ``ignore`` painting "ignore" and any other painting "target", so a smaller
    polygon overrides a larger one where they overlap.
    """
    if not shapes:
        raise ValueError("LISA annotation has no shapes: no GT mask can be built")
    if official:
        return polygons_to_mask([shapes[0]["points"]], height, width), None
    layers = [
        (polygons_to_mask([s["points"]], height, width), "ignore" in str(s["label"]).lower())
        for s in shapes
        if str(s.get("label", "")).lower() != "flag"
    ]
    order = np.argsort([-int(m.sum()) for m, _ in layers], kind="stable")
    target = np.zeros((height, width), dtype=bool)
    ignore = np.zeros((height, width), dtype=bool)
    for idx in order:
        mask, is_ignore = layers[idx]
        target[mask] = not is_ignore
        ignore[mask] = is_ignore
    return target, ignore


def giou_ciou(
    pred_masks: Sequence[np.ndarray | None],
    gt_masks: Sequence[np.ndarray],
    ignore_masks: Sequence[np.ndarray | None] | None = None,
    *,
    official: bool = False,
) -> tuple[float, float]:
    """(gIoU, cIoU) in [0, 1]: gIoU = mean per-image IoU, cIoU = ΣI/ΣU over images.

    Masks are 2-D arrays read as bool. A missing prediction (``None``) is an empty mask of the GT's
    size (the official ``mask_iou.py`` reused a stale size instead, D24). ``ignore_masks`` (strict
    only) mark pixels left out of both I and U. See the module docstring for the two variants.
    """
    if len(pred_masks) != len(gt_masks):
        raise ValueError(f"{len(pred_masks)} predicted masks for {len(gt_masks)} GT masks")
    if ignore_masks is not None and official:
        raise ValueError("the official variant has no ignore handling: pass ignore_masks=None")
    if ignore_masks is not None and len(ignore_masks) != len(gt_masks):
        raise ValueError(f"{len(ignore_masks)} ignore masks for {len(gt_masks)} GT masks")
    inters: list[int] = []
    unions: list[int] = []
    skipped = 0
    for i, gt_raw in enumerate(gt_masks):
        gt = np.asarray(gt_raw, dtype=bool)
        pred_raw = pred_masks[i]
        pred = np.zeros_like(gt) if pred_raw is None else np.asarray(pred_raw, dtype=bool)
        if pred.shape != gt.shape:
            if official:
                skipped += 1
                continue
            raise ValueError(f"item {i}: predicted mask {pred.shape} vs GT mask {gt.shape}")
        ign = None if ignore_masks is None else ignore_masks[i]
        valid = None if ign is None else ~np.asarray(ign, dtype=bool)
        if valid is not None and valid.shape != gt.shape:
            raise ValueError(f"item {i}: ignore mask {valid.shape} vs GT mask {gt.shape}")
        inter, union = pred & gt, pred | gt
        if valid is not None:
            inter, union = inter & valid, union & valid
        inters.append(int(inter.sum()))
        unions.append(int(union.sum()))
    if skipped:
        logger.warning("official gIoU/cIoU: %d size-mismatched item(s) skipped, as mask_iou.py does", skipped)
    if official:
        ious = [i / (u + OFFICIAL_EPS) for i, u in zip(inters, unions, strict=True)]
        giou = float(np.mean(ious)) if ious else 0.0
        return giou, float(sum(inters) / (sum(unions) + OFFICIAL_EPS))
    if not inters:
        raise ValueError("gIoU of zero items is undefined: the task produced no samples")
    ious = [i / u if u else 1.0 for i, u in zip(inters, unions, strict=True)]
    total_u = sum(unions)
    return float(np.mean(ious)), float(sum(inters) / total_u) if total_u else 1.0
