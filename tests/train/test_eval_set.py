"""k-shot training never samples evaluation images unless asked (issue 22): the default reads the data root's
training annotations, evaluation-only data is refused with the way out, the opt-in is recorded, and an
evaluation of a checkpoint on images it was trained on warns and is labelled in the tables."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from types import SimpleNamespace

import pytest

from harness.backends import GenerationParams
from harness.backends.replay import ReplayBackend
from harness.config import EvalConfig
from harness.manifest import task_entry
from harness.provenance import training_images
from harness.runner import run_eval
from harness.score_cmd import score_run
from harness.tables.figures import _series
from harness.tables.render import RunResult
from harness.tables.runs import load_run
from tasks.data import DataError
from tasks.registry import get_task
from tasks.synthetic import SyntheticSizes, write_synthetic
from train_plugin.checkpoint import write_manifest
from train_plugin.cli import _add_arguments, build_run
from train_plugin.cli import main as train_main
from train_plugin.common import manifest_entries
from train_plugin.data import TrainDataError
from train_plugin.kshot import build_kshot
from train_plugin.recipes import get_recipe

TRAIN_SOURCE = {
    "coco_fewshot": "coco/annotations/instances_train2017.json",
    "lvis_fewshot": "lvis/annotations/lvis_v1_train.json",
    "lisa_grounding": "lisa/ReasonSeg/train",
}


@pytest.fixture(scope="module")
def val_only(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data root with the evaluation annotations only: no COCO / LVIS train files, no ReasonSeg train folder."""
    root = tmp_path_factory.mktemp("val_only") / "data"
    write_synthetic(root, seed=0, sizes=SyntheticSizes(coco_train_images=0, lvis_train_images=0))
    return root


def _eval_images(task: str, root: Path) -> set[str]:
    return {str(r.image.path) for r in get_task(task, root).requests()}


@pytest.mark.parametrize("task", sorted(TRAIN_SOURCE))
def test_default_samples_the_training_annotations(synth_root: Path, task: str) -> None:
    data = build_kshot(task, synth_root, 1, 0)
    spec = data.spec
    assert spec["sampled_from"] == str(synth_root / TRAIN_SOURCE[task])
    assert spec["eval_set"] is False and spec["allow_eval_set_for_training"] is False
    trained = {rec["path"] for rec in spec["images"]}
    assert trained and not trained & _eval_images(task, synth_root)
    overlap = spec["eval_overlap"]
    assert overlap["images"] == 0 and overlap["eval_images"] == len(_eval_images(task, synth_root))
    assert all(len(rec["sha256"]) == 64 and rec["bytes"] > 0 for rec in spec["images"])


@pytest.mark.parametrize(
    ("task", "missing", "how"),
    [
        ("coco_fewshot", "coco/annotations/instances_train2017.json", "https://cocodataset.org/#download"),
        ("lvis_fewshot", "lvis/annotations/lvis_v1_train.json", "https://www.lvisdataset.org/dataset"),
        ("lisa_grounding", "lisa/ReasonSeg/train", "github.com/dvlab-research/LISA"),
    ],
)
def test_evaluation_only_data_root_is_refused(val_only: Path, task: str, missing: str, how: str) -> None:
    with pytest.raises(DataError) as err:
        build_kshot(task, val_only, 1, 0)
    message = str(err.value)
    assert message.startswith(f"{task}: no training")
    assert f"{val_only / missing} does not exist" in message
    assert how in message and "--train-annotations" in message
    assert "--allow-eval-set-for-training" in message and "train∩test" in message


