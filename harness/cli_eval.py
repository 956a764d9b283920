"""`vrft eval` and `vrft score`: argument parsing and printing for the commands that make and score run
directories (the logic: `harness.eval_cmd`, `harness.score_cmd`)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.config_file import add_config_flag

if TYPE_CHECKING:
    from harness.score_cmd import ScoreReport


def task_args(pairs: Sequence[str], limit: int | None = None) -> dict[str, str | int]:
    """``--task-arg [SCOPE:]KEY=VALUE`` items (SCOPE: a task, group or family) and ``--limit N``."""
    from tasks.task_args import parse_task_arg

    out: dict[str, str | int] = {}
    for pair in pairs:
        try:
            key, value = parse_task_arg(pair)
        except ValueError as err:
            raise SystemExit(f"vrft: {err}") from None
        out[key] = value
    if limit is not None:
        if "limit" in out and str(out["limit"]) != str(limit):
            raise SystemExit(f"vrft: --limit {limit} and --task-arg limit={out['limit']} disagree: give one")
        out["limit"] = limit
    return out


def typed_value(text: str) -> Any:
    """A ``--model-arg`` value: JSON where it parses (``true``, ``8``, ``0.5``, ``{"image": 2}``, ``null``),
    else the string itself (``bfloat16``, ``flash_attention_2``)."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def model_args(pairs: Sequence[str]) -> dict[str, Any]:
    """``--model-arg KEY=VALUE`` items, typed (`typed_value`)."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key.isidentifier():
            raise SystemExit(
                f"vrft: --model-arg {pair!r}: expected KEY=VALUE, e.g. dtype=bfloat16, max_num_seqs=64, "
                "trust_remote_code=true"
            )
        out[key] = typed_value(value.strip())
    return out


class DefaultsFormatter(argparse.HelpFormatter):
    """``--help`` with each option's default, where it has one (not None / empty / off) and its help does
    not state it already."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if default in (None, [], False, argparse.SUPPRESS) or "default" in text or not action.option_strings:
            return text
        shown = " ".join(map(str, default)) if isinstance(default, list) else "%(default)s"
        return f"{text} (default: {shown})" if text else f"default: {shown}"


