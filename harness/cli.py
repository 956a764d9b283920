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
