"""Replay backend: saved generations in, the same Generations out; unknown requests are errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.backends import ChatRequest, Generation, make_backend
from harness.backends.replay import read_generations, write_generations

SAVED = [
    Generation("a", "<think>x</think><answer>cat</answer>", 120, 9, "stop"),
    Generation("b", "unicode ✓ 漢字\nsecond line", 80, 30, "length"),
    Generation.failed("c", "image not found: /x.png"),
]


def test_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "generations.jsonl"
    write_generations(path, SAVED)
    backend = make_backend("replay", str(path))
    reqs = [ChatRequest(g.request_id, None, "ignored") for g in reversed(SAVED)]
    assert backend.generate(reqs) == list(reversed(SAVED))
    d = backend.describe()
    assert d["n_saved"] == 3 and len(d["fingerprint"]) == 64


def test_unknown_request_is_an_error_generation(tmp_path: Path) -> None:
    path = tmp_path / "g.jsonl"
    write_generations(path, SAVED[:1])
    g = make_backend("replay", str(path)).generate([ChatRequest("zzz", None, "t")])[0]
    assert not g.ok and g.error is not None and "no saved generation for request 'zzz'" in g.error


def test_minimal_lines_blank_lines_and_last_wins(tmp_path: Path) -> None:
    path = tmp_path / "g.jsonl"
    path.write_text('{"request_id": "a", "text": "old"}\n\n{"request_id": "a", "text": "new", "extra": 1}\n')
    assert read_generations(path) == {"a": Generation("a", "new")}


@pytest.mark.parametrize(
    ("line", "match"),
    [
        ("not json", "not valid JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"text": "t"}', "'request_id' must be a non-empty string"),
        ('{"request_id": "a", "text": 3}', "'text' must be a string"),
    ],
)
def test_malformed_lines_name_file_and_line(tmp_path: Path, line: str, match: str) -> None:
    path = tmp_path / "g.jsonl"
    path.write_text('{"request_id": "ok", "text": "t"}\n' + line + "\n")
    with pytest.raises(ValueError, match=rf"g\.jsonl:2: .*{match}"):
        read_generations(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="generations file not found"):
        make_backend("replay", str(tmp_path / "nope.jsonl"))
