"""`vrft eval`: tasks + backend -> generations (resumable) -> scores -> metrics, in one run directory.

Run directory (``results/runs/<id>/``):
* ``manifest.json``: what produced the run (tasks with versions and arguments, profile, model path and
  fingerprint, backend and generation parameters, image policy, coordinates, package versions, git
  commit, timestamps). Written atomically; a rerun with a different configuration is refused.
* ``generations.jsonl`` (``generations.shard-I-of-N.jsonl`` with ``--shard``): append-only, one line per
  request (``task``, ``request_id``, ``request_hash``, ``text``, token counts, ``finish_reason``,
  ``error``), flushed after every batch. Rerunning the same command generates only what is missing
  (requests whose hash has a line without error); a torn last line from ``kill -9`` is ignored.
* ``scores.jsonl`` and ``metrics.json``: written atomically by the scoring stage, which needs no model
  (``vrft score RUN_DIR`` re-scores, merges shards, and refuses an incomplete set).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from tqdm import tqdm

from harness.backends import Backend, ChatRequest, GenerationParams, make_backend
from harness.manifest import build_manifest, check_compatible
from harness.records import atomic_write_json, iter_jsonl
from tasks.base import Request, Task
from tasks.registry import expand_task_names, get_task

log = logging.getLogger("vrft.eval")


@dataclass(frozen=True)
class Shard:
    index: int = 0
    count: int = 1

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

    def identity(self) -> dict[str, Any]:
        """What must not change between a run and its resumption."""
        d = asdict(self)
        d["params"] = self.params.as_dict()
        d.pop("batch_size")
        return d

    def run_id(self) -> str:
        digest = hashlib.sha256(json.dumps(self.identity(), sort_keys=True, default=str).encode()).hexdigest()
        slug = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(self.model.rstrip("/")).name or "model")[:40]
        return f"{slug}-{digest[:10]}"


def build_tasks(config: EvalConfig) -> list[Task]:
    names = expand_task_names(",".join(config.tasks))
    return [get_task(n, config.data_root, **dict(config.task_args)) for n in names]


def request_hash(task: Task, req: Request, params: GenerationParams) -> str:
    blob = [
        task.name,
        task.version,
        req.request_id,
        req.text,
        req.system,
        str(req.image.path),
        req.max_new_tokens,
        params.as_dict(),
    ]
    return hashlib.sha256(json.dumps(blob, sort_keys=True, default=str).encode()).hexdigest()[:16]


def done_hashes(path: Path) -> set[tuple[str, str, str]]:
    """(task, request_id, request_hash) of the lines already generated without error."""
    done: set[tuple[str, str, str]] = set()
    if not path.is_file():
        return done
    for _, obj, _ in iter_jsonl(path):
        if obj is not None and obj.get("error") is None and isinstance(obj.get("text"), str):
            done.add((str(obj.get("task", "")), str(obj.get("request_id")), str(obj.get("request_hash"))))
    return done


def drop_torn_tail(path: Path) -> None:
    """Cut a last line left incomplete by a killed run, so that appended lines stay whole."""
    if not path.is_file() or path.stat().st_size == 0:
        return
    with path.open("rb+") as f:
        data = f.read()
        if data.endswith(b"\n"):
            return
        keep = data.rfind(b"\n") + 1
        log.warning("%s: dropping an incomplete last line (%d bytes) from an interrupted run", path, len(data) - keep)
        f.truncate(keep)


def read_run_generations(run_dir: Path) -> tuple[dict[str, dict[str, str]], dict[str, dict[str, str]]]:
    """Merge every generations file of a run: (texts, errors), each task -> request_id -> value.
    A later successful line wins over an earlier error line (resumed runs)."""
    texts: dict[str, dict[str, str]] = {}
    errors: dict[str, dict[str, str]] = {}
    for path in sorted(run_dir.glob("generations*.jsonl")):
        for _, obj, _ in iter_jsonl(path):
            if obj is None:
                continue  # a torn line of an interrupted run
            task, rid = str(obj.get("task", "")), str(obj.get("request_id"))
            if obj.get("error") is not None:
                if rid not in texts.get(task, {}):
                    errors.setdefault(task, {})[rid] = str(obj["error"])
            elif isinstance(obj.get("text"), str):
                texts.setdefault(task, {})[rid] = obj["text"]
                errors.get(task, {}).pop(rid, None)
    return texts, errors


def _batches(items: Sequence[Request], size: int) -> Iterator[Sequence[Request]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


class Generator:
    """Runs pending requests through a backend, appending one line per request to the shard file."""

    def __init__(self, backend: Backend, params: GenerationParams, sink: TextIO, batch_size: int) -> None:
        self.backend, self.params, self.sink, self.batch_size = backend, params, sink, batch_size
        self.n_generated = self.n_errors = 0
        self.backend_seconds = 0.0  # time inside backend.generate; the rest of the wall time is ours

    def run(self, task: Task, requests: Sequence[Request], bar: tqdm) -> dict[str, str]:
        texts: dict[str, str] = {}
        for batch in _batches(requests, self.batch_size):
            chat = [ChatRequest(r.request_id, r.image.path, r.text, r.system, r.max_new_tokens) for r in batch]
            t0 = time.perf_counter()
            results = self.backend.generate(chat)
            self.backend_seconds += time.perf_counter() - t0
            for req, gen in zip(batch, results, strict=True):
                line = {
                    "task": task.name,
                    **gen.as_dict(),
                    "request_id": req.request_id,
                    "request_hash": request_hash(task, req, self.params),
                }
                self.sink.write(json.dumps(line, sort_keys=True) + "\n")
                if gen.error is None:
                    texts[req.request_id] = gen.text
                else:
                    self.n_errors += 1
                    log.warning("%s %s: %s", task.name, req.request_id, gen.error)
            self.sink.flush()
            self.n_generated += len(batch)
            bar.update(len(batch))
        return texts


def _pending(
    task: Task, reqs: Iterable[Request], shard: Shard, done: set[tuple[str, str, str]], params: GenerationParams
) -> list[Request]:
    return [
        r
        for r in reqs
        if shard.owns(task.name, r.request_id) and (task.name, r.request_id, request_hash(task, r, params)) not in done
    ]


def run_eval(config: EvalConfig, run_dir: Path, shard: Shard = Shard(), backend: Backend | None = None) -> Path:
    """Generate everything this shard still lacks; score when the run is complete. Returns run_dir."""
    tasks = build_tasks(config)
    run_dir.mkdir(parents=True, exist_ok=True)
    manifest_path = run_dir / "manifest.json"
    existing = json.loads(manifest_path.read_text()) if manifest_path.is_file() else None
    if existing is not None:
        check_compatible(existing, config, tasks)
    out_path = run_dir / shard.filename
    done = done_hashes(out_path)
    stage1 = {t.name: _pending(t, t.requests(), shard, done, config.params) for t in tasks}
    n_stage1 = sum(len(v) for v in stage1.values())
    started = datetime.now(UTC).isoformat(timespec="seconds")
    own_backend = backend is None
    pending_followups = sum(len(v) for v in _followups(tasks, run_dir, shard, config.params).values())
    if (n_stage1 or pending_followups) and backend is None:
        backend = make_backend(config.backend, config.model, config.params, **config.backend_opts)
    manifest = build_manifest(config, tasks, backend, shard, existing, started)
    atomic_write_json(manifest_path, manifest)
    if backend is not None:
        drop_torn_tail(out_path)
        t0 = time.perf_counter()
        with out_path.open("a", encoding="utf-8") as sink:
            gen = _generate_all(tasks, stage1, backend, config, shard, sink, run_dir)
        wall = time.perf_counter() - t0
        manifest.setdefault("timing", []).append(
            {
                "generation_wall_s": round(wall, 3),
                "backend_s": round(gen.backend_seconds, 3),
                "requests": gen.n_generated,
                "errors": gen.n_errors,
                "harness_overhead_share": round(1 - gen.backend_seconds / wall, 4) if wall > 0 else None,
            }
        )
        if own_backend:
            backend.close()
    manifest["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    atomic_write_json(manifest_path, manifest)
    return run_dir


def _followups(
    tasks: Sequence[Task], run_dir: Path, shard: Shard, params: GenerationParams
) -> dict[str, list[Request]]:
    """Pending stage-2 requests implied by the stage-1 answers generated so far."""
    if not any(t.args.get("protocol") == "two-stage" for t in tasks):
        return {t.name: [] for t in tasks}
    texts, _ = read_run_generations(run_dir)
    done = done_hashes(run_dir / shard.filename)
    return {t.name: _pending(t, t.followup_requests(texts.get(t.name, {})), shard, done, params) for t in tasks}


def _generate_all(
    tasks: Sequence[Task],
    stage1: dict[str, list[Request]],
    backend: Backend,
    config: EvalConfig,
    shard: Shard,
    sink: TextIO,
    run_dir: Path,
) -> Generator:
    gen = Generator(backend, config.params, sink, config.batch_size)
    total = sum(len(v) for v in stage1.values())
    with tqdm(total=total, desc="generate", unit="req", dynamic_ncols=True) as bar:
        for task in tasks:
            gen.run(task, stage1[task.name], bar)
        sink.flush()
        # two-stage detection: boxes where the model said the category is there
        for task in tasks:
            follow = _followups([task], run_dir, shard, config.params)[task.name]
            if follow:
                bar.total = (bar.total or 0) + len(follow)
                bar.refresh()
                gen.run(task, follow, bar)
    log.info("generated %d request(s), %d error(s)", gen.n_generated, gen.n_errors)
    return gen
