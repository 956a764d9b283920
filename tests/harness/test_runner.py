"""`vrft eval` run directories: real backends end to end, resume after kill -9, shards, replay re-scoring."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.backends.base import GenerationParams
from harness.config import EvalConfig, Shard
from harness.runner import run_eval
from harness.score_cmd import ScoreError, score_run
from tasks.registry import get_task
from tasks.synthetic import write_synthetic

TASKS = ("fgvc_pets37", "coco_fewshot", "lisa_grounding")  # one task of every family


def _tiny_params() -> GenerationParams:
    from harness.tiny import TINY_MAX_PIXELS, TINY_MIN_PIXELS

    return GenerationParams(min_pixels=TINY_MIN_PIXELS, max_pixels=TINY_MAX_PIXELS)  # as the vllm_backend fixture


TINY_PARAMS = _tiny_params()


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("runner") / "data"
    write_synthetic(root)
    return root


def perfect_generations(data_root: Path, path: Path, task_args: dict) -> Path:
    with path.open("w") as f:
        for name in TASKS:
            for r in get_task(name, data_root, **task_args).requests():
                f.write(json.dumps({"request_id": r.request_id, "text": "<think>x</think>" + r.solution}) + "\n")
    return path


def lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def config(model: str, data_root: Path, backend: str, **task_args: object) -> EvalConfig:
    return EvalConfig(
        model=model,
        tasks=TASKS,
        data_root=str(data_root),
        backend=backend,
        task_args=dict(task_args),
        params=TINY_PARAMS,
        batch_size=4,
    )


def test_replay_run_directory_resume_and_refusal(data_root: Path, tmp_path: Path) -> None:
    gens = perfect_generations(data_root, tmp_path / "saved.jsonl", {"limit": 3})
    cfg = config(str(gens), data_root, "replay", limit=3)
    run = run_eval(cfg, tmp_path / "run")
    metrics = json.loads((run / "metrics.json").read_text()) if (run / "metrics.json").exists() else None
    assert metrics is None  # run_eval generates; scoring is its own stage
    metrics = score_run(run)
    assert metrics["fgvc_pets37"]["accuracy"] == 100.0 and metrics["coco_fewshot"]["mAP"] == pytest.approx(100.0)
    manifest = json.loads((run / "manifest.json").read_text())
    assert [t["name"] for t in manifest["tasks"]] == list(TASKS)
    assert all(t["version"] == "1" and t["args"]["limit"] == 3 for t in manifest["tasks"])
    for key in (
        "profile",
        "model",
        "backend",
        "generation",
        "image_policy",
        "coords",
        "packages",
        "git_commit",
        "created",
        "finished",
    ):
        assert key in manifest, key
    assert manifest["packages"]["pycocotools"] == "2.0.11"
    first = lines(run / "generations.jsonl")
    assert len({(x["task"], x["request_id"]) for x in first}) == len(first)
    assert all(len(x["request_hash"]) == 16 for x in first)
    # the same command again generates nothing
    run_eval(cfg, run)
    assert lines(run / "generations.jsonl") == first
    # another configuration in the same directory is refused
    with pytest.raises(ValueError, match="different configuration"):
        run_eval(config(str(gens), data_root, "replay", limit=4), run)


def test_shards_merge_and_incomplete_sets_are_refused(data_root: Path, tmp_path: Path) -> None:
    gens = perfect_generations(data_root, tmp_path / "saved.jsonl", {"limit": 3})
    cfg = config(str(gens), data_root, "replay", limit=3)
    run = tmp_path / "run"
    run_eval(cfg, run, Shard.parse("0/2"))
    shard0 = lines(run / "generations.shard-0-of-2.jsonl")
    total = sum(len(list(get_task(n, data_root, limit=3).requests())) for n in TASKS)
    assert 0 < len(shard0) < total
    with pytest.raises(ScoreError, match="no generation"):
        score_run(run)
    run_eval(cfg, run, Shard.parse("1/2"))
    shard1 = lines(run / "generations.shard-1-of-2.jsonl")
    assert len(shard0) + len(shard1) == total
    assert not {x["request_id"] + x["task"] for x in shard0} & {x["request_id"] + x["task"] for x in shard1}
    merged = score_run(run)
    whole = run_eval(cfg, tmp_path / "whole")
    assert merged == score_run(whole)
    with pytest.raises(ValueError, match="I/N"):
        Shard.parse("2/2")


@pytest.mark.slow
def test_vllm_end_to_end_and_replay_rescoring(
    vllm_backend: object, tiny_model: Path, data_root: Path, tmp_path: Path
) -> None:
    broken = data_root.parent / "broken"
    if not broken.exists():
        import shutil

        shutil.copytree(data_root, broken)
    first_image = next(get_task("coco_fewshot", broken, limit=2).requests()).image.path
    first_image.write_bytes(b"not a jpeg")  # a bad sample: recorded, the run goes on
    cfg = config(str(tiny_model), broken, "vllm", limit=2, max_new_tokens=24)
    run = run_eval(cfg, tmp_path / "run", backend=vllm_backend)  # type: ignore[arg-type]
    metrics = score_run(run)
    gens = lines(run / "generations.jsonl")
    n_requests = sum(len(list(get_task(n, broken, limit=2, max_new_tokens=24).requests())) for n in TASKS)
    assert len(gens) == n_requests
    errors = [g for g in gens if g["error"]]
    assert errors and all(str(first_image) in g["error"] or "image" in g["error"].lower() for g in errors)
    assert metrics["coco_fewshot"]["generation_errors"] == len(errors)
    for name in TASKS:
        assert name in metrics
    scores = lines(run / "scores.jsonl")
    assert len(scores) == n_requests
    assert {"accuracy", "format", "total"} <= set(next(s for s in scores if s["task"] == "fgvc_pets37"))
    # replaying the saved generations re-scores to identical metrics
    ok = tmp_path / "ok.jsonl"
    ok.write_text("".join(json.dumps(g) + "\n" for g in gens if not g["error"]))
    replay = run_eval(config(str(ok), broken, "replay", limit=2, max_new_tokens=24), tmp_path / "replay")
    replayed = score_run(replay, allow_missing=True)
    for name in TASKS:
        for key in ("accuracy", "mAP", "mIoU_val", "mIoU_test"):
            if key in metrics[name]:
                assert replayed[name][key] == metrics[name][key], (name, key)


def vrft_eval(model: Path, data_root: Path, run_dir: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "harness.cli",
        "eval",
        "--backend",
        "hf",
        "--model",
        str(model),
        "--tasks",
        "fgvc_pets37",
        "--data-root",
        str(data_root),
        "--run-dir",
        str(run_dir),
        "--batch-size",
        "1",
        "--task-arg",
        "limit=10",
        "--task-arg",
        "max_new_tokens=40",
        "--min-pixels",
        str(TINY_PARAMS.min_pixels),
        "--max-pixels",
        str(TINY_PARAMS.max_pixels),
    ]


@pytest.mark.slow
def test_kill_9_then_resume_equals_an_uninterrupted_run(tiny_model: Path, data_root: Path, tmp_path: Path) -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    whole = tmp_path / "whole"
    # --no-cache: this run must leave the generation cache empty, or the run killed below would take every
    # answer from it at once instead of generating (and be over before the kill)
    uncached = [*vrft_eval(tiny_model, data_root, whole), "--no-cache"]
    subprocess.run(uncached, check=True, env=env, capture_output=True, timeout=600)
    killed = tmp_path / "killed"
    proc = subprocess.Popen(
        vrft_eval(tiny_model, data_root, killed),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    out = killed / "generations.jsonl"
    deadline = time.time() + 300
    while time.time() < deadline and (not out.exists() or len(out.read_text().splitlines()) < 4):
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    n_before = len(out.read_text().splitlines())
    total = len(lines(whole / "generations.jsonl"))
    assert 4 <= n_before < total, "the run must be killed mid-way"
    assert not (killed / "metrics.json").exists()
    subprocess.run(vrft_eval(tiny_model, data_root, killed), check=True, env=env, capture_output=True, timeout=600)
    resumed = lines(killed / "generations.jsonl")
    assert len(resumed) == total  # nothing generated twice
    assert sorted(g["request_id"] for g in resumed) == sorted(
        g["request_id"] for g in lines(whole / "generations.jsonl")
    )
    a = json.loads((whole / "metrics.json").read_text())
    b = json.loads((killed / "metrics.json").read_text())
    assert a["fgvc_pets37"]["accuracy"] == b["fgvc_pets37"]["accuracy"]
    assert a["fgvc_pets37"]["accuracy_official"] == b["fgvc_pets37"]["accuracy_official"]
    assert lines(whole / "scores.jsonl") == lines(killed / "scores.jsonl")


def test_two_stage_protocol_runs_both_stages(data_root: Path, tmp_path: Path) -> None:
    task = get_task("coco_fewshot", data_root, limit=3, protocol="two-stage")
    stage1 = list(task.requests())
    direct = {r.request_id: r for r in get_task("coco_fewshot", data_root, limit=3).requests()}
    saved = tmp_path / "saved.jsonl"
    with saved.open("w") as f:
        for r in stage1:
            rid = r.request_id.removeprefix("exist/")
            present = "No Objects" not in direct[rid].solution
            f.write(json.dumps({"request_id": r.request_id, "text": f"<answer>{'yes' if present else 'no'}</answer>"}))
            f.write("\n" + json.dumps({"request_id": rid, "text": "<think>x</think>" + direct[rid].solution}) + "\n")
    cfg = EvalConfig(
        model=str(saved),
        tasks=("coco_fewshot",),
        data_root=str(data_root),
        backend="replay",
        task_args={"limit": 3, "protocol": "two-stage"},
        params=TINY_PARAMS,
    )
    run = run_eval(cfg, tmp_path / "run")
    gens = lines(run / "generations.jsonl")
    n_yes = sum(1 for r in stage1 if "No Objects" not in direct[r.request_id.removeprefix("exist/")].solution)
    assert len(gens) == len(stage1) + n_yes  # boxes asked only where stage 1 said yes
    metrics = score_run(run)["coco_fewshot"]
    assert metrics["mAP"] == pytest.approx(100.0) and metrics["protocol"] == "two-stage"
    before = (run / "generations.jsonl").read_text()
    run_eval(cfg, run)  # complete: nothing to do, no backend needed
    assert (run / "generations.jsonl").read_text() == before
