"""Check a data root before a run: which file is missing or broken, and where to download it.

`check_layout(DIR, tasks)` returns a list of `Problem`s (empty = ready) and never raises on bad data:
a user fixing a download wants every problem at once. For each dataset a task needs it checks that
the index/annotation files exist, that they parse with the real loader (so a truncated json or a
wrong file is caught here, not an hour into a run), that the image folder exists, and that every image
it references is a non-empty file (a stat each; ``deep``: every image is decoded). `check_data` also
counts the images per task. The expected tree is in `tasks.data`'s docstring.
Which dataset a task needs is its registry row's `dataset` (`tasks.registry`); how to check and fetch a
dataset is `DATASETS` here.
"""

from __future__ import annotations

import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from tasks.data import DataError
from tasks.data.classification import CLASSIFICATION_DATASETS, index_files, load_classification
from tasks.data.detection import load_coco_detection, load_lvis_detection
from tasks.data.lisa import LISA_SPLITS, lisa_split_dir, load_lisa
from tasks.registry import TASKS
from tasks.spec import ImageRef

COCO_URL = "https://cocodataset.org/#download"
COOP_SPLITS_URL = "https://github.com/KaiyangZhou/CoOp/blob/main/DATASETS.md"


@dataclass(frozen=True)
class Problem:
    """One missing or broken path: `what` is wrong with it, `fix` says where to get the data."""

    tasks: tuple[str, ...]
    path: Path
    what: str
    fix: str

    def __str__(self) -> str:
        return f"[{', '.join(self.tasks)}] {self.path}: {self.what}\n    fix: {self.fix}"


Found = list[tuple[Path, str]]
"""(path, what is wrong with it) pairs."""


@dataclass(frozen=True)
class ImageCount:
    """The images a dataset's annotations reference: how many, and how many of them are bad (missing,
    empty, not a file, or, with ``deep``, not decodable)."""

    total: int
    bad: int
    deep: bool = False


@dataclass(frozen=True)
class _Dataset:
    """A dataset some tasks need: how to get it (`fix`) and how to read its index under a data root
    (`index`: problems with the index files and folders, and the images they reference)."""

    fix: str
    index: Callable[[Path], tuple[Found, list[ImageRef]]]

    def check(self, root: Path, deep: bool = False) -> Found:
        """What stops the dataset from being used under `root` (empty = ready)."""
        return self.inspect(root, deep)[0]

    def inspect(self, root: Path, deep: bool = False) -> tuple[Found, ImageCount | None]:
        """The problems, and the image count (None when the index could not be read). Every referenced
        image is checked: stat only (exists, is a non-empty file), or decoded with `deep`."""
        found, refs = self.index(root)
        if found:
            return found, None
        paths = list(dict.fromkeys(r.path for r in refs))
        bad = [(path, why) for path in paths if (why := _bad_image(path, deep))]
        count = ImageCount(len(paths), len(bad), deep)
        if not bad:
            return [], count
        first = ", ".join(f"{path} ({why})" for path, why in bad[:FIRST_SHOWN])
        more = f", and {len(bad) - FIRST_SHOWN} more" if len(bad) > FIRST_SHOWN else ""
        kind = "missing, empty or undecodable" if deep else "missing or empty"
        what = f"{len(bad)} of {len(paths)} images referenced by the annotations are {kind}: {first}{more}"
        return [(bad[0][0], what)], count


FIRST_SHOWN = 5  # missing images named in a problem


