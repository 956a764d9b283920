"""`vrft score`: compute a task's metrics from saved generations, with no model.

Writes ``metrics.json`` and ``scores.jsonl`` (per-request reward components and parse status) into the
output folder, atomically, and returns a `ScoreReport` (the metrics, the summary rows, the paths written);
printing is the CLI's job. Missing generations, unknown request ids and conflicting duplicates are
reported; missing ones are an error unless ``allow_missing`` (then they count as wrong answers, as the
official denominators do). A run directory is re-scored in another profile with the tasks that profile
implies (`harness.config.profile_task_args`), exactly as `vrft eval` would have built them.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tabulate import tabulate

from harness.config import profile_task_args
from harness.manifest import read_manifest
from harness.mask_records import read_run_masks
from harness.records import (
    RUN_GENERATIONS,
    Generations,
    atomic_write_json,
    atomic_write_jsonl,
    generation_lines,
    read_run_generations,
    write_error,
)
from tasks.base import Task
from tasks.grounding.masks import StoredMasks
from tasks.metrics.coco import OfficialEvaluatorError
from tasks.registry import get_task
from tasks.task_args import resolve_task_args
from tasks.uncertainty import task_uncertainty

DEFAULT_BOOTSTRAP = 1000
DEFAULT_BOOTSTRAP_SEED = 0
BOOTSTRAP_ENV = "VRFT_BOOTSTRAP"  # the default replicate count where --bootstrap is not given (tests: small)

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
    *(f"{m}_{s}" for m in ("gIoU", "cIoU", "gIoU_box", "cIoU_box") for s in ("val", "test")),  # LISA masks
)


class ScoreError(ValueError):
    pass


def bootstrap_replicates(n: int | None) -> int:
    """The bootstrap replicates to run: `n` if given, else ``$VRFT_BOOTSTRAP``, else 1000 (0 = off)."""
    if n is None:
        text = os.environ.get(BOOTSTRAP_ENV, "").strip()
        try:
            n = int(text) if text else DEFAULT_BOOTSTRAP
        except ValueError:
            raise ScoreError(f"${BOOTSTRAP_ENV}={text!r}: expected a number of replicates (0 = off)") from None
    if n < 0:
        raise ScoreError(f"--bootstrap {n}: expected a number of replicates >= 0 (0 = off)")
    return n


def uncertainty_entry(task: Task, result: Any, profile: str, n: int, seed: int) -> dict[str, Any]:
    """A task's ``"uncertainty"`` entry: the image-level bootstrap of its headline metrics
    (`tasks.uncertainty`), or, with ``n == 0`` or no statistic for the task, the settings and no metrics."""
    entry = task_uncertainty(task, result, profile, n_replicates=n, seed=seed) if n > 0 else None
    return entry or {"n_replicates": n, "seed": seed, "unit": "image", "metrics": {}}


PARSED = ("ok", "math_verify")
"""A score record's ``parse`` when the answer was read (``math_verify``: the official reward's shortcut)."""


def parse_warning(name: str, metrics: Mapping[str, Any]) -> str | None:
    """``"<task>: 0 of 192 answers parsed ..."`` when fewer than half the answers were read, else None."""
    answers, parsed = metrics.get("n_answers"), metrics.get("n_parsed")
    if not isinstance(answers, int) or not isinstance(parsed, int) or not answers or 2 * parsed >= answers:
        return None
    failures = metrics.get("parse_failures") or {}
    top = ", ".join(f"{k}: {v}" for k, v in sorted(failures.items(), key=lambda kv: -kv[1])[:3])
    errors = metrics.get("generation_errors") or 0
    why = "; ".join(x for x in (top and f"reasons {top}", errors and f"{errors} generation error(s)") if x)
    return f"{name}: {parsed} of {answers} answers parsed" + (f" ({why})" if why else "")


def coverage_row(name: str, metrics: Mapping[str, Any]) -> list[Any] | None:
    """The summary row of a protocol input's coverage: ``exist map  24/24 images, 30 requests``."""
    cov = metrics.get("exist_map_coverage")
    if not isinstance(cov, Mapping):
        return None
    value = f"{cov.get('images_in_map')}/{cov.get('images_in_task')} images, {metrics.get('n_requests')} requests"
    if cov.get("unknown_categories"):
        value += f", {len(cov['unknown_categories'])} unknown categories"
    return [name, "exist map coverage", value]


