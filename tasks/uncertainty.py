"""Per-metric uncertainty of a scored task (issue 18): the image-level bootstrap of `tasks.metrics.bootstrap`
wired to each task family's records.

`task_statistics` turns a task and its `TaskScore` into `ImageStatistic`s whose metric names are the
``metrics.json`` names (``accuracy``, ``mIoU_<split>``, ``gIoU_<split>`` (SAM masks), ``mAP``, ``AP50``,
``AP/<class>``, ``AP50/<class>``, ``mAPn`` / ``mAPb`` / ``mAPall``, LVIS ``mAP_standard`` /
``mAP_official_area_mean``), so that every point estimate equals the reported metric. `task_uncertainty`
bootstraps them (the ``"uncertainty"`` entry of ``metrics.json``); `paired_uncertainty` compares two scorings
of the same requests on the same draws.

Units: classification and grounding resample images (an image path carrying several items counts once);
detection resamples the image of each (image, category) request. Grounding splits are resampled
separately (each split's mIoU over its own images).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np

from tasks.metrics.bootstrap import (
    DEFAULT_CONFIDENCE,
    BootstrapResult,
    ImageStatistic,
    MeanStatistic,
    PairedResult,
    bootstrap,
    paired_bootstrap,
)
from tasks.spec import Kind, Profile


class RenamedStatistic:
    """An `ImageStatistic` restricted to some of another's metrics, under new names (``names``: new -> old)."""

    def __init__(self, inner: ImageStatistic, names: Mapping[str, str]) -> None:
        self.inner, self.names = inner, dict(names)

    @property
    def image_ids(self) -> tuple[Hashable, ...]:
        return self.inner.image_ids

    def point(self) -> dict[str, float | None]:
        p = self.inner.point()
        return {new: p[old] for new, old in self.names.items()}

    def replicates(self, counts: np.ndarray) -> dict[str, np.ndarray]:
        r = self.inner.replicates(counts)
        return {new: r[old] for new, old in self.names.items()}


def _classification(task: Any, score: Any, profile: Profile) -> list[ImageStatistic]:
    key = "correct_strict" if profile is Profile.STRICT else "correct_official"
    correct = {s["request_id"]: bool(s[key]) for s in score.samples}
    items = list(task.samples)  # a missing answer counts wrong, as `accuracy` counts it
    if not items:
        return []
    values = [correct.get(s.doc_id, False) for s in items]
    images = [str(s.image.path) for s in items]
    return [MeanStatistic(values, images, name="accuracy", scale=100.0)]


def _grounding(task: Any, score: Any, profile: Profile) -> list[ImageStatistic]:
    iou = {s["request_id"]: float(s["eval_iou"]) for s in score.samples}
    records = {s["request_id"]: s for s in score.samples}
    stats: list[ImageStatistic] = []
    for split in task.splits:
        rids = [r.request_id for r in task.requests() if r.request_id.split("/", 1)[0] == split]
        if not rids:
            continue
        values = [iou.get(rid, 0.0) for rid in rids]  # a missing answer counts IoU 0, as `mIoU` counts it
        images = [str(task.samples[rid].image.path) for rid in rids]
        stats.append(MeanStatistic(values, images, name=f"mIoU_{split}", scale=100.0))
        if score.metrics.get(f"gIoU_{split}") is not None:
            # SAM masks: each answer's mask IoU; a missing answer is an empty mask (IoU 0); an item the official
            # variant skips (size mismatch) has none and stays out, as it does of gIoU
            kept = [rid for rid in rids if rid not in records or "mask_iou" in records[rid]]
            masks = [float(records[rid]["mask_iou"]) if rid in records else 0.0 for rid in kept]
            where = [str(task.samples[rid].image.path) for rid in kept]
            stats.append(MeanStatistic(masks, where, name=f"gIoU_{split}", scale=100.0))
    return stats