def int_at_least(minimum: int, expected: str) -> Callable[[str], int]:
    """An argparse type: an integer >= `minimum`; `expected` says so in the error (``a positive integer``)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{text!r}: expected {expected}")
        return value

    return parse


positive_int = int_at_least(1, "a positive integer (>= 1)")
non_negative_int = int_at_least(0, "an integer >= 0")


def add_bootstrap_flags(p: argparse.ArgumentParser) -> None:
    """``--bootstrap N`` / ``--bootstrap-seed S``: the image-level bootstrap intervals in metrics.json."""
    p.add_argument(
        "--bootstrap",
        type=non_negative_int,
        metavar="N",
        help="image-level bootstrap replicates for the 95%% intervals (metrics.json; --compare: of B-A); 0 = off "
        "(default: 1000, or $VRFT_BOOTSTRAP)",
    )
    p.add_argument("--bootstrap-seed", type=int, default=0, metavar="S", help="seed of the bootstrap draws (recorded)")


def add_sam_flags(p: argparse.ArgumentParser) -> None:
    """``--sam [MODEL]`` / ``--sam-batch-size N``: the mask stage of the grounding task (`harness.mask_stage`)."""
    from harness.mask_stage import DEFAULT_BATCH
    from harness.sam import DEFAULT_SAM

    p.add_argument(
        "--sam",
        nargs="?",
        const=DEFAULT_SAM,
        metavar="MODEL",
        help="lisa_grounding: prompt SAM with each predicted box and score the masks (gIoU/cIoU, paper Table 5) "
        f"into RUN_DIR/masks.jsonl, resumably; MODEL: a SamModel directory or hub id (default: {DEFAULT_SAM}); "
        "GPU when there is one",
    )
    p.add_argument(
        "--sam-batch-size", type=positive_int, default=DEFAULT_BATCH, metavar="N", help="images per SAM encoder call"
    )


def print_masks(report: Any, run_dir: Path) -> None:
    """One line about the mask stage (`harness.mask_stage.MaskReport`)."""
    rate = f" ({report.masks_per_s:.2f} masks/s)" if report.masks_per_s else ""
    failed = f", {report.errors} failed (image unreadable: scored as empty masks)" if report.errors else ""
    print(f"masks: {report.made} made{rate}, {report.present} already there{failed} -> {run_dir / 'masks.jsonl'}")


def one_line(err: Exception) -> str:
    """An error as one line: an OS error as ``PATH: cause`` (a missing replay file, an unreadable folder)."""
    if isinstance(err, OSError) and err.filename is not None and err.strerror:
        return f"{err.filename}: {err.strerror}"
    return " ".join(str(err).split("\n"))


def print_report(report: ScoreReport) -> None:
    print(report.table())
    for line in report.warnings():  # most answers unparsed, a protocol input that matches the data badly
        print(f"warning: {line}")
    print(f"\nwrote {report.metrics_path} and {report.scores_path}")


def _score(args: argparse.Namespace) -> int:
    from harness import score_cmd
    from harness.config import profile_task_args
    from harness.records import GenerationsError, read_generations
    from tasks.data import DataError, allow_outside_data_root
    from tasks.registry import expand_task_names
    from tasks.task_args import build_tasks

    if args.allow_outside_data_root:
        allow_outside_data_root()
    if args.sam and not args.run_dir:  # `vrft score --sam RUN_DIR` reads RUN_DIR as the SAM model
        print("vrft score: --sam makes the masks of a run directory: vrft score RUN_DIR --sam [MODEL]", file=sys.stderr)
        return 2
    if args.run_dir:
        out = Path(args.out) if args.out else None  # a read-only run is scored into another folder
        try:
            if args.sam:
                from harness.mask_stage import make_masks

                run = Path(args.run_dir)
                print_masks(make_masks(run, args.sam, batch_size=args.sam_batch_size), run)
            print_report(
                score_cmd.score_run(
                    Path(args.run_dir),
                    args.profile,
                    allow_missing=args.allow_missing,
                    out=out,
                    bootstrap=args.bootstrap,
                    bootstrap_seed=args.bootstrap_seed,
                )
            )
        except (ValueError, DataError, OSError) as err:
            print(f"vrft score: {one_line(err)}", file=sys.stderr)
            return 2
        return 0
    if not (args.task and args.data_root and args.generations):
        print("vrft score: give a RUN_DIR, or --task, --data-root and --generations", file=sys.stderr)
        return 2
    try:
        names = expand_task_names(args.task)
        targs = profile_task_args(args.profile or "strict", task_args(args.task_arg, args.limit))
        tasks = build_tasks(names, args.data_root, targs)
        gens = read_generations([Path(p) for p in args.generations])
        out = Path(args.out) if args.out else Path(args.generations[0]).parent
        sources = [Path(p) for p in args.generations]
        report = score_cmd.run(
            tasks,
            gens,
            args.profile or "strict",
            out,
            allow_missing=args.allow_missing,
            sources=sources,
            bootstrap=args.bootstrap,
            bootstrap_seed=args.bootstrap_seed,
        )
    except (ValueError, DataError, GenerationsError, OSError) as err:
        print(f"vrft score: {one_line(err)}", file=sys.stderr)
        return 2
    print_report(report)
    return 0


def _eval(args: argparse.Namespace) -> int:
    from harness import eval_cmd
    from harness.backends import GenerationParams
    from harness.config import Shard
    from harness.score_cmd import ScoreError
    from tasks.data import DataError, allow_outside_data_root

    if args.allow_outside_data_root:
        allow_outside_data_root()
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
        config = eval_cmd.make_config(
            model=args.model,
            tasks=args.tasks,
            data_root=args.data_root,
            backend=args.backend,
            profile=args.profile,
            task_args=task_args(args.task_arg, args.limit),
            backend_opts=backend_opts,
            params=params,
            batch_size=args.batch_size,
            coords=args.coords,
            model_args=model_args(args.model_arg),
        )
        shard = Shard.parse(args.shard)
        run_dir = eval_cmd.run_dir_for(config, args.run_dir, args.runs_root)
        print(f"run directory: {run_dir}")
        try:
            outcome = eval_cmd.evaluate(
                config,
                run_dir,
                shard,
                use_cache=not args.no_cache,
                bootstrap=args.bootstrap,
                bootstrap_seed=args.bootstrap_seed,
                sam=args.sam,
                sam_batch_size=args.sam_batch_size,
            )
        finally:
            _write_config(args, run_dir)
    except (ValueError, DataError, ScoreError, OSError) as err:
        print(f"vrft eval: {one_line(err)}", file=sys.stderr)
        return 2
    if outcome.report is None:
        sam = f" --sam {args.sam}" if args.sam else ""
        print(f"shard {shard.index}/{shard.count} generated; when every shard is done: vrft score {run_dir}{sam}")
    else:
        if outcome.masks is not None:
            print_masks(outcome.masks, run_dir)
        print_report(outcome.report)
    return 0


def _write_config(args: argparse.Namespace, run_dir: Path) -> None:
    """``RUN_DIR/config.yaml``: the command's resolved options, so ``vrft eval --config RUN_DIR/config.yaml``
    repeats the run (written once the run directory holds a manifest)."""
    from harness.config_file import dump_config, resolved_config
    from harness.records import atomic_write_text

    if (run_dir / "manifest.json").is_file():
        header = "# vrft eval --config THIS_FILE repeats this run (flags given on the command line override it)\n"
        atomic_write_text(run_dir / "config.yaml", header + dump_config(resolved_config(args.eval_parser, args)))


def add_outside_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--allow-outside-data-root",
        action="store_true",
        help="accept image paths in the annotations that lead outside the data root (absolute, or with '..')",
    )


def add_eval_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "eval",
        formatter_class=DefaultsFormatter,
        help="score a checkpoint on the paper benchmarks (vLLM by default); resumable run directory",
        description=(
            "Generate answers for every request of the tasks with a backend, then score them. Everything goes "
            "into a run directory (manifest.json, generations.jsonl, scores.jsonl, metrics.json). Rerunning the "
            "same command resumes: only missing generations are produced."
        ),
    )
    add_config_flag(p)
    p.add_argument(
        "--model",
        required=True,
        help="checkpoint directory or hub id (served model name for openai; a generations JSONL for replay)",
    )
    p.add_argument("--tasks", required=True, help="comma-separated task names or groups: paper, fgvc, detection")
    p.add_argument("--data-root", required=True, help="folder holding the datasets (see README: data layout)")
    add_outside_flag(p)
    p.add_argument(
        "--backend",
        default="vllm",
        choices=["vllm", "hf", "openai", "replay"],
        help="vllm (engine), hf (transformers), openai (a served model), replay (a generations JSONL)",
    )
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
        metavar="[SCOPE:]KEY=VALUE",
        help="task argument (repeatable): unscoped it goes to every task that accepts it (an error if none "
        "does); SCOPE (a task, group or family) narrows it, e.g. protocol=oracle, coco_ov:split=ovr48_17, "
        "detection:protocol=oracle, fgvc:prompt=official",
    )
    p.add_argument(
        "--limit",
        type=positive_int,
        metavar="N",
        help="evaluate only the first N images of each task (deterministic; results are labelled as a subset)",
    )
    p.add_argument(
        "--model-arg",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="model / engine argument for the vllm or hf backend (repeatable; VALUE typed as JSON where it "
        "parses), e.g. dtype=bfloat16, max_num_seqs=64, enable_prefix_caching=true, quantization=fp8, "
        "revision=main, trust_remote_code=true, attn_implementation=sdpa (hf); recorded in the manifest "
        "and the config hash",
    )
    p.add_argument("--run-dir", help="run directory (default: RUNS_ROOT/<model>-<config hash>)")
    p.add_argument("--runs-root", default="results/runs", help="where default run directories go")
    p.add_argument("--shard", help="I/N: generate only shard I of N (merge with `vrft score RUN_DIR`)")
    p.add_argument(
        "--no-cache",
        action="store_true",
        help="generate every request again instead of taking answers from the generation cache "
        "($VRFT_CACHE_DIR, default ~/.cache/vrft/generations) shared by all runs of the same model and settings",
    )
    p.add_argument("--batch-size", type=int, default=64, help="requests per backend call (and per flush)")
    p.add_argument("--temperature", type=float, default=0.0, help="0 = greedy (default)")
    p.add_argument("--top-p", type=float, default=1.0, help="nucleus sampling")
    p.add_argument("--top-k", type=int, default=-1, help="-1 = off")
    p.add_argument("--seed", type=int, default=0, help="sampling seed (per request)")
    p.add_argument("--min-pixels", type=int, default=3136, help="image policy (default: the official eval's)")
    p.add_argument("--max-pixels", type=int, default=12845056, help="image policy (default: the official eval's)")
    p.add_argument(
        "--coords",
        choices=["norm1000", "pixels"],
        help="the model's box coordinates: norm1000 (0-1000, Qwen2-VL and the paper) or pixels of the "
        "resized image (Qwen2.5-VL); default from the checkpoint's config.json (model_type, architectures), "
        "else its name; the reason is recorded in the manifest",
    )
    add_bootstrap_flags(p)
    add_sam_flags(p)
    g = p.add_argument_group("vllm backend")
    g.add_argument("--tensor-parallel-size", type=int, default=1, help="GPUs per model replica")
    g.add_argument("--data-parallel-size", type=int, default=1, help="model replicas")
    g.add_argument("--max-model-len", type=int, default=4096, help="context length (tokens)")
    g.add_argument("--gpu-memory-utilization", type=float, help="fraction of GPU memory (of host RAM on CPU)")
    g = p.add_argument_group("hf backend")
    g.add_argument("--per-sample", action="store_true", help="batch size 1, the official scripts' style")
    g = p.add_argument_group("openai backend")
    g.add_argument("--base-url", default="http://127.0.0.1:8000/v1", help="the server's API root")
    g.add_argument("--concurrency", type=int, default=8, help="requests in flight")
    p.set_defaults(func=_eval, eval_parser=p)


def add_score_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "score",
        formatter_class=DefaultsFormatter,
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
    add_outside_flag(p)
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
        metavar="[SCOPE:]KEY=VALUE",
        help="task argument as for vrft eval, e.g. protocol=oracle, coco_ov:split=ovr48_17",
    )
    p.add_argument(
        "--limit", type=positive_int, metavar="N", help="only the first N images of each task (default: all)"
    )
    p.add_argument(
        "--out",
        help="output folder (default: the run directory, or the first generations file's folder); "
        "scores a read-only run into another folder",
    )
    p.add_argument("--allow-missing", action="store_true", help="count requests without a generation as wrong")
    add_bootstrap_flags(p)
    add_sam_flags(p)
    p.set_defaults(func=_score)
