"""The generation cache shared by every run: a request answered once is not generated again.

A `vrft eval` run writes each successful generation here too, keyed by what decides the answer: the model's
content fingerprint (`harness.provenance.model_fingerprint`), the backend and the options that change its
output (``--model-arg``, ``max_model_len``; not parallelism or batch sizes), the generation parameters and
the rendered request (system, text, ``max_new_tokens``, the image's path, size and modification time). A
later run that changes ``--limit``, adds a task or writes into a new run directory then generates only the
requests it has never seen (``--no-cache`` bypasses the cache).

Where: ``$VRFT_CACHE_DIR``, else ``~/.cache/vrft/generations``, one SQLite file (``generations.sqlite``).
SQLite makes each batch's write one transaction: several processes (shards, parallel runs) may read and
write at once, and a crash never leaves a half-written entry that could be served. An entry that does not
decode as a generation is treated as missing. The cache is an optimisation: a cache that cannot be opened
or written costs a warning, never the run. Not cached: failed generations, the ``replay`` backend (its file
already is saved generations) and models without a content fingerprint (a served model name: the server's
weights are unknown).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.backends.base import ChatRequest, Generation, GenerationParams

log = logging.getLogger("vrft.eval")
CACHE_ENV = "VRFT_CACHE_DIR"
CACHE_FILE = "generations.sqlite"
# backend options that change how fast answers come, not what they are
THROUGHPUT_OPTS = frozenset(
    {"tensor_parallel_size", "data_parallel_size", "gpu_memory_utilization", "batch_size", "per_sample", "concurrency"}
)
_SCHEMA = "CREATE TABLE IF NOT EXISTS generations (key TEXT PRIMARY KEY, generation TEXT NOT NULL)"


def cache_dir() -> Path:
    """``$VRFT_CACHE_DIR``, else ``~/.cache/vrft/generations``."""
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "vrft" / "generations"


def _image_stamp(path: Path | None) -> list[Any] | None:
    if path is None:
        return None
    try:
        st = path.stat()
    except OSError:
        return [str(path), None, None]  # unreadable: the backend reports it, and errors are never cached
    return [str(path.resolve()), st.st_size, st.st_mtime_ns]


class GenerationCache:
    """Cached generations of one (model fingerprint, backend, options, generation parameters)."""

    def __init__(
        self,
        path: Path,
        fingerprint: str,
        backend: str,
        backend_opts: Mapping[str, Any],
        params: GenerationParams,
    ) -> None:
        self.path = path
        opts = {k: v for k, v in backend_opts.items() if k not in THROUGHPUT_OPTS}
        scope = [fingerprint, backend, opts, params.as_dict()]
        self._scope = json.dumps(scope, sort_keys=True, default=str)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, timeout=60.0, isolation_level=None)
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(_SCHEMA)
        except sqlite3.Error:
            self._db.close()
            raise
        self.hits = self.stored = 0

    def key(self, req: ChatRequest) -> str:
        blob = [self._scope, req.system, req.text, req.max_new_tokens, _image_stamp(req.image_path)]
        return hashlib.sha256(json.dumps(blob, sort_keys=True, default=str).encode()).hexdigest()

    def get_many(self, requests: Sequence[ChatRequest]) -> dict[str, Generation]:
        """request_id -> the cached generation, for the requests that have one."""
        keys = {self.key(r): r.request_id for r in requests}
        out: dict[str, Generation] = {}
        try:
            for key, request_id in keys.items():  # one primary-key lookup each: microseconds
                row = self._db.execute("SELECT generation FROM generations WHERE key = ?", (key,)).fetchone()
                gen = _decode(request_id, row[0]) if row is not None else None
                if gen is not None:
                    out[request_id] = gen
        except sqlite3.Error as err:
            log.warning("generation cache %s unreadable (%s): generating instead", self.path, err)
            return {}
        self.hits += len(out)
        return out

    def n_missing(self, requests: Sequence[ChatRequest]) -> int:
        """How many of `requests` the cache cannot answer (nothing is counted as a hit)."""
        hits = self.hits
        found = len(self.get_many(requests))
        self.hits = hits
        return len(requests) - found

    def put_many(self, pairs: Sequence[tuple[ChatRequest, Generation]]) -> None:
        """Store the successful generations of a batch in one transaction."""
        rows = [(self.key(r), json.dumps(_fields(g))) for r, g in pairs if g.error is None]
        if not rows:
            return
        try:
            with self._db:  # BEGIN ... COMMIT: all the batch or nothing
                self._db.execute("BEGIN IMMEDIATE")
                self._db.executemany("INSERT OR REPLACE INTO generations (key, generation) VALUES (?, ?)", rows)
        except sqlite3.Error as err:
            log.warning("generation cache %s not written (%s); the run goes on", self.path, err)
            return
        self.stored += len(rows)

    def close(self) -> None:
        self._db.close()


def _fields(gen: Generation) -> dict[str, Any]:
    d = gen.as_dict()
    d.pop("request_id")
    return d


def _decode(request_id: str, blob: str) -> Generation | None:
    try:
        d = json.loads(blob)
        gen = Generation(request_id=request_id, **d)
    except (ValueError, TypeError):
        return None
    return gen if isinstance(gen.text, str) and gen.error is None else None


def open_cache(
    model: str, backend: str, backend_opts: Mapping[str, Any], params: GenerationParams, *, enabled: bool = True
) -> tuple[GenerationCache | None, str]:
    """(the cache for this model and backend, or None; why, for the manifest)."""
    from harness.provenance import model_fingerprint

    if not enabled:
        return None, "off (--no-cache)"
    if backend == "replay":
        return None, "off (the replay backend serves saved generations)"
    fingerprint = model_fingerprint(model)
    if fingerprint is None:
        return None, f"off ({model!r} is not a local checkpoint: no content fingerprint)"
    path = cache_dir() / CACHE_FILE
    try:
        return GenerationCache(path, fingerprint, backend, backend_opts, params), f"on ({path})"
    except (OSError, sqlite3.Error) as err:
        log.warning("generation cache %s unusable (%s): every request is generated", path, err)
        return None, f"off (unusable: {err})"
