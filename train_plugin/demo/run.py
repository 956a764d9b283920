"""`vrft demo`: the paper's experiment in miniature, offline, on a laptop CPU.

Why it exists: a newcomer's first command should show the whole system working on a fresh machine with
no model hub and no datasets. It runs the paper's loop on synthetic few-shot tasks (one per family:
classification, detection, grounding): data -> tiny Qwen2-VL -> short supervised warm start -> held-out
score -> GRPO with the task verifiers as rewards (strict profile) -> held-out score -> a table in the
layout of the paper's Tables 2-3 and a reward-curve figure. The hyperparameters, and why they are not the
paper's, are in `train_plugin.demo.plan`; what is written and printed, in `train_plugin.demo.report`.

Why one torch thread per process and fixed seeds: the same `--seed` must give the same numbers every time
(data, model init, SFT shuffling and GRPO sampling are seeded; one thread keeps CPU reductions in a fixed
order), and on a shared 2-core machine two threads per process made the tiny layers ~20x slower. The cores
are used instead by training the tasks in parallel processes (`--jobs`): each task starts from the same tiny
model and its own seeded runs, so which process it runs in changes no number.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import queue as queue_module
import resource
import shutil
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from tqdm import tqdm

from harness.tiny import TINY_MAX_PIXELS, TINY_MIN_PIXELS
from train_plugin.demo.memory import PeakMemory
from train_plugin.demo.plan import FAST, FULL, TEST_DATA_SEED, TRAIN_DATA_SEED, DemoPlan, DemoTask
from train_plugin.demo.report import TaskResult, eval_set_note, plot_rewards, render_table, summary_text

log = logging.getLogger("vrft.demo")
MARKER = ".vrft-demo"  # a folder holding this file is the demo's own, so a rerun may clear it


def tokenizer_texts(think: str) -> list[str]:
    """Extra tokenizer corpus: the synthetic class names as answers, so that a name is a few tokens (as in a
    real vocabulary) rather than one byte each, and the warm start's think block, so that the format costs a few
    tokens per rollout; repeated so that BPE merges them."""
    from tasks.synthetic.classification import FLOWERS

    return ([f"<answer>{name}</answer>" for name in FLOWERS] + [f"<think>{think}</think><answer>"]) * 20


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
    write_synthetic(train, seed=TRAIN_DATA_SEED + seed, sizes=plan.train_sizes, detection=plan.detection)
    rng = np.random.default_rng([TRAIN_DATA_SEED + seed, 1])
    write_lisa_split(train / "lisa" / "ReasonSeg" / "train", "train", rng, plan.lisa_train_items)
    write_synthetic(test, seed=TEST_DATA_SEED + seed, sizes=plan.test_sizes, detection=plan.detection)
    return train, test


def _run_config(plan: DemoPlan, t: DemoTask, model: Path, out: Path, train: Path, seed: int, sft: bool) -> Any:
    from train_plugin.config import RunConfig
    from train_plugin.recipes import Recipe

    recipe = Recipe(
        name=f"demo_{t.task}_{'sft' if sft else 'grpo'}", task=t.task,
        shots=t.sft_shots if sft and t.sft_shots is not None else t.shots,
        max_steps=t.sft_steps if sft else t.grpo_steps, description="vrft demo (demo hyperparameters, not the paper's)",
        num_generations=t.num_generations, learning_rate=t.grpo_lr, beta=plan.beta, temperature=t.temperature,
        max_completion_length=t.max_completion_length, prompts_per_step=t.sft_batch if sft else t.prompts_per_step,
        min_pixels=TINY_MIN_PIXELS, max_pixels=TINY_MAX_PIXELS, profile="strict", save_steps=10**6,
        sft_learning_rate=plan.sft_learning_rate, sft_think=plan.think, sft_shuffled=t.sft_shuffled,
    )
    extra: dict[str, Any] = {}
    if t.task == "coco_fewshot" and not (sft and t.new_grpo_images):
        # GRPO (and a warm start on the same images) samples the *training tree's* evaluation annotations (its val
        # file has the demo's planned size; the held-out test tree is another synthetic seed): an explicit opt-in,
        # said in the summary and the table caption. With `new_grpo_images` the warm start samples the training
        # tree's train file instead (the k-shot default), so GRPO's images are new to the warm-started policy.
        extra = {"train_annotations": train / "coco/annotations/instances_val2017.json",
                 "train_images": train / "coco/val2017", "allow_eval_set_for_training": True}
    elif t.task == "lisa_grounding":
        extra = {"train_annotations": train / "lisa/ReasonSeg/train"}
    return RunConfig(recipe=recipe, model=str(model), output_dir=out, data_root=train, seed=seed,
                     per_device_train_batch_size=t.sft_batch if sft else None, **extra)


def _evaluate(t: DemoTask, model: Path, test: Path, run_dir: Path) -> dict[str, float | None]:
    """`vrft eval --backend hf` on the held-out tree (greedy). Returns the headline metric, the mean verifier
    reward (what GRPO maximises) and the share of answers that parse."""
    from harness.backends import GenerationParams
    from harness.config import EvalConfig
    from harness.records import iter_jsonl
    from harness.runner import run_eval
    from harness.score_cmd import score_run

    config = EvalConfig(model=str(model), tasks=(t.task,), data_root=str(test), backend="hf",
                        task_args=dict(t.eval_args), backend_opts={"batch_size": 16}, batch_size=64,
                        params=GenerationParams(min_pixels=TINY_MIN_PIXELS, max_pixels=TINY_MAX_PIXELS))
    run_eval(config, run_dir)
    report = score_run(run_dir)  # the demo prints its own table at the end
    values = [report[t.task][k] for k in t.metric if report[t.task].get(k) is not None]
    rows = [obj for _, obj, _ in iter_jsonl(report.scores_path) if obj is not None]
    return {
        "metric": sum(values) / len(values) if len(values) == len(t.metric) else None,
        "reward": sum(r["total"] for r in rows) / len(rows) if rows else None,
        "parsed": sum(r["parse"] == "ok" for r in rows) / len(rows) if rows else None,
    }


def _training_data(task: str, model_dir: Path, run_dir: Path) -> dict[str, Any]:
    """Where the GRPO model's training samples came from (its train_manifest.json), and how many images of the
    held-out eval run it was trained on (the run manifest's ``train_overlap``)."""
    data = json.loads((model_dir / "train_manifest.json").read_text())["data"]
    entries = json.loads((run_dir / "manifest.json").read_text())["tasks"]
    return {
        "sampled_from": data.get("sampled_from"),
        "eval_set": bool(data.get("eval_set")),
        "allow_eval_set_for_training": bool(data.get("allow_eval_set_for_training")),
        "held_out_train_overlap": next((e.get("train_overlap") for e in entries if e.get("name") == task), None),
    }


def _build_model(out: Path, plan: DemoPlan, seed: int) -> Path:
    from harness.tiny import build_tiny_qwen2vl

    return build_tiny_qwen2vl(out / "models" / "tiny", seed=seed, extra_texts=tokenizer_texts(plan.think),
                              initializer_range=plan.init_range)


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


def _run_task(plan: DemoPlan, t: DemoTask, out: Path, paths: dict[str, Path], seed: int,
              progress: Callable[[str, float], None]) -> dict[str, Any]:
    """One task's four stages (warm start, eval, GRPO, eval), in this process. `progress(stage, seconds)` is
    called as each stage starts (seconds < 0) and ends. Returns the two evals' figures, the stage times and this
    process's peak RSS."""
    _pin_torch()
    models, runs = out / "models" / t.task, out / "runs" / t.task
    figures: dict[str, Any] = {}

    def sft() -> None:
        from train_plugin.sft import train_sft

        train_sft(_run_config(plan, t, paths["tiny"], models / "sft", paths["train"], seed, sft=True))

    def grpo() -> None:
        from train_plugin.grpo import train_grpo

        train_grpo(_run_config(plan, t, models / "sft", models / "grpo", paths["train"], seed, sft=False))

    def score(key: str) -> None:
        figures[key] = _evaluate(t, models / ("sft" if key == "baseline" else "grpo"), paths["test"], runs / key)

    timings: dict[str, float] = {}
    for name, fn in ((f"{t.task}: SFT warm start", sft), (f"{t.task}: eval baseline", lambda: score("baseline")),
                     (f"{t.task}: GRPO", grpo), (f"{t.task}: eval + Visual-RFT", lambda: score("visual_rft"))):
        progress(name, -1.0)
        t0 = time.perf_counter()
        fn()
        timings[name] = round(time.perf_counter() - t0, 1)
        progress(name, timings[name])
    return {**figures, "timings": timings, "peak_rss_mb": peak_rss_mb()["self"]}


def _pin_torch() -> None:
    import torch

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True, warn_only=True)


