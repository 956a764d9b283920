"""Mask gIoU / cIoU of LISA grounding (paper Table 5): the SAM prompt box of an answer, COCO RLE masks and
the per-split mask metrics (PROTOCOL §6.5). Making the masks (SAM) is the harness's job
(`harness.mask_stage`); this module only reads them.

The prompt box is the profile's own reading of the answer, the one its box mIoU grades:

* strict: the reward's reading (first box of the answer block, 0–1000, sorted, clipped) in pixels,
  ``x·W/1000`` as floats;
* official: the official eval's reading (first ``(int,int),(int,int)`` of the untrimmed decode) scaled as
  ``box2mask.py`` does, ``int(x/1000 · W)`` (`tasks.geometry.official_lisa_sam_box`), corners as read.

A box reaching outside the image: strict clips it to the image (its reading is already within 0–1000) and
counts it (``boxes_clipped``); official prompts SAM with it unclipped, as ``box2mask.py`` does, and counts it
(``boxes_outside``), except a coordinate past the int32 range (which ``box2mask.py``'s tensor conversion does
not survive), clipped and counted as ``boxes_clipped``. An answer without a box gets an empty mask, counted
(``no_box``), as ``mask_iou.py`` scores it.

Metrics per split, percent like ``mIoU``: ``gIoU_<split>`` / ``cIoU_<split>`` from the SAM masks against
the profile's GT (`tasks.metrics.grounding`: official = ``shapes[0]``, I/(U + 1e-6), size mismatch
skipped; strict = LISA's protocol with ``ignore`` pixels left out), None while some box of the split has no
mask (``missing``); ``gIoU_box_<split>`` / ``cIoU_box_<split>``: the prompt box itself rasterised as the
mask, a number that needs no SAM and is never the paper's gIoU. Rasterising (masks, GT polygons, boxes)
follows `tasks.metrics.grounding.polygons_to_mask`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pycocotools import mask as mask_utils

from tasks.geometry import Box, norm1000_to_xyxy, official_lisa_sam_box
from tasks.metrics.grounding import giou_ciou_from_counts, item_iou, lisa_gt_masks, mask_counts, polygons_to_mask
from tasks.spec import GroundingSample

PixelBox = tuple[float, float, float, float]
MaskKey = tuple[str, PixelBox]
"""(request id, prompt box in pixels): what a stored mask answers."""


class MaskFormatError(ValueError):
    """A stored mask that cannot be decoded (the message says what was expected)."""


@dataclass(frozen=True)
class PromptBox:
    """The pixel box SAM is prompted with (x1, y1, x2, y2); whether it was clipped to the image, and whether it
    reaches outside the image as given (official boxes are passed on unclipped, as ``box2mask.py`` does)."""

    box: PixelBox
    clipped: bool = False
    outside: bool = False


def clip_to_image(box: tuple[float, float, float, float], width: int, height: int) -> PromptBox:
    """`box` with x in [0, width] and y in [0, height]; ``clipped`` says whether anything moved."""
    x1, y1, x2, y2 = (float(v) for v in box)
    out = (min(max(x1, 0.0), width), min(max(y1, 0.0), height), min(max(x2, 0.0), width), min(max(y2, 0.0), height))
    return PromptBox(out, out != (x1, y1, x2, y2))


def strict_prompt_box(box_norm1000: Box, width: int, height: int) -> PromptBox:
    """The strict reading (0–1000) as a pixel box (`tasks.geometry.norm1000_to_xyxy`)."""
    x1, y1, x2, y2 = (float(v) for v in norm1000_to_xyxy(box_norm1000, width, height)[0])
    return clip_to_image((x1, y1, x2, y2), width, height)


def official_prompt_box(box_norm1: Box, width: int, height: int) -> PromptBox:
    """The official eval's reading (0–1) as ``box2mask.py`` scales it, unclipped (module docstring)."""
    pixels = tuple(float(v) for v in official_lisa_sam_box(box_norm1, width, height))
    if any(abs(v) > _INT32_MAX for v in pixels):
        return clip_to_image(pixels, width, height)  # type: ignore[arg-type]
    inside = clip_to_image(pixels, width, height)  # type: ignore[arg-type]
    return PromptBox(pixels, clipped=False, outside=inside.clipped)  # type: ignore[arg-type]


