"""What a task hands to a model runner, and what it gives back after scoring.

A task turns its data into `Request`s (one per model call, identified by a stable `request_id`) and
scores a mapping ``request_id -> generated text`` into a `TaskScore`. Nothing here knows about models:
the harness sends the requests to a backend and stores the texts, and the training plugin renders the
same requests into its prompts, so train and eval prompts come from one place.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, NoReturn, Protocol

from tasks.rewards import Verifier, build_verifier
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


@dataclass(frozen=True)
class TrainPool:
    """A task's training rows from one annotation source, grouped for k-shot sampling (`Task.train_pool`).

    `groups` maps what k counts (a class, a category, or ``images``) to the sample ids k are drawn from,
    both in a fixed order; `rows` maps each sample id to its rows (one request, or one per instruction of
    a ReasonSeg item), rendered by the task in the training style: ``text`` = the training prompt (the
    strict rendering `vrft eval` sends too), ``solution`` = the paper's solution string. `source` says
    what was read, for the run manifest; `counts_key` is the manifest key of the per-group counts
    (empty: each group's count goes under the group's own name). `sampled_from` is the annotation file
    (or folder) the rows come from; `eval_set` says that it is the task's own evaluation data (allowed
    only on request: `refuse_eval_set`).
    """

    groups: Mapping[str, tuple[str, ...]]
    rows: Mapping[str, tuple[Request, ...]]
    source: Mapping[str, str]
    counts_key: str = ""
    sampled_from: str = ""
    eval_set: bool = False

    def select(self, ids: Iterable[str]) -> list[Request]:
        """The rows of the sample `ids`, in that order."""
        out: list[Request] = []
        for sample_id in ids:
            try:
                out.extend(self.rows[sample_id])
            except KeyError:
                raise ValueError(f"sample id {sample_id!r} is not a training sample of {dict(self.source)}") from None
        return out

    def manifest(self, counts: Mapping[str, int]) -> dict[str, Any]:
        """`source`, where the samples came from and whether that is the evaluation set, plus how many
        samples were taken from each group."""
        taken = {self.counts_key: dict(counts)} if self.counts_key else dict(counts)
        return {**self.source, "sampled_from": self.sampled_from, "eval_set": self.eval_set, **taken}


ALLOW_EVAL_SET = "--allow-eval-set-for-training"
"""The opt-in flag of `vrft train` that lets a k-shot sample come from evaluation images."""


def refuse_eval_set(task: str, problem: str, how: str) -> NoReturn:
    """Refuse to sample training rows from `task`'s evaluation data: `problem` says why that would happen,
    `how` how to get training data instead; the message ends with the explicit opt-in."""
    from tasks.data import DataError

    raise DataError(
        f"{task}: {problem}; training on it would put test images into the training set. {how}, or point "
        f"--train-annotations at other training annotations. To train on evaluation images anyway, pass "
        f"{ALLOW_EVAL_SET}: the run is recorded as such, and every evaluation of the checkpoint on those "
        "images is labelled 'train∩test = N images'"
    )


@dataclass
class TaskScore:
    """Metrics (json-ready) plus one record per scored request, and what did not line up."""

    metrics: dict[str, Any]
    samples: list[dict[str, Any]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # requests without a generation
    unknown: list[str] = field(default_factory=list)  # generations matching no request
    # what the image-level bootstrap needs beyond `samples` (detection: the COCO-format results); not written
    inputs: dict[str, Any] = field(default_factory=dict)


class FamilyTask:
    """What every family's task does the same way: its reward (`verifier`, from the family's ``VERIFIERS``
    table), its training pool (the family's ``train`` module, imported on use because it builds this task),
    training rows from that pool, and no second stage unless the family overrides `followup_requests`."""

    kind: Kind
    verifiers: ClassVar[Mapping[Profile, type]]  # the family's ``VERIFIERS`` (verifier class per profile)

    def followup_requests(self, stage1: Mapping[str, str]) -> Iterator[Request]:
        return iter(())

    def verifier(self, profile: Profile | str = Profile.STRICT, **options: Any) -> Verifier:
        """The reward `score()` uses, and training uses (options: `tasks.verifiers.get_verifier`)."""
        return build_verifier(self.kind.value, self.verifiers, profile, **options)

    def train_pool(
        self, annotations: Path | None = None, images: Path | None = None, *, allow_eval_set: bool = False
    ) -> TrainPool:
        """Training rows from an annotation source, grouped for sampling (``tasks.<family>.train``)."""
        family_train = importlib.import_module(f"tasks.{self.kind.value}.train")
        pool: TrainPool = family_train.train_pool(self, annotations, images, allow_eval_set=allow_eval_set)
        return pool

    def train_rows(
        self,
        ids: Iterable[str],
        annotations: Path | None = None,
        images: Path | None = None,
        *,
        allow_eval_set: bool = False,
    ) -> list[Request]:
        """The training rows of sample `ids` (of ``train_pool(annotations, images)``), in that order."""
        return self.train_pool(annotations, images, allow_eval_set=allow_eval_set).select(ids)


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

    def verifier(self, profile: Profile | str = Profile.STRICT, **options: Any) -> Verifier:
        """The reward of this task in a profile: the object `score()` uses, and the one training uses.

        Needs no data (nothing is loaded). Options as `tasks.verifiers.get_verifier`."""
        ...

    def train_pool(
        self, annotations: Path | None = None, images: Path | None = None, *, allow_eval_set: bool = False
    ) -> TrainPool:
        """Every training row this task renders from an annotation source (loaded once), grouped for sampling.

        None = the task's own training data (FGVC: the ``train`` split; COCO / LVIS: the data root's train
        annotations ``instances_train2017.json`` / ``lvis_v1_train.json``; LISA: ``DATA_ROOT/lisa/ReasonSeg/
        train``). Otherwise COCO / LVIS read the `annotations` file with images under `images`, LISA the
        ReasonSeg folder `annotations`. Evaluation data (the default missing, or `annotations` naming the
        task's evaluation file) is refused with a `DataError` unless `allow_eval_set`."""
        ...

    def train_rows(
        self,
        ids: Iterable[str],
        annotations: Path | None = None,
        images: Path | None = None,
        *,
        allow_eval_set: bool = False,
    ) -> list[Request]:
        """The training rows of sample `ids` (ids of ``train_pool(annotations, images).groups``), in order."""
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
