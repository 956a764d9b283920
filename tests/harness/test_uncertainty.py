"""Per-metric bootstrap intervals in metrics.json (issue 18): every headline metric of every task family has
an interval whose point estimate is the reported metric; the seed and replicates are recorded; `vrft score
RUN_DIR` recomputes the same intervals from the stored generations."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from harness.cli import main
from harness.paired import paired_intervals
from harness.score_cmd import score_run
from tasks.registry import get_task
from tasks.synthetic import write_synthetic

TASKS = ("fgvc_pets37", "coco_ov", "lvis_fewshot", "lisa_grounding")  # every family; COCO with novel/base
N = 50


def _eval(gens: Path, root: Path, run: Path, profile: str) -> list[str]:
    return [
        "eval", "--backend", "replay", "--model", str(gens), "--tasks", ",".join(TASKS), "--data-root", str(root),
        "--run-dir", str(run), "--profile", profile, "--task-arg", "limit=4", "--bootstrap", str(N),
    ]  # fmt: skip


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("uncertainty")
    root = tmp / "data"
    write_synthetic(root)
    gens = tmp / "saved.jsonl"
    with gens.open("w") as f:
        for name in TASKS:  # two answers in three right: intervals of non-zero width
            for i, r in enumerate(get_task(name, root, limit=4).requests()):
                text = "<think>x</think>" + r.solution if i % 3 else "<answer>No Objects</answer> (10,10),(20,20)"
                f.write(json.dumps({"request_id": r.request_id, "text": text}) + "\n")
    out = {profile: tmp / profile for profile in ("strict", "official")}
    for profile, run in out.items():
        assert main(_eval(gens, root, run, profile)) == 0
    right = tmp / "right.jsonl"  # every answer right: run B of the comparisons
    with right.open("w") as f:
        for name in TASKS:
            for r in get_task(name, root, limit=4).requests():
                f.write(json.dumps({"request_id": r.request_id, "text": "<think>x</think>" + r.solution}) + "\n")
    out["better"] = tmp / "better"
    assert main(_eval(right, root, out["better"], "strict")) == 0
    return out


def _cells(line: str) -> list[str]:
    return [c.strip() if c.strip(" -:") else "---" for c in line.split("|")]


def _metrics(run: Path, name: str = "metrics.json") -> dict:
    return json.loads((run / name).read_text())


@pytest.mark.parametrize("profile", ["strict", "official"])
def test_every_headline_metric_has_an_interval_around_the_reported_value(runs: dict[str, Path], profile: str) -> None:
    metrics = _metrics(runs[profile])
    for task in TASKS:
        m = metrics[task]
        unc = m["uncertainty"]
        assert (unc["seed"], unc["n_replicates"], unc["unit"], unc["confidence"]) == (0, N, "image", 0.95)
        expected = {"accuracy"} if task.startswith("fgvc") else {"mIoU_val", "mIoU_test"} if "lisa" in task else {
            "mAP", "AP50", *(k for k in m if k.startswith(("AP/", "AP50/")))
        }  # fmt: skip
        if task.startswith("lvis"):
            expected |= {"mAP_standard", "mAP_official_area_mean"}
        if task == "coco_ov":
            expected |= {"mAPn", "mAPb", "mAPall"}
        assert expected <= set(unc["metrics"]), (task, sorted(expected - set(unc["metrics"])))
        assert len(expected) > 1 or task.startswith("fgvc")
        for key, iv in unc["metrics"].items():
            assert iv["estimate"] == m[key], (task, key)  # exactly the reported number
            if iv["estimate"] is not None and iv["n_defined"] == N:
                assert iv["low"] <= iv["high"] and iv["se"] >= 0.0, (task, key)
        widths = [iv["high"] - iv["low"] for iv in unc["metrics"].values() if iv["low"] is not None]
        assert any(w > 0 for w in widths), task  # the resampling does move the metric


def test_lvis_official_headline_is_the_area_mean(runs: dict[str, Path]) -> None:
    m = _metrics(runs["official"])["lvis_fewshot"]
    unc = m["uncertainty"]["metrics"]
    assert unc["mAP"]["estimate"] == m["mAP_official_area_mean"] == unc["mAP_official_area_mean"]["estimate"]


def test_rescoring_recomputes_identical_intervals_for_the_same_seed(runs: dict[str, Path], tmp_path: Path) -> None:
    run = runs["strict"]
    first = _metrics(run)
    assert main(["score", str(run), "--bootstrap", str(N), "--out", str(tmp_path / "a")]) == 0
    again = _metrics(tmp_path / "a")
    for task in TASKS:
        assert again[task]["uncertainty"] == first[task]["uncertainty"], task
    assert main(["score", str(run), "--bootstrap", str(N), "--bootstrap-seed", "7", "--out", str(tmp_path / "b")]) == 0
    other = _metrics(tmp_path / "b")
    assert other["fgvc_pets37"]["uncertainty"]["seed"] == 7
    assert any(
        other[t]["uncertainty"]["metrics"] != first[t]["uncertainty"]["metrics"] for t in TASKS
    )  # another seed, other draws
    for task in TASKS:  # ... but the same point estimates
        for key, iv in other[task]["uncertainty"]["metrics"].items():
            assert iv["estimate"] == first[task]["uncertainty"]["metrics"][key]["estimate"]


def test_bootstrap_zero_switches_off_and_is_recorded(runs: dict[str, Path], tmp_path: Path) -> None:
    assert main(["score", str(runs["strict"]), "--bootstrap", "0", "--out", str(tmp_path)]) == 0
    for task, m in _metrics(tmp_path).items():
        assert m["uncertainty"] == {"n_replicates": 0, "seed": 0, "unit": "image", "metrics": {}}, task


def test_default_is_1000_replicates(runs: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VRFT_BOOTSTRAP", raising=False)
    report = score_run(runs["strict"], out=tmp_path)
    assert all(m["uncertainty"]["n_replicates"] == 1000 for m in report.values())
    assert _metrics(tmp_path)["fgvc_pets37"]["uncertainty"]["n_replicates"] == 1000


def test_bad_replicate_counts_are_refused(runs: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SystemExit):
        main(["score", str(runs["strict"]), "--bootstrap", "-1"])
    monkeypatch.setenv("VRFT_BOOTSTRAP", "many")
    assert main(["score", str(runs["strict"])]) == 2


def test_paired_intervals_of_identical_runs_are_exactly_zero(runs: dict[str, Path]) -> None:
    paired = paired_intervals(runs["strict"], runs["strict"], bootstrap=N)
    assert set(paired) == set(TASKS)
    for task, entry in paired.items():
        for key, d in entry["metrics"].items():
            if d["estimate"] is not None:
                assert (d["estimate"], d["low"], d["high"], d["p_value"]) == (0.0, 0.0, 0.0, 1.0), (task, key)


def test_paired_intervals_match_the_two_runs_metrics(runs: dict[str, Path]) -> None:
    a, b = _metrics(runs["strict"]), _metrics(runs["better"])
    paired = paired_intervals(runs["strict"], runs["better"], bootstrap=N, bootstrap_seed=3)
    assert paired["fgvc_pets37"]["seed"] == 3 and paired["fgvc_pets37"]["n_replicates"] == N
    for task in TASKS:
        for key, d in paired[task]["metrics"].items():
            assert (d["a"], d["b"]) == (a[task][key], b[task][key]), (task, key)
            if d["a"] is not None and d["b"] is not None:
                assert d["estimate"] == pytest.approx(b[task][key] - a[task][key])
    acc = paired["fgvc_pets37"]["metrics"]["accuracy"]
    assert acc["estimate"] > 0 and acc["low"] >= 0.0 and acc["high"] > 0 and 0.0 < acc["p_value"] <= 1.0
    # the same seed gives the same comparison
    assert paired_intervals(runs["strict"], runs["better"], bootstrap=N, bootstrap_seed=3) == paired


def test_tables_compare_prints_paired_intervals_and_p(
    runs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["tables", "--compare", str(runs["strict"]), str(runs["better"]), "--bootstrap", str(N)]) == 0
    out = capsys.readouterr().out
    assert "95% CI (B−A)" in out
    assert f"paired image-level bootstrap: {N} replicates, seed 0" in out
    row = next(line for line in out.splitlines() if line.startswith("| fgvc_pets37") and "| accuracy " in line)
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[5].startswith("[") and cells[5].endswith("]") and cells[6] not in ("", "–")
    assert main(["tables", "--compare", str(runs["strict"]), str(runs["strict"]), "--bootstrap", str(N)]) == 0
    same = capsys.readouterr().out
    row = next(line for line in same.splitlines() if line.startswith("| fgvc_pets37") and "| accuracy " in line)
    assert [c.strip() for c in row.strip("|").split("|")][4:] == ["+0.0", "[+0.0, +0.0]", "1.000"]
    assert main(["tables", "--compare", str(runs["strict"]), str(runs["better"]), "--bootstrap", "0"]) == 0
    assert "95% CI" not in capsys.readouterr().out  # switched off: the plain comparison


def test_one_run_compare_pairs_strict_and_official(runs: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tables", "--compare", str(runs["strict"]), "--bootstrap", str(N)]) == 0
    out = capsys.readouterr().out
    assert "95% CI (B−A)" in out and "paired image-level bootstrap" in out


def test_tables_ci_prints_run_intervals_and_leaves_paper_rows(
    runs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    acc = _metrics(runs["strict"])["fgvc_pets37"]["uncertainty"]["metrics"]["accuracy"]
    assert main(["tables", "--runs", str(runs["strict"])]) == 0
    plain = capsys.readouterr().out
    assert main(["tables", "--runs", str(runs["strict"]), "--ci"]) == 0
    pm = capsys.readouterr().out
    assert main(["tables", "--runs", str(runs["strict"]), "--ci", "interval"]) == 0
    interval = capsys.readouterr().out
    run_lines = [i for i, line in enumerate(plain.splitlines()) if runs["strict"].name in line or "(task v" in line]
    assert run_lines
    for i, (a, b, c) in enumerate(zip(plain.splitlines(), pm.splitlines(), interval.splitlines(), strict=True)):
        if i not in run_lines:
            assert _cells(a) == _cells(b) == _cells(c)  # paper rows unchanged (only the padding may differ)
    half = f"{(acc['high'] - acc['low']) / 2:.1f}"
    assert f" ± {half}" in pm and f"[{acc['low']:.1f}, {acc['high']:.1f}]" in interval


def test_figures_draw_error_bars_from_the_run_intervals(runs: dict[str, Path], tmp_path: Path) -> None:
    from harness.tables.figures import _error_bars, plot_table
    from harness.tables.paper import load_tables, shipped_paper_dir
    from harness.tables.render import column_value
    from harness.tables.runs import load_run

    run = load_run(runs["strict"])
    table = next(t for t in load_tables(shipped_paper_dir()) if "fgvc_pets37" in t.tasks)
    heights = [v if (v := column_value(table, c, run)) is not None else float("nan") for c in table.columns]
    bars = _error_bars(table, run, heights)
    assert bars is not None
    j = next(i for i, c in enumerate(table.columns) if c.task == "fgvc_pets37" and c.metric_key == "accuracy")
    iv = _metrics(runs["strict"])["fgvc_pets37"]["uncertainty"]["metrics"]["accuracy"]
    assert bars[0][j] == pytest.approx(iv["estimate"] - iv["low"]) and bars[1][j] == pytest.approx(
        iv["high"] - iv["estimate"]
    )
    assert _error_bars(table, replace(run, intervals={}), heights) is None  # no interval: no error bars
    assert plot_table(table, [run], tmp_path / "t.png").stat().st_size > 0
