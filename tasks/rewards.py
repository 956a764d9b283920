"""The verifier contract, and the two skeletons every family's verifiers are built on.

A verifier reads a completion once (`parse`) and grades that reading against a target
(`score_parsed`); ``score(completion, target)`` is the two in a row. A task's ``score()`` calls
`parse` once per completion and hands the same reading to the reward and to its metric adapter, so
no completion is read twice by the same reading. (The `official` profile has genuinely different
readings for the reward and for the evaluation, because the official repository's training and
evaluation scripts read the text differently; each family's ``metric`` module says which is which.)

* `StrictVerifier` (profile ``strict``): strict R_format, the last answer block
  (`tasks.answer.extract_answer`), the family's reader of the answer text (`read_answer`), the
  family's grade (`grade`). No answer block is the failure ``no_answer``; a reader failure is its
  reason; a failure scores 0 on every accuracy component and keeps R_format.
* `OfficialVerifier` (profile ``official``): official R_format, the family's official *reward* reading
  of the completion (`read`), then the math_verify short-circuit (PROTOCOL §5.2: every accuracy
  component 1.0) before the family's rule path (`grade`). The reading is eager: it is the same
  whether or not the short-circuit fires, and any exception of the official code path is caught
  where the official code catches it, so the numbers are the official ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, NamedTuple, Protocol, TypeVar

from tasks import mathverify
from tasks.answer import AnswerSpan, extract_answer, official_format, strict_format
from tasks.spec import Profile, Score

V = TypeVar("V")  # a family's reading of an answer
T = TypeVar("T")  # a family's target


class Verifier(Protocol):
    """A frozen, picklable reward: `components` (names, in order), `parse_target(solution)` (reads the
    paper's training-data solution string once), `parse(completion)` (reads a completion once) and
    `score_parsed(parsed, target) -> Score`; ``score(completion, target)`` is the last two in a row.

    The scorer and the trainer take the *same* verifier object from the task (`Task.verifier`).
    """

    @property
    def components(self) -> tuple[str, ...]: ...

    def parse_target(self, solution: str) -> Any: ...

    def parse(self, completion: str) -> Any: ...

    def score_parsed(self, parsed: Any, target: Any) -> Score: ...

    def score(self, completion: str, target: Any) -> Score: ...


# ---- strict -----------------------------------------------------------------------------------


class StrictParse(NamedTuple, Generic[V]):
    """One strict reading of a completion.

    `format` is R_format of the whole completion; `span` the answer block (None: no ``<answer>``);
    `value` the family's reading of the answer text (None only without a span); `failure` None when
    the answer was read, else the reason (``no_answer`` or the family reader's reason).
    """

    format: float
    span: AnswerSpan | None
    value: V | None
    failure: str | None


NO_ANSWER = "no_answer"

# NamedTuple construction through the class is a Python-level call; ``tuple.__new__`` makes the same
# object about three times faster, and every completion of a GRPO step makes one.
_make = tuple.__new__


class StrictVerifier(Generic[V, T]):
    """The strict skeleton: format, answer block, family reader, family grade (module docstring).

    Subclasses (frozen dataclasses) set `components` and implement `parse_target`, `read_answer`
    and `grade`; `failure_details` adds counters to a failed score.
    """

    components: ClassVar[tuple[str, ...]] = ()

    def parse_target(self, solution: str) -> T:
        raise NotImplementedError

    def read_answer(self, answer: str) -> tuple[V | None, str | None]:
        """The family's reading of the answer text, and the failure reason (None if it was read)."""
        raise NotImplementedError

    def grade(self, parsed: StrictParse[V], target: T) -> Score:
        """The score of a reading that did not fail."""
        raise NotImplementedError

    def failure_details(self, parsed: StrictParse[V]) -> dict[str, float | int | str]:
        return {}

    def parse(self, completion: str) -> StrictParse[V]:
        fmt = strict_format(completion)
        span = extract_answer(completion)
        if span is None:
            return _make(StrictParse, (fmt, None, None, NO_ANSWER))
        value, failure = self.read_answer(span.text)
        return _make(StrictParse, (fmt, span, value, failure))

    def score_parsed(self, parsed: StrictParse[V], target: T | str) -> Score:
        gt = self.parse_target(target) if isinstance(target, str) else target
        if parsed.failure is not None:
            components = {c: parsed.format if c == "format" else 0.0 for c in self.components}
            return Score(components, parsed.failure, self.failure_details(parsed))
        return self.grade(parsed, gt)

    def score(self, completion: str, target: T | str) -> Score:
        """``score_parsed(parse(completion), target)``, with `parse` inlined: the GRPO hot path."""
        fmt = strict_format(completion)
        span = extract_answer(completion)
        if span is None:
            return self.score_parsed(_make(StrictParse, (fmt, None, None, NO_ANSWER)), target)
        value, failure = self.read_answer(span.text)
        return self.score_parsed(_make(StrictParse, (fmt, span, value, failure)), target)


# ---- official ---------------------------------------------------------------------------------


class OfficialParse(NamedTuple, Generic[V]):
    """One official *reward* reading: the completion (math_verify reads all of it), official
    R_format, and the family's reading of the completion (`OfficialVerifier.read`)."""

    text: str
    format: float
    value: V


@dataclass(frozen=True)
class OfficialVerifier(Generic[V]):
    """The official skeleton: format, reading, math_verify short-circuit, rule path.

    `math_verify`: None = use the short-circuit when the math-verify package is installed (the
    official behaviour), False = never (``output_if_math_verify_never_matches``), True = require it.
    Subclasses set `components` and implement `read` and `grade`. The target is the raw solution
    string: the official code re-reads it on every call.
    """

    math_verify: bool | None = None

    components: ClassVar[tuple[str, ...]] = ()

    def __post_init__(self) -> None:
        if self.math_verify and not mathverify.available():
            raise ValueError("math_verify=True needs the math-verify package (pip install math-verify)")

    def parse_target(self, solution: str) -> str:
        return solution

    def read(self, completion: str, /) -> V:
        """The family's official reward reading of the whole completion (never raises)."""
        raise NotImplementedError

    def grade(self, parsed: OfficialParse[V], solution: str) -> Score:
        """The official rule path (after the math_verify short-circuit did not fire)."""
        raise NotImplementedError

    def parse(self, completion: str) -> OfficialParse[V]:
        return _make(OfficialParse, (completion, official_format(completion), self.read(completion)))

    def score_parsed(self, parsed: OfficialParse[V], target: str) -> Score:
        use_mv = mathverify.available() if self.math_verify is None else self.math_verify
        if use_mv and mathverify.short_circuit(parsed.text, target):
            components = {c: parsed.format if c == "format" else 1.0 for c in self.components}
            return Score(components, "math_verify")
        return self.grade(parsed, target)

    def score(self, completion: str, target: str) -> Score:
        """``score_parsed(parse(completion), target)``, both inlined: the GRPO hot path."""
        parsed = _make(OfficialParse, (completion, official_format(completion), self.read(completion)))
        use_mv = mathverify.available() if self.math_verify is None else self.math_verify
        if use_mv and mathverify.short_circuit(completion, target):
            components = {c: parsed.format if c == "format" else 1.0 for c in self.components}
            return Score(components, "math_verify")
        return self.grade(parsed, target)


def build_verifier(family: str, table: Mapping[Profile, type], profile: str | Profile, **options: Any) -> Verifier:
    """``table[profile](**options)`` (a family's verifier classes by profile), errors naming the family."""
    p = Profile.parse(profile)
    cls = table[p]
    try:
        verifier: Verifier = cls(**options)
    except TypeError as err:
        raise ValueError(f"{family}/{p.value} verifier: bad option(s) {sorted(options)}: {err}") from None
    return verifier
