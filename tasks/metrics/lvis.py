"""LVIS federated box AP through ``lvis.LVISEval`` (PROTOCOL §6.4), as data.

Why an adapter:

* lvis 0.5.3 reads GT only from a path and crashes on numpy >= 1.24 (``np.float``); here GT comes
  from a dict (a small ``LVIS`` subclass, no temp file) and the alias is restored by
  :func:`ensure_numpy_float_alias` before any LVIS call.
* The official (deleted) notebook's per-class "AP" averages the precision over **all four area
  ranges** (D20). Both that value (``ap_official_area_mean``) and the standard area-"all" AP
  (``ap``) are reported, with their means, so tables can say which one they show.

Behaviour verified against lvis 0.5.3 (tests/metrics): ``LVISResults(max_dets=300)`` keeps the top
300 detections per image (over all categories given); ``params.cat_ids`` restricts GT and
detections; detections on images outside a category's pos ∪ neg sets are dropped; unmatched
detections on ``not_exhaustive`` images are ignored; detections with area w·h <= 0 are dropped by
``LVIS.get_ann_ids``. AP values are only read from ``LVISEval.eval["precision"]``.
"""

from __future__ import annotations

import contextlib
import functools
import io
import logging
import warnings
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, NamedTuple

import numpy as np

from tasks.metrics.coco import (
    ClassAP,
    DetectionMetrics,
    check_ids,
    class_mean,
    clean_results,
    official_failure,
    official_results,
    precision_mean,
    undefined_warning,
)

LVIS_MAX_DETS = 300  # official: results loaded with max_dets=300 (top 300 per image)


def ensure_numpy_float_alias() -> None:
    """Restore ``np.float`` (removed in numpy 1.24) as the builtin ``float`` if it is missing.

    lvis 0.5.3 calls ``astype(dtype=np.float)`` in ``LVISEval.accumulate``; PROTOCOL §6.4 says to
    restore the alias. ``np.float`` was exactly ``float``, so the results are unchanged. Idempotent.
    """
    try:
        np.float  # type: ignore[attr-defined]  # noqa: B018
    except AttributeError:
        setattr(np, "float", float)  # noqa: B010


@dataclass(frozen=True, kw_only=True)
class LVISClassAP(ClassAP):
    """Per-class AP plus the official notebook's four-area-range mean (D20), ×100."""

    ap_official_area_mean: float | None


@dataclass(frozen=True, kw_only=True)
class LVISDetectionMetrics(DetectionMetrics):
    """``map`` is the standard federated mean; ``map_official_area_mean`` the notebook's number."""

    per_class: dict[int, LVISClassAP]  # type: ignore[assignment]
    map_official_area_mean: float | None


@functools.cache
def _lvis_api() -> SimpleNamespace:
    """Import lvis on first use and build the dict-backed classes once.

    Lazy because ``import lvis`` pulls in cv2 and matplotlib (seconds) and calls
    ``logging.basicConfig`` at import time; the root logger's handlers and level are restored
    afterwards so the harness's own logging setup is not pre-empted.
    """
    ensure_numpy_float_alias()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        from lvis import LVIS, LVISEval, LVISResults
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)

    class DictLVIS(LVIS):
        """``LVIS`` whose dataset is given as a dict instead of read from a path."""

        def __init__(self, dataset: dict[str, Any]) -> None:
            self.logger = logging.getLogger("lvis.lvis")
            self.dataset = dataset
            self._create_index()

    class EmptyLVISResults(LVISResults):
        """What ``LVISResults`` builds for a list without entries (it indexes ``results[0]``
        and so cannot): the GT's images and categories, no annotations."""

        def __init__(self, lvis_gt: Any) -> None:
            self.logger = logging.getLogger("lvis.results")
            self.dataset = {**lvis_gt.dataset, "annotations": []}
            self._create_index()

    return SimpleNamespace(
        DictLVIS=DictLVIS, EmptyLVISResults=EmptyLVISResults, LVISResults=LVISResults, LVISEval=LVISEval
    )


@contextlib.contextmanager
def _quiet_lvis_logger() -> Iterator[None]:
    """Silence lvis' routine WARNING ("Assuming user provided the results in correct format.",
    logged on every list input) for the duration of one evaluation; errors still get through."""
    lg = logging.getLogger("lvis")
    level = lg.level
    lg.setLevel(logging.ERROR)
    try:
        yield
    finally:
        lg.setLevel(level)


def _check_lvis_gt(gt: Mapping[str, Any]) -> None:
    for i, im in enumerate(gt.get("images", [])):
        for key in ("neg_category_ids", "not_exhaustive_category_ids"):
            if key not in im:
                raise ValueError(f"GT image {i} (id {im.get('id')!r}): missing {key!r}; is this LVIS GT?")
    for c in gt.get("categories", []):
        if c.get("frequency") not in ("r", "c", "f"):
            raise ValueError(f"GT category {c.get('id')!r}: 'frequency' must be 'r', 'c' or 'f'")


class LVISRun(NamedTuple):
    """One ``LVISEval.evaluate()`` as `lvis_bbox_eval` sets it up, and what it was given."""

    ev: Any  # lvis.LVISEval (lvis is imported lazily)
    lvis_dt: Any  # the LVISResults (after the per-image max_dets cap)
    dataset: dict[str, Any]  # the GT handed over (queried categories' annotations, copied)
    relevant: set[int]  # the evaluated images: the categories' pos ∪ neg sets (within `image_ids`)


