"""What GRPO and the SFT baseline share: the training data, the processor, LoRA, the manifest entries."""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any

from train_plugin.config import PAPER_KEYS, RunConfig
from train_plugin.data import TrainData, from_paper_dataset
from train_plugin.kshot import build_kshot

log = logging.getLogger("vrft.train")


def load_train_data(run: RunConfig) -> TrainData:
    """The published set when `run.dataset` is given, else k-shot samples of the recipe's task data."""
    r = run.recipe
    source = run.dataset_source
    if source is not None:
        return from_paper_dataset(source, r.task)
    assert run.data_root is not None  # RunConfig guarantees one of the two
    return build_kshot(r.task, run.data_root, r.shots, run.seed, run.train_annotations, run.train_images,
                       allow_eval_set=run.allow_eval_set_for_training)


def load_processor(run: RunConfig) -> Any:
    """The model's processor with the recipe's training image policy, padding on the left.

    TRL has no max_pixels option; the image processor reads ``size = {shortest_edge: min_pixels,
    longest_edge: max_pixels}``, which ``from_pretrained(min_pixels=..., max_pixels=...)`` sets. Left
    padding: right padding silently misaligns the image tokens of batched prompts.
    """
    from transformers import AutoProcessor

    r = run.recipe
    processor = AutoProcessor.from_pretrained(run.model, min_pixels=r.min_pixels, max_pixels=r.max_pixels)
    processor.tokenizer.padding_side = "left"
    size = getattr(processor.image_processor, "size", None)
    if size is not None and size.get("longest_edge") != r.max_pixels:
        raise RuntimeError(f"{run.model}: the image processor ignored max_pixels={r.max_pixels} (size={size})")
    return processor


def lora_config(run: RunConfig) -> Any:
    """A peft LoRA config on every linear projection of the language model, or None."""
    if not run.lora:
        return None
    from peft import LoraConfig

    return LoraConfig(
        r=run.lora_r,
        lora_alpha=run.lora_alpha,
        lora_dropout=0.05,
        target_modules=r"^(?!.*visual).*(q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)$",
        task_type="CAUSAL_LM",
    )


def manifest_entries(run: RunConfig, data: TrainData, method: str, args: Any, extra: dict[str, Any]) -> dict[str, Any]:
    """Everything about the run that is not environment: recipe, data, resolved trainer arguments."""
    resolved = {k: getattr(args, k) for k in (*PAPER_KEYS, "max_completion_length", "seed", "output_dir")
                if hasattr(args, k)}
    run_dict = {k: v for k, v in asdict(run).items() if k != "recipe"}
    return {
        "method": method,
        "recipe": run.recipe.as_dict(),
        "run": run_dict,
        "world_size": run.resolved_world_size(),
        "data": data.manifest_entry(),
        "trainer_args": resolved,
        "image_policy": {"min_pixels": run.recipe.min_pixels, "max_pixels": run.recipe.max_pixels},
        **extra,
    }
