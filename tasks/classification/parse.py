"""Reading a classification answer (a class name; the prompt: `tasks.classification.prompt`).

Three readings of a completion, one per use:

* strict (reward *and* metric): the answer block (`tasks.answer.extract_answer`) normalised by
  `normalize_label`; no answer block is a parse failure.
* `official_extract` (profile ``official``, the reward of ``grpo_classification.py``, PROTOCOL §5.6):
  the *stripped* first single-line answer block, else the whole stripped completion (D7).
* `official_eval_answer` (profile ``official``, the eval script, §6.1): the first single-line answer
  block taken as it is, *not* stripped, and no fallback (a missing tag is an error).
Both official readings then compare with `official_substring_match` (bidirectional substring after
deleting spaces and underscores, D3–D5).
"""

from __future__ import annotations

import re
import unicodedata

from tasks.answer import official_first_answer

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


def official_extract(text: str) -> str:
    """Official reward extraction: stripped first single-line answer, else the whole stripped text."""
    match = official_first_answer(text)
    return match.strip() if match is not None else text.strip()


def official_eval_answer(response: str) -> str | None:
    """Official eval extraction: the first single-line answer as it is (unstripped), or None."""
    return official_first_answer(response)
