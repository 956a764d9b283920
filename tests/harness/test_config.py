"""`EvalConfig` and `Shard`: frozen, validated at construction (errors name the field, the value and the fix),
and the run identity that names run directories is stable."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from harness.backends import GenerationParams
from harness.config import EvalConfig, Shard, default_coords, profile_task_args
from harness.eval_cmd import make_config, run_dir_for


def _config(**changes: Any) -> EvalConfig:
    base: dict[str, Any] = {
        "model": "/ckpt/Qwen2-VL-2B/",
        "tasks": ("coco_fewshot", "fgvc"),
        "data_root": "/data",
        "task_args": {"limit": 5},
        "params": GenerationParams(temperature=0.5, seed=3),
    }
    return EvalConfig(**{**base, **changes})


def test_run_id_is_stable() -> None:
    """The hash of the identity names the default run directory: moving the class must not rename runs."""
    assert _config().run_id() == "Qwen2-VL-2B-b39c5ef6ae"
    assert _config(batch_size=8).run_id() == _config().run_id()  # not part of the identity
    assert _config(profile="official").run_id() != _config().run_id()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("model", "", "EvalConfig.model=''"),
        ("data_root", None, "EvalConfig.data_root=None"),
        ("backend", "", "EvalConfig.backend"),
        ("tasks", (), "EvalConfig.tasks=()"),
        ("tasks", "coco_fewshot", "expected a tuple of task names"),
        ("tasks", ("coco_fewshot", "nope"), "unknown task 'nope'"),
        ("profile", "lenient", r"EvalConfig.profile='lenient': expected one of \('official', 'strict'\)"),
        ("coords", "xywh", "EvalConfig.coords='xywh'.*pixels: Qwen2.5-VL"),
        ("batch_size", 0, r"EvalConfig.batch_size=0: expected an integer >= 1 \(--batch-size\)"),
        ("batch_size", True, "EvalConfig.batch_size=True"),
        ("params", {"temperature": 0}, "EvalConfig.params"),
        ("task_args", ["limit=5"], "EvalConfig.task_args"),
        ("backend_opts", None, "EvalConfig.backend_opts"),
    ],
)
def test_eval_config_validation_names_the_field(field: str, value: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _config(**{field: value})


def test_eval_config_is_frozen_and_owns_its_dicts() -> None:
    args = {"limit": 5}
    config = _config(task_args=args, tasks=["coco_fewshot"])
    args["limit"] = 6
    assert config.task_args == {"limit": 5} and config.tasks == ("coco_fewshot",)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.profile = "official"  # type: ignore[misc]


@pytest.mark.parametrize(("index", "count"), [(2, 2), (-1, 2), (0, 0), (1.0, 2)])
def test_shard_validation(index: Any, count: Any) -> None:
    with pytest.raises(ValueError, match="Shard"):
        Shard(index, count)


def test_shard_parse_and_files() -> None:
    assert Shard.parse(None) == Shard() and Shard.parse(" 1/4 ") == Shard(1, 4)
    assert Shard().filename == "generations.jsonl" and Shard(1, 4).filename == "generations.shard-1-of-4.jsonl"
    owners = [[s.owns("coco_fewshot", f"{i}:1") for s in (Shard(0, 3), Shard(1, 3), Shard(2, 3))] for i in range(50)]
    assert all(sum(row) == 1 for row in owners)
    assert Shard(0, 3).owns("coco_fewshot", "exist/7:1") == Shard(0, 3).owns("coco_fewshot", "7:1")


def test_profile_task_args_and_coords() -> None:
    assert profile_task_args("strict", {"limit": 3}) == {"limit": 3}
    assert profile_task_args("official", {"limit": 3}) == {"limit": 3, "prompt": "official"}
    assert profile_task_args("official", {"prompt": "strict"}) == {"prompt": "strict"}  # an explicit choice stays
    assert default_coords("Qwen/Qwen2.5-VL-7B-Instruct") == "pixels"
    assert default_coords("Qwen/Qwen2-VL-2B-Instruct") == "norm1000"


def test_make_config_applies_the_command_defaults(tmp_path: Any) -> None:
    common: dict[str, Any] = {
        "tasks": "coco_fewshot,fgvc_pets37",
        "data_root": "/data",
        "backend": "vllm",
        "task_args": {"limit": "5"},
        "backend_opts": {},
        "params": GenerationParams(),
        "batch_size": 64,
    }
    official = make_config(model="Qwen/Qwen2.5-VL-7B-Instruct", profile="official", **common)
    assert official.tasks == ("coco_fewshot", "fgvc_pets37") and official.coords == "pixels"
    assert official.task_args == {"limit": "5", "prompt": "official"}
    strict = make_config(model="m", profile="strict", coords="pixels", **common)
    assert strict.task_args == {"limit": "5"} and strict.coords == "pixels"
    assert run_dir_for(strict, None, tmp_path) == tmp_path / strict.run_id()
    assert run_dir_for(strict, tmp_path / "x", "ignored") == tmp_path / "x"
