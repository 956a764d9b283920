"""The paper's reported numbers (Tables 2-6 of Visual-RFT), loaded and validated.

The numbers are transcribed once into ``results/paper/table<N>_<name>.json`` and never recomputed:
the printed text (``"19.6"``, ``"0.0"``) is kept as a string so that rendering reproduces the paper
byte for byte and Δ arithmetic is exact (``Decimal``), free of float artefacts such as ``28.799999``.

File schema (one JSON object per table)::

    table         int     table number in the paper
    caption       str     caption verbatim, after "Table N. " (markdown bold kept)
    metric        str     what the numbers are ("accuracy", "AP", "mIoU/gIoU", "mAP")
    label_header  str     printed header of the row-label column ("Models" / "Model")
    delta_layout  str     "inline": the paper prints Δ after the value in the same cell ("80.3 +24.3");
                          "row": the paper prints Δ as a separate row labelled "Δ" under the row
    decimals      int     printed decimals (1 everywhere); used for Δs and run values
    columns       list    in printed order, each {key, header, and either task + metric_key
                          (the vrft task and RunResult metric key feeding the column for runs)
                          or mean_of (column keys averaged, e.g. Table 2's Average)}
    rows          list    in printed order, each {id, label (printed), model, setting,
                          values: {column key: printed string | null for "-"},
                          delta_vs: id of the baseline row Δ is computed against (fine-tuned rows),
                          printed_deltas: {column key: printed Δ string} where the paper prints one}
    notes         list    free-text transcription notes (ambiguities, known paper inconsistencies)

Δ is never stored as data: :func:`compute_delta` derives it from ``values`` and ``delta_vs``;
``printed_deltas`` exists only so tests can check the derivation against the paper, and so the
renderer knows where the paper's layout shows a Δ.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from importlib.resources import files
from pathlib import Path
from typing import Any

from tasks.registry import paper_metric_keys

TASK_METRIC_KEYS: Mapping[str, tuple[str, ...]] = paper_metric_keys()
"""The contract with run producers: which metric keys each vrft task reports for its paper table (paper
scale, percent), tasks in table order. Derived from the registry rows' ``paper_keys`` (a row may list a
column its task does not produce yet, in ``paper_pending``); data files may only map columns onto these."""

DELTA_LAYOUTS = ("inline", "row")
_NUMBER = re.compile(r"^-?\d+\.\d+$")
_DELTA = re.compile(r"^[+-]\d+\.\d+$")


class PaperDataError(ValueError):
    """A results/paper file does not match the schema; the message names file, field, value and fix."""


@dataclass(frozen=True)
class Column:
    """One printed column and where a run's number for it comes from."""

    key: str
    header: str
    task: str | None = None
    metric_key: str | None = None
    mean_of: tuple[str, ...] = ()


@dataclass(frozen=True)
class PaperRow:
    """One printed row; ``values`` keep the printed text (None where the paper shows "-")."""

    id: str
    label: str
    model: str
    setting: str
    values: Mapping[str, str | None]
    delta_vs: str | None = None
    printed_deltas: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PaperTable:
    """A whole table: metadata, columns and rows in the paper's order."""

    table: int
    caption: str
    metric: str
    label_header: str
    delta_layout: str
    decimals: int
    columns: tuple[Column, ...]
    rows: tuple[PaperRow, ...]
    notes: tuple[str, ...] = ()

    @property
    def tasks(self) -> tuple[str, ...]:
        """vrft tasks feeding this table, in column order (a run with none of them is not shown)."""
        seen: dict[str, None] = {}
        for col in self.columns:
            if col.task is not None:
                seen[col.task] = None
        return tuple(seen)

    def row(self, row_id: str) -> PaperRow:
        for r in self.rows:
            if r.id == row_id:
                return r
        raise KeyError(f"table {self.table}: no row {row_id!r}")


def compute_delta(table: PaperTable, row: PaperRow, key: str) -> Decimal | None:
    """Row value minus its ``delta_vs`` baseline value, exactly, at the table's printed precision."""
    if row.delta_vs is None:
        return None
    base = table.row(row.delta_vs).values.get(key)
    value = row.values.get(key)
    if base is None or value is None:
        return None
    return (Decimal(value) - Decimal(base)).quantize(Decimal(1).scaleb(-table.decimals))


def format_delta(delta: Decimal, decimals: int = 1) -> str:
    """Signed like the paper: ``+12.3`` / ``-0.4``; zero prints as ``+0.0``."""
    if delta == 0:
        delta = abs(delta)
    return f"{delta:+.{decimals}f}"


def format_number(value: float, decimals: int = 1) -> str:
    """Run values at the paper's precision, rounding half up like printed tables (67.65 -> 67.7)."""
    q = Decimal(repr(float(value))).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    if q == 0:
        q = abs(q)
    return f"{q:.{decimals}f}"


PACKAGED = "paper_data"
"""The folder of this package that holds the tables in an installed vrft: the wheel force-includes the
repository's ``results/paper`` here (pyproject.toml), so `shipped_paper_dir` never depends on the working directory."""


def shipped_paper_dir() -> Path:
    """The paper's numbers shipped with vrft: ``harness/tables/paper_data`` in an installed wheel, else
    (a checkout) ``results/paper`` of the checkout that holds this package."""
    packaged = files(__package__ or "harness.tables") / PACKAGED
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[2] / "results" / "paper"


