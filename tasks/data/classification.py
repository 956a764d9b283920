"""Fine-grained classification test sets: CoOp split files, and FGVC-Aircraft's own archive files.

Layout under the data root ``DIR`` (these splits give exactly the paper's test sizes,
2463 / 3669 / 3333 / 8041, PROTOCOL §3):

* ``flowers102``: ``DIR/oxford_flowers/split_zhou_OxfordFlowers.json``, images ``DIR/oxford_flowers/jpg/<impath>``
* ``pets37``: ``DIR/oxford_pets/split_zhou_OxfordPets.json``, images ``DIR/oxford_pets/images/<impath>``
* ``cars196``: ``DIR/stanford_cars/split_zhou_StanfordCars.json``, images ``DIR/stanford_cars/<impath>``
  (impath like ``cars_test/00001.jpg``)
* ``aircraft``: ``DIR/fgvc_aircraft/variants.txt`` + ``DIR/fgvc_aircraft/images_variant_<split>.txt``,
  images ``DIR/fgvc_aircraft/images/<image_id>.jpg``

* **CoOp split json** (``split_zhou_*.json``, see CoOp's DATASETS.md):
  ``{"train": [[impath, label, classname], ...], "val": [...], "test": [...]}``. The class list is
  rebuilt from the entries of all splits (label -> classname): every label 0..C-1 must occur and one
  label may not carry two names. Names are CoOp's (pets: ``american_bulldog``; cars:
  ``2012 BMW M3 Coupe``).
* **FGVC-Aircraft**: ``variants.txt`` holds the 100 variant names in label order, one per line;
  ``images_variant_<split>.txt`` holds lines ``<image_id> <variant name>``, and the name may contain
  spaces (``1234567 Cessna 172``).

`Sample.doc_id` is the image path as written in the index (relative to the image folder above); a path
that leads outside the image folder is refused (`tasks.data.data_path`). Image sizes are read from each
file's header with PIL (no decode) when ``read_sizes=True``, which also proves every image is there;
``read_sizes=False`` records 0x0 and touches no image, for re-scoring where the pixels are absent;
``unreadable_ok=True`` records 0x0 for the images that are missing or unreadable (an evaluation sends
those requests anyway and records each as failed with its reason).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tasks.data import DataError, data_path, image_size, read_json
from tasks.spec import ClassificationSample, ImageRef

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class ClassificationLayout:
    """Where one dataset lives under the data root: `folder`, its index file, its image folder."""

    folder: str
    index: str  # the CoOp split json, or for aircraft the class-name file
    image_dir: str  # relative to the data root
    coop: bool = True


CLASSIFICATION_DATASETS: Mapping[str, ClassificationLayout] = {
    "flowers102": ClassificationLayout("oxford_flowers", "split_zhou_OxfordFlowers.json", "oxford_flowers/jpg"),
    "pets37": ClassificationLayout("oxford_pets", "split_zhou_OxfordPets.json", "oxford_pets/images"),
    "cars196": ClassificationLayout("stanford_cars", "split_zhou_StanfordCars.json", "stanford_cars"),
    "aircraft": ClassificationLayout("fgvc_aircraft", "variants.txt", "fgvc_aircraft/images", coop=False),
}


@dataclass(frozen=True)
class ClassificationData:
    """One split of one dataset: class names in label order and the samples in file order."""

    dataset: str
    split: str
    class_names: list[str]
    samples: list[ClassificationSample]
    source: Path  # the index file the samples came from


def _layout(dataset: str) -> ClassificationLayout:
    try:
        return CLASSIFICATION_DATASETS[dataset]
    except KeyError:
        raise ValueError(
            f"unknown classification dataset {dataset!r}: expected one of {sorted(CLASSIFICATION_DATASETS)}"
        ) from None


def index_files(dataset: str, root: Path, split: str = "test") -> list[Path]:
    """The index files `load_classification` reads for `dataset`/`split` (for layout checks)."""
    lay = _layout(dataset)
    folder = Path(root) / lay.folder
    if lay.coop:
        return [folder / lay.index]
    return [folder / lay.index, folder / f"images_variant_{split}.txt"]


def _coop_entries(path: Path, split: str) -> tuple[list[str], list[tuple[str, int]]]:
    """Class names (label order) and the (impath, label) entries of `split` in a CoOp split json."""
    data = read_json(path, "CoOp split file")
    if not isinstance(data, dict) or split not in data:
        raise DataError(
            f"{path}: missing split {split!r}; expected a CoOp split json with keys "
            f"'train', 'val', 'test' holding [impath, label, classname] lists"
        )
    names: dict[int, str] = {}
    chosen: list[tuple[str, int]] = []
    for part, entries in data.items():
        if not isinstance(entries, list):
            raise DataError(f"{path}: split {part!r} must be a list of [impath, label, classname]")
        for i, entry in enumerate(entries):
            where = f"{path}: {part}[{i}]"
            if (
                not isinstance(entry, list)
                or len(entry) != 3
                or not isinstance(entry[0], str)
                or isinstance(entry[1], bool)
                or not isinstance(entry[1], int)
                or not isinstance(entry[2], str)
            ):
                raise DataError(f"{where}: expected [impath (str), label (int), classname (str)], got {entry!r}")
            impath, label, cname = entry
            if label < 0:
                raise DataError(f"{where}: label {label} out of range; expected 0..C-1")
            if names.setdefault(label, cname) != cname:
                raise DataError(
                    f"{where}: label {label} is named {cname!r} here but {names[label]!r} "
                    f"earlier; expected one class name per label"
                )
            if part == split:
                chosen.append((impath, label))
    if not names:
        raise DataError(f"{path}: no entries; expected lists of [impath, label, classname]")
    n_classes = max(names) + 1
    gaps = [lab for lab in range(n_classes) if lab not in names]
    if gaps:
        raise DataError(
            f"{path}: labels {gaps[:10]} never occur although label {n_classes - 1} does "
            f"(label out of range?); expected every label 0..C-1 to name a class"
        )
    return [names[lab] for lab in range(n_classes)], chosen


def _lines(path: Path, what: str) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"{what} not found: {path}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"{what} cannot be read: {path}: {e}") from None
    return text.splitlines()


def _aircraft_entries(folder: Path, split: str) -> tuple[list[str], list[tuple[str, int]]]:
    """FGVC-Aircraft's own files: variants.txt (label order) and images_variant_<split>.txt."""
    vpath = folder / "variants.txt"
    class_names = [ln.strip() for ln in _lines(vpath, "FGVC-Aircraft class list") if ln.strip()]
    if not class_names:
        raise DataError(f"{vpath}: empty; expected one variant name per line")
    if len(set(class_names)) != len(class_names):
        dup = sorted({n for n in class_names if class_names.count(n) > 1})
        raise DataError(f"{vpath}: duplicate variant names {dup}")
    label_of = {n: i for i, n in enumerate(class_names)}
    spath = folder / f"images_variant_{split}.txt"
    entries: list[tuple[str, int]] = []
    for lineno, line in enumerate(_lines(spath, f"FGVC-Aircraft {split} list"), start=1):
        if not line.strip():
            continue
        image_id, _, variant = line.strip().partition(" ")
        variant = variant.strip()
        if not variant:
            raise DataError(
                f"{spath}: line {lineno} {line.strip()!r} has no variant; expected '<image_id> <variant name>'"
            )
        if variant not in label_of:
            raise DataError(f"{spath}: line {lineno}: variant {variant!r} is not in {vpath.name}")
        entries.append((f"{image_id}.jpg", label_of[variant]))
    return class_names, entries


