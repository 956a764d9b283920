"""The benchmarks of the paper, by stable name: ``get_task(name, data_root, **args)``.

Adding a benchmark of an existing family is one entry here. A task's `version` changes whenever its
prompt rendering, request set or metric changes; it is written into every run manifest and table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tasks.base import Task
from tasks.classification.task import ClassificationTask
from tasks.detection.task import DetectionSpec, DetectionTask
from tasks.grounding.task import GroundingTask
from tasks.spec import Kind

COCO_FEWSHOT = ("bus", "train", "fire hydrant", "stop sign", "cat", "dog", "bed", "toilet")
COCO_NOVEL15 = (
    "mouse",
    "fork",
    "hot dog",
    "cat",
    "airplane",
    "suitcase",
    "parking meter",
    "sandwich",
    "train",
    "hair drier",
    "toilet",
    "toaster",
    "snowboard",
    "frisbee",
    "bear",
)
COCO_BASE65 = (
    "apple",
    "backpack",
    "banana",
    "baseball bat",
    "baseball glove",
    "bed",
    "bench",
    "bicycle",
    "bird",
    "boat",
    "book",
    "bottle",
    "bowl",
    "broccoli",
    "bus",
    "cake",
    "car",
    "carrot",
    "cell phone",
    "chair",
    "clock",
    "couch",
    "cow",
    "cup",
    "dining table",
    "dog",
    "donut",
    "elephant",
    "fire hydrant",
    "giraffe",
    "handbag",
    "horse",
    "keyboard",
    "kite",
    "knife",
    "laptop",
    "microwave",
    "motorcycle",
    "orange",
    "oven",
    "person",
    "pizza",
    "potted plant",
    "refrigerator",
    "remote",
    "scissors",
    "sheep",
    "sink",
    "skateboard",
    "skis",
    "spoon",
    "sports ball",
    "stop sign",
    "surfboard",
    "teddy bear",
    "tennis racket",
    "tie",
    "toothbrush",
    "traffic light",
    "truck",
    "tv",
    "umbrella",
    "vase",
    "wine glass",
    "zebra",
)
# The standard open-vocabulary COCO split (OVR-CNN): 48 base / 17 novel, as the paper's Table 6 caption says.
OVR_NOVEL17 = (
    "airplane",
    "bus",
    "cat",
    "dog",
    "cow",
    "elephant",
    "umbrella",
    "tie",
    "snowboard",
    "skateboard",
    "cup",
    "knife",
    "cake",
    "couch",
    "keyboard",
    "sink",
    "scissors",
)
OVR_BASE48 = (
    "person",
    "bicycle",
    "car",
    "motorcycle",
    "train",
    "truck",
    "boat",
    "bench",
    "bird",
    "horse",
    "sheep",
    "bear",
    "zebra",
    "giraffe",
    "backpack",
    "handbag",
    "suitcase",
    "frisbee",
    "skis",
    "kite",
    "surfboard",
    "bottle",
    "fork",
    "spoon",
    "bowl",
    "banana",
    "apple",
    "sandwich",
    "orange",
    "broccoli",
    "carrot",
    "pizza",
    "donut",
    "chair",
    "bed",
    "toilet",
    "tv",
    "laptop",
    "mouse",
    "remote",
    "microwave",
    "oven",
    "toaster",
    "refrigerator",
    "book",
    "clock",
    "vase",
    "toothbrush",
)
LVIS_FEWSHOT = ("horse_buggy", "die", "kitchen_table", "omelet", "papaya", "stepladder")
LVIS_OV13 = (
    "casserole",
    "die",
    "egg_roll",
    "futon",
    "garbage",
    "handsaw",
    "hippopotamus",
    "kitchen_table",
    "mallet",
    "omelet",
    "shot_glass",
    "stepladder",
    "sugar_bowl",
)


@dataclass(frozen=True)
class TaskInfo:
    name: str
    kind: Kind
    paper: str
    metric: str
    version: str
    build: Callable[..., Task]
    description: str


def _coco_ov(name: str, version: str, data_root: Path, *, split: str = "base65_novel15", **kw: Any) -> Task:
    if split == "base65_novel15":
        spec = DetectionSpec("coco", COCO_NOVEL15 + COCO_BASE65, novel=COCO_NOVEL15, base=COCO_BASE65)
    elif split == "ovr48_17":
        spec = DetectionSpec("coco", OVR_NOVEL17 + OVR_BASE48, novel=OVR_NOVEL17, base=OVR_BASE48)
    else:
        raise ValueError(f"coco_ov: split={split!r}: expected 'base65_novel15' (official code) or 'ovr48_17'")
    task = DetectionTask(name, version, spec, data_root, **kw)
    task.args["split"] = split
    return task


def _det(spec: DetectionSpec) -> Callable[..., Task]:
    return lambda name, version, data_root, **kw: DetectionTask(name, version, spec, data_root, **kw)


def _cls(dataset: str) -> Callable[..., Task]:
    return lambda name, version, data_root, **kw: ClassificationTask(name, version, dataset, data_root, **kw)


def _lisa(name: str, version: str, data_root: Path, **kw: Any) -> Task:
    return GroundingTask(name, version, data_root, **kw)


TASKS: dict[str, TaskInfo] = {
    t.name: t
    for t in (
        TaskInfo(
            "fgvc_flowers102",
            Kind.CLASSIFICATION,
            "Table 2",
            "accuracy",
            "1",
            _cls("flowers102"),
            "Oxford Flowers102, 2463 test images",
        ),
        TaskInfo(
            "fgvc_pets37",
            Kind.CLASSIFICATION,
            "Table 2",
            "accuracy",
            "1",
            _cls("pets37"),
            "Oxford-IIIT Pets, 3669 test images",
        ),
        TaskInfo(
            "fgvc_aircraft",
            Kind.CLASSIFICATION,
            "Table 2",
            "accuracy",
            "1",
            _cls("aircraft"),
            "FGVC-Aircraft variants, 3333 test images",
        ),
        TaskInfo(
            "fgvc_cars196",
            Kind.CLASSIFICATION,
            "Table 2",
            "accuracy",
            "1",
            _cls("cars196"),
            "Stanford Cars, 8041 test images",
        ),
        TaskInfo(
            "coco_fewshot",
            Kind.DETECTION,
            "Table 3",
            "AP per class, mAP, AP50",
            "1",
            _det(DetectionSpec("coco", COCO_FEWSHOT)),
            "COCO val2017, 8 few-shot categories",
        ),
        TaskInfo(
            "lvis_fewshot",
            Kind.DETECTION,
            "Table 4",
            "LVIS AP per class (federated), mAP",
            "1",
            _det(DetectionSpec("lvis", LVIS_FEWSHOT)),
            "LVIS v1 val, 6 rare categories",
        ),
        TaskInfo(
            "coco_ov",
            Kind.DETECTION,
            "Table 6",
            "mAPn, mAPb, mAPall",
            "1",
            _coco_ov,
            "COCO val2017 open vocabulary, 15 novel / 65 base (split=ovr48_17: 17/48)",
        ),
        TaskInfo(
            "lvis_ov",
            Kind.DETECTION,
            "appendix",
            "LVIS mAP",
            "1",
            _det(DetectionSpec("lvis", LVIS_OV13)),
            "LVIS v1 val open vocabulary, 13 rare categories",
        ),
        TaskInfo(
            "lisa_grounding",
            Kind.GROUNDING,
            "Table 5",
            "mIoU (box) val/test",
            "1",
            _lisa,
            "LISA ReasonSeg val (200) and test (779), first instruction",
        ),
    )
}
GROUPS = {
    "paper": list(TASKS),
    "fgvc": [n for n in TASKS if n.startswith("fgvc_")],
    "detection": ["coco_fewshot", "lvis_fewshot", "coco_ov", "lvis_ov"],
}

_INT_ARGS = {"limit", "max_new_tokens"}


def expand_task_names(spec: str) -> list[str]:
    """``"coco_fewshot,fgvc"`` -> task names (groups expanded, order kept, duplicates dropped)."""
    out: list[str] = []
    for part in (p.strip() for p in spec.split(",") if p.strip()):
        names = GROUPS.get(part, [part])
        for n in names:
            if n not in TASKS:
                raise ValueError(f"unknown task {n!r}: expected one of {sorted(TASKS)} or a group {sorted(GROUPS)}")
            if n not in out:
                out.append(n)
    return out


def get_task(name: str, data_root: Path | str, **args: Any) -> Task:
    """Build a task; `args` are task arguments (``protocol``, ``prompt``, ``limit``, ``split``, ...).
    String values are converted where a number is expected (CLI ``--task-arg limit=5``)."""
    try:
        info = TASKS[name]
    except KeyError:
        raise ValueError(f"unknown task {name!r}: expected one of {sorted(TASKS)}") from None
    for key in _INT_ARGS & args.keys():
        if isinstance(args[key], str):
            try:
                args[key] = int(args[key])
            except ValueError:
                raise ValueError(f"{name}: task argument {key}={args[key]!r} must be an integer") from None
    try:
        task = info.build(name, info.version, Path(data_root), **args)
    except TypeError as err:
        raise ValueError(f"{name}: unknown task argument(s) {sorted(args)}: {err}") from None
    return task
