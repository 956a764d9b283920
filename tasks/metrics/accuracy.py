"""Classification accuracy (PROTOCOL §6.1): the container and the arithmetic only.

Whether an answer is correct (strict label match vs the official bidirectional substring rule) is
decided by the classification task; this module just counts. Accuracy is over **all** N items, a
parse failure counting as wrong, as the official script divides by every ``.pth`` entry.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any


def accuracy(correct: Sequence[bool]) -> float:
    """Percentage of true entries, ×100. An empty sequence is an error (0/0 is not a score)."""
    if len(correct) == 0:
        raise ValueError("accuracy of zero items is undefined: the task produced no samples")
    return 100.0 * sum(bool(c) for c in correct) / len(correct)


@dataclass(frozen=True, kw_only=True)
class ClassificationMetrics:
    """Strict and official (lenient) accuracy over the same ``n`` items, plus parse failures.

    ``parse_failures`` maps a failure reason (``ParseFailure.reason``, e.g. ``no_answer``) to its
    count; such items are included in ``n`` and counted wrong in both accuracies.
    """

    strict_accuracy: float
    official_accuracy: float
    n: int
    parse_failures: Counter[str] = field(default_factory=Counter)

    @classmethod
    def from_outcomes(
        cls,
        strict: Sequence[bool],
        official: Sequence[bool],
        failure_reasons: Iterable[str | None] = (),
    ) -> ClassificationMetrics:
        """Build from per-item verdicts; ``failure_reasons`` holds one reason per failed item
        (``None`` entries, i.e. items that parsed, are skipped, so a per-item list works too)."""
        if len(strict) != len(official):
            raise ValueError(f"strict has {len(strict)} verdicts but official has {len(official)}")
        failures = Counter(r for r in failure_reasons if r is not None)
        if sum(failures.values()) > len(strict):
            raise ValueError(f"{sum(failures.values())} parse failures for only {len(strict)} items")
        return cls(
            strict_accuracy=accuracy(strict),
            official_accuracy=accuracy(official),
            n=len(strict),
            parse_failures=failures,
        )

    @property
    def n_parse_failures(self) -> int:
        return sum(self.parse_failures.values())

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, failure reasons sorted for stable output."""
        return {
            "strict_accuracy": self.strict_accuracy,
            "official_accuracy": self.official_accuracy,
            "n": self.n,
            "n_parse_failures": self.n_parse_failures,
            "parse_failures": dict(sorted(self.parse_failures.items())),
        }
