"""Fixtures for the table tests (helpers live in tables_testutil, importable by a unique name)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tables_testutil import PAPER_DIR, PAPER_MD, PrintedTable, parse_paper_tables


@pytest.fixture(scope="session")
def paper_dir() -> Path:
    return PAPER_DIR


@pytest.fixture(scope="session")
def printed() -> dict[int, PrintedTable]:
    if not PAPER_MD.is_file():
        pytest.skip(f"paper text not found at {PAPER_MD}: cannot check results/paper against the paper")
    return parse_paper_tables(PAPER_MD.read_text(encoding="utf-8"))
