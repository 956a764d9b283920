"""The `Recipe`: one paper experiment as data, with every GRPO hyperparameter stated explicitly.

Why every field has a value here instead of falling back on TRL: TRL's defaults moved since the paper
(ENVIRONMENT.md "TRL 1.16 GRPO": ``beta`` 0.04 -> 0.0, ``loss_type`` grpo -> dapo, ``max_completion_length``
256 -> 512, KL bias correction on, gradient checkpointing on), so a run that inherits them is a different
experiment. The defaults below are the official runs' values (PROTOCOL §1.2, §1.4, §1.5); each recipe file
only says what differs (task, shots, steps).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

# PROTOCOL §1.5: 8 GPUs x per-device 1 prompt x gradient accumulation 2 = 16 prompts per optimizer step.
PAPER_PROMPTS_PER_STEP = 16
PAPER_MIN_PIXELS = 3136  # 4 * 28 * 28 (PROTOCOL §1.2, training)
PAPER_MAX_PIXELS = 401408  # 512 * 28 * 28: every official script passes --max_pixels 401408
SFT_LEARNING_RATE = 2e-5  # the "+SFT" baseline: the paper states none; TRL's SFT default, set explicitly
LOSS_TYPES = ("grpo", "dr_grpo", "dapo", "bnpo")
PROFILES = ("strict", "official")


@dataclass(frozen=True)
class Recipe:
    """A training run's experiment definition (not where it runs: see `train_plugin.config.RunConfig`).

    * `task`: a `tasks.registry` name; its verifier gives the rewards and its prompts the training text.
    * `shots`: k images per class (FGVC) or per category (COCO/LVIS) sampled from task data with the run's
      seed; ``None`` = every item of the training split (LISA).
    * `paper_dataset`: the published HF training set of this experiment, when one exists
      (``--dataset paper`` uses it; PROTOCOL §4.1).
    * GRPO: `num_generations` G (8 for 2B; the 7B runs used 4), `temperature` (hard-coded 1.0 in the official
      trainer), `top_k`/`top_p` (transformers GenerationConfig defaults 50/1.0, which the official sampling
      inherited), `beta` (KL, k3 estimator), `loss_type` ``grpo`` (per-sequence token mean),
      `max_completion_length` 256 (the official GRPOConfig default then), `prompts_per_step` 16.
    * `min_pixels`/`max_pixels`: the processor's image policy in training (saved with the checkpoint).
    * `profile`: the verifier profile; ``official`` reproduces the official training reward, ``strict``
      (default) the fixed one. Prompts are always the training rendering (strict prompt style).
    * `sft_learning_rate`: the learning rate of the "+SFT" baseline on the same data (`learning_rate` is
      GRPO's).
    * `sft_think`: a template reasoning the SFT target puts in ``<think>`` before the answer block; empty (every
      paper recipe) = the answer block alone (`train_plugin.data.sft_target`).
    * `sft_shuffled`: the SFT targets are other rows' solutions (a permutation drawn from the run's seed): the
      warm start then teaches the answer format but not the task (the demo's classification warm start); False
      (every paper recipe) = each row's own solution.
    """

    name: str
    task: str
    shots: int | None
    max_steps: int = 200
    paper_dataset: str | None = None
    description: str = ""
    num_generations: int = 8
    learning_rate: float = 1e-6
    beta: float = 0.04
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 50
    max_completion_length: int = 256
    loss_type: str = "grpo"
    prompts_per_step: int = PAPER_PROMPTS_PER_STEP
    min_pixels: int = PAPER_MIN_PIXELS
    max_pixels: int = PAPER_MAX_PIXELS
    profile: str = "strict"
    save_steps: int = 100
    sft_learning_rate: float = SFT_LEARNING_RATE
    sft_think: str = ""
    sft_shuffled: bool = False

    def __post_init__(self) -> None:
        positive = ("max_steps", "num_generations", "max_completion_length", "prompts_per_step", "min_pixels",
                    "save_steps")
        for name in positive:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"recipe {self.name}: {name}={value!r}: expected an integer >= 1")
        if self.num_generations < 2:
            raise ValueError(f"recipe {self.name}: num_generations={self.num_generations}: GRPO needs >= 2 "
                             "completions per prompt to compute group advantages")
        if self.shots is not None and (isinstance(self.shots, bool) or self.shots < 1):
            raise ValueError(f"recipe {self.name}: shots={self.shots!r}: expected an integer >= 1, or None for "
                             "the whole training split")
        if self.max_pixels < self.min_pixels:
            raise ValueError(f"recipe {self.name}: max_pixels={self.max_pixels} < min_pixels={self.min_pixels}")
        for name in ("learning_rate", "sft_learning_rate"):
            if not getattr(self, name) > 0:
                raise ValueError(f"recipe {self.name}: {name}={getattr(self, name)!r}: expected > 0")
        if self.beta < 0:
            raise ValueError(f"recipe {self.name}: beta={self.beta!r}: expected >= 0 (0 disables the KL term)")
        if not self.temperature > 0:
            raise ValueError(f"recipe {self.name}: temperature={self.temperature!r}: expected > 0 (GRPO samples)")
        if self.loss_type not in LOSS_TYPES:
            raise ValueError(f"recipe {self.name}: loss_type={self.loss_type!r}: expected one of {LOSS_TYPES}")
        if self.profile not in PROFILES:
            raise ValueError(f"recipe {self.name}: profile={self.profile!r}: expected one of {PROFILES}")

    def as_dict(self) -> dict[str, object]:
        """Every field, for the run manifest."""
        return {f.name: getattr(self, f.name) for f in fields(self)}
