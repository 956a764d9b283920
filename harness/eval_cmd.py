"""`vrft eval` as library calls: the run's configuration from the command's choices, then generation into a
run directory and scoring once the run is whole.

What the command decides beyond its flags lives here, not in the CLI: the task arguments a profile implies
(`harness.config.profile_task_args`: official prompts for the official profile), the model family's box
convention when ``--coords`` is not given, the default run directory, and that a sharded run is scored
only when every shard is done (``vrft score RUN_DIR``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.backends import GenerationParams
from harness.config import EvalConfig, Shard, coords_for, profile_task_args
from harness.mask_stage import DEFAULT_BATCH, MaskReport, make_masks
from harness.runner import run_eval
from harness.sam import resolve_sam
from harness.score_cmd import ScoreReport, score_run
from tasks.registry import TASKS, expand_task_names
from tasks.spec import Kind


def make_config(
    *,
    model: str,
    tasks: str,
    data_root: str,
    backend: str,
    profile: str,
    task_args: Mapping[str, Any],
    backend_opts: Mapping[str, Any],
    params: GenerationParams,
    batch_size: int,
    coords: str | None = None,
    model_args: Mapping[str, Any] | None = None,
) -> EvalConfig:
    """The `EvalConfig` of a ``vrft eval`` command: `tasks` comma separated, `coords` None = by model family
    (`harness.config.coords_for`: the checkpoint's config.json, else its name); `model_args` (``--model-arg``)
    go to the vllm / hf backend as ``backend_opts["model_args"]`` (so they are part of the config hash)."""
    backend_opts = dict(backend_opts)
    if model_args:
        if backend not in ("vllm", "hf"):
            raise ValueError(f"--model-arg {sorted(model_args)}: only the vllm and hf backends take model arguments")
        backend_opts["model_args"] = dict(model_args)
    coords_reason = "--coords"
    if not coords:
        coords, coords_reason = coords_for(model)
    return EvalConfig(
        model=model,
        tasks=tuple(tasks.split(",")),
        data_root=data_root,
        backend=backend,
        profile=profile,
        task_args=profile_task_args(profile, task_args),
        backend_opts=backend_opts,
        params=params,
        batch_size=batch_size,
        coords=coords,
        coords_reason=coords_reason,
    )


def run_dir_for(config: EvalConfig, run_dir: str | Path | None, runs_root: str | Path) -> Path:
    """The given run directory, else ``RUNS_ROOT/<model>-<config hash>``."""
    return Path(run_dir) if run_dir else Path(runs_root) / config.run_id()


@dataclass(frozen=True)
class EvalOutcome:
    run_dir: Path
    shard: Shard
    report: ScoreReport | None  # None for one shard of several: ``vrft score RUN_DIR`` once all are done
    masks: MaskReport | None = None  # what the mask stage did (``--sam``)


def check_sam(config: EvalConfig, sam: str | None) -> None:
    """Before generating: ``--sam`` needs a task that makes masks, and a SAM checkpoint that exists (a missing
    one is named now, not after hours of generation)."""
    if sam is None:
        return
    names = expand_task_names(",".join(config.tasks))
    if not any(TASKS[n].kind is Kind.GROUNDING for n in names):
        raise ValueError(f"--sam {sam}: none of the tasks {names} makes masks (the grounding task lisa_grounding does)")
    resolve_sam(sam)


def evaluate(
    config: EvalConfig,
    run_dir: Path,
    shard: Shard,
    *,
    use_cache: bool = True,
    bootstrap: int | None = None,
    bootstrap_seed: int = 0,
    sam: str | None = None,
    sam_batch_size: int = DEFAULT_BATCH,
) -> EvalOutcome:
    """Generate what this shard lacks (through the generation cache unless `use_cache` is False); then, when
    the run is not split into shards, make the SAM masks it lacks (`sam`: a SamModel checkpoint; None = no
    masks, `harness.mask_stage`) and score it (`bootstrap`, `bootstrap_seed`: as for `score_run`)."""
    check_sam(config, sam)
    run_eval(config, run_dir, shard, use_cache=use_cache)
    if shard.count > 1:
        return EvalOutcome(run_dir, shard, None)
    masks = make_masks(run_dir, sam, batch_size=sam_batch_size) if sam is not None else None
    report = score_run(run_dir, allow_missing=False, bootstrap=bootstrap, bootstrap_seed=bootstrap_seed)
    return EvalOutcome(run_dir, shard, report, masks)
