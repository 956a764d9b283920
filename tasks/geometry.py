"""Boxes: one representation inside, conversions only at the edges; every IoU of vrft lives here.

Inside vrft a set of boxes is a float64 numpy array of shape (N, 4) in ``xyxy`` order, in absolute
pixels of the original image. The paper's models speak in integers normalised to 0–1000 relative to
the original width and height (PROTOCOL.md §1.1); COCO result files want ``xywh`` pixels. The
converters below are named ``<from>_to_<to>`` and are the only places those conventions appear.

IoU follows the continuous convention (no +1 pixel), like pycocotools and the official rewards.
Degenerate boxes (zero or negative area) get IoU 0 with everything instead of a division by zero.

Three layers, all in this module:
* arrays (``(N, 4)``, vectorised): `as_boxes`, the converters, `iou_matrix`, `giou`;
* single boxes as plain floats, for the per-completion hot paths (rewards and result conversion,
  where numpy's per-call overhead would dominate): `clip_norm1000`, `sort_box`, `points_to_xyxy`,
  `iou_xyxy`, `match_greedy`, `norm1000_box_to_coco_xywh`, `xyxy_box_to_norm1000`;
* ``official_*``: the official scripts' own arithmetic (signed areas, ``+ 1e-6``, operation order),
  which the `official` profile must reproduce bit for bit, quirks included; each says why it differs:
  `official_trans_bbox`, `official_lisa_norm1000`, `OFFICIAL_NORM`, `official_detection_iou`,
  `official_giou`, `official_lisa_iou`.
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import itemgetter
from typing import Any, TypeVar

import numpy as np

NORM = 1000.0  # the paper's coordinate range: integers in [0, 1000]

BoxesLike = np.ndarray | Sequence[Sequence[float]] | Sequence[float]
Box = tuple[float, float, float, float]
ScoredBox = TypeVar("ScoredBox", bound=Sequence[float])


def as_boxes(boxes: BoxesLike) -> np.ndarray:
    """Return `boxes` as a contiguous float64 (N, 4) array; a single box becomes (1, 4)."""
    arr = np.asarray(boxes, dtype=np.float64)
    if arr.size == 0:
        return np.zeros((0, 4), dtype=np.float64)
    if arr.ndim == 1:
        arr = arr.reshape(1, -1)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ValueError(f"expected boxes of shape (N, 4), got {arr.shape}")
    return np.ascontiguousarray(arr)


def norm1000_to_xyxy(boxes: BoxesLike, width: float, height: float) -> np.ndarray:
    """0–1000 normalised corners -> absolute pixels (x·W/1000, y·H/1000). Nothing is clipped."""
    arr = as_boxes(boxes)
    scale = np.array([width, height, width, height], dtype=np.float64) / NORM
    return arr * scale


def xyxy_to_norm1000(boxes: BoxesLike, width: float, height: float) -> np.ndarray:
    """Absolute pixels -> 0–1000 normalised corners (floats; round where integers are wanted)."""
    if width <= 0 or height <= 0:
        raise ValueError(f"image size must be positive, got {width}x{height}")
    arr = as_boxes(boxes)
    scale = NORM / np.array([width, height, width, height], dtype=np.float64)
    return arr * scale


def xyxy_to_coco_xywh(boxes: BoxesLike) -> np.ndarray:
    """xyxy -> COCO's [x, y, width, height] (negative sizes are kept: validation is the caller's)."""
    arr = as_boxes(boxes)
    out = arr.copy()
    out[:, 2] = arr[:, 2] - arr[:, 0]
    out[:, 3] = arr[:, 3] - arr[:, 1]
    return out


def coco_xywh_to_xyxy(boxes: BoxesLike) -> np.ndarray:
    """COCO's [x, y, width, height] -> xyxy."""
    arr = as_boxes(boxes)
    out = arr.copy()
    out[:, 2] = arr[:, 0] + arr[:, 2]
    out[:, 3] = arr[:, 1] + arr[:, 3]
    return out


