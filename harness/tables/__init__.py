"""Paper tables: results/paper (the paper's printed numbers) + runs -> markdown, and figures.

``figures`` is not imported here so that rendering markdown never pulls in matplotlib.
"""

from harness.tables.paper import TASK_METRIC_KEYS, PaperDataError, PaperTable, load_tables
from harness.tables.render import RunResult, render_compare, render_table, render_tables

__all__ = [
    "TASK_METRIC_KEYS",
    "PaperDataError",
    "PaperTable",
    "RunResult",
    "load_tables",
    "render_compare",
    "render_table",
    "render_tables",
]