def summary_rows(name: str, metrics: Mapping[str, Any]) -> list[list[Any]]:
    rows = [[name, key, _fmt(metrics[key])] for key in HEADLINE if key in metrics]
    rows += [[name, key, _fmt(v)] for key, v in metrics.items() if key.startswith("AP/")]
    return rows


def _fmt(value: Any) -> str:
    return f"{value:.2f}" if isinstance(value, float) else "–" if value is None else str(value)


@dataclass(frozen=True, eq=False)
class ScoreReport(Mapping[str, dict[str, Any]]):
    """The result of scoring: task -> its ``metrics.json`` entry (the report reads as that mapping), the
    profile, and the two files written."""

    metrics: dict[str, dict[str, Any]]
    profile: str
    metrics_path: Path
    scores_path: Path

    def __getitem__(self, task: str) -> dict[str, Any]:
        return self.metrics[task]

    def __iter__(self) -> Iterator[str]:
        return iter(self.metrics)

    def __len__(self) -> int:
        return len(self.metrics)

    def rows(self) -> list[list[Any]]:
        """(task, metric, value) rows of the headline metrics, per-class APs and generation errors."""
        rows: list[list[Any]] = []
        for name, metrics in self.metrics.items():
            rows += summary_rows(name, metrics)
            if metrics.get("generation_errors"):
                rows.append([name, "generation errors", str(metrics["generation_errors"])])
            if (row := coverage_row(name, metrics)) is not None:
                rows.append(row)
        return rows

    def warnings(self) -> list[str]:
        """Lines the summary prints under the table: tasks where most answers were not parsed, and the
        tasks' own warnings about their inputs (an exist map's unknown category names)."""
        out: list[str] = []
        for name, metrics in self.metrics.items():
            if (line := parse_warning(name, metrics)) is not None:
                out.append(line)
            cov = metrics.get("exist_map_coverage")
            unknown = cov.get("unknown_categories") if isinstance(cov, Mapping) else None
            if cov and unknown:
                more = f" ... and {len(unknown) - 5} more" if len(unknown) > 5 else ""
                shown = ", ".join(map(str, unknown[:5])) + more
                out.append(f"{name}: exist map {cov['exist_map']} names categories the dataset lacks: {shown}")
        return out

    def table(self) -> str:
        """The summary rows as a markdown table headed by the profile."""
        headers = ["task", "metric", f"value ({self.profile})"]
        return tabulate(self.rows(), headers=headers, tablefmt="github", disable_numparse=True)


def run(
    tasks: Sequence[Task],
    gens: Generations,
    profile: str,
    out: Path,
    *,
    allow_missing: bool = False,
    sources: Sequence[Path] = (),
    bootstrap: int | None = None,
    bootstrap_seed: int = DEFAULT_BOOTSTRAP_SEED,
) -> ScoreReport:
    """Score every task from a generations file, write metrics.json / scores.jsonl into `out`. `sources`:
    the files `gens` was read from (errors about a request name its line). `bootstrap`, `bootstrap_seed`:
    as for `score_tasks`."""
    if gens.duplicates:
        raise ScoreError(
            f"{len(gens.duplicates)} request id(s) have conflicting generations: " + "; ".join(gens.duplicates[:5])
        )
    if gens.torn_last_line:
        log.warning("the last line of a generations file was incomplete (interrupted run?): ignored")
    texts = {t.name: gens.for_task(t.name) for t in tasks}
    return score_tasks(
        tasks,
        texts,
        {},
        profile,
        out,
        allow_missing=allow_missing,
        sources=sources,
        bootstrap=bootstrap,
        bootstrap_seed=bootstrap_seed,
    )


