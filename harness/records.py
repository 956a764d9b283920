"""Files of a run: atomic JSON writes, and the generations format (the one writer and reader of it).

Everything that is written whole goes through a temporary file and ``os.replace`` so that a crash never
leaves a half-written metrics or manifest file; generations are appended line by line and flushed, so
a killed run keeps every finished line (a torn last line is ignored on reading and cut before the next
append; a last line that lacks only its newline is kept). Lines are decoded one by one, so a bad byte
costs its line, never the file. A write that fails (full disk, read-only folder) raises `RecordError`, one
line naming the path and what to do. One process writes a run directory's generations file at a time
(`run_lock`, per shard file); shards share the manifest under `manifest_lock`.

The generations format: one JSON object per line with ``request_id`` and ``text`` (plus ``task`` when a
file holds several tasks). Lines written by `vrft eval` (`generation_line`) also carry ``request_hash``,
``error`` (set, with an empty text, when the backend could not run the request), token counts and
``finish_reason``. Two readers, one module:

* `read_generations`: files given by the user (``vrft score --generations``); strict: a malformed line is
  an error naming file and line, conflicting duplicates are collected;
* `read_run_generations` / `done_hashes`: the files of a run directory (all shards), written by the
  runner itself; a torn line of an interrupted run is skipped, a later success wins over an error;
* `read_saved_generations`: one file served again by the replay backend, keyed by request id alone.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import socket
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

log = logging.getLogger("vrft.eval")
RUN_GENERATIONS = "generations*.jsonl"  # every generations file of a run directory (all shards)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class RecordError(ValueError):
    """A run file that cannot be read or written as it is: the message is one line naming the path, the
    cause and what to do (a full disk, a read-only folder, a corrupt or locked file)."""


_FULL = (errno.ENOSPC, errno.EDQUOT)
_READ_ONLY = (errno.EROFS, errno.EACCES, errno.EPERM)


def write_error(path: Path, err: OSError) -> RecordError:
    """The one-line `RecordError` for an `OSError` met while writing `path`."""
    cause = err.strerror or type(err).__name__
    if err.errno in _FULL:
        fix = "free some space, then rerun the same command (everything written before is kept)"
    elif err.errno in _READ_ONLY:
        fix = (
            "the folder is read-only or not yours: write elsewhere (vrft eval --run-dir DIR; "
            "vrft score RUN_DIR --out DIR scores a read-only run)"
        )
    else:
        fix = "check the folder and the disk, then rerun the same command"
    return RecordError(f"cannot write {path}: {cause}; {fix}")


def atomic_write_text(path: Path, text: str) -> None:
    """Write `text` to `path` through a temporary file and `os.replace`: readers see the old file or the
    new one, never a part. An `OSError` (full disk, read-only folder) becomes a `RecordError` naming `path`;
    the temporary file is removed."""
    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp creates 0600; results are meant to be shared
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as err:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        if isinstance(err, OSError):
            raise write_error(path, err) from err
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


def decode_line(raw: bytes) -> str | None:
    """A line of a JSONL file as text, or None when it is not valid UTF-8 (each line stands alone: one bad
    byte costs that line, never the file)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


def iter_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any] | None, str]]:
    """(line number, object or None if the line is not a JSON object, raw line) for non-blank lines.
    A line that is not valid UTF-8 is not a JSON object (its raw text has the bad bytes replaced)."""
    try:
        f = path.open("rb")
    except OSError as err:
        raise RecordError(f"cannot read {path}: {err.strerror or type(err).__name__}") from err
    with f:
        for number, data in enumerate(f, start=1):
            raw = decode_line(data)
            if raw is None:
                yield number, None, data.decode("utf-8", errors="replace")
                continue
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw)
            except ValueError:  # JSONDecodeError, and numbers too long to convert
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


def generation_line(
    task: str,
    request_id: str,
    request_hash: str,
    generation: Mapping[str, Any],
    image_wh: tuple[int, int] | None = None,
) -> str:
    """One line of a run's generations file: the backend's `generation` fields plus task, id and hash, and
    the size of the request's image as the task knew it (``image_wh``, so that a run can be re-scored when
    the images are gone: `read_run_generations`)."""
    line = {"task": task, **generation, "request_id": request_id, "request_hash": request_hash}
    if image_wh is not None and image_wh[0] > 0 and image_wh[1] > 0:
        line["image_wh"] = [int(image_wh[0]), int(image_wh[1])]
    return json.dumps(line, sort_keys=True) + "\n"


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
    """Make the file end with a newline before lines are appended: a last line that lacks only its newline
    (a complete JSON object, which the readers already count as done) gets one; a last line left incomplete
    by a killed run is cut."""
    try:
        if not path.is_file() or path.stat().st_size == 0:
            return
        with path.open("rb+") as f:
            data = f.read()
            if data.endswith(b"\n"):
                return
            keep = data.rfind(b"\n") + 1
            text = decode_line(data[keep:])
            try:
                whole = text is not None and isinstance(json.loads(text), dict)
            except ValueError:
                whole = False
            if whole:
                f.write(b"\n")
                return
            log.warning(
                "%s: dropping an incomplete last line (%d bytes) from an interrupted run", path, len(data) - keep
            )
            f.truncate(keep)
    except OSError as err:
        raise write_error(path, err) from err


