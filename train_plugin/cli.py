"""``vrft train``: argument parsing only (logic in `train_plugin.grpo` / `train_plugin.sft`).

`add_parser(subparsers)` registers the subcommand on the `vrft` parser; `main(argv)` runs it standalone,
which is also the entry point for multi-process launches::

    accelerate launch --config_file train_plugin/accelerate/ddp.yaml -m train_plugin.cli \\
        --recipe coco_fewshot_4shot --model Qwen/Qwen2-VL-2B-Instruct --data-root /data --output-dir out/coco4

A recipe fixes the paper's hyperparameters; any flag below overrides one field of it, and without
``--recipe`` a custom run is built from ``--task`` plus the same paper defaults.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

DESCRIPTION = (
    "Fine-tune a checkpoint with GRPO (Visual-RFT) or the SFT baseline, rewarded by the tasks' own verifiers, "
    "with the paper's recipes (--list) or a custom --task; writes a checkpoint `vrft eval` loads and "
    "train_manifest.json."
)
TRAIN_CONFIG = "train_config.yaml"
# flag dest -> Recipe field (None = keep the recipe's value)
RECIPE_FLAGS = ("shots", "max_steps", "num_generations", "learning_rate", "beta", "temperature", "top_k",
                "top_p", "max_completion_length", "loss_type", "prompts_per_step", "min_pixels", "max_pixels",
                "profile")


def _add_arguments(p: argparse.ArgumentParser) -> None:
    from harness.config_file import add_config_flag

    add_config_flag(p)  # every flag below as a YAML key; the resolved options go to OUTPUT_DIR/train_config.yaml
    p.add_argument("--recipe", help="a paper experiment (see --list); flags below override its fields")
    p.add_argument("--list", action="store_true", help="list the recipes and exit")
    p.add_argument("--method", default="grpo", choices=["grpo", "sft"],
                   help="grpo: Visual-RFT (default); sft: the paper's +SFT baseline on the same data")
    p.add_argument("--model", help="checkpoint directory (or hub id) to start from; a directory when beta > 0")
    p.add_argument("--output-dir", help="where the checkpoint and train_manifest.json go")
    p.add_argument("--task", help="task for a custom run without --recipe (see `vrft tasks`)")
    g = p.add_argument_group("data")
    g.add_argument("--data-root", help="task data root: k-shot samples are drawn from it (README: data layout)")
    g.add_argument("--dataset", help="a published training set instead: hub id, local directory (parquet or "
                   "save_to_disk), or 'paper' for the recipe's own (PROTOCOL 4.1)")
    g.add_argument("--train-annotations", type=Path, help="detection: annotation file to sample from (default: "
                   "the data root's coco/annotations/instances_train2017.json or lvis/annotations/lvis_v1_train.json); "
                   "LISA: a ReasonSeg folder (default: lisa/ReasonSeg/train)")
    g.add_argument("--train-images", type=Path, help="detection: image folder of --train-annotations")
    g.add_argument("--allow-eval-set-for-training", action="store_true",
                   help="let the k-shot sample come from evaluation images (refused otherwise: it trains on the "
                   "test set); recorded in train_manifest.json, and evaluations on those images are labelled")
    g.add_argument("--shots", type=int, help="k images per class/category (LISA: images; default all)")
    g = p.add_argument_group("GRPO hyperparameters (default: the recipe's paper values)")
    g.add_argument("--max-steps", type=int)
    g.add_argument("--num-generations", type=int, help="G completions per prompt (paper: 8 for 2B, 4 for 7B)")
    g.add_argument("--learning-rate", type=float)
    g.add_argument("--beta", type=float, help="KL coefficient (paper: 0.04)")
    g.add_argument("--temperature", type=float)
    g.add_argument("--top-k", type=int)
    g.add_argument("--top-p", type=float)
    g.add_argument("--max-completion-length", type=int)
    g.add_argument("--loss-type", choices=["grpo", "dr_grpo", "dapo", "bnpo"])
    g.add_argument("--prompts-per-step", type=int, help="prompts per optimizer step (paper: 16)")
    g.add_argument("--min-pixels", type=int)
    g.add_argument("--max-pixels", type=int)
    g.add_argument("--profile", choices=["strict", "official"],
                   help="reward profile: strict (default) or official (the paper's training reward, quirks included)")
    g = p.add_argument_group("run")
    g.add_argument("--seed", type=int, default=0, help="training and k-shot sampling seed")
    g.add_argument("--per-device-train-batch-size", type=int,
                   help="completions per device micro-step (TRL 1.16 counts completions; default G)")
    g.add_argument("--lora", action="store_true", help="LoRA (peft) on the language model; merged at the end")
    g.add_argument("--lora-r", type=int, default=64)
    g.add_argument("--lora-alpha", type=int, default=128)
    g.add_argument("--use-vllm", action="store_true",
                   help="vLLM rollouts (colocate), with the image-placeholder fix for trl issue 6294")
    g.add_argument("--vllm-gpu-memory-utilization", type=float, default=0.3,
                   help="fraction of GPU memory for the colocated vLLM engine (of host RAM on CPU)")
    g.add_argument("--vllm-max-model-length", type=int, help="vLLM context length (default: the model's)")
    g.add_argument("--gradient-checkpointing", action="store_true", help="trade compute for memory (paper: off)")
    g.add_argument("--bf16", action=argparse.BooleanOptionalAction, default=None, help="default: on with CUDA")
    g.add_argument("--save-steps", type=int, help="intermediate checkpoints every N steps (default: the recipe's)")
    g.add_argument("--logging-steps", type=int, default=1)
    g.add_argument("--report-to", default="none", help="none, wandb, tensorboard, ...")
    g.add_argument("--attn-implementation", help="e.g. flash_attention_2, sdpa")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``vrft train`` on the `vrft` command's subparsers."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "train",
        help="fine-tune with GRPO (Visual-RFT) or SFT using the tasks' own verifiers as rewards",
        description=DESCRIPTION,
    )
    _add_arguments(p)
    p.set_defaults(func=run_from_args, train_parser=p)
    from harness.fetch import register_training

    register_training(fetch_training_data)  # `vrft data fetch --train` (harness never imports train_plugin)
    return p


def fetch_training_data(root: Path, tasks: Sequence[str], **options: Any) -> Iterator[str]:
    """`train_plugin.fetch.fetch_training_data`, imported only when `vrft data fetch --train` runs."""
    from train_plugin.fetch import fetch_training_data as fetch

    yield from fetch(root, tasks, **options)


def build_run(args: argparse.Namespace) -> Any:
    """A `RunConfig` from parsed flags (recipe fields overridden by the flags that were given)."""
    from train_plugin.config import RunConfig
    from train_plugin.recipes import Recipe, get_recipe

    if args.recipe:
        recipe = get_recipe(args.recipe)
    elif args.task:
        recipe = Recipe(name=f"custom_{args.task}", task=args.task, shots=None)
    else:
        raise ValueError("give --recipe NAME (see --list) or --task NAME for a custom run")
    changes = {k: getattr(args, k) for k in RECIPE_FLAGS if getattr(args, k) is not None}
    if changes:
        recipe = replace(recipe, **changes)
    if not args.model or not args.output_dir:
        raise ValueError("--model and --output-dir are required")
    return RunConfig(
        recipe=recipe, model=args.model, output_dir=Path(args.output_dir),
        data_root=Path(args.data_root) if args.data_root else None, dataset=args.dataset,
        train_annotations=args.train_annotations, train_images=args.train_images,
        allow_eval_set_for_training=args.allow_eval_set_for_training, seed=args.seed,
        lora=args.lora, lora_r=args.lora_r, lora_alpha=args.lora_alpha, use_vllm=args.use_vllm,
        vllm_gpu_memory_utilization=args.vllm_gpu_memory_utilization, vllm_max_model_length=args.vllm_max_model_length,
        gradient_checkpointing=args.gradient_checkpointing, bf16=args.bf16,
        per_device_train_batch_size=args.per_device_train_batch_size, logging_steps=args.logging_steps,
        save_steps=args.save_steps, report_to=args.report_to, attn_implementation=args.attn_implementation,
    )


def _list() -> int:
    from tabulate import tabulate

    from train_plugin.recipes import RECIPES

    rows = [[r.name, r.task, r.shots or "all", r.max_steps, r.paper_dataset or "-", r.description]
            for r in RECIPES.values()]
    print(tabulate(rows, headers=["recipe", "task", "shots", "steps", "published data", "experiment"],
                   tablefmt="github"))
    return 0


def run_from_args(args: argparse.Namespace) -> int:
    if args.list:
        return _list()
    from tasks.data import DataError

    try:
        run = build_run(args)
        if args.method == "sft":
            from train_plugin.sft import train_sft

            out = train_sft(run)
        else:
            from train_plugin.grpo import train_grpo

            out = train_grpo(run)
    except (ValueError, DataError) as err:
        print(f"vrft train: {err}", file=sys.stderr)
        return 2
    _write_config(args, Path(out))
    print(f"checkpoint written to {out}; score it with: vrft eval --model {out} --tasks {run.recipe.task} ...")
    return 0


def _write_config(args: argparse.Namespace, out: Path) -> None:
    """``OUTPUT_DIR/train_config.yaml``: the resolved options; ``vrft train --config`` it to train again."""
    from harness.config_file import dump_config, resolved_config
    from harness.records import atomic_write_text

    parser = getattr(args, "train_parser", None)
    if parser is not None and out.is_dir():
        atomic_write_text(out / TRAIN_CONFIG, dump_config(resolved_config(parser, args)))


def main(argv: Sequence[str] | None = None) -> int:
    from harness.config_file import with_config_file

    parser = argparse.ArgumentParser(prog="vrft train", description=DESCRIPTION)
    _add_arguments(parser)
    parser.set_defaults(train_parser=parser)
    try:
        argv = with_config_file(parser, sys.argv[1:] if argv is None else argv)
    except ValueError as err:
        print(f"vrft train: {err}", file=sys.stderr)
        return 2
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    return run_from_args(args)


if __name__ == "__main__":
    sys.exit(main())
