"""The backend protocol's value types, helpers and factory (no model needed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from harness.backends import BACKENDS, Backend, ChatRequest, Generation, GenerationParams, make_backend
from harness.backends.base import check_unique_ids, request_seed, truncate_at_stop
from harness.provenance import model_fingerprint


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"temperature": -0.1}, "temperature"),
        ({"temperature": float("nan")}, "temperature"),
        ({"top_p": 0.0}, "top_p"),
        ({"top_p": 1.5}, "top_p"),
        ({"top_k": 0}, "top_k"),
        ({"stop": "</answer>"}, "stop"),
        ({"stop": ("",)}, "stop"),
        ({"min_pixels": 0}, "min_pixels"),
        ({"min_pixels": 100, "max_pixels": 99}, "min_pixels"),
    ],
)
def test_generation_params_rejects_bad_values_naming_the_field(kwargs: dict, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        GenerationParams(**kwargs)


def test_generation_params_defaults_are_greedy_official_eval() -> None:
    p = GenerationParams()
    assert p.greedy and p.stop == ("</answer>",)
    assert (p.min_pixels, p.max_pixels) == (3136, 12845056)  # PROTOCOL.md §1.2, evaluation column
    assert p.as_dict()["stop"] == ["</answer>"]
    assert GenerationParams(stop=["a", "b"]).stop == ("a", "b")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"request_id": ""}, "request_id"), ({"max_new_tokens": 0}, "max_new_tokens")],
)
def test_chat_request_validation(kwargs: dict, match: str) -> None:
    base = {"request_id": "r", "image_path": None, "text": "hi"}
    with pytest.raises(ValueError, match=match):
        ChatRequest(**(base | kwargs))


def test_chat_request_coerces_image_path_and_is_frozen() -> None:
    r = ChatRequest("r", "a/b.png", "t")  # type: ignore[arg-type]
    assert r.image_path == Path("a/b.png") and r.system is None
    with pytest.raises(AttributeError):
        r.text = "x"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "stop", "expected", "stopped"),
    [
        ("<answer>1</answer> tail", ("</answer>",), "<answer>1</answer>", True),
        ("no stop here", ("</answer>",), "no stop here", False),
        ("a</b>c</answer>", ("</answer>", "</b>"), "a</b>", True),  # earliest wins
        ("x", (), "x", False),
    ],
)
def test_truncate_at_stop_keeps_the_stop_string(text: str, stop: tuple, expected: str, stopped: bool) -> None:
    assert truncate_at_stop(text, stop) == (expected, stopped)


def test_request_seed_is_stable_and_per_request() -> None:
    assert request_seed(0, "a") == request_seed(0, "a")
    assert request_seed(0, "a") != request_seed(0, "b")
    assert request_seed(0, "a") != request_seed(1, "a")
    assert 0 <= request_seed(5, "zzz") < 2**31


def test_generation_failed_and_duplicates() -> None:
    g = Generation.failed("r1", "boom")
    assert not g.ok and g.finish_reason == "error" and g.text == ""
    with pytest.raises(ValueError, match="duplicate request_id 'a'"):
        check_unique_ids([ChatRequest("a", None, "x"), ChatRequest("a", None, "y")])


def test_make_backend_unknown_name() -> None:
    with pytest.raises(ValueError, match=r"unknown backend 'nope'.*replay"):
        make_backend("nope", "m")
    assert set(BACKENDS) == {"vllm", "hf", "openai", "replay"}


def test_replay_backend_satisfies_the_protocol(tmp_path: Path) -> None:
    f = tmp_path / "g.jsonl"
    f.write_text('{"request_id": "a", "text": "t"}\n')
    backend = make_backend("replay", str(f))
    assert isinstance(backend, Backend) and backend.name == "replay"


def test_model_fingerprint_changes_with_content(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    first = model_fingerprint(tmp_path)
    assert first == model_fingerprint(tmp_path)
    (tmp_path / "config.json").write_text('{"a": 1}')
    assert model_fingerprint(tmp_path) != first
    assert model_fingerprint(tmp_path / "missing") is None


def test_importing_backends_pulls_no_engine() -> None:
    """`vrft score` and the task code import harness.backends; engines must stay unloaded."""
    code = (
        "import sys, harness.backends, harness.backends.replay, harness.tiny;"
        "heavy = [m for m in ('torch', 'vllm', 'transformers', 'httpx', 'openai') if m in sys.modules];"
        "print(heavy); sys.exit(1 if heavy else 0)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
