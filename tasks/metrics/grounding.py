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
    polygon overrides a larger one where they overlap. The order is LISA's expression,
    ``np.argsort(areas)[::-1]``: of two shapes with the same area the earlier one is painted last.
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
    order = np.argsort([np.count_nonzero(m) for m, _ in layers])[::-1]
    target = np.zeros((height, width), dtype=bool)
    ignore = np.zeros((height, width), dtype=bool)
    for idx in order:  # painting one shape over the others: bitwise, whole arrays (fast on large images)
        mask, is_ignore = layers[idx]
        if is_ignore:
            target &= ~mask
            ignore |= mask
        else:
            target |= mask
            ignore &= ~mask
    return target, ignore


def mask_counts(
    pred: np.ndarray | None, gt: np.ndarray, ignore: np.ndarray | None = None, *, official: bool = False
) -> tuple[int, int] | None:
    """(intersection, union) pixel counts of one item, the per-image terms of gIoU and cIoU.

    `pred` None is an empty mask of the GT's size (the official ``mask_iou.py`` reused a stale size
    instead, D24). A size mismatch returns None (the item is skipped, official) or raises (strict).
    ``ignore`` pixels (strict only) are left out of both terms.
    """
    gt = np.asarray(gt, dtype=bool)
    pred_b = np.zeros_like(gt) if pred is None else np.asarray(pred, dtype=bool)
    if pred_b.shape != gt.shape:
        if official:
            return None
        raise ValueError(f"predicted mask {pred_b.shape} vs GT mask {gt.shape}")
    if ignore is not None and official:
        raise ValueError("the official variant has no ignore handling: pass ignore_masks=None")
    inter, union = pred_b & gt, pred_b | gt
    if ignore is not None:
        valid = ~np.asarray(ignore, dtype=bool)
        if valid.shape != gt.shape:
            raise ValueError(f"ignore mask {valid.shape} vs GT mask {gt.shape}")
        inter &= valid
        union &= valid
    return int(np.count_nonzero(inter)), int(np.count_nonzero(union))


def item_iou(inter: int, union: int, *, official: bool = False) -> float:
    """One item's mask IoU: official I/(U + 1e-6); strict I/U, an empty union counting 1.0 (LISA's rule)."""
    if official:
        return inter / (union + OFFICIAL_EPS)
    return inter / union if union else 1.0


def giou_ciou_from_counts(counts: Sequence[tuple[int, int]], *, official: bool = False) -> tuple[float, float]:
    """(gIoU, cIoU) in [0, 1] from per-item (intersection, union) counts (`mask_counts`): gIoU the mean of
    `item_iou`, cIoU = ΣI/ΣU (official: ΣI/(ΣU + 1e-6)). Official with no items gives (0, 0), as ``mask_iou.py``."""
    inters = [i for i, _ in counts]
    unions = [u for _, u in counts]
    ious = [item_iou(i, u, official=official) for i, u in counts]
    if official:
        giou = float(np.mean(ious)) if ious else 0.0
        return giou, float(sum(inters) / (sum(unions) + OFFICIAL_EPS))
    if not counts:
        raise ValueError("gIoU of zero items is undefined: the task produced no samples")
    total_u = sum(unions)
    return float(np.mean(ious)), float(sum(inters) / total_u) if total_u else 1.0


def giou_ciou(
    pred_masks: Sequence[np.ndarray | None],
    gt_masks: Sequence[np.ndarray],
    ignore_masks: Sequence[np.ndarray | None] | None = None,
    *,
    official: bool = False,
) -> tuple[float, float]:
    """(gIoU, cIoU) in [0, 1]: gIoU = mean per-image IoU, cIoU = ΣI/ΣU over images.

    Masks are 2-D arrays read as bool; the per-item terms are `mask_counts` (a missing prediction is an
    empty mask, a size mismatch is skipped in the official variant and an error in strict), the totals
    `giou_ciou_from_counts`. ``ignore_masks`` (strict only) mark pixels left out of both I and U.
    """
    if len(pred_masks) != len(gt_masks):
        raise ValueError(f"{len(pred_masks)} predicted masks for {len(gt_masks)} GT masks")
    if ignore_masks is not None and official:
        raise ValueError("the official variant has no ignore handling: pass ignore_masks=None")
    if ignore_masks is not None and len(ignore_masks) != len(gt_masks):
        raise ValueError(f"{len(ignore_masks)} ignore masks for {len(gt_masks)} GT masks")
    counts: list[tuple[int, int]] = []
    for i, gt in enumerate(gt_masks):
        ign = None if ignore_masks is None else ignore_masks[i]
        try:
            item = mask_counts(pred_masks[i], gt, ign, official=official)
        except ValueError as err:
            raise ValueError(f"item {i}: {err}") from None
        if item is not None:
            counts.append(item)
    if len(counts) < len(gt_masks):
        logger.warning(
            "official gIoU/cIoU: %d size-mismatched item(s) skipped, as mask_iou.py does", len(gt_masks) - len(counts)
        )
    return giou_ciou_from_counts(counts, official=official)
