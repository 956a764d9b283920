"""Per dataset: which `SOURCES` it needs and how the verified downloads are laid out under the data root,
in exactly the layout `vrft data check` (`tasks.data.layout`) accepts.

Archives are unpacked into a temporary folder beside the target and moved into place with ``os.replace``
only when complete; tar members go through the ``data`` extraction filter and zip members with absolute or
``..`` paths are refused, so an archive can never write outside its folder.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from harness.fetch.download import FetchError, Remote
from harness.fetch.official_lists import read_class_names, read_test_list
from harness.fetch.sources import TEST_COUNTS
from harness.records import atomic_write_text


@dataclass(frozen=True)
class Plan:
    """A dataset `vrft data fetch` can lay out: the source keys it downloads, then `place`."""

    sources: tuple[str, ...]
    place: Callable[[Path, Mapping[str, Path], Mapping[str, Remote]], None]


@contextmanager
def _staging(target_parent: Path) -> Iterator[Path]:
    target_parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".fetch-", dir=target_parent))
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _move_into_place(src: Path, dest: Path) -> None:
    if not src.exists():
        raise FetchError(f"{dest}: the archive has no {src.name}/ where the upstream layout has it")
    if dest.is_dir():
        shutil.rmtree(dest)
    os.replace(src, dest)


def _extract_tar(archive: Path, into: Path) -> None:
    try:
        with tarfile.open(archive) as tf:
            tf.extractall(into, filter="data")
    except (tarfile.TarError, EOFError, OSError) as err:
        raise FetchError(f"{archive}: broken archive ({err}); delete it and run again") from None


def _extract_zip(archive: Path, into: Path, members: Callable[[str], bool] = lambda _: True) -> None:
    try:
        with zipfile.ZipFile(archive) as zf:
            for name in zf.namelist():
                path = PurePosixPath(name)
                if path.is_absolute() or ".." in path.parts:
                    raise FetchError(f"{archive}: member {name!r} points outside the archive; refused")
                if members(name):
                    zf.extract(name, into)
    except (zipfile.BadZipFile, EOFError, OSError) as err:
        raise FetchError(f"{archive}: broken archive ({err}); delete it and run again") from None


def _load_mat(path: Path, key: str) -> list[int]:
    from scipy.io import loadmat  # a dependency of the cpu/gpu stacks; only these two VGG files need it

    try:
        return [int(v) for v in loadmat(path)[key].ravel()]
    except (OSError, KeyError, ValueError) as err:
        raise FetchError(f"{path}: expected a MATLAB file with {key!r} ({err})") from None


# ---- COCO 2017 ------------------------------------------------------------------------------------------
def _place_coco(root: Path, files: Mapping[str, Path], sources: Mapping[str, Remote]) -> None:
    coco = root / "coco"
    wanted = {"annotations/instances_val2017.json", "annotations/instances_train2017.json"}
    with _staging(coco) as tmp:
        _extract_zip(files["coco_annotations"], tmp, lambda n: n in wanted)
        _extract_zip(files["coco_val2017"], tmp)
        (coco / "annotations").mkdir(exist_ok=True)
        for name in sorted(wanted):
            got = tmp / name
            if got.is_file():
                os.replace(got, coco / name)
            elif name.endswith("val2017.json"):
                raise FetchError(f"{files['coco_annotations']}: no {name} in the archive")
        _move_into_place(tmp / "val2017", coco / "val2017")


# ---- Oxford Flowers 102 + the paper's test list ------------------------------------------------------
_FLOWER = re.compile(r"image_(\d+)\.jpg")


def _official_test(dataset: str, files: Mapping[str, Path], marker: str) -> tuple[list[str], list[tuple[str, int]]]:
    names = read_class_names(files[f"list_{dataset}_txt"])
    test = read_test_list(files[f"list_{dataset}_pth"], marker, len(names))
    if len(test) != TEST_COUNTS[dataset]:
        raise FetchError(
            f"{files[f'list_{dataset}_pth']}: {len(test)} test images, expected {TEST_COUNTS[dataset]} "
            "(the paper's test list)"
        )
    return names, test


def _place_flowers(root: Path, files: Mapping[str, Path], sources: Mapping[str, Remote]) -> None:
    folder = root / "oxford_flowers"
    names, test = _official_test("flowers102", files, "oxford_flowers/jpg/")
    labels = _load_mat(files["flowers_labels"], "labels")  # 1-based, image_%05d order
    splits: dict[str, list[list[object]]] = {}
    for split, key in (("train", "trnid"), ("val", "valid")):
        ids = _load_mat(files["flowers_setid"], key)
        splits[split] = [[f"image_{i:05d}.jpg", labels[i - 1] - 1, names[labels[i - 1] - 1]] for i in ids]
    for impath, label in test:
        m = _FLOWER.fullmatch(impath)
        if m and 0 < int(m.group(1)) <= len(labels) and labels[int(m.group(1)) - 1] - 1 != label:
            raise FetchError(
                f"{files['list_flowers102_pth']}: {impath} has label {label}, imagelabels.mat says "
                f"{labels[int(m.group(1)) - 1] - 1}; the two files do not belong together"
            )
    splits["test"] = [[p, lab, names[lab]] for p, lab in test]
    with _staging(folder) as tmp:
        _extract_tar(files["flowers_images"], tmp)
        _move_into_place(tmp / "jpg", folder / "jpg")
    split_file = folder / "split_zhou_OxfordFlowers.json"
    if not split_file.is_file():  # a CoOp split file the user already has is kept
        atomic_write_text(split_file, json.dumps(splits))


PLANS: dict[str, Plan] = {
    "coco": Plan(("coco_annotations", "coco_val2017"), _place_coco),
    "flowers102": Plan(
        ("flowers_images", "flowers_labels", "flowers_setid", "list_flowers102_pth", "list_flowers102_txt"),
        _place_flowers,
    ),
}
