"""`vrft data fetch`: download, verify and lay out what the chosen tasks need (network I/O, so harness).

* `download` - one file: HTTP Range resume, size/checksum verification, atomic placement, progress bar;
* `sources` - the one table of URLs and checksums (also in the README);
* `official_lists` - the paper's classification test lists (``.pth`` via ``torch.load(weights_only=True)``);
* `datasets` - per dataset: the sources it needs and how they become the `vrft data check` layout.

A dataset whose layout already passes `vrft data check` is skipped (a second run fetches nothing).
Downloads are kept in ``DIR/.downloads/`` so that an interrupted run resumes (``*.part``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from harness.fetch.datasets import PLANS
from harness.fetch.download import FetchError, Remote, download, mirrored
from harness.fetch.sources import NOT_SCRIPTABLE, SOURCES

__all__ = ["FetchError", "FetchStep", "fetch", "plan_fetch"]

DOWNLOADS = ".downloads"


@dataclass(frozen=True)
class FetchStep:
    """One dataset to lay out: the files it downloads (None = no script can fetch it: `note` says why)."""

    dataset: str
    remotes: tuple[Remote, ...] | None
    note: str = ""


def plan_fetch(root: Path, datasets: Iterable[str], sources: Mapping[str, Remote] = SOURCES) -> list[FetchStep]:
    """The datasets among `datasets` that are not in place yet under `root`, with what each downloads."""
    from tasks.data.layout import DATASETS

    steps: list[FetchStep] = []
    for name in dict.fromkeys(datasets):
        if name in DATASETS and not DATASETS[name].check(Path(root)):
            continue  # already in place: nothing to do
        plan = PLANS.get(name)
        if plan is None:
            note = NOT_SCRIPTABLE.get(name) or f"not fetched by this version; {DATASETS[name].fix}"
            steps.append(FetchStep(name, None, note))
        else:
            steps.append(FetchStep(name, tuple(sources[k] for k in plan.sources)))
    return steps


def describe(steps: Iterable[FetchStep], mirror: str | None = None) -> str:
    """`--dry-run`: what would be fetched, with sizes where known."""
    lines: list[str] = []
    for step in steps:
        if step.remotes is None:
            lines.append(f"{step.dataset}: manual: {step.note}")
            continue
        for r in step.remotes:
            size = f"{r.size / 1e6:,.1f} MB" if r.size is not None else "size unknown"
            lines.append(f"{step.dataset}: {r.name} ({size}) <- {mirrored(r.url, mirror)}")
    return "\n".join(lines) or "nothing to fetch: every dataset is in place"


def fetch(
    root: Path,
    datasets: Iterable[str],
    *,
    mirror: str | None = None,
    sources: Mapping[str, Remote] = SOURCES,
) -> list[FetchStep]:
    """Download and lay out every dataset of `datasets` that is not in place; returns the manual steps left."""
    root = Path(root)
    steps = plan_fetch(root, datasets, sources)
    manual = [s for s in steps if s.remotes is None]
    todo = [s for s in steps if s.remotes is not None]
    keys = {s.dataset: PLANS[s.dataset].sources for s in todo}
    with tqdm(total=sum(len(k) for k in keys.values()), unit="file", desc="vrft data fetch", position=0) as overall:
        for step in todo:
            files: dict[str, Path] = {}
            for key in keys[step.dataset]:
                remote = sources[key]
                files[key] = root / DOWNLOADS / remote.name
                download(remote, files[key], mirror=mirror, position=1)
                overall.update(1)
            PLANS[step.dataset].place(root, files, sources)
    return manual
