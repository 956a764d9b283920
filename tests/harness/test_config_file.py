"""``--config FILE.yaml`` for `vrft eval` and `vrft train` (`harness.config_file`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from harness.cli import _apply_config_file, build_parser, main
from harness.config_file import config_to_flags, dump_config, resolved_config
from tasks.registry import get_task
from tasks.synthetic import write_synthetic

TASK = "fgvc_pets37"


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("config_file") / "data"
    write_synthetic(root)
    return root


@pytest.fixture(scope="module")
def replay(data_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("replay") / "answers.jsonl"
    with path.open("w") as f:
        for r in get_task(TASK, data_root).requests():
            f.write(json.dumps({"request_id": r.request_id, "text": "<think>x</think>" + r.solution}) + "\n")
    return path


def _manifest(run: Path) -> dict:
    return json.loads((run / "manifest.json").read_text())


def test_the_run_directory_config_repeats_the_run(replay: Path, data_root: Path, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    argv = ["eval", "--model", str(replay), "--backend", "replay", "--tasks", TASK, "--data-root", str(data_root)]
    extra = ["--runs-root", str(runs), "--limit", "3", "--task-arg", "prompt=official", "--top-k", "-1"]
    assert main([*argv, *extra, "--temperature", "0.5", "--profile", "official"]) == 0
    (run,) = runs.iterdir()
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["limit"] == 3 and config["task_arg"] == ["prompt=official"] and config["temperature"] == 0.5
    assert "no_cache" not in config and "config" not in config  # off, and not a key of its own

    identity = _manifest(run)["identity"]
    assert main(["eval", "--config", str(run / "config.yaml")]) == 0
    assert [p.name for p in runs.iterdir()] == [run.name]  # the same config hash, the same run directory
    manifest = _manifest(run)
    assert manifest["identity"] == identity and len(manifest["sessions"]) == 2


def test_command_line_flags_override_the_file(replay: Path, data_root: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "eval.yaml"
    body = {"model": str(replay), "backend": "replay", "tasks": TASK, "data-root": str(data_root), "limit": 2}
    cfg.write_text(yaml.safe_dump({**body, "task_arg": {"fgvc:prompt": "official"}}))
    assert main(["eval", "--config", str(cfg), "--limit", "4", "--run-dir", str(tmp_path / "run")]) == 0
    (task,) = _manifest(tmp_path / "run")["tasks"]
    assert task["args"]["limit"] == 4 and task["args"]["prompt"] == "official"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"model": "m", "task": "x"}, "unknown key 'task'; accepted keys: allow_outside_data_root, backend"),
        ({"model": "m", "max_pixels": [1, 2]}, "max_pixels: expected one value"),
        ({"model": "m", "no_cache": "yes"}, "no_cache: expected true or false"),
        (["model", "m"], "expected a mapping of option names to values"),
    ],
)
def test_bad_config_files_are_refused_naming_the_key(
    body: object, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "eval.yaml"
    cfg.write_text(yaml.safe_dump(body))
    assert main(["eval", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert str(cfg) in err and message in err


def test_a_bad_value_in_the_file_is_checked_like_the_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "eval.yaml"
    cfg.write_text(yaml.safe_dump({"model": "m", "tasks": TASK, "data_root": ".", "backend": "nope"}))
    with pytest.raises(SystemExit):
        main(["eval", "--config", str(cfg)])
    assert "invalid choice: 'nope'" in capsys.readouterr().err


def test_train_config_file_sets_flags_and_round_trips(tmp_path: Path) -> None:
    from train_plugin.cli import build_run

    cfg = tmp_path / "train.yaml"
    body = {"recipe": "coco_fewshot_4shot", "model": "ckpt", "output_dir": str(tmp_path / "out"), "max_steps": 7}
    body["data_root"] = str(tmp_path)
    cfg.write_text(yaml.safe_dump({**body, "bf16": False, "lora": True, "report_to": "tensorboard"}))
    parser = build_parser()
    args = parser.parse_args(_apply_config_file(parser, ["train", "--config", str(cfg), "--max-steps", "9"]))
    run = build_run(args)
    assert run.recipe.max_steps == 9 and run.lora and run.bf16 is False and run.report_to == "tensorboard"

    again = tmp_path / "resolved.yaml"
    again.write_text(dump_config(resolved_config(args.train_parser, args)))
    args2 = parser.parse_args(_apply_config_file(parser, ["train", "--config", str(again)]))
    assert build_run(args2) == run
    with pytest.raises(ValueError, match=r"unknown key 'max_step'; accepted keys: .*max_steps"):
        config_to_flags(args.train_parser, {"max_step": 3}, str(cfg))


@pytest.mark.parametrize(
    ("command", "shown"),
    [
        ("tables", ["(default: results/runs)", "(default: md)"]),
        ("score", ["(default: all)", "(default: strict"]),
        ("eval", ["(default: vllm)", "(default: 64)", "--config FILE.yaml", "--no-cache"]),
    ],
)
def test_help_shows_the_defaults(command: str, shown: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main([command, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert all(s in text for s in shown), [s for s in shown if s not in text]
