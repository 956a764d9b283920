"""Every verifier by task kind: ``get_verifier(kind, profile, **options)``, and their output ranges.

A verifier (`tasks.rewards.Verifier`) is a frozen, picklable object with `components`,
`parse_target(solution)`, `parse(completion)`, `score_parsed(parsed, target)` and `score(completion,
target)`. Each family owns its verifier classes (``tasks/<family>/rewards.py``, table ``VERIFIERS``);
a task hands out its own (`Task.verifier`), which the evaluation scorer and the training plugin both
use, so there is one implementation of every reward. This module is the lookup by kind (for tools
that have a kind and no task) and the documented ranges the property tests hold every verifier to.
"""

from __future__ import annotations

from typing import Any

from tasks.classification import rewards as classification
from tasks.detection import rewards as detection
from tasks.grounding import rewards as grounding
from tasks.rewards import Verifier, build_verifier
from tasks.spec import Kind, Profile

__all__ = ["RANGES", "Verifier", "get_verifier"]

_TABLES = {
    Kind.DETECTION: detection.VERIFIERS,
    Kind.CLASSIFICATION: classification.VERIFIERS,
    Kind.GROUNDING: grounding.VERIFIERS,
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
    return build_verifier(k.value, _TABLES[k], profile, **options)
