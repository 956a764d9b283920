"""The detection category sets of the paper's benchmarks (names as in the COCO / LVIS annotation files).

`tasks.registry` builds the detection benchmarks from these; `OV_SPLITS` are the open-vocabulary
novel/base splits by name: a registry row lists the names its ``split`` argument accepts.
"""

from __future__ import annotations

from dataclasses import dataclass

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
class CategorySplit:
    """An open-vocabulary split: `novel` categories (mAPn) and `base` categories (mAPb); mAPall over both."""

    novel: tuple[str, ...]
    base: tuple[str, ...]

    @property
    def categories(self) -> tuple[str, ...]:
        """Every category of the split, novel first (the order the task evaluates them in)."""
        return self.novel + self.base


OV_SPLITS: dict[str, CategorySplit] = {
    "base65_novel15": CategorySplit(COCO_NOVEL15, COCO_BASE65),  # the official code's split (default)
    "ovr48_17": CategorySplit(OVR_NOVEL17, OVR_BASE48),  # OVR-CNN's, as the paper's Table 6 caption says
}
