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

    try:
        names = expand_task_names(args.task)
        tasks = [get_task(n, args.data_root, **_task_args(args.task_arg)) for n in names]
        gens = read_generations([Path(p) for p in args.generations])
        out = Path(args.out) if args.out else Path(args.generations[0]).parent
        score_cmd.run(tasks, gens, args.profile, out, allow_missing=args.allow_missing)
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
    p.add_argument("--task", required=True, help="task name(s) or group, comma separated (see `vrft tasks`)")
    p.add_argument("--data-root", required=True, help="folder holding the datasets (see README: data layout)")
    p.add_argument("--generations", required=True, nargs="+", help="generations JSONL file(s)")
    p.add_argument("--profile", default="strict", choices=["strict", "official"])
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