def score_tasks(
    tasks: Sequence[Task],
    texts: Mapping[str, Mapping[str, str]],
    errors: Mapping[str, Mapping[str, str]],
    profile: str,
    out: Path,
    *,
    allow_missing: bool = False,
    suffix: str = "",
    sources: Sequence[Path] = (),
    bootstrap: int | None = None,
    bootstrap_seed: int = DEFAULT_BOOTSTRAP_SEED,
) -> ScoreReport:
    """Score each task; requests whose generation failed (`errors`) count as wrong answers and are
    counted; requests with no line at all are an error unless `allow_missing`. `sources`: the generations
    files, so that an error about a request can name its line. ``scores.jsonl`` is written before
    ``metrics.json`` (and an older ``metrics.json`` removed first): ``metrics.json`` exists only when the
    scoring stage completed. Each task's entry carries ``"uncertainty"``: `bootstrap` image-level bootstrap
    replicates (default: `bootstrap_replicates`; 0 = off) with seed `bootstrap_seed`, recorded there."""
    n_boot = bootstrap_replicates(bootstrap)
    all_metrics: dict[str, dict[str, Any]] = {}
    all_samples: list[dict[str, Any]] = []
    for task in tasks:
        failed = errors.get(task.name, {})
        try:
            result = task.score(texts.get(task.name, {}), profile)  # type: ignore[arg-type]
        except OfficialEvaluatorError as err:
            raise OfficialEvaluatorError(f"{err}{_lines_of(err, task.name, sources)}") from err
        issued = result.metrics.get("n_requests", len(result.samples) + len(result.missing))
        if not issued:
            raise ScoreError(
                f"{task.name}: the task issued no requests (arguments {dict(task.args)}): there is nothing to "
                "score, and a table of zeros would read as a model that found nothing; check the protocol input "
                "(e.g. the exist map) and the data root"
            )
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
            n_answers=len(result.samples) + len(failed),  # answers scored, plus generations that failed
            n_parsed=sum(1 for smp in result.samples if smp.get("parse") in PARSED),
        )
        if (warning := parse_warning(task.name, metrics)) is not None:
            log.warning("%s", warning)
        metrics["uncertainty"] = uncertainty_entry(task, result, str(profile), n_boot, bootstrap_seed)
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
    metrics_path, scores_path = out / f"metrics{suffix}.json", out / f"scores{suffix}.jsonl"
    try:
        metrics_path.unlink(missing_ok=True)  # a kill below must not leave old metrics beside new scores
    except OSError as err:
        raise write_error(metrics_path, err) from err
    atomic_write_jsonl(scores_path, all_samples)
    atomic_write_json(metrics_path, all_metrics)  # last: its presence means the stage completed
    log.info("wrote %s and %s", metrics_path, scores_path)
    return ScoreReport(all_metrics, str(profile), metrics_path, scores_path)


_REQUEST_IN_ERROR = re.compile(r"request (\S+) \(Confidence")


def _lines_of(err: Exception, task: str, sources: Sequence[Path]) -> str:
    """Where the requests an official-evaluator error names were generated: `` (generations: FILE:LINE, ...)``."""
    named = _REQUEST_IN_ERROR.findall(str(err))
    found = generation_lines(sources, task, named) if named and sources else {}
    if not found:
        return ""
    return " (generations: " + ", ".join(f"{rid} at {where}" for rid, where in found.items()) + ")"


def _pixels_to_norm1000(
    tasks: Sequence[Task], texts: dict[str, dict[str, str]], policy: Mapping[str, int]
) -> dict[str, dict[str, str]]:
    """Convert pixel answers of the resized images to the paper's 0–1000 space (harness.coords). An answer
    whose image size is unknown (an unreadable image: the request failed) is left as it is."""
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
            if rid in requests and requests[rid].image.width > 0 and requests[rid].image.height > 0
            else text
            for rid, text in given.items()
        }
    return out


def _suffix(manifest: Mapping[str, Any], profile: str) -> str:
    """A run's own profile writes metrics.json / scores.jsonl; another profile adds ``.<profile>``."""
    return "" if profile == manifest.get("profile", "strict") else f".{profile}"


