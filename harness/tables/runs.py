"""Run directories -> `RunResult`s for the tables (model label, task version, protocol, profile).

A run directory of `vrft eval` holds ``manifest.json`` and ``metrics.json`` (plus
``metrics.<profile>.json`` after re-scoring in the other profile). Only numeric metric values are kept
(``AP/<class>``, ``mAP``, ``accuracy``, ``mIoU_val`` …); counters and lists are dropped.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from harness.tables.render import RunResult, Seeded, Subset


def find_run_dirs(paths: Iterable[Path]) -> list[Path]:
    """Every run directory under the given paths (a path may itself be a run directory), sorted."""
    found: set[Path] = set()
    for p in paths:
        if (p / "manifest.json").is_file():
            found.add(p)
        elif p.is_dir():
            found.update(m.parent for m in p.glob("*/manifest.json"))
    return sorted(found)


COUNTERS = {
    "n",
    "missing",
    "generation_errors",
    "official_error_count",
    "errors",
    "malformed_items",
    "degenerate_boxes",
}


def numeric_metrics(raw: dict[str, Any]) -> dict[str, dict[str, float]]:
    """task -> metric -> value, without the counters (``n_*`` and friends) that are not scores."""
    out: dict[str, dict[str, float]] = {}
    for task, values in raw.items():
        if isinstance(values, dict):
            out[task] = {
                k: float(v)
                for k, v in values.items()
                if isinstance(v, int | float)
                and not isinstance(v, bool)
                and k not in COUNTERS
                and not k.startswith("n_")
            }
    return out


def load_run(run_dir: Path, profile: str | None = None) -> RunResult:
    """The run's metrics in `profile` (default: the run's own). Raises FileNotFoundError with the path
    when the run was not scored in that profile (``vrft score RUN_DIR --profile P`` makes it)."""
    manifest = json.loads((run_dir / "manifest.json").read_text())
    own = manifest.get("profile", "strict")
    profile = profile or own
    path = run_dir / ("metrics.json" if profile == own else f"metrics.{profile}.json")
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: score the run first (vrft score {run_dir} --profile {profile})")
    tasks = manifest.get("tasks", [])
    versions = sorted({str(t.get("version", "?")) for t in tasks})
    protocols = sorted({str(t.get("args", {}).get("protocol")) for t in tasks if t.get("args", {}).get("protocol")})
    model = Path(str(manifest.get("model", {}).get("path", run_dir.name)).rstrip("/")).name
    step = manifest.get("train_step")
    step = int(step) if isinstance(step, int) else None
    raw = json.loads(path.read_text())
    result = RunResult.from_metrics(
        model=model,
        task_version="/".join(versions) or "?",
        protocol="/".join(protocols) or "default",
        profile=profile,
        metrics=numeric_metrics(raw),
        step=step,
    )
    return replace(
        result,
        subsets=task_subsets(tasks),
        request_sets=_request_sets(tasks),
        source=str(run_dir),
        train_overlap=task_train_overlap(tasks),
        intervals=metric_intervals(raw),
        seeded=run_seed(manifest, profile, step),
    )


def run_seed(manifest: dict[str, Any], profile: str, step: int | None) -> Seeded | None:
    """The run's training seed (the manifest's ``training``, from the checkpoint's train_manifest.json) and its
    seed group: a hash of the training configuration without the seed, the evaluation identity without the
    model path, each task's name, version and request set, the scoring `profile` and the training `step`; None
    when no seed is recorded (such a run is never grouped)."""
    training = manifest.get("training")
    if not isinstance(training, dict):
        return None
    seed, config = training.get("seed"), training.get("config")
    if isinstance(seed, bool) or not isinstance(seed, int) or not isinstance(config, str):
        return None
    identity = {k: v for k, v in manifest.get("identity", {}).items() if k != "model"}
    tasks = sorted(
        (str(t.get("name")), str(t.get("version")), str(t.get("request_set")))
        for t in manifest.get("tasks", [])
        if isinstance(t, dict)
    )
    key = json.dumps([config, identity, tasks, profile, step], sort_keys=True, default=str)
    name = " ".join(str(training[k]) for k in ("method", "recipe") if training.get(k))
    return Seeded(seed, hashlib.sha256(key.encode()).hexdigest()[:16], name)


def metric_intervals(raw: dict[str, Any]) -> dict[str, dict[str, tuple[float, float]]]:
    """task -> metric -> (low, high) of the 95 % bootstrap interval in ``metrics.json`` (``uncertainty``;
    metrics without a defined interval are left out)."""
    out: dict[str, dict[str, tuple[float, float]]] = {}
    for task, values in raw.items():
        unc = values.get("uncertainty") if isinstance(values, dict) else None
        metrics = unc.get("metrics") if isinstance(unc, dict) else None
        if not isinstance(metrics, dict):
            continue
        out[task] = {
            key: (float(iv["low"]), float(iv["high"]))
            for key, iv in metrics.items()
            if isinstance(iv, dict) and all(isinstance(iv.get(k), int | float) for k in ("low", "high"))
        }
    return out


def task_train_overlap(tasks: list[dict[str, Any]]) -> dict[str, int]:
    """task -> how many of its evaluated images the model was trained on, where that is > 0 (``train_overlap``,
    recorded by `vrft eval` from the checkpoint's train_manifest.json)."""
    counts = {str(t.get("name")): t.get("train_overlap") for t in tasks}
    return {name: n for name, n in counts.items() if isinstance(n, int) and not isinstance(n, bool) and n > 0}


def task_subsets(tasks: list[dict[str, Any]]) -> dict[str, Subset]:
    """task -> (images evaluated, images of the whole task or None) for every task run with a ``limit``
    (manifests written before image counts were recorded give (limit, None))."""
    out: dict[str, Subset] = {}
    for t in tasks:
        limit = t.get("args", {}).get("limit")
        n, total = t.get("n_images"), t.get("n_images_total")
        if limit is None and (n is None or total is None or n == total):
            continue
        out[str(t.get("name"))] = Subset(int(n if n is not None else limit), int(total) if total is not None else None)
    return out


def _request_sets(tasks: list[dict[str, Any]]) -> dict[str, str]:
    return {str(t["name"]): str(t["request_set"]) for t in tasks if "name" in t and "request_set" in t}