def test_cli_refuses_before_loading_a_model(val_only: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = train_main(
        [
            "--recipe",
            "coco_fewshot_4shot",
            "--model",
            str(tmp_path / "no-model"),
            "--data-root",
            str(val_only),
            "--output-dir",
            str(tmp_path / "out"),
        ]
    )
    assert rc == 2
    err = capsys.readouterr().err
    assert "instances_train2017.json does not exist" in err and "--allow-eval-set-for-training" in err
    assert not (tmp_path / "out").exists()


def test_the_evaluation_file_named_explicitly_or_copied_is_refused(synth_root: Path, tmp_path: Path) -> None:
    val = synth_root / "coco/annotations/instances_val2017.json"
    with pytest.raises(DataError, match=r"instances_val2017\.json is this task's evaluation annotation file"):
        build_kshot("coco_fewshot", synth_root, 1, 0, train_annotations=val)
    with pytest.raises(DataError, match=r"ReasonSeg/val is an evaluation split of this task"):
        build_kshot("lisa_grounding", synth_root, 1, 0, train_annotations=synth_root / "lisa/ReasonSeg/val")
    copy = tmp_path / "my_train.json"  # the same images under another annotation file: caught by their bytes
    copy.write_bytes(val.read_bytes())
    with pytest.raises(TrainDataError, match=r"of the \d+ sampled training images are evaluation images"):
        build_kshot("coco_fewshot", synth_root, 1, 0, train_annotations=copy, train_images=synth_root / "coco/val2017")


def _write_checkpoint(out: Path, data_root: Path, data: object, allow: bool, model: str = "base") -> Path:
    """A checkpoint folder with only the train_manifest.json `vrft train` writes (no weights are needed here)."""
    args = argparse.ArgumentParser()
    _add_arguments(args)
    flags = [
        "--recipe",
        "coco_fewshot_4shot",
        "--model",
        model,
        "--output-dir",
        str(out),
        "--data-root",
        str(data_root),
    ] + (["--allow-eval-set-for-training"] if allow else [])
    run = build_run(args.parse_args(flags))
    assert run.allow_eval_set_for_training is allow and run.recipe == get_recipe("coco_fewshot_4shot")
    out.mkdir(parents=True)
    write_manifest(out, manifest_entries(run, data, "grpo", SimpleNamespace(), {}))  # type: ignore[arg-type]
    return out


def test_opt_in_samples_the_evaluation_set_and_is_recorded(val_only: Path, tmp_path: Path) -> None:
    data = build_kshot("coco_fewshot", val_only, 2, 0, allow_eval_set=True)
    ckpt = _write_checkpoint(tmp_path / "ckpt", val_only, data, allow=True)
    m = json.loads((ckpt / "train_manifest.json").read_text())
    assert m["run"]["allow_eval_set_for_training"] is True
    d = m["data"]
    assert d["sampled_from"] == str(val_only / "coco/annotations/instances_val2017.json") and d["eval_set"] is True
    images = {rec["path"] for rec in d["images"]}
    assert images <= _eval_images("coco_fewshot", val_only)
    assert d["eval_overlap"]["images"] == len(images) == len(d["images"]) > 0  # every one of them


def _perfect_generations(task: str, root: Path, path: Path) -> Path:
    with path.open("w") as f:
        for r in get_task(task, root).requests():
            f.write(json.dumps({"request_id": r.request_id, "text": "<think>x</think>" + r.solution}) + "\n")
    return path


def test_eval_of_an_overlapping_checkpoint_warns_and_is_labelled(
    val_only: Path,
    synth_root: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from harness.cli import main as vrft

    sft = _write_checkpoint(
        tmp_path / "sft", val_only, build_kshot("coco_fewshot", val_only, 2, 0, allow_eval_set=True), allow=True
    )
    n = len(json.loads((sft / "train_manifest.json").read_text())["data"]["images"])
    # GRPO from that warm start on a clean sample: the chain of starting checkpoints is followed
    grpo = _write_checkpoint(
        tmp_path / "grpo", synth_root, build_kshot("coco_fewshot", synth_root, 1, 0), allow=False, model=str(sft)
    )
    config = EvalConfig(
        model=str(grpo),
        tasks=("coco_fewshot",),
        data_root=str(val_only),
        backend="replay",
        params=GenerationParams(),
        batch_size=256,
    )
    gens = _perfect_generations("coco_fewshot", val_only, tmp_path / "gens.jsonl")
    run_dir = tmp_path / "runs" / "grpo"
    with caplog.at_level(logging.WARNING, logger="vrft.eval"):
        run_eval(config, run_dir, backend=ReplayBackend(gens), use_cache=False)
    total = len(_eval_images("coco_fewshot", val_only))
    assert f"coco_fewshot: {n} of the {total} evaluated images are training images of this checkpoint" in caplog.text
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["tasks"][0]["train_overlap"] == n
    assert manifest["train_manifests"] == [str(grpo / "train_manifest.json"), str(sft / "train_manifest.json")]
    score_run(run_dir)
    label = f"train∩test = {n} images"
    run = load_run(run_dir)
    assert label in run.label and label in run.label_for(["coco_fewshot"])
    assert label not in run.label_for(["fgvc_pets37"])  # a table without the overlapping task
    stepped = RunResult(
        run.model, run.task_version, run.protocol, run.profile, run.metrics, 5, train_overlap=run.train_overlap
    )
    assert all(label in s for s in _series([stepped], "coco_fewshot", "mAP"))  # figures carry it too
    capsys.readouterr()
    assert vrft(["tables", "--runs", str(tmp_path / "runs")]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| grpo (")]
    assert rows and all(label in row for row in rows)
    (grpo / "checkpoint-3").mkdir()  # an intermediate checkpoint: its run's manifest
    intermediate = training_images(grpo / "checkpoint-3")
    assert intermediate is not None and intermediate.manifests == tuple(manifest["train_manifests"])
    # the clean checkpoint alone on its own data root: nothing shared, nothing to label
    only_clean = _write_checkpoint(
        tmp_path / "clean", synth_root, build_kshot("coco_fewshot", synth_root, 1, 0), allow=False
    )
    entry = task_entry(get_task("coco_fewshot", synth_root), synth_root, training_images(only_clean))
    assert entry["train_overlap"] == 0


def test_missing_training_images_are_named(synth_root: Path, tmp_path: Path) -> None:
    """A data root with the train annotations but not their images (the annotation archive alone) fails before
    any step, naming the images and the way to supply them."""
    (tmp_path / "coco/annotations").mkdir(parents=True)
    train = synth_root / "coco/annotations/instances_train2017.json"
    (tmp_path / "coco/annotations/instances_train2017.json").write_bytes(train.read_bytes())
    with pytest.raises(TrainDataError, match=r"sampled training images are missing \(first: .*coco/train2017/"):
        build_kshot("coco_fewshot", tmp_path, 1, 0)
    data = build_kshot("coco_fewshot", tmp_path, 1, 0, train_images=synth_root / "coco/train2017")
    assert data.spec["eval_overlap"]["images"] is None  # no evaluation data here: not compared, and said so
    assert "evaluation data not readable" in data.spec["eval_overlap"]["reason"]
