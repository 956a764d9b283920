"""The four fine-grained classification sets, from their upstream archives to the layout of
`tasks.data.classification`.

The test split is the paper's: the official ``classification/val_data/<dataset>.pth`` + ``.txt``
(`official_lists`; FGVC-Aircraft's own ``images_variant_test.txt`` is the same 3,333 images), checked
against the publisher's labels where the archive has them. A CoOp ``split_zhou_*.json`` the user already
has is kept.

* Flowers102: ``102flowers.tgz`` (``jpg/``) + ``imagelabels.mat`` + ``setid.mat`` (train ``trnid``, val
  ``valid``);
* Oxford-IIIT Pets: ``images.tar.gz`` (``images/``) + ``annotations.tar.gz`` (``annotations/trainval.txt``
  and ``test.txt``: ``<image> <class id 1..37> <species> <breed id>``); train = all of trainval (CoOp's
  random 80/20 cut is in its split file), val empty;
* FGVC-Aircraft: ``fgvc-aircraft-2013b.tar.gz``, whose ``data/`` folder is the layout itself; its
  ``images_variant_test.txt`` must name the images and variants of the official list;
* Stanford Cars: the original host is gone, so the images come with ``--from`` (a folder or archives
  holding ``cars_test/``, and ``cars_train/`` + ``cars_train_annos.mat`` of the devkit for the train split).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from harness.fetch.archives import (
    copy_or_move,
    extract_tar,
    find_dirs,
    move_into_place,
    read_tar_member,
    staging,
    unpack_given,
)
from harness.fetch.download import FetchError
from harness.fetch.official_lists import read_class_names, read_test_list
from harness.fetch.plan import Job, Plan
from harness.fetch.sources import TEST_COUNTS
from harness.records import atomic_write_text

Split = list[list[object]]  # CoOp rows: [impath, label, classname]


def _load_mat(path: Path, key: str) -> list[int]:
    from scipy.io import loadmat  # a dependency of the cpu/gpu stacks; only the VGG/Cars .mat files need it

    try:
        return [int(v) for v in loadmat(path)[key].ravel()]
    except (OSError, KeyError, ValueError) as err:
        raise FetchError(f"{path}: expected a MATLAB file with {key!r} ({err})") from None


def _official_test(dataset: str, job: Job, marker: str) -> tuple[list[str], list[tuple[str, int]]]:
    """Class names and the (impath, label) test list of the official ``.pth`` + ``.txt``, count checked."""
    pth = job.files[f"list_{dataset}_pth"]
    names = read_class_names(job.files[f"list_{dataset}_txt"])
    test = read_test_list(pth, marker, len(names))
    if len(test) != TEST_COUNTS[dataset]:
        raise FetchError(f"{pth}: {len(test)} test images, expected {TEST_COUNTS[dataset]} (the paper's test list)")
    return names, test


def _agree(test: list[tuple[str, int]], publisher: dict[str, int], pth: Path, source: str) -> None:
    """Every test image the publisher labels must carry the same label in the official list."""
    for impath, label in test:
        if impath in publisher and publisher[impath] != label:
            raise FetchError(
                f"{pth}: {impath} has label {label}, {source} says {publisher[impath]}; the two files do not "
                "belong together"
            )


def _write_split(path: Path, splits: dict[str, Split]) -> None:
    if not path.is_file():  # a CoOp split file the user already has is kept
        atomic_write_text(path, json.dumps(splits))


# ---- Oxford Flowers 102 ---------------------------------------------------------------------------------
_FLOWER = re.compile(r"image_(\d+)\.jpg")


def place_flowers(job: Job) -> None:
    folder = job.root / "oxford_flowers"
    names, test = _official_test("flowers102", job, "oxford_flowers/jpg/")
    labels = _load_mat(job.files["flowers_labels"], "labels")  # 1-based, image_%05d order
    splits: dict[str, Split] = {}
    for split, key in (("train", "trnid"), ("val", "valid")):
        ids = _load_mat(job.files["flowers_setid"], key)
        splits[split] = [[f"image_{i:05d}.jpg", labels[i - 1] - 1, names[labels[i - 1] - 1]] for i in ids]
    by_image = {f"image_{i:05d}.jpg": lab - 1 for i, lab in enumerate(labels, start=1)}
    _agree(test, {p: by_image[p] for p, _ in test if _FLOWER.fullmatch(p) and p in by_image},
           job.files["list_flowers102_pth"], "imagelabels.mat")  # fmt: skip
    splits["test"] = [[p, lab, names[lab]] for p, lab in test]
    with staging(folder) as tmp:
        extract_tar(job.files["flowers_images"], tmp)
        move_into_place(tmp / "jpg", folder / "jpg", job.files["flowers_images"])
    _write_split(folder / "split_zhou_OxfordFlowers.json", splits)


# ---- Oxford-IIIT Pets -----------------------------------------------------------------------------------
def _pets_list(archive: Path, name: str) -> dict[str, int]:
    """``annotations/<name>``: image file -> 0-based class (lines ``<image> <class id> <species> <breed id>``)."""
    text = read_tar_member(archive, f"annotations/{name}").decode("utf-8", "replace")
    out: dict[str, int] = {}
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) < 2 or not parts[1].isdigit():
            raise FetchError(
                f"{archive}: annotations/{name} line {lineno}: expected '<image> <class id> <species> <breed id>', "
                f"got {line.strip()!r}"
            )
        out[f"{parts[0]}.jpg"] = int(parts[1]) - 1
    return out


def place_pets(job: Job) -> None:
    folder = job.root / "oxford_pets"
    names, test = _official_test("pets37", job, "oxford_pets/images/")
    annotations = job.files["pets_annotations"]
    trainval, publisher_test = _pets_list(annotations, "trainval.txt"), _pets_list(annotations, "test.txt")
    _agree(test, publisher_test, job.files["list_pets37_pth"], "annotations/test.txt")
    bad = sorted({lab for lab in trainval.values() if not 0 <= lab < len(names)})
    if bad:
        raise FetchError(f"{annotations}: annotations/trainval.txt has class ids {[b + 1 for b in bad]} outside "
                         f"1..{len(names)} (the classes of {job.files['list_pets37_txt']})")  # fmt: skip
    splits: dict[str, Split] = {
        "train": [[p, lab, names[lab]] for p, lab in trainval.items()],
        "val": [],
        "test": [[p, lab, names[lab]] for p, lab in test],
    }
    with staging(folder) as tmp:
        extract_tar(job.files["pets_images"], tmp, lambda n: n.startswith("images/"))
        move_into_place(tmp / "images", folder / "images", job.files["pets_images"])
    _write_split(folder / "split_zhou_OxfordPets.json", splits)


# ---- FGVC-Aircraft 2013b --------------------------------------------------------------------------------
_AIRCRAFT_DATA = "fgvc-aircraft-2013b/data/"


def place_aircraft(job: Job) -> None:
    folder = job.root / "fgvc_aircraft"
    archive = job.files["aircraft"]
    with staging(folder) as tmp:
        extract_tar(archive, tmp, lambda n: n.startswith(_AIRCRAFT_DATA))
        data = tmp / _AIRCRAFT_DATA
        test = data / "images_variant_test.txt"
        if not test.is_file() or not (data / "variants.txt").is_file():
            raise FetchError(f"{archive}: no {_AIRCRAFT_DATA}variants.txt and images_variant_test.txt (not the 2013b "
                             "archive?)")  # fmt: skip
        names, official = _official_test("aircraft", job, "fgvc_aircraft/images/")
        lines = [line.strip().partition(" ") for line in test.read_text(encoding="utf-8").splitlines() if line.strip()]
        ours = {f"{image_id}.jpg": variant.strip() for image_id, _, variant in lines}
        theirs = {p: names[label] for p, label in official}
        if ours != theirs:
            diff = sorted(set(ours.items()) ^ set(theirs.items()))[:3]
            raise FetchError(
                f"{archive}: {_AIRCRAFT_DATA}images_variant_test.txt ({len(ours)} images) is not the paper's test "
                f"list {job.files['list_aircraft_pth']} ({len(theirs)} images); first differences: {diff}"
            )
        for child in sorted(data.iterdir()):  # only the archive's own names are replaced
            move_into_place(child, folder / child.name, archive)


# ---- Stanford Cars (--from) -----------------------------------------------------------------------------
CARS_GIVEN = (
    "Stanford Cars: the original host (ai.stanford.edu/~jkrause/cars) is gone. Get cars_test.tgz (and for "
    "training cars_train.tgz and car_devkit.tgz) or one folder holding cars_test/ (cars_train/, "
    "devkit/cars_train_annos.mat) from a copy you trust, and pass it: --from cars196=PATH_OR_URL (repeatable). "
    "The test split is the paper's list (official stanford_cars.pth: 8,041 images cars_test/00001.jpg ...)"
)


def _cars_train(annos: Path | None, names: list[str]) -> Split:
    """The devkit's ``cars_train_annos.mat`` (``annotations``: ``fname``, ``class`` 1..196) as CoOp rows."""
    if annos is None:
        return []
    from scipy.io import loadmat

    try:
        rows = loadmat(annos, squeeze_me=True)["annotations"]
        pairs = [(str(r["fname"]), int(r["class"]) - 1) for r in rows.ravel()]
    except (OSError, KeyError, ValueError, TypeError) as err:
        raise FetchError(f"{annos}: expected the devkit's 'annotations' with 'fname' and 'class' ({err})") from None
    bad = sorted({lab + 1 for _, lab in pairs if not 0 <= lab < len(names)})
    if bad:
        raise FetchError(f"{annos}: class ids {bad[:10]} outside 1..{len(names)}")
    return [[f"cars_train/{f}", lab, names[lab]] for f, lab in pairs]


