"""Recipes resolve to the paper's GRPO settings, every one of them stated explicitly (never TRL's default)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from train_plugin.cli import build_run, main
from train_plugin.config import PAPER_KEYS, RunConfig, batch_layout, grpo_args, sft_args
from train_plugin.recipes import RECIPES, Recipe, get_recipe

# recipe -> (task, shots, steps, published set)
TABLE: dict[str, tuple[str, int | None, int, str | None]] = {
    **{
        f"fgvc_{d}_{k}shot": (f"fgvc_{d}", k, 200, pub if k == 4 else None)
        for d, pub in {
            "flowers102": "laolao77/ViRFT_CLS_flower_4_shot",
            "pets37": "laolao77/ViRFT_CLS_pets37_4shot",
            "aircraft": "laolao77/ViRFT_CLS_fgvc_aircraft_4_shot",
            "cars196": "laolao77/ViRFT_CLS_car196_4shot",
        }.items()
        for k in (1, 2, 4, 8, 16)
    },
    "coco_fewshot_1shot": ("coco_fewshot", 1, 200, None),
    "coco_fewshot_4shot": ("coco_fewshot", 4, 200, "laolao77/ViRFT_COCO_8_cate_4_shot"),
    "coco_fewshot_8shot": ("coco_fewshot", 8, 200, None),
    "lvis_fewshot_10shot": ("lvis_fewshot", 10, 200, "laolao77/ViRFT_LVIS_few_shot"),
    "lisa_grounding": ("lisa_grounding", None, 500, None),
    "coco_ov_base65": ("coco_ov", 10, 200, "laolao77/ViRFT_COCO_base65"),
}
# PROTOCOL §1.2-§1.5: the official runs' values (TRL 1.16 defaults differ for most of them)
PAPER = {
    "loss_type": "grpo",
    "beta": 0.04,
    "use_bias_correction_kl": False,
    "num_generations": 8,
    "temperature": 1.0,
    "top_p": 1.0,
    "top_k": 50,
    "learning_rate": 1e-6,
    "max_completion_length": 256,
    "scale_rewards": "group",
    "num_iterations": 1,
    "gradient_checkpointing": False,
    "warmup_steps": 0,
    "weight_decay": 0.0,
    "max_grad_norm": 1.0,
    "remove_unused_columns": False,
    "vllm_importance_sampling_correction": False,
}


def _run(recipe: Recipe, tmp_path: Path, **kw: object) -> RunConfig:
    return RunConfig(recipe=recipe, model="m", output_dir=tmp_path, data_root=tmp_path, bf16=False, **kw)  # type: ignore[arg-type]


def test_every_paper_experiment_has_a_recipe() -> None:
    assert set(RECIPES) == set(TABLE)


@pytest.mark.parametrize("name", sorted(TABLE))
def test_recipe_resolves_to_paper_grpo_config(name: str, tmp_path: Path) -> None:
    from trl import GRPOConfig

    task, shots, steps, published = TABLE[name]
    recipe = get_recipe(name)
    assert (recipe.task, recipe.shots, recipe.max_steps, recipe.paper_dataset) == (task, shots, steps, published)
    assert (recipe.min_pixels, recipe.max_pixels) == (3136, 401408)
    kwargs = grpo_args(_run(recipe, tmp_path, world_size=1), [1.0, 1.0])
    missing = [k for k in PAPER_KEYS if k not in kwargs]
    assert not missing, f"left to TRL's defaults: {missing}"
    cfg = GRPOConfig(**kwargs)
    for key, value in PAPER.items():
        assert getattr(cfg, key) == value, key
    assert cfg.max_steps == steps
    assert str(cfg.lr_scheduler_type.value) == "linear"
    # 16 prompts per optimizer step; TRL 1.16 counts completions in per_device_train_batch_size
    assert cfg.per_device_train_batch_size * cfg.gradient_accumulation_steps == 16 * 8
    assert cfg.generation_batch_size == 16 * 8 and cfg.steps_per_generation == cfg.gradient_accumulation_steps


def test_explicit_values_differ_from_trl_defaults(tmp_path: Path) -> None:
    """Why they must be explicit: TRL 1.16's own defaults would run another experiment."""
    from trl import GRPOConfig

    default = GRPOConfig(output_dir=str(tmp_path), bf16=False)
    changed = {k for k in ("loss_type", "beta", "use_bias_correction_kl", "max_completion_length", "top_k",
                           "gradient_checkpointing") if getattr(default, k) != PAPER[k]}
    assert changed == {"loss_type", "beta", "use_bias_correction_kl", "max_completion_length", "top_k",
                       "gradient_checkpointing"}


