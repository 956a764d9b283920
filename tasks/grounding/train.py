"""Training rows of LISA grounding: a ReasonSeg folder (the ``train`` split), one row per instruction.

As the official ``gen_sft.py``: every instruction of every item is a row, solution = the box of the first
polygon (whatever its label) in truncated 0-1000 integers (PROTOCOL §4.3). The rows are rendered by the
task itself in the strict style, the prompt `vrft eval` sends, byte for byte. Row ids are
``train/<name>#<instruction index>``; the sample (what k-shot sets count) is the image, ``train/<name>``.
"""

from __future__ import annotations

import logging
from functools import cached_property
from pathlib import Path

from tasks.base import Request, TrainPool, refuse_eval_set
from tasks.data import DataError
from tasks.data.lisa import ReasonSegItem, lisa_split_dir, read_reasonseg_folder
from tasks.grounding.task import GroundingTask
from tasks.spec import GroundingSample

log = logging.getLogger("vrft.train")


class _OverItems(GroundingTask):
    """`task` over ReasonSeg items: the same requests (strict prompt), one sample per instruction."""

    def __init__(self, task: GroundingTask, items: list[ReasonSegItem]) -> None:
        super().__init__(task.name, task.version, task.data_root, prompt="strict")
        self._items = items

    @cached_property
    def samples(self) -> dict[str, GroundingSample]:
        return {
            f"train/{item.name}#{j}": item.sample(j, f"{item.name}#{j}")
            for item in self._items
            for j in range(len(item.instructions))
        }


HOW_TO_GET = (
    "Get ReasonSeg (the link in the README of https://github.com/dvlab-research/LISA) and unpack its train/ "
    "folder into DIR/lisa/ReasonSeg/train/ (<name>.jpg + <name>.json)"
)


def _folder(task: GroundingTask, annotations: Path | None, allow_eval_set: bool) -> tuple[Path, bool]:
    """The ReasonSeg folder to sample from and whether it is an evaluation split (refused unless allowed)."""
    root = Path(task.data_root)
    how = HOW_TO_GET.replace("DIR", str(root))
    evaluation = [lisa_split_dir(root, split) for split in task.splits]
    if annotations is None:
        default = root / "lisa" / "ReasonSeg" / "train"
        if default.is_dir():
            return default, False
        present = [f for f in evaluation if f.is_dir()]
        if not present:
            raise DataError(f"{task.name}: no training data: {default} does not exist. {how}, or name a ReasonSeg "
                            "folder with --train-annotations DIR")
        if not allow_eval_set:
            refuse_eval_set(
                task.name,
                f"no training split: {default} does not exist, and the only ReasonSeg folders in {root} are "
                f"evaluation splits ({', '.join(map(str, present))})",
                how,
            )
        log.warning("%s: sampling training items from the evaluation split %s, as --allow-eval-set-for-training "
                    "asks", task.name, present[0])
        return present[0], True
    folder = Path(annotations)
    if not any(folder.resolve() == f.resolve() for f in evaluation):
        return folder, False
    if not allow_eval_set:
        refuse_eval_set(task.name, f"--train-annotations {folder} is an evaluation split of this task", how)
    log.warning("%s: training on the evaluation split %s, as --allow-eval-set-for-training asks", task.name, folder)
    return folder, True


def train_pool(
    task: GroundingTask,
    annotations: Path | None = None,
    images: Path | None = None,
    *,
    allow_eval_set: bool = False,
) -> TrainPool:
    """Every item of the ReasonSeg folder `annotations` (default ``DATA_ROOT/lisa/ReasonSeg/train``), sample id
    ``train/<name>``, each with its rows; one group, ``images``. `images` is not used (each image is the
    ``<name>.jpg`` beside its json). The task's evaluation splits (``val``, ``test``) are refused unless
    `allow_eval_set` (then, without a train folder, the first evaluation split is sampled)."""
    if images is not None:
        log.warning("%s: ReasonSeg images sit beside their json files; images=%s is not used", task.name, images)
    folder, eval_set = _folder(task, annotations, allow_eval_set)
    items = read_reasonseg_folder(folder, "train")
    rows: dict[str, list[Request]] = {f"train/{item.name}": [] for item in items}
    for req in _OverItems(task, items).requests():
        rows[req.request_id.split("#", 1)[0]].append(req)
    return TrainPool({"images": tuple(rows)}, {k: tuple(v) for k, v in rows.items()}, {"split_dir": str(folder)},
                     sampled_from=str(folder), eval_set=eval_set)
