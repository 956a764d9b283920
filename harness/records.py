"""Files of a run: atomic JSON writes, append-only JSONL, and reading generations back.

Everything that is written whole goes through a temporary file and ``os.replace`` so that a crash never
leaves a half-written metrics or manifest file; generations are appended line by line and flushed, so
a killed run keeps every finished line (a torn last line is detected and ignored on reading).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp creates 0600; results are meant to be shared
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, allow_nan=False) + "\n")


def atomic_write_jsonl(path: Path, rows: Iterable[Mapping[str, Any]]) -> None:
    atomic_write_text(path, "".join(json.dumps(r, sort_keys=True, allow_nan=False) + "\n" for r in rows))


class GenerationsError(ValueError):
    """A generations file that cannot be used as it is (names the file and line)."""


@dataclass
class Generations:
    """request_id -> text, per task (``""`` when lines carry no task), plus what was odd."""

    texts: dict[str, dict[str, str]] = field(default_factory=dict)
    duplicates: list[str] = field(default_factory=list)  # "task/request_id (lines a, b)"
    torn_last_line: bool = False

    def for_task(self, task: str) -> dict[str, str]:
        merged = dict(self.texts.get("", {}))
        merged.update(self.texts.get(task, {}))
        return merged


def iter_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any] | None, str]]:
    """(line number, object or None if the line is not a JSON object, raw line) for non-blank lines."""
    with path.open(encoding="utf-8") as f:
        for number, raw in enumerate(f, start=1):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw)
            except json.JSONDecodeError:
                yield number, None, raw
                continue
            yield number, obj if isinstance(obj, dict) else None, raw


def read_generations(paths: Iterable[Path]) -> Generations:
    """Read one or more generations JSONL files (shards): lines ``{"request_id", "text"[, "task"]}``.

    A line that is not JSON is an error naming file and line, except a torn *last* line of a file
    (a run killed mid-write), which is skipped and flagged. Lines with an ``error`` field (a sample the
    backend could not run) are kept out of the texts. A request id seen twice with different texts is
    recorded in `duplicates`; identical repeats (a resumed shard) are harmless.
    """
    out = Generations()
    seen: dict[tuple[str, str], tuple[str, int]] = {}
    for path in paths:
        if not path.is_file():
            raise GenerationsError(f"generations file not found: {path}")
        lines = list(iter_jsonl(path))
        for i, (number, obj, raw) in enumerate(lines):
            where = f"{path}:{number}"
            if obj is None:
                if i == len(lines) - 1 and not raw.endswith("\n"):
                    out.torn_last_line = True
                    continue
                raise GenerationsError(f'{where}: not a JSON object; expected {{"request_id": ..., "text": ...}}')
            rid, text, task = obj.get("request_id"), obj.get("text"), obj.get("task", "")
            if not isinstance(rid, str) or not isinstance(task, str):
                raise GenerationsError(f"{where}: 'request_id' (and 'task' if present) must be strings")
            if obj.get("error") is not None:
                continue
            if not isinstance(text, str):
                raise GenerationsError(f"{where}: 'text' must be a string (request {rid!r})")
            key = (task, rid)
            if key in seen and seen[key][0] != text:
                out.duplicates.append(f"{task + '/' if task else ''}{rid} ({seen[key][1]} and {where})")
                continue
            seen[key] = (text, number)
            out.texts.setdefault(task, {})[rid] = text
    return out