def load_tables(paper_dir: Path) -> list[PaperTable]:
    """Every ``table*.json`` under ``paper_dir``, sorted by table number."""
    paths = sorted(Path(paper_dir).glob("table*.json"))
    if not paths:
        raise PaperDataError(f"{paper_dir}: no table*.json files; expected results/paper/ with Tables 2-6")
    tables = [load_table(p) for p in paths]
    numbers = [t.table for t in tables]
    if len(set(numbers)) != len(numbers):
        raise PaperDataError(f"{paper_dir}: duplicate table numbers {numbers}; keep one file per table")
    return sorted(tables, key=lambda t: t.table)


def load_table(path: Path) -> PaperTable:
    """Parse and validate one data file (errors say which field to fix)."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise PaperDataError(f"{path}: not valid JSON ({exc})") from exc
    return _Validator(str(path)).table(raw)


class _Validator:
    """Builds the dataclasses from raw JSON, failing on the first field that breaks the schema."""

    def __init__(self, where: str) -> None:
        self.where = where

    def fail(self, fieldname: str, value: object, fix: str) -> PaperDataError:
        return PaperDataError(f"{self.where}: {fieldname}={value!r}: {fix}")

    def get(self, raw: Mapping[str, Any], name: str, kind: type, ctx: str = "") -> Any:
        value = raw.get(name)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise self.fail(ctx + name, value, f"expected {kind.__name__}")
        return value

    def table(self, raw: Any) -> PaperTable:
        if not isinstance(raw, dict):
            raise self.fail("<root>", type(raw).__name__, "expected a JSON object")
        layout = self.get(raw, "delta_layout", str)
        if layout not in DELTA_LAYOUTS:
            raise self.fail("delta_layout", layout, f"use one of {DELTA_LAYOUTS}")
        decimals = self.get(raw, "decimals", int)
        columns = tuple(self.column(c, i) for i, c in enumerate(self.get(raw, "columns", list)))
        keys = [c.key for c in columns]
        if len(set(keys)) != len(keys):
            raise self.fail("columns", keys, "column keys must be unique")
        for col in columns:
            bad = [k for k in col.mean_of if k not in keys or k == col.key]
            if bad:
                raise self.fail(f"columns[{col.key}].mean_of", bad, "name other existing column keys")
        rows: list[PaperRow] = []
        for i, r in enumerate(self.get(raw, "rows", list)):
            rows.append(self.row(r, i, keys, decimals, {x.id for x in rows}))
        notes = self.get(raw, "notes", list) if "notes" in raw else []
        return PaperTable(
            table=self.get(raw, "table", int),
            caption=self.get(raw, "caption", str),
            metric=self.get(raw, "metric", str),
            label_header=self.get(raw, "label_header", str),
            delta_layout=layout,
            decimals=decimals,
            columns=columns,
            rows=tuple(rows),
            notes=tuple(str(n) for n in notes),
        )

    def column(self, raw: Any, i: int) -> Column:
        ctx = f"columns[{i}]."
        if not isinstance(raw, dict):
            raise self.fail(ctx[:-1], raw, "expected an object")
        key, header = self.get(raw, "key", str, ctx), self.get(raw, "header", str, ctx)
        if "mean_of" in raw:
            mean_of = self.get(raw, "mean_of", list, ctx)
            return Column(key=key, header=header, mean_of=tuple(str(k) for k in mean_of))
        task, metric_key = self.get(raw, "task", str, ctx), self.get(raw, "metric_key", str, ctx)
        if metric_key not in TASK_METRIC_KEYS.get(task, ()):
            raise self.fail(
                ctx + "task/metric_key",
                (task, metric_key),
                "must be a paper_keys entry of the task's row in tasks.registry (paper.TASK_METRIC_KEYS)",
            )
        return Column(key=key, header=header, task=task, metric_key=metric_key)

    def row(self, raw: Any, i: int, keys: list[str], decimals: int, earlier: set[str]) -> PaperRow:
        ctx = f"rows[{i}]."
        if not isinstance(raw, dict):
            raise self.fail(ctx[:-1], raw, "expected an object")
        row_id = self.get(raw, "id", str, ctx)
        if row_id in earlier:
            raise self.fail(ctx + "id", row_id, "row ids must be unique")
        values = self.get(raw, "values", dict, ctx)
        if sorted(values) != sorted(keys):
            raise self.fail(ctx + "values", sorted(values), f"give exactly the column keys {keys}")
        for k, v in values.items():
            if v is not None and not (isinstance(v, str) and _NUMBER.match(v) and _decimals(v) == decimals):
                raise self.fail(f"{ctx}values.{k}", v, f"number string with {decimals} decimals, or null")
        delta_vs = raw.get("delta_vs")
        if delta_vs is not None and delta_vs not in earlier:
            raise self.fail(ctx + "delta_vs", delta_vs, "must be the id of an earlier (baseline) row")
        printed = raw.get("printed_deltas") or {}
        if printed and delta_vs is None:
            raise self.fail(ctx + "printed_deltas", printed, "a row with printed Δs needs delta_vs")
        for k, v in printed.items():
            if k not in keys or not (isinstance(v, str) and _DELTA.match(v)):
                raise self.fail(f"{ctx}printed_deltas.{k}", v, "signed Δ string like '+14.0', known column")
        return PaperRow(
            id=row_id,
            label=self.get(raw, "label", str, ctx),
            model=self.get(raw, "model", str, ctx),
            setting=self.get(raw, "setting", str, ctx),
            values=dict(values),
            delta_vs=delta_vs,
            printed_deltas=dict(printed),
        )


def _decimals(text: str) -> int:
    return len(text.split(".", 1)[1])