def load_classification(
    dataset: str, root: Path, split: str = "test", *, read_sizes: bool = True, unreadable_ok: bool = False
) -> ClassificationData:
    """Load `split` of `dataset` (flowers102, pets37, aircraft, cars196) from the data root `root`."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}: expected one of {SPLITS}")
    lay = _layout(dataset)
    root = Path(root)
    folder = root / lay.folder
    if lay.coop:
        source = folder / lay.index
        class_names, entries = _coop_entries(source, split)
    else:
        source = folder / f"images_variant_{split}.txt"
        class_names, entries = _aircraft_entries(folder, split)
    image_dir = root / lay.image_dir
    samples: list[ClassificationSample] = []
    seen: set[str] = set()
    for i, (impath, label) in enumerate(entries):
        if impath in seen:
            raise DataError(f"{source}: {split}[{i}]: image {impath!r} listed twice")
        seen.add(impath)
        where = f"{dataset} {split}[{i}] ({source})"
        path = data_path(image_dir, impath, where, "image path")
        w, h = image_size(path, where, unknown_ok=unreadable_ok) if read_sizes else (0, 0)
        samples.append(
            ClassificationSample(doc_id=impath, image=ImageRef(path, w, h), label=label, class_name=class_names[label])
        )
    return ClassificationData(dataset=dataset, split=split, class_names=class_names, samples=samples, source=source)
