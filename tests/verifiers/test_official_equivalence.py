"""The linear-time reimplementations of the official regular expressions give the same results."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from tasks.answer import official_first_answer, official_format

PIECES = ["<think>", "</think>", "<answer>", "</answer>", "a", " ", "\n", "\t", "<", ">", "answer", "\u2003"]
soup = st.lists(st.sampled_from(PIECES), max_size=25).map("".join)

FORMAT = re.compile(r"<think>.*?</think>\s*<answer>.*?</answer>", re.DOTALL)
ANSWER = re.compile(r"<answer>(.*?)</answer>")
ANSWER_DOTALL = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)


@settings(max_examples=3000, deadline=None)
@given(text=soup)
def test_format_equals_the_official_fullmatch(text: str) -> None:
    assert official_format(text) == (1.0 if FORMAT.fullmatch(text) else 0.0)


@settings(max_examples=3000, deadline=None)
@given(text=soup)
def test_answer_search_equals_the_official_regex(text: str) -> None:
    m = ANSWER.search(text)
    assert official_first_answer(text) == (m.group(1) if m else None)
    m = ANSWER_DOTALL.search(text)
    assert official_first_answer(text, dotall=True) == (m.group(1) if m else None)
