"""The README's table of sources is `harness.fetch.datasets.sources_table()` exactly: every URL the code fetches
is the one the README names, and a source added or changed in `sources.py` without the README fails here."""

from __future__ import annotations

from pathlib import Path

from harness.fetch.datasets import PLANS, TABLE_BEGIN, TABLE_END, sources_table
from harness.fetch.sources import SOURCES

README = Path(__file__).resolve().parents[2] / "README.md"


def _readme_block() -> str:
    text = README.read_text(encoding="utf-8")
    i, j = text.find(TABLE_BEGIN), text.find(TABLE_END)
    assert 0 <= i < j, f"README.md has no {TABLE_BEGIN} ... {TABLE_END} block"
    return text[i : j + len(TABLE_END)]


def test_the_readme_sources_table_is_the_generated_one() -> None:
    assert _readme_block() == sources_table(), (
        "README.md's sources table differs from harness/fetch: paste the output of "
        "`python -c 'from harness.fetch.datasets import sources_table; print(sources_table())'`"
    )


def test_every_source_a_plan_uses_is_in_the_table_and_every_dataset_has_a_row() -> None:
    block = _readme_block()
    used = {k for plan in PLANS.values() for k in (*plan.sources, *plan.train_sources)}
    assert used == set(SOURCES)  # no source is listed that nothing fetches, none is fetched unlisted
    assert all(f"`{SOURCES[k].url}`" in block for k in used)
    assert all(f"| {plan.title} |" in block for plan in PLANS.values())
