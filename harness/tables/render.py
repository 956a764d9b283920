"""Markdown for the paper's Tables 2-6, with our runs as extra rows, and a two-run comparison.

The paper rows come only from ``results/paper/`` (see :mod:`harness.tables.paper`); Δs are computed
here from each fine-tuned row and its ``delta_vs`` baseline, in the paper's layout (inline after the
value, or a separate "Δ" row). Where the computed Δ disagrees with the printed one the cell carries
a "†" and a footnote gives the printed value, so the table never silently contradicts the paper.
Output is deterministic: no timestamps, no dict-order surprises, runs in the order given.

Run schema (:class:`RunResult`): label parts plus ``metrics[task][metric_key] -> float`` on the
paper's scale (percent, 0-100; build with ``RunResult.from_metrics(..., scale=100.0)`` when a
``metrics.json`` stores fractions). The keys read per task are ``paper.TASK_METRIC_KEYS``, derived from
each `tasks.registry` row's ``paper_keys`` (``AP/<category>`` per category for the detection tables); a
column a row lists in ``paper_pending`` is not produced by its task yet and shows "–".

Other tasks/keys are kept (``render_compare`` shows them) but feed no paper column. A missing key
or a non-finite value renders as "–".
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from harness.tables.paper import (
    TASK_METRIC_KEYS,
    Column,
    PaperRow,
    PaperTable,
    compute_delta,
    format_delta,
    format_number,
    load_tables,
)

MISSING = "–"
MISMATCH = "†"


@dataclass(frozen=True)
class Seeded:
    """A run's training `seed`; `group`: a hash of everything its seed siblings share; `name`: the training's
    name for the group row (``grpo coco_fewshot_4shot``) when the siblings' model names differ."""

    seed: int
    group: str
    name: str = ""


@dataclass(frozen=True)
class Subset:
    """A task evaluated on `n` of its `total` images (``--limit``); `total` None when unknown."""

    n: int
    total: int | None

    def __str__(self) -> str:
        return f"{self.n}/{self.total if self.total is not None else '?'}"


@dataclass(frozen=True)
class RunResult:
    """One evaluated run: what was run (label parts) and its metrics per task (percent scale).

    `subsets`: the tasks evaluated on part of their images (every label says so); `train_overlap`: task ->
    how many of its evaluated images the model was trained on, for the tasks where that is > 0 (every label
    says so too); `request_sets`: task -> hash of its request ids (`render_compare` refuses to subtract runs
    over different sets); `source`: where the run was read from (error messages); `intervals`: task -> key ->
    the 95 % bootstrap interval (low, high) from metrics.json's ``uncertainty`` (``--ci``); `seeded`: the
    training seed and its seed group (`harness.tables.seeds`), None for a run whose seed is not recorded."""

    model: str
    task_version: str
    protocol: str
    profile: str
    metrics: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    step: int | None = None
    subsets: Mapping[str, Subset] = field(default_factory=dict)
    request_sets: Mapping[str, str] = field(default_factory=dict)
    source: str = ""
    train_overlap: Mapping[str, int] = field(default_factory=dict)
    intervals: Mapping[str, Mapping[str, tuple[float, float]]] = field(default_factory=dict)
    seeded: Seeded | None = None

    @classmethod
    def from_metrics(
        cls,
        model: str,
        task_version: str,
        protocol: str,
        profile: str,
        metrics: Mapping[str, Mapping[str, float]],
        *,
        step: int | None = None,
        scale: float = 1.0,
    ) -> RunResult:
        """Copy and check ``metrics`` (task -> key -> number), multiplying by ``scale``.

        Raises ``TypeError`` naming task and key for a non-numeric value, so a malformed
        metrics.json fails here rather than as a blank cell.
        """
        clean: dict[str, dict[str, float]] = {}
        for task, values in metrics.items():
            if not isinstance(values, Mapping):
                kind = type(values).__name__
                raise TypeError(f"metrics[{task!r}] is {kind}; expected {{metric_key: number}}")
            clean[str(task)] = {}
            for key, value in values.items():
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise TypeError(f"metrics[{task!r}][{key!r}]={value!r}: expected a number")
                clean[str(task)][str(key)] = float(value) * scale
        return cls(model, task_version, protocol, profile, clean, step)

    @property
    def label(self) -> str:
        """``model (task vX, protocol, profile[, step N][, n=4/5000 images][, train∩test = 32 images])`` as shown
        in the tables and figures; a run over part of some task's images, or over images the model was trained
        on, always says so."""
        return self.label_for(None)

    def label_for(self, tasks: Iterable[str] | None) -> str:
        """The label, its subset and overlap notes restricted to `tasks` (a table's tasks; None: all of them)."""
        tasks = None if tasks is None else list(tasks)
        overlap = self.overlap_note(tasks)
        return f"{self.model} ({', '.join(self.label_parts(tasks) + ([overlap] if overlap else []))})"

    def label_parts(self, tasks: list[str] | None) -> list[str]:
        """What the label says in brackets, but the overlap note: task version, protocol, profile, step, subset."""
        version = self.task_version if self.task_version.startswith("v") else f"v{self.task_version}"
        parts = [f"task {version}", self.protocol, self.profile]
        if self.step is not None:
            parts.append(f"step {self.step}")
        if note := self.subset_note(tasks):
            parts.append(note)
        return parts

    def overlap_note(self, tasks: Iterable[str] | None = None) -> str:
        """``train∩test = 32 images`` (distinct counts joined by ", ") for the tasks among `tasks` whose evaluated
        images include training images of the model; "" if none."""
        wanted = set(self.train_overlap) if tasks is None else set(tasks) & set(self.train_overlap)
        counts = list(dict.fromkeys(str(self.train_overlap[t]) for t in sorted(wanted)))
        return f"train∩test = {', '.join(counts)} images" if counts else ""

    def subset_note(self, tasks: Iterable[str] | None = None) -> str:
        """``n=4/5000 images`` (distinct counts joined by ", ") for the subset tasks among `tasks`; "" if none."""
        wanted = set(self.subsets) if tasks is None else set(tasks) & set(self.subsets)
        counts = list(dict.fromkeys(str(self.subsets[t]) for t in sorted(wanted)))
        return f"n={', '.join(counts)} images" if counts else ""

    def value(self, task: str, key: str) -> float | None:
        """The metric, or None when absent or not finite."""
        v = self.metrics.get(task, {}).get(key)
        return v if v is not None and math.isfinite(v) else None

    def table_rows(self, table: PaperTable, ci: str | None = None) -> list[list[str]]:
        """This run's row of `table` (label, then one cell per column; ``ci``: see `table_grid`), none when
        the run reports none of the table's tasks."""
        if not any(task in self.metrics for task in table.tasks):
            return []
        return [[self.label_for(table.tasks), *(_run_cell(table, c, self, ci) for c in table.columns)]]