def place_cars(job: Job) -> None:
    folder = job.root / "stanford_cars"
    names, test = _official_test("cars196", job, "stanford_cars/")
    with staging(folder) as tmp:
        roots = [unpack_given(g, tmp / f"given{i}") for i, g in enumerate(job.given)]
        tests = find_dirs(roots, lambda d: d.name == "cars_test" and any(d.glob("*.jpg")))
        if not tests:
            raise FetchError(f"{', '.join(map(str, job.given))}: no cars_test/ folder of .jpg images. {CARS_GIVEN}")
        missing = [p for p, _ in test if not (tests[0].parent / p).is_file()]
        if missing:
            raise FetchError(
                f"{tests[0]}: {len(missing)} of the {len(test)} test images of the paper's list are missing "
                f"(first: {', '.join(missing[:3])}); expected the complete cars_test/ of Stanford Cars"
            )
        trains = find_dirs(roots, lambda d: d.name == "cars_train" and any(d.glob("*.jpg")))
        annos = next((p for r in roots for p in sorted(r.rglob("cars_train_annos.mat"))), None)
        splits = {"train": _cars_train(annos, names) if trains else [], "val": [],
                  "test": [[p, lab, names[lab]] for p, lab in test]}  # fmt: skip
        for found in (tests[0], *trains[:1]):
            copy_or_move(found, folder / found.name, keep_source=not found.is_relative_to(tmp))
    _write_split(folder / "split_zhou_StanfordCars.json", splits)


