"""results/paper against the paper text: every number, label, header, caption and printed Δ."""

from __future__ import annotations

import json
import shutil
from decimal import Decimal
from pathlib import Path

import pytest
from tables_testutil import TABLES, PrintedTable

from harness.tables.paper import (
    TASK_METRIC_KEYS,
    PaperDataError,
    PaperTable,
    compute_delta,
    format_delta,
    format_number,
    load_table,
    load_tables,
)

# Printed Δs that are not (row − baseline) of the printed values: (table, row id, column key) ->
# (printed, computed). Anything else that disagrees is a transcription error.
KNOWN_DELTA_ERRATA = {
    (4, "qwen2vl_2b_vrft", "kitchen_table"): ("+29.2", "+28.8"),
    (5, "qwen2vl_7b_vrft", "giou_test"): ("+5.6", "+5.7"),
}


@pytest.fixture(scope="module")
def tables(paper_dir: Path) -> dict[int, PaperTable]:
    return {t.table: t for t in load_tables(paper_dir)}


def _split_printed(table: PrintedTable) -> list[tuple[str, list[str | None], list[str | None]]]:
    """(label, values, printed Δs) per data row, folding inline "80.3 +24.3" and "Δ" rows."""
    out: list[tuple[str, list[str | None], list[str | None]]] = []
    for cells in table.rows:
        if cells[0] == "Δ":
            out[-1] = (out[-1][0], out[-1][1], list(cells[1:]))
            continue
        values: list[str | None] = []
        deltas: list[str | None] = []
        for cell in cells[1:]:
            value, _, delta = cell.partition(" ")
            values.append(None if value in {"-", "–"} else value)
            deltas.append(delta or None)
        out.append((cells[0], values, deltas if any(deltas) else [None] * len(values)))
    return out


def test_all_five_tables_load(tables: dict[int, PaperTable]) -> None:
    assert tuple(tables) == TABLES


@pytest.mark.parametrize("n", TABLES)
def test_caption_and_headers_match_paper(n: int, tables: dict[int, PaperTable], printed: dict) -> None:
    t = tables[n]
    assert f"Table {n}. {t.caption}" == printed[n].caption_line
    assert [t.label_header] + [c.header for c in t.columns] == printed[n].header


@pytest.mark.parametrize("n", TABLES)
def test_every_value_and_printed_delta_matches_paper(n: int, tables: dict[int, PaperTable], printed: dict) -> None:
    t = tables[n]
    expected = _split_printed(printed[n])
    assert [r.label for r in t.rows] == [label for label, _, _ in expected]
    for row, (_, values, deltas) in zip(t.rows, expected, strict=True):
        assert [row.values[c.key] for c in t.columns] == values, row.id
        assert [row.printed_deltas.get(c.key) for c in t.columns] == deltas, row.id


@pytest.mark.parametrize("n", TABLES)
def test_delta_layout_matches_paper(n: int, tables: dict[int, PaperTable], printed: dict) -> None:
    has_delta_rows = any(cells[0] == "Δ" for cells in printed[n].rows)
    assert tables[n].delta_layout == ("row" if has_delta_rows else "inline")


def test_computed_deltas_equal_printed_except_known_errata(tables: dict[int, PaperTable]) -> None:
    mismatches = {}
    checked = 0
    for t in tables.values():
        for row in t.rows:
            for key, text in row.printed_deltas.items():
                delta = compute_delta(t, row, key)
                assert delta is not None, (t.table, row.id, key)
                computed = format_delta(delta, t.decimals)
                checked += 1
                if computed != text:
                    mismatches[(t.table, row.id, key)] = (text, computed)
    assert checked == 5 * 3 + 9 * 3 + 7 * 2 + 3 * 2 + 3 * 2
    assert mismatches == KNOWN_DELTA_ERRATA


def test_printed_deltas_are_against_the_same_model_baseline(tables: dict[int, PaperTable]) -> None:
    for t in tables.values():
        for row in t.rows:
            if row.delta_vs is not None:
                base = t.row(row.delta_vs)
                assert base.setting == "baseline" and base.model == row.model, (t.table, row.id)


