"""COCO 2017, LVIS v1 and the official exist maps, laid out as `tasks.data.detection` and
``protocol=exist-map=2B|7B`` read them.

* COCO: ``annotations_trainval2017.zip`` (``annotations/instances_{val,train}2017.json``; train is what k-shot
  samples from) and ``val2017.zip``. Training images are never fetched as the 19 GB archive: the sampled
  ones come one by one through their ``coco_url`` (`harness.fetch.images`, from `vrft data fetch --train`).
* LVIS v1: ``lvis_v1_val.json.zip`` (and ``lvis_v1_train.json.zip`` with ``--train``); its images are COCO
  2017 images, so only those the annotations reference and that are not already under ``DIR/coco/`` are
  fetched through their ``coco_url`` into ``DIR/lvis/<split>/``.
* Exist maps: the official ``exist_map_{coco,lvis}_Qwen2_vl_{2B,7B}_baseline.json``, placed by
  `tasks.detection.task.official_exist_map`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from harness.fetch.archives import extract_zip, move_into_place, staging
from harness.fetch.download import FetchError
from harness.fetch.images import fetch_images
from harness.fetch.plan import Job, Plan
from tasks.data import DataError
from tasks.data.detection import load_lvis_detection
from tasks.detection.task import OFFICIAL_EXIST_MAPS, official_exist_map

COCO_TRAIN = "coco/annotations/instances_train2017.json"
LVIS_VAL = "lvis/annotations/lvis_v1_val.json"
LVIS_TRAIN = "lvis/annotations/lvis_v1_train.json"


def place_coco(job: Job) -> None:
    coco = job.root / "coco"
    wanted = {"annotations/instances_val2017.json", "annotations/instances_train2017.json"}
    with staging(coco) as tmp:
        extract_zip(job.files["coco_annotations"], tmp, lambda n: n in wanted)
        extract_zip(job.files["coco_val2017"], tmp, lambda n: n.startswith("val2017/"))
        (coco / "annotations").mkdir(exist_ok=True)
        for name in sorted(wanted):
            got = tmp / name
            if got.is_file():
                os.replace(got, coco / name)
            elif name.endswith("val2017.json") or job.train:
                raise FetchError(f"{job.files['coco_annotations']}: no {name} in the archive")
        move_into_place(tmp / "val2017", coco / "val2017", job.files["coco_val2017"])


def _place_json(archive: Path, member: str, dest: Path) -> None:
    with staging(dest.parent) as tmp:
        extract_zip(archive, tmp, lambda n: n == member)
        move_into_place(tmp / member, dest, archive)


def place_lvis(job: Job) -> None:
    root = job.root
    _place_json(job.files["lvis_val"], "lvis_v1_val.json", root / LVIS_VAL)
    if "lvis_train" in job.files:
        _place_json(job.files["lvis_train"], "lvis_v1_train.json", root / LVIS_TRAIN)
    try:
        data = load_lvis_detection(root / LVIS_VAL, [root / "lvis", root / "coco"])
    except DataError as err:
        raise FetchError(f"{job.files['lvis_val']}: its lvis_v1_val.json does not load: {err}") from None
    urls = {int(img["id"]): img["coco_url"] for img in data.gt["images"]}
    wanted = [(urls[i], ref.path) for i, ref in data.images.items()]  # absent ones resolve under DIR/lvis/
    fetch_images(wanted, mirror=job.mirror, what="LVIS images")


def _maps_done(dataset: str) -> Callable[[Path], bool]:
    def done(root: Path) -> bool:
        return all(official_exist_map(root, dataset, size).is_file() for size in OFFICIAL_EXIST_MAPS)

    return done


def _place_maps(dataset: str) -> Callable[[Job], None]:
    def place(job: Job) -> None:
        for size in OFFICIAL_EXIST_MAPS:
            dest = official_exist_map(job.root, dataset, size)
            dest.parent.mkdir(parents=True, exist_ok=True)
            with staging(dest.parent) as tmp:  # a copy: the verified download stays for a rerun
                (tmp / dest.name).write_bytes(job.files[f"exist_map_{dataset}_{size}"].read_bytes())
                move_into_place(tmp / dest.name, dest)

    return place


PLANS: dict[str, Plan] = {
    "coco": Plan(
        "COCO 2017",
        ("coco_annotations", "coco_val2017"),
        place_coco,
        "`coco/annotations/instances_{val,train}2017.json`, `coco/val2017/`; `--train`: the sampled `train2017/` "
        "images by `coco_url`",
        train_files=(COCO_TRAIN,),
    ),
    "lvis": Plan(
        "LVIS v1",
        ("lvis_val",),
        place_lvis,
        "`lvis/annotations/lvis_v1_{val,train}.json`; the images the annotations reference, by `coco_url`, into "
        "`lvis/{val,train}2017/` (those in `coco/val2017/` are reused)",
        train_sources=("lvis_train",),
        train_files=(LVIS_TRAIN,),
    ),
    **{
        f"exist_maps_{ds}": Plan(
            f"exist maps ({ds.upper()})",
            tuple(f"exist_map_{ds}_{size}" for size in OFFICIAL_EXIST_MAPS),
            _place_maps(ds),
            f"`{ds}/exist_map_{ds}_Qwen2_vl_{{2B,7B}}_baseline.json`: `--task-arg protocol=exist-map=2B` (or `7B`)",
            done=_maps_done(ds),
        )
        for ds in ("coco", "lvis")
    },
}

COMPANIONS: dict[str, tuple[str, ...]] = {"coco": ("exist_maps_coco",), "lvis": ("exist_maps_lvis",)}
"""Dataset -> what its tasks also need that `vrft data check` does not check (the exist-map protocol)."""
