"""The demo's table and its "improved" count, from known results (no model)."""

from __future__ import annotations

from train_plugin.demo.report import BASELINE_ROW, RFT_ROW, TaskResult, render_table


def _result(task: str, before: float | None, after: float | None, r0: float, r1: float) -> TaskResult:
    held = {"baseline": {"reward": r0, "parsed": 1.0}, "visual_rft": {"reward": r1, "parsed": 0.5}}
    return TaskResult(task, f"{task} col", before, after, held, "b", "v", "s", "g", [0.1, 0.2])


def test_table_rows_deltas_and_rewards() -> None:
    results = [_result("cls", 25.0, 99.0, 0.25, 0.99), _result("det", 0.0, 0.04, 0.0, 0.035),
               _result("gnd", 3.72, 5.15, 0.0372, 0.0516), _result("broken", None, 3.0, 0.1, 0.2)]
    text = render_table(results, "caption")
    metric, reward = text.split("Held-out mean verifier reward")
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]]
            for line in metric.splitlines() if line.startswith("| ") and "Model" not in line}
    assert rows[BASELINE_ROW] == ["25.0", "0.0", "3.7", "–"]
    assert rows[RFT_ROW] == ["99.0 +74.0", "0.0 +0.0", "5.2 +1.4", "3.0"]
    reward_rows = [line for line in reward.splitlines() if line.startswith("| ") and "Model" not in line]
    assert "0.990 +0.740" in reward_rows[1] and "0.035 +0.035" in reward_rows[1] and "0.052 +0.014" in reward_rows[1]
    # a gain the one-decimal table does not show is not counted (one lucky box: 0.0 -> 0.04 mAP)
    assert [r.task for r in results if r.improved] == ["cls", "gnd"]
    assert results[1].delta is not None and results[1].delta > 0 and not results[1].improved