@pytest.mark.parametrize(("world", "per_device", "expected"), [(1, None, (8, 16)), (8, None, (8, 2)), (2, 16, (16, 4))])
def test_batch_layout_keeps_16_prompts(world: int, per_device: int | None, expected: tuple[int, int]) -> None:
    assert batch_layout(get_recipe("coco_fewshot_4shot"), per_device, world) == expected


def test_batch_layout_refuses_uneven_split() -> None:
    with pytest.raises(ValueError, match="do not split"):
        batch_layout(get_recipe("coco_fewshot_4shot"), 48, 1)


def test_sft_args_same_schedule(tmp_path: Path) -> None:
    from trl import SFTConfig

    cfg = SFTConfig(**sft_args(_run(get_recipe("coco_fewshot_4shot"), tmp_path, world_size=1)))
    assert (cfg.max_steps, cfg.per_device_train_batch_size * cfg.gradient_accumulation_steps) == (200, 16)
    assert cfg.max_length is None and cfg.completion_only_loss is True and cfg.learning_rate == 2e-5


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [("num_generations", 1, "needs >= 2"), ("loss_type", "ppo", "loss_type"), ("shots", 0, "shots"),
     ("max_pixels", 100, "max_pixels"), ("profile", "lenient", "profile"), ("beta", -1.0, "beta")],
)
def test_recipe_validation_names_the_field(field: str, value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        replace(get_recipe("lisa_grounding"), **{field: value})


def test_cli_flags_override_recipe_fields(tmp_path: Path) -> None:
    import argparse

    from train_plugin.cli import _add_arguments

    p = argparse.ArgumentParser()
    _add_arguments(p)
    run = build_run(p.parse_args(["--recipe", "coco_fewshot_4shot", "--model", "m", "--output-dir", str(tmp_path),
                                  "--data-root", str(tmp_path), "--beta", "0", "--num-generations", "4",
                                  "--profile", "official", "--seed", "3"]))
    assert (run.recipe.beta, run.recipe.num_generations, run.recipe.profile, run.seed) == (0.0, 4, "official", 3)
    assert run.recipe.learning_rate == 1e-6  # untouched fields keep the paper's value
    custom = build_run(p.parse_args(["--task", "fgvc_pets37", "--shots", "2", "--model", "m", "--output-dir", "o",
                                     "--dataset", "some/id"]))
    assert (custom.recipe.task, custom.recipe.shots, custom.dataset_source) == ("fgvc_pets37", 2, "some/id")


def test_cli_errors_and_list(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["--list"]) == 0
    assert "coco_fewshot_4shot" in capsys.readouterr().out
    assert main(["--recipe", "nope", "--model", "m", "--output-dir", "o", "--data-root", "d"]) == 2
    assert "unknown recipe 'nope'" in capsys.readouterr().err
    assert main(["--recipe", "lisa_grounding", "--model", "m", "--output-dir", "o", "--dataset", "paper"]) == 2
    assert "no training set of this experiment was published" in capsys.readouterr().err
    assert main(["--recipe", "lisa_grounding", "--model", "m", "--output-dir", "o"]) == 2
    assert "--data-root" in capsys.readouterr().err


def test_processor_gets_training_image_policy(tiny_model: Path, tmp_path: Path) -> None:
    from train_plugin.common import load_processor

    run = RunConfig(recipe=get_recipe("coco_fewshot_4shot"), model=str(tiny_model), output_dir=tmp_path,
                    data_root=tmp_path)
    processor = load_processor(run)
    assert processor.image_processor.size["shortest_edge"] == 3136
    assert processor.image_processor.size["longest_edge"] == 401408
    assert processor.tokenizer.padding_side == "left"
