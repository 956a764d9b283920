"""Property tests: every verifier, both profiles, on adversarial strings returns finite floats in its
documented range and never raises (ARCHITECTURE guideline 2)."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tasks.spec import Kind, Profile
from tasks.verifiers import RANGES, get_verifier

SOLUTIONS = {
    Kind.DETECTION: [
        "<answer>[{'Position': [300, 310, 400, 410], 'Confidence': 1}]</answer>",
        "<answer>[{'Position': [0, 0, 1000, 1000], 'Confidence': 1}, "
        "{'Position': [1, 2, 3, 4], 'Confidence': 1}]</answer>",
        "<answer>No Objects</answer>",
    ],
    Kind.CLASSIFICATION: ["<answer>rose</answer>", "<answer>2012 BMW M3 Coupe</answer>", "<answer>F/A-18</answer>"],
    Kind.GROUNDING: ["<answer> (100,200),(300,400) </answer>", "<answer>(0,0),(1000,1000)</answer>"],
}

FRAGMENTS = [
    "<think>",
    "</think>",
    "<answer>",
    "</answer>",
    "[",
    "]",
    "{",
    "}",
    "[[",
    "]]",
    ",",
    ":",
    " ",
    "\n",
    "'Position'",
    "'Confidence'",
    '"Position"',
    "'",
    '"',
    "(",
    ")",
    "No Objects",
    "NaN",
    "nan",
    "inf",
    "Infinity",
    "-Infinity",
    "1e308",
    "-1e308",
    "1e400",
    "0.5",
    "-0.5",
    "1000",
    "-3",
    "'0.9'",
    "True",
    "None",
    "{'Position': [100, 120, 200, 220], 'Confidence': 0.9}",
    "(100,200),(300,400)",
    "[1, 2, 3, 4]",
    "rose",
    "Ünïcödé",
    "\u200b",
    "\x00",
    "🌹",
    ", ...",
    "\\",
]

adversarial = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=8)), max_size=60).map("".join)


def check(kind: Kind, profile: Profile, completion: str, solution: str, **opts: object) -> None:
    verifier = get_verifier(kind, profile, **opts)
    target = verifier.parse_target(solution)
    score = verifier.score(completion, target)
    assert verifier.score_parsed(verifier.parse(completion), target) == score  # score = parse, then grade
    assert tuple(score.components) == tuple(RANGES[(kind, profile)])
    for name, value in score.components.items():
        low, high = RANGES[(kind, profile)][name]
        assert isinstance(value, float) and math.isfinite(value), (name, value)
        assert low <= value <= high, (name, value)
    assert math.isfinite(score.total)


@pytest.mark.parametrize("kind", list(Kind))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(completion=adversarial, pick=st.integers(min_value=0, max_value=2))
def test_strict_never_raises(kind: Kind, completion: str, pick: int) -> None:
    sols = SOLUTIONS[kind]
    check(kind, Profile.STRICT, completion, sols[pick % len(sols)])


@pytest.mark.parametrize("kind", list(Kind))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(completion=adversarial, pick=st.integers(min_value=0, max_value=2))
def test_official_rule_path_never_raises(kind: Kind, completion: str, pick: int) -> None:
    sols = SOLUTIONS[kind]
    check(kind, Profile.OFFICIAL, completion, sols[pick % len(sols)], math_verify=False)


@pytest.mark.parametrize("kind", list(Kind))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(completion=adversarial)
def test_official_with_math_verify_never_raises(kind: Kind, completion: str) -> None:
    check(kind, Profile.OFFICIAL, completion, SOLUTIONS[kind][0], math_verify=None)


HUGE = {
    "1MB-text": "x" * 1_000_000,
    "1MB-brackets": "<answer>" + "[" * 1_000_000 + "</answer>",
    "1MB-braces": "<think>a</think><answer>[" + "{" * 500_000 + "</answer>",
    "1MB-tags": "<answer>" * 130_000,
    "1MB-think-answer": "<think>" + "</think><answer>" * 62_000 + "</answer>",
    "1MB-boxes": "<answer>[" + "{'Position': [1, 2, 3, 4], 'Confidence': 0.5}, " * 22_000 + "]</answer>",
    "1MB-numbers": "<answer>[" + "1e308, " * 140_000 + "]</answer>",
    "1MB-tuples": "<answer>" + "(1,2),(3,4)," * 90_000 + "</answer>",
}


@pytest.mark.parametrize("name", list(HUGE))
@pytest.mark.parametrize("profile", list(Profile))
def test_megabyte_completions(name: str, profile: Profile) -> None:
    opts = {"math_verify": False} if profile is Profile.OFFICIAL else {}
    for kind in Kind:
        check(kind, profile, HUGE[name], SOLUTIONS[kind][0], **opts)


def test_megabyte_completion_with_math_verify() -> None:
    check(Kind.DETECTION, Profile.OFFICIAL, HUGE["1MB-numbers"], SOLUTIONS[Kind.DETECTION][0], math_verify=None)


@settings(max_examples=200, deadline=None)
@given(
    boxes=st.lists(
        st.tuples(
            st.lists(st.one_of(st.integers(-50, 1100), st.floats(-1e6, 1e6, allow_nan=False)), min_size=4, max_size=4),
            st.one_of(st.floats(-2, 2, allow_nan=False), st.integers(0, 1)),
        ),
        max_size=6,
    ),
    quote=st.sampled_from(["'", '"']),
    space=st.sampled_from(["", " ", "  ", "\n"]),
)
def test_fast_path_agrees_with_the_general_reader(boxes: list, quote: str, space: str) -> None:
    from tasks.detection.parse import parse_general, parse_strict

    items = [
        f"{{{quote}Position{quote}:{space}[{', '.join(repr(v) for v in pos)}],{space}{quote}Confidence{quote}: {c!r}}}"
        for pos, c in boxes
    ]
    text = "[" + f",{space}".join(items) + "]"
    assert parse_strict(text) == parse_general(text)
