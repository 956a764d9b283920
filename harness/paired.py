"""Paired comparison of two scored runs (``vrft tables --compare A B``): the image-level bootstrap of B − A on
the same resampled images for both runs, per task, from each run's stored generations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.score_cmd import DEFAULT_BOOTSTRAP_SEED, bootstrap_replicates, run_inputs, run_manifest


def paired_intervals(
    run_a: Path,
    run_b: Path,
    profile_a: str | None = None,
    profile_b: str | None = None,
    *,
    bootstrap: int | None = None,
    bootstrap_seed: int = DEFAULT_BOOTSTRAP_SEED,
) -> dict[str, dict[str, Any]]:
    """Paired image-level bootstrap of B − A per task both runs score (`tasks.uncertainty.paired_uncertainty`):
    task -> ``PairedResult.as_dict()``-like entry. The per-image records are recomputed by re-scoring each run
    from its generations in memory (nothing is written; missing generations count as wrong, as in
    `ensure_scored`). A task whose runs cover different images gets ``{"error": ...}`` instead. Empty with
    ``bootstrap`` 0."""
    from tasks.uncertainty import paired_uncertainty

    n = bootstrap_replicates(bootstrap)
    if n == 0:
        return {}
    scored = []
    for run, profile in ((run_a, profile_a), (run_b, profile_b)):
        manifest = run_manifest(run)
        prof = profile or manifest.get("profile", "strict")
        tasks, texts, _errors = run_inputs(run, manifest, prof)
        scored.append((prof, {t.name: (t, t.score(texts.get(t.name, {}), prof)) for t in tasks}))  # type: ignore[arg-type]
    (prof_a, by_a), (prof_b, by_b) = scored
    out: dict[str, dict[str, Any]] = {}
    for name in sorted(set(by_a) & set(by_b)):
        (task_a, score_a), (task_b, score_b) = by_a[name], by_b[name]
        try:
            entry = paired_uncertainty(
                task_a, score_a, task_b, score_b, prof_a, n_replicates=n, seed=bootstrap_seed, profile_b=prof_b
            )
        except ValueError as err:
            out[name] = {"error": str(err)}
            continue
        if entry is not None:
            out[name] = entry
    return out
