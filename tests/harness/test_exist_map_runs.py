"""Issue 20 through `vrft eval` / `vrft score`: refusals before generation, coverage in the manifest and
metrics.json, the summary's coverage row and parse warning, and no zero-request table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.config import EvalConfig
from harness.runner import run_eval
from harness.score_cmd import ScoreError, score_run, score_tasks
from tasks.data import DataError
from tasks.registry import get_task
from tasks.synthetic import write_synthetic


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("exist_map") / "data"
    write_synthetic(root)
    return root


def image_ids(data_root: Path) -> list[int]:
    return list(get_task("coco_fewshot", data_root).data.images)  # type: ignore[attr-defined]


def exist_map(tmp_path: Path, entries: dict[str, list[str]]) -> str:
    path = tmp_path / "exist_map.json"
    path.write_text(json.dumps(entries))
    return f"exist-map={path}"


def cfg(data_root: Path, model: Path, profile: str = "strict", **task_args: object) -> EvalConfig:
    return EvalConfig(
        model=str(model), tasks=("coco_fewshot",), data_root=str(data_root), backend="replay",
        profile=profile, task_args=dict(task_args), batch_size=8,
    )  # fmt: skip


def test_zero_request_run_is_an_error(data_root: Path, tmp_path: Path) -> None:
    protocol = exist_map(tmp_path, {str(i): [] for i in image_ids(data_root)})  # covers all, queries nothing
    with pytest.raises(ValueError, match=r"coco_fewshot: the task issues no requests .*check the protocol input"):
        run_eval(cfg(data_root, tmp_path / "none.jsonl", protocol=protocol), tmp_path / "run")
    assert not (tmp_path / "run").exists()  # refused before the run directory is made
    task = get_task("coco_fewshot", data_root, protocol=protocol)
    with pytest.raises(ScoreError, match=r"coco_fewshot: the task issued no requests .*table of zeros"):
        score_tasks([task], {}, {}, "strict", tmp_path)
    assert not (tmp_path / "metrics.json").exists()


def test_official_profile_refuses_a_partial_map_before_generating(data_root: Path, tmp_path: Path) -> None:
    first = image_ids(data_root)[0]
    protocol = exist_map(tmp_path, {str(first): ["cat"]})
    config = cfg(data_root, tmp_path / "none.jsonl", "official", protocol=protocol, exist_map_min_coverage="0.01")
    with pytest.raises(DataError, match=r"1 of the 24 task images .*exist_map\[str\(image_id\)\]"):
        run_eval(config, tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_coverage_is_recorded_and_unparsed_answers_are_flagged(data_root: Path, tmp_path: Path) -> None:
    ids = image_ids(data_root)
    protocol = exist_map(tmp_path, {str(i): ["cat", "dog", "not_a_coco_class"] for i in ids})
    task = get_task("coco_fewshot", data_root, protocol=protocol)
    saved = tmp_path / "saved.jsonl"
    reqs = list(task.requests())
    with saved.open("w") as f:
        for r in reqs:
            f.write(json.dumps({"request_id": r.request_id, "text": "I cannot see anything."}) + "\n")
    run = run_eval(cfg(data_root, saved, protocol=protocol), tmp_path / "run")
    entry = json.loads((run / "manifest.json").read_text())["tasks"][0]
    assert entry["n_requests"] == len(reqs) == 48
    assert entry["coverage"]["images_in_map"] == entry["coverage"]["images_in_task"] == 24
    report = score_run(run)
    on_disk = json.loads(report.metrics_path.read_text())["coco_fewshot"]
    assert on_disk["exist_map_coverage"]["unknown_categories"] == ["not_a_coco_class"]
    assert on_disk["n_parsed"] == 0 and on_disk["n_answers"] == 48
    assert ["coco_fewshot", "exist map coverage", "24/24 images, 48 requests, 1 unknown categories"] in report.rows()
    warnings = report.warnings()
    assert warnings[0].startswith("coco_fewshot: 0 of 48 answers parsed (reasons no_answer: 48")
    assert any("not_a_coco_class" in w and "names categories the dataset lacks" in w for w in warnings)