class TableRun(Protocol):
    """What the tables show below the paper rows: a `RunResult`, or a `harness.tables.seeds.SeedGroup`."""

    def table_rows(self, table: PaperTable, ci: str | None = None) -> list[list[str]]: ...


def column_value(table: PaperTable, column: Column, run: RunResult) -> float | None:
    """A run's number for one paper column; ``mean_of`` columns need every part present."""
    if column.mean_of:
        parts = [column_value(table, c, run) for c in table.columns if c.key in column.mean_of]
        known = [p for p in parts if p is not None]
        return sum(known) / len(known) if known and len(known) == len(parts) else None
    if column.task is None or column.metric_key is None:
        return None
    return run.value(column.task, column.metric_key)


def render_tables(
    paper_dir: Path, runs: Sequence[TableRun] = (), *, all_deltas: bool = False, ci: str | None = None
) -> str:
    """Tables 2-6 as markdown: paper rows in print order, then one row per relevant run.

    ``all_deltas`` also shows Δs the paper does not print (SFT rows vs their baseline); ``ci``: see `table_grid`.
    """
    blocks = [render_table(t, runs, all_deltas=all_deltas, ci=ci) for t in load_tables(paper_dir)]
    return "\n".join(blocks)


def render_table(
    table: PaperTable, runs: Sequence[TableRun] = (), *, all_deltas: bool = False, ci: str | None = None
) -> str:
    """One table block: heading, verbatim caption, run-column sources, pipe table, footnotes."""
    headers, rows, footnotes = table_grid(table, runs, all_deltas=all_deltas, ci=ci)
    lines = [
        f"### Table {table.table}",
        "",
        f"Table {table.table}. {table.caption}",
        "",
        f"Metric: {table.metric}. Run rows read: {_sources(table)}.",
        "",
        _markdown(headers, rows),
    ]
    if footnotes:
        lines += [""] + [f"- {MISMATCH} {note}" for note in footnotes]
    return "\n".join(lines) + "\n"


