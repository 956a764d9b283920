"""COCO box AP through pycocotools ``COCOeval`` (PROTOCOL §6.3), as data.

Why an adapter at all: the official notebook calls ``COCOeval`` with default parameters (all 80
classes, all images) and then averages the per-class precision of the *selected* classes by hand.
Here the same numbers come out of one function that

* restricts the evaluator to the task's categories (``params.catIds``) and images (``params.imgIds``),
* reads per-class AP exactly as the notebook does (mean of the precision entries > -1 at area "all",
  maxDets 100, ×100; this equals standard COCO AP@[.5:.95]),
* never prints (pycocotools prints progress on stdout), never mutates the caller's dicts,
* strict: rejects results that would crash deep inside ``COCOeval`` (D25: a string score) with an
  error that names the offending result; official (``official=True``): hands the evaluator exactly
  what the official code hands it (a ``true``, NaN or infinite score or coordinate included) and
  fails where it fails, with a message saying so,
* treats an empty result list as "every AP 0" instead of crashing.

A listed class without ground truth in the evaluated images has an undefined AP (``None``). Strict
leaves it out of the means (and warns); official reports the mean itself as undefined, because the
notebook's Σ AP_k / |k| is NaN then (cause C of issue 12), and warns with the class names.

AP is never recomputed here: every number is read from ``COCOeval.eval["precision"]``.
"""

from __future__ import annotations

import contextlib
import io
import math
import numbers
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, NamedTuple

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


def mean_all(values: Sequence[float | None]) -> float | None:
    """The official notebooks' mean: Σ v / n over every listed value, NaN (here ``None``) as soon as
    one of them is undefined."""
    if not values or any(v is None for v in values):
        return None
    return float(np.mean([v for v in values if v is not None]))


def class_mean(values: Sequence[float | None], official: bool) -> float | None:
    """The mean over the listed classes as the profile defines it (see the module docstring)."""
    return mean_all(values) if official else mean_defined(values)


def undefined_warning(names: Sequence[object], official: bool) -> str:
    """The warning for listed classes whose AP is undefined (no ground truth)."""
    shown = ("category " if len(names) == 1 else "categories ") + ", ".join(str(n) for n in names)
    if official:
        return (
            f"{shown}: no ground truth in the evaluated images; AP undefined (NaN in the official "
            "notebook), so the official mean over the listed classes is undefined too"
        )
    return f"{shown}: no ground truth in the evaluated images; AP undefined, excluded from the mean"


class OfficialEvaluatorError(ValueError):
    """The evaluator failed on results the official code hands it unchanged (e.g. D25: a string score)."""


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


def official_results(results: Sequence[Mapping[str, Any]], image_ids: set[int]) -> list[dict[str, Any]]:
    """Copies of the result dicts exactly as the official code builds them: no validation of
    ``score`` or ``bbox`` (a string score makes the evaluator raise, as in the official run). Only an
    ``image_id`` outside the GT is refused, because ``loadRes`` would fail an anonymous assert."""
    out: list[dict[str, Any]] = []
    for i, res in enumerate(results):
        if res.get("image_id") not in image_ids:
            raise ValueError(f"result {i}: field 'image_id' {res.get('image_id')!r} is not an image of the GT")
        out.append(
            {
                "image_id": res["image_id"],
                "category_id": res["category_id"],
                "bbox": list(res["bbox"]),
                "score": res["score"],
            }
        )
    return out


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


class COCORun(NamedTuple):
    """One ``COCOeval.evaluate()`` as `coco_bbox_eval` sets it up, and what it was given."""

    ev: COCOeval
    cleaned: list[dict[str, Any]]  # the results handed over (validated or not, queried categories only)
    gt: dict[str, Any]  # the GT copy handed over
    image_ids: list[int]  # the evaluated images, sorted


