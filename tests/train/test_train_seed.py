"""The training seed `vrft eval` reads from a train_manifest.json as `vrft train` writes it (issue 18): runs of
one recipe that differ only in ``--seed`` share a configuration hash, any other difference changes it."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from harness.provenance import training_seed
from train_plugin.checkpoint import write_manifest
from train_plugin.common import manifest_entries
from train_plugin.config import RunConfig
from train_plugin.kshot import build_kshot
from train_plugin.recipes import get_recipe


def _trained(
    out: Path, root: Path, seed: int, recipe: str = "coco_fewshot_4shot", lora: bool = False, model: str = "base"
) -> Path:
    """A checkpoint folder with the train_manifest.json of a run (no weights: only the manifest is read)."""
    run = RunConfig(recipe=get_recipe(recipe), model=model, output_dir=out, data_root=root, seed=seed, lora=lora)
    data = build_kshot(run.recipe.task, root, run.recipe.shots, seed)
    args = SimpleNamespace(seed=seed, output_dir=str(out), learning_rate=run.recipe.learning_rate)
    out.mkdir(parents=True)
    write_manifest(out, manifest_entries(run, data, "grpo", args, {"wall_seconds": 10.0 + seed}))
    return out


def test_seeds_of_one_recipe_share_the_configuration(synth_root: Path, tmp_path: Path) -> None:
    seeds = {s: training_seed(_trained(tmp_path / f"s{s}", synth_root, s)) for s in (0, 1)}
    assert seeds[0] is not None and seeds[1] is not None
    assert (seeds[0]["seed"], seeds[1]["seed"]) == (0, 1)
    assert seeds[0]["config"] == seeds[1]["config"]
    assert seeds[0]["recipe"] == "coco_fewshot_4shot" and seeds[0]["method"] == "grpo"
    (tmp_path / "s1" / "checkpoint-5").mkdir()  # an intermediate checkpoint: its run's seed
    assert training_seed(tmp_path / "s1" / "checkpoint-5") == seeds[1]
    lora = training_seed(_trained(tmp_path / "lora", synth_root, 0, lora=True))
    other = training_seed(_trained(tmp_path / "8shot", synth_root, 0, recipe="coco_fewshot_8shot"))
    assert lora is not None and other is not None
    assert len({seeds[0]["config"], lora["config"], other["config"]}) == 3
    assert training_seed(tmp_path / "nowhere") is None and training_seed(synth_root) is None


def test_a_warm_start_per_seed_enters_by_its_configuration_not_its_path(synth_root: Path, tmp_path: Path) -> None:
    """The demo's two stages: each seed's GRPO starts from that seed's own SFT checkpoint (different paths)."""

    def two_stage(seed: int, sft_recipe: str = "coco_fewshot_4shot") -> dict:
        sft = _trained(tmp_path / f"{sft_recipe}-sft{seed}", synth_root, seed, recipe=sft_recipe)
        info = training_seed(_trained(tmp_path / f"{sft_recipe}-grpo{seed}", synth_root, seed, model=str(sft)))
        assert info is not None
        return info

    a, b = two_stage(0), two_stage(1)
    assert a["config"] == b["config"] and (a["seed"], b["seed"]) == (0, 1)
    assert two_stage(2, sft_recipe="coco_fewshot_8shot")["config"] != a["config"]  # another warm start
