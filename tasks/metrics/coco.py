"""COCO box AP through pycocotools ``COCOeval`` (PROTOCOL §6.3), as data.

Why an adapter at all: the official notebook calls ``COCOeval`` with default parameters (all 80
classes, all images) and then averages the per-class precision of the *selected* classes by hand.
Here the same numbers come out of one function that

* restricts the evaluator to the task's categories (``params.catIds``) and images (``params.imgIds``),
* reads per-class AP exactly as the notebook does (mean of the precision entries > -1 at area "all",
  maxDets 100, ×100; this equals standard COCO AP@[.5:.95]),
* never prints (pycocotools prints progress on stdout), never mutates the caller's dicts,
* rejects results that would crash deep inside ``COCOeval`` (D25: a string score) with an error that
  names the offending result, and treats an empty result list as "every AP 0" instead of crashing.

AP is never recomputed here: every number is read from ``COCOeval.eval["precision"]``.
"""

from __future__ import annotations

import contextlib
import io
import math
import numbers
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

COCO_MAX_DETS = 100  # COCOeval's default largest maxDets; the notebook reads this column


@dataclass(frozen=True, kw_only=True)
class ClassAP:
    """One category's AP values (×100) and counts.

    ``ap`` is AP@[.5:.95], ``ap50``/``ap75`` at one IoU threshold. ``None`` means undefined: the
    category has no (non-crowd) GT in the evaluated images. ``n_gt`` counts non-crowd GT boxes,
    ``n_det`` the detections handed to the evaluator, both over the evaluated images.
    """

    ap: float | None
    ap50: float | None
    ap75: float | None
    n_gt: int
    n_det: int


