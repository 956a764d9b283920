"""Issue 20: an exist map that does not match the dataset says so (no silent all-zero table)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from tasks.data import DataError
from tasks.detection.task import DetectionTask
from tasks.registry import get_task


def write_map(path: Path, entries: dict[str, list[str]]) -> Path:
    path.write_text(json.dumps(entries))
    return path


def map_task(root: Path, path: Path, **args: object) -> DetectionTask:
    task = get_task("coco_fewshot", root, protocol=f"exist-map={path}", **args)
    assert isinstance(task, DetectionTask)
    return task


def perfect(task: DetectionTask) -> dict[str, str]:
    return {r.request_id: "<think>x</think>" + r.solution for r in task.requests()}


def test_full_coverage_map_works_and_is_recorded(synth_root: Path, tmp_path: Path) -> None:
    base = map_task(synth_root, write_map(tmp_path / "m.json", {}), exist_map_min_coverage=0)
    images = list(base.data.images)
    entries = {str(i): ["cat", "dog", "bus"] for i in images}
    task = map_task(synth_root, write_map(tmp_path / "full.json", entries))
    reqs = list(task.requests())
    assert len(reqs) == 3 * len(images)
    for profile in ("strict", "official"):
        metrics = task.score(perfect(task), profile).metrics
        assert metrics["exist_map_coverage"] == {
            "exist_map": str(tmp_path / "full.json"),
            "images_in_map": 24,
            "images_in_task": 24,
            "map_entries": 24,
            "map_ids_not_in_dataset": 0,
            "unknown_categories": [],
        }
        assert metrics["n_requests"] == len(reqs)
        assert {metrics["AP/cat"], metrics["AP/dog"]} != {0.0}


def test_map_covering_one_image_is_refused_in_both_profiles(synth_root: Path, tmp_path: Path) -> None:
    base = get_task("coco_fewshot", synth_root)
    assert isinstance(base, DetectionTask)
    first, *rest = list(base.data.images)
    path = write_map(tmp_path / "lvis_like.json", {str(first): ["cat"], "999999001": ["cat"], "999999002": []})
    task = map_task(synth_root, path)
    with pytest.raises(DataError) as strict_err:
        list(task.requests())
    msg = str(strict_err.value)
    for part in (
        "coco_fewshot",
        str(path),
        "1 of the 24 task images",
        "exist_map_min_coverage=1 needs at least 100%",
        ", ".join(str(i) for i in rest[:5]) + " ... and 18 more",
        "2 of its 3 entries are no image of",
        "999999001",
        "another dataset or split",
        "instances_val2017.json",
    ):
        assert part in msg, (part, msg)
    with pytest.raises(DataError, match="1 of the 24 task images"):
        task.score({}, "strict")

    # relaxed: strict accepts 1/24 >= 4%; the official profile still fails as the official script does
    relaxed = map_task(synth_root, path, exist_map_min_coverage="0.04")
    assert relaxed.args["exist_map_min_coverage"] == 0.04
    gens = perfect(relaxed)
    assert list(gens) == [f"{first}:{relaxed.category_ids['cat']}"]
    assert relaxed.score(gens, "strict").metrics["exist_map_coverage"]["images_in_map"] == 1
    with pytest.raises(DataError) as official_err:
        relaxed.score(gens, "official")
    msg = str(official_err.value)
    assert "exist_map[str(image_id)]" in msg and "1 of the 24 task images" in msg and str(rest[0]) in msg
    assert "exist_map_min_coverage" not in msg  # the official profile cannot be relaxed


@pytest.mark.parametrize("bad", ["1.5", -0.1, "most", True])
def test_min_coverage_is_validated(synth_root: Path, tmp_path: Path, bad: object) -> None:
    with pytest.raises(ValueError, match=r"exist_map_min_coverage=.*expected a number from 0 to 1"):
        get_task("coco_fewshot", synth_root, protocol=f"exist-map={tmp_path}/m.json", exist_map_min_coverage=bad)


def test_unknown_category_names_warn_by_name(
    synth_root: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    base = get_task("coco_fewshot", synth_root)
    assert isinstance(base, DetectionTask)
    entries = {str(i): ["cat", "bus_(vehicle)"] for i in base.data.images}
    entries[str(next(iter(base.data.images)))].append("hot_dog")
    task = map_task(synth_root, write_map(tmp_path / "lvis_names.json", entries))
    with caplog.at_level(logging.WARNING, logger="vrft.tasks"):
        reqs = list(task.requests())
    assert len(reqs) == 24  # the known name is still replayed
    expected = "names 2 categories that match no category of"
    assert any(expected in r.getMessage() and "bus_(vehicle), hot_dog" in r.getMessage() for r in caplog.records)
    metrics = task.score(perfect(task), "strict").metrics
    assert metrics["exist_map_coverage"]["unknown_categories"] == ["bus_(vehicle)", "hot_dog"]
    assert any(expected in w and "hot_dog" in w for w in metrics["warnings"])