PLANS: dict[str, Plan] = {
    "flowers102": Plan(
        "Flowers102",
        ("flowers_images", "flowers_labels", "flowers_setid", "list_flowers102_pth", "list_flowers102_txt"),
        place_flowers,
        "`oxford_flowers/jpg/`, `split_zhou_OxfordFlowers.json` (train/val from `setid.mat`, test = the paper's list)",
    ),
    "pets37": Plan(
        "Oxford-IIIT Pets",
        ("pets_images", "pets_annotations", "list_pets37_pth", "list_pets37_txt"),
        place_pets,
        "`oxford_pets/images/`, `split_zhou_OxfordPets.json` (train = `trainval.txt`, test = the paper's list, "
        "checked against `test.txt`)",
    ),
    "aircraft": Plan(
        "FGVC-Aircraft",
        ("aircraft", "list_aircraft_pth", "list_aircraft_txt"),
        place_aircraft,
        "`fgvc_aircraft/` = the archive's `data/` (`images/`, `variants.txt`, `images_variant_test.txt` = the "
        "paper's list, checked)",
    ),
    "cars196": Plan(
        "Stanford Cars",
        ("list_cars196_pth", "list_cars196_txt"),
        place_cars,
        "`stanford_cars/cars_test/` (+ `cars_train/`), `split_zhou_StanfordCars.json` (test = the paper's list)",
        given=CARS_GIVEN,
    ),
}
