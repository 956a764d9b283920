"""A generated corpus through every verifier in both profiles: near-valid answers (each mutated once or
twice: numbers made huge, NaN, negative or endless; brackets dropped, doubled or nested thousands deep;
tags cut, repeated or swapped; unicode spliced in; text truncated anywhere) and plain junk. Every score
must come back without an exception, with finite components inside the documented ranges (`RANGES`).

Deterministic (seeded) and sized to run in seconds; `test_properties` adds hypothesis' search on top.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable

import pytest

from tasks.spec import Kind, Profile
from tasks.verifiers import RANGES, get_verifier

PER_KIND = 2500  # completions per task family (each scored in both profiles)
SEED = 17

VALID = {
    Kind.DETECTION: [
        "<think>two cats</think><answer>[{'Position': [120, 80, 410, 390], 'Confidence': 0.92}, "
        "{'Position': [500, 510, 720, 880], 'Confidence': 0.6}]</answer>",
        '<think>x</think><answer>[{"Position": [0, 0, 1000, 1000], "Confidence": 1}]</answer>',
        "<think>none here</think><answer>No Objects</answer>",
    ],
    Kind.CLASSIFICATION: [
        "<think>petals</think><answer>pink primrose</answer>",
        "<think>grille</think><answer>2012 BMW M3 Coupe</answer>",
        "<think>wings</think><answer>F/A-18</answer>",
    ],
    Kind.GROUNDING: [
        "<think>the dog</think><answer>(120,80),(410,390)</answer>",
        "<think>x</think><answer> (0,0),(1000,1000) </answer>",
        "<think>x</think><answer>[120, 80, 410, 390]</answer>",
    ],
}
SOLUTIONS = {
    Kind.DETECTION: [
        "<answer>[{'Position': [118, 84, 400, 392], 'Confidence': 1}]</answer>",
        "<answer>No Objects</answer>",
    ],
    Kind.CLASSIFICATION: ["<answer>pink primrose</answer>", "<answer>2012 BMW M3 Coupe</answer>"],
    Kind.GROUNDING: ["<answer> (100,90),(400,380) </answer>", "<answer> (0,0),(1,1) </answer>"],
}
NUMBERS = [
    "NaN", "nan", "Infinity", "-Infinity", "inf", "1e308", "-1e308", "1e400", "-0", "0.0000001",
    "9" * 400, "-" + "9" * 60, "1_000", "0x1F", "1e", ".", "--5", "+7", "3.", "1e-400", "True", "None", "'5'",
]  # fmt: skip
UNICODE = ["Ünïcödé", "\u200b", "\u202e", "🌹", "\x00", "\ufffd", "ﬁ", "١٢٣", "\u0301", "\ud7ff", "𝟙𝟘𝟘"]
TAGS = ["<think>", "</think>", "<answer>", "</answer>", "<ANSWER>", "</ answer>", "<answer/>"]
NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def _mutations(rng: random.Random) -> list[Callable[[str], str]]:
    def number(s: str) -> str:
        spots = list(NUMBER.finditer(s))
        if not spots:
            return s + rng.choice(NUMBERS)
        m = rng.choice(spots)
        return s[: m.start()] + rng.choice(NUMBERS) + s[m.end() :]

    def cut(s: str) -> str:
        return s[: rng.randrange(len(s) + 1)]

    def splice(s: str, piece: str) -> str:
        i = rng.randrange(len(s) + 1)
        return s[:i] + piece + s[i:]

    def drop_char(s: str, chars: str) -> str:
        spots = [i for i, c in enumerate(s) if c in chars]
        if not spots:
            return s
        i = rng.choice(spots)
        return s[:i] + s[i + 1 :]

    return [
        number,
        number,
        cut,
        lambda s: splice(s, rng.choice(UNICODE) * rng.randint(1, 50)),
        lambda s: splice(s, rng.choice(TAGS)),
        lambda s: drop_char(s, "[]{}()<>"),
        lambda s: drop_char(s, ",:'\""),
        lambda s: splice(s, rng.choice("[{(") * rng.choice([2, 50, 5000])),
        lambda s: splice(s, rng.choice("]})") * rng.choice([2, 50, 5000])),
        lambda s: splice(s, rng.choice(["x", "1, ", "{'Position': [1, 2, 3, 4]}, "]) * rng.choice([10, 3000])),
        lambda s: s.replace("<answer>", "<answer>" * rng.randint(2, 5), 1),
        lambda s: s.replace("</answer>", "", 1),
        lambda s: s.replace("Position", rng.choice(["position", "Pos", "Position'", "Confidence"]), 1),
        lambda s: s.replace("Confidence", rng.choice(["confidence", "Conf", "Position"]), 1),
        lambda s: s.upper(),
        lambda s: s + s,
    ]


def _junk(rng: random.Random) -> str:
    pool = [*NUMBERS, *UNICODE, *TAGS, "[", "]", "{", "}", "(", ")", ",", ":", "'", '"', " ", "\n", "No Objects"]
    return "".join(rng.choice(pool) for _ in range(rng.randint(0, 200)))


def corpus(kind: Kind, n: int = PER_KIND, seed: int = SEED) -> list[str]:
    rng = random.Random(f"{seed}/{kind.value}")
    mutate = _mutations(rng)
    out = []
    for i in range(n):
        if i % 5 == 4:
            out.append(_junk(rng))
            continue
        text = rng.choice(VALID[kind])
        for _ in range(rng.choice([1, 1, 2, 3])):
            text = rng.choice(mutate)(text)
        out.append(text)
    return out


@pytest.mark.parametrize("profile", list(Profile))
@pytest.mark.parametrize("kind", list(Kind))
def test_generated_corpus_scores_finite_and_in_range(kind: Kind, profile: Profile) -> None:
    opts = {"math_verify": False} if profile is Profile.OFFICIAL else {}
    verifier = get_verifier(kind, profile, **opts)
    ranges = RANGES[(kind, profile)]
    targets = [verifier.parse_target(s) for s in SOLUTIONS[kind]]
    for i, text in enumerate(corpus(kind)):
        target = targets[i % len(targets)]
        try:
            score = verifier.score(text, target)
        except Exception as err:  # pragma: no cover - the failure message is the point
            pytest.fail(f"{kind.value}/{profile.value}: completion {i} {text[:200]!r} raised {err!r}")
        assert tuple(score.components) == tuple(ranges), (i, text[:200])
        for name, value in score.components.items():
            low, high = ranges[name]
            assert isinstance(value, float) and math.isfinite(value) and low <= value <= high, (name, value, i)
        assert math.isfinite(score.total)


def test_official_with_math_verify_on_a_slice_of_the_corpus() -> None:
    for kind in Kind:
        verifier = get_verifier(kind, Profile.OFFICIAL, math_verify=None)
        target = verifier.parse_target(SOLUTIONS[kind][0])
        for text in corpus(kind, n=6, seed=SEED + 2):
            score = verifier.score(text, target)
            assert all(math.isfinite(v) for v in score.components.values()), text[:200]


def test_the_corpus_holds_what_it_claims() -> None:
    texts = corpus(Kind.DETECTION)
    assert len(texts) == PER_KIND and len(set(texts)) > PER_KIND * 0.6
    assert any("NaN" in t for t in texts) and any("9" * 400 in t for t in texts)
    assert any("[" * 5000 in t or "{" * 5000 in t for t in texts) and any(len(t) > 20_000 for t in texts)
    assert any(c in t for t in texts for c in ("🌹", "\u202e", "\x00"))