def evaluate_lvis(
    gt: Mapping[str, Any],
    results: Sequence[Mapping[str, Any]],
    category_ids: Sequence[int],
    image_ids: Sequence[int] | None = None,
    *,
    max_dets: int = LVIS_MAX_DETS,
    official: bool = False,
    accumulate: bool = True,
) -> LVISRun:
    """Validate, prepare the results, hand over only the queried categories, run ``LVISEval.evaluate()``
    (and ``accumulate()``) on the categories' pos ∪ neg images (restricted to ``image_ids`` when given).
    The one set-up behind `lvis_bbox_eval` and the bootstrap's per-image records. With no relevant image
    nothing is evaluated (``ev.eval`` stays empty)."""
    check_ids(gt, category_ids, image_ids)
    _check_lvis_gt(gt)
    cats = set(category_ids)
    all_imgs = {im["id"] for im in gt["images"]}
    prepare = official_results if official else clean_results
    cleaned = [r for r in prepare(results, all_imgs) if r["category_id"] in cats]
    # LVISEval writes "ignore"/"_ignore" into GT annotations and LVISResults deep-copies the
    # dataset; copying the annotation dicts keeps the caller's GT untouched. Only the evaluated
    # categories' annotations are handed over: LVISEval never reads the others (its GT queries are
    # per category), and the deep copy of ~1.3M polygon annotations was most of the metric's time.
    dataset = {**gt, "annotations": [dict(a) for a in gt.get("annotations", []) if a["category_id"] in cats]}
    relevant = {a["image_id"] for a in dataset["annotations"]}
    relevant |= {im["id"] for im in gt["images"] if cats & set(im["neg_category_ids"])}
    if image_ids is not None:
        relevant &= set(image_ids)

    api = _lvis_api()
    ensure_numpy_float_alias()  # again: someone may have deleted it since the first call
    with (
        contextlib.redirect_stdout(io.StringIO()),
        warnings.catch_warnings(),
        _quiet_lvis_logger(),
        official_failure(official, "lvis LVISEval"),
    ):
        warnings.simplefilter("ignore", DeprecationWarning)  # lvis uses the deprecated Logger.warn
        lvis_gt = api.DictLVIS(dataset)
        lvis_dt = api.LVISResults(lvis_gt, cleaned, max_dets=max_dets) if cleaned else api.EmptyLVISResults(lvis_gt)
        ev = api.LVISEval(lvis_gt, lvis_dt, iou_type="bbox")
        ev.params.cat_ids = sorted(cats)
        ev.params.img_ids = sorted(relevant)
        if relevant:
            ev.evaluate()
            if accumulate:
                ev.accumulate()
    return LVISRun(ev, lvis_dt, dataset, relevant)


def lvis_bbox_eval(
    gt: Mapping[str, Any],
    results: Sequence[Mapping[str, Any]],
    category_ids: Sequence[int],
    max_dets: int = LVIS_MAX_DETS,
    *,
    official: bool = False,
) -> LVISDetectionMetrics:
    """Federated LVIS bbox AP on ``category_ids`` (GT dict unmodified, results as COCO dicts).

    Results of other categories are dropped *before* the per-image ``max_dets`` cap (the official
    results only hold the queried categories, so this matches). The evaluated images are the union
    of the categories' pos ∪ neg sets: LVISEval ignores every other image for these categories, so
    the precision arrays equal a run over all images (tested), only faster. ``official``: results
    unvalidated and the official mean (see `tasks.metrics.coco`).
    """
    run = evaluate_lvis(gt, results, category_ids, max_dets=max_dets, official=official, accumulate=True)
    ev, dataset, relevant = run.ev, run.dataset, run.relevant
    kept = run.lvis_dt.dataset["annotations"]  # after the max_dets cap

    params = ev.params
    t50 = int(np.argmin(np.abs(params.iou_thrs - 0.5)))
    t75 = int(np.argmin(np.abs(params.iou_thrs - 0.75)))
    area_all = list(params.area_rng_lbl).index("all")
    cat_index = {int(c): k for k, c in enumerate(params.cat_ids)}
    n_gt = Counter(a["category_id"] for a in dataset["annotations"] if a.get("area", 0) > 0)
    n_det = Counter(a["category_id"] for a in kept)

    per_class: dict[int, LVISClassAP] = {}
    for cid in category_ids:
        if relevant:
            p_all = ev.eval["precision"][:, :, cat_index[cid], :]  # [T, R, A]
        else:
            p_all = -np.ones((len(params.iou_thrs), len(params.rec_thrs), len(params.area_rng)))
        p = p_all[:, :, area_all]
        per_class[cid] = LVISClassAP(
            ap=precision_mean(p),
            ap50=precision_mean(p[t50]),
            ap75=precision_mean(p[t75]),
            ap_official_area_mean=precision_mean(p_all),
            n_gt=n_gt[cid],
            n_det=n_det[cid],
        )
    undefined = [cid for cid, c in per_class.items() if c.ap is None]
    return LVISDetectionMetrics(
        per_class=per_class,
        map=class_mean([c.ap for c in per_class.values()], official),
        map50=class_mean([c.ap50 for c in per_class.values()], official),
        map_official_area_mean=class_mean([c.ap_official_area_mean for c in per_class.values()], official),
        warnings=(undefined_warning(undefined, official),) if undefined else (),
    )
