"""PNG figures: paper vs our runs per table (grouped bars), and metric-vs-training-step curves.

Figures are built on a bare ``matplotlib.figure.Figure`` with the Agg canvas, never ``pyplot``:
no global backend switch, no GUI, no figures leaking between calls, so this is safe inside the
CLI, tests and worker processes. PNG metadata carries no software version, so the same inputs
give the same bytes on one matplotlib install ("deterministic-ish": fonts differ across machines).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_hex
from matplotlib.figure import Figure

from harness.tables.paper import PaperTable, load_tables
from harness.tables.render import RunResult, column_value
from tasks.registry import headline_metrics

HEADLINE_METRIC: Mapping[str, str] = headline_metrics()
"""The number a curve shows per task by default: each registry row's ``headline``."""

_RUN_COLORS = ("#e41a1c", "#984ea3", "#ff7f00", "#a65628", "#f781bf", "#4daf4a")


def plot_family(
    paper_dir: Path, runs: Sequence[RunResult], out_dir: Path, *, tables: Sequence[int] | None = None
) -> list[Path]:
    """One bar chart per paper table (``table<N>.png`` in ``out_dir``); returns the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for table in load_tables(paper_dir):
        if tables is None or table.table in tables:
            written.append(plot_table(table, runs, out_dir / f"table{table.table}.png"))
    return written


def plot_table(table: PaperTable, runs: Sequence[RunResult], out_path: Path) -> Path:
    """Grouped bars: x = the table's columns, one bar per paper row and per run with data for it."""
    series: list[tuple[str, list[float], str, str, list[list[float]] | None]] = []
    paper_cmap = colormaps["viridis"]  # paper rows: one calm gradient; runs: loud hatched colours
    for i, row in enumerate(table.rows):
        heights = [float(row.values[c.key] or "nan") for c in table.columns]
        shade = to_hex(paper_cmap(i / max(1, len(table.rows) - 1)))
        series.append((f"paper: {row.model} {row.setting}", heights, shade, "", None))
    relevant = [r for r in runs if any(t in r.metrics for t in table.tasks)]
    for i, run in enumerate(relevant):
        heights = [_nan(column_value(table, c, run)) for c in table.columns]
        color = _RUN_COLORS[i % len(_RUN_COLORS)]
        series.append((run.label_for(table.tasks), heights, color, "//", _error_bars(table, run, heights)))

    width_in = min(24.0, max(8.0, 1.5 + 0.2 * len(series) * len(table.columns)))
    fig = Figure(figsize=(width_in, 5.5), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    width = 0.85 / len(series)
    for s, (label, heights, color, hatch, yerr) in enumerate(series):
        xs = [c + (s - (len(series) - 1) / 2) * width for c in range(len(table.columns))]
        ax.bar(xs, heights, width, label=label, color=color, hatch=hatch, edgecolor="black", linewidth=0.3)
        if yerr is not None:  # the run's 95 % bootstrap intervals
            ax.errorbar(xs, heights, yerr=yerr, fmt="none", ecolor="black", elinewidth=0.8, capsize=2)
    ax.set_xticks(range(len(table.columns)), [c.header for c in table.columns])
    ax.set_ylabel(table.metric)
    ax.set_title(f"Table {table.table}: paper vs runs ({len(relevant)} run(s))")
    fig.legend(fontsize=7, ncol=3, loc="outside lower center")
    return _save(fig, out_path)


def _error_bars(table: PaperTable, run: RunResult, heights: list[float]) -> list[list[float]] | None:
    """``[below, above]`` per column from the run's 95 % bootstrap intervals (0 where it has none); None when
    the run has no interval for any column (no error bars drawn)."""
    below, above, any_interval = [], [], False
    for column, h in zip(table.columns, heights, strict=True):
        iv = None
        if column.task is not None and column.metric_key is not None and not column.mean_of and not math.isnan(h):
            iv = run.intervals.get(column.task, {}).get(column.metric_key)
        below.append(max(0.0, h - iv[0]) if iv else 0.0)
        above.append(max(0.0, iv[1] - h) if iv else 0.0)
        any_interval = any_interval or iv is not None
    return [below, above] if any_interval else None


def plot_curve(
    runs_with_step: Sequence[RunResult],
    out_path: Path,
    *,
    metrics: Mapping[str, str] | None = None,
    title: str = "Metric vs training step",
) -> Path:
    """Figure 7 style: one panel per task, one line per run series (same label minus step).

    ``metrics`` maps task -> metric key to plot (default :data:`HEADLINE_METRIC`, else the task's
    first key alphabetically). Runs without ``step`` are ignored; with none left the PNG says so.
    """
    choice = {**HEADLINE_METRIC, **(metrics or {})}
    stepped = [r for r in runs_with_step if r.step is not None]
    tasks = sorted({t for r in stepped for t, values in r.metrics.items() if values})
    panels = [(t, choice.get(t) or min(k for r in stepped for k in r.metrics.get(t, {}))) for t in tasks]

    fig = Figure(figsize=(4.2 * max(1, len(panels)), 3.6), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    if not panels:
        ax = fig.add_subplot()
        ax.text(0.5, 0.5, "no runs with a training step", ha="center", va="center")
        ax.set_axis_off()
        return _save(fig, out_path)
    for p, (task, key) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), p + 1)
        for n, (label, points) in enumerate(sorted(_series(stepped, task, key).items())):
            xs, ys = zip(*sorted(points), strict=True)
            ax.plot(xs, ys, marker="o", label=label, color=_RUN_COLORS[n % len(_RUN_COLORS)])
        ax.set_title(task, fontsize=9)
        ax.set_xlabel("step")
        ax.set_ylabel(key)
        if ax.lines:
            ax.legend(fontsize=6)
    fig.suptitle(title)
    return _save(fig, out_path)


def _series(runs: Sequence[RunResult], task: str, key: str) -> dict[str, list[tuple[int, float]]]:
    """(step, value) points per run series; a series is a run label without its step."""
    out: dict[str, list[tuple[int, float]]] = {}
    for run in runs:
        value = run.value(task, key)
        if value is None or run.step is None:
            continue
        series = RunResult(run.model, run.task_version, run.protocol, run.profile, subsets=run.subsets,
                           train_overlap=run.train_overlap)
        out.setdefault(series.label_for([task]), []).append((run.step, value))
    return out


def _nan(value: float | None) -> float:
    return math.nan if value is None else value


def _save(fig: Figure, out_path: Path) -> Path:
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_path, format="png", bbox_inches="tight", metadata={"Software": None})
    return out_path
