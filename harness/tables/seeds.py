"""Seed-aggregated run rows (``vrft tables --aggregate-seeds``): runs that differ only in the training seed
shown as one row ``mean ± sd (n seeds)``, each seed's own row below it.

What counts as "differ only in the seed" is decided from the run manifests (`harness.tables.runs.run_seed`):
the training configuration without the seed (`harness.provenance.training_seed`, recorded by `vrft eval` from
the checkpoint's ``train_manifest.json``), the evaluation settings without the model path, the task versions
and request sets, the scoring profile and the training step must all be equal. A run whose seed is not
recorded is never grouped. The spread is the sample standard deviation (n − 1) of the per-seed values: the
seed-to-seed variation of a training recipe, not the test-set uncertainty of one run (that is ``--ci``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from harness.tables.paper import PaperTable, format_number
from harness.tables.render import MISSING, RunResult, column_value


def seed_cell(values: Sequence[float], decimals: int) -> str:
    """``40.6 ± 1.2 (3 seeds)``: mean and sample sd (n − 1) of the per-seed values; one value: ``40.6 (1 seed)``;
    none: "–"."""
    if not values:
        return MISSING
    mean = format_number(float(np.mean(values)), decimals)
    if len(values) == 1:
        return f"{mean} (1 seed)"
    return f"{mean} ± {format_number(float(np.std(values, ddof=1)), decimals)} ({len(values)} seeds)"


@dataclass(frozen=True)
class SeedGroup:
    """The runs of one seed group, sorted by seed: in a table, the aggregated row, then each seed's row labelled
    ``↳ seed S: <its label>`` (with ``--ci``, the seed rows carry their intervals; the aggregated row shows the
    spread over seeds)."""

    runs: tuple[RunResult, ...]

    def label_for(self, tasks: list[str]) -> str:
        first = self.runs[0]
        names = {r.model for r in self.runs}
        seeded = first.seeded
        name = first.model if len(names) == 1 else (seeded.name if seeded and seeded.name else "/".join(sorted(names)))
        parts = first.label_parts(tasks)
        seeds = [r.seeded.seed for r in self.runs if r.seeded is not None]
        parts.append(f"seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds))}")
        overlapping = [str(s) for s, r in zip(seeds, self.runs, strict=True) if r.overlap_note(tasks)]
        if overlapping:  # the counts differ between seeds: each seed's row says its own
            parts.append(f"train∩test in seed {', '.join(overlapping)}")
        return f"{name} ({', '.join(parts)})"

    def table_rows(self, table: PaperTable, ci: str | None = None) -> list[list[str]]:
        seed_rows = [(r, r.table_rows(table, ci)) for r in self.runs]
        if not any(rows for _, rows in seed_rows):
            return []
        cells = []
        for column in table.columns:
            values = [v for r in self.runs if (v := column_value(table, column, r)) is not None]
            cells.append(seed_cell(values, table.decimals))
        out = [[self.label_for(list(table.tasks)), *cells]]
        for r, rows in seed_rows:
            if rows and r.seeded is not None:  # every member has a seed: `group_seeds` put it here by its seed
                out.append([f"↳ seed {r.seeded.seed}: {rows[0][0]}", *rows[0][1:]])
        return out


def group_seeds(runs: Sequence[RunResult]) -> list[RunResult | SeedGroup]:
    """`runs` in their order, the runs of each seed group gathered into one `SeedGroup` where the first of them
    stood; runs without a recorded seed stay single rows. Two runs of one group with the same seed are the same
    training evaluated twice, not two seeds: a ValueError names both."""
    groups: dict[str, list[RunResult]] = {}
    for run in runs:
        if run.seeded is not None:
            groups.setdefault(run.seeded.group, []).append(run)
    out: list[RunResult | SeedGroup] = []
    for run in runs:
        if run.seeded is None:
            out.append(run)
            continue
        members = groups.pop(run.seeded.group, None)
        if members is None:  # already placed with the first of its group
            continue
        by_seed: dict[int, RunResult] = {}
        for m in members:
            assert m.seeded is not None
            if (twin := by_seed.setdefault(m.seeded.seed, m)) is not m:
                raise ValueError(
                    f"{twin.source or twin.model} and {m.source or m.model} are both seed {m.seeded.seed} of the same "
                    "training and evaluation; --aggregate-seeds needs one run per seed: leave one out of --runs"
                )
        out.append(SeedGroup(tuple(by_seed[s] for s in sorted(by_seed))))
    return out
