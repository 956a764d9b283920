"""Classification verifiers: ``accuracy`` and ``format`` (each in {0, 1}).

`OfficialClassification` reproduces ``grpo_classification.py`` (PROTOCOL §5.6): math_verify
short-circuit, single-line answer search with a whole-completion fallback (`official_extract`), and the
bidirectional substring match after deleting spaces and underscores (defects D2–D7). The official
*evaluation* reads the text differently (`tasks.classification.metric.official_eval_match`).

`StrictClassification` is correct only when the normalised answer equals the normalised class name or
one of its listed aliases; an empty answer is wrong and a missing answer tag is a parse failure. Its
reading is also what the strict accuracy counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from tasks.answer import extract_answer
from tasks.classification.parse import normalize_label, official_extract, official_substring_match
from tasks.rewards import OfficialParse, OfficialVerifier, StrictParse, StrictVerifier
from tasks.spec import Profile, Score

COMPONENTS = ("accuracy", "format")


@dataclass(frozen=True)
class ClassificationTarget:
    """The class name and any accepted aliases (e.g. LVIS synonyms)."""

    name: str
    aliases: tuple[str, ...] = ()

    @classmethod
    def from_solution(cls, solution: str) -> ClassificationTarget:
        span = extract_answer(solution)
        name = (span.text if span is not None else solution).strip()
        if not name:
            raise ValueError(f"classification solution has an empty class name: {solution[:200]!r}")
        return cls(name)

    def normalized(self) -> frozenset[str]:
        return _normalized_names(self.name, self.aliases)


@lru_cache(maxsize=65_536)
def _cached_target(solution: str) -> ClassificationTarget:
    # GRPO scores G completions against one solution: read it once.
    return ClassificationTarget.from_solution(solution)


@lru_cache(maxsize=65_536)
def _normalized_names(name: str, aliases: tuple[str, ...]) -> frozenset[str]:
    return frozenset(normalize_label(n) for n in (name, *aliases)) - {""}


@dataclass(frozen=True)
class StrictClassification(StrictVerifier[str, ClassificationTarget]):
    components = COMPONENTS

    def parse_target(self, solution: str) -> ClassificationTarget:
        return _cached_target(solution)

    def read_answer(self, answer: str) -> tuple[str | None, str | None]:
        label = normalize_label(answer)
        return label, None if label else "empty_answer"

    def grade(self, parsed: StrictParse[str], target: ClassificationTarget) -> Score:
        answer = parsed.value
        assert answer is not None  # a reading that did not fail
        correct = answer in target.normalized()
        return Score({"accuracy": 1.0 if correct else 0.0, "format": parsed.format}, "ok", {"answer": answer[:200]})


@dataclass(frozen=True)
class OfficialClassification(OfficialVerifier[str]):
    """The official classification *training* reward (`math_verify`: `OfficialVerifier`)."""

    components = COMPONENTS

    read = staticmethod(official_extract)

    def grade(self, parsed: OfficialParse[str], solution: str) -> Score:
        correct = official_substring_match(parsed.value, _official_solution_label(solution))
        return Score({"accuracy": 1.0 if correct else 0.0, "format": parsed.format})


@lru_cache(maxsize=65_536)
def _official_solution_label(solution: str) -> str:
    # The official code re-reads the solution for every completion; the reading is a pure function of
    # the string, so GRPO's G completions of one solution share it.
    return official_extract(solution)


VERIFIERS = {Profile.STRICT: StrictClassification, Profile.OFFICIAL: OfficialClassification}
