"""`vrft eval`: tasks + backend -> generations (resumable) -> scores -> metrics, in one run directory.

Run directory (``results/runs/<id>/``):
* ``manifest.json``: what produced the run (tasks with versions and arguments, profile, model path and
  fingerprint, backend and generation parameters, image policy, coordinates, package versions, git
  commit, timestamps). Written atomically; a rerun with a different configuration is refused.
* ``generations.jsonl`` (``generations.shard-I-of-N.jsonl`` with ``--shard``): append-only, one line per
  request (``task``, ``request_id``, ``request_hash``, ``text``, token counts, ``finish_reason``,
  ``error``), flushed after every batch. Rerunning the same command generates only what is missing
  (requests whose hash has a line without error); a torn last line from ``kill -9`` is ignored. One
  process writes each generations file (a lock; a second `vrft eval` on the same run or shard is refused).
  Requests answered before by the same model, backend and settings, in any run, come from the generation
  cache (`harness.gen_cache`; ``--no-cache`` bypasses it); the engine is started only when something is
  left to generate. The manifest records the cache (``cache``) and, per session, how many requests it
  served (``timing[].from_cache``).
* ``scores.jsonl`` and ``metrics.json``: written atomically by the scoring stage, which needs no model
  (``vrft score RUN_DIR`` re-scores, merges shards, and refuses an incomplete set).
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from tqdm import tqdm

from harness.backends import Backend, ChatRequest, Generation, GenerationParams, make_backend
from harness.config import EvalConfig, Shard
from harness.gen_cache import GenerationCache, open_cache
from harness.logs import engine_logs_to
from harness.manifest import MANIFEST, build_manifest, check_compatible, overlap_warnings, read_manifest
from harness.records import (
    LOCK_SUFFIX,
    atomic_write_json,
    done_hashes,
    drop_torn_tail,
    generation_line,
    manifest_lock,
    read_run_generations,
    run_lock,
    write_error,
)
from tasks.base import Request, Task
from tasks.registry import expand_task_names
from tasks.task_args import build_tasks as registry_build_tasks

log = logging.getLogger("vrft.eval")
WHOLE_RUN = Shard()


def build_tasks(config: EvalConfig) -> list[Task]:
    names = expand_task_names(",".join(config.tasks))
    return registry_build_tasks(names, config.data_root, config.task_args)


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


def _batches(items: Sequence[Request], size: int) -> Iterator[Sequence[Request]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def chat_request(req: Request) -> ChatRequest:
    return ChatRequest(req.request_id, req.image.path, req.text, req.system, req.max_new_tokens)


class Generator:
    """Runs pending requests through the generation cache, then a backend (`backend()` makes it on first
    use), appending one line per request to the shard file."""

    def __init__(
        self,
        backend: Callable[[], Backend],
        params: GenerationParams,
        sink: TextIO,
        batch_size: int,
        cache: GenerationCache | None = None,
    ) -> None:
        self.backend, self.params, self.sink, self.batch_size = backend, params, sink, batch_size
        self.cache = cache
        self.n_generated = self.n_errors = self.n_cached = 0
        self.backend_seconds = 0.0  # time inside backend.generate; the rest of the wall time is ours

    def _answer(self, chat: list[ChatRequest]) -> list[Generation]:
        cached = self.cache.get_many(chat) if self.cache is not None else {}
        todo = [c for c in chat if c.request_id not in cached]
        fresh: dict[str, Generation] = {}
        if todo:
            backend = self.backend()
            t0 = time.perf_counter()
            results = backend.generate(todo)
            self.backend_seconds += time.perf_counter() - t0
            if self.cache is not None:
                self.cache.put_many(list(zip(todo, results, strict=True)))
            fresh = {g.request_id: g for g in results}
        self.n_cached += len(cached)
        return [cached.get(c.request_id) or fresh[c.request_id] for c in chat]

    def run(self, task: Task, requests: Sequence[Request], bar: tqdm) -> dict[str, str]:
        texts: dict[str, str] = {}
        for batch in _batches(requests, self.batch_size):
            results = self._answer([chat_request(r) for r in batch])
            lines = []
            for req, gen in zip(batch, results, strict=True):
                rhash, wh = request_hash(task, req, self.params), (req.image.width, req.image.height)
                lines.append(generation_line(task.name, req.request_id, rhash, gen.as_dict(), wh))
                if gen.error is None:
                    texts[req.request_id] = gen.text
                else:
                    self.n_errors += 1
                    log.warning("%s %s: %s", task.name, req.request_id, gen.error)
            try:
                self.sink.write("".join(lines))
                self.sink.flush()
            except OSError as err:  # a full disk: the lines flushed before are whole, a torn one is cut on resume
                raise write_error(Path(self.sink.name), err) from err
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


def run_eval(
    config: EvalConfig,
    run_dir: Path,
    shard: Shard = WHOLE_RUN,
    backend: Backend | None = None,
    *,
    use_cache: bool = True,
) -> Path:
    """Generate everything this shard still lacks (scoring is its own stage: `harness.score_cmd.score_run`).
    `backend`: an engine already built (else one is made from the config when something is left to generate
    that the generation cache lacks, and closed at the end). `use_cache=False` (``--no-cache``) neither reads
    nor writes the cache. Returns run_dir."""
    tasks = build_tasks(config)
    check_requests(tasks, config.profile)  # before the run directory and the engine: a wrong input fails fast
    created = not run_dir.exists()
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise write_error(run_dir, err) from err
    with run_lock(run_dir, shard.filename):  # one writer per generations file: a second process is refused
        return _run_locked(config, tasks, run_dir, shard, _Engine(config, run_dir, backend), created, use_cache)


def check_requests(tasks: Sequence[Task], profile: str) -> None:
    """Refuse a task whose protocol inputs do not match its data in `profile` (a task's own
    ``check_protocol_inputs``: detection exist maps) or that issues no request at all (an all-zero table
    would read as a model that found nothing)."""
    for task in tasks:
        check = getattr(task, "check_protocol_inputs", None)
        if check is not None:
            check(profile)
        if next(iter(task.requests()), None) is None:
            raise ValueError(
                f"{task.name}: the task issues no requests with arguments {task.args}: nothing would be "
                "generated or scored; check the protocol input and the data root"
            )


class _Engine:
    """The run's backend: the one handed in, else made from the config on first use (`__call__`)."""

    def __init__(self, config: EvalConfig, run_dir: Path, backend: Backend | None) -> None:
        self.config, self.run_dir, self.backend, self.own = config, run_dir, backend, backend is None

    def __call__(self) -> Backend:
        if self.backend is None:
            c = self.config
            with engine_logs_to(self.run_dir):  # vLLM's log lines go to RUN_DIR/engine.log, not the terminal
                self.backend = make_backend(c.backend, c.model, c.params, **c.backend_opts)
        return self.backend


