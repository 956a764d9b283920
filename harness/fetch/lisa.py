"""ReasonSeg (LISA) from what the user hands over: its release lives on a cloud drive that a script cannot
always reach, so ``--from lisa=PATH_OR_URL`` (a folder, a zip/tar archive, or an http(s) URL of one) is
verified and laid out as `tasks.data.lisa` reads it: ``DIR/lisa/ReasonSeg/{train,val,test}/`` of
``<name>.jpg`` + ``<name>.json`` pairs (``explanatory/`` too when present)."""

from __future__ import annotations

from pathlib import Path

from harness.fetch.archives import copy_or_move, find_dirs, staging, unpack_given
from harness.fetch.download import FetchError
from harness.fetch.plan import Job, Plan

LISA_GIVEN = (
    "ReasonSeg (LISA): download ReasonSeg from the link in the README of https://github.com/dvlab-research/LISA "
    "(a cloud drive) and pass the archive or its unpacked folder: --from lisa=PATH_OR_URL. It must hold the "
    "folders val/ and test/ (train/ for training) of <name>.jpg + <name>.json pairs"
)
NEEDED = ("val", "test")
OPTIONAL = ("train", "explanatory")


def _pairs_problem(folder: Path) -> str | None:
    """Why `folder` is not a ReasonSeg split folder (None when every json has its jpg)."""
    jsons = sorted(folder.glob("*.json"))
    if not jsons:
        return "no <name>.json files"
    lonely = [p.name for p in jsons if not p.with_suffix(".jpg").is_file()]
    if lonely:
        return f"{len(lonely)} of {len(jsons)} <name>.json have no <name>.jpg (first: {lonely[0]})"
    return None


def _is_release(folder: Path) -> bool:
    return all((folder / split).is_dir() for split in NEEDED)


def place_lisa(job: Job) -> None:
    target = job.root / "lisa" / "ReasonSeg"
    with staging(target.parent) as tmp:
        roots = [unpack_given(g, tmp / f"given{i}") for i, g in enumerate(job.given)]
        found = find_dirs(roots, _is_release)
        if not found:
            raise FetchError(f"{', '.join(map(str, job.given))}: no folder with val/ and test/ inside. {LISA_GIVEN}")
        release = found[0]
        for split in NEEDED:
            problem = _pairs_problem(release / split)
            if problem:
                raise FetchError(f"{release / split}: {problem}; expected ReasonSeg <name>.jpg + <name>.json pairs")
        keep = not release.is_relative_to(tmp)  # the user's own folder is copied, never moved
        for split in (*NEEDED, *OPTIONAL):
            if (release / split).is_dir():
                target.mkdir(parents=True, exist_ok=True)
                copy_or_move(release / split, target / split, keep_source=keep)


PLANS: dict[str, Plan] = {
    "lisa": Plan(
        "ReasonSeg (LISA)",
        (),
        place_lisa,
        "`lisa/ReasonSeg/{train,val,test}/` (`<name>.jpg` + `<name>.json`)",
        train_files=("lisa/ReasonSeg/train",),
        given=LISA_GIVEN,
    ),
}