def evaluate_coco(
    gt: Mapping[str, Any],
    results: Sequence[Mapping[str, Any]],
    category_ids: Sequence[int],
    image_ids: Sequence[int] | None = None,
    *,
    official: bool = False,
    accumulate: bool = True,
) -> COCORun:
    """Validate, prepare the results (``official``: unchecked), restrict to the categories and images, run
    ``COCOeval.evaluate()`` (and ``accumulate()``). The one set-up behind `coco_bbox_eval` and the
    bootstrap's per-image records, so both score exactly the same evaluation."""
    check_ids(gt, category_ids, image_ids)
    gt_copy = _gt_copy(gt)
    all_imgs = {im["id"] for im in gt_copy["images"]}
    eval_imgs = sorted(set(image_ids) if image_ids is not None else all_imgs)
    cats = set(category_ids)
    prepare = official_results if official else clean_results
    cleaned = [r for r in prepare(results, all_imgs) if r["category_id"] in cats]
    with contextlib.redirect_stdout(io.StringIO()), official_failure(official, "pycocotools COCOeval"):
        coco_gt = COCO()
        coco_gt.dataset = gt_copy
        coco_gt.createIndex()
        ev = COCOeval(coco_gt, _load_results(coco_gt, cleaned), iouType="bbox")
        ev.params.catIds = sorted(cats)
        ev.params.imgIds = eval_imgs
        ev.evaluate()
        if accumulate:
            ev.accumulate()
    return COCORun(ev, cleaned, gt_copy, eval_imgs)


def coco_bbox_eval(
    gt: Mapping[str, Any],
    results: Sequence[Mapping[str, Any]],
    category_ids: Sequence[int],
    image_ids: Sequence[int] | None = None,
    *,
    official: bool = False,
) -> DetectionMetrics:
    """Run pycocotools ``COCOeval`` (bbox, default IoU/recall grids) on ``category_ids``.

    ``gt`` is a COCO annotation dict as loaded from json (not modified); ``results`` a list of
    ``{image_id, category_id, bbox: [x, y, w, h] px, score}``; ``image_ids`` defaults to all GT
    images. Detections of other categories are dropped (the evaluator would ignore them anyway).
    ``official``: results unvalidated and the official mean (see the module docstring).
    """
    run = evaluate_coco(gt, results, category_ids, image_ids, official=official, accumulate=True)
    ev, cleaned, gt_copy, eval_imgs = run.ev, run.cleaned, run.gt, set(run.image_ids)

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
    for cid in category_ids:
        p = precision[:, :, cat_index[cid], area_all, m]
        per_class[cid] = ClassAP(
            ap=precision_mean(p),
            ap50=precision_mean(p[t50]),
            ap75=precision_mean(p[t75]),
            n_gt=n_gt[cid],
            n_det=n_det[cid],
        )
    undefined = [cid for cid, c in per_class.items() if c.ap is None]
    return DetectionMetrics(
        per_class=per_class,
        map=class_mean([c.ap for c in per_class.values()], official),
        map50=class_mean([c.ap50 for c in per_class.values()], official),
        warnings=(undefined_warning(undefined, official),) if undefined else (),
    )


@contextlib.contextmanager
def official_failure(official: bool, evaluator: str) -> Iterator[None]:
    """In the official profile, an exception inside the evaluator is the official run's crash:
    re-raise it as `OfficialEvaluatorError` that says so (the task adds the request ids)."""
    try:
        yield
    except Exception as err:
        if not official:
            raise
        raise OfficialEvaluatorError(
            f"{evaluator} fails on these results, as it does in the official code, which hands it every "
            f"score and box unchecked (README D25): {type(err).__name__}: {err}"
        ) from err


def coco_ov_summary(
    per_class: Mapping[int, ClassAP | float | None],
    novel_ids: Sequence[int],
    base_ids: Sequence[int],
    *,
    official: bool = False,
) -> dict[str, float | None]:
    """OV-COCO summary (PROTOCOL §6.3): mAPn over novel, mAPb over base, and
    mAPall = (n_novel·mAPn + n_base·mAPb)/(n_novel + n_base), i.e. the mean over all classes.

    Strict: classes with undefined AP (``None``) are left out of the means and of the counts, so
    mAPall stays the mean over the defined classes. Official: one undefined class makes its group's
    mean and mAPall undefined (NaN in the official notebook).
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

    if official:
        map_n, map_b = mean_all([ap_of(c) for c in novel_ids]), mean_all([ap_of(c) for c in base_ids])
        n, b = len(novel_ids), len(base_ids)
        if map_n is None or map_b is None:
            return {"mAPn": map_n, "mAPb": map_b, "mAPall": None}
        return {"mAPn": map_n, "mAPb": map_b, "mAPall": (n * map_n + b * map_b) / (n + b)}
    novel = [a for a in map(ap_of, novel_ids) if a is not None]
    base = [a for a in map(ap_of, base_ids) if a is not None]
    map_n, map_b = mean_defined(novel), mean_defined(base)
    if novel or base:
        map_all: float | None = (len(novel) * (map_n or 0.0) + len(base) * (map_b or 0.0)) / (len(novel) + len(base))
    else:
        map_all = None
    return {"mAPn": map_n, "mAPb": map_b, "mAPall": map_all}
