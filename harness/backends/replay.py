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

_INT_FIELDS = ("n_prompt_tokens", "n_completion_tokens")


def read_generations(path: Path) -> dict[str, Generation]:
    """Parse a generations JSONL file into request_id -> Generation.

    Each line needs a string ``request_id`` and a string ``text``; ``n_prompt_tokens``,
    ``n_completion_tokens``, ``finish_reason`` and ``error`` are restored when present, other fields
    are ignored. Blank lines are skipped; a later line for the same id wins (append-only logs).
    Malformed lines raise ValueError naming file and line: a corrupt file is a setup error.
    """
    out: dict[str, Generation] = {}
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{where}: not valid JSON ({exc.msg})") from None
            if not isinstance(row, dict):
                raise ValueError(f"{where}: expected a JSON object, got {type(row).__name__}")
            rid, text = row.get("request_id"), row.get("text")
            if not isinstance(rid, str) or not rid:
                raise ValueError(f"{where}: 'request_id' must be a non-empty string, got {rid!r}")
            if not isinstance(text, str):
                raise ValueError(f"{where}: 'text' must be a string, got {type(text).__name__}")
            kwargs: dict[str, Any] = {k: int(row[k]) for k in _INT_FIELDS if isinstance(row.get(k), int)}
            if isinstance(row.get("finish_reason"), str):
                kwargs["finish_reason"] = row["finish_reason"]
            if isinstance(row.get("error"), str):
                kwargs["error"] = row["error"]
            out[rid] = Generation(request_id=rid, text=text, **kwargs)
    return out


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
