"""Training rows of the COCO / LVIS benchmarks: one row per (image, category) with that category's boxes.

The rows are the task's own detection requests (strict rendering, the prompt `vrft eval` sends, byte for
byte; solution = every GT box of the category in 0-1000 integers, PROTOCOL §2.3) over an annotation file:
by default the data root's *train* annotations (``coco/annotations/instances_train2017.json`` with
``coco/train2017/``, ``lvis/annotations/lvis_v1_train.json`` with images by ``coco_url`` under ``lvis/`` or
``coco/``), or the file the run names. The task's evaluation file (``instances_val2017.json``,
``lvis_v1_val.json``) is refused, whether it is the only one there or named explicitly, unless the run
opts in (``allow_eval_set``): training on it leaks the test set. Only pairs with a box are rows
(crowd-only pairs have nothing to learn), only the training
categories are grouped (the base categories of an open-vocabulary task), in paper order: k-shot sets take
k images per category (``ViRFT_COCO_8_cate_4_shot`` = 8 categories x 4 images).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from functools import cached_property
from pathlib import Path

from tasks.base import Request, TrainPool, refuse_eval_set
from tasks.data import DataError
from tasks.data.detection import DetectionData, load_coco_detection, load_lvis_detection
from tasks.detection.task import DetectionTask

log = logging.getLogger("vrft.train")

TRAIN_ANNOTATIONS = {"coco": "coco/annotations/instances_train2017.json", "lvis": "lvis/annotations/lvis_v1_train.json"}
"""Dataset -> its training annotation file, relative to the data root (the k-shot default)."""
HOW_TO_GET = {
    "coco": "Get instances_train2017.json from COCO's '2017 Train/Val annotations' archive "
    "(https://cocodataset.org/#download; a data root laid out by `vrft data fetch` has it) into "
    "DIR/coco/annotations/, with the '2017 Train images' the sample needs under DIR/coco/train2017/ "
    "(`vrft data fetch --train` fetches just those)",
    "lvis": "Get the LVIS v1 train annotations (lvis_v1_train.json, https://www.lvisdataset.org/dataset) into "
    "DIR/lvis/annotations/; their images are COCO 2017 train images, under DIR/coco/train2017/ or "
    "DIR/lvis/train2017/ (`vrft data fetch --train` fetches both)",
}


class _OverAnnotations(DetectionTask):
    """`task` over other annotations: the same requests (oracle protocol, strict prompt), `data` given."""

    def __init__(self, task: DetectionTask, data: DetectionData) -> None:
        super().__init__(
            task.name,
            task.version,
            task.spec,
            task.data_root,
            protocol="oracle",
            prompt="strict",
            max_new_tokens=task.max_new_tokens,
        )
        self._annotations = data

    @cached_property
    def data(self) -> DetectionData:
        return self._annotations


def load_train_annotations(task: DetectionTask, annotations: Path, images: Path | None = None) -> DetectionData:
    """A COCO / LVIS annotation file of `task`'s dataset; images under `images` (default: the data root's
    ``coco/train2017`` for COCO, ``lvis`` then ``coco`` for LVIS)."""
    root = Path(task.data_root)
    if task.spec.dataset == "coco":
        return load_coco_detection(Path(annotations), Path(images) if images else root / "coco" / "train2017")
    roots = [Path(images)] if images else [root / "lvis", root / "coco"]
    return load_lvis_detection(Path(annotations), roots)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and a.samefile(b))
    except OSError:
        return False


def _source(
    task: DetectionTask, annotations: Path | None, images: Path | None, allow_eval_set: bool
) -> tuple[DetectionData, bool]:
    """The annotations to sample from and whether they are `task`'s evaluation set (refused unless allowed)."""
    evaluation = task.eval_annotations
    how = HOW_TO_GET[task.spec.dataset].replace("DIR", str(task.data_root))
    if annotations is None:
        default = Path(task.data_root) / TRAIN_ANNOTATIONS[task.spec.dataset]
        if default.is_file():
            return load_train_annotations(task, default, images), False
        if not evaluation.is_file():
            raise DataError(
                f"{task.name}: no training annotations: {default} does not exist. {how}, or name an "
                "annotation file with --train-annotations FILE (--train-images DIR for its images)"
            )
        if not allow_eval_set:
            refuse_eval_set(
                task.name,
                f"no training annotations: {default} does not exist, and the only annotations in "
                f"{task.data_root} are the evaluation set's ({evaluation})",
                how,
            )
        log.warning(
            "%s: sampling training images from the evaluation annotations %s (the test set), as "
            "--allow-eval-set-for-training asks: evaluations of this checkpoint on them are labelled train∩test",
            task.name,
            evaluation,
        )
        return task.data, True
    if not _same_file(Path(annotations), evaluation):
        return load_train_annotations(task, annotations, images), False
    if not allow_eval_set:
        refuse_eval_set(task.name, f"--train-annotations {annotations} is this task's evaluation annotation file", how)
    log.warning(
        "%s: training on the evaluation annotations %s, as --allow-eval-set-for-training asks", task.name, annotations
    )
    return (task.data if images is None else load_train_annotations(task, annotations, images)), True


def train_pool(
    task: DetectionTask,
    annotations: Path | None = None,
    images: Path | None = None,
    *,
    allow_eval_set: bool = False,
) -> TrainPool:
    """Every (image, training category) pair with a box, as a training row (sample id ``<image_id>:<cat_id>``),
    grouped by category name in paper order. `annotations` None = the data root's train annotations."""
    data, eval_set = _source(task, annotations, images, allow_eval_set)
    wanted = set(task.spec.base or task.spec.categories)
    by_cat: dict[str, list[str]] = defaultdict(list)
    rows: dict[str, tuple[Request, ...]] = {}
    for req in _OverAnnotations(task, data).requests():
        image_id, cat_id = (int(x) for x in req.request_id.split(":"))
        name = data.categories[cat_id]
        if name in wanted and len(data.gt_boxes(image_id, cat_id)):
            by_cat[name].append(req.request_id)
            rows[req.request_id] = (req,)
    groups = {name: tuple(by_cat.get(name, ())) for name in task.spec.categories if name in wanted}
    source = str(data.source)
    return TrainPool(
        groups, rows, {"annotations": source}, counts_key="per_category", sampled_from=source, eval_set=eval_set
    )
