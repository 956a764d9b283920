"""`vrft eval` / `vrft tables` as researchers use lmms-eval and vLLM: scoped task arguments, `--limit`,
honest subset labels, `--model-arg`, coordinates from config.json, quiet stdout, export formats."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli import main
from harness.cli_eval import model_args
from harness.config import EvalConfig, coords_for
from harness.runner import run_eval
from harness.tables.render import DifferentSamplesError, render_compare
from harness.tables.runs import load_run
from tasks.registry import GROUPS, get_task
from tasks.synthetic import write_synthetic
from tasks.task_args import build_tasks, check_task_args, resolve_task_args

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("conventions") / "data"
    write_synthetic(root)
    return root


@pytest.fixture(scope="module")
def replay_file(data_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Perfect answers for every request of every paper task (default arguments)."""
    path = tmp_path_factory.mktemp("replay") / "perfect.jsonl"
    with path.open("w") as f:
        for task in build_tasks(GROUPS["paper"], data_root, {}):
            for r in task.requests():
                f.write(json.dumps({"request_id": r.request_id, "text": "<think>x</think>" + r.solution}) + "\n")
    return path


def _eval(replay: Path, data_root: Path, run_dir: Path, *extra: str) -> int:
    argv = ["eval", "--model", str(replay), "--backend", "replay", "--data-root", str(data_root)]
    return main([*argv, "--run-dir", str(run_dir), *extra])


def _manifest_tasks(run_dir: Path) -> dict[str, dict]:
    return {t["name"]: t for t in json.loads((run_dir / "manifest.json").read_text())["tasks"]}


# ---- task arguments ---------------------------------------------------------------------------------


def test_scoped_and_unscoped_task_args_over_the_paper_group(replay_file: Path, data_root: Path, tmp_path: Path) -> None:
    args = ["--tasks", "paper", "--task-arg", "protocol=oracle", "--task-arg", "coco_ov:split=ovr48_17"]
    assert _eval(replay_file, data_root, tmp_path / "run", *args, "--task-arg", "fgvc:prompt=official") == 0
    tasks = _manifest_tasks(tmp_path / "run")
    detection = [n for n, t in tasks.items() if t["kind"] == "detection"]
    assert detection and all(tasks[n]["args"]["protocol"] == "oracle" for n in detection)
    assert all("protocol" not in t["args"] for n, t in tasks.items() if n not in detection)
    assert tasks["coco_ov"]["args"]["split"] == "ovr48_17"
    assert tasks["fgvc_pets37"]["args"]["split"] == "test"  # unscoped split went nowhere: it was scoped
    assert tasks["fgvc_pets37"]["args"]["prompt"] == "official" and tasks["coco_fewshot"]["args"]["prompt"] == "strict"


