"""The paper's "+SFT" baseline: ``trl.SFTTrainer`` on the same rows and prompts as GRPO.

The user turn is the same image + ``problem`` text GRPO sees; the assistant target is the solution's
``<answer>...</answer>`` block (`train_plugin.data.sft_target`: the data holds no reasoning to imitate), after
the recipe's template ``<think>`` block when it sets one (`Recipe.sft_think`, the demo's), and the loss covers
the assistant tokens only. Steps, samples per step, image policy and checkpoint format
match the GRPO run, so the two rows of a paper table differ only in the objective.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from trl import SFTConfig, SFTTrainer

from train_plugin.checkpoint import UseCacheCallback, save_final, write_manifest
from train_plugin.common import load_processor, load_train_data, lora_config, manifest_entries
from train_plugin.config import RunConfig, sft_args
from train_plugin.data import TrainData, to_sft

log = logging.getLogger("vrft.train")


def sft_dataset(run: RunConfig, data: TrainData) -> Any:
    """The rows SFTTrainer sees: prompt + assistant target (`train_plugin.data.to_sft`, the recipe's think template)."""
    return to_sft(data.dataset, run.recipe.sft_think, run.seed if run.recipe.sft_shuffled else None)


def train_sft(run: RunConfig) -> Path:
    """Fine-tune on (image + problem -> answer block); checkpoint and manifest as `train_grpo`."""
    if run.use_vllm:
        raise ValueError("--use-vllm applies to GRPO rollouts; SFT generates nothing")
    started = time.time()
    data = load_train_data(run)
    processor = load_processor(run)
    args = SFTConfig(**sft_args(run))
    trainer = SFTTrainer(
        model=run.model,
        args=args,
        train_dataset=sft_dataset(run, data),
        processing_class=processor,
        peft_config=lora_config(run),
        callbacks=[UseCacheCallback()],
    )
    log.info("SFT %s: %d training rows, %d steps", run.recipe.name, len(data.dataset), run.recipe.max_steps)
    result = trainer.train()
    out = Path(run.output_dir)
    save_final(trainer, processor, out, run.lora)
    if trainer.accelerator.is_main_process:
        extra = {
            "sft_target": "the solution's <answer>...</answer> block (train_plugin.data.sft_target)"
            + (f", after <think>{run.recipe.sft_think}</think>" if run.recipe.sft_think else "")
            + (", targets shuffled across rows (format only)" if run.recipe.sft_shuffled else ""),
            "train_metrics": dict(result.metrics),
            "log_history": trainer.state.log_history,
            "wall_seconds": round(time.time() - started, 1),
        }
        write_manifest(out, manifest_entries(run, data, "sft", trainer.args, extra))
    return out