def _worker_init(queue: Any) -> None:
    """A task worker: quiet libraries, no per-step bars (two processes would interleave them), reports stages on
    `queue`."""
    os.environ["TQDM_DISABLE"] = "1"
    _quiet()
    _WORKER["queue"] = queue


_WORKER: dict[str, Any] = {}


def _run_task_in_worker(plan: DemoPlan, t: DemoTask, out: Path, paths: dict[str, Path], seed: int) -> dict[str, Any]:
    queue = _WORKER["queue"]
    return _run_task(plan, t, out, paths, seed, lambda name, sec: queue.put((name, sec)))


def _run_tasks(plan: DemoPlan, out: Path, paths: dict[str, Path], seed: int, jobs: int,
               bar: Any, timings: dict[str, float]) -> dict[str, dict[str, Any]]:
    """Every task of the plan, `jobs` at a time: each task is independent of the others (its own warm start from
    the tiny model, its own seeded training), so running them in parallel processes changes no number, only the
    wall time. With `jobs` = 1 they run here, one after the other."""
    def shown(name: str, sec: float) -> None:
        if sec < 0:
            bar.set_postfix_str(name)
        else:
            timings[name] = sec
            bar.update(1)

    if jobs <= 1:
        return {t.task: _run_task(plan, t, out, paths, seed, shown) for t in plan.tasks}
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("spawn")  # fresh interpreters: no forked torch/vLLM state
    with context.Manager() as manager:
        stages = manager.Queue()
        with ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=_worker_init,
                                 initargs=(stages,)) as pool:
            # the longest task first, so that the others fill the second worker meanwhile
            order = sorted(plan.tasks, key=lambda t: -(t.sft_steps + 4 * t.grpo_steps))
            futures = {t.task: pool.submit(_run_task_in_worker, plan, t, out, paths, seed) for t in order}
            running: list[str] = []
            while not all(f.done() for f in futures.values()) or not stages.empty():
                try:
                    name, sec = stages.get(timeout=0.5)
                except queue_module.Empty:  # nothing new yet: poll the futures again
                    name, sec = "", 0.0
                if not name:
                    continue
                running = [r for r in running if r != name] + ([name] if sec < 0 else [])
                if sec >= 0:
                    timings[name] = sec
                    bar.update(1)
                bar.set_postfix_str(" | ".join(running))
            return {task: futures[task].result() for task in (t.task for t in plan.tasks)}


