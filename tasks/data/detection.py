"""COCO and LVIS detection ground truth, read from the official annotation files.

Layout under the data root ``DIR`` (PROTOCOL §4.2):

* **COCO 2017 val**: ``DIR/coco/annotations/instances_val2017.json`` and images
  ``DIR/coco/val2017/<file_name>``. The json is the standard COCO instances file: ``images``
  (``id``, ``file_name``, ``width``, ``height``), ``annotations`` (``id``, ``image_id``,
  ``category_id``, ``bbox`` = ``[x, y, w, h]`` in pixels, ``iscrowd``) and ``categories``
  (``id``, ``name``). Category ids are COCO's own (1..90 with gaps), never re-indexed.
* **LVIS v1 val**: ``DIR/lvis/annotations/lvis_v1_val.json``. Images have no ``file_name``; the path is
  the last two components of ``coco_url`` (``val2017/000000397133.jpg`` or ``train2017/…``), looked
  up under each of `image_roots` in turn (``DIR/lvis/`` first, then ``DIR/coco/``, so COCO images can
  be reused). Each image also lists ``neg_category_ids`` (verified absent) and
  ``not_exhaustive_category_ids`` (present, possibly not all instances annotated): the federated
  evaluation needs both. Names keep their underscores (``kitchen_table``): they go into the prompt so.

`DetectionData.gt` keeps the parsed json untouched so that pycocotools / lvis can be fed the very
same ground truth (``COCO(); coco.dataset = data.gt; coco.createIndex()``). Boxes handed to tasks are
(N, 4) float64 ``xyxy`` pixels of the non-crowd annotations (ARCHITECTURE guideline 4).
"""

from __future__ import annotations

import difflib
import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal, NoReturn

import numpy as np

from tasks.data import DataError, as_float, as_int, data_path, read_json, require_keys
from tasks.spec import ImageRef

DetectionKind = Literal["coco", "lvis"]
_EMPTY: frozenset[int] = frozenset()


class DetectionData:
    """Ground truth of one detection annotation file, indexed for per-(image, category) queries.

    Attributes (treat as read-only): `kind` (``"coco"`` or ``"lvis"``), `source` (the annotation
    file), `gt` (the parsed json, for the official evaluators), `images` (image id -> `ImageRef`, in
    annotation-file order, which is the official processing order), `categories` (id -> name).
    """

    __slots__ = (
        "_boxes",
        "_ids",
        "_neg",
        "_not_exhaustive",
        "_present",
        "categories",
        "gt",
        "images",
        "kind",
        "source",
    )

    def __init__(
        self,
        *,
        kind: DetectionKind,
        source: Path,
        gt: dict[str, Any],
        images: dict[int, ImageRef],
        categories: dict[int, str],
        boxes: dict[tuple[int, int], list[tuple[float, float, float, float]]],
        present: dict[int, frozenset[int]],
        neg: dict[int, frozenset[int]] | None = None,
        not_exhaustive: dict[int, frozenset[int]] | None = None,
    ) -> None:
        self.kind: DetectionKind = kind
        self.source = source
        self.gt = gt
        self.images = images
        self.categories = categories
        self._boxes = boxes
        self._present = present
        self._neg = neg or {}
        self._not_exhaustive = not_exhaustive or {}
        self._ids: dict[str, int | None] = {}  # name -> id; None marks a name two categories share
        for cid, name in categories.items():
            self._ids[name] = None if name in self._ids else cid

    def __repr__(self) -> str:
        return (
            f"DetectionData(kind={self.kind!r}, source={str(self.source)!r}, "
            f"images={len(self.images)}, categories={len(self.categories)})"
        )

    def category_id(self, name: str) -> int:
        """The annotation file's id of category `name` (exact match; LVIS names keep underscores)."""
        if name in self._ids:
            cid = self._ids[name]
            if cid is None:
                ids = [i for i, n in self.categories.items() if n == name]
                raise DataError(f"{self.source}: category name {name!r} is ambiguous: ids {ids} share it")
            return cid
        names = list(self.categories.values())
        near = difflib.get_close_matches(name, names, n=5, cutoff=0.6)
        folded = [n for n in names if n.replace("_", " ").lower() == name.replace("_", " ").lower()]
        hint = sorted(set(folded) | set(near), key=lambda n: (n not in folded, n))
        raise DataError(
            f"{self.source}: unknown category name {name!r} ({len(names)} {self.kind.upper()} categories); "
            + (f"did you mean: {', '.join(map(repr, hint))}?" if hint else "no similar names")
        )

    def _check_image(self, image_id: int) -> None:
        if image_id not in self.images:
            raise KeyError(f"{self.source}: no image with id {image_id}")

    def gt_boxes(self, image_id: int, category_id: int) -> np.ndarray:
        """(N, 4) float64 xyxy pixel boxes of the non-crowd annotations (a fresh array)."""
        self._check_image(image_id)
        rows = self._boxes.get((image_id, category_id), [])
        return np.array(rows, dtype=np.float64).reshape(len(rows), 4)

    def present(self, image_id: int) -> frozenset[int]:
        """Category ids with at least one annotation on the image (crowd annotations included)."""
        self._check_image(image_id)
        return self._present.get(image_id, _EMPTY)

    def neg_category_ids(self, image_id: int) -> frozenset[int]:
        """LVIS: categories verified absent from the image (empty for COCO)."""
        self._check_image(image_id)
        return self._neg.get(image_id, _EMPTY)

    def not_exhaustive_category_ids(self, image_id: int) -> frozenset[int]:
        """LVIS: present categories whose instances may not all be annotated (empty for COCO)."""
        self._check_image(image_id)
        return self._not_exhaustive.get(image_id, _EMPTY)


