"""What `vrft demo` reports: one result per task, the tables in the paper's layout, the reward curves and the
closing summary. Kept apart from `train_plugin.demo.run`, which runs the stages (hyperparameters:
`train_plugin.demo.plan`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

BASELINE_ROW, RFT_ROW = "Tiny Qwen2-VL + SFT warm start (baseline)", "+ Visual-RFT"


@dataclass
class TaskResult:
    task: str
    column: str
    baseline: float | None
    visual_rft: float | None
    held_out: dict[str, dict[str, float | None]]  # "baseline" / "visual_rft" -> reward, parsed share
    baseline_run: str
    visual_rft_run: str
    sft_model: str
    grpo_model: str
    reward_curve: list[float]

    @property
    def delta(self) -> float | None:
        return None if self.baseline is None or self.visual_rft is None else self.visual_rft - self.baseline

    @property
    def improved(self) -> bool:
        """A gain the table shows (one decimal, as the paper prints): 0.0 -> 0.04 mAP is one lucky box, not an
        improvement the summary should count."""
        return self.delta is not None and round(self.delta, 1) > 0


def render_table(results: list[TaskResult], caption: str) -> str:
    """Markdown in the paper's layout (tasks as columns, the "+ Visual-RFT" row with its delta inline), then
    the held-out mean verifier reward, the quantity GRPO maximises, which moves even where the metric cannot."""
    import pandas as pd

    def cell(v: float | None, d: float | None = None, fmt: str = ".1f") -> str:
        return "–" if v is None else f"{v:{fmt}}" + ("" if d is None else f" {d:+{fmt}}")

    def markdown(rows: list[list[str]], columns: list[str]) -> str:
        frame = pd.DataFrame(rows, columns=["Model", *columns])
        return frame.to_markdown(index=False, tablefmt="pipe", disable_numparse=True,
                                 colalign=["left"] + ["right"] * len(results))

    def reward(r: TaskResult, key: str) -> float | None:
        return r.held_out[key]["reward"]

    def gain(r: TaskResult) -> float | None:
        a, b = reward(r, "visual_rft"), reward(r, "baseline")
        return None if a is None or b is None else a - b

    main = markdown([[BASELINE_ROW, *(cell(r.baseline) for r in results)],
                     [RFT_ROW, *(cell(r.visual_rft, r.delta) for r in results)]], [r.column for r in results])
    rewards = markdown([[BASELINE_ROW, *(cell(reward(r, "baseline"), fmt=".3f") for r in results)],
                        [RFT_ROW, *(cell(reward(r, "visual_rft"), gain(r), ".3f") for r in results)]],
                       [r.task for r in results])  # a reward, not the metric the first table's columns name
    return (f"{caption}\n\n{main}\n\nHeld-out mean verifier reward (strict total, the quantity GRPO "
            f"maximises):\n\n{rewards}\n")


def plot_rewards(results: list[TaskResult], path: Path) -> Path:
    """One line per task: mean total reward per GRPO step (TRL's logged ``reward``)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 4.0), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for r in results:
        ax.plot(range(1, len(r.reward_curve) + 1), r.reward_curve, marker=".", label=r.task)
    ax.set_xlabel("GRPO step")
    ax.set_ylabel("mean total reward (strict verifier)")
    ax.set_title("vrft demo: reward during GRPO")
    ax.legend(fontsize=8)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", metadata={"Software": None})
    return path


def eval_set_note(training: dict[str, dict[str, Any]]) -> str:
    """The tasks whose training samples came from evaluation annotations (``--allow-eval-set-for-training``),
    where from, and how many held-out images they share with them; "" when none did."""
    notes = []
    for task, d in training.items():
        if d.get("eval_set"):
            shared = d.get("held_out_train_overlap")
            notes.append(
                f"{task} samples its k-shot training images from the evaluation annotations of the synthetic "
                f"training tree ({d.get('sampled_from')}), an explicit --allow-eval-set-for-training; the held-out "
                f"test tree is another synthetic seed and shares {'an unknown number of' if shared is None else shared}"
                " images with them."
            )
    return " ".join(notes)


def peak_memory_mib(s: dict[str, Any]) -> float:
    """The demo's peak memory: the sampled PSS sum of its processes, or (no /proc) its own peak RSS."""
    return float(s["peak_memory_mib"] if s.get("peak_memory_mib") is not None else s["peak_rss_mb"]["self"])


def memory_text(s: dict[str, Any]) -> str:
    kind = "summed PSS of its processes" if s.get("peak_memory_mib") is not None else "RSS of the main process"
    return f"{peak_memory_mib(s):.0f} MiB ({kind})"


def summary_text(s: dict[str, Any], tables: Path) -> str:
    p = s["paths"]
    lines = ["", tables.read_text(encoding="utf-8"), "where everything is:"]
    lines += [f"  {k:<12} {v}" for k, v in p.items()]
    lines += [f"  {t:<12} baseline run {r['baseline_run']}\n  {'':<12} + Visual-RFT {r['visual_rft_run']}"
              for t, r in s["tasks"].items()]
    lines.append(f"GRPO improved the held-out metric on {len(s['improved'])}/{len(s['tasks'])} task(s); "
                 f"wall {s['timings_s']['total']:.0f} s with {s['jobs']} task(s) at once, peak memory "
                 f"{memory_text(s)}")
    if s["fast"]:
        lines.append("(--fast checks the plumbing: its few steps are not meant to move the metrics; run `vrft demo` "
                     "without --fast to see GRPO's effect)")
    return "\n".join(lines)
