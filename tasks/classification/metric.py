"""Classification metric glue: accuracy over *all* items (PROTOCOL §6.1), in both readings.

* strict accuracy counts the strict reading the reward grades (`StrictClassification.parse`): the
  task reads each completion once and hands that reading to both.
* official accuracy counts the official *eval* decision (`official_eval_match`), whose reading is not
  the official reward's: the first single-line answer block unstripped, no whole-text fallback.
"""

from __future__ import annotations

from dataclasses import dataclass

from tasks.classification.parse import official_eval_answer, official_substring_match


@dataclass(frozen=True)
class OfficialEvalMatch:
    """The official classification *eval* decision for one response (PROTOCOL §6.1)."""

    correct: bool
    error: bool  # no single-line answer tag: counted in the error counter and as wrong


def official_eval_match(response: str, class_name: str) -> OfficialEvalMatch:
    """The answer text is taken as it is, *not* stripped (unlike the training reward): only spaces and
    underscores are deleted, so ``<answer>pea\t</answer>`` or ``<answer>\xa0lily</answer>`` is wrong."""
    match = official_eval_answer(response)
    if match is None:
        return OfficialEvalMatch(False, True)
    return OfficialEvalMatch(official_substring_match(match, class_name), False)


def accuracy_percent(n_correct: int, n: int) -> float | None:
    """Correct answers ×100 / every item (missing and unreadable ones count wrong); None for no items."""
    return 100.0 * n_correct / n if n else None