def sort_corners(boxes: BoxesLike) -> np.ndarray:
    """Order each box's corners so that x1 <= x2 and y1 <= y2."""
    arr = as_boxes(boxes)
    return np.stack(
        [
            np.minimum(arr[:, 0], arr[:, 2]),
            np.minimum(arr[:, 1], arr[:, 3]),
            np.maximum(arr[:, 0], arr[:, 2]),
            np.maximum(arr[:, 1], arr[:, 3]),
        ],
        axis=1,
    )


def points_to_xyxy(points: Sequence[Sequence[float]]) -> Box:
    """The enclosing box of (x, y) points (e.g. polygon vertices), as plain floats."""
    arr = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if len(arr) == 0:
        raise ValueError("the enclosing box of no points is undefined")
    return (float(arr[:, 0].min()), float(arr[:, 1].min()), float(arr[:, 0].max()), float(arr[:, 1].max()))


def box_areas(boxes: BoxesLike) -> np.ndarray:
    """Areas, 0 for degenerate (inverted or flat) boxes."""
    arr = as_boxes(boxes)
    w = np.clip(arr[:, 2] - arr[:, 0], 0.0, None)
    h = np.clip(arr[:, 3] - arr[:, 1], 0.0, None)
    return w * h


def iou_matrix(a: BoxesLike, b: BoxesLike) -> np.ndarray:
    """Pairwise IoU, shape (len(a), len(b)). Degenerate boxes get 0, never NaN."""
    aa, bb = as_boxes(a), as_boxes(b)
    if len(aa) == 0 or len(bb) == 0:
        return np.zeros((len(aa), len(bb)), dtype=np.float64)
    ix1 = np.maximum(aa[:, None, 0], bb[None, :, 0])
    iy1 = np.maximum(aa[:, None, 1], bb[None, :, 1])
    ix2 = np.minimum(aa[:, None, 2], bb[None, :, 2])
    iy2 = np.minimum(aa[:, None, 3], bb[None, :, 3])
    inter = np.clip(ix2 - ix1, 0.0, None) * np.clip(iy2 - iy1, 0.0, None)
    union = box_areas(aa)[:, None] + box_areas(bb)[None, :] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)
    return out


def giou(a: BoxesLike, b: BoxesLike) -> np.ndarray:
    """Generalised IoU of aligned pairs (a[i] with b[i]), in [-1, 1]; boxes must be well ordered."""
    aa, bb = as_boxes(a), as_boxes(b)
    if aa.shape != bb.shape:
        raise ValueError(f"giou needs aligned pairs, got {aa.shape} and {bb.shape}")
    ix1 = np.maximum(aa[:, 0], bb[:, 0])
    iy1 = np.maximum(aa[:, 1], bb[:, 1])
    ix2 = np.minimum(aa[:, 2], bb[:, 2])
    iy2 = np.minimum(aa[:, 3], bb[:, 3])
    inter = np.clip(ix2 - ix1, 0.0, None) * np.clip(iy2 - iy1, 0.0, None)
    union = box_areas(aa) + box_areas(bb) - inter
    cw = np.maximum(aa[:, 2], bb[:, 2]) - np.minimum(aa[:, 0], bb[:, 0])
    ch = np.maximum(aa[:, 3], bb[:, 3]) - np.minimum(aa[:, 1], bb[:, 1])
    hull = np.clip(cw, 0.0, None) * np.clip(ch, 0.0, None)
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)
        penalty = np.where(hull > 0, (hull - union) / np.where(hull > 0, hull, 1.0), 0.0)
    return iou - penalty


def iou_xyxy(a: Sequence[float], b: Sequence[float]) -> float:
    """IoU of two single boxes with plain floats: the hot path of the rewards (no numpy overhead).
    A degenerate or inverted box gets 0, never a division by zero (equal to `iou_matrix`)."""
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    if iw <= 0.0 or ih <= 0.0:
        return 0.0
    inter = iw * ih
    area_a = max(a[2] - a[0], 0.0) * max(a[3] - a[1], 0.0)
    area_b = max(b[2] - b[0], 0.0) * max(b[3] - b[1], 0.0)
    union = area_a + area_b - inter
    return inter / union if union > 0.0 else 0.0


