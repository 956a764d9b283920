"""The generation cache across runs (`harness.gen_cache`) and content fingerprints of replay files."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from harness.backends import ChatRequest, Generation, GenerationParams
from harness.backends.replay import ReplayBackend
from harness.cli import main
from harness.config import EvalConfig
from harness.eval_cmd import run_dir_for
from harness.gen_cache import CACHE_FILE, GenerationCache, open_cache
from harness.provenance import model_fingerprint
from harness.runner import run_eval
from tasks.registry import get_task
from tasks.synthetic import write_synthetic

TASK = "fgvc_pets37"


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("gen_cache") / "data"
    write_synthetic(root)
    return root


def _answers(data_root: Path, path: Path, right: bool = True) -> Path:
    with path.open("w") as f:
        for r in get_task(TASK, data_root).requests():
            answer = r.solution if right else "<answer>not a pet</answer>"
            f.write(json.dumps({"request_id": r.request_id, "text": "<think>x</think>" + answer}) + "\n")
    return path


class Counting:
    """A replay backend that counts the requests it is asked to generate."""

    name = "counting"

    def __init__(self, replay: Path) -> None:
        self.inner = ReplayBackend(replay)
        self.asked: list[str] = []

    def generate(self, requests: Sequence[ChatRequest]) -> list[Generation]:
        self.asked += [r.request_id for r in requests]
        return self.inner.generate(requests)

    def describe(self) -> dict[str, Any]:
        return {"backend": self.name}

    def close(self) -> None:
        pass


@pytest.fixture
def checkpoint(tmp_path: Path) -> Path:
    """A local 'checkpoint' directory: the cache needs a content fingerprint of the model."""
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    (ckpt / "config.json").write_text(json.dumps({"model_type": "qwen2_vl"}))
    return ckpt


def _config(model: Path, data_root: Path, limit: int | None) -> EvalConfig:
    args = {"limit": limit} if limit else {}
    return EvalConfig(model=str(model), tasks=(TASK,), data_root=str(data_root), backend="counting", task_args=args)


def _ids(data_root: Path, limit: int | None) -> list[str]:
    args = {"limit": limit} if limit else {}
    return [r.request_id for r in get_task(TASK, data_root, **args).requests()]


def test_a_larger_limit_in_a_new_run_generates_only_the_new_requests(
    checkpoint: Path, data_root: Path, tmp_path: Path
) -> None:
    replay = _answers(data_root, tmp_path / "answers.jsonl")
    first = Counting(replay)
    run_eval(_config(checkpoint, data_root, 2), tmp_path / "a", backend=first)  # type: ignore[arg-type]
    small, large = _ids(data_root, 2), _ids(data_root, 4)
    assert sorted(first.asked) == sorted(small) and len(large) > len(small)

    second = Counting(replay)
    run_eval(_config(checkpoint, data_root, 4), tmp_path / "b", backend=second)  # type: ignore[arg-type]
    assert sorted(second.asked) == sorted(set(large) - set(small))  # only the genuinely new requests
    manifest = json.loads((tmp_path / "b" / "manifest.json").read_text())
    assert manifest["cache"]["from_cache"] == len(small) and manifest["timing"][-1]["requests"] == len(large)
    lines = [json.loads(x) for x in (tmp_path / "b" / "generations.jsonl").read_text().splitlines()]
    assert sorted(x["request_id"] for x in lines) == sorted(large)  # the run holds every answer
    assert all(x["error"] is None and x["text"].startswith("<think>") for x in lines)

    third = Counting(replay)
    run_eval(_config(checkpoint, data_root, 4), tmp_path / "c", backend=third, use_cache=False)  # type: ignore[arg-type]
    assert sorted(third.asked) == sorted(large)  # --no-cache regenerates everything
    assert json.loads((tmp_path / "c" / "manifest.json").read_text())["cache"]["state"] == "off (--no-cache)"


def test_other_model_files_or_generation_settings_miss_the_cache(
    checkpoint: Path, data_root: Path, tmp_path: Path
) -> None:
    replay = _answers(data_root, tmp_path / "answers.jsonl")
    run_eval(_config(checkpoint, data_root, 2), tmp_path / "a", backend=Counting(replay))  # type: ignore[arg-type]
    (checkpoint / "model.safetensors").write_bytes(b"new weights")
    again = Counting(replay)
    run_eval(_config(checkpoint, data_root, 2), tmp_path / "b", backend=again)  # type: ignore[arg-type]
    assert len(again.asked) == len(_ids(data_root, 2))
    hot = EvalConfig(
        model=str(checkpoint),
        tasks=(TASK,),
        data_root=str(data_root),
        backend="counting",
        task_args={"limit": 2},
        params=GenerationParams(temperature=0.7),
    )
    sampled = Counting(replay)
    run_eval(hot, tmp_path / "c", backend=sampled)  # type: ignore[arg-type]
    assert len(sampled.asked) == len(_ids(data_root, 2))


def test_the_cli_takes_answers_from_the_cache_unless_no_cache(
    checkpoint: Path, data_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    replay = _answers(data_root, tmp_path / "answers.jsonl")
    made: list[Counting] = []

    def fake_backend(name: str, model: str, params: GenerationParams, **opts: Any) -> Counting:
        made.append(Counting(replay))
        return made[-1]

    monkeypatch.setattr("harness.runner.make_backend", fake_backend)
    argv = ["eval", "--model", str(checkpoint), "--backend", "hf", "--tasks", TASK, "--data-root", str(data_root)]
    assert main([*argv, "--limit", "2", "--run-dir", str(tmp_path / "a")]) == 0
    assert main([*argv, "--limit", "2", "--run-dir", str(tmp_path / "b")]) == 0
    assert len(made) == 1  # everything cached: no engine was even started
    assert json.loads((tmp_path / "b" / "metrics.json").read_text()) == json.loads(
        (tmp_path / "a" / "metrics.json").read_text()
    )
    assert main([*argv, "--limit", "2", "--run-dir", str(tmp_path / "c"), "--no-cache"]) == 0
    assert len(made) == 2 and sorted(made[-1].asked) == sorted(_ids(data_root, 2))


def test_a_damaged_entry_is_a_miss_and_failures_are_not_cached(tmp_path: Path) -> None:
    params = GenerationParams()
    cache = GenerationCache(tmp_path / CACHE_FILE, "fp", "hf", {}, params)
    ok, bad, failed = (ChatRequest(i, None, f"text {i}") for i in ("ok", "bad", "failed"))
    cache.put_many(
        [(ok, Generation("ok", "yes")), (bad, Generation("bad", "no")), (failed, Generation.failed("failed", "x"))]
    )
    with sqlite3.connect(tmp_path / CACHE_FILE) as db:  # as a crash or another writer might leave it
        db.execute("UPDATE generations SET generation = '{\"text\": ' WHERE key = ?", (cache.key(bad),))
    other = GenerationCache(tmp_path / CACHE_FILE, "fp", "hf", {"data_parallel_size": 4}, params)  # another process
    got = other.get_many([ok, bad, failed])
    assert list(got) == ["ok"] and got["ok"].text == "yes" and other.n_missing([ok, bad, failed]) == 2
    assert (
        GenerationCache(tmp_path / CACHE_FILE, "fp", "hf", {"model_args": {"dtype": "float16"}}, params).get_many([ok])
        == {}
    )  # a different dtype is a different model
    cache.close()
    other.close()


def test_cache_lives_in_vrft_cache_dir_and_is_off_without_a_fingerprint(tmp_path: Path) -> None:
    cache, state = open_cache(str(tmp_path), "hf", {}, GenerationParams())
    assert cache is not None and cache.path.parent == Path(os.environ["VRFT_CACHE_DIR"])
    assert "on (" in state
    cache.close()
    assert open_cache("served-model-name", "openai", {}, GenerationParams())[0] is None
    assert open_cache(str(tmp_path), "replay", {}, GenerationParams())[0] is None


def test_an_edited_replay_file_changes_the_fingerprint_and_the_results(data_root: Path, tmp_path: Path) -> None:
    replay = _answers(data_root, tmp_path / "answers.jsonl")
    runs = tmp_path / "runs"
    argv = ["eval", "--model", str(replay), "--backend", "replay", "--tasks", TASK, "--data-root", str(data_root)]
    assert main([*argv, "--runs-root", str(runs)]) == 0
    before = model_fingerprint(replay)
    config = EvalConfig(model=str(replay), tasks=(TASK,), data_root=str(data_root), backend="replay")
    first_dir = run_dir_for(config, None, runs)
    first = json.loads((first_dir / "metrics.json").read_text())

    _answers(data_root, replay, right=False)  # edited in place
    assert model_fingerprint(replay) != before
    second_dir = run_dir_for(config, None, runs)
    assert second_dir != first_dir  # the default run directory follows the file's content
    assert main([*argv, "--runs-root", str(runs)]) == 0
    second = json.loads((second_dir / "metrics.json").read_text())
    assert second != first
    # the old run directory, named explicitly, refuses the edited file instead of serving old answers
    assert main([*argv, "--run-dir", str(first_dir)]) == 2