_INT32_MAX = 2**31 - 1


def box_mask(box: PixelBox, height: int, width: int) -> np.ndarray:
    """The box rasterised like a GT polygon (its four corners through `polygons_to_mask`)."""
    x1, y1, x2, y2 = box
    return polygons_to_mask([[(x1, y1), (x2, y1), (x2, y2), (x1, y2)]], height, width)


def rle_encode(mask: np.ndarray) -> dict[str, Any]:
    """A bool (H, W) mask as COCO RLE (pycocotools), ``counts`` as text: what ``box2mask.py`` stores."""
    rle = mask_utils.encode(np.asfortranarray(np.asarray(mask, dtype=np.uint8)))
    return {"size": [int(rle["size"][0]), int(rle["size"][1])], "counts": rle["counts"].decode("ascii")}


def rle_decode(rle: Any) -> np.ndarray:
    """A stored COCO RLE ``{"size": [H, W], "counts": str}`` as a bool (H, W) mask; MaskFormatError for
    anything else (the caller adds where it came from)."""
    if not isinstance(rle, Mapping):
        raise MaskFormatError(f"expected an RLE object {{'size': [H, W], 'counts': str}}, got {type(rle).__name__}")
    size, counts = rle.get("size"), rle.get("counts")
    if (
        not isinstance(size, list)
        or len(size) != 2
        or not all(type(v) is int and v > 0 for v in size)
        or not isinstance(counts, str)
    ):
        shown = repr(dict(rle))[:200]
        raise MaskFormatError(f"expected an RLE {{'size': [H, W] (positive ints), 'counts': str}}, got {shown}")
    try:
        mask = mask_utils.decode({"size": size, "counts": counts.encode("ascii")})
    except (ValueError, TypeError, UnicodeEncodeError) as err:
        raise MaskFormatError(f"RLE counts do not decode ({err})") from None
    if mask.shape != (size[0], size[1]) or int(mask.sum()) > size[0] * size[1]:
        raise MaskFormatError(f"RLE counts do not describe a {size[0]}x{size[1]} mask")
    return mask.astype(bool)


@dataclass(frozen=True)
class StoredMasks:
    """The masks a run holds (``masks.jsonl``): (request id, prompt box) -> RLE, or an error text where the
    image could not be read; `sam` names the SAM model (id and fingerprint) that made them."""

    rles: Mapping[MaskKey, Mapping[str, Any]] = field(default_factory=dict)
    errors: Mapping[MaskKey, str] = field(default_factory=dict)
    sam: Mapping[str, Any] = field(default_factory=dict)


def _shapes(sample: GroundingSample) -> list[dict[str, Any]]:
    return [{"label": label, "points": points} for label, points in sample.polygons]


def _extent(sample: GroundingSample) -> tuple[int, int]:
    """(height, width) of a canvas holding every polygon: the GT of an image whose size is unknown (it did
    not load; its answer is empty, so only |GT| matters)."""
    pts = np.asarray([p for _, poly in sample.polygons for p in poly], dtype=np.float64)
    return int(np.ceil(pts[:, 1].max())) + 1, int(np.ceil(pts[:, 0].max())) + 1


