"""Provenance: what produced a result. One module for the eval run manifest and the training manifest.

* `package_versions`: installed versions of the packages that decide the numbers;
* `model_fingerprint`: a cheap content hash of a local checkpoint directory (a file: its whole content);
* `git_commit`: the commit of the vrft checkout (``+dirty`` with uncommitted changes);
* `train_step`: where a checkpoint sits along training (tables and curves place runs by it);
* `environment`: packages, Python, platform and git commit together, as both manifests record them;
* `image_fingerprint` / `shared_images`: which evaluation images are byte for byte training images, and
  `training_images`: the training images a checkpoint's ``train_manifest.json`` records (its whole chain of
  starting checkpoints), so that an evaluation on them is labelled.

Pure standard library: importing it imports nothing else of vrft, so backends, the runner and the
training plugin can all use it.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import platform
import re
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger("vrft.eval")
TRAIN_MANIFEST = "train_manifest.json"  # written by `vrft train` next to the checkpoint


def package_versions(*names: str) -> dict[str, str]:
    """Installed versions of `names` (``missing`` when absent), for the run manifest."""
    out: dict[str, str] = {}
    for n in names:
        try:
            out[n] = importlib.metadata.version(n)
        except importlib.metadata.PackageNotFoundError:
            out[n] = "missing"
    return out


def model_fingerprint(model: str | Path) -> str | None:
    """sha256 over the names, sizes and config/tokenizer contents of a local model directory.

    Weights are identified by name and size plus their safetensors header (first 1 MiB), which is
    cheap for multi-GB checkpoints and still changes when the weights are re-saved. A local file (the
    replay backend's generations JSONL) is hashed whole, so an edited file is a different model. None for
    a model that is neither (e.g. a served model name).
    """
    root = Path(model)
    if root.is_file():
        h = hashlib.sha256()
        with root.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        return h.hexdigest()
    if not root.is_dir():
        return None
    h = hashlib.sha256()
    for f in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = f.relative_to(root).as_posix()
        size = f.stat().st_size
        h.update(f"{rel}\0{size}\0".encode())
        with f.open("rb") as fh:
            h.update(fh.read(1 << 20))
    return h.hexdigest()


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


def checkout_root() -> Path | None:
    """The git checkout vrft runs from (the folder holding this package and ``.git``), None when installed.

    An installed vrft inside some other repository (a virtualenv in a project folder) is not a checkout."""
    root = Path(__file__).resolve().parent.parent
    return root if (root / ".git").exists() and (root / "pyproject.toml").is_file() else None


def vrft_version() -> str:
    """``0.1.0`` for an installed vrft; ``0.1.0 (git <commit>[+dirty])`` when run from a checkout."""
    try:
        version = importlib.metadata.version("vrft")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown (not installed)"
    root = checkout_root()
    commit = git_commit(root) if root is not None else None
    return f"{version} (git {commit})" if commit else version


def train_step(model: str) -> int | None:
    """The training step of a checkpoint directory (``trainer_state.json`` or ``checkpoint-N``), so that
    tables and curves can place a run along training (paper Figure 7)."""
    root = Path(model)
    state = root / "trainer_state.json"
    if state.is_file():
        try:
            step = json.loads(state.read_text()).get("global_step")
            if isinstance(step, int):
                return step
        except (OSError, ValueError) as err:  # a damaged state file only loses the step, never the run
            log.warning("%s: unreadable (%s); training step unknown", state, err)
    m = re.fullmatch(r"checkpoint-(\d+)", root.name)
    return int(m.group(1)) if m else None


def environment(*packages: str) -> dict[str, Any]:
    """The manifest entries about the machine: versions of `packages`, Python, platform, git commit."""
    return {
        "packages": package_versions(*packages),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "git_commit": git_commit(),
    }


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def image_fingerprint(path: str | Path) -> dict[str, Any]:
    """``{"path", "bytes", "sha256"}`` of an image file: what `shared_images` compares (the bytes, so a copy
    of an evaluation image under another path or data root is still the same image)."""
    p = Path(path)
    return {"path": str(p), "bytes": p.stat().st_size, "sha256": _sha256(p)}


def shared_images(train: Iterable[Mapping[str, Any]], eval_paths: Iterable[str | Path]) -> list[str]:
    """The evaluation images (sorted paths) whose bytes equal those of a training image (`image_fingerprint`
    records). Cheap for thousands of evaluation images: a stat each, and a hash only where the size matches a
    training image's. An evaluation image that cannot be read is skipped."""
    by_size: dict[int, set[str]] = {}
    for t in train:
        by_size.setdefault(int(t["bytes"]), set()).add(str(t["sha256"]))
    out: list[str] = []
    for p in sorted({str(p) for p in eval_paths}):
        try:
            hashes = by_size.get(Path(p).stat().st_size)
            if hashes and _sha256(Path(p)) in hashes:
                out.append(p)
        except OSError as err:  # a missing evaluation image is the evaluation's problem, reported there
            log.debug("%s: not compared with the training images (%s)", p, err)
    return out


@dataclass(frozen=True)
class TrainingImages:
    """The training images of a checkpoint: `manifests` read (the checkpoint's, then those of the checkpoints it
    started from), `images` their `image_fingerprint` records, None when a manifest records none (a published
    training set, or a manifest older than the records): then overlaps are unknown."""

    manifests: tuple[str, ...]
    images: tuple[Mapping[str, Any], ...] | None

    def overlap(self, eval_paths: Iterable[str | Path]) -> int | None:
        """How many of `eval_paths` are training images (None = unknown)."""
        return None if self.images is None else len(shared_images(self.images, eval_paths))


def _train_manifest_of(model: Path) -> Path | None:
    for folder in (model, model.parent) if re.fullmatch(r"checkpoint-\d+", model.name) else (model,):
        if (folder / TRAIN_MANIFEST).is_file():
            return folder / TRAIN_MANIFEST
    return None


def _read_json(path: Path, unknown: str) -> Any:
    """The JSON in `path`, or None with a warning saying what stays `unknown` (a damaged manifest loses that
    fact, never the evaluation)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        log.warning("%s: unreadable (%s); %s unknown", path, err, unknown)
        return None


def _read_train_manifest(path: Path) -> tuple[list[Mapping[str, Any]] | None, str | None]:
    """(the image records, the model the run started from) of a ``train_manifest.json``."""
    record = _read_json(path, "the checkpoint's training images are")
    data = record.get("data") if isinstance(record, dict) else None
    run = record.get("run") if isinstance(record, dict) else None
    recorded = data.get("images") if isinstance(data, dict) else None
    start = run.get("model") if isinstance(run, dict) else None
    ok = isinstance(recorded, list) and all(isinstance(r, dict) and {"bytes", "sha256"} <= r.keys() for r in recorded)
    return (recorded if ok else None), (start if isinstance(start, str) else None)


def training_images(model: str | Path, depth: int = 8) -> TrainingImages | None:
    """What `vrft train` recorded about the images `model` was trained on, following ``run.model`` to the
    checkpoints it started from (an SFT warm start, then GRPO); None when `model` has no ``train_manifest.json``
    (``checkpoint-N`` folders: their run's). An unreadable manifest gives unknown images, with a warning."""
    manifests: list[str] = []
    images: list[Mapping[str, Any]] | None = []
    current: Path | None = Path(model)
    while current is not None and current.is_dir() and len(manifests) < depth:
        path = _train_manifest_of(current)
        if path is None or str(path) in manifests:
            break
        manifests.append(str(path))
        recorded, start = _read_train_manifest(path)
        if images is not None and recorded is not None:
            images.extend(recorded)
        else:
            images = None
        current = Path(start) if start else None
    if not manifests:
        return None
    return TrainingImages(tuple(manifests), None if images is None else tuple(images))


# What a train_manifest.json holds besides the training configuration: outcomes, the machine, and the sample
# the seed drew (``data``: where it was drawn from is in ``recipe`` and ``run``).
_NOT_CONFIG = frozenset(
    {
        "format_version",
        "written",
        "train_metrics",
        "log_history",
        "wall_seconds",
        "data",
        "packages",
        "python",
        "platform",
        "git_commit",
    }
)
_PER_SEED = frozenset({"seed", "data_seed", "output_dir"})  # in ``run`` / ``trainer_args``: differ between seeds


def _config_hash(record: Mapping[str, Any], depth: int = 8) -> str:
    """A hash of a train manifest's configuration without what differs between seeds. A starting model that
    is itself a `vrft train` checkpoint (the demo's SFT warm start, one per seed) enters by its own
    configuration hash, not its path, so seed siblings of a two-stage recipe still share a hash."""
    config = {
        k: {n: x for n, x in v.items() if n not in _PER_SEED}
        if k in ("run", "trainer_args") and isinstance(v, dict)
        else v
        for k, v in record.items()
        if k not in _NOT_CONFIG
    }
    start = config.get("run", {}).get("model") if isinstance(config.get("run"), dict) else None
    if isinstance(start, str) and depth > 0 and Path(start).is_dir():
        path = _train_manifest_of(Path(start))
        parent = _read_json(path, "the starting checkpoint's configuration is") if path is not None else None
        if isinstance(parent, dict):
            config["run"] = {**config["run"], "model": {"trained": _config_hash(parent, depth - 1)}}
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:16]


def training_seed(model: str | Path) -> dict[str, Any] | None:
    """The training seed of a checkpoint and what its seed siblings share, from its ``train_manifest.json``:
    ``{"seed", "config", "recipe", "method", "manifest"}``, ``config`` a hash of the training configuration
    without the seed and the output folder (recipe, starting model (a trained one by its own configuration), data
    source, trainer arguments, rewards),
    so that `vrft tables --aggregate-seeds` can tell runs that differ only in the seed. None when `model` has
    no train manifest, or one without a seed."""
    root = Path(model)
    path = _train_manifest_of(root) if root.is_dir() else None
    record = _read_json(path, "the training seed is") if path is not None else None
    run = record.get("run") if isinstance(record, dict) else None
    seed = run.get("seed") if isinstance(run, dict) else None
    if not isinstance(record, dict) or isinstance(seed, bool) or not isinstance(seed, int):
        return None
    recipe = record.get("recipe")
    return {
        "seed": seed,
        "config": _config_hash(record),
        "recipe": recipe.get("name") if isinstance(recipe, dict) else None,
        "method": record.get("method"),
        "manifest": str(path),
    }
