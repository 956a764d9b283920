"""Synthetic COCO 2017 and LVIS v1 files (val, and train for k-shot training), in the official json formats.

Scenes: image 0 is empty; image i >= 1 holds its *primary* class (classes cycle so every drawn class
occurs), with 2 instances when i % 3 == 0 and 3 when i % 6 == 0, plus up to two other classes. All
annotations are ``iscrowd = 0``. A box is the exact pixel extent of the drawn polygon (COCO ``bbox``
= ``[x, y, w, h]`` with the right/bottom edge exclusive), ``segmentation`` is that polygon and
``area`` its pixel count.

LVIS extras (federated evaluation): ``pos_category_ids`` = the drawn categories; three absent
categories per image are listed in ``neg_category_ids`` (every category is negative somewhere); on
every fifth non-empty image the primary class is in ``not_exhaustive_category_ids`` (its instances
are still all annotated, so the labels stay exact). Every eighth image has a ``train2017`` URL, as
some real LVIS val images do. The train files (``instances_train2017.json`` + ``coco/train2017/``,
``lvis_v1_train.json`` + ``lvis/train2017/``) are drawn the same way from their own random streams, with
image ids disjoint from the val file's, as COCO's and LVIS's splits are.

`DetectionLayout` changes how scenes are drawn (the default is the layout above, byte for byte): the demo
asks for one large object per image on a coarse grid of positions, a scene a 0.9 M-parameter model can
learn to localise in minutes, in the same files and formats.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from tasks.synthetic.categories import COCO_CATEGORIES, COCO_DRAWN, LVIS_CATEGORIES
from tasks.synthetic.draw import (
    SHAPES,
    Point,
    Style,
    background,
    draw,
    extent,
    pixel_area,
    place,
    place_on_grid,
    polygon,
    save_jpeg,
    styles,
    write_json,
)

SIZES: tuple[tuple[int, int], ...] = ((224, 168), (168, 224), (196, 196))
_INFO = {"description": "vrft synthetic data (not COCO/LVIS images)", "version": "1.0", "year": 2025}
_LICENSES = [{"id": 1, "name": "CC0 (synthetic)", "url": "https://creativecommons.org/publicdomain/zero/1.0/"}]


@dataclass(frozen=True)
class DetectionLayout:
    """How detection scenes are drawn; the default is the module docstring's layout.

    * `classes`: primary classes cycle over the first `classes` drawn classes (None: all of them), e.g. 8 =
      COCO's few-shot categories, so every image has a few-shot object;
    * `max_instances`: cap of the 1 / 2 / 3 instances of the primary class;
    * `max_extra`: at most this many other classes per image;
    * `half`: half-sizes in pixels are drawn from ``[half[0], half[1])`` (the fourth object and later from
      ``[half[0], min(half[1], 18))``, so that crowded scenes still fit);
    * `grid`: with `grid` = g > 0, centres lie on a g x g lattice spanning the image (each object takes a free
      node), so boxes take few distinct positions; 0 = anywhere;
    * `sizes`: image sizes (width, height), used in turn;
    * `shape`: draw every class in this shape (classes then differ by colour only), so that a box depends only on
      where the object is and how large, not on which class it is; None = each class's own shape.
    """

    classes: int | None = None
    max_instances: int = 3
    max_extra: int = 2
    half: tuple[int, int] = (10, 27)
    grid: int = 0
    sizes: tuple[tuple[int, int], ...] = SIZES
    shape: str | None = None

    def __post_init__(self) -> None:
        if self.classes is not None and self.classes < 1:
            raise ValueError(f"DetectionLayout.classes = {self.classes}: expected >= 1 or None")
        if self.max_instances < 1 or self.max_extra < 0 or self.grid < 0:
            raise ValueError(f"DetectionLayout: max_instances >= 1, max_extra >= 0, grid >= 0 expected ({self})")
        if self.shape is not None and self.shape not in SHAPES:
            raise ValueError(f"DetectionLayout.shape = {self.shape!r}: expected None or one of {SHAPES}")
        if not self.sizes:
            raise ValueError("DetectionLayout.sizes: expected at least one (width, height)")
        if not 4 <= self.half[0] < self.half[1]:
            raise ValueError(f"DetectionLayout.half = {self.half}: expected 4 <= lo < hi")


DEFAULT_LAYOUT = DetectionLayout()


def plan(
    rng: np.random.Generator, index: int, n_classes: int, layout: DetectionLayout = DEFAULT_LAYOUT
) -> list[tuple[int, int]]:
    """(class index, instance count) pairs for image `index` (see the module docstring)."""
    if index == 0:
        return []
    n_classes = min(n_classes, layout.classes or n_classes)
    primary = (index - 1) % n_classes
    count = min(3 if index % 6 == 0 else 2 if index % 3 == 0 else 1, layout.max_instances)
    out = [(primary, count)]
    for _ in range(int(rng.integers(0, layout.max_extra + 1))):
        c = int(rng.integers(0, n_classes))
        if all(c != k for k, _ in out):
            out.append((c, 1))
    return out


def render(
    rng: np.random.Generator,
    size: tuple[int, int],
    objects: list[tuple[int, int]],
    looks: list[Style],
    layout: DetectionLayout = DEFAULT_LAYOUT,
) -> tuple[Image.Image, list[tuple[int, list[Point]]]]:
    """Draw the planned objects without overlap; returns the image and (class index, polygon) pairs.

    An object that finds no free spot (60 tries, or no free grid node) is skipped (never on the first
    object), so what is returned is exactly what is drawn.
    """
    width, height = size
    image = background(rng, width, height)
    taken: list[tuple[int, int, int, int]] = []
    drawn: list[tuple[int, list[Point]]] = []
    lo, hi = layout.half
    for cls, count in objects:
        for _ in range(count):
            half = int(rng.integers(lo, hi if len(taken) < 3 else max(lo + 1, min(hi, 18))))
            if layout.grid:
                spot = place_on_grid(rng, width, height, half, taken, layout.grid)
            else:
                spot = place(rng, width, height, half, taken)
            if spot is None:
                continue
            pts = polygon(layout.shape or looks[cls].shape, spot[0], spot[1], half)
            draw(image, pts, looks[cls])
            drawn.append((cls, pts))
    return image, drawn


def _annotation(
    ann_id: int, image_id: int, category_id: int, pts: list[Point], size: tuple[int, int], coco: bool
) -> dict[str, Any]:
    x0, y0, x1, y1 = extent(pts)
    ann: dict[str, Any] = {
        "id": ann_id,
        "image_id": image_id,
        "category_id": category_id,
        "segmentation": [[float(v) for p in pts for v in p]],
        "area": float(pixel_area(pts, *size)),
        "bbox": [float(x0), float(y0), float(x1 - x0), float(y1 - y0)],
    }
    if coco:  # LVIS annotations have no crowd flag
        ann["iscrowd"] = 0
    return ann


def _image_ids(rng: np.random.Generator, n: int, exclude: frozenset[int] = frozenset()) -> list[int]:
    drawn = [int(v) for v in rng.choice(np.arange(1, 600_000), size=n + len(exclude), replace=False)]
    return [v for v in drawn if v not in exclude][:n]


def image_ids(annotation_file: Path) -> frozenset[int]:
    """The image ids of a written annotation file (the train files avoid the val file's)."""
    return frozenset(int(img["id"]) for img in json.loads(annotation_file.read_text(encoding="utf-8"))["images"])


def write_coco(
    root: Path,
    rng: np.random.Generator,
    n_images: int,
    split: str = "val",
    exclude: frozenset[int] = frozenset(),
    layout: DetectionLayout = DEFAULT_LAYOUT,
) -> Path:
    """Write ``root/coco/annotations/instances_<split>2017.json`` and ``root/coco/<split>2017/*.jpg`` (image ids
    not in `exclude`), scenes drawn with `layout`."""
    id_of = {name: cid for cid, name, _ in COCO_CATEGORIES}
    looks = styles(len(COCO_DRAWN))
    images: list[dict[str, Any]] = []
    anns: list[dict[str, Any]] = []
    folder = f"{split}2017"
    for i, iid in enumerate(_image_ids(rng, n_images, exclude)):
        size = layout.sizes[i % len(layout.sizes)]
        image, drawn = render(rng, size, plan(rng, i, len(COCO_DRAWN), layout), looks, layout)
        name = f"{iid:012d}.jpg"
        save_jpeg(image, root / "coco" / folder / name)
        images.append(
            {
                "license": 1,
                "file_name": name,
                "coco_url": f"http://images.cocodataset.org/{folder}/{name}",
                "height": size[1],
                "width": size[0],
                "date_captured": "2013-11-14 17:02:52",
                "flickr_url": "",
                "id": iid,
            }
        )
        for cls, pts in drawn:
            anns.append(_annotation(len(anns) + 1, iid, id_of[COCO_DRAWN[cls]], pts, size, coco=True))
    cats = [{"supercategory": sup, "id": cid, "name": name} for cid, name, sup in COCO_CATEGORIES]
    path = root / "coco" / "annotations" / f"instances_{folder}.json"
    write_json(path, {"info": _INFO, "licenses": _LICENSES, "images": images, "annotations": anns, "categories": cats})
    return path


def write_lvis(
    root: Path,
    rng: np.random.Generator,
    n_images: int,
    split: str = "val",
    exclude: frozenset[int] = frozenset(),
    layout: DetectionLayout = DEFAULT_LAYOUT,
) -> Path:
    """Write ``root/lvis/annotations/lvis_v1_<split>.json`` and its images under ``root/lvis/<folder>/`` (val:
    every eighth image in ``train2017``; train: all of them), image ids not in `exclude`, scenes drawn with
    `layout`."""
    cat_ids = [c[0] for c in LVIS_CATEGORIES]
    looks = styles(len(cat_ids))
    images: list[dict[str, Any]] = []
    anns: list[dict[str, Any]] = []
    for i, iid in enumerate(_image_ids(rng, n_images, exclude)):
        size = layout.sizes[(i + 1) % len(layout.sizes)]
        objects = plan(rng, i, len(cat_ids), layout)
        image, drawn = render(rng, size, objects, looks, layout)
        folder = "train2017" if split == "train" or i % 8 == 7 else "val2017"
        name = f"{iid:012d}.jpg"
        save_jpeg(image, root / "lvis" / folder / name)
        pos = sorted({cat_ids[cls] for cls, _ in drawn})
        absent = [c for c in cat_ids if c not in pos]
        forced = cat_ids[i % len(cat_ids)]
        neg = [forced] if forced in absent else []
        others = [c for c in absent if c not in neg]
        k = min(3 - len(neg), len(others))
        neg += [int(c) for c in rng.choice(others, size=k, replace=False)] if k > 0 else []
        primary = cat_ids[objects[0][0]] if objects else None
        not_exhaustive = [primary] if primary in pos and i % 5 == 0 else []
        images.append(
            {
                "id": iid,
                "coco_url": f"http://images.cocodataset.org/{folder}/{name}",
                "flickr_url": "",
                "date_captured": "2013-11-14 17:02:52",
                "license": 1,
                "height": size[1],
                "width": size[0],
                "pos_category_ids": pos,
                "neg_category_ids": sorted(neg),
                "not_exhaustive_category_ids": not_exhaustive,
            }
        )
        for cls, pts in drawn:
            anns.append(_annotation(len(anns) + 1, iid, cat_ids[cls], pts, size, coco=False))
    cats = []
    for cid, name, freq, synonyms, definition in LVIS_CATEGORIES:
        mine = [a for a in anns if a["category_id"] == cid]
        cats.append(
            {
                "id": cid,
                "name": name,
                "synset": f"{name}.n.01",
                "synonyms": list(synonyms),
                "def": definition,
                "frequency": freq,
                "image_count": len({a["image_id"] for a in mine}),
                "instance_count": len(mine),
            }
        )
    path = root / "lvis" / "annotations" / f"lvis_v1_{split}.json"
    write_json(path, {"info": _INFO, "licenses": _LICENSES, "images": images, "annotations": anns, "categories": cats})
    return path
