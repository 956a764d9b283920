"""write_synthetic: deterministic bytes, seed-dependent content, small real JPEGs, sizes knobs."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from PIL import Image

from tasks.data import load_classification, load_coco_detection, load_lisa, load_lvis_detection
from tasks.synthetic import SyntheticSizes, write_synthetic


def tree_digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_same_seed_same_bytes_other_seed_differs(synthetic_root: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    write_synthetic(again, seed=0)
    reference = tree_digest(synthetic_root)
    assert tree_digest(again) == reference
    other = tmp_path / "other"
    write_synthetic(other, seed=1)
    digest = tree_digest(other)
    changed = [k for k in reference.keys() & digest.keys() if reference[k] != digest[k]]
    assert "coco/annotations/instances_val2017.json" in changed
    assert "lisa/ReasonSeg/val/rs_val_000.jpg" in changed
    assert len(changed) + len(reference.keys() ^ digest.keys()) > len(reference) // 2


def test_files_are_small_real_jpegs_and_no_temporaries(synthetic_root: Path) -> None:
    files = [p for p in synthetic_root.rglob("*") if p.is_file()]
    assert not [p for p in files if p.name.endswith(".tmp")]
    jpgs = [p for p in files if p.suffix == ".jpg"]
    assert len(jpgs) == 24 + 24 + 16 + 4 * 6 * (2 + 1 + 3) + 16 + 16  # + the COCO / LVIS train files' images
    for p in jpgs[::7]:
        assert p.read_bytes()[:3] == b"\xff\xd8\xff"
        with Image.open(p) as im:
            assert im.format == "JPEG" and max(im.size) <= 224


def test_sizes_knobs(tmp_path: Path) -> None:
    sizes = SyntheticSizes(
        coco_images=7, lvis_images=9, lisa_items=3, cls_classes=2, cls_train=4, cls_val=0, cls_test=1
    )
    paths = write_synthetic(tmp_path, seed=3, sizes=sizes)
    assert set(paths) == {"root", "coco", "lvis", "coco_train", "lvis_train", "lisa", "flowers102", "pets37",
                          "cars196", "aircraft"}
    assert len(load_coco_detection(paths["coco"], tmp_path / "coco/val2017").images) == 7
    assert len(load_lvis_detection(paths["lvis"], [tmp_path / "lvis"]).images) == 9
    assert len(load_lisa(tmp_path, "test")) == 3
    train = load_classification("aircraft", tmp_path, "train")
    assert len(train.class_names) == 2 and len(train.samples) == 8
    assert load_classification("cars196", tmp_path, "val").samples == []


@pytest.mark.parametrize("bad", [{"cls_classes": 11}, {"coco_images": -1}, {"lisa_items": 2}, {"cls_test": 1.5}])
def test_sizes_are_validated(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="SyntheticSizes"):
        SyntheticSizes(**bad)  # type: ignore[arg-type]


def test_train_files_are_disjoint_from_val_and_leave_val_unchanged(synthetic_root: Path, tmp_path: Path) -> None:
    """The k-shot default reads the train files: other images (ids and bytes) than the val files, in the real
    layouts; writing them changes nothing of the val files (their own random streams)."""
    root = synthetic_root
    coco_val = load_coco_detection(root / "coco/annotations/instances_val2017.json", root / "coco/val2017")
    coco_train = load_coco_detection(root / "coco/annotations/instances_train2017.json", root / "coco/train2017")
    lvis_val = load_lvis_detection(root / "lvis/annotations/lvis_v1_val.json", [root / "lvis"])
    lvis_train = load_lvis_detection(root / "lvis/annotations/lvis_v1_train.json", [root / "lvis", root / "coco"])
    assert len(coco_train.images) == len(lvis_train.images) == 16
    assert not coco_train.images.keys() & coco_val.images.keys()
    assert not lvis_train.images.keys() & lvis_val.images.keys()
    assert all(ref.path.parent == root / "coco/train2017" for ref in coco_train.images.values())
    assert all(ref.path.parent == root / "lvis/train2017" for ref in lvis_train.images.values())
    digests = {hashlib.sha256(ref.path.read_bytes()).hexdigest() for ref in coco_val.images.values()}
    assert not digests & {hashlib.sha256(ref.path.read_bytes()).hexdigest() for ref in coco_train.images.values()}
    without = tmp_path / "without"
    write_synthetic(without, seed=0, sizes=SyntheticSizes(coco_train_images=0, lvis_train_images=0))
    assert not (without / "coco/annotations/instances_train2017.json").exists()
    reference, val_only = tree_digest(root), tree_digest(without)
    assert {k: reference[k] for k in val_only} == val_only  # the val files: byte for byte the same
    extra = sorted(reference.keys() - val_only.keys())
    assert len(extra) == 2 + 16 + 16 and all("train" in k for k in extra)
