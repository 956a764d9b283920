"""LISA ReasonSeg grounding items, read from ReasonSeg's own per-image files.

Layout: ``DIR/lisa/ReasonSeg/{val,test}/`` holds ``<name>.jpg`` + ``<name>.json`` pairs (the folders of
the ReasonSeg release linked from https://github.com/dvlab-research/LISA). Each json is
``{"text": [instruction, ...], "is_sentence": bool, "shapes": [{"label": "target" | "ignore" | ...,
"points": [[x, y], ...], "shape_type": "polygon", ...}, ...]}`` with points in absolute pixels.

Official protocol (PROTOCOL §4.3, §6.5, D23): the instruction is ``text[0]`` only and the GT box is the
absolute-pixel bounding box (min/max of the points) of ``shapes[0]`` only, whatever its label. All
shapes are kept as (label, points) polygons for mask metrics; `lisa_instructions` returns every
instruction for protocols that use them. The image size comes from the jpg header (ReasonSeg's json
does not record it); ``read_sizes=False`` records 0x0 and touches no image.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from tasks.data import DataError, as_float, image_size, read_json, require_keys
from tasks.spec import GroundingSample, ImageRef

LISA_SPLITS = ("val", "test")
_EXPECTED = "ReasonSeg per-image JSON with 'text': [instruction, ...] and 'shapes': [{label, points}, ...]"

Polygon = tuple[str, tuple[tuple[float, float], ...]]


def lisa_split_dir(root: Path, split: str) -> Path:
    """``root/lisa/ReasonSeg/<split>`` for the data root `root`."""
    if split not in LISA_SPLITS:
        raise ValueError(f"unknown LISA split {split!r}: expected one of {LISA_SPLITS}")
    return Path(root) / "lisa" / "ReasonSeg" / split


def _json_files(root: Path, split: str) -> list[Path]:
    folder = lisa_split_dir(root, split)
    if not folder.is_dir():
        raise DataError(f"ReasonSeg {split} folder not found: {folder} (expected <name>.jpg + <name>.json pairs there)")
    files = sorted(folder.glob("*.json"), key=lambda p: p.stem)
    if not files:
        raise DataError(f"{folder}: no <name>.json files; expected ReasonSeg <name>.jpg + <name>.json pairs")
    return files


def _texts(item: dict[str, Any], where: str) -> tuple[str, ...]:
    text = item["text"]
    if isinstance(text, str):
        text = [text]
    if not isinstance(text, list) or not text or not all(isinstance(t, str) and t.strip() for t in text):
        raise DataError(f"{where}: 'text' must be a non-empty list of instructions, got {text!r}")
    return tuple(text)


def _polygons(item: dict[str, Any], where: str) -> tuple[Polygon, ...]:
    shapes = item["shapes"]
    if not isinstance(shapes, list) or not shapes:
        raise DataError(f"{where}: 'shapes' must be a non-empty list of polygons ({_EXPECTED})")
    out: list[Polygon] = []
    for j, shape in enumerate(shapes):
        swhere = f"{where}: shapes[{j}]"
        require_keys(shape, ("points",), swhere, "a shape needs 'points': [[x, y], ...]")
        pts = shape["points"]
        if not isinstance(pts, list) or not pts:
            raise DataError(f"{swhere}: 'points' must be a non-empty list of [x, y], got {pts!r}")
        points: list[tuple[float, float]] = []
        for k, pt in enumerate(pts):
            if not isinstance(pt, list) or len(pt) != 2:
                raise DataError(f"{swhere}: points[{k}] = {pt!r}; expected [x, y]")
            points.append((as_float(pt[0], swhere, f"points[{k}]"), as_float(pt[1], swhere, f"points[{k}]")))
        label = shape.get("label", "")
        out.append((label if isinstance(label, str) else str(label), tuple(points)))
    return tuple(out)


def _read_item(path: Path) -> dict[str, Any]:
    item = read_json(path, "ReasonSeg annotation")
    return require_keys(item, ("text", "shapes"), str(path), _EXPECTED)


def polygon_box(points: tuple[tuple[float, float], ...]) -> np.ndarray:
    """Absolute-pixel (4,) xyxy box of a polygon: min and max of its points (``gen_box_ann.py``)."""
    arr = np.asarray(points, dtype=np.float64)
    return np.array([arr[:, 0].min(), arr[:, 1].min(), arr[:, 0].max(), arr[:, 1].max()], dtype=np.float64)


def load_lisa(root: Path, split: str, *, read_sizes: bool = True) -> list[GroundingSample]:
    """ReasonSeg `split` ("val" or "test") under the data root `root`, sorted by file stem."""
    samples: list[GroundingSample] = []
    for i, path in enumerate(_json_files(root, split)):
        where = f"{path} (ReasonSeg {split} item {i}, {path.stem!r})"
        item = _read_item(path)
        texts = _texts(item, where)
        polygons = _polygons(item, where)
        image = path.with_suffix(".jpg")
        w, h = image_size(image, where) if read_sizes else (0, 0)
        samples.append(
            GroundingSample(
                doc_id=path.stem,
                image=ImageRef(image, w, h),
                instruction=texts[0],
                gt_xyxy=polygon_box(polygons[0][1]),
                polygons=polygons,
            )
        )
    return samples


def lisa_instructions(root: Path, split: str) -> dict[str, tuple[str, ...]]:
    """Every instruction of every item (doc_id -> texts); the official protocol uses only the first."""
    out: dict[str, tuple[str, ...]] = {}
    for path in _json_files(root, split):
        out[path.stem] = _texts(_read_item(path), str(path))
    return out
