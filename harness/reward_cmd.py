"""`vrft reward`: score JSONL lines ``{"completion": ..., "solution": ...}`` with a verifier.

One JSON object per input line, in order: the reward components plus ``total``. A bad line (not UTF-8,
not JSON, missing fields, unreadable solution) yields ``{"line": N, "error": "..."}`` on the output and a
message on stderr; the other lines are still scored, and the exit status is 1 if any line failed. Input is
read as bytes and decoded line by line, so one bad byte costs its line only (file and stdin alike).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from typing import IO, Any, TextIO

from tasks.verifiers import get_verifier


def score_lines(lines: Iterable[str | bytes], kind: str, profile: str, **options: Any) -> Iterator[dict[str, Any]]:
    """Yield one result dict per non-blank input line (errors as ``{"line", "error"}``); byte lines are
    decoded as UTF-8 one by one."""
    verifier = get_verifier(kind, profile, **options)
    for number, line in enumerate(lines, start=1):
        if isinstance(line, bytes):
            try:
                raw = line.decode("utf-8")
            except UnicodeDecodeError as err:
                bad = line[err.start : err.start + 1].hex()
                yield {"line": number, "error": f"not valid UTF-8 (byte 0x{bad} at position {err.start})"}
                continue
        else:
            raw = line
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except json.JSONDecodeError as err:
            yield {"line": number, "error": f"not valid JSON ({err.msg} at column {err.colno})"}
            continue
        if not isinstance(record, dict):
            yield {"line": number, "error": "expected a JSON object with 'completion' and 'solution'"}
            continue
        missing = [k for k in ("completion", "solution") if not isinstance(record.get(k), str)]
        if missing:
            yield {"line": number, "error": f"missing or non-string field(s) {missing}: expected strings"}
            continue
        try:
            target = verifier.parse_target(record["solution"])
        except ValueError as err:
            yield {"line": number, "error": f"bad solution: {err}"}
            continue
        yield verifier.score(record["completion"], target).as_dict()


def run(source: IO[str] | IO[bytes], sink: TextIO, kind: str, profile: str, **options: Any) -> int:
    failures = 0
    for result in score_lines(source, kind, profile, **options):
        if "error" in result:
            failures += 1
            print(f"vrft reward: line {result['line']}: {result['error']}", file=sys.stderr)
        sink.write(json.dumps(result) + "\n")
    sink.flush()
    return 1 if failures else 0