class MaskScores:
    """Per-split (intersection, union) counts of the SAM masks and of the rasterised prompt boxes, one item
    at a time (no mask is kept), then the metrics. `masks` None: the run has no SAM masks (only the box
    numbers are reported)."""

    def __init__(self, splits: tuple[str, ...], *, official: bool, masks: StoredMasks | None) -> None:
        self.official, self.masks = official, masks
        self.sam: dict[str, list[tuple[int, int]]] = {s: [] for s in splits}
        self.box: dict[str, list[tuple[int, int]]] = {s: [] for s in splits}
        self.missing: Counter[str] = Counter()
        self.counts: Counter[str] = Counter()

    def add(self, split: str, request_id: str, sample: GroundingSample, prompt: PromptBox | None) -> float | None:
        """Count one item (`prompt` None: no box in the answer, or no answer); returns its SAM mask IoU
        (None without SAM masks, or where the official variant skips it)."""
        h, w = sample.image.height, sample.image.width
        if h <= 0 or w <= 0:
            if prompt is not None:  # the task refuses a readable answer on an image of unknown size first
                raise ValueError(f"{request_id}: an answer box on an image of unknown size")
            h, w = _extent(sample)
        gt, ignore = lisa_gt_masks(_shapes(sample), h, w, official=self.official)  # official: shapes[0] (D23)
        if prompt is None:
            self.counts["no_box"] += 1
        elif prompt.clipped:
            self.counts["boxes_clipped"] += 1
        elif prompt.outside:
            self.counts["boxes_outside"] += 1
        box = None if prompt is None else box_mask(prompt.box, h, w)
        if (box_item := self._counts(box, gt, ignore, request_id)) is not None:  # same canvas: always
            self.box[split].append(box_item)
        if self.masks is None:
            return None
        state, pred = ("no_box", None) if prompt is None else self._sam_mask(request_id, prompt.box)
        if state == "missing":
            self.missing[split] += 1
            return None
        item = self._counts(pred, gt, ignore, request_id)
        if item is None:  # official: size mismatch, dropped from the mean as mask_iou.py does (D24)
            self.counts["size_mismatch_skipped"] += 1
            return None
        self.sam[split].append(item)
        return item_iou(*item, official=self.official)

    def _counts(
        self, pred: np.ndarray | None, gt: np.ndarray, ignore: np.ndarray | None, request_id: str
    ) -> tuple[int, int] | None:
        try:
            return mask_counts(pred, gt, ignore, official=self.official)
        except ValueError as err:  # strict: a stored mask of another size than the image's
            raise MaskFormatError(
                f"{request_id}: {err}; the image changed since its mask was made: move masks.jsonl away and make "
                "the masks again"
            ) from None

    def _sam_mask(self, request_id: str, box: PixelBox) -> tuple[str, np.ndarray | None]:
        """("ok", mask), ("error", None) where the image did not load (an empty mask, counted) or
        ("missing", None) where no mask was made for (request, box) yet."""
        assert self.masks is not None
        key = (request_id, box)
        if key in self.masks.errors:
            self.counts["mask_errors"] += 1
            return "error", None
        rle = self.masks.rles.get(key)
        if rle is None:
            return "missing", None
        try:
            return "ok", rle_decode(rle)
        except MaskFormatError as err:
            raise MaskFormatError(f"{request_id}: stored mask for box {list(box)}: {err}") from None

    def metrics(self) -> dict[str, Any]:
        """``gIoU_<split>``, ``cIoU_<split>`` (None without complete SAM masks), ``gIoU_box_<split>``,
        ``cIoU_box_<split>`` (percent) and the ``masks`` counts."""
        out: dict[str, Any] = {}
        for split in self.sam:
            complete = self.masks is not None and not self.missing[split]
            g, c = giou_ciou_from_counts(self.sam[split], official=self.official) if complete else (None, None)
            out[f"gIoU_{split}"], out[f"cIoU_{split}"] = _percent(g), _percent(c)
        for split, counts in self.box.items():
            g, c = giou_ciou_from_counts(counts, official=self.official)
            out[f"gIoU_box_{split}"], out[f"cIoU_box_{split}"] = _percent(g), _percent(c)
        info: dict[str, Any] = {
            "source": "sam" if self.masks is not None else "none (box fallback only: gIoU_box / cIoU_box)",
            **{
                k: int(self.counts[k])
                for k in ("no_box", "boxes_clipped", "boxes_outside", "mask_errors", "size_mismatch_skipped")
            },
            "missing": int(sum(self.missing.values())),
        }
        if self.masks is not None:
            info["sam"] = dict(self.masks.sam)
        out["masks"] = info
        return out


def _percent(value: float | None) -> float | None:
    return None if value is None else 100.0 * value
