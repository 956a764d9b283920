"""GRPO end to end on the tiny model: a few real TRL steps, per-component reward logs, and a checkpoint
that the real `vrft eval --backend hf` scores."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from harness.tiny import TINY_MAX_PIXELS, TINY_MIN_PIXELS
from train_plugin.cli import main

pytestmark = pytest.mark.slow
TINY_PIXELS = ["--min-pixels", str(TINY_MIN_PIXELS), "--max-pixels", str(TINY_MAX_PIXELS)]
SMALL = ["--max-steps", "2", "--num-generations", "2", "--prompts-per-step", "2", "--max-completion-length", "16",
         *TINY_PIXELS]


def _manifest(out: Path) -> dict:
    return json.loads((out / "train_manifest.json").read_text())


def test_grpo_steps_log_rewards_and_checkpoint_scores_in_vrft_eval(tiny_model: Path, synth_root: Path,
                                                                     tmp_path: Path) -> None:
    from harness.cli import main as vrft

    out = tmp_path / "ckpt"
    rc = main(["--recipe", "coco_fewshot_4shot", "--model", str(tiny_model), "--data-root", str(synth_root),
               "--output-dir", str(out), "--seed", "1", *SMALL])
    assert rc == 0
    m = _manifest(out)
    steps = [h for h in m["log_history"] if "loss" in h]
    assert len(steps) == 2 and all(math.isfinite(h["loss"]) for h in steps)
    for component in ("accuracy_iou", "accuracy_confidence", "format"):
        assert all(f"rewards/coco_fewshot/{component}/mean" in h for h in steps), component
    assert m["recipe"]["name"] == "coco_fewshot_4shot" and m["run"]["seed"] == 1
    assert m["data"]["source"] == "kshot" and m["data"]["seed"] == 1 and m["data"]["sample_ids"]
    assert m["data"]["rows"] == len(m["data"]["sample_ids"])
    # the README's command without --train-annotations: the data root's train file, no evaluation image
    assert m["data"]["sampled_from"] == str(synth_root / "coco/annotations/instances_train2017.json")
    assert m["data"]["eval_set"] is False and m["data"]["eval_overlap"]["images"] == 0
    assert m["trainer_args"]["loss_type"] == "grpo" and m["trainer_args"]["beta"] == 0.04
    assert m["rewards"]["functions"] == [f"coco_fewshot/{c}" for c in ("accuracy_iou", "accuracy_confidence", "format")]
    assert {"trl", "transformers", "torch"} <= set(m["packages"]) and "git_commit" in m
    config = json.loads((out / "config.json").read_text())
    assert config["use_cache"] is True and config["text_config"]["use_cache"] is True  # D32
    processor = json.loads((out / "processor_config.json").read_text())
    assert processor["image_processor"]["size"]["longest_edge"] == 50176
    assert (out / "chat_template.jinja").is_file()

    run_dir = tmp_path / "eval"
    rc = vrft(["eval", "--model", str(out), "--tasks", "coco_fewshot", "--data-root", str(synth_root),
               "--backend", "hf", "--task-arg", "limit=2", "--task-arg", "max_new_tokens=16",
               "--run-dir", str(run_dir), "--batch-size", "16"])
    assert rc == 0
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert "coco_fewshot" in json.dumps(metrics) and "mAP" in json.dumps(metrics)


def test_lisa_lora_grpo_checkpoint_is_merged(tiny_model: Path, synth_root: Path, tmp_path: Path) -> None:
    from transformers import AutoModelForImageTextToText

    out = tmp_path / "lora"
    rc = main(["--recipe", "lisa_grounding", "--model", str(tiny_model), "--data-root", str(synth_root),
               "--output-dir", str(out), "--lora", "--lora-r", "4", "--lora-alpha", "8", "--learning-rate", "1e-3",
               "--gradient-checkpointing", *SMALL[:1], "1", *SMALL[2:]])
    assert rc == 0
    assert (out / "adapter" / "adapter_config.json").is_file()
    model = AutoModelForImageTextToText.from_pretrained(out)  # plain weights: no peft needed to load
    assert not any("lora" in n for n, _ in model.named_parameters())
    m = _manifest(out)
    assert m["run"]["lora"] is True and m["trainer_args"]["gradient_checkpointing"] is True
    assert m["data"]["split_dir"].endswith("ReasonSeg/train") and m["data"]["rows"] == 8  # every instruction
    assert any("rewards/lisa_grounding/accuracy/mean" in h for h in m["log_history"])
