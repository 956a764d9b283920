"""One entry point for every verifier: ``get_verifier(kind, profile, **options)``.

A verifier is a frozen, picklable object with `components` (names, in order), `parse_target(solution)`
(reads the paper's training-data solution string once) and `score(completion, target) -> Score`.
The training plugin and the evaluation scorer both get their rewards from here, so there is one
implementation of every reward.
"""

from __future__ import annotations

from typing import Any, Protocol

from tasks.classification.rewards import OfficialClassification, StrictClassification
from tasks.detection.rewards import OfficialDetection, StrictDetection
from tasks.grounding.rewards import OfficialGrounding, StrictGrounding
from tasks.spec import Kind, Profile, Score


class Verifier(Protocol):
    components: tuple[str, ...]

    def parse_target(self, solution: str) -> Any: ...

    def score(self, completion: str, target: Any) -> Score: ...


_REGISTRY: dict[tuple[Kind, Profile], type] = {
    (Kind.DETECTION, Profile.OFFICIAL): OfficialDetection,
    (Kind.DETECTION, Profile.STRICT): StrictDetection,
    (Kind.CLASSIFICATION, Profile.OFFICIAL): OfficialClassification,
    (Kind.CLASSIFICATION, Profile.STRICT): StrictClassification,
    (Kind.GROUNDING, Profile.OFFICIAL): OfficialGrounding,
    (Kind.GROUNDING, Profile.STRICT): StrictGrounding,
}

# Documented output ranges per (kind, profile, component); the property tests hold every verifier
# to them. Official grounding accuracy is only bounded for well-ordered boxes (D15): about −1e3 to
# 1e6 on 0–1000 corners, any finite value beyond (see OfficialGrounding).
RANGES: dict[tuple[Kind, Profile], dict[str, tuple[float, float]]] = {
    (Kind.DETECTION, Profile.OFFICIAL): {"accuracy_iou": (0, 1), "accuracy_confidence": (0, 1), "format": (0, 1)},
    (Kind.DETECTION, Profile.STRICT): {"accuracy_iou": (0, 1), "accuracy_confidence": (0, 1), "format": (0, 1)},
    (Kind.CLASSIFICATION, Profile.OFFICIAL): {"accuracy": (0, 1), "format": (0, 1)},
    (Kind.CLASSIFICATION, Profile.STRICT): {"accuracy": (0, 1), "format": (0, 1)},
    (Kind.GROUNDING, Profile.OFFICIAL): {"accuracy": (float("-inf"), float("inf")), "format": (0, 1)},
    (Kind.GROUNDING, Profile.STRICT): {"accuracy": (0, 1), "format": (0, 1)},
}


def get_verifier(kind: str | Kind, profile: str | Profile = Profile.STRICT, **options: Any) -> Verifier:
    """Build the verifier of a task kind in a profile. Options: official ``math_verify``
    (None/True/False); strict detection ``iou_denominator`` ("max"/"pred"), ``iou_threshold``."""
    try:
        k = Kind(kind)
    except ValueError:
        raise ValueError(f"unknown task kind {kind!r}: expected one of {[x.value for x in Kind]}") from None
    p = Profile.parse(profile)
    cls = _REGISTRY[(k, p)]
    try:
        verifier: Verifier = cls(**options)
    except TypeError as err:
        raise ValueError(f"{k.value}/{p.value} verifier: bad option(s) {sorted(options)}: {err}") from None
    return verifier