def read_run_generations(
    run_dir: Path, image_sizes: dict[str, dict[str, tuple[int, int]]] | None = None
) -> tuple[dict[str, dict[str, str]], dict[str, dict[str, str]]]:
    """Merge every generations file of a run: (texts, errors), each task -> request_id -> value.
    A later successful line wins over an earlier error line (resumed runs). `image_sizes`, when given, is
    filled in the same pass: task -> request_id -> (width, height) recorded by `generation_line` (lines
    of older runs carry none)."""
    texts: dict[str, dict[str, str]] = {}
    errors: dict[str, dict[str, str]] = {}
    for path in sorted(run_dir.glob(RUN_GENERATIONS)):
        for _, obj, _ in iter_jsonl(path):
            if obj is None:
                continue  # a torn line of an interrupted run
            task, rid = str(obj.get("task", "")), str(obj.get("request_id"))
            wh = obj.get("image_wh")
            if image_sizes is not None and isinstance(wh, list) and len(wh) == 2 and all(_positive(v) for v in wh):
                image_sizes.setdefault(task, {})[rid] = (wh[0], wh[1])
            if obj.get("error") is not None:
                if rid not in texts.get(task, {}):
                    errors.setdefault(task, {})[rid] = str(obj["error"])
            elif isinstance(obj.get("text"), str):
                texts.setdefault(task, {})[rid] = obj["text"]
                errors.get(task, {}).pop(rid, None)
    return texts, errors


_INT_FIELDS = ("n_prompt_tokens", "n_completion_tokens")


def _positive(value: object) -> bool:
    return type(value) is int and value > 0


def read_saved_generations(path: Path) -> dict[str, dict[str, Any]]:
    """request_id -> the saved fields of its generation (``text``, and ``n_prompt_tokens``,
    ``n_completion_tokens``, ``finish_reason``, ``error`` when present; other fields are ignored).

    Each line needs a string ``request_id`` and a string ``text``. Blank lines are skipped; a later line
    for the same id wins (append-only logs). Malformed lines raise ValueError naming file and line: a
    corrupt file is a setup error.
    """
    out: dict[str, dict[str, Any]] = {}
    try:
        fh = path.open("rb")
    except OSError as err:
        raise RecordError(f"cannot read the saved generations {path}: {err.strerror or type(err).__name__}") from err
    with fh:
        for lineno, data in enumerate(fh, 1):
            where = f"{path}:{lineno}"
            line = decode_line(data)
            if line is None:
                raise ValueError(f"{where}: not valid UTF-8 text; expected a JSON object per line")
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as exc:  # JSONDecodeError, and numbers too long to convert
                raise ValueError(f"{where}: not valid JSON ({getattr(exc, 'msg', exc)})") from None
            if not isinstance(row, dict):
                raise ValueError(f"{where}: expected a JSON object, got {type(row).__name__}")
            rid, text = row.get("request_id"), row.get("text")
            if not isinstance(rid, str) or not rid:
                raise ValueError(f"{where}: 'request_id' must be a non-empty string, got {rid!r}")
            if not isinstance(text, str):
                raise ValueError(f"{where}: 'text' must be a string, got {type(text).__name__}")
            fields: dict[str, Any] = {"text": text}
            fields.update({k: int(row[k]) for k in _INT_FIELDS if isinstance(row.get(k), int)})
            if isinstance(row.get("finish_reason"), str):
                fields["finish_reason"] = row["finish_reason"]
            if isinstance(row.get("error"), str):
                fields["error"] = row["error"]
            out[rid] = fields
    return out


def generation_lines(paths: Iterable[Path], task: str, request_ids: Iterable[str]) -> dict[str, str]:
    """request_id -> ``"FILE:LINE"`` of the last line holding its generation (for error messages)."""
    wanted = set(request_ids)
    found: dict[str, str] = {}
    for path in paths:
        if not path.is_file():
            continue
        for number, obj, _ in iter_jsonl(path):
            if obj is not None and obj.get("request_id") in wanted and obj.get("task", task) in (task, ""):
                found[str(obj["request_id"])] = f"{path}:{number}"
    return found


# ---- one writer per run directory ---------------------------------------------------------------------

LOCK_SUFFIX = ".lock"


class RunLockedError(RecordError):
    """Another process holds the lock of a run directory (or of the shard) this process wants."""


def _holder(fd: int) -> str:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        info = json.loads(os.read(fd, 4096).decode("utf-8") or "{}")
        return f"pid {info['pid']} on host {info['host']}, since {info['since']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "a process whose details could not be read"


@contextmanager
def exclusive_lock(path: Path, what: str, *, wait: bool = False) -> Iterator[None]:
    """Hold an exclusive `flock` on `path` (created if needed) for the block; the holder's pid, host and
    start time are written into it. The lock dies with its process (``kill -9`` leaves no stale lock); the
    file stays. `wait`: block until the lock is free (short critical sections); otherwise a lock held
    elsewhere raises `RunLockedError` naming the holder and `what` is being done."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666 & ~_umask())
    except OSError as err:
        raise write_error(path, err) from err
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            raise RunLockedError(
                f"{path.parent} is in use: {what} is locked by {_holder(fd)} ({path}); wait for that process "
                "to finish, or use another --run-dir"
            ) from None
        since = datetime.now(UTC).isoformat(timespec="seconds")
        info = {"pid": os.getpid(), "host": socket.gethostname(), "since": since}
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(info).encode(), 0)
        except OSError as err:
            raise write_error(path, err) from err
        yield
    finally:
        os.close(fd)  # releases the lock


def run_lock(run_dir: Path, generations_file: str) -> contextlib.AbstractContextManager[None]:
    """The lock of one writer of a run directory: one per generations file, so ``--shard`` processes run
    side by side and two processes on the same run (or shard) do not."""
    return exclusive_lock(run_dir / f".{generations_file}{LOCK_SUFFIX}", f"writing {generations_file}")


def manifest_lock(run_dir: Path) -> contextlib.AbstractContextManager[None]:
    """A short lock around a read-modify-write of the manifest (shards share it): waits for the holder."""
    return exclusive_lock(run_dir / f".manifest.json{LOCK_SUFFIX}", "the manifest", wait=True)
