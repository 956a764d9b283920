"""The paper tables (with run rows) in other formats: ``vrft tables --format md|csv|json|latex``.

Every format is written from the same cells as the markdown (`harness.tables.render.table_grid`), so a
number reads the same everywhere: csv and json keep each cell's text ("80.3 +24.3", "–"), LaTeX escapes
it for a ``tabular`` (the paper's "–" becomes ``--``, Δ ``$\\Delta$``, "†" ``$^\\dagger$``).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Sequence
from pathlib import Path

from harness.tables.paper import PaperTable, load_tables
from harness.tables.render import TableRun, render_tables, table_grid

FORMATS = ("md", "csv", "json", "latex")


def export_tables(paper_dir: Path, runs: Sequence[TableRun] = (), fmt: str = "md", *, ci: str | None = None) -> str:
    """Tables 2-6 with the run rows, as markdown, CSV (one block per table, a ``table`` column first),
    JSON (a list of tables) or LaTeX (one ``table`` environment each)."""
    if fmt == "md":
        return render_tables(paper_dir, runs, ci=ci)
    if fmt not in FORMATS:
        raise ValueError(f"--format {fmt!r}: expected one of {FORMATS}")
    tables = load_tables(paper_dir)
    if fmt == "csv":
        return _csv(tables, runs, ci)
    if fmt == "json":
        return _json(tables, runs, ci)
    return "\n".join(_latex(t, runs, ci) for t in tables)


def _csv(tables: Sequence[PaperTable], runs: Sequence[TableRun], ci: str | None = None) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    for table in tables:
        headers, rows, _ = table_grid(table, runs, ci=ci)
        writer.writerow(["table", *headers])
        writer.writerows([f"Table {table.table}", *row] for row in rows)
    return buf.getvalue()


def _json(tables: Sequence[PaperTable], runs: Sequence[TableRun], ci: str | None = None) -> str:
    out = []
    for table in tables:
        headers, rows, footnotes = table_grid(table, runs, ci=ci)
        out.append(
            {
                "table": table.table,
                "caption": table.caption,
                "metric": table.metric,
                "columns": headers,
                "rows": [dict(zip(headers, row, strict=True)) for row in rows],
                "footnotes": footnotes,
            }
        )
    return json.dumps(out, indent=2, ensure_ascii=False) + "\n"


_LATEX_ESCAPES = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "–": "--",
    "−": "-",
    "Δ": r"$\Delta$",
    "†": r"$^\dagger$",
}


def latex_escape(text: str) -> str:
    """Escape LaTeX's special characters; the captions' markdown ``**bold**`` becomes ``\\textbf{bold}``."""
    escaped = "".join(_LATEX_ESCAPES.get(ch, ch) for ch in text)
    return re.sub(r"\*\*(.+?)\*\*", r"\\textbf{\1}", escaped)


def _latex(table: PaperTable, runs: Sequence[TableRun], ci: str | None = None) -> str:
    headers, rows, footnotes = table_grid(table, runs, ci=ci)
    lines = [
        r"\begin{table}[t]",
        r"\centering",
        rf"\caption{{{latex_escape(table.caption)}}}",
        rf"\label{{tab:vrft-table{table.table}}}",
        r"\begin{tabular}{l" + "r" * (len(headers) - 1) + "}",
        r"\toprule",
        " & ".join(latex_escape(h) for h in headers) + r" \\",
        r"\midrule",
        *(" & ".join(latex_escape(c) for c in row) + r" \\" for row in rows),
        r"\bottomrule",
        r"\end{tabular}",
        *(rf"\par\footnotesize $^\dagger$ {latex_escape(n)}" for n in footnotes),
        r"\end{table}",
    ]
    return "\n".join(lines) + "\n"
