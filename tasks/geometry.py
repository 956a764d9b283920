"""Boxes: one representation inside, conversions only at the edges.

Inside vrft a set of boxes is a float64 numpy array of shape (N, 4) in ``xyxy`` order, in absolute
pixels of the original image. The paper's models speak in integers normalised to 0–1000 relative to
the original width and height (PROTOCOL.md §1.1); COCO result files want ``xywh`` pixels. The
converters below are named ``<from>_to_<to>`` and are the only places those conventions appear.

IoU follows the continuous convention (no +1 pixel), like pycocotools and the official rewards.
Degenerate boxes (zero or negative area) get IoU 0 with everything instead of a division by zero.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

NORM = 1000.0  # the paper's coordinate range: integers in [0, 1000]

BoxesLike = np.ndarray | Sequence[Sequence[float]] | Sequence[float]


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


def clip_boxes(boxes: BoxesLike, low: float, high: float) -> np.ndarray:
    """Clip every coordinate into [low, high]."""
    return np.clip(as_boxes(boxes), low, high)


def box_areas(boxes: BoxesLike) -> np.ndarray:
    """Areas, 0 for degenerate (inverted or flat) boxes."""
    arr = as_boxes(boxes)
    w = np.clip(arr[:, 2] - arr[:, 0], 0.0, None)
    h = np.clip(arr[:, 3] - arr[:, 1], 0.0, None)
    return w * h


def is_degenerate(boxes: BoxesLike) -> np.ndarray:
    """True where a box has no positive area (x2 <= x1 or y2 <= y1)."""
    arr = as_boxes(boxes)
    return (arr[:, 2] <= arr[:, 0]) | (arr[:, 3] <= arr[:, 1])


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
    """IoU of two single boxes with plain floats: the hot path of the rewards (no numpy overhead)."""
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    if iw <= 0.0 or ih <= 0.0:
        return 0.0
    inter = iw * ih
    area_a = max(a[2] - a[0], 0.0) * max(a[3] - a[1], 0.0)
    area_b = max(b[2] - b[0], 0.0) * max(b[3] - b[1], 0.0)
    union = area_a + area_b - inter
    return inter / union if union > 0.0 else 0.0


# ---- the official arithmetic ----------------------------------------------------------------
# The `official` profile reproduces the official scripts bit for bit, and float arithmetic is not
# associative: (x2 - x1)/1000*W and x2/1000*W - x1/1000*W differ in the last bits for about half
# of all boxes, which flips a match whenever an IoU lands exactly on a COCO threshold. These
# functions keep the official order of operations; everything else uses the converters above.


def official_trans_bbox(position: Sequence[float], width: float, height: float) -> list[float]:
    """The official ``trans_bbox``: 0–1000 corners -> COCO ``[x, y, w, h]`` pixels, scaling each
    corner first (``x1/1000*W``, ``x2/1000*W``) and subtracting after. Raises exactly where the
    official function raises (not 4 elements: ValueError; a non-number: TypeError)."""
    x1, y1, x2, y2 = position
    x1 = x1 / NORM * width
    y1 = y1 / NORM * height
    x2 = x2 / NORM * width
    y2 = y2 / NORM * height
    return [x1, y1, x2 - x1, y2 - y1]


def official_lisa_norm1000(value: float, size: float) -> int:
    """The official LISA solution coordinate (``gen_sft.py``): ``int(v / size * 1000)``, truncated
    toward zero. ``floor(1000 * v / size)`` differs for ~0.02 % of float coordinates
    (22.4 px on a 224-px image: 99 here, 100 there)."""
    return int(value / size * NORM)
