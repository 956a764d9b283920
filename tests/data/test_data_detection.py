"""COCO / LVIS loaders on the synthetic files: counts, real ids, exact boxes, federated sets."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tasks.data import DataError, DetectionData, check_images, load_coco_detection, load_lvis_detection
from tasks.synthetic.categories import COCO_DRAWN
from tasks.synthetic.draw import styles

FEW_SHOT = ("bus", "train", "fire hydrant", "stop sign", "cat", "dog", "bed", "toilet")
OV_NOVEL = (
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
Extent = Callable[..., tuple[int, int, int, int] | None]
LVIS_RARE = {
    "horse_buggy": 161,
    "die": 365,
    "kitchen_table": 610,
    "omelet": 733,
    "papaya": 755,
    "stepladder": 1012,
    "casserole": 222,
    "egg_roll": 416,
    "futon": 480,
    "garbage": 482,
    "handsaw": 541,
    "hippopotamus": 560,
    "mallet": 663,
    "shot_glass": 952,
    "sugar_bowl": 1031,
}


def coco(root: Path) -> DetectionData:
    return load_coco_detection(root / "coco" / "annotations" / "instances_val2017.json", root / "coco" / "val2017")


def lvis(root: Path) -> DetectionData:
    return load_lvis_detection(root / "lvis" / "annotations" / "lvis_v1_val.json", [root / "lvis", root / "coco"])


def test_coco_counts_ids_and_order(synthetic_root: Path) -> None:
    data = coco(synthetic_root)
    raw = json.loads((synthetic_root / "coco/annotations/instances_val2017.json").read_text())
    assert data.kind == "coco" and len(data.images) == 24 and len(data.categories) == 80
    assert list(data.images) == [im["id"] for im in raw["images"]]  # annotation-file order
    assert data.gt == raw
    for name, cid in {"person": 1, "stop sign": 13, "toilet": 70, "hair drier": 89, "toothbrush": 90}.items():
        assert data.category_id(name) == cid and data.categories[cid] == name
    first = raw["images"][0]
    ref = data.images[first["id"]]
    assert ref.path == synthetic_root / "coco" / "val2017" / first["file_name"]
    assert (ref.width, ref.height) == (first["width"], first["height"])
    assert data.neg_category_ids(first["id"]) == frozenset()
    assert data.not_exhaustive_category_ids(first["id"]) == frozenset()


def test_coco_scene_cases(synthetic_root: Path) -> None:
    data = coco(synthetic_root)
    present = {iid: data.present(iid) for iid in data.images}
    assert any(not p for p in present.values()), "an image without objects"
    drawn = {data.categories[c] for p in present.values() for c in p}
    assert set(FEW_SHOT) | set(OV_NOVEL) <= drawn
    counts = [len(data.gt_boxes(iid, c)) for iid, p in present.items() for c in p]
    assert max(counts) == 3 and 2 in counts
    assert all(a["iscrowd"] == 0 for a in data.gt["annotations"])


def test_coco_boxes_are_xyxy_and_fresh(synthetic_root: Path) -> None:
    data = coco(synthetic_root)
    for ann in data.gt["annotations"]:
        x, y, w, h = ann["bbox"]
        boxes = data.gt_boxes(ann["image_id"], ann["category_id"])
        assert boxes.dtype == np.float64 and boxes.shape[1] == 4
        assert any(np.array_equal(b, [x, y, x + w, y + h]) for b in boxes)
    iid = next(iter(data.images))
    assert data.gt_boxes(iid, 1).shape == (0, 4)
    some = data.gt["annotations"][0]
    b = data.gt_boxes(some["image_id"], some["category_id"])
    b[:] = -1
    assert (data.gt_boxes(some["image_id"], some["category_id"]) >= 0).all()
    with pytest.raises(KeyError, match="no image with id -5"):
        data.gt_boxes(-5, 1)


def test_coco_boxes_match_the_pixels(synthetic_root: Path, colour_extent: Extent) -> None:
    data = coco(synthetic_root)
    look = dict(zip(COCO_DRAWN, styles(len(COCO_DRAWN)), strict=True))
    checked = 0
    for iid, ref in data.images.items():
        for cid in data.present(iid):
            for box in data.gt_boxes(iid, cid):
                got = colour_extent(ref.path, look[data.categories[cid]].rgb, box)
                assert got is not None
                # exact, not just within a pixel: an off-by-one (inclusive vs exclusive edge) must fail
                assert list(got) == box.tolist(), (iid, data.categories[cid], got, box)
                checked += 1
    assert checked == len(data.gt["annotations"])


def test_coco_ground_truth_feeds_pycocotools(synthetic_root: Path) -> None:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    data = coco(synthetic_root)
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = data.gt
        gt.createIndex()
        perfect = [
            {"image_id": a["image_id"], "category_id": a["category_id"], "bbox": a["bbox"], "score": 1.0}
            for a in data.gt["annotations"]
        ]
        ev = COCOeval(gt, gt.loadRes(perfect), "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    assert ev.stats[0] == pytest.approx(1.0)


def test_category_id_unknown_lists_near_names(synthetic_root: Path) -> None:
    with pytest.raises(DataError, match=r"instances_val2017\.json: unknown category name 'stop_sign'.*'stop sign'"):
        coco(synthetic_root).category_id("stop_sign")
    with pytest.raises(DataError, match=r"lvis_v1_val\.json: unknown category name 'kitchen table'.*'kitchen_table'"):
        lvis(synthetic_root).category_id("kitchen table")


def test_lvis_categories_and_federated_sets(synthetic_root: Path) -> None:
    data = lvis(synthetic_root)
    assert data.kind == "lvis" and len(data.images) == 24
    cats = {c["name"]: c for c in data.gt["categories"]}
    for name, cid in LVIS_RARE.items():
        assert data.category_id(name) == cid and cats[name]["frequency"] == "r"
    assert sum(c["frequency"] == "f" for c in cats.values()) == 3
    assert cats["die"]["synonyms"] == ["die", "dice"]
    negs: set[int] = set()
    for img in data.gt["images"]:
        iid = img["id"]
        assert data.neg_category_ids(iid) == frozenset(img["neg_category_ids"])
        assert data.not_exhaustive_category_ids(iid) == frozenset(img["not_exhaustive_category_ids"])
        assert data.present(iid) == frozenset(img["pos_category_ids"])
        assert not data.neg_category_ids(iid) & data.present(iid)
        assert data.not_exhaustive_category_ids(iid) <= data.present(iid)
        negs |= data.neg_category_ids(iid)
    assert set(LVIS_RARE.values()) <= negs, "every rare class is a verified negative somewhere"
    assert any(data.not_exhaustive_category_ids(i) for i in data.images)
    for c in data.gt["categories"]:
        mine = [a for a in data.gt["annotations"] if a["category_id"] == c["id"]]
        assert c["instance_count"] == len(mine) and c["image_count"] == len({a["image_id"] for a in mine})


def test_lvis_image_paths_and_fallback_to_coco(fresh_root: Path) -> None:
    data = lvis(fresh_root)
    urls = {im["id"]: im["coco_url"] for im in data.gt["images"]}
    assert any("/train2017/" in u for u in urls.values())
    for iid, ref in data.images.items():
        assert ref.path == fresh_root / "lvis" / "/".join(urls[iid].split("/")[-2:])
    assert check_images(data) == []
    iid, ref = next((i, r) for i, r in data.images.items() if "val2017" in str(r.path))
    moved = fresh_root / "coco" / "val2017" / ref.path.name
    shutil.move(ref.path, moved)
    assert lvis(fresh_root).images[iid].path == moved
    moved.unlink()
    again = lvis(fresh_root)
    assert again.images[iid].path == ref.path  # not found anywhere: reported under the first root
    assert check_images(again) == [ref.path]
