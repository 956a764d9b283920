"""Loaders for the paper's evaluation data in its *real* on-disk formats.

Everything lives under one data root ``DIR`` (the same tree `tasks.synthetic.write_synthetic` writes):

```
DIR/coco/annotations/instances_val2017.json      COCO 2017 val instances (5000 images, 80 categories)
DIR/coco/val2017/<file_name>                      COCO 2017 val images
DIR/lvis/annotations/lvis_v1_val.json             LVIS v1 val (19809 images, 1203 categories)
DIR/lvis/<val2017|train2017>/<file>               LVIS images: last two parts of each image's coco_url,
                                                  looked up under DIR/lvis/ first, then DIR/coco/
DIR/lisa/ReasonSeg/{val,test}/<name>.jpg + <name>.json     ReasonSeg per-image pairs
DIR/oxford_flowers/split_zhou_OxfordFlowers.json + jpg/<impath>
DIR/oxford_pets/split_zhou_OxfordPets.json + images/<impath>
DIR/stanford_cars/split_zhou_StanfordCars.json + <impath>  (impath like cars_test/00001.jpg)
DIR/fgvc_aircraft/variants.txt + images_variant_{train,val,test}.txt + images/<image_id>.jpg
```

The format details are in the module docstrings: `tasks.data.detection` (COCO, LVIS),
`tasks.data.classification` (CoOp split files, FGVC-Aircraft), `tasks.data.lisa` (ReasonSeg);
`tasks.data.layout` checks a tree and says where to download what is missing.

Every problem with the data raises `DataError` (a `ValueError`) whose message names the file, the
sample and what was expected, so a broken download is diagnosed without a debugger. Loaders never
hold decoded images: samples carry `ImageRef` paths.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from PIL import Image

from tasks.spec import ImageRef


class DataError(ValueError):
    """Bad or missing evaluation data; the message names the file, the item and the expectation."""


def read_json(path: Path, what: str) -> Any:
    """Parse a JSON file, turning every failure into a `DataError` that names `path`.

    `what` describes the file for the message (e.g. ``"COCO annotation file"``).
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{what} not found: {path}") from None
    except OSError as e:
        raise DataError(f"{what} cannot be read: {path}: {e}") from None
    try:
        return json.loads(raw)
    except json.JSONDecodeError as e:
        raise DataError(
            f"{path}: malformed JSON at line {e.lineno} column {e.colno} (char {e.pos} of {len(raw)}): "
            f"{e.msg}; expected a complete {what} (truncated download? fetch it again)"
        ) from None
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not UTF-8 text ({e}); expected a {what} in JSON") from None


def require_keys(obj: object, keys: Iterable[str], where: str, expected: str) -> dict[str, Any]:
    """Check that `obj` is a JSON object holding `keys`; `where` names file and item for the message."""
    if not isinstance(obj, dict):
        raise DataError(f"{where}: expected a JSON object ({expected}), got {type(obj).__name__}")
    for key in keys:
        if key not in obj:
            raise DataError(f"{where}: missing required key {key!r} ({expected})")
    return obj


def as_int(value: object, where: str, name: str) -> int:
    """An integer field (JSON bools are rejected: ``true`` is not an id)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise DataError(f"{where}: {name!r} must be an integer, got {value!r}")
    return value


def as_float(value: object, where: str, name: str) -> float:
    """A finite number field."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise DataError(f"{where}: {name!r} must be a finite number, got {value!r}")
    return float(value)


def image_size(path: Path, where: str) -> tuple[int, int]:
    """(width, height) from the image header; PIL parses the header only, nothing is decoded."""
    try:
        with Image.open(path) as im:
            return int(im.size[0]), int(im.size[1])
    except FileNotFoundError:
        raise DataError(f"{where}: image file not found: {path}") from None
    except (OSError, SyntaxError) as e:
        raise DataError(f"{where}: cannot read the image header of {path}: {e}") from None


def check_images(data: Any, limit: int | None = None) -> list[Path]:
    """Paths of images that do not exist, in order; stops after `limit` missing files if given.

    Accepts `DetectionData`, `ClassificationData`, a list of samples (anything with `.image`) or of
    `ImageRef`s. Loaders do not stat every image (a re-score needs no pixels), so call this when
    the pixels are about to be used.
    """
    if isinstance(getattr(data, "images", None), dict):
        items: Iterable[Any] = data.images.values()
    elif hasattr(data, "samples"):
        items = data.samples
    else:
        items = data
    missing: list[Path] = []
    for item in items:
        ref = item if isinstance(item, ImageRef) else item.image
        if not ref.path.is_file():
            missing.append(ref.path)
            if limit is not None and len(missing) >= limit:
                break
    return missing


# The loaders import the helpers above from this package, so they are imported after them.
from tasks.data.classification import (  # noqa: E402
    CLASSIFICATION_DATASETS,
    ClassificationData,
    load_classification,
)
from tasks.data.detection import DetectionData, load_coco_detection, load_lvis_detection  # noqa: E402
from tasks.data.lisa import lisa_instructions, load_lisa  # noqa: E402

__all__ = [
    "CLASSIFICATION_DATASETS",
    "ClassificationData",
    "DataError",
    "DetectionData",
    "check_images",
    "image_size",
    "lisa_instructions",
    "load_classification",
    "load_coco_detection",
    "load_lisa",
    "load_lvis_detection",
    "read_json",
]
