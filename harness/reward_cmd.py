"""`vrft reward`: score JSONL lines ``{"completion": ..., "solution": ...}`` with a verifier.

One JSON object per input line, in order: the reward components plus ``total``. A bad line (not UTF-8,
not JSON, missing fields, unreadable solution) yields ``{"line": N, "error": "..."}`` on the output and a
message on stderr; the other lines are still scored, and the exit status is 1 if any line failed. Input is
read as bytes and decoded line by line, so one bad byte costs its line only (file and stdin alike).

Throughput (issue 19): the scoring is the verifiers' own; around it, each line costs one C-level JSON
scan (`_loads`) and one string format (`_Rows`), and output goes out in blocks of `BLOCK` lines. Both
give exactly the text of ``json.loads`` / ``json.dumps``, which they fall back to on anything unusual.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable, Iterable
from typing import Any, TextIO

from tasks.spec import Score
from tasks.verifiers import Verifier, get_verifier

BLOCK = 1024  # output lines per write call (a write per line cost a tenth of the scoring)

# json.loads' own C scanner without the Python layers around it (about a fifth of a line's JSON time).
_scan: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]
_JSON_SPACE = " \t\n\r"  # what json.loads skips around a value


def _loads(raw: str) -> Any:
    """``json.loads(raw)``. A value starting at the first character and followed by JSON whitespace
    only is what json.loads returns; anything else (leading whitespace, a BOM, extra data, an error)
    is handed to json.loads itself, which returns the value or raises its own error."""
    try:
        value, end = _scan(raw, 0)
    except (StopIteration, json.JSONDecodeError):
        return json.loads(raw)
    if raw[end:].strip(_JSON_SPACE):
        return json.loads(raw)
    return value


class _Rows:
    """Scores -> JSON lines, byte for byte ``json.dumps(score.as_dict()) + "\n"``: a format template per
    component tuple, filled with ``%r`` (json.dumps writes a finite float as its repr); a score with a
    non-finite number (json.dumps writes NaN, Infinity) takes json.dumps itself."""

    def __init__(self) -> None:
        self._templates: dict[tuple[str, ...], str] = {}

    def line(self, score: Score) -> str:
        components = score.components
        keys = tuple(components)
        template = self._templates.get(keys)
        if template is None:
            fields = ", ".join(json.dumps(k).replace("%", "%%") + ": %r" for k in (*keys, "total"))
            # a component named "total" would be overwritten by as_dict: json.dumps writes those
            template = self._templates[keys] = "" if "total" in keys else "{" + fields + "}\n"
        values = (*map(float, components.values()), score.total)  # = score.as_dict().values()
        if template and math.isfinite(sum(values)):
            return template % values
        return json.dumps(score.as_dict()) + "\n"


class BadLine(ValueError):
    """A line that cannot be scored; the message says why."""


def score_line(line: str | bytes, verifier: Verifier, rows: _Rows) -> str | None:
    """One input line -> its result as a JSON line (None for a blank line); raises `BadLine`. A byte
    line is decoded as UTF-8 on its own."""
    if isinstance(line, bytes):
        try:
            raw = line.decode("utf-8")
        except UnicodeDecodeError as err:
            bad = line[err.start : err.start + 1].hex()
            raise BadLine(f"not valid UTF-8 (byte 0x{bad} at position {err.start})") from None
    else:
        raw = line
    if not raw or raw.isspace():  # = not raw.strip(), without copying the line
        return None
    try:
        record = _loads(raw)
    except json.JSONDecodeError as err:
        raise BadLine(f"not valid JSON ({err.msg} at column {err.colno})") from None
    if not isinstance(record, dict):
        raise BadLine("expected a JSON object with 'completion' and 'solution'")
    completion, solution = record.get("completion"), record.get("solution")
    if not (isinstance(completion, str) and isinstance(solution, str)):
        missing = [k for k in ("completion", "solution") if not isinstance(record.get(k), str)]
        raise BadLine(f"missing or non-string field(s) {missing}: expected strings")
    try:
        target = verifier.parse_target(solution)
    except ValueError as err:
        raise BadLine(f"bad solution: {err}") from None
    return rows.line(verifier.score(completion, target))


def run(source: Iterable[str | bytes], sink: TextIO, kind: str, profile: str, **options: Any) -> int:
    """Score every line of `source` into `sink`; exit status 1 if any line failed (each one is also
    reported on stderr), else 0."""
    verifier = get_verifier(kind, profile, **options)
    rows = _Rows()
    failures = 0
    block: list[str] = []
    for number, line in enumerate(source, start=1):
        try:
            text = score_line(line, verifier, rows)
        except BadLine as err:
            failures += 1
            print(f"vrft reward: line {number}: {err}", file=sys.stderr)
            text = json.dumps({"line": number, "error": str(err)}) + "\n"
        if text is not None:
            block.append(text)
            if len(block) == BLOCK:
                sink.write("".join(block))
                block.clear()
    sink.write("".join(block))
    sink.flush()
    return 1 if failures else 0