def _run_locked(
    config: EvalConfig, tasks: list[Task], run_dir: Path, shard: Shard, engine: _Engine, created: bool, use_cache: bool
) -> Path:
    manifest_path = run_dir / MANIFEST
    _check_compatible(run_dir, read_manifest(run_dir), config, tasks)
    out_path = run_dir / shard.filename
    done = done_hashes(out_path)
    stage1 = {t.name: _pending(t, t.requests(), shard, done, config.params) for t in tasks}
    started = datetime.now(UTC).isoformat(timespec="seconds")
    followups = _followups(tasks, run_dir, shard, config.params)
    pending = [r for v in (*stage1.values(), *followups.values()) for r in v]
    cache: GenerationCache | None = None
    cache_state = None
    if pending:
        cache, cache_state = open_cache(
            config.model, config.backend, config.backend_opts, config.params, enabled=use_cache
        )
    n_missing = len(pending) if cache is None else cache.n_missing([chat_request(r) for r in pending])
    try:
        if n_missing and engine.backend is None:
            try:
                engine()
            except BaseException:
                if created:
                    _drop_if_unused(run_dir)
                raise
        described = engine.backend is not None
        timing: dict[str, Any] | None = None
        try:
            with manifest_lock(run_dir):  # shards share the manifest: read, check and write it in one step
                existing = read_manifest(run_dir)
                _check_compatible(run_dir, existing, config, tasks)
                manifest = build_manifest(config, tasks, engine.backend, shard, existing, started)
                atomic_write_json(manifest_path, manifest)
            for warning in overlap_warnings(manifest):  # the model was trained on some evaluated images
                log.warning("%s", warning)
            if pending or engine.backend is not None:
                timing = _generate(tasks, stage1, engine, config, shard, run_dir, cache)
        except BaseException as err:
            if engine.own and engine.backend is not None:
                _shut_down(engine.backend, err)
            raise
    finally:
        if cache is not None:
            cache.close()
    late = engine.backend.describe() if engine.backend is not None and not described else None
    if engine.own and engine.backend is not None:
        engine.backend.close()
    with manifest_lock(run_dir):  # what other shards wrote meanwhile is kept
        manifest = read_manifest(run_dir) or manifest
        if late is not None:  # made for a follow-up request the cache lacked
            manifest["backend"] = {"name": config.backend, "options": dict(config.backend_opts), **late}
        if timing is not None:
            manifest.setdefault("timing", []).append(timing)
        if cache_state is not None:
            served = sum(int(t.get("from_cache", 0)) for t in manifest.get("timing", []) if isinstance(t, dict))
            manifest["cache"] = {"state": cache_state, "from_cache": served}
        manifest["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
        atomic_write_json(manifest_path, manifest)
    return run_dir


def _check_compatible(
    run_dir: Path, existing: dict[str, Any] | None, config: EvalConfig, tasks: Sequence[Task]
) -> None:
    """`check_compatible`, its refusal naming the run directory."""
    if existing is None:
        return
    try:
        check_compatible(existing, config, tasks)
    except ValueError as err:
        raise ValueError(f"{run_dir}: {err}") from None


def _generate(
    tasks: Sequence[Task],
    stage1: dict[str, list[Request]],
    engine: Callable[[], Backend],
    config: EvalConfig,
    shard: Shard,
    run_dir: Path,
    cache: GenerationCache | None,
) -> dict[str, Any]:
    """Append this shard's pending generations to its file; returns the session's timing entry."""
    out_path = run_dir / shard.filename
    drop_torn_tail(out_path)
    t0 = time.perf_counter()
    try:
        sink = out_path.open("a", encoding="utf-8")
    except OSError as err:
        raise write_error(out_path, err) from err
    try:
        with sink:
            gen = _generate_all(tasks, stage1, engine, config, shard, sink, run_dir, cache)
    except OSError as err:  # the last flush, on close
        raise write_error(out_path, err) from err
    wall = time.perf_counter() - t0
    return {
        "generation_wall_s": round(wall, 3),
        "backend_s": round(gen.backend_seconds, 3),
        "requests": gen.n_generated,
        "from_cache": gen.n_cached,
        "errors": gen.n_errors,
        "harness_overhead_share": round(1 - gen.backend_seconds / wall, 4) if wall > 0 else None,
    }


def _shut_down(backend: Backend, err: BaseException) -> None:
    """Close the backend on the way out of a failed or interrupted run (Ctrl-C, SIGTERM: said once)."""
    if isinstance(err, KeyboardInterrupt):
        log.warning(
            "interrupted: shutting down the %s backend; finished generations are kept (rerun the same command "
            "to resume)",
            backend.name,
        )
    try:
        backend.close()
    except Exception as close_err:  # the error that brought us here is the one to report
        log.warning("closing the %s backend failed: %s", backend.name, close_err)


def _drop_if_unused(run_dir: Path) -> None:
    """After a failed start: remove the run directory this run created if it holds only the engine's log
    files, so failures leave no empty run directories behind; the engine log is kept when it says something."""
    if any(p.name not in ("engine.log", ".engine-logging.json") and p.suffix != LOCK_SUFFIX for p in run_dir.iterdir()):
        return
    log_file = run_dir / "engine.log"
    if log_file.is_file() and log_file.stat().st_size:
        log.warning("engine start failed; its log: %s", log_file)
        return
    shutil.rmtree(run_dir, ignore_errors=True)


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
    engine: Callable[[], Backend],
    config: EvalConfig,
    shard: Shard,
    sink: TextIO,
    run_dir: Path,
    cache: GenerationCache | None,
) -> Generator:
    gen = Generator(engine, config.params, sink, config.batch_size, cache)
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
    log.info("%d request(s): %d from the generation cache, %d error(s)", gen.n_generated, gen.n_cached, gen.n_errors)
    return gen
