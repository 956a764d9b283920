"""`vrft score`: compute a task's metrics from saved generations, with no model.

Writes ``metrics.json`` and ``scores.jsonl`` (per-request reward components and parse status) into the
output folder, atomically, and prints a summary. Missing generations, unknown request ids and
conflicting duplicates are reported; missing ones are an error unless ``allow_missing`` (then they
count as wrong answers, as the official denominators do).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tabulate import tabulate

from harness.records import Generations, atomic_write_json, atomic_write_jsonl
from tasks.base import Task, TaskScore

log = logging.getLogger("vrft.score")

HEADLINE = (
    "accuracy",
    "accuracy_strict",
    "accuracy_official",
    "mAP",
    "AP50",
    "mAPn",
    "mAPb",
    "mAPall",
    "mIoU_val",
    "mIoU_test",
)


class ScoreError(ValueError):
    pass


def score_task(task: Task, generations: Mapping[str, str], profile: str, *, allow_missing: bool = False) -> TaskScore:
    result = task.score(generations, profile)  # type: ignore[arg-type]
    if result.missing and not allow_missing:
        shown = ", ".join(result.missing[:10]) + (" ..." if len(result.missing) > 10 else "")
        raise ScoreError(
            f"{task.name}: {len(result.missing)} request(s) have no generation ({shown}); "
            "generate them (rerun the eval) or pass --allow-missing to count them as wrong"
        )
    return result


def summary_rows(name: str, metrics: Mapping[str, Any]) -> list[list[Any]]:
    rows = [[name, key, _fmt(metrics[key])] for key in HEADLINE if key in metrics]
    rows += [[name, key, _fmt(v)] for key, v in metrics.items() if key.startswith("AP/")]
    return rows


def _fmt(value: Any) -> str:
    return f"{value:.2f}" if isinstance(value, float) else "–" if value is None else str(value)


def run(
    tasks: Sequence[Task], gens: Generations, profile: str, out: Path, *, allow_missing: bool = False
) -> dict[str, Any]:
    """Score every task from a generations file, write metrics.json / scores.jsonl into `out`."""
    if gens.duplicates:
        raise ScoreError(
            f"{len(gens.duplicates)} request id(s) have conflicting generations: " + "; ".join(gens.duplicates[:5])
        )
    if gens.torn_last_line:
        log.warning("the last line of a generations file was incomplete (interrupted run?): ignored")
    texts = {t.name: gens.for_task(t.name) for t in tasks}
    return score_tasks(tasks, texts, {}, profile, out, allow_missing=allow_missing)


def score_tasks(
    tasks: Sequence[Task],
    texts: Mapping[str, Mapping[str, str]],
    errors: Mapping[str, Mapping[str, str]],
    profile: str,
    out: Path,
    *,
    allow_missing: bool = False,
    suffix: str = "",
) -> dict[str, Any]:
    """Score each task; requests whose generation failed (`errors`) count as wrong answers and are
    counted; requests with no line at all are an error unless `allow_missing`."""
    all_metrics: dict[str, Any] = {}
    all_samples: list[dict[str, Any]] = []
    rows: list[list[Any]] = []
    for task in tasks:
        failed = errors.get(task.name, {})
        result = task.score(texts.get(task.name, {}), profile)  # type: ignore[arg-type]
        absent = [rid for rid in result.missing if rid not in failed]
        if absent and not allow_missing:
            shown = ", ".join(absent[:10]) + (" ..." if len(absent) > 10 else "")
            raise ScoreError(
                f"{task.name}: {len(absent)} request(s) have no generation ({shown}); "
                "generate them (rerun the same eval command, or the missing shards) or pass --allow-missing "
                "to count them as wrong"
            )
        metrics = dict(result.metrics)
        metrics.update(
            task=task.name,
            version=task.version,
            args=dict(task.args),
            profile=profile,
            missing=len(absent),
            generation_errors=len(failed),
            unknown_ids=result.unknown[:100],
            n_unknown=len(result.unknown),
        )
        if failed:
            reasons = sorted(set(failed.values()))
            log.warning("%s: %d request(s) failed to generate (e.g. %s)", task.name, len(failed), reasons[0])
        if result.unknown:
            log.warning(
                "%s: %d generation(s) match no request (e.g. %s)", task.name, len(result.unknown), result.unknown[0]
            )
        all_metrics[task.name] = metrics
        all_samples += [{"task": task.name, **smp} for smp in result.samples]
        all_samples += [
            {"task": task.name, "request_id": rid, "parse": "generation_error", "error": err}
            for rid, err in sorted(failed.items())
        ]
        rows += summary_rows(task.name, metrics)
        if failed:
            rows.append([task.name, "generation errors", str(len(failed))])
    metrics_path, scores_path = out / f"metrics{suffix}.json", out / f"scores{suffix}.jsonl"
    atomic_write_json(metrics_path, all_metrics)
    atomic_write_jsonl(scores_path, all_samples)
    print(tabulate(rows, headers=["task", "metric", f"value ({profile})"], tablefmt="github", disable_numparse=True))
    print(f"\nwrote {metrics_path} and {scores_path}")
    return all_metrics


def _pixels_to_norm1000(
    tasks: Sequence[Task], texts: dict[str, dict[str, str]], policy: Mapping[str, int]
) -> dict[str, dict[str, str]]:
    """Convert pixel answers of the resized images to the paper's 0–1000 space (harness.coords)."""
    from harness.coords import pixels_to_norm1000

    out: dict[str, dict[str, str]] = {}
    for task in tasks:
        given = texts.get(task.name, {})
        requests = {r.request_id: r for r in task.requests()}
        requests.update({r.request_id: r for r in task.followup_requests(given)})
        out[task.name] = {
            rid: pixels_to_norm1000(
                text, requests[rid].image.width, requests[rid].image.height, policy["min_pixels"], policy["max_pixels"]
            )
            if rid in requests
            else text
            for rid, text in given.items()
        }
    return out


def score_run(run_dir: Path, profile: str | None = None, *, allow_missing: bool = False) -> dict[str, Any]:
    """Re-score a run directory from its files alone (all shards merged)."""
    import json

    from harness.runner import read_run_generations
    from tasks.registry import get_task

    manifest_path = run_dir / "manifest.json"
    if not manifest_path.is_file():
        raise ScoreError(f"{run_dir} is not a run directory (no manifest.json)")
    manifest = json.loads(manifest_path.read_text())
    identity = manifest["identity"]
    tasks = [
        get_task(t["name"], identity["data_root"], **dict(identity.get("task_args", {}))) for t in manifest["tasks"]
    ]
    for t, entry in zip(tasks, manifest["tasks"], strict=True):
        if t.version != entry["version"]:
            log.warning(
                "%s: run generated with task version %s, scoring with version %s", t.name, entry["version"], t.version
            )
    texts, errors = read_run_generations(run_dir)
    if identity.get("coords", "norm1000") == "pixels":
        texts = _pixels_to_norm1000(tasks, texts, manifest["image_policy"])
    run_profile = manifest.get("profile", "strict")
    profile = profile or run_profile
    suffix = "" if profile == run_profile else f".{profile}"
    return score_tasks(tasks, texts, errors, profile, run_dir, allow_missing=allow_missing, suffix=suffix)
