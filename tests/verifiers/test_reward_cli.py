"""`vrft reward` end to end through the installed console script."""

from __future__ import annotations

import json
import math
import random
import subprocess
import sys
from pathlib import Path

import pytest

from tasks.spec import Score

GT = "<answer>[{'Position': [100, 120, 200, 220], 'Confidence': 1}]</answer>"
GOOD = "<think>r</think><answer>[{'Position': [100, 121, 200, 220], 'Confidence': 0.9}]</answer>"


def vrft(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "harness.cli", *args]
    return subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=120, check=False)


def test_reward_file_both_profiles_and_bad_lines(tmp_path: Path) -> None:
    lines = [
        json.dumps({"completion": GOOD, "solution": GT}),
        "{not json",
        json.dumps({"completion": GOOD}),
        json.dumps(
            {"completion": "<think>a</think><answer>No Objects</answer>", "solution": "<answer>No Objects</answer>"}
        ),
    ]
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(lines) + "\n")
    res = vrft("reward", str(path), "--kind", "detection")
    assert res.returncode == 1
    out = [json.loads(x) for x in res.stdout.splitlines()]
    assert len(out) == 4
    assert out[0] == {"accuracy_iou": 0.99, "accuracy_confidence": 0.9, "format": 1.0, "total": 2.89}
    assert out[1]["line"] == 2 and "not valid JSON" in out[1]["error"]
    assert out[2]["line"] == 3 and "solution" in out[2]["error"]
    assert out[3]["total"] == 3.0  # strict: a correct refusal on a negative
    assert "line 2" in res.stderr and "line 3" in res.stderr

    official = vrft("reward", str(path), "--kind", "detection", "--profile", "official", "--math-verify", "off")
    off = [json.loads(x) for x in official.stdout.splitlines()]
    assert off[3]["total"] == 1.0  # official: format only (D13)


def test_reward_stdin_classification_and_grounding() -> None:
    cls = json.dumps(
        {"completion": "<think>x</think><answer>rose</answer>", "solution": "<answer>lenten rose</answer>"}
    )
    res = vrft("reward", "--kind", "classification", "--profile", "official", stdin=cls + "\n")
    assert res.returncode == 0 and json.loads(res.stdout) == {"accuracy": 1.0, "format": 1.0, "total": 2.0}
    res = vrft("reward", "--kind", "classification", stdin=cls + "\n")
    assert json.loads(res.stdout)["accuracy"] == 0.0
    lisa = json.dumps(
        {
            "completion": "<think>x</think><answer>(100,200),(300,400)</answer>",
            "solution": "<answer> (100,200),(300,400) </answer>",
        }
    )
    res = vrft("reward", "--kind", "grounding", "--profile", "official", stdin=lisa + "\n")
    assert json.loads(res.stdout)["accuracy"] == 2.0


def test_reward_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    res = vrft("reward", str(tmp_path / "nope.jsonl"), "--kind", "detection")
    assert res.returncode == 2 and "nope.jsonl" in res.stderr


def test_reward_invalid_utf8_is_a_line_error_and_nothing_valid_is_lost(tmp_path: Path) -> None:
    good = json.dumps({"completion": GOOD, "solution": GT}).encode()
    bad = json.dumps({"completion": "<answer>XX</answer>", "solution": GT}).encode().replace(b"XX", b"\xff\xfe")
    path = tmp_path / "in.jsonl"
    path.write_bytes(b"\n".join([good, bad, good]) + b"\n")
    for args, stdin in (([str(path)], b""), ([], path.read_bytes())):  # a file, and the same bytes on stdin
        cmd = [sys.executable, "-m", "harness.cli", "reward", *args, "--kind", "detection"]
        res = subprocess.run(cmd, input=stdin, capture_output=True, timeout=120, check=False)
        assert res.returncode == 1 and b"Traceback" not in res.stderr
        out = [json.loads(x) for x in res.stdout.decode().splitlines()]
        assert len(out) == 3 and out[0] == out[2] and out[0]["total"] == 2.89
        assert out[1]["line"] == 2 and "not valid UTF-8 (byte 0xff" in out[1]["error"]
        assert b"line 2: not valid UTF-8" in res.stderr


# ---- the fast JSON paths of `vrft reward` against json itself ----------------------------------------

JSON_LINES = [
    '{"completion": "a", "solution": "b"}\n', '{"completion": "a", "solution": "b"}', '  {"a": 1}\n',
    '\ufeff{"a": 1}', '{"a": 1} {"b": 2}\n', '{"a": 1}\t\r\n ', '{"a": 1} x', "[1, 2]", "null", "3.5", '"s"',
    '{"a": "\\u00e9\\n\\"q\\""}', '{"a": [1e400, -0.0, 1E5, NaN, Infinity]}', "{", '{"a": 1,}', "", "   ",
    '{"a": "\tx"}', '{"a": 1}\u00a0', '{"a": {"b": [[[]]]}}',
]  # fmt: skip


@pytest.mark.parametrize("line", JSON_LINES)
def test_loads_is_json_loads(line: str) -> None:
    from harness.reward_cmd import _loads

    try:
        want: object = json.loads(line)
    except json.JSONDecodeError as err:
        with pytest.raises(json.JSONDecodeError) as got:
            _loads(line)
        assert (got.value.msg, got.value.colno) == (err.msg, err.colno)
        return
    assert repr(_loads(line)) == repr(want)  # repr: -0.0 and NaN compare as the text json wrote


FLOATS = [0.0, -0.0, 1.0, 0.99, 2.89, 1 / 3, 1e16, 1e-7, 123456789.125, -2.5, 1e308, math.nan, math.inf, -math.inf]


def test_rows_are_json_dumps_byte_for_byte() -> None:
    from harness.reward_cmd import _Rows

    rows = _Rows()
    rng = random.Random(19)
    cases = [
        dict(zip(("accuracy_iou", "accuracy_confidence", "format"), rng.choices(FLOATS, k=3), strict=True))
        for _ in range(300)
    ]
    cases += [
        {"accuracy": 1, "format": 0.5},
        {"a%d": 0.25, 'q"uote': 1.0},
        {"total": 0.5, "format": 1.0},
        {"x": 1e308, "y": 1e308},
        {"accuracy_iou": rng.random(), "format": rng.random()},
    ]
    for components in cases:
        score = Score(components)
        assert rows.line(score) == json.dumps(score.as_dict()) + "\n", components
