"""Each detection protocol selects the expected (image, category) queries; prompts render as specified."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tasks.detection.categories import COCO_FEWSHOT
from tasks.prompts import IMAGE_PREFIX, R1_SYSTEM_PROMPT
from tasks.registry import TASKS, expand_task_names, get_task


def ids(task) -> set[str]:  # type: ignore[no-untyped-def]
    return {r.request_id for r in task.requests()}


def test_direct_queries_every_image_and_category(synth_root: Path) -> None:
    task = get_task("coco_fewshot", synth_root)
    cat_ids = {task.category_ids[n] for n in COCO_FEWSHOT}
    expected = {f"{img}:{c}" for img in task.data.images for c in cat_ids}
    assert ids(task) == expected and len(expected) == len(task.data.images) * 8


def test_oracle_queries_only_present_categories(synth_root: Path) -> None:
    task = get_task("coco_fewshot", synth_root, protocol="oracle")
    got = ids(task)
    assert got, "the synthetic data has few-shot objects"
    for rid in got:
        img, cat = (int(x) for x in rid.split(":"))
        assert len(task.data.gt_boxes(img, cat)) > 0
    direct = get_task("coco_fewshot", synth_root)
    present = {r for r in ids(direct) if len(direct.data.gt_boxes(*(int(x) for x in r.split(":")))) > 0}
    assert got == present


def test_exist_map_replays_names(synth_root: Path, tmp_path: Path) -> None:
    base = get_task("coco_fewshot", synth_root)
    first, second = list(base.data.images)[:2]
    path = tmp_path / "exist.json"
    # every image has an entry (issue 20: a map that misses task images is refused); only two list any
    entries = {str(i): [] for i in base.data.images} | {str(first): ["cat", "person"], str(second): ["dog", "bus"]}
    path.write_text(json.dumps(entries))
    task = get_task("coco_fewshot", synth_root, protocol=f"exist-map={path}")
    cat, dog, bus = (base.category_ids[n] for n in ("cat", "dog", "bus"))
    assert ids(task) == {f"{first}:{cat}", f"{second}:{dog}", f"{second}:{bus}"}  # person is not a task category


@pytest.mark.parametrize(("task_name", "dataset"), [("coco_fewshot", "coco"), ("lvis_fewshot", "lvis")])
def test_exist_map_by_size_reads_the_official_map_where_data_fetch_puts_it(
    synth_root: Path, tmp_path: Path, task_name: str, dataset: str
) -> None:
    from tasks.data import DataError
    from tasks.detection.task import official_exist_map

    root = tmp_path / "data"
    shutil.copytree(synth_root, root)
    task = get_task(task_name, root, protocol="exist-map=7B")
    expected = root / dataset / f"exist_map_{dataset}_Qwen2_vl_7B_baseline.json"
    assert task.exist_map_path == official_exist_map(root, dataset, "7B") == expected  # type: ignore[attr-defined]
    with pytest.raises(DataError, match=rf"exist map not found: {expected} \(`vrft data fetch --tasks {task_name}"):
        list(task.requests())
    first = next(iter(task.data.images))  # type: ignore[attr-defined]
    expected.write_text(json.dumps({str(i): [] for i in task.data.images} | {str(first): [task.spec.categories[0]]}))  # type: ignore[attr-defined]
    assert len(list(get_task(task_name, root, protocol="exist-map=7B").requests())) == 1


def test_two_stage_asks_existence_then_detects_where_yes(synth_root: Path) -> None:
    task = get_task("coco_fewshot", synth_root, protocol="two-stage")
    stage1 = list(task.requests())
    assert all(r.request_id.startswith("exist/") and r.stage == 1 for r in stage1)
    answers = {
        r.request_id: ("<think>t</think><answer>yes</answer>" if i % 3 == 0 else "<answer>No</answer>")
        for i, r in enumerate(stage1)
    }
    followup = [r.request_id for r in task.followup_requests(answers)]
    assert followup == [r.request_id.removeprefix("exist/") for i, r in enumerate(stage1) if i % 3 == 0]


def test_unknown_protocol_and_bad_arguments_are_clear(synth_root: Path) -> None:
    with pytest.raises(ValueError, match="unknown detection protocol"):
        get_task("coco_fewshot", synth_root, protocol="psychic")
    with pytest.raises(ValueError, match="limit"):
        get_task("coco_fewshot", synth_root, limit="many")
    with pytest.raises(ValueError, match="unknown task"):
        get_task("coco_fewshots", synth_root)
    with pytest.raises(ValueError, match="ovr48_17"):
        get_task("coco_ov", synth_root, split="48/17")
    assert expand_task_names("fgvc,coco_fewshot,fgvc_pets37") == [
        "fgvc_flowers102",
        "fgvc_pets37",
        "fgvc_aircraft",
        "fgvc_cars196",
        "coco_fewshot",
    ]


def test_prompt_styles(synth_root: Path) -> None:
    strict = next(get_task("coco_fewshot", synth_root).requests())
    official = next(get_task("coco_fewshot", synth_root, prompt="official").requests())
    assert official.text == IMAGE_PREFIX + strict.text and strict.system is None
    assert "Detect all objects belonging to the category '" in strict.text
    lisa_s = next(get_task("lisa_grounding", synth_root).requests())
    lisa_o = next(get_task("lisa_grounding", synth_root, prompt="official").requests())
    assert lisa_o.system == R1_SYSTEM_PROMPT and lisa_s.system is None
    assert lisa_o.max_new_tokens == 128
    cls = next(get_task("fgvc_aircraft", synth_root).requests())
    assert cls.text.startswith("This is an image containing an aircraft. Please identify the model of the aircraft")


def test_every_task_loads_and_scores_perfect_answers(synth_root: Path) -> None:
    for name in TASKS:
        task = get_task(name, synth_root)
        reqs = list(task.requests())
        assert reqs, name
        gens = {r.request_id: "<think>x</think>" + r.solution for r in reqs}
        for profile in ("strict", "official"):
            result = task.score(gens, profile)
            assert not result.missing and not result.unknown
            headline = result.metrics.get("mAP", result.metrics.get("accuracy", result.metrics.get("mIoU_test")))
            undefined = [k for k, v in result.metrics.items() if k.startswith("AP/") and v is None]
            if profile == "official" and undefined:
                # official: a listed class without GT in these images makes the mean NaN (issue 12, C)
                assert headline is None and any("no ground truth" in w for w in result.metrics["warnings"])
                defined = [v for k, v in result.metrics.items() if k.startswith("AP/") and v is not None]
                assert defined and min(defined) > 85.0, (name, defined)
                continue
            assert headline is not None and headline > 85.0, (name, profile, headline)
