"""`vrft demo --fast` end to end: every artefact exists and is well formed (no wall-clock assertions)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image


@pytest.mark.slow
def test_demo_fast_artefacts(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    res = subprocess.run([sys.executable, "-m", "harness.cli", "demo", "--fast", "--out", str(out)],
                         capture_output=True, text=True, timeout=900, check=False)
    assert res.returncode == 0, res.stderr[-3000:]
    summary = json.loads((out / "demo_summary.json").read_text())
    tasks = summary["tasks"]
    assert set(tasks) == {"fgvc_flowers102", "coco_fewshot", "lisa_grounding"}
    metric_table, reward_table = (out / "tables.md").read_text().split("Held-out mean verifier reward")
    baseline_row = next(line for line in metric_table.splitlines() if "(baseline)" in line)
    rft_row = next(line for line in metric_table.splitlines() if line.startswith("| + Visual-RFT"))
    reward_rows = [line for line in reward_table.splitlines() if "(baseline)" in line or "+ Visual-RFT" in line]
    for name, t in tasks.items():
        assert (Path(t["baseline_run"]) / "metrics.json").is_file(), name
        assert (Path(t["visual_rft_run"]) / "metrics.json").is_file(), name
        assert f"{t['baseline']:.1f}" in baseline_row
        assert f"{t['visual_rft']:.1f}" in rft_row
        assert t["delta"] == pytest.approx(t["visual_rft"] - t["baseline"])
        assert len(t["reward_curve"]) > 0
        # the held-out reward is the mean strict total over the run's own scores.jsonl
        for key, run, row in (("baseline", t["baseline_run"], reward_rows[0]),
                              ("visual_rft", t["visual_rft_run"], reward_rows[1])):
            rows = [json.loads(line) for line in (Path(run) / "scores.jsonl").read_text().splitlines()]
            assert t["held_out"][key]["reward"] == pytest.approx(sum(r["total"] for r in rows) / len(rows))
            assert t["held_out"][key]["parsed"] == pytest.approx(sum(r["parse"] == "ok" for r in rows) / len(rows))
            assert f"{t['held_out'][key]['reward']:.3f}" in row
        assert (Path(t["grpo_model"]) / "config.json").is_file()
    with Image.open(out / "reward_curves.png") as img:
        assert img.format == "PNG" and img.size[0] > 100 and img.size[1] > 100
    assert sorted(summary["improved"]) == sorted(n for n, t in tasks.items() if round(t["delta"], 1) > 0)
    assert "where everything is" in res.stdout and "--fast checks the plumbing" in res.stdout
    # COCO trains on the training tree's evaluation annotations: opted in explicitly, and said so
    training = summary["training_data"]
    assert training["coco_fewshot"]["eval_set"] is True and training["coco_fewshot"]["allow_eval_set_for_training"]
    assert training["coco_fewshot"]["held_out_train_overlap"] == 0  # the test tree is another seed
    assert not any(training[t]["eval_set"] for t in ("fgvc_flowers102", "lisa_grounding"))
    assert "coco_fewshot samples its k-shot training images from the evaluation annotations" in res.stdout
    assert "--allow-eval-set-for-training" in (out / "tables.md").read_text()
