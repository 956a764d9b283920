"""Training rows of the FGVC benchmarks: the ``train`` split of the task's dataset, one row per image.

The rows are the requests of the same task over its ``train`` split in the strict (training) rendering,
so the prompt a model is trained on is the one `vrft eval` sends, byte for byte; the solution is
``<answer>{class name}</answer>`` (PROTOCOL §2.4). Samples are grouped by class, in label order: k-shot
sets take k images per class.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from pathlib import Path

from tasks.base import Request, TrainPool
from tasks.classification.task import ClassificationTask

log = logging.getLogger("vrft.train")


def train_pool(
    task: ClassificationTask,
    annotations: Path | None = None,
    images: Path | None = None,
    *,
    allow_eval_set: bool = False,
) -> TrainPool:
    """Every image of `task`'s ``train`` split as a training row (sample id = the eval request id), by class.

    FGVC reads its split files: `annotations` / `images` are not used (a warning says so). The ``train``
    split is never the evaluation split (``test``), so `allow_eval_set` changes nothing here."""
    if annotations is not None or images is not None:
        log.warning(
            "%s: training rows come from the dataset's train split; annotations=%s images=%s are not used",
            task.name,
            annotations,
            images,
        )
    train = ClassificationTask(
        task.name,
        task.version,
        task.dataset,
        task.data_root,
        prompt="strict",
        max_new_tokens=task.max_new_tokens,
        split="train",
    )
    by_class: dict[str, list[str]] = defaultdict(list)
    rows: dict[str, tuple[Request, ...]] = {}
    for sample, req in zip(train.samples, train.requests(), strict=True):
        by_class[sample.class_name].append(req.request_id)
        rows[req.request_id] = (req,)
    groups = {name: tuple(by_class.get(name, ())) for name in train.data.class_names}  # label order
    source = str(train.data.source)
    return TrainPool(groups, rows, {"split": "train", "index": source}, counts_key="per_class", sampled_from=source)
