"""Classification loaders on the synthetic CoOp split files and FGVC-Aircraft files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tasks.data import CLASSIFICATION_DATASETS, check_images, load_classification
from tasks.synthetic.classification import SPECS, class_styles
from tasks.synthetic.draw import COLOURS

EXPECTED_NAMES = {
    "flowers102": [
        "pink primrose",
        "hard-leaved pocket orchid",
        "canterbury bells",
        "sweet pea",
        "english marigold",
        "tiger lily",
    ],
    "pets37": ["abyssinian", "american_bulldog", "american_pit_bull_terrier", "basset_hound", "bengal", "birman"],
    "aircraft": ["707-320", "737-400", "A340-300", "F/A-18", "Cessna 172", "DHC-8-100"],
    "cars196": [
        "2012 BMW M3 Coupe",
        "1994 Audi 100 Sedan",
        "1994 Audi 100 Wagon",
        "2012 Audi S5 Convertible",
        "2000 AM General Hummer SUV",
        "2012 Tesla Model S Sedan",
    ],
}
IMAGE_DIRS = {
    "flowers102": "oxford_flowers/jpg",
    "pets37": "oxford_pets/images",
    "aircraft": "fgvc_aircraft/images",
    "cars196": "stanford_cars",
}


@pytest.mark.parametrize("dataset", sorted(CLASSIFICATION_DATASETS))
@pytest.mark.parametrize(("split", "per_class"), [("train", 2), ("val", 1), ("test", 3)])
def test_counts_names_paths(synthetic_root: Path, dataset: str, split: str, per_class: int) -> None:
    data = load_classification(dataset, synthetic_root, split)
    assert data.class_names == EXPECTED_NAMES[dataset]
    assert len(data.samples) == 6 * per_class
    assert sorted({s.label for s in data.samples}) == list(range(6))
    for s in data.samples:
        assert s.class_name == data.class_names[s.label]
        assert s.image.path == synthetic_root / IMAGE_DIRS[dataset] / s.doc_id
        assert (s.image.width, s.image.height) == SPECS[dataset].size
    assert len({s.doc_id for s in data.samples}) == len(data.samples)
    assert check_images(data) == []


def test_doc_ids_follow_the_real_index_files(synthetic_root: Path) -> None:
    cars = load_classification("cars196", synthetic_root)
    assert all(s.doc_id.startswith("cars_test/") for s in cars.samples)
    raw = json.loads((synthetic_root / "stanford_cars/split_zhou_StanfordCars.json").read_text())
    assert [s.doc_id for s in cars.samples] == [e[0] for e in raw["test"]]
    lines = (synthetic_root / "fgvc_aircraft/images_variant_test.txt").read_text().splitlines()
    air = load_classification("aircraft", synthetic_root)
    assert [f"{s.doc_id[:-4]} {s.class_name}" for s in air.samples] == lines
    assert any(s.class_name == "Cessna 172" for s in air.samples)  # a variant name with a space
    pets = load_classification("pets37", synthetic_root)
    assert any(s.doc_id.startswith("Abyssinian_") for s in pets.samples)


@pytest.mark.parametrize("dataset", sorted(CLASSIFICATION_DATASETS))
def test_label_is_visible_in_the_pixels(synthetic_root: Path, dataset: str) -> None:
    """The dominant saturated colour of each image is its class's colour, so the labels are learnable."""
    data = load_classification(dataset, synthetic_root)
    looks = class_styles(dataset, len(data.class_names))
    assert len({(lk.colour, lk.shape) for lk in looks}) == len(looks)
    palette = np.array(list(COLOURS.values()), dtype=np.int16)
    for s in data.samples:
        arr = np.asarray(Image.open(s.image.path).convert("RGB"), dtype=np.int16)[::2, ::2].reshape(-1, 1, 3)
        hits = (np.abs(arr - palette[None]).max(axis=2) <= 40).sum(axis=0)
        assert list(COLOURS)[int(hits.argmax())] == looks[s.label].colour
        assert hits.max() > 75


def test_read_sizes_false_touches_no_image(fresh_root: Path) -> None:
    for p in (fresh_root / "oxford_flowers" / "jpg").iterdir():
        p.unlink()
    data = load_classification("flowers102", fresh_root, read_sizes=False)
    assert len(data.samples) == 18 and all(s.image.width == s.image.height == 0 for s in data.samples)
    assert len(check_images(data)) == 18 and len(check_images(data, limit=2)) == 2


def test_unknown_dataset_and_split(synthetic_root: Path) -> None:
    with pytest.raises(ValueError, match=r"unknown classification dataset 'flowers'.*flowers102"):
        load_classification("flowers", synthetic_root)
    with pytest.raises(ValueError, match="unknown split 'dev'"):
        load_classification("pets37", synthetic_root, "dev")
