"""k-shot training sets sampled from task data, with the same prompt/solution structure as the paper's sets.

Every row is rendered by the task itself (``Request.text`` in the strict style = the training prompt,
``Request.solution`` = the paper's solution string), so the prompt a model is trained on is byte-identical
to the one `vrft eval` sends (tests assert it). Sampling is seeded and the chosen sample ids go into the
run manifest.

* FGVC: k images per class from the classification ``train`` split.
* COCO / LVIS: k images per training category from an annotation file, one row per (image, category) with
  all of that category's boxes (``ViRFT_COCO_8_cate_4_shot`` = 8 categories x 4 images). A real run points
  ``train_annotations`` at the *train* annotations (``instances_train2017.json``, ``lvis_v1_train.json``);
  without it the task's eval file is used (all the synthetic data has), with a warning: training on it
  leaks the test set. Open-vocabulary tasks sample only their base categories.
* LISA: the ReasonSeg ``train`` folder, one row per instruction (the official ``gen_sft.py``), solution =
  the first polygon's box in truncated 0-1000 integers (PROTOCOL §4.3).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tasks.base import Request
from tasks.data import DataError, image_size
from tasks.data.detection import load_coco_detection, load_lvis_detection
from tasks.data.lisa import _polygons, _read_item, _texts, polygon_box  # ReasonSeg item parsing, reused as is
from tasks.grounding.task import official_solution
from tasks.prompts import grounding_prompt
from tasks.registry import TASKS, get_task
from tasks.spec import GroundingSample, ImageRef, Kind
from train_plugin.data import TrainData, TrainDataError, validate

log = logging.getLogger("vrft.train")


def _sample(rng: np.random.Generator, items: Sequence[Any], k: int | None) -> list[Any]:
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


def classification_kshot(task: str, data_root: Path, shots: int | None, seed: int) -> TrainData:
    """k images per class of the ``train`` split."""
    t: Any = get_task(task, data_root, split="train")
    by_class: dict[str, list[Request]] = defaultdict(list)
    for sample, req in zip(t.samples, t.requests(), strict=True):
        by_class[sample.class_name].append(req)
    rng = np.random.default_rng(seed)
    rows: list[Request] = []
    counts: dict[str, int] = {}
    for name in t.data.class_names:  # label order: deterministic for a seed
        chosen = _sample(rng, by_class.get(name, []), shots)
        rows.extend(chosen)
        counts[name] = len(chosen)
    spec = {"source": "kshot", "task": task, "split": "train", "shots": shots, "seed": seed,
            "index": str(t.data.source), "per_class": counts}
    return _dataset(rows, spec, task)


def detection_kshot(
    task: str, data_root: Path, shots: int | None, seed: int,
    train_annotations: Path | None = None, train_images: Path | None = None,
) -> TrainData:
    """k images per training category (base categories for open-vocabulary tasks)."""
    t: Any = get_task(task, data_root, protocol="oracle")
    if train_annotations is not None:
        if t.spec.dataset == "coco":
            images = train_images or Path(data_root) / "coco" / "train2017"
            data = load_coco_detection(Path(train_annotations), images)
        else:
            roots = [train_images] if train_images else [Path(data_root) / "lvis", Path(data_root) / "coco"]
            data = load_lvis_detection(Path(train_annotations), roots)
        t.__dict__["data"] = data  # the task renders prompts and solutions from this file's ground truth
    else:
        log.warning("%s: sampling training images from the evaluation annotations %s (the test set); a real "
                    "run passes --train-annotations (e.g. instances_train2017.json)", task, t.data.source)
    wanted = set(t.spec.base or t.spec.categories)
    by_cat: dict[str, list[Request]] = defaultdict(list)
    for req in t.requests():
        image_id, cat_id = (int(x) for x in req.request_id.split(":"))
        name = t.data.categories[cat_id]
        if name in wanted and len(t.data.gt_boxes(image_id, cat_id)):  # crowd-only pairs have no box to learn
            by_cat[name].append(req)
    rng = np.random.default_rng(seed)
    rows: list[Request] = []
    counts: dict[str, int] = {}
    for name in (n for n in t.spec.categories if n in wanted):  # paper order
        chosen = _sample(rng, by_cat.get(name, []), shots)
        rows.extend(chosen)
        counts[name] = len(chosen)
    short = {n: c for n, c in counts.items() if shots is not None and c < shots}
    if short:
        log.warning("%s: fewer than %s images for %s", task, shots, short)
    spec = {"source": "kshot", "task": task, "shots": shots, "seed": seed, "annotations": str(t.data.source),
            "per_category": counts}
    return _dataset(rows, spec, task)


def lisa_train_rows(split_dir: Path) -> list[Request]:
    """One request per instruction of every ReasonSeg item in `split_dir` (``<name>.jpg`` + ``<name>.json``)."""
    files = sorted(Path(split_dir).glob("*.json"), key=lambda p: p.stem)
    if not files:
        raise DataError(f"ReasonSeg training folder {split_dir} holds no <name>.json + <name>.jpg pairs")
    rows: list[Request] = []
    for i, path in enumerate(files):
        where = f"{path} (ReasonSeg train item {i}, {path.stem!r})"
        item = _read_item(path)
        polygons = _polygons(item, where)
        image = path.with_suffix(".jpg")
        w, h = image_size(image, where)
        for j, instruction in enumerate(_texts(item, where)):
            box = polygon_box(polygons[0][1])  # the official box: first polygon only, whatever its label
            sample = GroundingSample(f"{path.stem}#{j}", ImageRef(image, w, h), instruction, box)
            prompt = grounding_prompt(instruction, "strict")
            rows.append(Request(f"train/{path.stem}#{j}", sample.image, prompt.text, prompt.system, 256,
                                official_solution(sample)))
    return rows


def lisa_kshot(task: str, data_root: Path, shots: int | None, seed: int, split_dir: Path | None = None) -> TrainData:
    """The LISA train split (``DATA_ROOT/lisa/ReasonSeg/train``); `shots` = k images (all when None)."""
    folder = split_dir or Path(data_root) / "lisa" / "ReasonSeg" / "train"
    rows = lisa_train_rows(folder)
    by_image: dict[str, list[Request]] = defaultdict(list)
    for r in rows:
        by_image[r.request_id.split("#", 1)[0]].append(r)
    chosen = _sample(np.random.default_rng(seed), sorted(by_image), shots)
    picked = [r for name in chosen for r in by_image[name]]
    spec = {"source": "kshot", "task": task, "split_dir": str(folder), "shots": shots, "seed": seed,
            "images": len(chosen)}
    return _dataset(picked, spec, task)


def build_kshot(
    task: str, data_root: Path, shots: int | None, seed: int,
    train_annotations: Path | None = None, train_images: Path | None = None,
) -> TrainData:
    """Dispatch on the task's family. For LISA, `train_annotations` may name the ReasonSeg train folder."""
    try:
        kind = TASKS[task].kind
    except KeyError:
        raise ValueError(f"unknown task {task!r}: expected one of {sorted(TASKS)}") from None
    if kind is Kind.CLASSIFICATION:
        return classification_kshot(task, data_root, shots, seed)
    if kind is Kind.DETECTION:
        return detection_kshot(task, data_root, shots, seed, train_annotations, train_images)
    return lisa_kshot(task, data_root, shots, seed, train_annotations)