@dataclass(frozen=True, kw_only=True)
class DetectionMetrics:
    """Per-class AP plus the unweighted means over the classes whose AP is defined.

    ``map`` is the paper's few-shot number (PROTOCOL §6.3): Σ_k AP_k / |k| over the requested
    categories. Categories with undefined AP are excluded from the means and named in ``warnings``.
    """

    per_class: dict[int, ClassAP]
    map: float | None
    map50: float | None
    warnings: tuple[str, ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: string category keys, ``None`` for undefined values (never NaN)."""
        out = asdict(self)
        out["per_class"] = {str(k): asdict(v) for k, v in self.per_class.items()}
        out["warnings"] = list(self.warnings)
        return out


def mean_defined(values: Sequence[float | None]) -> float | None:
    """Unweighted mean of the values that are not ``None``; ``None`` if there are none."""
    defined = [v for v in values if v is not None]
    return float(np.mean(defined)) if defined else None


def precision_mean(precision: np.ndarray) -> float | None:
    """Mean of the precision entries > -1, ×100 (how pycocotools/lvis and the notebooks average)."""
    valid = precision[precision > -1]
    return float(np.mean(valid)) * 100.0 if valid.size else None


def _is_finite_number(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(float(value))


def clean_results(results: Sequence[Mapping[str, Any]], image_ids: set[int]) -> list[dict[str, Any]]:
    """Validate COCO result dicts and return fresh copies ``{image_id, category_id, bbox, score}``.

    Raises ValueError naming the result index and field: a non-numeric or non-finite ``score``
    (official D25 crashed inside ``COCOeval.evaluate``), a bbox that is not 4 finite numbers, or
    an ``image_id`` absent from the GT (``loadRes`` would fail an anonymous assert). Negative
    widths are *not* rejected: the official eval passes them on unchanged (D26).
    """
    cleaned: list[dict[str, Any]] = []
    for i, res in enumerate(results):
        if not isinstance(res, Mapping):
            raise ValueError(f"result {i}: expected a dict, got {type(res).__name__}")
        for key in ("image_id", "category_id", "bbox", "score"):
            if key not in res:
                raise ValueError(f"result {i}: missing field {key!r}")
        score = res["score"]
        if not _is_finite_number(score):
            raise ValueError(f"result {i}: field 'score' must be a finite number, got {score!r}")
        bbox = res["bbox"]
        if (
            isinstance(bbox, str | bytes)
            or not isinstance(bbox, Sequence | np.ndarray)
            or len(bbox) != 4
            or not all(_is_finite_number(v) for v in bbox)
        ):
            raise ValueError(f"result {i}: field 'bbox' must be 4 finite numbers [x, y, w, h], got {bbox!r}")
        if res["image_id"] not in image_ids:
            raise ValueError(f"result {i}: field 'image_id' {res['image_id']!r} is not an image of the GT")
        cleaned.append(
            {
                "image_id": res["image_id"],
                "category_id": res["category_id"],
                "bbox": [float(v) for v in bbox],
                "score": float(score),
            }
        )
    return cleaned


def check_ids(gt: Mapping[str, Any], category_ids: Sequence[int], image_ids: Sequence[int] | None) -> None:
    """Reject empty, duplicate or unknown category/image ids (errors name the id and the fix)."""
    if len(category_ids) == 0:
        raise ValueError("category_ids is empty: pass the task's categories (an empty list means 'all')")
    dup = [c for c, n in Counter(category_ids).items() if n > 1]
    if dup:
        raise ValueError(f"category_ids has duplicates {dup}: each class would count twice in the mean")
    known = {c["id"] for c in gt.get("categories", [])}
    unknown = [c for c in category_ids if c not in known]
    if unknown:
        raise ValueError(f"category_ids {unknown} are not categories of the GT")
    if image_ids is not None:
        imgs = {im["id"] for im in gt.get("images", [])}
        missing = [i for i in image_ids if i not in imgs]
        if missing:
            raise ValueError(f"image_ids {missing[:10]} are not images of the GT")


def _gt_copy(gt: Mapping[str, Any]) -> dict[str, Any]:
    """A copy safe to hand to pycocotools: ``COCOeval._prepare`` writes ``ignore`` into GT annotations.

    Annotations without ``iscrowd`` get ``iscrowd=0`` (pycocotools' bbox IoU needs the key).
    """
    out = dict(gt)
    out["annotations"] = [{"iscrowd": 0, **ann} for ann in gt.get("annotations", [])]
    out.setdefault("images", [])
    out.setdefault("categories", [])
    return out


def _load_results(coco_gt: COCO, results: list[dict[str, Any]]) -> COCO:
    """``loadRes`` for a non-empty list; for an empty one (``loadRes`` indexes ``anns[0]``) the
    same object ``loadRes`` would build, with no annotations."""
    if results:
        return coco_gt.loadRes(results)
    res = COCO()
    res.dataset = {"images": list(coco_gt.dataset["images"]), "categories": [], "annotations": []}
    res.createIndex()
    return res


def coco_bbox_eval(
    gt: Mapping[str, Any],
    results: Sequence[Mapping[str, Any]],
    category_ids: Sequence[int],
    image_ids: Sequence[int] | None = None,
) -> DetectionMetrics:
    """Run pycocotools ``COCOeval`` (bbox, default IoU/recall grids) on ``category_ids``.

    ``gt`` is a COCO annotation dict as loaded from json (not modified); ``results`` a list of
    ``{image_id, category_id, bbox: [x, y, w, h] px, score}``; ``image_ids`` defaults to all GT
    images. Detections of other categories are dropped (the evaluator would ignore them anyway).
    """
    check_ids(gt, category_ids, image_ids)
    gt_copy = _gt_copy(gt)
    all_imgs = {im["id"] for im in gt_copy["images"]}
    eval_imgs = set(image_ids) if image_ids is not None else all_imgs
    cats = set(category_ids)
    cleaned = [r for r in clean_results(results, all_imgs) if r["category_id"] in cats]

    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = gt_copy
        coco_gt.createIndex()
        coco_dt = _load_results(coco_gt, cleaned)
        ev = COCOeval(coco_gt, coco_dt, iouType="bbox")
        ev.params.catIds = sorted(cats)
        ev.params.imgIds = sorted(eval_imgs)
        ev.evaluate()
        ev.accumulate()

    precision = ev.eval["precision"]  # [T, R, K, A, M]
    params = ev.params
    area_all = list(params.areaRngLbl).index("all")
    m = list(params.maxDets).index(COCO_MAX_DETS)
    t50 = int(np.argmin(np.abs(params.iouThrs - 0.5)))
    t75 = int(np.argmin(np.abs(params.iouThrs - 0.75)))
    cat_index = {int(c): k for k, c in enumerate(params.catIds)}

    n_gt = Counter(
        a["category_id"] for a in gt_copy["annotations"] if a["image_id"] in eval_imgs and not a.get("iscrowd", 0)
    )
    n_det = Counter(r["category_id"] for r in cleaned if r["image_id"] in eval_imgs)

    per_class: dict[int, ClassAP] = {}
    warnings: list[str] = []
    for cid in category_ids:
        p = precision[:, :, cat_index[cid], area_all, m]
        ap = precision_mean(p)
        if ap is None:
            warnings.append(
                f"category {cid}: no ground truth in the evaluated images; AP undefined, excluded from the mean"
            )
        per_class[cid] = ClassAP(
            ap=ap,
            ap50=precision_mean(p[t50]),
            ap75=precision_mean(p[t75]),
            n_gt=n_gt[cid],
            n_det=n_det[cid],
        )
    return DetectionMetrics(
        per_class=per_class,
        map=mean_defined([c.ap for c in per_class.values()]),
        map50=mean_defined([c.ap50 for c in per_class.values()]),
        warnings=tuple(warnings),
    )


def coco_ov_summary(
    per_class: Mapping[int, ClassAP | float | None],
    novel_ids: Sequence[int],
    base_ids: Sequence[int],
) -> dict[str, float | None]:
    """OV-COCO summary (PROTOCOL §6.3): mAPn over novel, mAPb over base, and
    mAPall = (n_novel·mAPn + n_base·mAPb)/(n_novel + n_base), i.e. the mean over all classes.

    Classes with undefined AP (``None``) are left out of the means and of the counts, so mAPall
    stays the mean over the defined classes.
    """
    overlap = set(novel_ids) & set(base_ids)
    if overlap:
        raise ValueError(f"novel_ids and base_ids overlap: {sorted(overlap)}")
    missing = [c for c in [*novel_ids, *base_ids] if c not in per_class]
    if missing:
        raise ValueError(f"categories {missing} have no per-class AP: evaluate them first")

    def ap_of(cid: int) -> float | None:
        v = per_class[cid]
        return v.ap if isinstance(v, ClassAP) else v

    novel = [a for a in map(ap_of, novel_ids) if a is not None]
    base = [a for a in map(ap_of, base_ids) if a is not None]
    map_n, map_b = mean_defined(novel), mean_defined(base)
    if novel or base:
        map_all: float | None = (len(novel) * (map_n or 0.0) + len(base) * (map_b or 0.0)) / (len(novel) + len(base))
    else:
        map_all = None
    return {"mAPn": map_n, "mAPb": map_b, "mAPall": map_all}
