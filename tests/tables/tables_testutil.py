"""Helpers for the table tests: the repo's results/paper and the paper's own text, parsed independently.

The paper markdown (converted from the PDF) prints each table as tab-separated lines right after
its "Table N." caption line; parsing that text, rather than re-typing numbers, is what catches
transcription errors in results/paper.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PAPER_DIR = REPO / "results" / "paper"
# the paper's text is not redistributed with the repo: its checks run where the workplace's shared/ is
PAPER_MD = Path(os.environ.get("VRFT_SHARED", REPO.parent / "shared")) / "paper" / "visual-rft-paper.md"
TABLES = (2, 3, 4, 5, 6)


@dataclass(frozen=True)
class PrintedTable:
    caption_line: str
    header: list[str]
    rows: list[list[str]]


def parse_paper_tables(text: str) -> dict[int, PrintedTable]:
    """Caption line + the tab-separated block that follows it, for Tables 2-6."""
    lines = text.splitlines()
    out: dict[int, PrintedTable] = {}
    for n in TABLES:
        start = next(i for i, line in enumerate(lines) if line.startswith(f"Table {n}. "))
        i = start + 1
        while not lines[i].strip():
            i += 1
        block = []
        while i < len(lines) and "\t" in lines[i]:
            block.append([cell.strip() for cell in lines[i].split("\t")])
            i += 1
        out[n] = PrintedTable(lines[start], block[0], block[1:])
    return out


def parse_pipe_table(block: str) -> tuple[list[str], list[list[str]]]:
    """Header and body cells of the first pipe table in ``block`` (the alignment line skipped)."""
    table_lines = [line for line in block.splitlines() if line.startswith("|")]
    cells = [[c.strip() for c in line.strip().strip("|").split("|")] for line in table_lines]
    return cells[0], cells[2:]
