"""What a `vrft eval` run is: `EvalConfig` (model, tasks, backend, profile, generation settings) and `Shard`.

Both are frozen and validated at construction: an error names the field, the value and the fix. The
config's `identity` is what a resumed run must share with the run it continues (everything but the batch
size); its hash names the default run directory.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from harness.backends import GenerationParams
from harness.coords import COORDS
from harness.provenance import model_fingerprint
from tasks.registry import expand_task_names
from tasks.spec import Profile
from tasks.task_args import check_task_args

PROFILES = tuple(p.value for p in Profile)


def profile_task_args(profile: str, task_args: Mapping[str, Any]) -> dict[str, Any]:
    """The task arguments a scoring profile implies: the ``official`` profile renders the official eval's
    prompts (``prompt=official``, README: the official eval's quirks) unless a prompt is given. `vrft eval`
    and `vrft score RUN_DIR --profile official` both build their tasks through this, so a re-scored run reads
    the same targets and prompts as a run evaluated in that profile."""
    out = dict(task_args)
    if profile == Profile.OFFICIAL:
        out.setdefault("prompt", "official")
    return out


PIXEL_MODEL_TYPES = ("qwen2_5_vl", "qwen3_vl")
"""``config.json`` model types whose boxes are pixels of the resized image (Qwen2.5-VL and later)."""


def default_coords(model: str) -> str:
    """The box convention of a model family: ``pixels`` for Qwen2.5-VL, ``norm1000`` (the paper's) otherwise."""
    return coords_for(model)[0]


def coords_for(model: str) -> tuple[str, str]:
    """(box convention, why): from the checkpoint's ``config.json`` (``model_type``, ``architectures``) when
    the model is a local directory, else from its name (``qwen2.5`` -> pixels); ``norm1000`` otherwise."""
    config = Path(model) / "config.json"
    if config.is_file():
        try:
            body = json.loads(config.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            body = {}
            reason = f"config.json unreadable ({err}); "
        else:
            model_type = str(body.get("model_type", ""))
            archs = [str(a) for a in body.get("architectures") or []]
            if model_type in PIXEL_MODEL_TYPES or any(a.startswith(("Qwen2_5_VL", "Qwen3VL")) for a in archs):
                return "pixels", f"config.json: model_type={model_type!r}, architectures={archs} (Qwen2.5-VL family)"
            if model_type or archs:
                return "norm1000", f"config.json: model_type={model_type!r}, architectures={archs}"
            reason = "config.json names no model_type; "
    else:
        reason = ""
    if "qwen2.5" in model.lower() or "qwen2_5" in model.lower():
        return "pixels", reason + "model name contains qwen2.5"
    return "norm1000", reason + "default (the paper's 0-1000 convention)"


@dataclass(frozen=True)
class Shard:
    """Shard `index` of `count`: a deterministic share of the requests (``--shard I/N``)."""

    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        for name in ("index", "count"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"Shard.{name}={value!r}: expected an integer (--shard I/N, e.g. 0/4)")
        if not 0 <= self.index < self.count:
            raise ValueError(f"Shard {self.index}/{self.count}: expected 0 <= index < count (--shard I/N, e.g. 0/4)")

    @classmethod
    def parse(cls, text: str | None) -> Shard:
        if not text:
            return cls()
        m = re.fullmatch(r"(\d+)/(\d+)", text.strip())
        if m is None or not 0 <= int(m.group(1)) < int(m.group(2)):
            raise ValueError(f"--shard {text!r}: expected I/N with 0 <= I < N, e.g. 0/4")
        return cls(int(m.group(1)), int(m.group(2)))

    def owns(self, task: str, request_id: str) -> bool:
        """Deterministic split by a hash of the (image, category) key, so that both stages of a
        two-stage pair land in the same shard."""
        if self.count == 1:
            return True
        key = f"{task}/{request_id.removeprefix('exist/')}".encode()
        return int.from_bytes(hashlib.sha1(key, usedforsecurity=False).digest()[:8], "big") % self.count == self.index

    @property
    def filename(self) -> str:
        return "generations.jsonl" if self.count == 1 else f"generations.shard-{self.index}-of-{self.count}.jsonl"


@dataclass(frozen=True)
class EvalConfig:
    """One evaluation: `model` (checkpoint, served name, or a generations JSONL for ``replay``) on `tasks`
    (names or groups) from `data_root`, through `backend` (a `harness.backends` name, or the label of a
    backend object handed to `run_eval`), scored in `profile`. `task_args` (``key`` or ``scope:key``, see
    `tasks.task_args.resolve_task_args`) go to the tasks that accept them, `backend_opts` to the backend;
    `coords` is the model's box convention (`harness.coords`)."""

    model: str
    tasks: tuple[str, ...]
    data_root: str
    backend: str = "vllm"
    profile: str = "strict"
    task_args: dict[str, Any] = field(default_factory=dict)
    backend_opts: dict[str, Any] = field(default_factory=dict)
    params: GenerationParams = field(default_factory=GenerationParams)
    batch_size: int = 64
    coords: str = "norm1000"
    coords_reason: str = ""  # why `coords` (--coords, config.json, name): recorded, not part of the identity

    def __post_init__(self) -> None:
        for name in ("model", "data_root", "backend"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise ValueError(f"EvalConfig.{name}={value!r}: expected a non-empty string")
        if isinstance(self.tasks, str) or not self.tasks or not all(isinstance(t, str) for t in self.tasks):
            raise ValueError(
                f"EvalConfig.tasks={self.tasks!r}: expected a tuple of task names or groups, e.g. ('coco_fewshot',)"
            )
        object.__setattr__(self, "tasks", tuple(self.tasks))
        try:
            names = expand_task_names(",".join(self.tasks))
        except ValueError as err:
            raise ValueError(f"EvalConfig.tasks={self.tasks!r}: {err} (see `vrft tasks`)") from None
        if self.profile not in PROFILES:
            raise ValueError(f"EvalConfig.profile={self.profile!r}: expected one of {PROFILES}")
        if self.coords not in COORDS:
            raise ValueError(
                f"EvalConfig.coords={self.coords!r}: expected one of {COORDS} (norm1000: Qwen2-VL and the paper; "
                "pixels: Qwen2.5-VL)"
            )
        if isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise ValueError(f"EvalConfig.batch_size={self.batch_size!r}: expected an integer >= 1 (--batch-size)")
        if not isinstance(self.params, GenerationParams):
            raise ValueError(f"EvalConfig.params={self.params!r}: expected a harness.backends.GenerationParams")
        for name in ("task_args", "backend_opts"):
            value = getattr(self, name)
            if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
                raise ValueError(f"EvalConfig.{name}={value!r}: expected a mapping of argument names to values")
            object.__setattr__(self, name, dict(value))  # a copy: the caller's dict cannot change the run
        try:
            check_task_args(names, self.task_args)
        except ValueError as err:
            raise ValueError(f"EvalConfig.task_args: {err}") from None

    def identity(self) -> dict[str, Any]:
        """What must not change between a run and its resumption."""
        d = asdict(self)
        d["params"] = self.params.as_dict()
        d.pop("batch_size")
        d.pop("coords_reason")
        return d

    def run_id(self) -> str:
        """``<model name>-<hash>``: the hash covers the identity and, for a local model (a checkpoint, a replay
        file), its content fingerprint, so edited model files get a new run directory instead of old answers."""
        key: dict[str, Any] = dict(self.identity())
        fingerprint = model_fingerprint(self.model)
        if fingerprint is not None:
            key["model_fingerprint"] = fingerprint
        digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()
        slug = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(self.model.rstrip("/")).name or "model")[:40]
        return f"{slug}-{digest[:10]}"
