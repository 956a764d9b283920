"""Classification verifiers: ``accuracy`` and ``format`` (each in {0, 1}).

`OfficialClassification` reproduces ``grpo_classification.py`` (PROTOCOL §5.6): math_verify
short-circuit, single-line answer search with a whole-completion fallback, and the bidirectional
substring match after deleting spaces and underscores (defects D2–D7). It also provides the official
*evaluation* matcher (§6.1), which has no fallback and counts a missing tag as an error.

`StrictClassification` is correct only when the normalised answer equals the normalised class name or
one of its listed aliases; an empty answer is wrong and a missing answer tag is a parse failure.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from tasks import mathverify
from tasks.answer import extract_answer, official_first_answer, official_format, strict_format
from tasks.spec import Score

COMPONENTS = ("accuracy", "format")

_SEPARATORS = re.compile(r"[\s_\-‐‑–—]+")
_EDGE_PUNCT = " \t\n\"'`.,;:!?()[]{}*"


def normalize_label(text: str) -> str:
    """Strict label normalisation: Unicode NFKC, case-folded, underscores/hyphens/dashes/whitespace
    runs become one space, surrounding quotes and punctuation removed.

    So ``737 400`` == ``737-400`` and ``American_Bulldog`` == ``american bulldog`` (D5), while
    ``A340`` != ``A340-300`` (a shorter name is a different class, D4).
    """
    text = unicodedata.normalize("NFKC", text).casefold()
    text = _SEPARATORS.sub(" ", text)
    return text.strip(_EDGE_PUNCT).strip()


def official_normalize(text: str) -> str:
    """The official N(s): delete spaces and underscores, lower-case (hyphens and slashes stay)."""
    return text.replace(" ", "").replace("_", "").lower()


def official_substring_match(answer: str, ground_truth: str) -> bool:
    """The official lenient rule: either normalised string contains the other (D3, D4)."""
    a, g = official_normalize(answer), official_normalize(ground_truth)
    return g in a or a in g


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
def _normalized_names(name: str, aliases: tuple[str, ...]) -> frozenset[str]:
    return frozenset(normalize_label(n) for n in (name, *aliases)) - {""}


@dataclass(frozen=True)
class StrictClassification:
    components = COMPONENTS

    def parse_target(self, solution: str) -> ClassificationTarget:
        return ClassificationTarget.from_solution(solution)

    def score(self, completion: str, target: ClassificationTarget | str) -> Score:
        gt = self.parse_target(target) if isinstance(target, str) else target
        fmt = strict_format(completion)
        span = extract_answer(completion)
        if span is None:
            return Score({"accuracy": 0.0, "format": fmt}, "no_answer")
        answer = normalize_label(span.text)
        if not answer:
            return Score({"accuracy": 0.0, "format": fmt}, "empty_answer")
        correct = answer in gt.normalized()
        return Score({"accuracy": 1.0 if correct else 0.0, "format": fmt}, "ok", {"answer": answer[:200]})


def official_extract(text: str) -> str:
    """Official extraction: stripped first single-line answer, else the whole stripped text."""
    match = official_first_answer(text)
    return match.strip() if match is not None else text.strip()


@dataclass(frozen=True)
class OfficialEvalMatch:
    """The official classification *eval* decision for one response (PROTOCOL §6.1)."""

    correct: bool
    error: bool  # no single-line answer tag: counted in the error counter and as wrong


def official_eval_match(response: str, class_name: str) -> OfficialEvalMatch:
    """The answer text is taken as it is, *not* stripped (unlike the training reward): only spaces and
    underscores are deleted, so ``<answer>pea\t</answer>`` or ``<answer>\xa0lily</answer>`` is wrong."""
    match = official_first_answer(response)
    if match is None:
        return OfficialEvalMatch(False, True)
    return OfficialEvalMatch(official_substring_match(match, class_name), False)


@dataclass(frozen=True)
class OfficialClassification:
    """The official classification *training* reward; see `official_eval_match` for eval."""

    math_verify: bool | None = None

    components = COMPONENTS

    def __post_init__(self) -> None:
        if self.math_verify and not mathverify.available():
            raise ValueError("math_verify=True needs the math-verify package (pip install math-verify)")

    def parse_target(self, solution: str) -> str:
        return solution

    def score(self, completion: str, target: str) -> Score:
        fmt = official_format(completion)
        use_mv = mathverify.available() if self.math_verify is None else self.math_verify
        if use_mv and mathverify.short_circuit(completion, target):
            return Score({"accuracy": 1.0, "format": fmt}, "math_verify")
        correct = official_substring_match(official_extract(completion), official_extract(target))
        return Score({"accuracy": 1.0 if correct else 0.0, "format": fmt})