def _bad_image(path: Path, deep: bool) -> str:
    """Why an image cannot be used ("" when it can): a stat, and with `deep` a full decode."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return "missing"
    except (OSError, ValueError) as e:
        return f"cannot stat: {e}"
    if not stat.S_ISREG(st.st_mode):
        return "not a file"
    if st.st_size == 0:
        return "empty"
    if deep:
        try:
            with Image.open(path) as im:
                im.load()
        except Exception as e:  # any decoder failure is a finding, never a crash of the check
            return f"does not decode: {type(e).__name__}: {e}"
    return ""


def _blame(candidates: Sequence[Path], message: str) -> Path:
    """The file a loader error message names (errors start with the file), else the first candidate."""
    named = [p for p in candidates if str(p) in message]
    return named[0] if named else candidates[0]


def _files_then(
    required: Sequence[Path], load: Callable[[], list[ImageRef]], image_dirs: Sequence[Path]
) -> tuple[Found, list[ImageRef]]:
    """Missing files first; else parse with the loader; else the image folders; else the images."""
    missing = [(p, "missing file") for p in required if not p.is_file()]
    if missing:
        return missing, []
    try:
        refs = load()
    except DataError as e:
        return [(_blame(required, str(e)), f"does not load: {e}")], []
    dirs = [(d, "missing image folder") for d in image_dirs if not d.is_dir()]
    return dirs, refs


def _coco(root: Path) -> tuple[Found, list[ImageRef]]:
    ann = root / "coco" / "annotations" / "instances_val2017.json"
    images = root / "coco" / "val2017"
    return _files_then([ann], lambda: list(load_coco_detection(ann, images).images.values()), [images])


def _lvis(root: Path) -> tuple[Found, list[ImageRef]]:
    ann = root / "lvis" / "annotations" / "lvis_v1_val.json"
    roots = [root / "lvis", root / "coco"]
    out, refs = _files_then([ann], lambda: list(load_lvis_detection(ann, roots).images.values()), [])
    if not out and not any((r / "val2017").is_dir() for r in roots):
        out = [(roots[0] / "val2017", f"missing image folder (also not found at {roots[1] / 'val2017'})")]
    return out, refs


def _lisa(root: Path) -> tuple[Found, list[ImageRef]]:
    out: Found = []
    refs: list[ImageRef] = []
    for split in LISA_SPLITS:
        folder = lisa_split_dir(root, split)
        if not folder.is_dir():
            out.append((folder, "missing folder (expected ReasonSeg <name>.jpg + <name>.json pairs)"))
            continue
        try:
            samples = load_lisa(root, split, read_sizes=False)
        except DataError as e:
            named = [p for p in folder.glob("*.json") if str(p) in str(e)]
            out.append((_blame(named or [folder], str(e)), f"does not load: {e}"))
            continue
        refs += [s.image for s in samples]
    return out, refs


def _classification(dataset: str) -> Callable[[Path], tuple[Found, list[ImageRef]]]:
    def index(root: Path) -> tuple[Found, list[ImageRef]]:
        def load() -> list[ImageRef]:
            data = load_classification(dataset, root, "test", read_sizes=False)
            return [s.image for s in data.samples]

        image_dir = root / CLASSIFICATION_DATASETS[dataset].image_dir
        return _files_then(index_files(dataset, root, "test"), load, [image_dir])

    return index


_COOP = f"and the CoOp split file split_zhou_{{}}.json (see {COOP_SPLITS_URL})"
DATASETS: dict[str, _Dataset] = {
    "coco": _Dataset(
        f"download '2017 Val images' and '2017 Train/Val annotations' from {COCO_URL}; unzip into "
        "DIR/coco/ (val2017/, annotations/instances_val2017.json)",
        _coco,
    ),
    "lvis": _Dataset(
        "download the LVIS v1 val annotations (lvis_v1_val.json) from https://www.lvisdataset.org/dataset "
        "into DIR/lvis/annotations/; the images are COCO 2017 (val2017/ and train2017/ from "
        f"{COCO_URL}) under DIR/lvis/ or DIR/coco/",
        _lvis,
    ),
    "lisa": _Dataset(
        "download the ReasonSeg dataset (link in the README of https://github.com/dvlab-research/LISA) "
        "and unpack it so that DIR/lisa/ReasonSeg/val/ and .../test/ hold <name>.jpg + <name>.json",
        _lisa,
    ),
    "flowers102": _Dataset(
        "download 102flowers.tgz from https://www.robots.ox.ac.uk/~vgg/data/flowers/102/ into "
        "DIR/oxford_flowers/ (jpg/) " + _COOP.format("OxfordFlowers"),
        _classification("flowers102"),
    ),
    "pets37": _Dataset(
        "download images.tar.gz from https://www.robots.ox.ac.uk/~vgg/data/pets/ into DIR/oxford_pets/ "
        "(images/) " + _COOP.format("OxfordPets"),
        _classification("pets37"),
    ),
    "aircraft": _Dataset(
        "download fgvc-aircraft-2013b.tar.gz from "
        "https://www.robots.ox.ac.uk/~vgg/data/fgvc-aircraft/ and move the contents of its "
        "data/ folder (images/, variants.txt, images_variant_*.txt) into DIR/fgvc_aircraft/",
        _classification("aircraft"),
    ),
    "cars196": _Dataset(
        "put the Stanford Cars images (cars_train/, cars_test/) in DIR/stanford_cars/ " + _COOP.format("StanfordCars"),
        _classification("cars196"),
    ),
}

TASK_DATASETS: dict[str, str] = {name: info.dataset for name, info in TASKS.items()}
"""Task -> the dataset it reads (each registry row's `dataset`)."""


@dataclass(frozen=True)
class LayoutReport:
    """`check_data`'s answer: the problems (empty = ready) and, per task, the images its dataset
    references (`ImageCount`; absent when the dataset's index could not be read)."""

    problems: list[Problem]
    images: dict[str, ImageCount]

    def summary(self) -> list[str]:
        """One line per task: ``coco_fewshot: 5000 images, all present`` / ``..., 3 missing or empty``."""
        lines = []
        for task, c in self.images.items():
            state = "missing, empty or undecodable" if c.deep else "missing or empty"
            ok = "all decode" if c.deep else "all present"
            lines.append(f"{task}: {c.total} images, " + (f"{c.bad} {state}" if c.bad else ok))
        return lines


def check_data(root: Path, tasks: Sequence[str], *, deep: bool = False) -> LayoutReport:
    """Problems that stop `tasks` from running on the data root `root`, and the image counts per task.

    Datasets shared by several tasks (coco_fewshot and coco_ov) are checked once. An unknown task
    name is reported as a problem too, with the list of known names. Every image the annotations
    reference is checked (a stat each; `deep`: decoded), and a problem names the first few bad ones.
    """
    root = Path(root)
    needed: dict[str, list[str]] = {}
    problems: list[Problem] = []
    images: dict[str, ImageCount] = {}
    for task in tasks:
        if task not in TASK_DATASETS:
            problems.append(Problem((task,), root, "unknown task name", f"use one of {', '.join(TASK_DATASETS)}"))
            continue
        needed.setdefault(TASK_DATASETS[task], []).append(task)
    for name, users in needed.items():
        ds = DATASETS.get(name)
        if ds is None:  # a registry row naming a dataset this module cannot check
            fix = f"add {name!r} to tasks.data.layout.DATASETS (or fix the row's dataset in tasks.registry)"
            problems.append(Problem(tuple(users), root, f"no layout check for dataset {name!r}", fix))
            continue
        count: ImageCount | None = None
        try:
            found, count = ds.inspect(root, deep)
        except (OSError, ValueError) as e:  # a permission error or the like: still report, never raise
            found = [(root, f"cannot check {name}: {e}")]
        problems += [Problem(tuple(users), path, what, ds.fix) for path, what in found]
        if count is not None:
            images.update(dict.fromkeys(users, count))
    return LayoutReport(problems, images)


def check_layout(root: Path, tasks: Sequence[str], *, deep: bool = False) -> list[Problem]:
    """The problems of `check_data` (empty list = ready)."""
    return check_data(root, tasks, deep=deep).problems


def format_problems(problems: Sequence[Problem], root: Path | None = None) -> str:
    """Human-readable report (one block per problem) for the CLI."""
    if not problems:
        return f"data layout OK{f' under {root}' if root is not None else ''}"
    return "\n".join(str(p) for p in problems)