def clip_norm1000(v: float) -> float:
    """One coordinate clipped into [0, 1000] (the model's range)."""
    return 0.0 if v < 0.0 else NORM if v > NORM else v


def sort_box(x1: float, y1: float, x2: float, y2: float) -> Box:
    """One box with its corners ordered (x1 <= x2, y1 <= y2); the scalar `sort_corners`."""
    return (min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2))


def xyxy_box_to_norm1000(box: Sequence[float], width: float, height: float) -> Box:
    """One pixel box -> 0–1000 corners as ``v * 1000 / size`` (the strict grounding target).

    The array converter `xyxy_to_norm1000` computes ``v * (1000 / size)``, which differs in the last
    bit for some values; each caller keeps the order its recorded numbers were produced with."""
    x1, y1, x2, y2 = box
    return (x1 * NORM / width, y1 * NORM / height, x2 * NORM / width, y2 * NORM / height)


def norm1000_box_to_coco_xywh(box: Sequence[Any], width: float, height: float) -> list[Any]:
    """One 0–1000 box -> COCO ``[x, y, w, h]`` pixels: each corner is scaled first (``x1/1000*W``,
    ``x2/1000*W``) and subtracted after, the official ``trans_bbox`` order, in both profiles (so a box
    gets the same pixels in both). Nothing is clipped. Raises where the official function raises (not
    4 elements: ValueError; a non-number: TypeError)."""
    x1, y1, x2, y2 = box
    x1 = x1 / NORM * width
    y1 = y1 / NORM * height
    x2 = x2 / NORM * width
    y2 = y2 / NORM * height
    return [x1, y1, x2 - x1, y2 - y1]


def match_greedy(
    preds: Sequence[ScoredBox], gts: Sequence[Sequence[float]], threshold: float
) -> list[tuple[ScoredBox, float]]:
    """COCO's matching rule on ``(x1, y1, x2, y2, score)`` predictions: in descending score (stable),
    each takes the still-unmatched GT box of highest IoU (ties: lowest index) if that IoU is >=
    `threshold`. Returns (pred, iou), iou 0.0 for unmatched predictions; degenerate boxes never match.

    The IoU is `iou_xyxy` inlined (a property test holds them equal): this loop is the hot path of
    every strict detection reward.
    """
    order = sorted(preds, key=_score, reverse=True) if len(preds) > 1 else preds
    free = [(g, box, (box[2] - box[0]) * (box[3] - box[1])) for g, box in enumerate(gts)]
    out: list[tuple[ScoredBox, float]] = []
    for p in order:
        px1, py1, px2, py2, _ = p
        best, best_iou = -1, 0.0
        if px2 > px1 and py2 > py1:
            area_p = (px2 - px1) * (py2 - py1)
            for k, (_, (gx1, gy1, gx2, gy2), area_g) in enumerate(free):
                iw = (px2 if px2 < gx2 else gx2) - (px1 if px1 > gx1 else gx1)
                ih = (py2 if py2 < gy2 else gy2) - (py1 if py1 > gy1 else gy1)
                if iw <= 0.0 or ih <= 0.0:
                    continue
                inter = iw * ih
                union = area_p + area_g - inter
                iou = inter / union if union > 0.0 else 0.0
                if iou > best_iou:
                    best, best_iou = k, iou
        if best >= 0 and best_iou >= threshold:
            del free[best]
            out.append((p, best_iou))
        else:
            out.append((p, 0.0))
    return out


_score = itemgetter(4)


# ---- the official arithmetic ----------------------------------------------------------------
# The `official` profile reproduces the official scripts bit for bit, and float arithmetic is not
# associative: (x2 - x1)/1000*W and x2/1000*W - x1/1000*W differ in the last bits for about half
# of all boxes, which flips a match whenever an IoU lands exactly on a COCO threshold. These
# functions keep the official order of operations; everything else uses the converters above.


def official_trans_bbox(position: Sequence[Any], width: float, height: float) -> list[Any]:
    """The official ``trans_bbox``: `norm1000_box_to_coco_xywh`, whose order of operations it set."""
    return norm1000_box_to_coco_xywh(position, width, height)


