"""`vrft reward` end to end through the installed console script."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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
