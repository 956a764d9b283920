"""Seed-aggregated rows (issue 18): `vrft eval` records the training seed of a checkpoint from its
train_manifest.json, and `vrft tables --aggregate-seeds` shows runs that differ only in that seed as one row
``mean ± sd (n seeds)`` (sample sd) with each seed's row below; other runs are never merged into it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from harness.backends import GenerationParams
from harness.backends.replay import ReplayBackend
from harness.cli import main
from harness.config import EvalConfig
from harness.runner import run_eval
from harness.score_cmd import score_run
from harness.tables.paper import format_number, load_tables
from harness.tables.runs import load_run
from harness.tables.seeds import seed_cell
from tasks.registry import get_task
from tasks.synthetic import write_synthetic

TASK = "coco_fewshot"
SEEDS = (0, 1, 2)


def _checkpoint(folder: Path, seed: int, learning_rate: float) -> Path:
    """A checkpoint folder holding only a train_manifest.json in the shape `vrft train` writes; the entries that
    differ between seeds (the seed, the output folder, the drawn sample, the time, the commit) all differ here."""
    folder.mkdir(parents=True)
    manifest = {
        "format_version": 1,
        "method": "grpo",
        "recipe": {"name": "coco_fewshot_4shot", "learning_rate": learning_rate},
        "run": {"model": "base", "output_dir": str(folder), "seed": seed},
        "trainer_args": {"learning_rate": learning_rate, "seed": seed, "output_dir": str(folder)},
        "data": {"sample_ids": [f"image-{seed}"]},
        "written": f"2025-01-0{seed + 1}T00:00:00+00:00",
        "git_commit": f"commit-{seed}",
    }
    (folder / "train_manifest.json").write_text(json.dumps(manifest))
    return folder


def _run(tmp: Path, root: Path, model: Path, wrong_every: int, offset: int) -> Path:
    """Evaluate `model` by replaying answers that are wrong for every `wrong_every`-th request (shifted by
    `offset`), so that each run has its own numbers."""
    gens = tmp / f"{model.name}.jsonl"
    with gens.open("w") as f:
        for i, r in enumerate(get_task(TASK, root, limit=4).requests()):
            right = (i + offset) % wrong_every != 0
            text = "<think>x</think>" + r.solution if right else "<answer>No Objects</answer>"
            f.write(json.dumps({"request_id": r.request_id, "text": text}) + "\n")
    config = EvalConfig(
        model=str(model),
        tasks=(TASK,),
        data_root=str(root),
        backend="replay",
        task_args={"limit": 4},
        params=GenerationParams(),
    )
    run = run_eval(config, tmp / "runs" / model.name, backend=ReplayBackend(gens), use_cache=False)
    score_run(run, bootstrap=0)
    return run


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("seeds")
    root = tmp / "data"
    write_synthetic(root)
    out = {f"a-s{s}": _run(tmp, root, _checkpoint(tmp / "ckpt" / f"a-s{s}", s, 1e-6), 2 + s, s) for s in SEEDS}
    out["b-s0"] = _run(tmp, root, _checkpoint(tmp / "ckpt" / "b-s0", 0, 2e-6), 3, 1)  # another learning rate
    plain = tmp / "ckpt" / "plain"  # a checkpoint without train_manifest.json: no seed
    plain.mkdir()
    out["plain"] = _run(tmp, root, plain, 4, 0)
    return out


def _table3(markdown: str) -> tuple[list[str], list[list[str]]]:
    block = markdown.split("### Table 3")[1].split("### Table")[0]
    lines = [line for line in block.splitlines() if line.startswith("|") and not set(line) <= set("|:- ")]
    header, *rows = ([c.strip() for c in line.strip().strip("|").split("|")] for line in lines)
    return header, rows


def _tables(runs_root: Path, *flags: str, capsys: pytest.CaptureFixture[str]) -> tuple[list[str], list[list[str]]]:
    capsys.readouterr()
    assert main(["tables", "--runs", str(runs_root), *flags]) == 0
    return _table3(capsys.readouterr().out)


def test_eval_manifest_records_the_checkpoints_training_seed(runs: dict[str, Path]) -> None:
    training = {name: json.loads((run / "manifest.json").read_text()).get("training") for name, run in runs.items()}
    assert [training[f"a-s{s}"]["seed"] for s in SEEDS] == list(SEEDS)
    assert len({training[f"a-s{s}"]["config"] for s in SEEDS}) == 1  # the seed, sample and paths are left out
    assert training["b-s0"]["config"] != training["a-s0"]["config"]  # another learning rate
    assert training["a-s1"]["recipe"] == "coco_fewshot_4shot" and training["a-s1"]["method"] == "grpo"
    assert training["a-s1"]["manifest"].endswith("a-s1/train_manifest.json")
    assert training["plain"] is None


def test_rescoring_keeps_the_seed(runs: dict[str, Path]) -> None:
    run = runs["a-s2"]
    score_run(run, "official", bootstrap=0)
    score_run(run, bootstrap=0)
    assert json.loads((run / "manifest.json").read_text())["training"]["seed"] == 2
    strict, official = load_run(run), load_run(run, "official")
    assert strict.seeded is not None and official.seeded is not None
    assert strict.seeded.seed == official.seeded.seed == 2
    assert strict.seeded.group != official.seeded.group  # other metrics: never averaged together


def test_aggregate_row_is_mean_and_sample_sd_of_the_seeds(
    runs: dict[str, Path], paper_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    header, rows = _tables(runs["plain"].parent, "--aggregate-seeds", capsys=capsys)
    labels = [r[0] for r in rows]
    at = next(i for i, label in enumerate(labels) if label.startswith("grpo coco_fewshot_4shot ("))
    assert "seeds 0, 1, 2" in labels[at]
    assert [label.split(" (")[0] for label in labels[at + 1 : at + 4]] == [f"↳ seed {s}: a-s{s}" for s in SEEDS]
    metrics = {s: json.loads((runs[f"a-s{s}"] / "metrics.json").read_text())[TASK] for s in SEEDS}
    table = next(t for t in load_tables(paper_dir) if t.table == 3)
    checked = 0
    for column in table.columns:
        if column.task != TASK or column.metric_key is None or column.metric_key not in metrics[0]:
            continue
        values = np.array([metrics[s][column.metric_key] for s in SEEDS], dtype=float)  # None (no such class): nan
        cell = rows[at][header.index(column.header)]
        if np.isnan(values).all():
            assert cell == "–", column.header
            continue
        assert not np.isnan(values).any(), column.header  # a class is present for every seed or for none
        mean, sd = format_number(float(values.mean()), 1), format_number(float(values.std(ddof=1)), 1)
        assert cell == f"{mean} ± {sd} (3 seeds)", column.header
        for s, row in zip(SEEDS, rows[at + 1 : at + 4], strict=True):  # each seed's own value below
            assert row[header.index(column.header)] == format_number(metrics[s][column.metric_key], 1)
        checked += 1
    assert checked >= 2  # mAP and per-class AP
    spread = np.array([metrics[s]["mAP"] for s in SEEDS])
    assert format_number(float(spread.std(ddof=1)), 1) != format_number(float(spread.std(ddof=0)), 1)  # n-1 matters
    # the other training configuration is a group of its own, the run without a seed a plain row
    b = next(i for i, label in enumerate(labels) if label.startswith("b-s0 ("))
    assert labels[b].endswith(", seed 0)") and labels[b + 1].startswith("↳ seed 0: b-s0 (")
    b_map = json.loads((runs["b-s0"] / "metrics.json").read_text())[TASK]["mAP"]
    assert rows[b][header.index("mAP")] == f"{format_number(b_map, 1)} (1 seed)"
    assert [label for label in labels if label.startswith("plain (")] and not any("plain" in x for x in labels[at:b])
    plain_row = next(r for r in rows if r[0].startswith("plain ("))
    assert "seed" not in " ".join(plain_row)


def test_without_the_flag_every_run_is_its_own_row(runs: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    _, rows = _tables(runs["plain"].parent, capsys=capsys)
    labels = [r[0].split(" (")[0] for r in rows]
    assert sorted(x for x in labels if x in runs) == sorted(runs)
    assert not any("seed" in " ".join(r) for r in rows)


def test_two_runs_of_one_seed_are_refused(
    runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copytree(runs["a-s0"], tmp_path / "again")
    capsys.readouterr()
    assert main(["tables", "--runs", str(runs["a-s0"]), str(tmp_path / "again"), "--aggregate-seeds"]) == 2
    err = capsys.readouterr().err
    assert "both seed 0" in err and "again" in err


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ((40.0, 42.0, 44.0), "42.0 ± 2.0 (3 seeds)"),
        ((1.0, 2.0), "1.5 ± 0.7 (2 seeds)"),  # sd = 1/sqrt(2)
        ((40.0,), "40.0 (1 seed)"),
        ((), "–"),
    ],
)
def test_seed_cell(values: tuple[float, ...], expected: str) -> None:
    assert seed_cell(values, 1) == expected
