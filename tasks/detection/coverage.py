"""How a protocol input (an official exist map) lines up with the dataset a detection task reads.

An exist map is keyed by the image ids of one annotation file and lists category names of one dataset;
a map made for another dataset (LVIS for COCO), another split or another file covers few or none of the
task's images, and replaying it would issue few or no requests: an all-zero table that looks like a
model that found nothing. `ExistMapCoverage` counts what matches, so the task can refuse such a map
(`DetectionTask.check_protocol_inputs`) and the run can record the coverage (manifest, ``metrics.json``).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SHOWN = 5
"""How many ids or names an error or warning lists before "... and N more"."""


@dataclass(frozen=True)
class ExistMapCoverage:
    """`images_in_task` task images, of which `missing_ids` have no entry in the map (file `path`, with
    `n_entries` entries); `foreign_ids`: map ids that are no image of the annotation file;
    `unknown_categories`: names in the map that match no category of the dataset."""

    path: str
    images_in_task: int
    missing_ids: tuple[int, ...]
    foreign_ids: tuple[str, ...]
    n_entries: int
    unknown_categories: tuple[str, ...]

    @classmethod
    def of(
        cls,
        path: Path | str,
        exist_map: Mapping[str, Sequence[Any]],
        task_images: Sequence[int],
        dataset_images: Iterable[int],
        dataset_categories: Collection[str],
    ) -> ExistMapCoverage:
        known_ids = {str(i) for i in dataset_images}
        names = {n if isinstance(n, str) else repr(n) for listed in exist_map.values() for n in listed}
        return cls(
            path=str(path),
            images_in_task=len(task_images),
            missing_ids=tuple(i for i in task_images if str(i) not in exist_map),
            foreign_ids=tuple(k for k in exist_map if k not in known_ids),
            n_entries=len(exist_map),
            unknown_categories=tuple(sorted(n for n in names if n not in dataset_categories)),
        )

    @property
    def images_in_map(self) -> int:
        """Task images with an entry in the map."""
        return self.images_in_task - len(self.missing_ids)

    @property
    def fraction(self) -> float:
        return self.images_in_map / self.images_in_task if self.images_in_task else 1.0

    def as_dict(self) -> dict[str, Any]:
        """The json record (manifest task entry, ``metrics.json``)."""
        return {
            "exist_map": self.path,
            "images_in_map": self.images_in_map,
            "images_in_task": self.images_in_task,
            "map_entries": self.n_entries,
            "map_ids_not_in_dataset": len(self.foreign_ids),
            "unknown_categories": list(self.unknown_categories),
        }

    def error(self, task: str, annotations: Path, min_coverage: float, official: bool) -> str:
        """Why the map is refused: the file, the counts, the first missing ids and the likely cause."""
        rule = (
            "the official profile needs an entry for every image (the official inference script indexes "
            "exist_map[str(image_id)] and fails on the first image without one)"
            if official
            else f"exist_map_min_coverage={min_coverage:g} needs at least {min_coverage:.0%}"
        )
        foreign = (
            f"; {len(self.foreign_ids)} of its {self.n_entries} entries are no image of {annotations} "
            f"(e.g. {_shown(self.foreign_ids)})"
            if self.foreign_ids
            else ""
        )
        relax = "" if official else "; or pass --task-arg exist_map_min_coverage=F (0..1) to accept a partial map"
        return (
            f"{task}: exist map {self.path} has an entry for {self.images_in_map} of the {self.images_in_task} "
            f"task images ({self.fraction:.1%}); {rule}. Images without an entry: {_shown(self.missing_ids)}"
            f"{foreign}. The map was probably made for another dataset or split than {annotations} "
            f"(e.g. an LVIS map for a COCO task, or another annotation file): use the map of this dataset"
            f"{relax}"
        )

    def unknown_warning(self, task: str, annotations: Path) -> str:
        return (
            f"{task}: exist map {self.path} names {len(self.unknown_categories)} categor"
            f"{'y' if len(self.unknown_categories) == 1 else 'ies'} that match no category of {annotations}: "
            f"{_shown(self.unknown_categories)}; they are never queried (a map of another dataset?)"
        )


def _shown(items: Sequence[Any]) -> str:
    head = ", ".join(str(i) for i in items[:SHOWN])
    return head + (f" ... and {len(items) - SHOWN} more" if len(items) > SHOWN else "")


def coverage_fraction(task: str, value: float | str) -> float:
    """The ``exist_map_min_coverage`` task argument: a number in [0, 1] (a string from the CLI is read)."""
    try:
        fraction = float(value)
    except (TypeError, ValueError):
        fraction = float("nan")
    if isinstance(value, bool) or not 0.0 <= fraction <= 1.0:
        raise ValueError(
            f"{task}: exist_map_min_coverage={value!r}: expected a number from 0 to 1 (the share of the task's "
            "images the exist map must cover; default 1 = every image)"
        )
    return fraction
