"""Replay backend: serves saved generations from a JSONL file instead of running a model.

Why: generation and scoring are separate stages (ARCHITECTURE guideline 8). Replaying a run's
``generations.jsonl`` (or third-party dumps converted to ``{"request_id": ..., "text": ...}`` lines)
re-scores outputs with no model, makes pipeline tests model-free, and lets the official scripts'
outputs be scored by our verifiers. A request with no saved line gets an error Generation, never a
made-up answer.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from harness.backends.base import ChatRequest, Generation, GenerationParams, check_unique_ids
from harness.records import read_saved_generations


def read_generations(path: Path) -> dict[str, Generation]:
    """Parse a generations JSONL file into request_id -> Generation (`harness.records.read_saved_generations`:
    a string ``request_id`` and ``text`` per line, token counts, ``finish_reason`` and ``error`` restored
    when present; a later line for the same id wins; malformed lines raise ValueError naming file and line).
    """
    return {rid: Generation(request_id=rid, **fields) for rid, fields in read_saved_generations(path).items()}


def write_generations(path: Path, generations: Iterable[Generation]) -> None:
    """Write generations as JSONL (one `Generation.as_dict()` per line), readable by this backend."""
    with path.open("w", encoding="utf-8") as fh:
        for g in generations:
            fh.write(json.dumps(g.as_dict(), ensure_ascii=False) + "\n")


class ReplayBackend:
    """`model` is the JSONL path; `params` is recorded only (nothing is generated)."""

    name = "replay"

    def __init__(self, model: str | Path, params: GenerationParams | None = None) -> None:
        self.path = Path(model)
        if not self.path.is_file():
            raise FileNotFoundError(f"replay: generations file not found: {self.path}")
        self.params = params or GenerationParams()
        self.saved = read_generations(self.path)

    def generate(self, requests: Sequence[ChatRequest]) -> list[Generation]:
        check_unique_ids(requests)
        return [
            self.saved.get(r.request_id)
            or Generation.failed(r.request_id, f"no saved generation for request {r.request_id!r} in {self.path}")
            for r in requests
        ]

    def describe(self) -> dict[str, Any]:
        return {
            "backend": self.name,
            "model": str(self.path),
            "fingerprint": hashlib.sha256(self.path.read_bytes()).hexdigest(),
            "n_saved": len(self.saved),
            "params": self.params.as_dict(),
        }

    def close(self) -> None:
        """Nothing to release."""