def _detection(task: Any, score: Any, profile: Profile) -> list[ImageStatistic]:
    from tasks.metrics.bootstrap_coco import DetectionStatistic, coco_records, lvis_records

    spec = task.spec
    official = profile is Profile.OFFICIAL
    names = task.category_ids
    ids = [names[n] for n in spec.categories]
    if "results" not in score.inputs:  # a detection task that does not hand over its COCO-format results
        return []
    results = score.inputs["results"]
    novel = [names[n] for n in spec.novel]
    base = [names[n] for n in spec.base]
    rename: dict[str, str] = {}
    if spec.dataset == "coco":
        records = coco_records(task.data.gt, results, ids, task.image_ids, official=official)
        stat = DetectionStatistic(records, category_ids=ids, official=official, ov=(novel, base) if novel else None)
        rename.update({"mAP": "map", "AP50": "map50"})
        per_class = "ap"
        if novel:
            rename.update({m: m for m in ("mAPn", "mAPb", "mAPall")})
    else:
        records = lvis_records(task.data.gt, results, ids, official=official)
        ov = (novel, base) if novel and not official else None  # official: the summary is over area means
        stat = DetectionStatistic(records, category_ids=ids, official=official, area_mean=True, ov=ov)
        if ov:
            rename.update({m: m for m in ("mAPn", "mAPb", "mAPall")})
        per_class = "ap_official_area_mean" if official else "ap"
        rename.update(
            {
                "mAP": "map_official_area_mean" if official else "map",
                "mAP_standard": "map",
                "mAP_official_area_mean": "map_official_area_mean",
                "AP50": "map50",
            }
        )
    for name in spec.categories:
        rename[f"AP/{name}"] = f"{per_class}/{names[name]}"
        rename[f"AP50/{name}"] = f"ap50/{names[name]}"
    return [RenamedStatistic(stat, rename)]


_FAMILIES = {Kind.CLASSIFICATION: _classification, Kind.GROUNDING: _grounding, Kind.DETECTION: _detection}


def task_statistics(task: Any, score: Any, profile: Profile | str) -> list[ImageStatistic]:
    """The bootstrap statistics of a scored task (``score``: its `TaskScore`), named as in ``metrics.json``;
    empty for a task family without one."""
    family = _FAMILIES.get(Kind(task.kind))
    return [] if family is None else family(task, score, Profile.parse(profile))


def task_uncertainty(
    task: Any,
    score: Any,
    profile: Profile | str,
    *,
    n_replicates: int,
    seed: int,
    confidence: float = DEFAULT_CONFIDENCE,
) -> dict[str, Any] | None:
    """The ``"uncertainty"`` entry of a task's ``metrics.json``: `BootstrapResult.as_dict()` with the metrics of
    every statistic of the task (each metric also carries its own ``n_images``); None with no statistic."""
    stats = task_statistics(task, score, profile)
    if not stats:
        return None
    results = [bootstrap(stat, n_replicates=n_replicates, seed=seed, confidence=confidence) for stat in stats]
    out = _merge(results)
    return out


def _merge(results: Sequence[BootstrapResult | PairedResult]) -> dict[str, Any]:
    out = results[0].as_dict()
    out["metrics"] = {}
    for r in results:
        for name, entry in r.as_dict()["metrics"].items():
            out["metrics"][name] = {**entry, "n_images": r.n_images}
    out["n_images"] = sum(r.n_images for r in results)
    return out


def paired_uncertainty(
    task_a: Any,
    score_a: Any,
    task_b: Any,
    score_b: Any,
    profile: Profile | str,
    *,
    n_replicates: int,
    seed: int,
    confidence: float = DEFAULT_CONFIDENCE,
    profile_b: Profile | str | None = None,
) -> dict[str, Any] | None:
    """Paired bootstrap of B − A for every metric of two scorings of one task over the same images
    (`PairedResult.as_dict()` merged over the task's statistics); ValueError when the images differ.
    ``profile_b``: B's profile when it differs from A's (strict vs official on the same generations)."""
    stats_a = task_statistics(task_a, score_a, profile)
    stats_b = task_statistics(task_b, score_b, profile if profile_b is None else profile_b)
    if not stats_a or len(stats_a) != len(stats_b):
        return None
    results = [
        paired_bootstrap(a, b, n_replicates=n_replicates, seed=seed, confidence=confidence)
        for a, b in zip(stats_a, stats_b, strict=True)
    ]
    return _merge(results)
