"""The strict detection reader (`parse_general`, and `parse_strict` with its fast path) gives exactly
what the old reader gave (`reference_detection_reader`, kept frozen) on hostile random inputs: policy
junk (brackets, tags, numbers, keys, quotes, signs, unicode digits), near-valid answers mutated, and
the fuzz corpus. The whole `DetectionParse` is compared (boxes, counts, reasons), so every score and
every reported counter is unchanged.
"""

from __future__ import annotations

import functools
import random

from reference_detection_reader import reference_parse_general, reference_parse_strict
from test_fuzz_corpus import corpus

from tasks.detection.parse import DetectionParse, parse_general, parse_strict
from tasks.spec import Kind

PIECES = [
    "[", "]", "{", "}", "[{", "}]", "}, {", ", {", ",{", ":", ",", ", ", " ", "\n", "\t", "'", '"', "-", "+", ".",
    "e", "E", "1e5", "-.5", "+7", "3.", ".e1", "1e400", "nan", "inf", "True", "false", "None", "_x", "x_1",
    "'Position'", '"Position"', "'position'", "'Confidence'", '"confidence"', "'a, {b'", "'\\''", "'\\n'",
    "<answer>", "</answer>", "<think>", "No Objects", "١٢٣", "𝟙", "¹", "é", "\u00a0", "\u2003", "\\",
]  # fmt: skip


def _number(rng: random.Random) -> str:
    return rng.choice([str(rng.randint(-50, 1100)), f"{rng.random():.2f}", f"{rng.uniform(-5, 5):.3e}"])


def _item(rng: random.Random) -> str:
    q = rng.choice("'\"")
    pos = ", ".join(_number(rng) for _ in range(rng.choice([4, 4, 4, 3, 5])))
    return f"{{{q}Position{q}: [{pos}], {q}Confidence{q}: {rng.choice([_number(rng), 'x', '1'])}}}"


def hostile(rng: random.Random) -> str:
    """Random brackets, tags, numbers, keys and whole items, of any length up to thousands of pieces."""
    out = []
    for _ in range(rng.choice([1, 5, 30, 120, 600, 2000])):
        r = rng.random()
        out.append(_number(rng) if r < 0.3 else _item(rng) if r < 0.4 else rng.choice(PIECES))
    text = "".join(out)
    return rng.choice(["", "[", "[{", " "]) + text if rng.random() < 0.5 else text


def _cases() -> list[str]:
    rng = random.Random(19)
    texts = [hostile(rng) for _ in range(2000)]
    texts += corpus(Kind.DETECTION, n=600, seed=19)
    texts += [
        "[" + ", ".join(_item(rng) for _ in range(rng.randint(0, 8))) + rng.choice(["]", "", ",]", ", {"])
        for _ in range(1000)
    ]
    return texts


CASES = _cases()


@functools.cache
def _reference() -> list[DetectionParse]:
    return [reference_parse_general(text.strip()) for text in CASES]


def _same(got: DetectionParse, want: DetectionParse) -> bool:
    # PredBox compares by value; -0.0 == 0.0 would hide a sign change, so compare reprs as well.
    return got == want and repr(got) == repr(want)


def test_general_reader_equals_the_reference() -> None:
    for text, want in zip(CASES, _reference(), strict=True):
        assert _same(parse_general(text.strip()), want), text.strip()[:300]


def test_strict_reader_equals_the_reference() -> None:
    for text in CASES[::3]:
        assert _same(parse_strict(text), reference_parse_strict(text)), text[:300]


def test_the_cases_reach_every_branch_of_the_reader() -> None:
    reads = _reference()
    reasons = {r for p in reads for r in p.malformed_reasons} | {p.failure for p in reads}
    assert {
        "syntax",
        "truncated",
        "missing_comma",
        "not_a_dict",
        "bad_position",
        "too_many_items",
        "non_numeric_or_non_finite_position",
        "no_list",
        "all_malformed",
    } <= reasons, reasons
    assert sum(bool(p.boxes) for p in reads) > 500 and sum(p.truncated for p in reads) > 100
    assert any(len(t) > 20_000 for t in CASES)
