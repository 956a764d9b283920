"""Broken inputs: every loader fails with a `DataError` that names the file, the item and the expectation."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tasks.data import DataError, load_classification, load_coco_detection, load_lisa, load_lvis_detection

COCO_ANN = "coco/annotations/instances_val2017.json"
LVIS_ANN = "lvis/annotations/lvis_v1_val.json"


def load_coco(root: Path) -> object:
    return load_coco_detection(root / COCO_ANN, root / "coco" / "val2017")


def load_lvis(root: Path) -> object:
    return load_lvis_detection(root / LVIS_ANN, [root / "lvis", root / "coco"])


def edit_json(rel: str, change: Callable[[Any], None]) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        path = root / rel
        obj = json.loads(path.read_text())
        change(obj)
        path.write_text(json.dumps(obj))

    return apply


def truncate(rel: str) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        path = root / rel
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])

    return apply


def delete(rel: str) -> Callable[[Path], None]:
    return lambda root: (root / rel).unlink()


def set_ann(key: str, value: object) -> Callable[[Any], None]:
    return lambda obj: obj["annotations"][0].__setitem__(key, value)


def edit_text(rel: str, change: Callable[[list[str]], list[str]]) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        path = root / rel
        path.write_text("\n".join(change(path.read_text().splitlines())) + "\n")

    return apply


def first_lisa(root: Path) -> Path:
    return sorted((root / "lisa/ReasonSeg/val").glob("*.json"))[0]


def edit_lisa(change: Callable[[Any], None]) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        path = first_lisa(root)
        obj = json.loads(path.read_text())
        change(obj)
        path.write_text(json.dumps(obj))

    return apply


def coop_entry(index: int, value: list[object]) -> Callable[[Any], None]:
    return lambda obj: obj["test"].__setitem__(index, value)


# (id, damage, load, fragments that must all appear in the message, in order)
CASES: list[tuple[str, Callable[[Path], None], Callable[[Path], object], list[str]]] = [
    ("coco_missing_file", delete(COCO_ANN), load_coco, ["COCO annotation file not found", COCO_ANN]),
    (
        "coco_truncated",
        truncate(COCO_ANN),
        load_coco,
        [COCO_ANN, "malformed JSON at line 1 column", "expected a complete COCO annotation file", "truncated"],
    ),
    (
        "coco_missing_key",
        edit_json(COCO_ANN, lambda o: o.pop("annotations")),
        load_coco,
        [COCO_ANN, "missing required key 'annotations'", "'images', 'annotations' and 'categories'"],
    ),
    (
        "coco_ann_missing_bbox",
        edit_json(COCO_ANN, lambda o: o["annotations"][0].pop("bbox")),
        load_coco,
        [COCO_ANN, "annotations[0] (id 1)", "missing required key 'bbox'"],
    ),
    (
        "coco_unknown_category",
        edit_json(COCO_ANN, set_ann("category_id", 999)),
        load_coco,
        [COCO_ANN, "annotations[0] (id 1)", "category_id 999 is not in 'categories'"],
    ),
    (
        "coco_unknown_image",
        edit_json(COCO_ANN, set_ann("image_id", 123)),
        load_coco,
        [COCO_ANN, "annotations[0] (id 1)", "image_id 123 is not in 'images'"],
    ),
    (
        "coco_bbox_3",
        edit_json(COCO_ANN, set_ann("bbox", [1, 2, 3])),
        load_coco,
        [COCO_ANN, "annotations[0] (id 1)", "'bbox' has 3 numbers, expected 4 [x, y, w, h]"],
    ),
    (
        "coco_bbox_nan",
        edit_json(COCO_ANN, set_ann("bbox", [1, 2, float("nan"), 4])),
        load_coco,
        [COCO_ANN, "annotations[0] (id 1)", "'bbox' must be a finite number, got nan"],
    ),
    (
        "coco_bbox_negative",
        edit_json(COCO_ANN, set_ann("bbox", [1, 2, -3, 4])),
        load_coco,
        [COCO_ANN, "annotations[0] (id 1)", "negative width or height"],
    ),
    (
        "coco_duplicate_image",
        edit_json(COCO_ANN, lambda o: o["images"].append(dict(o["images"][0]))),
        load_coco,
        [COCO_ANN, "images[24]", "duplicate image id"],
    ),
    (
        "coco_duplicate_category",
        edit_json(COCO_ANN, lambda o: o["categories"].append({"id": 1, "name": "x"})),
        load_coco,
        [COCO_ANN, "categories[80]", "duplicate category id 1 (also 'person')"],
    ),
    (
        "lvis_missing_neg",
        edit_json(LVIS_ANN, lambda o: o["images"][2].pop("neg_category_ids")),
        load_lvis,
        [LVIS_ANN, "images[2] (id", "missing required key 'neg_category_ids'"],
    ),
    (
        "lvis_neg_unknown",
        edit_json(LVIS_ANN, lambda o: o["images"][2].__setitem__("neg_category_ids", [7])),
        load_lvis,
        [LVIS_ANN, "images[2] (id", "'neg_category_ids' references unknown category ids [7]"],
    ),
    (
        "lvis_bad_url",
        edit_json(LVIS_ANN, lambda o: o["images"][1].__setitem__("coco_url", "x")),
        load_lvis,
        [LVIS_ANN, "images[1] (id", "'coco_url' must be a URL ending in <split>/<file>"],
    ),
    (
        "aircraft_no_variant",
        edit_text("fgvc_aircraft/images_variant_test.txt", lambda ls: [*ls[:2], ls[2].split()[0], *ls[3:]]),
        lambda r: load_classification("aircraft", r),
        ["fgvc_aircraft/images_variant_test.txt: line 3", "has no variant", "expected '<image_id> <variant name>'"],
    ),
    (
        "aircraft_unknown_variant",
        edit_text("fgvc_aircraft/images_variant_test.txt", lambda ls: [ls[0].split()[0] + " Boeing 999", *ls[1:]]),
        lambda r: load_classification("aircraft", r),
        ["images_variant_test.txt: line 1", "variant 'Boeing 999' is not in variants.txt"],
    ),
    (
        "aircraft_missing_variants",
        delete("fgvc_aircraft/variants.txt"),
        lambda r: load_classification("aircraft", r),
        ["FGVC-Aircraft class list not found", "variants.txt"],
    ),
    (
        "coop_negative_label",
        edit_json("oxford_pets/split_zhou_OxfordPets.json", coop_entry(4, ["x.jpg", -1, "abyssinian"])),
        lambda r: load_classification("pets37", r),
        ["split_zhou_OxfordPets.json: test[4]", "label -1 out of range"],
    ),
    (
        "coop_label_gap",
        edit_json(
            "oxford_flowers/split_zhou_OxfordFlowers.json", coop_entry(0, ["image_00019.jpg", 9, "pink primrose"])
        ),
        lambda r: load_classification("flowers102", r),
        ["split_zhou_OxfordFlowers.json", "labels [6, 7, 8] never occur", "label out of range"],
    ),
    (
        "coop_conflicting_name",
        edit_json(
            "stanford_cars/split_zhou_StanfordCars.json", coop_entry(1, ["cars_test/00020.jpg", 0, "2012 BMW M3 Sedan"])
        ),
        lambda r: load_classification("cars196", r),
        [
            "split_zhou_StanfordCars.json: test[1]",
            "'2012 BMW M3 Sedan'",
            "'2012 BMW M3 Coupe'",
            "one class name per label",
        ],
    ),
    (
        "coop_bad_entry",
        edit_json("stanford_cars/split_zhou_StanfordCars.json", coop_entry(2, ["a.jpg", "0"])),
        lambda r: load_classification("cars196", r),
        ["split_zhou_StanfordCars.json: test[2]", "expected [impath (str), label (int), classname (str)]"],
    ),
    (
        "classification_missing_image",
        delete("oxford_flowers/jpg/image_00020.jpg"),
        lambda r: load_classification("flowers102", r),
        ["flowers102 test[1]", "split_zhou_OxfordFlowers.json", "image file not found", "jpg/image_00020.jpg"],
    ),
    (
        "lisa_no_shapes",
        edit_lisa(lambda o: o.pop("shapes")),
        lambda r: load_lisa(r, "val"),
        ["ReasonSeg/val/rs_val_000.json", "missing required key 'shapes'", "'text': [instruction, ...]"],
    ),
    (
        "lisa_no_text",
        edit_lisa(lambda o: o.pop("text")),
        lambda r: load_lisa(r, "val"),
        ["rs_val_000.json", "missing required key 'text'"],
    ),
    (
        "lisa_empty_text",
        edit_lisa(lambda o: o.__setitem__("text", [])),
        lambda r: load_lisa(r, "val"),
        ["rs_val_000.json (ReasonSeg val item 0, 'rs_val_000')", "'text' must be a non-empty list"],
    ),
    (
        "lisa_bad_point",
        edit_lisa(lambda o: o["shapes"][0]["points"].__setitem__(1, [3])),
        lambda r: load_lisa(r, "val"),
        ["rs_val_000.json", "shapes[0]", "points[1] = [3]; expected [x, y]"],
    ),
    (
        "lisa_truncated",
        lambda r: truncate(str(first_lisa(r).relative_to(r)))(r),
        lambda r: load_lisa(r, "val"),
        ["rs_val_000.json", "malformed JSON", "ReasonSeg annotation"],
    ),
    (
        "lisa_missing_image",
        lambda r: first_lisa(r).with_suffix(".jpg").unlink(),
        lambda r: load_lisa(r, "val"),
        ["ReasonSeg val item 0, 'rs_val_000'", "image file not found", "rs_val_000.jpg"],
    ),
    (
        "lisa_missing_split",
        lambda r: [p.unlink() for p in (r / "lisa/ReasonSeg/test").iterdir()] and (r / "lisa/ReasonSeg/test").rmdir(),
        lambda r: load_lisa(r, "test"),
        ["ReasonSeg test folder not found", "lisa/ReasonSeg/test"],
    ),
]


@pytest.mark.parametrize(("damage", "load", "fragments"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_broken_input_message(
    fresh_root: Path, damage: Callable[[Path], None], load: Callable[[Path], object], fragments: list[str]
) -> None:
    load(fresh_root)  # intact first: the error below is caused by the damage alone
    damage(fresh_root)
    with pytest.raises(DataError) as info:
        load(fresh_root)
    message = str(info.value)
    assert re.search(".*".join(map(re.escape, fragments)), message, flags=re.S), message
    assert isinstance(info.value, ValueError)