def run_manifest(run_dir: Path) -> dict[str, Any]:
    manifest = read_manifest(run_dir)
    if manifest is None:
        raise ScoreError(f"{run_dir} is not a run directory (no manifest.json)")
    identity = manifest["identity"]
    if not isinstance(identity.get("data_root"), str) or not all(
        isinstance(t.get("version"), str) for t in manifest["tasks"]
    ):
        raise ScoreError(
            f"{run_dir / 'manifest.json'} lacks the data root or the task versions; restore it from a copy, "
            "or start again in a new --run-dir"
        )
    return manifest


def score_run(
    run_dir: Path,
    profile: str | None = None,
    *,
    allow_missing: bool = False,
    out: Path | None = None,
    bootstrap: int | None = None,
    bootstrap_seed: int = DEFAULT_BOOTSTRAP_SEED,
) -> ScoreReport:
    """Re-score a run directory from its files alone (all shards merged), in `profile` (default: the run's
    own). The tasks are rebuilt with the arguments `profile` implies (official: the official prompts, as
    ``vrft eval --profile official`` renders them); request ids do not depend on the profile. The image
    sizes the run recorded stand in for images that are gone. `out`: write the scores there instead of
    into the run directory (a read-only run). `bootstrap`, `bootstrap_seed`: as for `score_tasks` (the
    intervals are recomputed from the stored generations: the same seed gives the same intervals)."""
    manifest = run_manifest(run_dir)
    profile = profile or manifest.get("profile", "strict")
    tasks, texts, errors = run_inputs(run_dir, manifest, profile)
    suffix = _suffix(manifest, profile)
    sources = sorted(run_dir.glob(RUN_GENERATIONS))
    return score_tasks(
        tasks,
        texts,
        errors,
        profile,
        out or run_dir,
        allow_missing=allow_missing,
        suffix=suffix,
        sources=sources,
        bootstrap=bootstrap,
        bootstrap_seed=bootstrap_seed,
    )


def run_inputs(
    run_dir: Path, manifest: Mapping[str, Any], profile: str
) -> tuple[list[Task], dict[str, dict[str, str]], dict[str, dict[str, str]]]:
    """A run's tasks rebuilt for `profile`, its generations (task -> request id -> text) and failed ones."""
    identity = manifest["identity"]
    task_args = profile_task_args(profile, identity.get("task_args", {}))
    root = identity["data_root"]
    tasks = [get_task(t["name"], root, **resolve_task_args(t["name"], task_args)) for t in manifest["tasks"]]
    for t, entry in zip(tasks, manifest["tasks"], strict=True):
        if t.version != entry["version"]:
            log.warning(
                "%s: run generated with task version %s, scoring with version %s", t.name, entry["version"], t.version
            )
    sizes: dict[str, dict[str, tuple[int, int]]] = {}
    texts, errors = read_run_generations(run_dir, sizes)
    for t in tasks:  # tasks that read image sizes from the images take the recorded ones where those are gone
        use_sizes = getattr(t, "use_image_sizes", None)
        if use_sizes is not None and sizes.get(t.name):
            use_sizes(sizes[t.name])
    masks = read_run_masks(run_dir)  # SAM masks (masks.jsonl, `harness.mask_stage`): grounding's gIoU / cIoU
    for t in tasks:
        use_masks = getattr(t, "use_masks", None)
        if use_masks is not None:
            use_masks(None if masks is None else masks.get(t.name, StoredMasks()))
    if identity.get("coords", "norm1000") == "pixels":
        texts = _pixels_to_norm1000(tasks, texts, manifest["image_policy"])
    return tasks, texts, errors


def ensure_scored(run_dir: Path, profile: str) -> ScoreReport | None:
    """Score `run_dir` in `profile` (missing requests count as wrong) unless it has been scored in that
    profile already; returns the new report, or None when there was nothing to do."""
    if (run_dir / f"metrics{_suffix(run_manifest(run_dir), profile)}.json").is_file():
        return None
    return score_run(run_dir, profile, allow_missing=True)
