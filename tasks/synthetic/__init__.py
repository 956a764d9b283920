"""Deterministic synthetic data written in the *real* on-disk formats (see `tasks.data`).

Why: the whole pipeline (loaders, prompts, backends, official metrics, GRPO) must run in tests and
demos without the real datasets, and a tiny VLM should be able to learn the synthetic labels. So
`write_synthetic(DIR)` writes every layout `tasks.data` reads (COCO, LVIS, ReasonSeg, the four
classification sets) and `tasks.data.layout.check_layout(DIR, ...)` passes on it. Each class is a
distinct saturated colour + shape on a light-grey background, boxes are the exact pixel extents of
the drawn polygons, and category names and ids are the real ones (COCO's 80, the 15 LVIS rare
classes of PROTOCOL §3 with their v1 ids).

The same `seed` and `sizes` give byte-identical files (JPEGs included); a different seed gives a
different, held-out set, e.g. ``write_synthetic(train_dir, seed=1, sizes=SyntheticSizes(coco_images=400))``
for training and the default seed 0 for the test tree. All files are written atomically.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from tasks.synthetic.classification import write_classification
from tasks.synthetic.detection import DEFAULT_LAYOUT, DetectionLayout, image_ids, write_coco, write_lvis
from tasks.synthetic.lisa import write_lisa


@dataclass(frozen=True)
class SyntheticSizes:
    """How much to write. Defaults are tiny (the whole tree in about a second).

    * `coco_images`, `lvis_images`: detection images (image 0 is always empty).
    * `coco_train_images`, `lvis_train_images`: images of the train files (``instances_train2017.json``,
      ``lvis_v1_train.json``: what k-shot training samples by default); 0 = no train file.
    * `lisa_items`: ReasonSeg items per split (val and test each).
    * `cls_classes`: classes per classification dataset (at most 10);
      `cls_train` / `cls_val` / `cls_test`: images per class in each split.
    """

    coco_images: int = 24
    lvis_images: int = 24
    lisa_items: int = 8
    cls_classes: int = 6
    cls_train: int = 2
    cls_val: int = 1
    cls_test: int = 3
    coco_train_images: int = 16
    lvis_train_images: int = 16

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"SyntheticSizes.{f.name} = {value!r}: expected an integer >= 0")
        if not 1 <= self.cls_classes <= 10:
            raise ValueError(f"SyntheticSizes.cls_classes = {self.cls_classes}: expected 1..10")
        if self.lisa_items < 3 or self.coco_images < 7 or self.lvis_images < 8:
            raise ValueError(
                "SyntheticSizes: need lisa_items >= 3, coco_images >= 7 and lvis_images >= 8 so that "
                "every special case (empty image, 3 instances, train2017 URL, ignore shape) occurs"
            )


def write_synthetic(
    out: Path, seed: int = 0, sizes: SyntheticSizes | None = None, detection: DetectionLayout = DEFAULT_LAYOUT
) -> dict[str, Path]:
    """Write the synthetic data root `out`; returns name -> main file. `detection`: how the COCO and LVIS scenes
    are drawn (`tasks.synthetic.detection.DetectionLayout`; the default is the tests' layout).

    Keys: ``root``; ``coco`` and ``lvis`` (annotation files); ``coco_train`` and ``lvis_train`` (the train
    files, when written); ``lisa`` (the ReasonSeg folder); ``flowers102``, ``pets37``, ``cars196`` (CoOp split
    files) and ``aircraft`` (variants.txt). Each part draws from its own random stream, so changing one size
    leaves the other parts' bytes unchanged.
    """
    sizes = sizes or SyntheticSizes()
    out = Path(out)
    streams = np.random.SeedSequence(seed).spawn(6)  # the first four as before the train files existed
    paths: dict[str, Path] = {"root": out}
    paths["coco"] = write_coco(out, np.random.default_rng(streams[0]), sizes.coco_images, layout=detection)
    paths["lvis"] = write_lvis(out, np.random.default_rng(streams[1]), sizes.lvis_images, layout=detection)
    if sizes.coco_train_images:
        paths["coco_train"] = write_coco(
            out, np.random.default_rng(streams[4]), sizes.coco_train_images, "train", image_ids(paths["coco"]),
            detection,
        )
    if sizes.lvis_train_images:
        paths["lvis_train"] = write_lvis(
            out, np.random.default_rng(streams[5]), sizes.lvis_train_images, "train", image_ids(paths["lvis"]),
            detection,
        )
    paths["lisa"] = write_lisa(out, np.random.default_rng(streams[2]), sizes.lisa_items)
    paths.update(
        write_classification(
            out, np.random.default_rng(streams[3]), sizes.cls_classes, sizes.cls_train, sizes.cls_val, sizes.cls_test
        )
    )
    return paths


__all__ = ["DetectionLayout", "SyntheticSizes", "write_synthetic"]