def test_summary_columns_match_their_parts_within_rounding(tables: dict[int, PaperTable]) -> None:
    """Average (Table 2) and mAP (Tables 3-4) vs the mean of the printed per-column numbers."""
    off = set()
    for n in (2, 3, 4):
        t = tables[n]
        summary, parts = t.columns[0], t.columns[1:]
        for row in t.rows:
            mean = sum((Decimal(row.values[c.key] or "nan") for c in parts), Decimal(0)) / len(parts)
            if abs(Decimal(row.values[summary.key] or "nan") - mean) > Decimal("0.1"):
                off.add((n, row.id))
    assert off == {(4, "qwen2vl_7b_vrft")}  # printed mAP 33.8, mean of its APs 33.1 (see the notes)


def test_columns_map_to_the_vrft_tasks(tables: dict[int, PaperTable]) -> None:
    def sources(n: int) -> list[tuple[str | None, str | None]]:
        return [(c.task, c.metric_key) for c in tables[n].columns]

    fgvc = ["fgvc_flowers102", "fgvc_pets37", "fgvc_aircraft", "fgvc_cars196"]
    assert sources(2) == [(None, None)] + [(task, "accuracy") for task in fgvc]
    assert tables[2].columns[0].mean_of == ("flowers102", "pets37", "aircraft", "cars196")
    assert sources(3) == [("coco_fewshot", k) for k in TASK_METRIC_KEYS["coco_fewshot"]]
    assert sources(4) == [("lvis_fewshot", k) for k in TASK_METRIC_KEYS["lvis_fewshot"]]
    assert sources(5) == [("lisa_grounding", k) for k in ("mIoU_test", "mIoU_val", "gIoU_test")]
    assert sources(6) == [("coco_ov", k) for k in ("mAPn", "mAPb", "mAPall")]
    assert tables[2].tasks == tuple(fgvc)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (Decimal("28.8"), "+28.8"),
        (Decimal("-4.3"), "-4.3"),
        (Decimal("-0.0"), "+0.0"),
        (Decimal("10.9"), "+10.9"),
    ],
)
def test_format_delta(text: Decimal, expected: str) -> None:
    assert format_delta(text) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(19.6, "19.6"), (30.0, "30.0"), (67.65, "67.7"), (0.04, "0.0"), (-0.04, "0.0"), (100.0, "100.0")],
)
def test_format_number_half_up(value: float, expected: str) -> None:
    assert format_number(value) == expected


def _mutate(src: Path, dst: Path, edit: object) -> Path:
    raw = json.loads(src.read_text(encoding="utf-8"))
    edit(raw)  # type: ignore[operator]
    dst.write_text(json.dumps(raw), encoding="utf-8")
    return dst


@pytest.mark.parametrize(
    ("edit", "needle"),
    [
        (lambda r: r["rows"][0]["values"].update(map="19.60"), "values.map"),
        (lambda r: r["rows"][0]["values"].update(map=19.6), "values.map"),
        (lambda r: r["rows"][0]["values"].pop("bus"), "values"),
        (lambda r: r["rows"][2].update(delta_vs="nope"), "delta_vs"),
        (lambda r: r["rows"][2].update(delta_vs=None), "printed_deltas"),
        (lambda r: r["rows"][2]["printed_deltas"].update(map="14.0"), "printed_deltas.map"),
        (lambda r: r["rows"][1].update(id="qwen2vl_2b"), "id"),
        (lambda r: r.update(delta_layout="below"), "delta_layout"),
        (lambda r: r["columns"][1].update(metric_key="AP/zebra"), "task/metric_key"),
        (lambda r: r["columns"][1].update(key="map"), "column keys must be unique"),
    ],
)
def test_validation_names_the_field(tmp_path: Path, paper_dir: Path, edit: object, needle: str) -> None:
    path = _mutate(paper_dir / "table3_coco_fewshot.json", tmp_path / "table3.json", edit)
    with pytest.raises(PaperDataError, match=r"table3\.json") as err:
        load_table(path)
    assert needle in str(err.value)


def test_load_tables_errors(tmp_path: Path, paper_dir: Path) -> None:
    with pytest.raises(PaperDataError, match="no table"):
        load_tables(tmp_path)
    shutil.copy(paper_dir / "table5_lisa.json", tmp_path / "table5_a.json")
    shutil.copy(paper_dir / "table5_lisa.json", tmp_path / "table5_b.json")
    with pytest.raises(PaperDataError, match="duplicate"):
        load_tables(tmp_path)
    (tmp_path / "table9.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(PaperDataError, match="not valid JSON"):
        load_table(tmp_path / "table9.json")
