"""The contract every task fills: profiles, task kinds, samples and scores.

Pure data: no I/O, no heavy imports. Everything here is frozen so that a sample or a score can be
shared between the evaluation harness and the training plugin without copies drifting apart.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


class Profile(enum.StrEnum):
    """How a completion is scored.

    OFFICIAL reproduces the official Visual-RFT code bit for bit, defects included
    (PROTOCOL.md §5-§6). STRICT (the default) fixes the scoring defects; README lists each fix.
    """

    OFFICIAL = "official"
    STRICT = "strict"

    @classmethod
    def parse(cls, value: str | Profile) -> Profile:
        if isinstance(value, Profile):
            return value
        try:
            return cls(value)
        except ValueError:
            raise ValueError(f"unknown profile {value!r}: expected 'official' or 'strict'") from None


class Kind(enum.StrEnum):
    """The three task families of the paper."""

    DETECTION = "detection"
    CLASSIFICATION = "classification"
    GROUNDING = "grounding"


@dataclass(frozen=True)
class Score:
    """The reward components of one completion plus how parsing went.

    `components` maps component name -> float in the documented range; `total` is their sum
    (the paper adds the rewards unweighted). `parse` is ``"ok"`` or a failure reason;
    `details` carries counters (n_pred, n_malformed, n_matched, ...) for reports.
    """

    components: Mapping[str, float]
    parse: str = "ok"
    details: Mapping[str, float | int | str] = field(default_factory=dict)

    @property
    def total(self) -> float:
        return float(sum(self.components.values()))

    def as_dict(self) -> dict[str, float]:
        out = {k: float(v) for k, v in self.components.items()}
        out["total"] = self.total
        return out


@dataclass(frozen=True)
class ImageRef:
    """An image on disk with the size recorded in its annotation file (pixels)."""

    path: Path
    width: int
    height: int


@dataclass(frozen=True)
class ClassificationSample:
    doc_id: str
    image: ImageRef
    label: int
    class_name: str


@dataclass(frozen=True)
class GroundingSample:
    """One ReasonSeg item: the instruction, the GT box (pixels) and the polygons for masks."""

    doc_id: str
    image: ImageRef
    instruction: str
    gt_xyxy: np.ndarray = field(compare=False, repr=False)  # (4,) float64 pixels
    polygons: tuple[tuple[str, tuple[tuple[float, float], ...]], ...] = field(
        default=(), compare=False, repr=False
    )  # (label, points) for every shape of the image, in file order