def run_demo(out: Path, fast: bool = False, seed: int = 0, plan: DemoPlan | None = None, jobs: int = 1) -> Path:
    """Run the whole demo into `out`; returns the path of ``demo_summary.json``. `jobs`: tasks trained at once,
    each in its own process with one torch thread (1 = all in this process)."""
    _quiet()
    _pin_torch()
    plan = plan or (FAST if fast else FULL)
    out = Path(out).resolve()
    _prepare_out(out)
    started = time.perf_counter()
    timings: dict[str, float] = {}
    paths: dict[str, Path] = {}
    results: list[TaskResult] = []
    n_stages = 2 + 4 * len(plan.tasks)
    with PeakMemory() as memory, tqdm(total=n_stages, desc="vrft demo", unit="stage", dynamic_ncols=True) as bar:
        for name, fn in (("data", lambda: paths.update(zip(("train", "test"), _write_data(out, plan, seed),
                                                                strict=True))),
                         ("tiny model", lambda: paths.update(tiny=_build_model(out, plan, seed)))):
            bar.set_postfix_str(name)
            t0 = time.perf_counter()
            fn()
            timings[name] = round(time.perf_counter() - t0, 1)
            bar.update(1)
        done = _run_tasks(plan, out, paths, seed, jobs, bar, timings)
    for t in plan.tasks:
        models, runs = out / "models" / t.task, out / "runs" / t.task
        before, after = done[t.task]["baseline"], done[t.task]["visual_rft"]
        results.append(TaskResult(t.task, t.column, before.pop("metric"), after.pop("metric"),
                                  {"baseline": before, "visual_rft": after}, str(runs / "baseline"),
                                  str(runs / "visual_rft"), str(models / "sft"), str(models / "grpo"),
                                  _reward_curve(models / "grpo")))
    caption = (
        f"**vrft demo** ({'fast' if fast else 'full'}, seed {seed}): tiny random Qwen2-VL on synthetic few-shot "
        "tasks, scored on a held-out synthetic set (greedy, strict profile). Baseline = an SFT warm start "
        "that teaches the <think>...</think><answer>...</answer> format (on shuffled answers where marked: the "
        "format, not the task); + Visual-RFT = GRPO from it with the task verifiers as rewards. "
        "Demo hyperparameters (not the paper's): "
        + "; ".join(f"{t.task}: SFT {t.sft_steps} steps{' on shuffled answers' if t.sft_shuffled else ''}, "
                    f"GRPO {t.grpo_steps} steps, lr {t.grpo_lr:g}, "
                    f"G={t.num_generations}, {t.prompts_per_step} prompts/step, {t.max_completion_length} tokens"
                    for t in plan.tasks)
        + f"; SFT lr {plan.sft_learning_rate:g}, beta {plan.beta:g} (see train_plugin/demo/plan.py)."
    )
    training = {t.task: _training_data(t.task, out / "models" / t.task / "grpo", out / "runs" / t.task / "visual_rft")
                for t in plan.tasks}
    if note := eval_set_note(training):
        caption += f" {note}"
    tables = out / "tables.md"
    tables.write_text(render_table(results, caption), encoding="utf-8")
    curve = plot_rewards(results, out / "reward_curves.png")
    summary = {
        "seed": seed, "fast": fast, "plan": asdict(plan),
        "tasks": {r.task: {**asdict(r), "delta": r.delta} for r in results},
        "improved": [r.task for r in results if r.improved],
        "training_data": training,
        "timings_s": {**timings, "total": round(time.perf_counter() - started, 1)},
        "jobs": jobs,
        "peak_memory_mib": memory.mib,  # summed PSS of the demo's processes, sampled (train_plugin.demo.memory)
        "peak_rss_mb": {**peak_rss_mb(), "tasks": {task: d["peak_rss_mb"] for task, d in done.items()}},
        "paths": {"data_train": str(paths["train"]), "data_test": str(paths["test"]), "tiny_model": str(paths["tiny"]),
                  "models": str(out / "models"), "runs": str(out / "runs"), "tables": str(tables), "curve": str(curve)},
    }
    path = out / "demo_summary.json"
    path.write_text(json.dumps(summary, indent=1, default=str) + "\n", encoding="utf-8")
    return path


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``vrft demo`` on the `vrft` command's subparsers."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "demo", help="the paper's experiment in miniature: synthetic data, tiny model, GRPO, table (offline, CPU)",
        description="Synthetic few-shot tasks -> tiny offline Qwen2-VL -> SFT warm start -> held-out score -> GRPO "
        "with the task verifiers -> score again -> tables.md + reward curves. Wall time and memory on 2 CPU "
        "cores: the README's demo table (--fast: about a minute).",
    )
    p.add_argument("--out", default="results/demo", help="output folder (default results/demo)")
    p.add_argument("--fast", action="store_true", help="smoke version: few steps, tiny sets (CI)")
    p.add_argument("--seed", type=int, default=0, help="seed of data, model, training and sampling")
    p.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1),
                   help="tasks trained at once, one process and one torch thread each (default: 2 on a machine with "
                   "2 or more cores; the numbers do not depend on it, only the wall time and memory do)")
    p.set_defaults(func=_main)
    return p


def _main(args: argparse.Namespace) -> int:
    try:
        if args.jobs < 1:
            raise ValueError(f"vrft demo: --jobs {args.jobs}: expected 1 or more")
        path = run_demo(Path(args.out), fast=args.fast, seed=args.seed, jobs=args.jobs)
    except ValueError as err:
        print(err)
        return 2
    summary = json.loads(path.read_text(encoding="utf-8"))
    print(summary_text(summary, Path(summary["paths"]["tables"])))
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m train_plugin.demo.run")
    add_parser(parser.add_subparsers(dest="command")).prog = "vrft demo"
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    raise SystemExit(_main(parser.parse_args(["demo", *sys.argv[1:]])))
