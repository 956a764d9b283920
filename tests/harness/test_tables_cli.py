"""`vrft tables` on real run directories: a run's numbers land in the right rows and columns."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.backends.base import GenerationParams
from harness.cli import main
from harness.config import EvalConfig
from harness.runner import run_eval
from harness.score_cmd import score_run
from tasks.registry import get_task
from tasks.synthetic import write_synthetic


def table_rows(markdown: str, number: int) -> list[list[str]]:
    block = markdown.split(f"### Table {number}")[1].split("### Table")[0]
    return [
        [c.strip() for c in line.strip().strip("|").split("|")]
        for line in block.splitlines()
        if line.startswith("|") and not set(line) <= set("|:- ")
    ]


def test_run_rows_in_tables_and_compare(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "data"
    write_synthetic(root)
    gens = tmp_path / "g.jsonl"
    with gens.open("w") as f:
        for name in ("fgvc_pets37", "coco_fewshot"):
            for i, r in enumerate(get_task(name, root, limit=4).requests()):
                text = "<think>x</think>" + r.solution if i % 2 == 0 else "<answer>No Objects</answer>"
                f.write(json.dumps({"request_id": r.request_id, "text": text}) + "\n")
    cfg = EvalConfig(
        model=str(gens),
        tasks=("fgvc_pets37", "coco_fewshot"),
        data_root=str(root),
        backend="replay",
        task_args={"limit": 4},
        params=GenerationParams(),
    )
    run = run_eval(cfg, tmp_path / "runs" / "r1")
    metrics = score_run(run)
    out = tmp_path / "tables.md"
    assert main(["tables", "--runs", str(tmp_path / "runs"), "--out", str(out)]) == 0
    md = out.read_text()
    header, *rows = table_rows(md, 2)
    run_row = next(r for r in rows if r[0].startswith("g.jsonl (task v1"))
    assert run_row[header.index("Pets37")] == f"{metrics['fgvc_pets37']['accuracy']:.1f}"
    assert run_row[header.index("Flower102")] == "–"  # not evaluated
    header3, *rows3 = table_rows(md, 3)
    run3 = next(r for r in rows3 if r[0].startswith("g.jsonl"))
    assert run3[header3.index("mAP")] == f"{metrics['coco_fewshot']['mAP']:.1f}"
    assert "g.jsonl" not in md.split("### Table 5")[1].split("### Table 6")[0]  # no LISA task in this run
    assert main(["tables", "--runs", str(tmp_path / "runs"), "--out", str(tmp_path / "again.md")]) == 0
    assert (tmp_path / "again.md").read_text() == md  # deterministic
    # one run: strict vs official on the same generations
    assert main(["tables", "--compare", str(run)]) == 0
    text = capsys.readouterr().out
    assert "strict" in text and "official" in text and "accuracy_official" in text
    assert (run / "metrics.official.json").is_file()
