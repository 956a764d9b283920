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

Training reads the train counterparts (never the files above: `vrft train` refuses them unless asked, see
`tasks.detection.train`): ``DIR/coco/annotations/instances_train2017.json`` + ``DIR/coco/train2017/``,
``DIR/lvis/annotations/lvis_v1_train.json`` (images by ``coco_url`` as above), ``DIR/lisa/ReasonSeg/train/``
and the ``train`` splits of the classification files.

The format details are in the module docstrings: `tasks.data.detection` (COCO, LVIS),
`tasks.data.classification` (CoOp split files, FGVC-Aircraft), `tasks.data.lisa` (ReasonSeg);
`tasks.data.layout` checks a tree and says where to download what is missing.

Every problem with the data raises `DataError` (a `ValueError`) whose message names the file, the
sample and what was expected, so a broken download is diagnosed without a debugger. Loaders never
hold decoded images: samples carry `ImageRef` paths.

Paths stay inside the data root: an image path an annotation names (COCO ``file_name``, LVIS
``coco_url``, CoOp ``impath``, an FGVC-Aircraft image id) that is absolute or climbs out of its
dataset's image folder with ``..`` is refused with a `DataError` naming the file and the entry
(`data_path`), so a hostile annotation file cannot make vrft read, send to a model server or embed in a
report a file from elsewhere. The check is lexical (symlinks placed inside the data root are followed);
``--allow-outside-data-root`` (environment ``VRFT_ALLOW_OUTSIDE_DATA_ROOT=1``) lifts it.
"""

from __future__ import annotations

import json
import math
import os
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


def image_size(path: Path, where: str, *, unknown_ok: bool = False) -> tuple[int, int]:
    """(width, height) from the image header; PIL parses the header only, nothing is decoded.

    `unknown_ok`: an image that is missing or whose header cannot be read gives ``(0, 0)`` (size unknown)
    instead of a `DataError`: an evaluation then sends the request anyway, and the backend records it as
    failed with the reason when it loads the pixels (one bad image never stops a run).
    """
    try:
        with Image.open(path) as im:
            return int(im.size[0]), int(im.size[1])
    except FileNotFoundError:
        if unknown_ok:
            return 0, 0
        raise DataError(f"{where}: image file not found: {path}") from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        if unknown_ok:
            return 0, 0
        raise DataError(f"{where}: cannot read the image header of {path}: {e}") from None


ALLOW_OUTSIDE_ENV = "VRFT_ALLOW_OUTSIDE_DATA_ROOT"


def outside_allowed() -> bool:
    """Whether data paths may leave the data root (``--allow-outside-data-root``, or the environment)."""
    return os.environ.get(ALLOW_OUTSIDE_ENV, "") not in ("", "0")


def allow_outside_data_root(allowed: bool = True) -> None:
    """Lift (or restore) the data-root check for this process and the processes it starts."""
    if allowed:
        os.environ[ALLOW_OUTSIDE_ENV] = "1"
    else:
        os.environ.pop(ALLOW_OUTSIDE_ENV, None)


def data_path(base: Path, rel: str, where: str, field: str) -> Path:
    """``base / rel`` for a path `rel` read from a data file (`where` names file and entry, `field` the
    key), refused unless it stays inside `base`: an absolute path or a ``..`` leading out is a `DataError`
    (unless `outside_allowed`). Lexical: symlinks inside `base` are the user's and are followed."""
    if "\0" in rel:
        raise DataError(f"{where}: {field} {rel!r} contains a NUL byte; expected a relative file path")
    path = Path(base) / rel
    if outside_allowed():
        return path
    root = os.path.normpath(base)
    target = os.path.normpath(path)
    try:
        inside = not os.path.isabs(rel) and os.path.commonpath([root, target]) == root
    except ValueError:  # one absolute, one relative
        inside = False
    if not inside:
        raise DataError(
            f"{where}: {field} {rel!r} points outside {base}; data paths must stay inside the data root "
            f"(fix the entry, or pass --allow-outside-data-root / set {ALLOW_OUTSIDE_ENV}=1 if it is meant)"
        )
    return path


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
    "ALLOW_OUTSIDE_ENV",
    "CLASSIFICATION_DATASETS",
    "ClassificationData",
    "DataError",
    "DetectionData",
    "allow_outside_data_root",
    "check_images",
    "data_path",
    "image_size",
    "lisa_instructions",
    "load_classification",
    "load_coco_detection",
    "load_lisa",
    "load_lvis_detection",
    "outside_allowed",
    "read_json",
]
