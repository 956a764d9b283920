"""`vrft demo`: the paper's experiment in miniature, offline, on a laptop CPU.

Why it exists: a newcomer's first command should show the whole system working on a fresh machine with
no model hub and no datasets. It runs the paper's loop on synthetic few-shot tasks (one per family:
classification, detection, grounding): data -> tiny Qwen2-VL -> short supervised warm start -> held-out
score -> GRPO with the task verifiers as rewards (strict profile) -> held-out score -> a table in the
layout of the paper's Tables 2-3 and a reward-curve figure.

Why a warm start: the paper's base model already answers in ``<answer>...</answer>``; a random one never
does, so GRPO would see zero reward everywhere. A short SFT run teaches the format (not the task: it stops
well before accuracy saturates), and GRPO then has something to improve. Grounding gets the longest warm
start (600 steps over 240 items): with less, the 2-layer model's greedy answers on new images lost the box
structure and GRPO had nothing parseable to reward. Why other hyperparameters than
the paper's: a 0.9 M-parameter random model needs a far larger learning rate than 1e-6 and far fewer
steps fit in a CPU budget. They are all in `FULL` / `FAST` below, stated in the summary and the table
caption; the paper recipes are never touched.

Why one process, one torch thread and fixed seeds: the same `--seed` must give the same numbers every
time (data, model init, SFT shuffling and GRPO sampling are seeded; one thread keeps CPU reductions in a
fixed order), and on a shared 2-core machine two threads per process made the tiny layers ~20x slower.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import io
import json
import logging
import os
import resource
import shutil
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from tqdm import tqdm

from harness.demo_report import TaskResult, plot_rewards, render_table, summary_text
from harness.tiny import TINY_MAX_PIXELS, TINY_MIN_PIXELS
from tasks.synthetic import SyntheticSizes

log = logging.getLogger("vrft.demo")
MARKER = ".vrft-demo"  # a folder holding this file is the demo's own, so a rerun may clear it
TRAIN_DATA_SEED, TEST_DATA_SEED = 1000, 2000  # + --seed: the training and the held-out sets differ


# ---------------------------------------------------------------------------------------------------
# The demo's hyperparameters: the ONLY place they are set (they differ from the paper's on purpose).
# ---------------------------------------------------------------------------------------------------
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
    sft_lr: float  # TRL's SFT default (2e-5) would not move a random tiny model in a few steps
    sft_batch: int  # samples per SFT step
    beta: float  # KL coefficient of GRPO (the paper's 0.04)
    tasks: tuple[DemoTask, ...]


FULL = DemoPlan(
    train_sizes=SyntheticSizes(coco_images=96, lisa_items=3, cls_classes=4, cls_train=8, cls_val=1, cls_test=1),
    test_sizes=SyntheticSizes(coco_images=60, lisa_items=50, cls_classes=4, cls_train=1, cls_val=1, cls_test=25),
    lisa_train_items=240,  # ReasonSeg's train split has 239 images; the paper trains on all of them
    sft_lr=1e-3,
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


def tokenizer_texts() -> list[str]:
    """Extra tokenizer corpus: the synthetic class names as answers, so that a name is a few tokens (as in a
    real vocabulary) rather than one byte each; repeated so that BPE merges them."""
    from tasks.synthetic.classification import FLOWERS

    return [f"<answer>{name}</answer>" for name in FLOWERS] * 20


# ---------------------------------------------------------------------------------------------------
# The stages.
# ---------------------------------------------------------------------------------------------------
def _prepare_out(out: Path) -> None:
    """Refuse to write into a non-empty folder that is not an earlier demo; clear an earlier demo's stages."""
    if out.exists() and any(out.iterdir()):
        if not (out / MARKER).is_file():
            raise ValueError(f"vrft demo: {out} exists and is not a demo folder; give an empty or new --out")
        for name in ("data", "models", "runs"):
            shutil.rmtree(out / name, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("written by `vrft demo`; rerunning the demo clears data/, models/, runs/\n")


def _write_data(out: Path, plan: DemoPlan, seed: int) -> tuple[Path, Path]:
    """Training tree from one synthetic seed, held-out test tree from another (plus a ReasonSeg train split)."""
    import numpy as np

    from tasks.synthetic import write_synthetic
    from tasks.synthetic.lisa import write_lisa_split

    train, test = out / "data" / "train", out / "data" / "test"
    write_synthetic(train, seed=TRAIN_DATA_SEED + seed, sizes=plan.train_sizes)
    rng = np.random.default_rng([TRAIN_DATA_SEED + seed, 1])
    write_lisa_split(train / "lisa" / "ReasonSeg" / "train", "train", rng, plan.lisa_train_items)
    write_synthetic(test, seed=TEST_DATA_SEED + seed, sizes=plan.test_sizes)
    return train, test


@contextmanager
def _sft_learning_rate(lr: float) -> Iterator[None]:
    """`train_sft` fixes TRL's SFT learning rate (2e-5, the paper's "+SFT" baseline); the warm start of a
    random tiny model needs a larger one. The trainer's manifest records the rate actually used."""
    import train_plugin.sft as sft

    original = sft.sft_args

    def patched(run: Any) -> dict[str, Any]:
        return {**original(run), "learning_rate": lr}

    sft.sft_args = patched
    try:
        yield
    finally:
        sft.sft_args = original


def _run_config(plan: DemoPlan, t: DemoTask, model: Path, out: Path, train: Path, seed: int, sft: bool) -> Any:
    from train_plugin.config import RunConfig
    from train_plugin.recipes import Recipe

    recipe = Recipe(
        name=f"demo_{t.task}_{'sft' if sft else 'grpo'}", task=t.task, shots=t.shots,
        max_steps=t.sft_steps if sft else t.grpo_steps, description="vrft demo (demo hyperparameters, not the paper's)",
        num_generations=t.num_generations, learning_rate=t.grpo_lr, beta=plan.beta, temperature=t.temperature,
        max_completion_length=t.max_completion_length, prompts_per_step=plan.sft_batch if sft else t.prompts_per_step,
        min_pixels=TINY_MIN_PIXELS, max_pixels=TINY_MAX_PIXELS, profile="strict", save_steps=10**6,
    )
    extra: dict[str, Any] = {}
    if t.task == "coco_fewshot":  # the training tree's own annotations: no test-set leak, no warning
        extra = {"train_annotations": train / "coco/annotations/instances_val2017.json",
                 "train_images": train / "coco/val2017"}
    elif t.task == "lisa_grounding":
        extra = {"train_annotations": train / "lisa/ReasonSeg/train"}
    return RunConfig(recipe=recipe, model=str(model), output_dir=out, data_root=train, seed=seed,
                     per_device_train_batch_size=plan.sft_batch if sft else None, **extra)


def _evaluate(t: DemoTask, model: Path, test: Path, run_dir: Path) -> dict[str, float | None]:
    """`vrft eval --backend hf` on the held-out tree (greedy). Returns the headline metric, the mean verifier
    reward (what GRPO maximises) and the share of answers that parse."""
    from harness.backends import GenerationParams
    from harness.records import iter_jsonl
    from harness.runner import EvalConfig, run_eval
    from harness.score_cmd import score_run

    config = EvalConfig(model=str(model), tasks=(t.task,), data_root=str(test), backend="hf",
                        task_args=dict(t.eval_args), backend_opts={"batch_size": 16}, batch_size=64,
                        params=GenerationParams(min_pixels=TINY_MIN_PIXELS, max_pixels=TINY_MAX_PIXELS))
    run_eval(config, run_dir)
    with contextlib.redirect_stdout(io.StringIO()):  # its metrics table: the demo prints its own at the end
        metrics = score_run(run_dir)[t.task]
    values = [metrics.get(k) for k in t.metric]
    rows = [obj for _, obj, _ in iter_jsonl(run_dir / "scores.jsonl") if obj is not None]
    return {
        "metric": None if any(v is None for v in values) else sum(values) / len(values),
        "reward": sum(r["total"] for r in rows) / len(rows) if rows else None,
        "parsed": sum(r["parse"] == "ok" for r in rows) / len(rows) if rows else None,
    }


def _reward_curve(model_dir: Path) -> list[float]:
    """Mean total reward per GRPO step, from the trainer's log history (train_manifest.json)."""
    history = json.loads((model_dir / "train_manifest.json").read_text())["log_history"]
    return [float(h["reward"]) for h in history if "reward" in h]


def peak_rss_mb() -> dict[str, float]:
    """Peak resident memory of this process and of its (waited-for) children, in MiB (Linux: KiB units)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"self": round(own, 1), "children": round(children, 1)}


def _quiet() -> None:
    """The demo's output is its own progress; libraries' version nags and info logs are noise here."""
    for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
        os.environ.setdefault(name, "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    warnings.filterwarnings("ignore", message=".*TRL currently supports vLLM.*")
    warnings.filterwarnings("ignore", category=FutureWarning)
    for name in ("transformers", "trl", "datasets", "vrft.train", "vrft.eval", "vrft.score", "httpx", "harness.tiny",
                 "numexpr"):
        logging.getLogger(name).setLevel(logging.WARNING)
    import datasets
    import transformers
    from transformers.trainer_callback import ProgressCallback

    datasets.disable_progress_bars()  # "Map", "Loading weights": instant here, one bar each per stage
    transformers.utils.logging.disable_progress_bar()
    # The trainers' step bars stay; the metrics dict they print at every step (hundreds of lines) goes: the same
    # log history is kept in each model's train_manifest.json, and the reward curves are plotted from it.
    ProgressCallback.on_log = _no_step_log  # type: ignore[method-assign]


def _no_step_log(self: Any, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any) -> None:
    return None


def run_demo(out: Path, fast: bool = False, seed: int = 0, plan: DemoPlan | None = None) -> Path:
    """Run the whole demo into `out`; returns the path of ``demo_summary.json``."""
    _quiet()
    import torch

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True, warn_only=True)
    plan = plan or (FAST if fast else FULL)
    out = Path(out).resolve()
    _prepare_out(out)
    started = time.perf_counter()
    timings: dict[str, float] = {}
    stages: list[tuple[str, Callable[[], Any]]] = []
    state: dict[Any, Any] = {}  # "tiny", "train", "test" paths and (task, run) -> metric

    def stage(name: str, fn: Callable[[], Any]) -> None:
        stages.append((name, fn))

    def build_model() -> None:
        from harness.tiny import build_tiny_qwen2vl

        state["tiny"] = build_tiny_qwen2vl(out / "models" / "tiny", seed=seed, extra_texts=tokenizer_texts())

    stage("data", lambda: state.update(zip(("train", "test"), _write_data(out, plan, seed), strict=True)))
    stage("tiny model", build_model)
    results: list[TaskResult] = []
    for t in plan.tasks:
        models, runs = out / "models" / t.task, out / "runs" / t.task

        def sft(t: DemoTask = t, models: Path = models) -> None:
            from train_plugin.sft import train_sft

            with _sft_learning_rate(plan.sft_lr):
                train_sft(_run_config(plan, t, state["tiny"], models / "sft", state["train"], seed, sft=True))

        def grpo(t: DemoTask = t, models: Path = models) -> None:
            from train_plugin.grpo import train_grpo

            train_grpo(_run_config(plan, t, models / "sft", models / "grpo", state["train"], seed, sft=False))

        def score(t: DemoTask = t, models: Path = models, runs: Path = runs, key: str = "baseline") -> None:
            model = models / ("sft" if key == "baseline" else "grpo")
            state[(t.task, key)] = _evaluate(t, model, state["test"], runs / key)

        stage(f"{t.task}: SFT warm start", sft)
        stage(f"{t.task}: eval baseline", score)
        stage(f"{t.task}: GRPO", grpo)
        stage(f"{t.task}: eval + Visual-RFT", functools.partial(score, t, models, runs, "visual_rft"))
    with tqdm(stages, desc="vrft demo", unit="stage", dynamic_ncols=True) as bar:
        for name, fn in bar:
            bar.set_postfix_str(name)
            t0 = time.perf_counter()
            fn()
            timings[name] = round(time.perf_counter() - t0, 1)
    for t in plan.tasks:
        models, runs = out / "models" / t.task, out / "runs" / t.task
        before, after = state[(t.task, "baseline")], state[(t.task, "visual_rft")]
        results.append(TaskResult(t.task, t.column, before.pop("metric"), after.pop("metric"),
                                  {"baseline": before, "visual_rft": after}, str(runs / "baseline"),
                                  str(runs / "visual_rft"), str(models / "sft"), str(models / "grpo"),
                                  _reward_curve(models / "grpo")))
    caption = (
        f"**vrft demo** ({'fast' if fast else 'full'}, seed {seed}): tiny random Qwen2-VL on synthetic few-shot "
        "tasks, scored on a held-out synthetic set (greedy, strict profile). Baseline = a short SFT warm start "
        "that teaches the answer format; + Visual-RFT = GRPO from it with the task verifiers as rewards. "
        "Demo hyperparameters (not the paper's): "
        + "; ".join(f"{t.task}: SFT {t.sft_steps} steps, GRPO {t.grpo_steps} steps, lr {t.grpo_lr:g}, "
                    f"G={t.num_generations}, {t.prompts_per_step} prompts/step, {t.max_completion_length} tokens"
                    for t in plan.tasks)
        + f"; SFT lr {plan.sft_lr:g}, beta {plan.beta:g} (see harness/demo.py)."
    )
    tables = out / "tables.md"
    tables.write_text(render_table(results, caption), encoding="utf-8")
    curve = plot_rewards(results, out / "reward_curves.png")
    summary = {
        "seed": seed, "fast": fast, "plan": asdict(plan),
        "tasks": {r.task: {**asdict(r), "delta": r.delta} for r in results},
        "improved": [r.task for r in results if r.improved],
        "timings_s": {**timings, "total": round(time.perf_counter() - started, 1)},
        "peak_rss_mb": peak_rss_mb(),
        "paths": {"data_train": str(state["train"]), "data_test": str(state["test"]), "tiny_model": str(state["tiny"]),
                  "models": str(out / "models"), "runs": str(out / "runs"), "tables": str(tables), "curve": str(curve)},
    }
    path = out / "demo_summary.json"
    path.write_text(json.dumps(summary, indent=1, default=str) + "\n", encoding="utf-8")
    print(summary_text(summary, tables))
    return path


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``vrft demo`` on the `vrft` command's subparsers."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "demo", help="the paper's experiment in miniature: synthetic data, tiny model, GRPO, table (offline, CPU)",
        description="Synthetic few-shot tasks -> tiny offline Qwen2-VL -> SFT warm start -> held-out score -> GRPO "
        "with the task verifiers -> score again -> tables.md + reward curves. About 7 min on 2 CPU cores, "
        "under 2 GB of RAM (--fast: under a minute).",
    )
    p.add_argument("--out", default="results/demo", help="output folder (default results/demo)")
    p.add_argument("--fast", action="store_true", help="smoke version: few steps, tiny sets (CI)")
    p.add_argument("--seed", type=int, default=0, help="seed of data, model, training and sampling")
    p.set_defaults(func=_main)
    return p


def _main(args: argparse.Namespace) -> int:
    try:
        run_demo(Path(args.out), fast=args.fast, seed=args.seed)
    except ValueError as err:
        print(err)
        return 2
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m harness.demo")
    add_parser(parser.add_subparsers(dest="command")).prog = "vrft demo"
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    raise SystemExit(_main(parser.parse_args(["demo", *__import__("sys").argv[1:]])))
