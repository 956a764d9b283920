"""The two types every dataset handler of `vrft data fetch` shares: `Plan` (what a dataset downloads and how
it is laid out) and `Job` (one run of a plan: the verified downloads and the user's options)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Job:
    """One `Plan.place` call: the data root, the verified downloads by source key, the mirror (for files
    fetched while laying out, such as LVIS images), what the user handed over with ``--from`` (local
    paths: URLs are already downloaded) and whether ``--train`` asked for the training files too."""

    root: Path
    files: Mapping[str, Path]
    mirror: str | None = None
    given: tuple[Path, ...] = ()
    train: bool = False


@dataclass(frozen=True)
class Plan:
    """How `vrft data fetch` lays out one dataset (or one companion file set, such as the exist maps).

    title          the dataset's name in the README's sources table
    sources        `SOURCES` keys it always downloads
    place          lays the verified downloads out under the data root (atomically)
    layout         what it writes, in words (README)
    train_sources  `SOURCES` keys added by ``--train``
    train_files    files (relative to the data root) that ``--train`` needs in place
    given          non-empty: laid out from what the user hands over (``--from``); the text says exactly
                   what to download when nothing is given
    done           for a companion `vrft data check` does not check: whether it is in place
    """

    title: str
    sources: tuple[str, ...]
    place: Callable[[Job], None]
    layout: str
    train_sources: tuple[str, ...] = ()
    train_files: tuple[str, ...] = ()
    given: str = ""
    done: Callable[[Path], bool] | None = None
