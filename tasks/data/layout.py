"""Check a data root before a run: which file is missing or broken, and where to download it.

`check_layout(DIR, tasks)` returns a list of `Problem`s (empty = ready) and never raises on bad data:
a user fixing a download wants every problem at once. For each dataset a task needs it checks that
the index/annotation files exist, that they parse with the real loader (so a truncated json or a
wrong file is caught here, not an hour into a run), that the image folder exists, and that a few
images it references, spread over the file, exist. The expected tree is in `tasks.data`'s docstring.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tasks.data import DataError
from tasks.data.classification import CLASSIFICATION_DATASETS, index_files, load_classification
from tasks.data.detection import load_coco_detection, load_lvis_detection
from tasks.data.lisa import LISA_SPLITS, lisa_split_dir, load_lisa
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


@dataclass(frozen=True)
class _Dataset:
    """A dataset some tasks need: how to get it and how to check it under a data root."""

    fix: str
    check: Callable[[Path], list[tuple[Path, str]]]


def _spot_check(refs: Sequence[ImageRef], n: int = 5) -> list[tuple[Path, str]]:
    """Up to `n` images spread over the list (first, last, between) that do not exist."""
    if not refs:
        return []
    picks = sorted({round(i * (len(refs) - 1) / max(n - 1, 1)) for i in range(n)})
    return [
        (refs[i].path, f"image referenced by the annotations (item {i} of {len(refs)}) is missing")
        for i in picks
        if not refs[i].path.is_file()
    ]


def _blame(candidates: Sequence[Path], message: str) -> Path:
    """The file a loader error message names (errors start with the file), else the first candidate."""
    named = [p for p in candidates if str(p) in message]
    return named[0] if named else candidates[0]


def _files_then(
    required: Sequence[Path], load: Callable[[], list[ImageRef]], image_dirs: Sequence[Path]
) -> list[tuple[Path, str]]:
    """Missing files first; else parse with the loader; else image folders and a spot check."""
    missing = [(p, "missing file") for p in required if not p.is_file()]
    if missing:
        return missing
    try:
        refs = load()
    except DataError as e:
        return [(_blame(required, str(e)), f"does not load: {e}")]
    dirs = [(d, "missing image folder") for d in image_dirs if not d.is_dir()]
    return dirs or _spot_check(refs)


def _coco(root: Path) -> list[tuple[Path, str]]:
    ann = root / "coco" / "annotations" / "instances_val2017.json"
    images = root / "coco" / "val2017"
    return _files_then([ann], lambda: list(load_coco_detection(ann, images).images.values()), [images])


def _lvis(root: Path) -> list[tuple[Path, str]]:
    ann = root / "lvis" / "annotations" / "lvis_v1_val.json"
    roots = [root / "lvis", root / "coco"]
    out = _files_then([ann], lambda: list(load_lvis_detection(ann, roots).images.values()), [])
    if not out and not any((r / "val2017").is_dir() for r in roots):
        out = [(roots[0] / "val2017", f"missing image folder (also not found at {roots[1] / 'val2017'})")]
    return out


def _lisa(root: Path) -> list[tuple[Path, str]]:
    out: list[tuple[Path, str]] = []
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
        out += _spot_check([s.image for s in samples])
    return out


def _classification(dataset: str) -> Callable[[Path], list[tuple[Path, str]]]:
    def check(root: Path) -> list[tuple[Path, str]]:
        def load() -> list[ImageRef]:
            data = load_classification(dataset, root, "test", read_sizes=False)
            return [s.image for s in data.samples]

        image_dir = root / CLASSIFICATION_DATASETS[dataset].image_dir
        return _files_then(index_files(dataset, root, "test"), load, [image_dir])

    return check


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

TASK_DATASETS: dict[str, str] = {
    "fgvc_flowers102": "flowers102",
    "fgvc_pets37": "pets37",
    "fgvc_aircraft": "aircraft",
    "fgvc_cars196": "cars196",
    "coco_fewshot": "coco",
    "coco_ov": "coco",
    "lvis_fewshot": "lvis",
    "lvis_ov": "lvis",
    "lisa_grounding": "lisa",
}


def check_layout(root: Path, tasks: Sequence[str]) -> list[Problem]:
    """Problems that stop `tasks` from running on the data root `root` (empty list = ready).

    Datasets shared by several tasks (coco_fewshot and coco_ov) are checked once. An unknown task
    name is reported as a problem too, with the list of known names.
    """
    root = Path(root)
    needed: dict[str, list[str]] = {}
    problems: list[Problem] = []
    for task in tasks:
        if task not in TASK_DATASETS:
            problems.append(Problem((task,), root, "unknown task name", f"use one of {', '.join(TASK_DATASETS)}"))
            continue
        needed.setdefault(TASK_DATASETS[task], []).append(task)
    for name, users in needed.items():
        ds = DATASETS[name]
        try:
            found = ds.check(root)
        except (OSError, ValueError) as e:  # a permission error or the like: still report, never raise
            found = [(root, f"cannot check {name}: {e}")]
        problems += [Problem(tuple(users), path, what, ds.fix) for path, what in found]
    return problems


def format_problems(problems: Sequence[Problem], root: Path | None = None) -> str:
    """Human-readable report (one block per problem) for the CLI."""
    if not problems:
        return f"data layout OK{f' under {root}' if root is not None else ''}"
    return "\n".join(str(p) for p in problems)
