"""k-shot training sets: seeded samples of a task's own training rows.

The task renders every row (`Task.train_pool`, built in ``tasks/<family>/train.py``): ``problem`` is the
training prompt, byte-identical to the one `vrft eval` sends (tests assert it), ``solution`` the paper's
solution string. This module only chooses sample ids: k per group of the pool (FGVC: per class of the
``train`` split; COCO / LVIS: per training category of the annotation file, base categories for the
open-vocabulary tasks; LISA: k ReasonSeg images, each with one row per instruction), with one seeded
generator over the groups in the pool's order. The chosen ids and where they came from go into the run
manifest.

`train_annotations` / `train_images` name the source: COCO / LVIS read that annotation file (default: the
data root's ``instances_train2017.json`` / ``lvis_v1_train.json``); for LISA it may name a ReasonSeg folder
(default: the ``train`` split). Evaluation data is refused unless `allow_eval_set`
(``--allow-eval-set-for-training``): the task refuses its evaluation file, and here the sampled images are
compared byte for byte with the task's evaluation images in the data root, which catches a copy under
another name too. The manifest records the file sampled from (``sampled_from``, ``eval_set``), the opt-in,
the overlap (``eval_overlap``) and every training image's fingerprint (``images``), which `vrft eval`
compares with the images it evaluates (`harness.provenance.training_images`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from harness.provenance import image_fingerprint, shared_images
from tasks.base import ALLOW_EVAL_SET, Request, Task, TrainPool
from tasks.data import DataError
from tasks.registry import get_task
from train_plugin.data import TrainData, TrainDataError, validate

log = logging.getLogger("vrft.train")

T = TypeVar("T")


def _sample(rng: np.random.Generator, items: Sequence[T], k: int | None) -> list[T]:
    """k items without replacement, kept in their original order (all of them when there are fewer)."""
    if k is None or len(items) <= k:
        return list(items)
    return [items[i] for i in sorted(rng.choice(len(items), size=k, replace=False).tolist())]


def _dataset(rows: list[Request], spec: dict[str, Any], task: str) -> TrainData:
    import datasets

    if not rows:
        raise TrainDataError(f"{task}: the k-shot sampling produced no rows ({spec})")
    data = datasets.Dataset.from_dict(
        {
            "image": [str(r.image.path) for r in rows],
            "problem": [r.text for r in rows],
            "solution": [r.solution for r in rows],
            "sample_id": [r.request_id for r in rows],
        }
    ).cast_column("image", datasets.Image())
    validate(data, task, f"{task} k-shot set")
    return TrainData(data, spec, [r.request_id for r in rows])


def _fingerprints(rows: list[Request], task: str, sampled_from: str) -> list[dict[str, Any]]:
    """`image_fingerprint` of every distinct image of `rows`, in order; missing images are named."""
    paths = list(dict.fromkeys(Path(r.image.path) for r in rows))
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise TrainDataError(
            f"{task}: {len(missing)} of the {len(paths)} sampled training images are missing (first: "
            f"{', '.join(map(str, missing[:3]))}); {sampled_from} references them: put its images there, name "
            "their folder with --train-images DIR, or fetch COCO/LVIS ones by their coco_url with `vrft data fetch "
            f"--train --tasks {task} --data-root DIR --seed SEED` (the seed of this run)"
        )
    return [image_fingerprint(p) for p in paths]


def eval_overlap(task: Task, images: list[dict[str, Any]]) -> dict[str, Any]:
    """How many of the training `images` are evaluation images of `task` (same bytes): ``eval_images`` (how
    many it evaluates), ``images`` (shared, None when the evaluation data cannot be read) and the first
    ``shared`` paths."""
    try:
        eval_paths = {str(r.image.path) for r in task.requests()}
    except (DataError, OSError, ValueError) as err:
        log.warning("%s: evaluation data not readable, training images not compared with it: %s", task.name, err)
        return {"eval_images": None, "images": None, "reason": f"evaluation data not readable: {err}"}
    shared = shared_images(images, eval_paths)
    return {"eval_images": len(eval_paths), "images": len(shared), "shared": shared[:10]}


@dataclass(frozen=True)
class KshotSample:
    """The sampled rows of one k-shot set, before any image is read: the task, its pool, the count per group."""

    task: Task
    pool: TrainPool
    counts: dict[str, int]
    rows: list[Request]


def sample_kshot(
    task: str, data_root: Path, shots: int | None, seed: int,
    train_annotations: Path | None = None, train_images: Path | None = None, allow_eval_set: bool = False,
) -> KshotSample:
    """`shots` samples per group of `task`'s training pool (all of them when None), chosen with `seed`. Reads
    the annotations only: `vrft data fetch --train` fetches the images of this very sample."""
    t = get_task(task, data_root)
    pool = t.train_pool(train_annotations, train_images, allow_eval_set=allow_eval_set)
    rng = np.random.default_rng(seed)
    chosen = {group: _sample(rng, ids, shots) for group, ids in pool.groups.items()}  # the pool's order
    counts = {group: len(ids) for group, ids in chosen.items()}
    short = {g: n for g, n in counts.items() if shots is not None and n < shots}
    if short:
        log.warning("%s: fewer than %s images for %s", task, shots, short)
    return KshotSample(t, pool, counts, pool.select(sample_id for ids in chosen.values() for sample_id in ids))


def build_kshot(
    task: str, data_root: Path, shots: int | None, seed: int,
    train_annotations: Path | None = None, train_images: Path | None = None, allow_eval_set: bool = False,
) -> TrainData:
    """`shots` samples per group of `task`'s training pool (all of them when None), chosen with `seed`; refuses
    evaluation images unless `allow_eval_set`."""
    sample = sample_kshot(task, data_root, shots, seed, train_annotations, train_images, allow_eval_set)
    t, pool, counts, rows = sample.task, sample.pool, sample.counts, sample.rows
    images = _fingerprints(rows, task, pool.sampled_from)
    overlap = eval_overlap(t, images)
    if overlap["images"]:
        if not allow_eval_set:
            raise TrainDataError(
                f"{task}: {overlap['images']} of the {len(images)} sampled training images are evaluation images "
                f"of {task} in {data_root} (same bytes; first: {', '.join(overlap['shared'][:3])}), although "
                f"{pool.sampled_from} is not its evaluation file; training on them would put test images into the "
                f"training set. Sample from annotations without them, or pass {ALLOW_EVAL_SET} to train on them "
                "anyway (evaluations of the checkpoint on them are then labelled 'train∩test = N images')"
            )
        log.warning("%s: %d of the %d training images are evaluation images (%s): evaluations of this checkpoint "
                    "on them are labelled 'train∩test'", task, overlap["images"], len(images), ALLOW_EVAL_SET)
    spec = {"source": "kshot", "task": task, "shots": shots, "seed": seed, **pool.manifest(counts),
            "allow_eval_set_for_training": allow_eval_set, "eval_overlap": overlap, "images": images}
    return _dataset(rows, spec, task)
