"""Think/answer extraction and the format reward, in both profiles.

Every function here is linear in the input length (adversarial completions can be megabytes long) and
never raises. The official behaviours are reimplemented with plain string scans that give the same
result as the official regular expressions (tests compare them on random strings), because the
official lazy patterns go quadratic on inputs with many tags.
"""

from __future__ import annotations

import functools
import re
from typing import NamedTuple

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
ANSWER_OPEN, ANSWER_CLOSE = "<answer>", "</answer>"

# Strict parsing caps the text it looks at: no real answer is longer (the paper decodes at most
# 1024 tokens), and the cap bounds the cost of a pathological completion.
MAX_ANSWER_CHARS = 65_536


class AnswerSpan(NamedTuple):
    """The answer text of a completion; `closed` is False for the unclosed tail of a truncated one.

    A NamedTuple made by ``tuple.__new__`` (`_span`): every completion scored makes one, and a frozen
    dataclass cost several times as much to build."""

    text: str
    closed: bool


_span = functools.partial(tuple.__new__, AnswerSpan)


def extract_answer(completion: str) -> AnswerSpan | None:
    """Strict: the last complete ``<answer>…</answer>`` block (newlines allowed), or, when there is
    none, the text after the last ``<answer>`` (a completion truncated mid-answer). None if the
    completion has no ``<answer>`` tag at all."""
    close = completion.rfind(ANSWER_CLOSE)
    if close != -1:
        start = completion.rfind(ANSWER_OPEN, 0, close)
        if start != -1:
            return _span((completion[start + len(ANSWER_OPEN) : close][:MAX_ANSWER_CHARS], True))
    start = completion.rfind(ANSWER_OPEN)
    if start == -1:
        return None
    # No complete block; every </answer> (if any) precedes this opening, so this is a tail.
    return _span((completion[start + len(ANSWER_OPEN) :][:MAX_ANSWER_CHARS], False))


def extract_think(completion: str) -> str | None:
    """The text of the first complete ``<think>…</think>`` block (for reports, not for scoring)."""
    start = completion.find(THINK_OPEN)
    if start == -1:
        return None
    end = completion.find(THINK_CLOSE, start + len(THINK_OPEN))
    return None if end == -1 else completion[start + len(THINK_OPEN) : end]


def official_first_answer(text: str, *, dotall: bool = False) -> str | None:
    """``re.search(r'<answer>(.*?)</answer>', text[, re.DOTALL]).group(1)`` without the regex.

    Without DOTALL the official code only finds an answer whose tags sit on one line (PROTOCOL D7).
    """
    a = text.find(ANSWER_OPEN)
    while a != -1:
        body = a + len(ANSWER_OPEN)
        c = text.find(ANSWER_CLOSE, body)
        if c == -1:
            return None  # no closing tag after this opening, hence none after any later opening
        if dotall:
            return text[body:c]
        newline = text.find("\n", body, c)
        if newline == -1:
            return text[body:c]
        # every opening before that newline fails the same way: resume after it
        a = text.find(ANSWER_OPEN, newline + 1)
    return None


_OFFICIAL_JOIN = re.compile(r"</think>\s*<answer>")


def official_format(completion: str) -> float:
    """Official R_format: ``re.fullmatch(r"<think>.*?</think>\\s*<answer>.*?</answer>", c, re.DOTALL)``.

    Equivalent linear form: the text starts with <think>, ends with </answer>, and the leftmost
    ``</think>\\s*<answer>`` leaves room for the final </answer> (PROTOCOL §5.1, D16).
    """
    if not (completion.startswith(THINK_OPEN) and completion.endswith(ANSWER_CLOSE)):
        return 0.0
    m = _OFFICIAL_JOIN.search(completion, len(THINK_OPEN))
    if m is None:
        return 0.0
    return 1.0 if m.end() <= len(completion) - len(ANSWER_CLOSE) else 0.0


def strict_format(completion: str) -> float:
    """Strict R_format: exactly one think block, then exactly one answer block, with only
    whitespace around and between them; no tag nested inside either block."""
    text = completion.strip()
    if not (text.startswith(THINK_OPEN) and text.endswith(ANSWER_CLOSE)):
        return 0.0
    for tag in (THINK_OPEN, THINK_CLOSE, ANSWER_OPEN, ANSWER_CLOSE):
        if text.count(tag) != 1:
            return 0.0
    think_end = text.find(THINK_CLOSE)
    answer_start = text.find(ANSWER_OPEN)
    if answer_start < think_end:
        return 0.0
    between = text[think_end + len(THINK_CLOSE) : answer_start]
    return 1.0 if between.strip() == "" else 0.0
