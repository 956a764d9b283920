"""COCO / LVIS box AP with image-level bootstrap intervals (issue 18): the evaluator runs once
(`coco_records` / `lvis_records`, set up exactly as `tasks.metrics.coco.coco_bbox_eval` and
`tasks.metrics.lvis.lvis_bbox_eval`), and every replicate re-accumulates its per-image records
(`tasks.metrics.bootstrap_accumulate`, where the exactness argument is).

Per-class AP is read as vrft reads it (`tasks.metrics.coco` / `tasks.metrics.lvis`): the mean of the precision
entries > -1 at area "all" (COCO: maxDets 100) ×100, AP50 / AP75 at one IoU, and for LVIS also the official
notebook's mean over the four area ranges. The means over classes per replicate use the same functions as
the single evaluation (`class_mean`, `coco_ov_summary`), so the identity resample reproduces them exactly.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np

from tasks.metrics.bootstrap import (
    DEFAULT_CHUNK,
    DEFAULT_CONFIDENCE,
    DEFAULT_REPLICATES,
    DEFAULT_SEED,
    BootstrapResult,
    bootstrap,
)
from tasks.metrics.bootstrap_accumulate import DetectionRecords, records_from_cocoeval, records_from_lvis_eval
from tasks.metrics.coco import COCO_MAX_DETS, class_mean, coco_ov_summary, evaluate_coco
from tasks.metrics.lvis import LVIS_MAX_DETS, evaluate_lvis


def coco_records(
    gt: Mapping[str, Any],
    results: Sequence[Mapping[str, Any]],
    category_ids: Sequence[int],
    image_ids: Sequence[int] | None = None,
    *,
    official: bool = False,
    areas: Sequence[str] | None = ("all",),
    max_dets: Sequence[int] | None = (COCO_MAX_DETS,),
) -> DetectionRecords:
    """Run ``COCOeval.evaluate()`` once exactly as `tasks.metrics.coco.coco_bbox_eval` sets it up (same
    validation, category and image restriction) and keep its records. The population is ``image_ids``
    (default: every GT image)."""
    run = evaluate_coco(gt, results, category_ids, image_ids, official=official, accumulate=False)
    return records_from_cocoeval(run.ev, image_ids=run.image_ids, areas=areas, max_dets=max_dets)


def lvis_records(
    gt: Mapping[str, Any],
    results: Sequence[Mapping[str, Any]],
    category_ids: Sequence[int],
    image_ids: Sequence[int] | None = None,
    *,
    max_dets: int = LVIS_MAX_DETS,
    official: bool = False,
    areas: Sequence[str] | None = None,
) -> DetectionRecords:
    """Run ``LVISEval.evaluate()`` once as `tasks.metrics.lvis.lvis_bbox_eval` sets it up (results capped at
    ``max_dets`` per image, evaluation restricted to the categories' pos ∪ neg images) and keep its records.
    The population is ``image_ids`` (default: every GT image): images outside every pos ∪ neg set carry no
    record but are still drawn. ``areas`` default: all four (needed for the official area mean)."""
    population = sorted(set(image_ids) if image_ids is not None else {im["id"] for im in gt["images"]})
    run = evaluate_lvis(gt, results, category_ids, population, max_dets=max_dets, official=official, accumulate=False)
    return records_from_lvis_eval(run.ev, image_ids=population, areas=areas)


def _nan_to_none(x: float) -> float | None:
    return None if np.isnan(x) else float(x)


class DetectionStatistic:
    """Per-class AP and its means as an `ImageStatistic` (see `tasks.metrics.bootstrap`).

    Metrics: ``ap/<id>``, ``ap50/<id>``, ``ap75/<id>`` per class; ``map``, ``map50``, ``map75`` (mean over
    the classes: over the defined ones, or the official mean that is undefined as soon as one class is, per
    ``official``); with ``area_mean`` (LVIS with all four areas, default there) ``ap_official_area_mean/<id>``
    and ``map_official_area_mean``; with ``ov=(novel_ids, base_ids)`` ``mAPn``, ``mAPb``, ``mAPall`` from
    `coco_ov_summary`. All ×100; the classes are those of ``records`` in ``category_ids`` order (default: all).
    """

    def __init__(
        self,
        records: DetectionRecords,
        *,
        category_ids: Sequence[int] | None = None,
        official: bool = False,
        ov: tuple[Sequence[int], Sequence[int]] | None = None,
        area_mean: bool | None = None,
    ) -> None:
        if "all" not in records.areas:
            raise ValueError(f"records lack the area 'all' (kept: {records.areas})")
        self.records = records
        self.category_ids = tuple(records.category_ids if category_ids is None else category_ids)
        unknown = set(self.category_ids) - set(records.category_ids)
        if unknown:
            raise ValueError(f"categories {sorted(unknown)} are not in the records")
        all_areas = ("all", "small", "medium", "large")
        if area_mean is None:
            area_mean = records.kind == "lvis" and records.areas == all_areas
        if area_mean and records.areas != all_areas:
            raise ValueError(f"the area mean needs the four areas {all_areas}, records have {records.areas}")
        self.area_mean = area_mean
        self.official = official
        self.ov = ov
        self._max_det = COCO_MAX_DETS if records.kind == "coco" else None
        if self._max_det not in records.max_dets:
            raise ValueError(f"records lack maxDets {self._max_det} (kept: {records.max_dets})")
        thrs = records.iou_thrs
        self._t50, self._t75 = int(np.argmin(np.abs(thrs - 0.5))), int(np.argmin(np.abs(thrs - 0.75)))

    @property
    def image_ids(self) -> tuple[Hashable, ...]:
        return self.records.image_ids

    def class_ap(self, counts: np.ndarray) -> dict[str, np.ndarray]:
        """Per-class values per replicate: ``ap``, ``ap50``, ``ap75`` (and ``ap_official_area_mean``), each
        ``(B, K)`` in ``category_ids`` order, NaN where undefined; read exactly as `precision_mean` reads."""
        rec = self.records
        cols = [rec.category_ids.index(c) for c in self.category_ids]
        prec = rec.precision(counts, self._max_det)[:, cols]  # (B, K, A, T, R)
        b, k = prec.shape[:2]
        p = np.ascontiguousarray(prec[:, :, rec.areas.index("all")])  # (B, K, T, R)
        defined = p[:, :, 0, 0] > -1
        out = {
            "ap": np.where(defined, p.reshape(b, k, -1).mean(axis=-1) * 100.0, np.nan),
            "ap50": np.where(defined, p[:, :, self._t50].mean(axis=-1) * 100.0, np.nan),
            "ap75": np.where(defined, p[:, :, self._t75].mean(axis=-1) * 100.0, np.nan),
        }
        if self.area_mean:
            out["ap_official_area_mean"] = _area_mean(prec)
        return out

    def replicates(self, counts: np.ndarray) -> dict[str, np.ndarray]:
        per_class = self.class_ap(counts)
        b = next(iter(per_class.values())).shape[0]
        out: dict[str, np.ndarray] = {}
        for key, arr in per_class.items():
            for j, cid in enumerate(self.category_ids):
                out[f"{key}/{cid}"] = arr[:, j]
        for key in per_class:
            name = "map" + key.removeprefix("ap")
            out[name] = np.array(
                [_none_to_nan(class_mean([_nan_to_none(v) for v in row], self.official)) for row in per_class[key]]
            )
        if self.ov is not None:
            novel, base = self.ov
            summaries = [
                coco_ov_summary(
                    {c: _nan_to_none(per_class["ap"][i, j]) for j, c in enumerate(self.category_ids)},
                    novel,
                    base,
                    official=self.official,
                )
                for i in range(b)
            ]
            for name in ("mAPn", "mAPb", "mAPall"):
                out[name] = np.array([_none_to_nan(s[name]) for s in summaries])
        return out

    def point(self) -> dict[str, float | None]:
        return {name: _nan_to_none(v[0]) for name, v in self.replicates(self.records.identity()).items()}


def _none_to_nan(x: float | None) -> float:
    return np.nan if x is None else x


def _area_mean(prec: np.ndarray) -> np.ndarray:
    """The official LVIS notebook's per-class value: mean of the precision entries > -1 over [T, R, A], in that
    element order (as ``precision[:, :, k, :]`` is read), ×100; ``prec`` is ``(B, K, A, T, R)``."""
    b, k, a = prec.shape[:3]
    flat = np.ascontiguousarray(prec.transpose(0, 1, 3, 4, 2)).reshape(b, k, -1, a)  # (B, K, T·R, A)
    valid = flat[:, :, 0, :] > -1  # (B, K, A)
    out = np.where(valid.all(axis=-1), flat.reshape(b, k, -1).mean(axis=-1) * 100.0, np.nan)
    for i, j in zip(*np.nonzero(valid.any(axis=-1) & ~valid.all(axis=-1)), strict=True):
        out[i, j] = float(np.mean(flat[i, j][:, valid[i, j]].ravel())) * 100.0  # 1-D: the same summation
    return out


def bootstrap_coco(
    gt: Mapping[str, Any],
    results: Sequence[Mapping[str, Any]],
    category_ids: Sequence[int],
    image_ids: Sequence[int] | None = None,
    *,
    ov: tuple[Sequence[int], Sequence[int]] | None = None,
    official: bool = False,
    n_replicates: int = DEFAULT_REPLICATES,
    seed: int = DEFAULT_SEED,
    confidence: float = DEFAULT_CONFIDENCE,
    chunk: int = DEFAULT_CHUNK,
) -> BootstrapResult:
    """COCO box AP with image-level bootstrap intervals (one ``COCOeval.evaluate()``)."""
    records = coco_records(gt, results, category_ids, image_ids, official=official)
    stat = DetectionStatistic(records, category_ids=category_ids, official=official, ov=ov)
    return bootstrap(stat, n_replicates=n_replicates, seed=seed, confidence=confidence, chunk=chunk)


def bootstrap_lvis(
    gt: Mapping[str, Any],
    results: Sequence[Mapping[str, Any]],
    category_ids: Sequence[int],
    image_ids: Sequence[int] | None = None,
    *,
    max_dets: int = LVIS_MAX_DETS,
    area_mean: bool = True,
    official: bool = False,
    n_replicates: int = DEFAULT_REPLICATES,
    seed: int = DEFAULT_SEED,
    confidence: float = DEFAULT_CONFIDENCE,
    chunk: int = DEFAULT_CHUNK,
) -> BootstrapResult:
    """LVIS federated box AP (and, with ``area_mean``, the official four-area mean) with image-level
    bootstrap intervals (one ``LVISEval.evaluate()``)."""
    areas = None if area_mean else ("all",)
    records = lvis_records(gt, results, category_ids, image_ids, max_dets=max_dets, official=official, areas=areas)
    stat = DetectionStatistic(records, category_ids=category_ids, official=official, area_mean=area_mean)
    return bootstrap(stat, n_replicates=n_replicates, seed=seed, confidence=confidence, chunk=chunk)
