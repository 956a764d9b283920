"""Where and how a recipe runs (`RunConfig`), and the exact trainer arguments it resolves to.

`grpo_args` is the single place that turns a recipe into ``trl.GRPOConfig`` keyword arguments. Every
hyperparameter that changed meaning or default since the paper is passed explicitly (see `PAPER_KEYS`,
which a test holds against TRL's defaults), so upgrading TRL cannot silently change the experiment.

Batch arithmetic (TRL 1.16): ``per_device_train_batch_size`` counts *completions*, not prompts; one
optimizer step sees ``per_device * world_size * gradient_accumulation_steps`` completions =
that / num_generations prompts. The paper had 16 prompts per step (8 GPUs x 1 prompt x accumulation 2,
G = 8 completions each). We keep one prompt's G completions per device micro-step
(``per_device_train_batch_size = G``) and solve for the accumulation:
``gradient_accumulation_steps = prompts_per_step * G / (per_device * world_size)``, e.g. 16 on 1 GPU,
2 on 8 GPUs. Generation happens once per optimizer step (``steps_per_generation`` = accumulation).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from train_plugin.recipes.base import Recipe

# GRPOConfig fields whose values must come from the recipe, never from TRL's defaults.
PAPER_KEYS = (
    "loss_type", "beta", "use_bias_correction_kl", "num_generations", "temperature", "top_p", "top_k",
    "learning_rate", "max_completion_length", "per_device_train_batch_size", "gradient_accumulation_steps",
    "max_steps", "scale_rewards", "num_iterations", "epsilon", "importance_sampling_level",
    "multi_objective_aggregation", "mask_truncated_completions", "reward_weights", "gradient_checkpointing",
    "bf16", "lr_scheduler_type", "warmup_steps", "weight_decay", "max_grad_norm", "remove_unused_columns",
    "vllm_importance_sampling_correction",
)


@dataclass(frozen=True)
class RunConfig:
    """One training run: a recipe plus the model, data location, output and machine-dependent choices.

    * `dataset`: a published training set (hub id or directory) instead of k-shot sampling; ``"paper"``
      means the recipe's `paper_dataset`.
    * `train_annotations` / `train_images`: detection k-shot source (default: the data root's train
      annotations, see `train_plugin.kshot`); for LISA, `train_annotations` may name a ReasonSeg folder.
    * `allow_eval_set_for_training`: let the k-shot sample come from evaluation images (refused otherwise);
      recorded in the manifest, and evaluations of the checkpoint on those images are labelled.
    * `per_device_train_batch_size`: completions per device micro-step (default: num_generations).
    * `bf16`: None = bf16 exactly when CUDA is available.
    """

    recipe: Recipe
    model: str
    output_dir: Path
    data_root: Path | None = None
    dataset: str | None = None
    train_annotations: Path | None = None
    train_images: Path | None = None
    allow_eval_set_for_training: bool = False
    seed: int = 0
    lora: bool = False
    lora_r: int = 64
    lora_alpha: int = 128
    use_vllm: bool = False
    vllm_gpu_memory_utilization: float = 0.3
    vllm_max_model_length: int | None = None
    gradient_checkpointing: bool = False  # the paper's scripts pass --gradient_checkpointing false
    bf16: bool | None = None
    per_device_train_batch_size: int | None = None
    world_size: int | None = None
    logging_steps: int = 1
    save_steps: int | None = None
    report_to: str = "none"
    attn_implementation: str | None = None

    def __post_init__(self) -> None:
        if self.dataset is None and self.data_root is None:
            raise ValueError("RunConfig: give --data-root (k-shot from task data) or --dataset (a published set)")
        if self.dataset == "paper" and self.recipe.paper_dataset is None:
            raise ValueError(f"recipe {self.recipe.name}: --dataset paper, but no training set of this experiment "
                             "was published; sample it from task data with --data-root instead")
        if self.per_device_train_batch_size is not None and self.per_device_train_batch_size < 1:
            raise ValueError(f"per_device_train_batch_size={self.per_device_train_batch_size}: expected >= 1")

    @property
    def dataset_source(self) -> str | None:
        return self.recipe.paper_dataset if self.dataset == "paper" else self.dataset

    def resolved_world_size(self) -> int:
        """Processes of the launch (accelerate/torchrun set WORLD_SIZE); 1 for a plain run."""
        return self.world_size or int(os.environ.get("WORLD_SIZE", "1"))

    def use_bf16(self) -> bool:
        if self.bf16 is not None:
            return self.bf16
        return _cuda()


def _cuda() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def batch_layout(recipe: Recipe, per_device: int | None, world_size: int) -> tuple[int, int]:
    """``(per_device_train_batch_size, gradient_accumulation_steps)`` giving `recipe.prompts_per_step`."""
    per_device = per_device or recipe.num_generations
    completions = recipe.prompts_per_step * recipe.num_generations
    if completions % (per_device * world_size):
        raise ValueError(
            f"recipe {recipe.name}: {recipe.prompts_per_step} prompts x {recipe.num_generations} generations = "
            f"{completions} completions per step do not split into micro-batches of {per_device} on {world_size} "
            f"process(es); choose --per-device-train-batch-size dividing {completions // world_size}"
        )
    return per_device, completions // (per_device * world_size)


def common_args(run: RunConfig) -> dict[str, Any]:
    """TrainingArguments shared by GRPO and SFT: schedule and precision, stated explicitly."""
    r = run.recipe
    save_steps = run.save_steps or r.save_steps
    return {
        "output_dir": str(run.output_dir),
        "max_steps": r.max_steps,
        "seed": run.seed,
        "data_seed": run.seed,
        "bf16": run.use_bf16(),
        # Without CUDA, accelerate sets up gloo DDP under torchrun only when told it runs on CPU.
        "use_cpu": not _cuda(),
        "fp16": False,
        "gradient_checkpointing": run.gradient_checkpointing,
        # The official scripts inherited TrainingArguments' schedule: linear decay, no warmup, no decay.
        "lr_scheduler_type": "linear",
        "warmup_steps": 0,
        "weight_decay": 0.0,
        "max_grad_norm": 1.0,
        "logging_steps": run.logging_steps,
        "save_strategy": "steps" if save_steps < r.max_steps else "no",
        "save_steps": save_steps,
        "save_only_model": True,
        "report_to": run.report_to,
        "remove_unused_columns": False,  # the rewards read the 'solution' column
        "dataloader_num_workers": 0,
    }


def grpo_args(run: RunConfig, reward_weights: list[float], image_token_id: int | None = None) -> dict[str, Any]:
    """Keyword arguments for ``trl.GRPOConfig``: the paper's GRPO, explicitly (PROTOCOL §1.4-§1.5).

    `image_token_id`: the placeholder token vLLM rollouts must never sample (TRL suppresses it for
    transformers generate only): a sampled placeholder makes the training forward pass count one image
    token more than there are image features and fail.
    """
    r = run.recipe
    per_device, accumulation = batch_layout(r, run.per_device_train_batch_size, run.resolved_world_size())
    args = common_args(run)
    args.update(
        learning_rate=r.learning_rate,
        per_device_train_batch_size=per_device,
        gradient_accumulation_steps=accumulation,
        num_generations=r.num_generations,
        max_completion_length=r.max_completion_length,
        temperature=r.temperature,
        top_p=r.top_p,
        top_k=r.top_k,
        repetition_penalty=1.0,
        loss_type=r.loss_type,
        beta=r.beta,
        use_bias_correction_kl=False,  # the paper's k3 KL term, not TRL 1.16's importance-weighted one
        scale_rewards="group",  # A = (r - mean_G) / (std_G + 1e-4), unbiased std
        num_iterations=1,  # one update per rollout: the ratio is 1 in value, no clipping bites
        epsilon=0.2,
        importance_sampling_level="token",
        multi_objective_aggregation="sum_then_normalize",  # rewards summed, then normalised per group
        mask_truncated_completions=False,
        reward_weights=list(reward_weights),
        use_vllm=run.use_vllm,
        # The paper's loss has no importance-sampling correction (its rollouts were on-policy HF generate). TRL's
        # correction divides by vLLM's *processed* logprobs, renormalised over the top-k: with the paper's
        # top_k=50 that ratio is biased below 1 and would shrink every update (measured ~0.006 on the tiny model).
        vllm_importance_sampling_correction=False,
        log_completions=False,
    )
    if run.use_vllm:
        args.update(vllm_mode="colocate", vllm_gpu_memory_utilization=run.vllm_gpu_memory_utilization,
                    vllm_max_model_length=run.vllm_max_model_length)
        if image_token_id is not None:
            args["generation_kwargs"] = {"logit_bias": {int(image_token_id): -100.0}}  # vLLM's lowest bias
    dtype = "bfloat16" if args["bf16"] else "float32"
    init: dict[str, Any] = {"dtype": dtype}
    if run.attn_implementation:
        init["attn_implementation"] = run.attn_implementation
    args["model_init_kwargs"] = init
    return args


def sft_args(run: RunConfig) -> dict[str, Any]:
    """Keyword arguments for ``trl.SFTConfig``: the "+SFT" baseline on the same data and schedule.

    The paper states no SFT hyperparameters; this uses the same steps and 16 samples per step, the recipe's
    `sft_learning_rate` (default TRL's SFT rate 2e-5, set explicitly), loss on the assistant answer only, and
    no truncation (a cut would drop image tokens).
    """
    args = common_args(run)
    world = run.resolved_world_size()
    per_device = run.per_device_train_batch_size or 1
    prompts = run.recipe.prompts_per_step
    if prompts % (per_device * world):
        raise ValueError(f"SFT: {prompts} samples per step do not split into {per_device} per device on "
                         f"{world} process(es)")
    args.update(
        learning_rate=run.recipe.sft_learning_rate,
        per_device_train_batch_size=per_device,
        gradient_accumulation_steps=prompts // (per_device * world),
        max_length=None,
        completion_only_loss=True,
        packing=False,
        model_init_kwargs={"dtype": "bfloat16" if args["bf16"] else "float32"},
    )
    return args
