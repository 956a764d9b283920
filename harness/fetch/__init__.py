"""`vrft data fetch`: download, verify and lay out what the chosen tasks need (network I/O, so harness).

* `download` - one file: HTTP Range resume, size/checksum verification, atomic placement, progress bar;
* `images` - single images by URL (LVIS, sampled COCO train2017), several at once, each decoded;
* `sources` - the one table of URLs and checksums (also in the README: `datasets.sources_table`);
* `official_lists` - the paper's classification test lists (``.pth`` via ``torch.load(weights_only=True)``);
* `archives` - unpacking into a staging folder, moved into place only when complete;
* `datasets` - `PLANS`: per dataset, the sources it needs and how they become the `vrft data check` layout
  (`detection`, `fgvc`, `lisa`; the `Plan` / `Job` types in `plan`).

A dataset whose layout already passes `vrft data check` is skipped (a second run fetches nothing).
Downloads are kept in ``DIR/.downloads/`` so that an interrupted run resumes (``*.part``). Stanford Cars
and ReasonSeg are laid out from what the user hands over (``--from DATASET=PATH_OR_URL``); without it
their step says exactly what to download. ``--train`` adds the training files: the LVIS train
annotations here, and what the training plugin registers (`register_training`: the paper's ``datasets``
training sets and the sampled COCO/LVIS train images of the k-shot recipes), so that harness never imports it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from harness.fetch.download import FetchError, Remote, download, mirrored

# The dataset handlers (and the sources table) are imported where they are used: this package is imported
# whenever the `vrft` command starts, for `register_training`, and they pull in the task data loaders.

__all__ = ["FetchError", "FetchStep", "fetch", "fetch_training", "parse_given", "plan_fetch", "register_training"]

DOWNLOADS = ".downloads"

TrainingFetcher = Callable[..., Iterable[str]]
"""``fetcher(root, tasks, *, mirror, seed)`` fetches what training needs beyond the evaluation data and
yields a line for each thing done."""
_TRAINING: list[TrainingFetcher] = []


def register_training(fetcher: TrainingFetcher) -> None:
    """Called by the training plugin when it joins the `vrft` command (`train_plugin.cli.add_parser`)."""
    if fetcher not in _TRAINING:
        _TRAINING.append(fetcher)


@dataclass(frozen=True)
class FetchStep:
    """One dataset to lay out: the files it downloads by source key (None = it cannot be fetched without
    the user's help: `note` says what to download) and what the user handed over (``--from``)."""

    dataset: str
    remotes: Mapping[str, Remote] | None
    note: str = ""
    given: tuple[str, ...] = ()


def _order(datasets: Iterable[str]) -> list[str]:
    from harness.fetch.datasets import COMPANIONS, PLANS

    names = [n for d in dict.fromkeys(datasets) for n in (d, *COMPANIONS.get(d, ()))]
    rank = {name: i for i, name in enumerate(PLANS)}
    return sorted(dict.fromkeys(names), key=lambda n: rank.get(n, len(rank)))


def in_place(root: Path, name: str, train: bool = False) -> bool:
    """Whether `name` is laid out under `root` (`vrft data check`'s verdict, or the plan's own check), with
    its training files when `train`."""
    from harness.fetch.datasets import PLANS
    from tasks.data.layout import DATASETS

    plan = PLANS.get(name)
    if plan is not None and plan.done is not None:
        ready = plan.done(root)
    else:
        ready = name in DATASETS and not DATASETS[name].check(root)
    return ready and (not train or plan is None or all((root / f).exists() for f in plan.train_files))


def plan_fetch(
    root: Path,
    datasets: Iterable[str],
    sources: Mapping[str, Remote] | None = None,
    *,
    train: bool = False,
    given: Mapping[str, Sequence[str]] | None = None,
) -> list[FetchStep]:
    """The datasets among `datasets` (and their companions) that are not in place yet, with what each downloads."""
    from harness.fetch.datasets import PLANS
    from harness.fetch.sources import SOURCES
    from tasks.data.layout import DATASETS

    sources = SOURCES if sources is None else sources
    given = given or {}
    steps: list[FetchStep] = []
    for name in _order(datasets):
        if in_place(Path(root), name, train):
            continue
        plan = PLANS.get(name)
        if plan is None:
            steps.append(FetchStep(name, None, f"not fetched by this version; {DATASETS[name].fix}"))
        elif plan.given and not given.get(name):
            steps.append(FetchStep(name, None, plan.given))
        else:
            keys = (*plan.sources, *(plan.train_sources if train else ()))
            steps.append(FetchStep(name, {k: sources[k] for k in keys}, given=tuple(given.get(name, ()))))
    return steps


def parse_given(values: Sequence[str], datasets: Iterable[str]) -> dict[str, list[str]]:
    """``--from`` values: ``DATASET=PATH_OR_URL``, or a bare ``PATH_OR_URL`` when exactly one of `datasets`
    is laid out from what the user hands over."""
    from harness.fetch.datasets import PLANS

    selected = list(dict.fromkeys(datasets))
    takes = [d for d in selected if d in PLANS and PLANS[d].given]
    out: dict[str, list[str]] = {}
    for value in values:
        name, sep, where = value.partition("=")
        if sep and name in PLANS:
            if name not in takes:
                why = "no selected task reads it" if name not in selected else "it is fetched from its public source"
                raise ValueError(f"--from {value}: {why}; --from is for "
                                 f"{', '.join(d for d, p in PLANS.items() if p.given)}")  # fmt: skip
            out.setdefault(name, []).append(where)
        elif len(takes) == 1:
            out.setdefault(takes[0], []).append(value)
        else:
            choice = ", ".join(takes) or ", ".join(d for d, p in PLANS.items() if p.given)
            raise ValueError(f"--from {value}: say which dataset it is for: --from DATASET=PATH_OR_URL ({choice})")
    return out


def describe(steps: Iterable[FetchStep], mirror: str | None = None) -> str:
    """`--dry-run`: what would be fetched, with sizes where known."""
    lines: list[str] = []
    for step in steps:
        if step.remotes is None:
            lines.append(f"{step.dataset}: manual: {step.note}")
            continue
        lines += [f"{step.dataset}: laid out from {g}" for g in step.given]
        for r in step.remotes.values():
            size = f"{r.size / 1e6:,.1f} MB" if r.size is not None else "size unknown"
            lines.append(f"{step.dataset}: {r.name} ({size}) <- {mirrored(r.url, mirror)}")
    return "\n".join(lines) or "nothing to fetch: every dataset is in place"


def _given_path(root: Path, value: str) -> Path:
    """A ``--from`` value as a local path: an http(s) URL is downloaded first (resumable; no checksum is
    known for a file the user names, so the length the server announces is checked)."""
    if not value.startswith(("http://", "https://")):
        return Path(value).expanduser()
    name = Path(urlsplit(value).path).name or "download"
    dest = root / DOWNLOADS / "given" / name
    download(Remote(value, name), dest, position=1)
    return dest


def fetch(
    root: Path,
    datasets: Iterable[str],
    *,
    mirror: str | None = None,
    sources: Mapping[str, Remote] | None = None,
    train: bool = False,
    given: Mapping[str, Sequence[str]] | None = None,
) -> list[FetchStep]:
    """Download and lay out every dataset of `datasets` that is not in place; returns the manual steps left."""
    from tqdm import tqdm

    from harness.fetch.datasets import PLANS, Job

    root = Path(root)
    steps = plan_fetch(root, datasets, sources, train=train, given=given)
    todo = [s for s in steps if s.remotes is not None]
    with tqdm(total=sum(len(s.remotes or ()) for s in todo), unit="file", desc="vrft data fetch", position=0) as bar:
        for step in todo:
            files: dict[str, Path] = {}
            for key, remote in (step.remotes or {}).items():
                files[key] = root / DOWNLOADS / remote.name
                download(remote, files[key], mirror=mirror, position=1)
                bar.update(1)
            given_paths = tuple(_given_path(root, g) for g in step.given)
            PLANS[step.dataset].place(Job(root, files, mirror, given_paths, train))
    return [s for s in steps if s.remotes is None]


def fetch_training(root: Path, tasks: Sequence[str], *, mirror: str | None = None, seed: int = 0) -> Iterator[str]:
    """Run the registered training fetchers for `tasks` (`register_training`), yielding their lines as they go."""
    if not _TRAINING:
        raise FetchError(
            "--train: no training plugin registered (train_plugin registers itself when the `vrft` command "
            "loads `vrft train`); is vrft installed with its train_plugin package?"
        )
    for fetcher in _TRAINING:
        yield from fetcher(Path(root), list(tasks), mirror=mirror, seed=seed)
