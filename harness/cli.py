"""The `vrft` command: argument parsing only; each subcommand's logic lives in its own module."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path


def _reward(args: argparse.Namespace) -> int:
    from harness import reward_cmd

    options: dict[str, object] = {}
    if args.profile == "official":
        options["math_verify"] = {"auto": None, "on": True, "off": False}[args.math_verify]
    elif args.iou_denominator != "max":
        options["iou_denominator"] = args.iou_denominator
    if args.input == "-":
        return reward_cmd.run(sys.stdin, sys.stdout, args.kind, args.profile, **options)
    path = Path(args.input)
    if not path.is_file():
        print(f"vrft reward: input file not found: {path}", file=sys.stderr)
        return 2
    with path.open(encoding="utf-8") as source:
        return reward_cmd.run(source, sys.stdout, args.kind, args.profile, **options)


def _task_args(pairs: Sequence[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"vrft: --task-arg {pair!r}: expected KEY=VALUE (e.g. protocol=oracle, limit=50)")
        out[key.strip().replace("-", "_")] = value
    return out


def _tasks(args: argparse.Namespace) -> int:
    from tabulate import tabulate

    from tasks.registry import GROUPS, TASKS

    rows = [[t.name, t.kind.value, t.paper, t.metric, t.version, t.description] for t in TASKS.values()]
    print(tabulate(rows, headers=["task", "family", "paper", "metric", "version", "data"], tablefmt="github"))
    print("\ngroups: " + "; ".join(f"{g} = {','.join(names)}" for g, names in GROUPS.items()))
    return 0


def _score(args: argparse.Namespace) -> int:
    from harness import score_cmd
    from harness.records import GenerationsError, read_generations
    from tasks.data import DataError
    from tasks.registry import expand_task_names, get_task

    if args.run_dir:
        try:
            score_cmd.score_run(Path(args.run_dir), args.profile, allow_missing=args.allow_missing)
        except (ValueError, DataError) as err:
            print(f"vrft score: {err}", file=sys.stderr)
            return 2
        return 0
    if not (args.task and args.data_root and args.generations):
        print("vrft score: give a RUN_DIR, or --task, --data-root and --generations", file=sys.stderr)
        return 2
    try:
        names = expand_task_names(args.task)
        tasks = [get_task(n, args.data_root, **_task_args(args.task_arg)) for n in names]
        gens = read_generations([Path(p) for p in args.generations])
        out = Path(args.out) if args.out else Path(args.generations[0]).parent
        score_cmd.run(tasks, gens, args.profile or "strict", out, allow_missing=args.allow_missing)
    except (ValueError, DataError, GenerationsError) as err:
        print(f"vrft score: {err}", file=sys.stderr)
        return 2
    return 0


def _data(args: argparse.Namespace) -> int:
    if args.data_command == "synth":
        from tasks.synthetic import write_synthetic

        written = write_synthetic(Path(args.out), seed=args.seed)
        for name, path in written.items():
            print(f"{name:<18} {path}")
        return 0
    from tasks.data.layout import check_layout, format_problems
    from tasks.registry import expand_task_names

    try:
        names = expand_task_names(args.tasks)
    except ValueError as err:
        print(f"vrft data check: {err}", file=sys.stderr)
        return 2
    problems = check_layout(Path(args.data_root), names)
    if problems:
        print(format_problems(problems, args.data_root))
        return 1
    print(f"data root {args.data_root}: everything needed by {', '.join(names)} is in place")
    return 0


def _eval(args: argparse.Namespace) -> int:
    from harness.backends import GenerationParams
    from harness.runner import EvalConfig, Shard, run_eval
    from harness.score_cmd import ScoreError, score_run
    from tasks.data import DataError

    task_args = _task_args(args.task_arg)
    if args.profile == "official":
        task_args.setdefault("prompt", "official")  # the official eval's prompt quirks (README)
    backend_opts: dict[str, object] = {}
    if args.backend == "vllm":
        backend_opts.update(
            tensor_parallel_size=args.tensor_parallel_size,
            data_parallel_size=args.data_parallel_size,
            max_model_len=args.max_model_len,
        )
        if args.gpu_memory_utilization is not None:
            backend_opts["gpu_memory_utilization"] = args.gpu_memory_utilization
    elif args.backend == "hf":
        backend_opts.update(batch_size=args.batch_size, per_sample=args.per_sample)
    elif args.backend == "openai":
        backend_opts.update(base_url=args.base_url, concurrency=args.concurrency)
    try:
        params = GenerationParams(
            temperature=args.temperature,
            top_p=args.top_p,
            top_k=args.top_k,
            seed=args.seed,
            min_pixels=args.min_pixels,
            max_pixels=args.max_pixels,
        )
        coords = args.coords or ("pixels" if "qwen2.5" in args.model.lower() else "norm1000")
        config = EvalConfig(
            model=args.model,
            tasks=tuple(args.tasks.split(",")),
            data_root=args.data_root,
            backend=args.backend,
            profile=args.profile,
            task_args=task_args,
            backend_opts=backend_opts,
            params=params,
            batch_size=args.batch_size,
            coords=coords,
        )
        shard = Shard.parse(args.shard)
        run_dir = Path(args.run_dir) if args.run_dir else Path(args.runs_root) / config.run_id()
        print(f"run directory: {run_dir}")
        run_eval(config, run_dir, shard)
        if shard.count > 1:
            print(f"shard {shard.index}/{shard.count} generated; when every shard is done: vrft score {run_dir}")
            return 0
        score_run(run_dir, allow_missing=False)
    except (ValueError, DataError, ScoreError) as err:
        print(f"vrft eval: {err}", file=sys.stderr)
        return 2
    return 0


def _viz(args: argparse.Namespace) -> int:
    from harness.viz import render_report

    try:
        path = render_report(Path(args.run_dir), Path(args.out) if args.out else None, args.task, args.limit)
    except (ValueError, FileNotFoundError) as err:
        print(f"vrft viz: {err}", file=sys.stderr)
        return 2
    print(f"report written to {path}")
    return 0


def _tables(args: argparse.Namespace) -> int:
    from harness.records import atomic_write_text
    from harness.tables import render_compare, render_tables
    from harness.tables.runs import find_run_dirs, load_run

    paper = Path(args.paper)
    try:
        if args.compare:
            if len(args.compare) == 1:  # one run: official vs strict on the same generations
                from harness.score_cmd import score_run

                run = Path(args.compare[0])
                runs = []
                for profile in ("strict", "official"):
                    try:
                        runs.append(load_run(run, profile))
                    except FileNotFoundError:
                        score_run(run, profile, allow_missing=True)
                        runs.append(load_run(run, profile))
                text = render_compare(runs[0], runs[1])
            else:
                text = render_compare(load_run(Path(args.compare[0])), load_run(Path(args.compare[1])))
        else:
            run_dirs = find_run_dirs(Path(p) for p in args.runs)
            text = render_tables(paper, [load_run(d) for d in run_dirs])
            if args.figures:
                from harness.tables.figures import plot_family

                plot_family(paper, [load_run(d) for d in run_dirs], Path(args.figures))
    except (ValueError, FileNotFoundError, TypeError) as err:
        print(f"vrft tables: {err}", file=sys.stderr)
        return 2
    if args.out:
        atomic_write_text(Path(args.out), text)
        print(f"wrote {args.out}")
    else:
        print(text)
    return 0


def _tiny(args: argparse.Namespace) -> int:
    from harness.tiny import build_tiny_qwen2vl

    path = build_tiny_qwen2vl(Path(args.out), seed=args.seed)
    print(f"tiny Qwen2-VL written to {path}")
    return 0


def _add_eval_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "eval",
        help="score a checkpoint on the paper benchmarks (vLLM by default); resumable run directory",
        description=(
            "Generate answers for every request of the tasks with a backend, then score them. Everything goes "
            "into a run directory (manifest.json, generations.jsonl, scores.jsonl, metrics.json). Rerunning the "
            "same command resumes: only missing generations are produced."
        ),
    )
    p.add_argument(
        "--model",
        required=True,
        help="checkpoint directory or hub id (served model name for openai; a generations JSONL for replay)",
    )
    p.add_argument("--tasks", required=True, help="comma-separated task names or groups: paper, fgvc, detection")
    p.add_argument("--data-root", required=True, help="folder holding the datasets (see README: data layout)")
    p.add_argument("--backend", default="vllm", choices=["vllm", "hf", "openai", "replay"])
    p.add_argument(
        "--profile",
        default="strict",
        choices=["strict", "official"],
        help="strict: train-identical prompts, fixed metrics; official: the official eval quirks",
    )
    p.add_argument(
        "--task-arg",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="task argument for every task, e.g. protocol=oracle, limit=100, split=ovr48_17",
    )
    p.add_argument("--run-dir", help="run directory (default: RUNS_ROOT/<model>-<config hash>)")
    p.add_argument("--runs-root", default="results/runs")
    p.add_argument("--shard", help="I/N: generate only shard I of N (merge with `vrft score RUN_DIR`)")
    p.add_argument("--batch-size", type=int, default=64, help="requests per backend call (and per flush)")
    p.add_argument("--temperature", type=float, default=0.0, help="0 = greedy (default)")
    p.add_argument("--top-p", type=float, default=1.0)
    p.add_argument("--top-k", type=int, default=-1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--min-pixels", type=int, default=3136, help="image policy (default: the official eval's)")
    p.add_argument("--max-pixels", type=int, default=12845056, help="image policy (default: the official eval's)")
    p.add_argument(
        "--coords",
        choices=["norm1000", "pixels"],
        help="the model's box coordinates: norm1000 (0-1000, Qwen2-VL and the paper) or pixels of the "
        "resized image (Qwen2.5-VL); default by model family",
    )
    g = p.add_argument_group("vllm backend")
    g.add_argument("--tensor-parallel-size", type=int, default=1)
    g.add_argument("--data-parallel-size", type=int, default=1)
    g.add_argument("--max-model-len", type=int, default=4096)
    g.add_argument("--gpu-memory-utilization", type=float, help="fraction of GPU memory (of host RAM on CPU)")
    g = p.add_argument_group("hf backend")
    g.add_argument("--per-sample", action="store_true", help="batch size 1, the official scripts' style")
    g = p.add_argument_group("openai backend")
    g.add_argument("--base-url", default="http://127.0.0.1:8000/v1")
    g.add_argument("--concurrency", type=int, default=8)
    p.set_defaults(func=_eval)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vrft",
        description="Visual-RFT benchmarks: score checkpoints, regenerate the paper's tables, train with GRPO.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "reward",
        help="score completions against solutions with a task verifier",
        description=(
            'Read JSONL lines {"completion": ..., "solution": ...} (solution in the paper\'s training '
            "format, e.g. <answer>[{'Position': [x1, y1, x2, y2], 'Confidence': 1}]</answer>) and write "
            "one JSON object per line with each reward component and 'total'. A bad line is reported "
            "with its line number and does not stop the others (exit status 1 if any failed)."
        ),
    )
    p.add_argument("input", nargs="?", default="-", help="JSONL file (default: standard input)")
    p.add_argument("--kind", required=True, choices=["detection", "classification", "grounding"])
    p.add_argument(
        "--profile",
        default="strict",
        choices=["strict", "official"],
        help="strict (default): defects fixed; official: the official Visual-RFT code, quirks included",
    )
    p.add_argument(
        "--math-verify",
        default="auto",
        choices=["auto", "on", "off"],
        help="official profile: the math_verify short-circuit (auto = when the package is installed)",
    )
    p.add_argument(
        "--iou-denominator",
        default="max",
        choices=["max", "pred"],
        help="strict detection: divide the matched IoU sum by max(n_gt, n_pred) or by n_pred (paper)",
    )
    p.set_defaults(func=_reward)

    _add_eval_parser(sub)
    from harness.demo import add_parser as add_demo_parser

    add_demo_parser(sub)
    # `vrft train` lives in the train plugin (which imports harness, never the reverse); the CLI is the one
    # place that offers it, and only when the plugin is installed.
    try:
        from train_plugin.cli import add_parser as add_train_parser
    except ImportError as err:  # pragma: no cover - the plugin ships with vrft
        logging.getLogger("vrft").debug("vrft train unavailable: %s", err)
    else:
        add_train_parser(sub)

    p = sub.add_parser("viz", help="HTML report of a run: images with GT vs predicted boxes, reasoning, rewards")
    p.add_argument("run_dir")
    p.add_argument("--task", help="only this task")
    p.add_argument("--limit", type=int, default=50, help="samples per task (default 50)")
    p.add_argument("--out", help="output HTML file (default RUN_DIR/report.html)")
    p.set_defaults(func=_viz)

    p = sub.add_parser(
        "tables",
        help="the paper's Tables 2-6 as markdown, with your runs as extra rows",
        description="Render Tables 2-6 in the paper's layout from results/paper, plus one row per run directory.",
    )
    p.add_argument("--runs", nargs="*", default=["results/runs"], help="run directories or folders of them")
    p.add_argument("--paper", default="results/paper", help="the paper's numbers (default results/paper)")
    p.add_argument("--out", help="write the markdown here (default: print)")
    p.add_argument("--figures", help="also write bar charts (paper vs runs) into this folder")
    p.add_argument(
        "--compare",
        nargs="+",
        metavar="RUN",
        help="two runs: per-metric A, B, B-A; one run: strict vs official profile on the same generations",
    )
    p.set_defaults(func=_tables)

    p = sub.add_parser("tiny", help="build a tiny random Qwen2-VL offline (tests, demo)")
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_tiny)

    p = sub.add_parser("tasks", help="list the benchmarks (family, metric, paper table, version)")
    p.set_defaults(func=_tasks)

    p = sub.add_parser(
        "score",
        help="compute a task's metrics from saved generations (no model)",
        description=(
            'Score saved generations: JSONL lines {"request_id": ..., "text": ...} (optionally "task"). '
            "Request ids: classification = the image path as in the split file; detection = "
            "'<image_id>:<category_id>' (two-stage adds 'exist/<image_id>:<category_id>'); grounding = "
            "'<split>/<name>'. Several files (shards) are merged. Writes metrics.json and scores.jsonl."
        ),
    )
    p.add_argument("run_dir", nargs="?", help="re-score a run directory of `vrft eval` (all shards merged)")
    p.add_argument("--task", help="task name(s) or group, comma separated (see `vrft tasks`)")
    p.add_argument("--data-root", help="folder holding the datasets (see README: data layout)")
    p.add_argument("--generations", nargs="+", help="generations JSONL file(s)")
    p.add_argument(
        "--profile",
        choices=["strict", "official"],
        help="scoring profile (default: strict, or the run's own profile for a RUN_DIR)",
    )
    p.add_argument(
        "--task-arg",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="task argument, e.g. protocol=oracle, prompt=official, limit=100, split=ovr48_17",
    )
    p.add_argument("--out", help="output folder (default: the first generations file's folder)")
    p.add_argument("--allow-missing", action="store_true", help="count requests without a generation as wrong")
    p.set_defaults(func=_score)

    p = sub.add_parser("data", help="synthetic datasets and data-layout checks")
    dsub = p.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    d = dsub.add_parser("synth", help="write small deterministic datasets in the real formats")
    d.add_argument("--out", required=True, help="data root to write")
    d.add_argument("--seed", type=int, default=0)
    d = dsub.add_parser("check", help="validate a real data layout; say what is missing and where to get it")
    d.add_argument("--data-root", required=True)
    d.add_argument("--tasks", default="paper", help="task names or groups (default: paper = all)")
    p.set_defaults(func=_data)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(message)s")
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