def official_lisa_norm1000(value: float, size: float) -> int:
    """The official LISA solution coordinate (``gen_sft.py``): ``int(v / size * 1000)``, truncated
    toward zero. ``floor(1000 * v / size)`` differs for ~0.02 % of float coordinates
    (22.4 px on a 224-px image: 99 here, 100 there)."""
    return int(value / size * NORM)


def official_lisa_sam_box(box: Sequence[float], width: int, height: int) -> tuple[int, int, int, int]:
    """The pixel box the official ``box2mask.py`` prompts SAM with (``scale_bbox``): each 0–1 coordinate
    times the image side, truncated toward zero by ``int()``; nothing is sorted or clipped."""
    x1, y1, x2, y2 = box
    return int(x1 * width), int(y1 * height), int(x2 * width), int(y2 * height)


# The official LISA readings divide Python ints by the *int* 1000, which rounds exactly even for
# integers past 2**53 (``/ NORM`` would round the integer to a float first): ``int(v) / OFFICIAL_NORM``.
OFFICIAL_NORM = 1000


def official_detection_iou(b1: Sequence[Any], b2: Sequence[Any]) -> float:
    """The official detection reward's IoU (``grpo.py``): areas are *not* clipped (an inverted box
    has a signed area), and a zero union raises ZeroDivisionError, as the official code does (its
    caller's try/except turns that into a zero reward)."""
    x1, y1, x2, y2 = b1
    u1, v1, u2, v2 = b2
    xi1, yi1, xi2, yi2 = max(x1, u1), max(y1, v1), min(x2, u2), min(y2, v2)
    if xi2 <= xi1 or yi2 <= yi1:
        return 0.0
    inter = (xi2 - xi1) * (yi2 - yi1)
    union = (x2 - x1) * (y2 - y1) + (u2 - u1) * (v2 - v1) - inter
    return float(inter / union)


def official_giou(pred: Sequence[tuple[float, float]], gt: Sequence[tuple[float, float]]) -> float:
    """The official LISA reward's GIoU (``grpo_lisa.py``) on point lists ``[(x1, y1), (x2, y2), ...]``:
    signed areas, so inverted boxes leave [-1, 1] (D15). IndexError with fewer than two points."""
    (px1, py1), (px2, py2) = pred[0], pred[1]
    (gx1, gy1), (gx2, gy2) = gt[0], gt[1]
    inter = max(0.0, min(px2, gx2) - max(px1, gx1)) * max(0.0, min(py2, gy2) - max(py1, gy1))
    union = (gx2 - gx1) * (gy2 - gy1) + (px2 - px1) * (py2 - py1) - inter
    iou = inter / union if union > 0 else 0.0
    hull = (max(px2, gx2) - min(px1, gx1)) * (max(py2, gy2) - min(py1, gy1))
    return iou - (hull - union) / hull if hull > 0 else iou


OFFICIAL_LISA_EPS = 1e-6  # the official LISA eval scripts add this to every union (box and mask)


def official_lisa_iou(pred: Sequence[float], gt: Sequence[float]) -> float:
    """The official LISA eval's box IoU (``merge_eval.py``): I/(U + 1e-6) with signed areas, so a
    perfect box of area 0.04 scores 0.04/0.040001 = 0.999975, not 1; an inverted box intersects
    nothing (IoU 0, D15). ValueError unless both boxes have 4 numbers."""
    if len(pred) != 4 or len(gt) != 4:
        raise ValueError(f"boxes must be 4 numbers x1, y1, x2, y2; got {list(pred)!r} and {list(gt)!r}")
    iw = min(pred[2], gt[2]) - max(pred[0], gt[0])
    ih = min(pred[3], gt[3]) - max(pred[1], gt[1])
    inter = max(iw, 0.0) * max(ih, 0.0)
    area_p = (pred[2] - pred[0]) * (pred[3] - pred[1])
    area_g = (gt[2] - gt[0]) * (gt[3] - gt[1])
    return inter / (area_p + area_g - inter + OFFICIAL_LISA_EPS)
