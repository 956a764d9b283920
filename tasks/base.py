"""What a task hands to a model runner, and what it gives back after scoring.

A task turns its data into `Request`s (one per model call, identified by a stable `request_id`) and
scores a mapping ``request_id -> generated text`` into a `TaskScore`. Nothing here knows about models:
the harness sends the requests to a backend and stores the texts, and the training plugin renders the
same requests into its prompts, so train and eval prompts come from one place.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from tasks.spec import ImageRef, Kind, Profile


@dataclass(frozen=True)
class Request:
    """One model call: an image, then `text` in the same user turn; `system` None = template default.

    `solution` is the target in the paper's training-data format (what the reward reads); `stage` is 1
    for the existence question of the two-stage detection protocol, else 0.
    """

    request_id: str
    image: ImageRef
    text: str
    system: str | None
    max_new_tokens: int
    solution: str = ""
    stage: int = 0


@dataclass
class TaskScore:
    """Metrics (json-ready) plus one record per scored request, and what did not line up."""

    metrics: dict[str, Any]
    samples: list[dict[str, Any]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # requests without a generation
    unknown: list[str] = field(default_factory=list)  # generations matching no request


class Task(Protocol):
    name: str
    version: str
    kind: Kind
    args: dict[str, Any]

    def requests(self) -> Iterator[Request]:
        """Every request of the first (or only) stage."""
        ...

    def followup_requests(self, stage1: Mapping[str, str]) -> Iterator[Request]:
        """Requests that depend on stage-1 answers (two-stage detection); empty for other tasks."""
        ...

    def score(self, generations: Mapping[str, str], profile: Profile) -> TaskScore:
        """Score the generated texts (request_id -> text) in a profile."""
        ...


def check_ids(expected: Iterable[str], generations: Mapping[str, str]) -> tuple[list[str], list[str]]:
    """(missing, unknown) request ids, both sorted."""
    wanted = set(expected)
    missing = sorted(wanted - generations.keys())
    unknown = sorted(generations.keys() - wanted)
    return missing, unknown


def score_record(request_id: str, components: Mapping[str, float], parse: str, **extra: Any) -> dict[str, Any]:
    record: dict[str, Any] = {"request_id": request_id, "parse": parse}
    record.update({k: round(float(v), 10) for k, v in components.items()})
    record["total"] = round(float(sum(components.values())), 10)
    record.update(extra)
    return record