def _where(source: Path, part: str, index: int, item: object) -> str:
    """``<file>: annotations[12] (id 345)``: the position and, when it has one, the id of an item."""
    if isinstance(item, dict) and "id" in item:
        return f"{source}: {part}[{index}] (id {item['id']})"
    return f"{source}: {part}[{index}]"


def _categories(gt: dict[str, Any], source: Path) -> dict[int, str]:
    cats = gt["categories"]
    if not isinstance(cats, list):
        raise DataError(f"{source}: 'categories' must be a list of {{id, name}} objects")
    out: dict[int, str] = {}
    for i, cat in enumerate(cats):
        where = f"{source}: categories[{i}]"
        require_keys(cat, ("id", "name"), where, "a category needs 'id' and 'name'")
        cid = as_int(cat["id"], where, "id")
        if cid in out:
            raise DataError(f"{where}: duplicate category id {cid} (also {out[cid]!r})")
        if not isinstance(cat["name"], str) or not cat["name"]:
            raise DataError(f"{where}: 'name' must be a non-empty string, got {cat['name']!r}")
        out[cid] = cat["name"]
    return out


def _id_list(value: object, where: str, name: str, categories: frozenset[int]) -> frozenset[int]:
    if not isinstance(value, list):
        raise DataError(f"{where}: {name!r} must be a list of category ids, got {value!r}")
    ids = frozenset(as_int(v, where, name) for v in value)
    unknown = sorted(ids - categories)
    if unknown:
        raise DataError(f"{where}: {name!r} references unknown category ids {unknown}")
    return ids


def _valid_annotation(ann: object, images: dict[int, ImageRef], categories: dict[int, str]) -> bool:
    """Fast check of one annotation (the real LVIS files hold over a million); errors are explained by
    `_annotation_error`, which is only called when this returns False."""
    if type(ann) is not dict:
        return False
    iid, cid, bbox = ann.get("image_id"), ann.get("category_id"), ann.get("bbox")
    return (
        type(iid) is int
        and iid in images
        and type(cid) is int
        and cid in categories
        and type(bbox) is list
        and len(bbox) == 4
        and all((type(v) is float or type(v) is int) and math.isfinite(v) for v in bbox)
        and bbox[2] >= 0
        and bbox[3] >= 0
    )


def _annotation_error(ann: object, where: str, images: dict[int, ImageRef], categories: dict[int, str]) -> NoReturn:
    """Raise the `DataError` that says what is wrong with an annotation `_valid_annotation` rejected."""
    ann = require_keys(
        ann,
        ("image_id", "category_id", "bbox"),
        where,
        "an annotation needs 'image_id', 'category_id' and 'bbox' [x, y, w, h]",
    )
    iid = as_int(ann["image_id"], where, "image_id")
    cid = as_int(ann["category_id"], where, "category_id")
    if iid not in images:
        raise DataError(f"{where}: image_id {iid} is not in 'images'")
    if cid not in categories:
        raise DataError(f"{where}: category_id {cid} is not in 'categories'")
    bbox = ann["bbox"]
    if not isinstance(bbox, list) or len(bbox) != 4:
        n = len(bbox) if isinstance(bbox, list) else type(bbox).__name__
        raise DataError(f"{where}: 'bbox' has {n} numbers, expected 4 [x, y, w, h] in pixels")
    for v in bbox:
        as_float(v, where, "bbox")
    raise DataError(f"{where}: 'bbox' {bbox} has a negative width or height; expected [x, y, w, h]")


