"""Rendering: the paper tables come back cell for cell, runs land in the right rows and columns."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from tables_testutil import TABLES, parse_pipe_table

from harness.tables import RunResult, render_compare, render_tables
from harness.tables.render import MISSING

# Cells where the rendered (computed) Δ differs from the paper's printed text:
# (table, body row index, header) -> (paper cell, rendered cell).
EXPECTED_DIFFS = {
    (4, 3, "kitchen-table"): ("+29.2", "+28.8†"),
    (5, 8, "gIoU _{test}"): ("43.7 +5.6", "43.7 +5.7†"),
}


def _blocks(markdown: str) -> dict[int, str]:
    """Rendered text per table, keyed by the number in its '### Table N' heading."""
    parts = markdown.split("### Table ")[1:]
    return {int(p.split("\n", 1)[0]): p for p in parts}


def _run(model: str = "Qwen2-VL-2B", step: int | None = None, **metrics: dict[str, float]) -> RunResult:
    return RunResult.from_metrics(model, "3", "zero-shot", "official", metrics, step=step)


@pytest.fixture(scope="module")
def paper_only(paper_dir: Path) -> str:
    return render_tables(paper_dir)


def test_rendering_reproduces_every_printed_cell(paper_only: str, printed: dict) -> None:
    blocks = _blocks(paper_only)
    assert tuple(blocks) == TABLES
    diffs = {}
    for n in TABLES:
        header, body = parse_pipe_table(blocks[n])
        assert header == printed[n].header
        assert len(body) == len(printed[n].rows), n
        for i, (got, want) in enumerate(zip(body, printed[n].rows, strict=True)):
            assert len(got) == len(want), (n, i)
            for h, g, w in zip(header, got, want, strict=True):
                if g != w:
                    diffs[(n, i, h)] = (w, g)
        assert f"Table {n}. " in blocks[n] and printed[n].caption_line in blocks[n].splitlines()
    assert diffs == EXPECTED_DIFFS


def test_delta_mismatches_are_footnoted_with_the_printed_value(paper_only: str) -> None:
    blocks = _blocks(paper_only)
    assert "42.2 − 13.4 = +28.8); the paper prints +29.2." in blocks[4]
    assert "43.7 − 38.0 = +5.7); the paper prints +5.6." in blocks[5]
    assert "†" not in blocks[2] + blocks[3] + blocks[6]


def test_output_is_byte_identical_for_the_same_inputs(paper_dir: Path) -> None:
    runs = [_run(coco_fewshot={"mAP": 30.25}), _run("Qwen2-VL-7B", lisa_grounding={"mIoU_test": 41.0})]
    first = render_tables(paper_dir, runs)
    assert render_tables(paper_dir, list(runs)) == first
    assert render_tables(paper_dir, runs).encode() == first.encode()


def test_all_deltas_adds_sft_deltas(paper_dir: Path) -> None:
    _, body = parse_pipe_table(_blocks(render_tables(paper_dir, all_deltas=True))[2])
    sft_1shot = next(r for r in body if r[0] == "+ SFT (1-shot)")
    assert sft_1shot[1] == "51.7 -4.3"  # the -4.3 the paper quotes in Sec. 4.2
    _, body3 = parse_pipe_table(_blocks(render_tables(paper_dir, all_deltas=True))[3])
    assert [r[0] for r in body3].count("Δ") == 6


def test_run_lands_in_its_tables_rows_and_columns(paper_dir: Path) -> None:
    run = _run(
        coco_fewshot={"mAP": 30.25, "AP/cat": 55.1, "AP/fire hydrant": 40.04},
        fgvc_pets37={"accuracy": 71.0},
        coco_ov={"mAPn": math.nan, "mAPall": 12.345},
    )
    label = "Qwen2-VL-2B (task v3, zero-shot, official)"
    assert run.label == label
    blocks = _blocks(render_tables(paper_dir, [run]))
    rows = {
        n: {r[0]: dict(zip(h, r, strict=True)) for r in b}
        for n, (h, b) in ((n, parse_pipe_table(blocks[n])) for n in TABLES)
    }
    coco = rows[3][label]
    assert (coco["mAP"], coco["cat"], coco["fire hydrant"], coco["bus"]) == (
        "30.3",
        "55.1",
        "40.0",
        MISSING,
    )  # half up
    assert parse_pipe_table(blocks[3])[1][-1][0] == label  # under the paper rows
    fgvc = rows[2][label]
    assert (fgvc["Pets37"], fgvc["Average"], fgvc["Flower102"]) == ("71.0", MISSING, MISSING)
    assert (rows[6][label]["nAP"], rows[6][label]["bAP"], rows[6][label]["mAP"]) == (MISSING, MISSING, "12.3")
    assert label not in rows[4] and label not in rows[5]


def test_average_needs_all_four_datasets(paper_dir: Path) -> None:
    accs = {"fgvc_flowers102": 70.0, "fgvc_pets37": 80.0, "fgvc_aircraft": 60.0, "fgvc_cars196": 90.05}
    run = RunResult.from_metrics("M", "1", "p", "f", {task: {"accuracy": v} for task, v in accs.items()})
    _, body = parse_pipe_table(_blocks(render_tables(paper_dir, [run]))[2])
    assert body[-1][1:] == ["75.0", "70.0", "80.0", "60.0", "90.1"]


def test_runs_with_nothing_relevant_or_empty_metrics_do_not_break(paper_only: str, paper_dir: Path) -> None:
    runs = [_run(other_task={"score": 1.0}), _run(coco_fewshot={}), _run(lvis_fewshot={"AP/zebra": 3.0})]
    blocks = _blocks(render_tables(paper_dir, runs))
    # an empty task dict still counts as "has the task": an all-dash row flags a run that produced nothing
    assert parse_pipe_table(blocks[3])[1][-1][1:] == [MISSING] * 9
    assert parse_pipe_table(blocks[4])[1][-1][1:] == [MISSING] * 7
    for n in (2, 5, 6):
        assert blocks[n] == _blocks(paper_only)[n]
    assert render_tables(paper_dir, []) == paper_only


def test_step_in_label() -> None:
    run = _run(step=200)
    assert run.label == "Qwen2-VL-2B (task v3, zero-shot, official, step 200)"
    assert RunResult("M", "v2", "p", "f").label == "M (task v2, p, f)"


def test_from_metrics_scales_and_rejects_non_numbers() -> None:
    run = RunResult.from_metrics("M", "1", "p", "f", {"coco_ov": {"mAPn": 0.25, "n": 4}}, scale=100.0)
    assert run.metrics == {"coco_ov": {"mAPn": 25.0, "n": 400.0}}
    with pytest.raises(TypeError, match=r"metrics\['coco_ov'\]\['mAPn'\]"):
        RunResult.from_metrics("M", "1", "p", "f", {"coco_ov": {"mAPn": "25"}})  # type: ignore[dict-item]
    with pytest.raises(TypeError, match="coco_ov"):
        RunResult.from_metrics("M", "1", "p", "f", {"coco_ov": 25.0})  # type: ignore[dict-item]
    with pytest.raises(TypeError, match="flag"):
        RunResult.from_metrics("M", "1", "p", "f", {"coco_ov": {"flag": True}})


def test_compare_table() -> None:
    a = _run(coco_fewshot={"mAP": 19.6, "AP/cat": 29.9}, other={"z": 1.0})
    b = _run(step=200, coco_fewshot={"mAP": 33.64, "AP/bus": 23.4}, fgvc_pets37={"accuracy": 50.0})
    text = render_compare(a, b)
    assert f"- A: {a.label}" in text and f"- B: {b.label}" in text
    header, body = parse_pipe_table(text)
    assert header == ["task", "metric", "A", "B", "B−A"]
    assert body == [
        ["fgvc_pets37", "accuracy", MISSING, "50.0", MISSING],
        ["coco_fewshot", "mAP", "19.6", "33.6", "+14.0"],
        ["coco_fewshot", "AP/bus", MISSING, "23.4", MISSING],
        ["coco_fewshot", "AP/cat", "29.9", MISSING, MISSING],
        ["other", "z", "1.0", MISSING, MISSING],
    ]
    assert render_compare(a, b) == text
    _, same = parse_pipe_table(render_compare(a, a))
    assert [r[4] for r in same] == ["+0.0", "+0.0", "+0.0"]
    _, down = parse_pipe_table(render_compare(b, a))
    assert down[1][4] == "-14.0"
