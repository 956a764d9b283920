"""The machine-readable side of every benchmark in bench/ (standard library only).

Each benchmark keeps its human table on stdout and ends with one line ``BENCH_JSON {...}``; with
``--json PATH`` it also writes the same object to PATH. ``bench/run_all.py`` reads it back and renders
``bench/RESULTS.md`` (and the README's benchmark section) from it, so no figure is ever typed by hand.

The object: ``{"benchmark": name, "size": {...}, "figures": {...}, "tables": [{"title", "head", "rows"}]}``:
``size`` is what was measured (the arguments that set the workload), ``figures`` the raw numbers, and
``tables`` the human tables as already formatted cells (RESULTS.md shows them as they are).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

PREFIX = "BENCH_JSON "


def add_json_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here (bench/run_all.py uses it)")


def table(title: str, head: Sequence[str], rows: Sequence[Sequence[Any]]) -> dict[str, Any]:
    """A human table as formatted cells (str() of each cell)."""
    return {"title": title, "head": [str(h) for h in head], "rows": [[str(c) for c in r] for r in rows]}


def emit(
    benchmark: str,
    size: dict[str, Any],
    figures: dict[str, Any],
    tables: Sequence[dict[str, Any]] = (),
    path: Path | None = None,
) -> dict[str, Any]:
    """Print the ``BENCH_JSON`` line (and write `path`): the last line of every benchmark's output."""
    record = {"benchmark": benchmark, "size": size, "figures": figures, "tables": list(tables)}
    text = json.dumps(record, separators=(",", ":"))
    if path is not None:
        Path(path).write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    print(PREFIX + text, flush=True)
    return record


def parse_output(text: str) -> dict[str, Any] | None:
    """The last ``BENCH_JSON`` object in a benchmark's output, if any."""
    for line in reversed(text.splitlines()):
        if line.startswith(PREFIX):
            obj: dict[str, Any] = json.loads(line[len(PREFIX) :])
            return obj
    return None
