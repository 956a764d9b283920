"""The demo's hyperparameters: the ONLY place they are set (they differ from the paper's on purpose).

Why a warm start: the paper's base model already answers in ``<think>...</think><answer>...</answer>``; a random
one never does, so GRPO would see zero reward everywhere. A supervised warm start teaches the whole format:
its targets are ``<think>{think}</think><answer>...</answer>`` with a fixed template reasoning (the data holds
no reasoning traces), so the strict format reward is earned from the first GRPO step.

What the warm start may teach besides the format is set per task, so that GRPO has something left to learn:
* classification (`sft_shuffled`): the targets are *other* images' answers (a seeded permutation), so the
  warm start knows the answer format and the class names but, by construction, nothing about which name fits
  which image: its held-out accuracy is chance, its sampling spreads over the classes, and everything above
  chance after GRPO was learned from the reward.
* detection (`new_grpo_images`): a 0.9 M-parameter random model learns to localise from supervision far faster
  than from a reward, so the warm start imitates true boxes on the training tree's *train* file (a long run:
  the box structure and a rough localisation), and GRPO then samples the training tree's *val* file, images
  the warm-started policy has never seen: with the same images, its greedy answers were already what SFT had
  memorised and GRPO's groups had nothing to rank. The scenes are drawn for that model (`DetectionLayout`: one
  square object of a few-shot class per image, on a 3 x 3 grid of positions, fixed size), in the real COCO
  files and formats.
* grounding: the warm start imitates the true boxes of the 240 training items (ReasonSeg's train split has
  239) for 600 steps: with less, the 2-layer model's greedy answers on new images lost the box structure
  and GRPO had nothing parseable to reward.

Why other hyperparameters than the paper's: a 0.9 M-parameter random model needs a far larger learning rate
than 1e-6 (GRPO) or 2e-5 (SFT) and far fewer steps fit in a CPU budget. They are all in `FULL` / `FAST`
below, passed to the trainers as recipe fields (`Recipe.learning_rate`, `Recipe.sft_learning_rate`,
`Recipe.sft_think`, `Recipe.sft_shuffled`), and stated in the summary and the table caption; the paper recipes
are never touched. The tiny model is built with the usual weight scale 0.02 (`init_range`), not the parity
tests' 0.2, under which attention saturates and training barely moves where the model looks.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from tasks.synthetic import DetectionLayout, SyntheticSizes

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
    sft_batch: int = 4  # samples per SFT step
    sft_shots: int | None = None  # k of the warm start's k-shot sample (None: `shots`, the GRPO sample's)
    new_grpo_images: bool = False  # detection: warm start on the train file's images, GRPO on others (docstring)
    sft_shuffled: bool = False  # warm start on other rows' answers: the format, not the task (docstring)


@dataclass(frozen=True)
class DemoPlan:
    train_sizes: SyntheticSizes
    test_sizes: SyntheticSizes
    detection: DetectionLayout  # how the COCO scenes of both trees are drawn
    lisa_train_items: int
    think: str  # the warm start's template reasoning: targets are <think>{think}</think><answer>...</answer>
    init_range: float  # std of the tiny model's random weights (harness.tiny.build_tiny_qwen2vl)
    sft_learning_rate: float  # TRL's SFT default (2e-5) would not move a random tiny model in a few steps
    beta: float  # KL coefficient of GRPO (the paper's 0.04)
    tasks: tuple[DemoTask, ...]


FULL = DemoPlan(
    train_sizes=SyntheticSizes(coco_images=96, coco_train_images=96, lisa_items=3, cls_classes=4, cls_train=8,
                               cls_val=1, cls_test=1),
    test_sizes=SyntheticSizes(coco_images=120, lisa_items=50, cls_classes=4, cls_train=1, cls_val=1, cls_test=25),
    detection=DetectionLayout(classes=8, max_instances=1, max_extra=0, half=(16, 17), grid=3, sizes=((112, 112),),
                              shape="square"),
    lisa_train_items=240,  # ReasonSeg's train split has 239 images; the paper trains on all of them
    think="I look at the image.",
    init_range=0.02,
    sft_learning_rate=1e-3,
    beta=0.04,
    tasks=(
        DemoTask("fgvc_flowers102", "Flowers102 (acc.)", ("accuracy",), shots=8, sft_steps=200, grpo_steps=80,
                 grpo_lr=1e-4, num_generations=8, prompts_per_step=2, max_completion_length=32, temperature=1.0,
                 eval_args=(("max_new_tokens", 40),), sft_shuffled=True),
        DemoTask("coco_fewshot", "COCO 8 classes (mAP)", ("mAP",), shots=12, sft_steps=1000, grpo_steps=80,
                 grpo_lr=1e-4, num_generations=8, prompts_per_step=2, max_completion_length=64, temperature=1.0,
                 eval_args=(("protocol", "oracle"), ("max_new_tokens", 96)), new_grpo_images=True),
        DemoTask("lisa_grounding", "LISA grounding (mIoU)", ("mIoU_val", "mIoU_test"), shots=None, sft_steps=600,
                 grpo_steps=80, grpo_lr=1e-4, num_generations=8, prompts_per_step=4, max_completion_length=32,
                 temperature=0.7, eval_args=(("max_new_tokens", 40),)),
    ),
)
FAST = replace(
    FULL,
    train_sizes=replace(FULL.train_sizes, coco_images=48, coco_train_images=24, cls_train=4),
    test_sizes=replace(FULL.test_sizes, coco_images=8, lisa_items=4, cls_test=3),
    lisa_train_items=8,
    tasks=tuple(replace(t, shots=t.shots and 2, sft_steps=4, grpo_steps=3) for t in FULL.tasks),
)