def test_an_argument_no_selected_task_accepts_is_refused_with_each_tasks_arguments(
    replay_file: Path, data_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _eval(replay_file, data_root, tmp_path / "r", "--tasks", "paper", "--task-arg", "protocl=oracle") == 2
    err = capsys.readouterr().err
    assert "'protocl'" in err and "coco_fewshot: exist_map_min_coverage, limit, max_new_tokens, prompt, protocol" in err
    assert "fgvc_pets37: limit, max_new_tokens, prompt, split" in err
    assert not (tmp_path / "r").exists()
    # accepted by some selected tasks only: fine; by none of the selected ones: refused
    check_task_args(["fgvc_pets37", "coco_fewshot"], {"protocol": "oracle"})
    with pytest.raises(ValueError, match="not accepted by fgvc_pets37"):
        check_task_args(["fgvc_pets37"], {"protocol": "oracle"})
    with pytest.raises(ValueError, match="not accepted by fgvc_pets37"):
        check_task_args(["fgvc_pets37", "coco_fewshot"], {"fgvc_pets37:protocol": "oracle"})


def test_the_most_specific_scope_wins_whatever_the_order() -> None:
    args = {"coco_ov:limit": "2", "detection:limit": "3", "limit": "5"}
    assert resolve_task_args("coco_ov", args)["limit"] == "2"
    assert resolve_task_args("coco_fewshot", args)["limit"] == "3"
    assert resolve_task_args("fgvc_pets37", args)["limit"] == "5"
    assert "protocol" not in resolve_task_args("fgvc_pets37", {"protocol": "oracle"})


# ---- --limit ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["0", "-1", "x"])
def test_limit_must_be_a_positive_integer(bad: str, replay_file: Path, data_root: Path, tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exc:
        _eval(replay_file, data_root, tmp_path / "r", "--tasks", "fgvc_pets37", "--limit", bad)
    assert exc.value.code == 2
    with pytest.raises(ValueError, match="positive integer"):
        get_task("fgvc_pets37", tmp_path, limit=-1)


def test_limit_takes_the_first_n_images_deterministically(replay_file: Path, data_root: Path, tmp_path: Path) -> None:
    for name in ("a", "b"):
        assert (
            _eval(replay_file, data_root, tmp_path / name, "--tasks", "fgvc_pets37,coco_fewshot", "--limit", "2") == 0
        )
    a, b = _manifest_tasks(tmp_path / "a"), _manifest_tasks(tmp_path / "b")
    assert a == b
    full = build_tasks(["coco_fewshot"], data_root, {})[0]
    first_two = list(dict.fromkeys(str(r.image.path) for r in full.requests()))[:2]
    limited = build_tasks(["coco_fewshot"], data_root, {"limit": 2})[0]
    assert list(dict.fromkeys(str(r.image.path) for r in limited.requests())) == first_two
    assert a["coco_fewshot"]["n_images"] == 2 and a["coco_fewshot"]["n_images_total"] > 2


# ---- subset labels, compare ----------------------------------------------------------------------------


def test_subset_runs_are_labelled_and_compare_refuses_different_samples(
    replay_file: Path, data_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = tmp_path / "runs"
    assert _eval(replay_file, data_root, runs / "full", "--tasks", "fgvc_pets37") == 0
    assert _eval(replay_file, data_root, runs / "sub", "--tasks", "fgvc_pets37", "--limit", "2") == 0
    total = _manifest_tasks(runs / "full")["fgvc_pets37"]["n_images"]
    (runs / "unscored").mkdir()
    (runs / "unscored" / "manifest.json").write_text((runs / "sub" / "manifest.json").read_text())
    capsys.readouterr()
    assert main(["tables", "--runs", str(runs)]) == 0
    out = capsys.readouterr()
    rows = [line for line in out.out.splitlines() if line.startswith("| perfect.jsonl")]
    assert len(rows) == 2 and sum(f"n=2/{total} images" in r for r in rows) == 1
    assert f"ignored run {runs / 'unscored'}" in out.err and "metrics.json not found" in out.err
    # figures carry the same label
    from harness.tables.figures import _series
    from harness.tables.render import RunResult

    sub = load_run(runs / "sub")
    assert f"n=2/{total} images" in sub.label_for(["fgvc_pets37"])
    stepped = RunResult(sub.model, sub.task_version, sub.protocol, sub.profile, sub.metrics, 5, subsets=sub.subsets)
    assert all(f"n=2/{total}" in label for label in _series([stepped], "fgvc_pets37", "accuracy"))
    # compare: refused, allowed on request, more than two runs named
    with pytest.raises(DifferentSamplesError, match="fgvc_pets37"):
        render_compare(load_run(runs / "full"), sub)
    assert main(["tables", "--compare", str(runs / "full"), str(runs / "sub")]) == 2
    assert "--allow-different-samples" in capsys.readouterr().err
    assert main(["tables", "--compare", str(runs / "full"), str(runs / "sub"), "--allow-different-samples"]) == 0
    assert "different samples (allowed): fgvc_pets37" in capsys.readouterr().out
    assert main(["tables", "--compare", str(runs / "full"), str(runs / "sub"), str(runs / "unscored")]) == 2
    assert str(runs / "unscored") in capsys.readouterr().err
    # --runs takes a glob
    assert main(["tables", "--runs", str(runs / "s*")]) == 0
    assert sum(line.startswith("| perfect.jsonl") for line in capsys.readouterr().out.splitlines()) == 1


def test_table_formats_parse_back_to_the_markdown_numbers(
    replay_file: Path, data_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "runs" / "sub"
    assert _eval(replay_file, data_root, run, "--tasks", "fgvc_pets37,coco_fewshot", "--limit", "2") == 0
    capsys.readouterr()
    outputs = {}
    for fmt in ("md", "csv", "json", "latex"):
        assert main(["tables", "--runs", str(run), "--format", fmt]) == 0
        outputs[fmt] = capsys.readouterr().out
    md_rows = [[c.strip() for c in line.strip("|").split("|")] for line in outputs["md"].splitlines()]
    md_runs = [r for r in md_rows if r[0].startswith("perfect.jsonl")]
    csv_runs = [r[1:] for r in csv.reader(io.StringIO(outputs["csv"])) if r and r[1].startswith("perfect.jsonl")]
    json_runs = [list(row.values()) for t in json.loads(outputs["json"]) for row in t["rows"]]
    json_runs = [r for r in json_runs if r[0].startswith("perfect.jsonl")]
    latex_runs = [
        [c.strip().removesuffix("\\\\").strip() for c in line.split(" & ")]
        for line in outputs["latex"].splitlines()
        if line.startswith("perfect.jsonl")
    ]
    assert len(md_runs) == 2 and any(c == "100.0" for r in md_runs for c in r)
    for other in (csv_runs, json_runs):
        assert other == md_runs
    assert [[c.replace("--", "–") for c in r[1:]] for r in latex_runs] == [r[1:] for r in md_runs]
    assert "\\begin{tabular}" in outputs["latex"] and "\\textbf{" in outputs["latex"]


# ---- model arguments -----------------------------------------------------------------------------------


def test_model_args_are_typed_and_part_of_the_config_hash(data_root: Path) -> None:
    typed = model_args(
        ["dtype=bfloat16", "max_num_seqs=8", "enable-prefix-caching=true", 'limit_mm_per_prompt={"image": 2}']
    )
    assert typed == {
        "dtype": "bfloat16",
        "max_num_seqs": 8,
        "enable_prefix_caching": True,
        "limit_mm_per_prompt": {"image": 2},
    }
    with pytest.raises(SystemExit, match="KEY=VALUE"):
        model_args(["dtype"])
    from harness import eval_cmd
    from harness.backends import GenerationParams

    common = dict(model="m", tasks="fgvc_pets37", data_root=str(data_root), profile="strict", task_args={})
    kw = dict(common, backend_opts={}, params=GenerationParams(), batch_size=4)
    plain = eval_cmd.make_config(backend="vllm", **kw)  # type: ignore[arg-type]
    tuned = eval_cmd.make_config(backend="vllm", model_args={"max_num_seqs": 8}, **kw)  # type: ignore[arg-type]
    assert tuned.backend_opts["model_args"] == {"max_num_seqs": 8} and plain.run_id() != tuned.run_id()
    with pytest.raises(ValueError, match="only the vllm and hf backends"):
        eval_cmd.make_config(backend="replay", model_args={"x": 1}, **kw)  # type: ignore[arg-type]


def test_vllm_backend_passes_model_args_to_the_engine_and_rejects_unknown_keys(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import vllm

    from harness.backends import GenerationParams
    from harness.backends.vllm_backend import VLLMBackend

    seen: list[dict] = []

    class FakeLLM:
        def __init__(self, **kwargs: object) -> None:
            seen.append(kwargs)

    monkeypatch.setattr(vllm, "LLM", FakeLLM)
    backend = VLLMBackend("m", GenerationParams(), model_args={"max_num_seqs": 3, "enable_prefix_caching": True})
    assert seen[0]["max_num_seqs"] == 3 and seen[0]["enable_prefix_caching"] is True
    assert backend.describe()["engine_args"]["max_num_seqs"] == 3
    with pytest.raises(ValueError, match=r"max_num_seq .*did you mean max_num_seqs"):
        VLLMBackend("m", GenerationParams(), model_args={"max_num_seq": 3})
    assert len(seen) == 1  # refused before an engine was started


@pytest.mark.slow
def test_hf_backend_model_args_reach_the_model_and_the_manifest(
    tiny_model: Path, data_root: Path, tmp_path: Path
) -> None:
    from harness.tiny import TINY_MAX_PIXELS, TINY_MIN_PIXELS

    run = tmp_path / "run"
    argv = ["eval", "--model", str(tiny_model), "--backend", "hf", "--tasks", "fgvc_pets37", "--limit", "1"]
    argv += ["--data-root", str(data_root), "--run-dir", str(run), "--model-arg", "attn_implementation=eager"]
    argv += ["--model-arg", "low_cpu_mem_usage=true", "--min-pixels", str(TINY_MIN_PIXELS)]
    argv += ["--max-pixels", str(TINY_MAX_PIXELS), "--batch-size", "1"]
    assert main([*argv, "--task-arg", "max_new_tokens=4"]) == 0
    backend = json.loads((run / "manifest.json").read_text())["backend"]
    assert backend["options"]["model_args"] == {"attn_implementation": "eager", "low_cpu_mem_usage": True}
    assert backend["attn_implementation"] == "eager" and backend["model_args"] == {"low_cpu_mem_usage": True}
    bad = tmp_path / "bad"
    assert main([*argv[:-8], "--run-dir", str(bad), "--model-arg", "max_num_seqs=2"]) == 2
    assert not bad.exists()  # a failed start leaves no empty run directory


# ---- coordinates ----------------------------------------------------------------------------------------


def test_coords_come_from_config_json_and_the_reason_is_recorded(
    replay_file: Path, data_root: Path, tmp_path: Path
) -> None:
    ckpt = tmp_path / "my-finetune"
    ckpt.mkdir()
    (ckpt / "config.json").write_text(
        json.dumps({"model_type": "qwen2_5_vl", "architectures": ["Qwen2_5_VLForConditionalGeneration"]})
    )
    coords, reason = coords_for(str(ckpt))
    assert coords == "pixels" and "qwen2_5_vl" in reason
    (ckpt / "config.json").write_text(json.dumps({"model_type": "qwen2_vl"}))
    assert coords_for(str(tmp_path / "qwen2.5-renamed-but-qwen2"))[0] == "pixels"  # no config.json: by name
    qwen2 = tmp_path / "qwen2.5-named-qwen2"
    ckpt.rename(qwen2)
    assert coords_for(str(qwen2))[0] == "norm1000"  # config.json wins over the name
    from harness import eval_cmd
    from harness.backends import GenerationParams

    config = eval_cmd.make_config(
        model=str(replay_file),
        tasks="fgvc_pets37",
        data_root=str(data_root),
        backend="replay",
        profile="strict",
        task_args={"limit": 1},
        backend_opts={},
        params=GenerationParams(),
        batch_size=4,
    )
    run_eval(config, tmp_path / "run")
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["coords"] == "norm1000" and "default" in manifest["coords_reason"]
    assert (
        EvalConfig(model="m", tasks=("fgvc_pets37",), data_root=".", coords_reason="x").run_id()
        == EvalConfig(model="m", tasks=("fgvc_pets37",), data_root=".").run_id()
    )


# ---- logging ----------------------------------------------------------------------------------------------


def test_stdout_of_a_small_eval_holds_no_log_lines(replay_file: Path, data_root: Path, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    argv = [sys.executable, "-m", "harness.cli", "eval", "--model", str(replay_file), "--backend", "replay"]
    argv += ["--tasks", "fgvc_pets37", "--limit", "2", "--data-root", str(data_root), "--run-dir", str(tmp_path / "r")]
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300, check=True)
    assert "run directory:" in proc.stdout and "accuracy" in proc.stdout
    noisy = [line for line in (proc.stdout + proc.stderr).splitlines() if "NumExpr" in line or "httpx" in line]
    assert noisy == []
    assert not any(line.startswith(("INFO", "DEBUG", "WARNING")) for line in proc.stdout.splitlines())


@pytest.mark.slow
def test_vllm_log_lines_go_to_the_engine_log(tmp_path: Path) -> None:
    """What vLLM logs once its engine applies its logging configuration (as `LLMEngine` and the engine-core
    processes do, from ``VLLMConfig.logging_config``, whose defaults read the environment) lands in
    RUN_DIR/engine.log, not on the terminal. A fresh process, so that the test session's engine is untouched."""
    code = (
        "import logging, sys\n"
        "from pathlib import Path\n"
        "from harness.logs import engine_logs_to\n"
        "logging.basicConfig(level=logging.INFO)\n"
        "with engine_logs_to(Path(sys.argv[1])) as log_file:\n"
        "    from vllm.config.logging import LoggingConfig\n"
        "    from vllm.logger import configure_logging, init_logger\n"
        "    configure_logging(LoggingConfig())\n"
        "    init_logger('vllm.test').info('engine says hello')\n"
        "print('log file', log_file)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("VLLM_LOGGING_CONFIG_PATH", None)
    proc = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, env=env, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "engine says hello" in (tmp_path / "engine.log").read_text()
    assert "engine says hello" not in proc.stdout + proc.stderr
