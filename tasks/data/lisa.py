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

`read_reasonseg_folder` / `read_reasonseg_item` read any folder of such pairs (the ``train`` folder
for training rows, `tasks.grounding.train`) into `ReasonSegItem`s: every instruction, every shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tasks.data import DataError, as_float, image_size, read_json, require_keys
from tasks.geometry import points_to_xyxy
from tasks.spec import GroundingSample, ImageRef

LISA_SPLITS = ("val", "test")
_EXPECTED = "ReasonSeg per-image JSON with 'text': [instruction, ...] and 'shapes': [{label, points}, ...]"

Polygon = tuple[str, tuple[tuple[float, float], ...]]


def lisa_split_dir(root: Path, split: str) -> Path:
    """``root/lisa/ReasonSeg/<split>`` for the data root `root`."""
    if split not in LISA_SPLITS:
        raise ValueError(f"unknown LISA split {split!r}: expected one of {LISA_SPLITS}")
    return Path(root) / "lisa" / "ReasonSeg" / split


def _json_files(folder: Path, label: str) -> list[Path]:
    if not folder.is_dir():
        raise DataError(f"ReasonSeg {label} folder not found: {folder} (expected <name>.jpg + <name>.json pairs there)")
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
    return np.array(points_to_xyxy(points), dtype=np.float64)


@dataclass(frozen=True)
class ReasonSegItem:
    """One ReasonSeg ``<name>.json`` + ``<name>.jpg`` pair: every instruction and every shape, in file order."""

    name: str  # the file stem
    image: ImageRef
    instructions: tuple[str, ...]
    polygons: tuple[Polygon, ...]

    def sample(self, index: int = 0, doc_id: str | None = None) -> GroundingSample:
        """Instruction `index` as a grounding sample (`doc_id` default: the name); the GT box is the box of
        ``shapes[0]``, whatever its label (the official protocol)."""
        return GroundingSample(
            doc_id=self.name if doc_id is None else doc_id,
            image=self.image,
            instruction=self.instructions[index],
            gt_xyxy=polygon_box(self.polygons[0][1]),
            polygons=self.polygons,
        )


def read_reasonseg_item(
    path: Path, where: str = "", *, read_size: bool = True, unreadable_ok: bool = False
) -> ReasonSegItem:
    """The item of ``<name>.json`` (its image ``<name>.jpg`` beside it); errors start with `where` (default:
    the path). ``read_size=False`` records 0x0 and touches no image; ``unreadable_ok`` records 0x0 (size
    unknown) for an image that is missing or unreadable instead of raising (`tasks.data.image_size`)."""
    path = Path(path)
    where = where or str(path)
    item = _read_item(path)
    texts = _texts(item, where)
    polygons = _polygons(item, where)
    image = path.with_suffix(".jpg")
    w, h = image_size(image, where, unknown_ok=unreadable_ok) if read_size else (0, 0)
    return ReasonSegItem(path.stem, ImageRef(image, w, h), texts, polygons)


def read_reasonseg_folder(
    folder: Path, label: str, *, read_sizes: bool = True, unreadable_ok: bool = False
) -> list[ReasonSegItem]:
    """Every item of a folder of ReasonSeg pairs, sorted by file stem; `label` names the folder in errors
    (``"val"``, ``"train"``). A missing or empty folder raises DataError. `unreadable_ok`: see
    `read_reasonseg_item`."""
    return [
        read_reasonseg_item(
            path,
            f"{path} (ReasonSeg {label} item {i}, {path.stem!r})",
            read_size=read_sizes,
            unreadable_ok=unreadable_ok,
        )
        for i, path in enumerate(_json_files(Path(folder), label))
    ]


def load_lisa(root: Path, split: str, *, read_sizes: bool = True, unreadable_ok: bool = False) -> list[GroundingSample]:
    """ReasonSeg `split` ("val" or "test") under the data root `root`, sorted by file stem (first instruction).
    `unreadable_ok`: an item whose image is missing or unreadable gets size 0x0 (unknown) instead of raising
    (an evaluation records that request as failed and goes on)."""
    folder = lisa_split_dir(root, split)
    items = read_reasonseg_folder(folder, split, read_sizes=read_sizes, unreadable_ok=unreadable_ok)
    return [item.sample(0) for item in items]


def lisa_instructions(root: Path, split: str) -> dict[str, tuple[str, ...]]:
    """Every instruction of every item (doc_id -> texts); the official protocol uses only the first."""
    out: dict[str, tuple[str, ...]] = {}
    for path in _json_files(lisa_split_dir(root, split), split):
        out[path.stem] = _texts(_read_item(path), str(path))
    return out