def table_grid(
    table: PaperTable, runs: Sequence[TableRun] = (), *, all_deltas: bool = False, ci: str | None = None
) -> tuple[list[str], list[list[str]], list[str]]:
    """One table as cells: headers, rows (paper rows, Δ rows, then the rows of each relevant run or seed group;
    every cell the text the markdown shows) and footnotes. `harness.tables.export` writes the other formats from it.
    ``ci``: run cells with their 95 % bootstrap interval, ``"pm"`` as ``40.6 ± 1.2`` (half the interval's
    width), ``"interval"`` as ``40.6 [39.4, 41.8]``; paper rows and cells without an interval stay as they are."""
    if ci not in (None, "pm", "interval"):
        raise ValueError(f"ci={ci!r}: expected 'pm' or 'interval'")
    rows: list[list[str]] = []
    footnotes: list[str] = []
    for row in table.rows:
        show = bool(row.printed_deltas) or (all_deltas and row.delta_vs is not None)
        deltas = _delta_cells(table, row, footnotes) if show else {}
        if table.delta_layout == "inline":
            rows.append([row.label] + [_join(row.values[c.key], deltas.get(c.key)) for c in table.columns])
        else:
            rows.append([row.label] + [_cell(row.values[c.key]) for c in table.columns])
            if deltas:
                rows.append(["Δ"] + [deltas.get(c.key, MISSING) for c in table.columns])
    for run in runs:
        rows += run.table_rows(table, ci)
    headers = [table.label_header] + [c.header for c in table.columns]
    return headers, rows, footnotes


def _run_cell(table: PaperTable, column: Column, run: RunResult, ci: str | None) -> str:
    """A run's cell: the number, with its interval under ``ci`` where the run has one for that metric."""
    text = _number(column_value(table, column, run), table.decimals)
    iv = None
    if ci and text != MISSING and column.task is not None and column.metric_key is not None and not column.mean_of:
        iv = run.intervals.get(column.task, {}).get(column.metric_key)
    if iv is None:
        return text
    low, high = iv
    if ci == "pm":
        return f"{text} ± {format_number((high - low) / 2.0, table.decimals)}"
    return f"{text} [{format_number(low, table.decimals)}, {format_number(high, table.decimals)}]"


class DifferentSamplesError(ValueError):
    """Two runs compared over different request sets."""


def check_same_samples(run_a: RunResult, run_b: RunResult) -> list[str]:
    """The tasks both runs report whose request sets differ (by request-id hash, else by subset), each as
    ``task (A: n=4/5000 images, B: all images)``; empty when the runs can be subtracted."""
    out: list[str] = []
    for task in sorted(set(run_a.metrics) & set(run_b.metrics)):
        ha, hb = run_a.request_sets.get(task), run_b.request_sets.get(task)
        sa, sb = run_a.subsets.get(task), run_b.subsets.get(task)
        differ = ha != hb if ha is not None and hb is not None else sa != sb
        if differ:
            desc = [f"n={s} images" if s is not None else "all images" for s in (sa, sb)]
            out.append(f"{task} (A: {desc[0]}, B: {desc[1]})")
    return out


def render_compare(
    run_a: RunResult,
    run_b: RunResult,
    *,
    decimals: int = 1,
    allow_different_samples: bool = False,
    paired: Mapping[str, Mapping[str, Any]] | None = None,
) -> str:
    """Per task and metric key: A, B and B−A ("–" where either side lacks the metric). Runs over
    different request sets are refused (`DifferentSamplesError`) unless `allow_different_samples`, in
    which case the output says which tasks differ. `paired` (task -> `harness.paired.paired_intervals`
    entry): adds the 95 % interval of B−A from the paired image-level bootstrap and its two-sided p."""
    different = check_same_samples(run_a, run_b)
    if different and not allow_different_samples:
        raise DifferentSamplesError(
            f"{run_a.source or 'A'} and {run_b.source or 'B'} were evaluated on different requests: "
            f"{'; '.join(different)}. B−A would mix sample sets; rerun with the same --limit / task "
            "arguments, or pass --allow-different-samples"
        )
    rows: list[list[str]] = []
    for task in _ordered(TASK_METRIC_KEYS, set(run_a.metrics) | set(run_b.metrics)):
        keys = set(run_a.metrics.get(task, {})) | set(run_b.metrics.get(task, {}))
        for key in _ordered(TASK_METRIC_KEYS.get(task, ()), keys):
            a, b = run_a.value(task, key), run_b.value(task, key)
            diff = None if a is None or b is None else b - a
            rows.append(
                [
                    task,
                    key,
                    _number(a, decimals),
                    _number(b, decimals),
                    MISSING if diff is None else _signed(diff, decimals),
                    *([] if paired is None else _paired_cells(paired.get(task, {}), key, decimals)),
                ]
            )
    headers = ["task", "metric", "A", "B", "B−A"]
    notes: list[str] = []
    if paired is not None:
        headers += ["95% CI (B−A)", "p"]
        notes = _paired_notes(paired)
    lines = [
        "### Compare",
        "",
        f"- A: {run_a.label}",
        f"- B: {run_b.label}",
        *([f"- different samples (allowed): {'; '.join(different)}"] if different else []),
        *notes,
        "",
        _markdown(headers, rows, label_columns=2),
    ]
    return "\n".join(lines) + "\n"


