"""`vrft reward`: score JSONL lines ``{"completion": ..., "solution": ...}`` with a verifier.

One JSON object per input line, in order: the reward components plus ``total``. A bad line (not JSON,
missing fields, unreadable solution) yields ``{"line": N, "error": "..."}`` on the output and a message
on stderr; the other lines are still scored, and the exit status is 1 if any line failed.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from typing import Any, TextIO

from tasks.verifiers import get_verifier


def score_lines(lines: Iterable[str], kind: str, profile: str, **options: Any) -> Iterator[dict[str, Any]]:
    """Yield one result dict per non-blank input line (errors as ``{"line", "error"}``)."""
    verifier = get_verifier(kind, profile, **options)
    for number, raw in enumerate(lines, start=1):
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


def run(source: TextIO, sink: TextIO, kind: str, profile: str, **options: Any) -> int:
    failures = 0
    for result in score_lines(source, kind, profile, **options):
        if "error" in result:
            failures += 1
            print(f"vrft reward: line {result['line']}: {result['error']}", file=sys.stderr)
        sink.write(json.dumps(result) + "\n")
    sink.flush()
    return 1 if failures else 0