def _load(ann_path: Path, kind: DetectionKind, image_path: Callable[[dict[str, Any], str], Path]) -> DetectionData:
    """Shared COCO/LVIS parsing; `image_path(img_dict, where)` resolves one image's file."""
    what = "COCO annotation file" if kind == "coco" else "LVIS annotation file"
    gt = read_json(ann_path, what)
    require_keys(
        gt,
        ("images", "annotations", "categories"),
        str(ann_path),
        f"a {what} has top-level 'images', 'annotations' and 'categories'",
    )
    categories = _categories(gt, ann_path)
    category_ids = frozenset(categories)

    image_keys = ("id", "width", "height") + (
        ("file_name",) if kind == "coco" else ("coco_url", "neg_category_ids", "not_exhaustive_category_ids")
    )
    if not isinstance(gt["images"], list):
        raise DataError(f"{ann_path}: 'images' must be a list")
    images: dict[int, ImageRef] = {}
    neg: dict[int, frozenset[int]] = {}
    not_exhaustive: dict[int, frozenset[int]] = {}
    for i, img in enumerate(gt["images"]):
        where = _where(ann_path, "images", i, img)
        require_keys(img, image_keys, where, f"a {kind.upper()} image needs {', '.join(image_keys)}")
        iid = as_int(img["id"], where, "id")
        if iid in images:
            raise DataError(f"{where}: duplicate image id {iid}")
        w, h = as_int(img["width"], where, "width"), as_int(img["height"], where, "height")
        if w <= 0 or h <= 0:
            raise DataError(f"{where}: width and height must be positive, got {w}x{h}")
        images[iid] = ImageRef(path=image_path(img, where), width=w, height=h)
        if kind == "lvis":
            neg[iid] = _id_list(img["neg_category_ids"], where, "neg_category_ids", category_ids)
            not_exhaustive[iid] = _id_list(
                img["not_exhaustive_category_ids"], where, "not_exhaustive_category_ids", category_ids
            )

    if not isinstance(gt["annotations"], list):
        raise DataError(f"{ann_path}: 'annotations' must be a list")
    boxes: dict[tuple[int, int], list[tuple[float, float, float, float]]] = defaultdict(list)
    present: dict[int, set[int]] = defaultdict(set)
    for i, ann in enumerate(gt["annotations"]):
        if not _valid_annotation(ann, images, categories):
            _annotation_error(ann, _where(ann_path, "annotations", i, ann), images, categories)
        iid, cid = ann["image_id"], ann["category_id"]
        present[iid].add(cid)
        if not ann.get("iscrowd", 0):
            x, y, bw, bh = ann["bbox"]
            boxes[(iid, cid)].append((float(x), float(y), float(x + bw), float(y + bh)))

    return DetectionData(
        kind=kind,
        source=ann_path,
        gt=gt,
        images=images,
        categories=categories,
        boxes=dict(boxes),
        present={k: frozenset(v) for k, v in present.items()},
        neg=neg,
        not_exhaustive=not_exhaustive,
    )


def load_coco_detection(ann_path: Path, image_dir: Path) -> DetectionData:
    """Read a COCO instances file; image paths are ``image_dir / file_name`` (not checked for existence
    here; a ``file_name`` leading outside `image_dir` is refused: `tasks.data.data_path`)."""
    ann_path, image_dir = Path(ann_path), Path(image_dir)

    def image_path(img: dict[str, Any], where: str) -> Path:
        name = img["file_name"]
        if not isinstance(name, str) or not name:
            raise DataError(f"{where}: 'file_name' must be a non-empty string, got {name!r}")
        return data_path(image_dir, name, where, "'file_name'")

    return _load(ann_path, "coco", image_path)


def lvis_relative_path(coco_url: str) -> str:
    """``http://images.cocodataset.org/val2017/000000397133.jpg`` -> ``val2017/000000397133.jpg``."""
    return "/".join(coco_url.rstrip("/").split("/")[-2:])


def load_lvis_detection(ann_path: Path, image_roots: Sequence[Path]) -> DetectionData:
    """Read an LVIS v1 file; each image resolves to the first of `image_roots` that has it.

    When no root has the file, the path under the first root is recorded, so `check_images` reports
    where it was expected. A root's subfolder (``val2017``) that does not exist is skipped without
    a stat per image.
    """
    ann_path = Path(ann_path)
    roots = [Path(r) for r in image_roots]
    if not roots:
        raise ValueError("load_lvis_detection: image_roots is empty; pass e.g. [DIR/'lvis', DIR/'coco']")
    dir_ok: dict[Path, bool] = {}

    def image_path(img: dict[str, Any], where: str) -> Path:
        url = img["coco_url"]
        if not isinstance(url, str) or url.count("/") < 1:
            raise DataError(f"{where}: 'coco_url' must be a URL ending in <split>/<file>, got {url!r}")
        rel = lvis_relative_path(url)
        for root in roots:
            data_path(root, rel, where, "'coco_url'")  # its last two parts must stay inside every root
        if len(roots) > 1:
            for root in roots:
                cand = root / rel
                if cand.parent not in dir_ok:
                    dir_ok[cand.parent] = cand.parent.is_dir()
                if dir_ok[cand.parent] and cand.is_file():
                    return cand
        return roots[0] / rel

    return _load(ann_path, "lvis", image_path)
