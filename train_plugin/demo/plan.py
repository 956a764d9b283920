"""The demo's hyperparameters: the ONLY place they are set (they differ from the paper's on purpose).

Why a warm start: the paper's base model already answers in ``<answer>...</answer>``; a random one never
does, so GRPO would see zero reward everywhere. A short SFT run teaches the format (not the task: it stops
well before accuracy saturates), and GRPO then has something to improve. Grounding gets the longest warm
start (600 steps over 240 items): with less, the 2-layer model's greedy answers on new images lost the box
structure and GRPO had nothing parseable to reward.

Why other hyperparameters than the paper's: a 0.9 M-parameter random model needs a far larger learning rate
than 1e-6 (GRPO) or 2e-5 (SFT) and far fewer steps fit in a CPU budget. They are all in `FULL` / `FAST`
below, passed to the trainers as recipe fields (`Recipe.learning_rate`, `Recipe.sft_learning_rate`), and
stated in the summary and the table caption; the paper recipes are never touched.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from tasks.synthetic import SyntheticSizes

TRAIN_DATA_SEED, TEST_DATA_SEED = 1000, 2000  # + --seed: the training and the held-out sets differ


@dataclass(frozen=True)
class DemoTask:
    """One column of the demo table: a task, its headline metric, its warm start and its GRPO run.

    `metric`: metrics.json keys averaged into the headline (LISA: the val and test splits, equal sizes).
    `eval_args`: task arguments of the held-out eval (detection: the ``oracle`` protocol, i.e. boxes are
    asked only for categories present in the image, as in the k-shot training rows).
    """

    task: str
    column: str
    metric: tuple[str, ...]
    shots: int | None
    sft_steps: int
    grpo_steps: int
    grpo_lr: float
    num_generations: int
    prompts_per_step: int
    max_completion_length: int
    temperature: float = 1.0
    eval_args: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class DemoPlan:
    train_sizes: SyntheticSizes
    test_sizes: SyntheticSizes
    lisa_train_items: int
    sft_learning_rate: float  # TRL's SFT default (2e-5) would not move a random tiny model in a few steps
    sft_batch: int  # samples per SFT step
    beta: float  # KL coefficient of GRPO (the paper's 0.04)
    tasks: tuple[DemoTask, ...]


FULL = DemoPlan(
    train_sizes=SyntheticSizes(coco_images=96, lisa_items=3, cls_classes=4, cls_train=8, cls_val=1, cls_test=1),
    test_sizes=SyntheticSizes(coco_images=60, lisa_items=50, cls_classes=4, cls_train=1, cls_val=1, cls_test=25),
    lisa_train_items=240,  # ReasonSeg's train split has 239 images; the paper trains on all of them
    sft_learning_rate=1e-3,
    sft_batch=4,
    beta=0.04,
    tasks=(
        DemoTask("fgvc_flowers102", "Flowers102 (acc.)", ("accuracy",), shots=8, sft_steps=20, grpo_steps=40,
                 grpo_lr=1e-4, num_generations=8, prompts_per_step=2, max_completion_length=24,
                 eval_args=(("max_new_tokens", 32),)),
        DemoTask("coco_fewshot", "COCO 8 classes (mAP)", ("mAP",), shots=4, sft_steps=200, grpo_steps=40,
                 grpo_lr=1e-4, num_generations=8, prompts_per_step=2, max_completion_length=64, temperature=0.7,
                 eval_args=(("protocol", "oracle"), ("max_new_tokens", 96))),
        DemoTask("lisa_grounding", "LISA grounding (mIoU)", ("mIoU_val", "mIoU_test"), shots=None, sft_steps=600,
                 grpo_steps=80, grpo_lr=1e-4, num_generations=8, prompts_per_step=4, max_completion_length=32,
                 temperature=0.7, eval_args=(("max_new_tokens", 40),)),
    ),
)
FAST = replace(
    FULL,
    train_sizes=replace(FULL.train_sizes, coco_images=48, cls_train=4),
    test_sizes=replace(FULL.test_sizes, coco_images=8, lisa_items=4, cls_test=3),
    lisa_train_items=8,
    tasks=tuple(replace(t, shots=t.shots and 2, sft_steps=4, grpo_steps=3) for t in FULL.tasks),
)