def _paired_cells(entry: Mapping[str, Any], key: str, decimals: int) -> list[str]:
    """``[low, high]`` of B−A and p for one metric ("–" where the bootstrap has no value)."""
    diff = entry.get("metrics", {}).get(key)
    if not diff or diff.get("low") is None or diff.get("high") is None:
        interval = MISSING
    else:
        interval = f"[{_signed(diff['low'], decimals)}, {_signed(diff['high'], decimals)}]"
    p = None if not diff else diff.get("p_value")
    return [interval, MISSING if p is None else format_p(p)]


def format_p(p: float) -> str:
    """A p-value with three decimals; below 0.001 as ``<0.001``."""
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def _paired_notes(paired: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The bootstrap's settings, and the tasks it could not pair."""
    settings = sorted({(e["n_replicates"], e["seed"]) for e in paired.values() if "n_replicates" in e})
    out = [
        f"- paired image-level bootstrap: {n} replicates, seed {seed} (same resampled images for A and B; p two-sided)"
        for n, seed in settings
    ]
    out += [f"- {task}: no paired interval: {e['error']}" for task, e in sorted(paired.items()) if "error" in e]
    return out


def _delta_cells(table: PaperTable, row: PaperRow, footnotes: list[str]) -> dict[str, str]:
    """Computed Δ text per column; a "†" plus footnote where the paper printed something else."""
    cells: dict[str, str] = {}
    for col in table.columns:
        delta = compute_delta(table, row, col.key)
        if delta is None:
            continue
        text = format_delta(delta, table.decimals)
        printed = row.printed_deltas.get(col.key)
        if printed is not None and printed != text:
            base = table.row(row.delta_vs or "").values[col.key]
            footnotes.append(
                f"{col.header}, {row.model} {row.setting}: Δ computed from the printed values "
                f"({row.values[col.key]} − {base} = {text}); the paper prints {printed}."
            )
            text += MISMATCH
        cells[col.key] = text
    return cells


def _sources(table: PaperTable) -> str:
    """Which vrft task/metric key feeds each column, so run rows can be read unambiguously."""
    parts = []
    headers = {c.key: c.header for c in table.columns}
    for c in table.columns:
        if c.mean_of:
            parts.append(f"{c.header} = mean({', '.join(headers[k] for k in c.mean_of)})")
        else:
            parts.append(f"{c.header} = `{c.task}` {c.metric_key}")
    return "; ".join(parts)


def _markdown(headers: list[str], rows: list[list[str]], label_columns: int = 1) -> str:
    """Pipe table via pandas/tabulate; numbers stay the given strings (no re-parsing to 19.60)."""
    frame = pd.DataFrame(rows, columns=pd.Index(range(len(headers))), dtype=object)
    frame.columns = pd.Index(headers)
    align = ["left"] * label_columns + ["right"] * (len(headers) - label_columns)
    return frame.to_markdown(index=False, tablefmt="pipe", disable_numparse=True, colalign=align)


def _cell(value: str | None) -> str:
    return MISSING if value is None else value


def _number(value: float | None, decimals: int) -> str:
    return MISSING if value is None else format_number(value, decimals)


def _join(value: str | None, delta: str | None) -> str:
    """Inline layout: "80.3 +24.3"; a missing value shows "–" and never a Δ."""
    return _cell(value) if value is None or delta is None else f"{value} {delta}"


def _signed(value: float, decimals: int) -> str:
    """Round first, then sign, so -0.04 prints as +0.0 rather than -0.0."""
    return format_delta(Decimal(format_number(value, decimals)), decimals)


def _ordered(preferred: Iterable[str], present: set[str]) -> list[str]:
    """Known names in contract order first, then any others sorted (stable output)."""
    head = [p for p in preferred if p in present]
    return head + sorted(present - set(head))
