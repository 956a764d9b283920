"""`vrft tables`: argument parsing and printing for the paper tables with run rows, and for ``--compare``
(the logic: `harness.tables`, and `harness.score_cmd` for the paired bootstrap)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from harness.cli_eval import DefaultsFormatter, add_bootstrap_flags, print_report


def _tables(args: argparse.Namespace) -> int:
    from harness.records import atomic_write_text

    try:
        text = _compare(args) if args.compare else _render(args)
    except (ValueError, FileNotFoundError, TypeError) as err:
        print(f"vrft tables: {err}", file=sys.stderr)
        return 2
    if args.out:
        atomic_write_text(Path(args.out), text)
        print(f"wrote {args.out}")
    else:
        print(text)
    return 0


def _paper_dir(args: argparse.Namespace) -> Path:
    if args.paper:
        return Path(args.paper)
    from harness.tables.paper import shipped_paper_dir

    return shipped_paper_dir()


def _render(args: argparse.Namespace) -> str:
    """Tables 2-6 with one row per readable run of ``--runs``, or per seed group with ``--aggregate-seeds`` (and
    the figures, one bar per run, with ``--figures``)."""
    from harness.tables.export import export_tables
    from harness.tables.runs import find_run_dirs, load_run
    from harness.tables.seeds import group_seeds

    paper = _paper_dir(args)
    runs = []
    for d in find_run_dirs(expand_run_paths(args.runs)):
        try:
            runs.append(load_run(d))
        except (FileNotFoundError, ValueError, TypeError, KeyError) as err:
            print(f"vrft tables: ignored run {d}: {err}", file=sys.stderr)
    text = export_tables(paper, group_seeds(runs) if args.aggregate_seeds else runs, args.format, ci=args.ci)
    if args.figures:
        from harness.tables.figures import plot_family

        plot_family(paper, runs, Path(args.figures))
    return text


def _compare(args: argparse.Namespace) -> str:
    """``--compare A B`` (per-metric B-A) or ``--compare RUN`` (strict vs official on its generations), with the
    paired bootstrap's interval and p unless ``--bootstrap 0``."""
    from harness.paired import paired_intervals
    from harness.score_cmd import bootstrap_replicates
    from harness.tables import render_compare
    from harness.tables.runs import load_run

    if len(args.compare) > 2:
        raise ValueError(
            f"--compare takes one run (strict vs official) or two (A, B); {len(args.compare) - 2} more "
            f"given ({', '.join(args.compare[2:])}): compare them pairwise"
        )
    if args.format != "md":
        raise ValueError(f"--compare writes markdown only; drop --format {args.format}")
    if args.aggregate_seeds:
        raise ValueError("--aggregate-seeds groups the rows of the tables; --compare takes single runs: drop it")
    n_boot = bootstrap_replicates(args.bootstrap)
    if len(args.compare) == 1:  # one run: official vs strict on the same generations
        from harness.score_cmd import ensure_scored

        run = Path(args.compare[0])
        for profile in ("strict", "official"):
            if (report := ensure_scored(run, profile)) is not None:
                print_report(report)
        paired = (
            paired_intervals(run, run, "strict", "official", bootstrap=n_boot, bootstrap_seed=args.bootstrap_seed)
            if n_boot
            else None
        )
        return render_compare(load_run(run, "strict"), load_run(run, "official"), paired=paired)
    a, b = (load_run(Path(p)) for p in args.compare)
    text = render_compare(a, b, allow_different_samples=args.allow_different_samples)  # refusal first
    if n_boot:
        run_a, run_b = (Path(p) for p in args.compare)
        paired = paired_intervals(run_a, run_b, bootstrap=n_boot, bootstrap_seed=args.bootstrap_seed)
        text = render_compare(a, b, allow_different_samples=args.allow_different_samples, paired=paired)
    return text


def expand_run_paths(patterns: Sequence[str]) -> list[Path]:
    """``--runs`` items: paths, or globs (``*``, ``?``, ``[``) expanded in sorted order; a glob that
    matches nothing is an error naming it."""
    import glob

    out: list[Path] = []
    for pattern in patterns:
        if glob.has_magic(pattern):
            matches = sorted(glob.glob(pattern))
            if not matches:
                raise ValueError(f"--runs {pattern!r}: no path matches")
            out += [Path(m) for m in matches]
        else:
            out.append(Path(pattern))
    return out


def add_tables_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "tables",
        formatter_class=DefaultsFormatter,
        help="the paper's Tables 2-6 as markdown, with your runs as extra rows",
        description="Render Tables 2-6 in the paper's layout from results/paper, plus one row per run directory.",
    )
    p.add_argument(
        "--runs",
        nargs="*",
        default=["results/runs"],
        help="run directories, folders of them, or globs ('results/runs/qwen*'); unscored runs are named on "
        "stderr and left out",
    )
    p.add_argument("--paper", help="the paper's numbers (default: the copy shipped with vrft, = results/paper)")
    p.add_argument(
        "--format",
        choices=["md", "csv", "json", "latex"],
        default="md",
        help="output format (latex: booktabs tabulars for a paper)",
    )
    p.add_argument("--out", help="write the tables here (default: print to stdout)")
    p.add_argument("--figures", help="also write bar charts (paper vs runs) into this folder")
    p.add_argument(
        "--compare",
        nargs="+",
        metavar="RUN",
        help="two runs: per-metric A, B, B-A (refused when they cover different requests); one run: strict vs "
        "official profile on the same generations",
    )
    p.add_argument(
        "--allow-different-samples",
        action="store_true",
        help="--compare runs over different request sets anyway (e.g. --limit 4 vs a full run), saying so",
    )
    p.add_argument(
        "--ci",
        nargs="?",
        const="pm",
        choices=["pm", "interval"],
        help="run rows with their 95%% bootstrap interval from metrics.json: '40.6 ± 1.2' (pm, half the "
        "interval's width; the default when --ci has no value) or '40.6 [39.4, 41.8]' (interval); paper rows "
        "unchanged",
    )
    p.add_argument(
        "--aggregate-seeds",
        action="store_true",
        help="runs that differ only in the training seed (recorded by vrft eval from the checkpoint's "
        "train_manifest.json) as one row 'mean ± sd (n seeds)' (sample sd), each seed's row below it ('↳ seed "
        "S: ...'); runs without a recorded seed stay single rows",
    )
    add_bootstrap_flags(p)
    p.set_defaults(func=_tables)
