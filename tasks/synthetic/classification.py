"""Synthetic Flowers102 / Pets37 / FGVC-Aircraft / Stanford Cars sets in their real index formats.

Each class is one large shape in one colour (`draw.styles`, offset per dataset so that the same
label looks different across datasets), jittered in position and size. Class names are real ones
from each dataset, in the dataset's own spelling (pets ``american_bulldog``, aircraft ``F/A-18`` and
``Cessna 172`` with a space, cars ``2012 BMW M3 Coupe``); the CoOp sets get a
``split_zhou_*.json`` with train/val/test, FGVC-Aircraft gets ``variants.txt`` and
``images_variant_{train,val,test}.txt``. File names follow each archive's pattern.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tasks.synthetic.draw import Style, background, draw, place, polygon, save_jpeg, styles, write_json, write_text

SPLITS = ("train", "val", "test")

FLOWERS = (
    "pink primrose",
    "hard-leaved pocket orchid",
    "canterbury bells",
    "sweet pea",
    "english marigold",
    "tiger lily",
    "moon orchid",
    "bird of paradise",
    "monkshood",
    "globe thistle",
)
PETS = (
    "abyssinian",
    "american_bulldog",
    "american_pit_bull_terrier",
    "basset_hound",
    "bengal",
    "birman",
    "beagle",
    "bombay",
    "boxer",
    "british_shorthair",
)
_CAT_BREEDS = {"abyssinian", "bengal", "birman", "bombay", "british_shorthair"}  # capitalised file names
AIRCRAFT = (
    "707-320",
    "737-400",
    "A340-300",
    "F/A-18",
    "Cessna 172",
    "DHC-8-100",
    "Falcon 2000",
    "Saab 2000",
    "BAE 146-200",
    "Tu-154",
)
CARS = (
    "2012 BMW M3 Coupe",
    "1994 Audi 100 Sedan",
    "1994 Audi 100 Wagon",
    "2012 Audi S5 Convertible",
    "2000 AM General Hummer SUV",
    "2012 Tesla Model S Sedan",
    "2012 Jeep Wrangler SUV",
    "2009 Spyker C8 Coupe",
    "2012 Acura TL Sedan",
    "2012 Chevrolet Corvette ZR1",
)


@dataclass(frozen=True)
class _Spec:
    names: tuple[str, ...]
    size: tuple[int, int]
    style_offset: int


SPECS: dict[str, _Spec] = {
    "flowers102": _Spec(FLOWERS, (196, 196), 0),
    "pets37": _Spec(PETS, (168, 224), 25),
    "aircraft": _Spec(AIRCRAFT, (224, 150), 50),
    "cars196": _Spec(CARS, (224, 168), 75),
}


def class_styles(dataset: str, n_classes: int) -> list[Style]:
    """The look of each label of `dataset` (tests and demos recover labels from pixels with it)."""
    spec = SPECS[dataset]
    return styles(spec.style_offset + n_classes)[spec.style_offset :]


def _image(rng: np.random.Generator, size: tuple[int, int], look: Style, path: Path) -> None:
    width, height = size
    image = background(rng, width, height)
    half = int(rng.integers(min(size) // 5, min(size) // 3))
    spot = place(rng, width, height, half, [])
    assert spot is not None  # one shape of at most a third of the short side always fits
    draw(image, polygon(look.shape, spot[0], spot[1], half), look)
    save_jpeg(image, path)


def _coop(
    dataset: str,
    folder: Path,
    image_dir: Path,
    index_name: str,
    file_name: Callable[[str, int, str, int], str],
    rng: np.random.Generator,
    n_classes: int,
    counts: dict[str, int],
) -> Path:
    """Images plus a CoOp ``split_zhou_*.json``; `file_name(split, label, name, k)` is the impath."""
    spec = SPECS[dataset]
    looks = class_styles(dataset, n_classes)
    split_json: dict[str, list[list[object]]] = {s: [] for s in SPLITS}
    for split in SPLITS:
        for label in range(n_classes):
            for j in range(counts[split]):
                impath = file_name(split, label, spec.names[label], j)
                _image(rng, spec.size, looks[label], image_dir / impath)
                split_json[split].append([impath, label, spec.names[label]])
    path = folder / index_name
    write_json(path, split_json)
    return path


def write_classification(
    root: Path, rng: np.random.Generator, n_classes: int, n_train: int, n_val: int, n_test: int
) -> dict[str, Path]:
    """All four datasets under the data root; returns dataset -> its index file."""
    for name, spec in SPECS.items():
        if n_classes > len(spec.names):
            raise ValueError(f"{name}: at most {len(spec.names)} synthetic classes, asked for {n_classes}")
    counts = {"train": n_train, "val": n_val, "test": n_test}
    out: dict[str, Path] = {}
    flower_serial, car_serial = itertools.count(1), itertools.count(1)

    def flowers_name(split: str, label: int, name: str, j: int) -> str:
        return f"image_{next(flower_serial):05d}.jpg"

    def pets_name(split: str, label: int, name: str, j: int) -> str:
        breed = "_".join(w.capitalize() for w in name.split("_")) if name in _CAT_BREEDS else name
        return f"{breed}_{SPLITS.index(split) * 1000 + j + 1}.jpg"

    def cars_name(split: str, label: int, name: str, j: int) -> str:
        return f"cars_{'test' if split == 'test' else 'train'}/{next(car_serial):05d}.jpg"

    folder = root / "oxford_flowers"
    out["flowers102"] = _coop(
        "flowers102", folder, folder / "jpg", "split_zhou_OxfordFlowers.json", flowers_name, rng, n_classes, counts
    )
    folder = root / "oxford_pets"
    out["pets37"] = _coop(
        "pets37", folder, folder / "images", "split_zhou_OxfordPets.json", pets_name, rng, n_classes, counts
    )
    folder = root / "stanford_cars"
    out["cars196"] = _coop("cars196", folder, folder, "split_zhou_StanfordCars.json", cars_name, rng, n_classes, counts)
    out["aircraft"] = _write_aircraft(root / "fgvc_aircraft", rng, n_classes, counts)
    return out


def _write_aircraft(folder: Path, rng: np.random.Generator, n_classes: int, counts: dict[str, int]) -> Path:
    """FGVC-Aircraft's own files: variants.txt and images_variant_<split>.txt (``<id> <variant>``)."""
    spec = SPECS["aircraft"]
    looks = class_styles("aircraft", n_classes)
    total = n_classes * sum(counts.values())
    ids = iter(f"{int(v):07d}" for v in rng.choice(np.arange(10**6, 10**7), size=total, replace=False))
    for split in SPLITS:
        lines = []
        for label in range(n_classes):
            for _ in range(counts[split]):
                image_id = next(ids)
                _image(rng, spec.size, looks[label], folder / "images" / f"{image_id}.jpg")
                lines.append(f"{image_id} {spec.names[label]}\n")
        write_text(folder / f"images_variant_{split}.txt", "".join(lines))
    path = folder / "variants.txt"
    write_text(path, "".join(f"{n}\n" for n in spec.names[:n_classes]))
    return path
