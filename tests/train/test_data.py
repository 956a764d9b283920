"""Training data: k-shot sampling from task data, the published formats, and errors that say what is wrong."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from tasks.detection.categories import COCO_BASE65
from tasks.registry import get_task
from train_plugin.data import TrainDataError, from_paper_dataset, load_paper_dataset, to_grpo, to_sft, validate
from train_plugin.kshot import build_kshot


def _eval_requests(task: str, root: Path, **args: str) -> dict[str, object]:
    return {r.request_id: r for r in get_task(task, root, **args).requests()}


def test_fgvc_kshot_prompts_equal_eval_prompts(synth_root: Path) -> None:
    data = build_kshot("fgvc_aircraft", synth_root, shots=1, seed=0)
    ds = data.dataset
    assert set(ds.column_names) >= {"image", "problem", "solution", "sample_id"}
    assert Counter(ds["solution"]) == Counter({s: 1 for s in set(ds["solution"])})  # one image per class
    assert len(ds) == len(data.spec["per_class"]) == 6
    eval_text = next(iter(get_task("fgvc_aircraft", synth_root).requests())).text  # test split, strict style
    assert set(ds["problem"]) == {eval_text}  # byte-identical
    assert "<image>" not in eval_text
    # the same image rendered by the eval task (train split) gives the same text and solution
    evals = _eval_requests("fgvc_aircraft", synth_root, split="train")
    for sid, problem, solution in zip(ds["sample_id"], ds["problem"], ds["solution"], strict=True):
        assert (problem, solution) == (evals[sid].text, evals[sid].solution)  # type: ignore[attr-defined]


def test_kshot_is_seeded(synth_root: Path) -> None:
    a = build_kshot("fgvc_flowers102", synth_root, shots=1, seed=0).sample_ids
    b = build_kshot("fgvc_flowers102", synth_root, shots=1, seed=0).sample_ids
    c = [build_kshot("fgvc_flowers102", synth_root, shots=1, seed=s).sample_ids for s in range(1, 6)]
    assert a == b
    assert any(x != a for x in c)


def test_coco_kshot_rows_equal_eval_requests(synth_root: Path) -> None:
    # over the evaluation file (opted in: the default reads instances_train2017.json), every k-shot row is the
    # eval request of the same (image, category) pair, byte for byte
    ann = synth_root / "coco" / "annotations" / "instances_val2017.json"
    data = build_kshot("coco_fewshot", synth_root, shots=2, seed=3, train_annotations=ann, allow_eval_set=True)
    evals = _eval_requests("coco_fewshot", synth_root)
    assert data.sample_ids and all(n <= 2 for n in data.spec["per_category"].values())
    for sid, problem, solution in zip(data.sample_ids, data.dataset["problem"], data.dataset["solution"], strict=True):
        req = evals[sid]
        assert problem == req.text  # type: ignore[attr-defined]
        assert solution == req.solution != "<answer>No Objects</answer>"  # type: ignore[attr-defined]
    explicit = build_kshot("coco_fewshot", synth_root, 2, 3, train_annotations=ann,
                           train_images=synth_root / "coco" / "val2017", allow_eval_set=True)
    assert explicit.sample_ids == data.sample_ids and explicit.spec["annotations"] == str(ann)


def test_coco_ov_samples_base_categories_only(synth_root: Path) -> None:
    data = build_kshot("coco_ov", synth_root, shots=1, seed=0)
    assert set(data.spec["per_category"]) <= set(COCO_BASE65)
    assert all(n == 1 for n in data.spec["per_category"].values() if n)


def test_lisa_rows_every_instruction_and_eval_prompt(synth_root: Path) -> None:
    data = build_kshot("lisa_grounding", synth_root, shots=None, seed=0)
    assert len(data.dataset) == 8  # 4 train items x 2 instructions
    assert all(s.startswith("<answer> (") and s.endswith(") </answer>") for s in data.dataset["solution"])
    # the same folder as eval sees it: instruction 0 renders exactly like the eval request
    val = build_kshot("lisa_grounding", synth_root, None, 0, train_annotations=synth_root / "lisa/ReasonSeg/val",
                      allow_eval_set=True)
    evals = _eval_requests("lisa_grounding", synth_root, splits="val")
    for sid, problem, solution in zip(val.sample_ids, val.dataset["problem"], val.dataset["solution"], strict=True):
        name, _, k = sid.partition("#")
        if k == "0":
            req = evals[name.replace("train/", "val/")]
            assert (problem, solution) == (req.text, req.solution)  # type: ignore[attr-defined]


def test_both_published_layouts_load(synth_root: Path, tmp_path: Path) -> None:
    ds = build_kshot("fgvc_pets37", synth_root, 1, 0).dataset.remove_columns("sample_id")
    ds.save_to_disk(str(tmp_path / "disk"))
    (tmp_path / "hub" / "data").mkdir(parents=True)
    ds.to_parquet(str(tmp_path / "hub" / "data" / "train-00000-of-00001.parquet"))
    a = from_paper_dataset(tmp_path / "disk", "fgvc_pets37")
    b = from_paper_dataset(str(tmp_path / "hub"), "fgvc_pets37")
    assert list(a.dataset["solution"]) == list(b.dataset["solution"]) == list(ds["solution"])
    assert list(a.dataset["problem"]) == list(b.dataset["problem"])
    assert a.dataset[0]["image"].size == b.dataset[0]["image"].size
    assert a.sample_ids == [str(i) for i in range(len(ds))]
    from datasets import DatasetDict

    DatasetDict({"train": ds}).save_to_disk(str(tmp_path / "dict"))
    assert len(load_paper_dataset(tmp_path / "dict")) == len(ds)
    with pytest.raises(TrainDataError, match="cannot be loaded"):
        load_paper_dataset(tmp_path / "nothing-here")


def test_missing_column_lists_expected(synth_root: Path) -> None:
    ds = build_kshot("fgvc_cars196", synth_root, 1, 0).dataset.remove_columns("solution")
    expected = r"missing column\(s\) \['solution'\]; expected columns \['image', 'problem', 'solution'\]"
    with pytest.raises(TrainDataError, match=expected):
        validate(ds, "fgvc_cars196")


def test_unparseable_solution_names_row(synth_root: Path) -> None:
    ds = build_kshot("coco_fewshot", synth_root, 1, 0).dataset
    bad = list(ds["solution"])
    bad[3] = "<answer>[{'Position': [1, 2, 3], 'Confidence': 1}]</answer>"
    ds = ds.remove_columns("solution").add_column("solution", bad)
    with pytest.raises(TrainDataError, match="row 3: unparseable solution for task coco_fewshot"):
        validate(ds, "coco_fewshot")


def test_trl_columns(synth_root: Path) -> None:
    ds = build_kshot("fgvc_aircraft", synth_root, 1, 0).dataset
    g = to_grpo(ds)[0]
    assert g["prompt"] == [{"role": "user", "content": g["problem"]}]
    s = to_sft(ds)[0]
    assert s["completion"] == [{"role": "assistant", "content": s["solution"]}]


# The ids the k-shot sampler chose before the rows moved into the tasks (train_plugin/kshot.py at 19c3478), on the
# session's synthetic tree: the same seed must keep choosing the same training samples. COCO and LVIS were then
# sampled from the evaluation files (the old default); the pins stay on those files, opted in explicitly.
PINNED_SOURCES = {"coco_fewshot": "coco/annotations/instances_val2017.json",
                  "lvis_fewshot": "lvis/annotations/lvis_v1_val.json"}
PINNED_IDS = {
    ("fgvc_aircraft", 1, 0): ["9972654.jpg", "1614275.jpg", "1616026.jpg", "8221136.jpg", "5806784.jpg", "7051811.jpg"],
    ("coco_fewshot", 2, 3): ["253780:6", "491343:7", "126064:7", "569336:11", "189796:13", "126064:17", "565741:18",
                             "178694:18", "433392:65", "388815:70"],
    ("lvis_fewshot", 2, 1): ["406303:161", "561931:161", "371418:365", "397216:365", "503099:610", "47391:610",
                             "211669:733", "91944:755", "367047:755", "371418:1012", "470398:1012"],
    ("lisa_grounding", 2, 4): ["train/rs_train_002#0", "train/rs_train_002#1", "train/rs_train_003#0",
                               "train/rs_train_003#1"],
}


@pytest.mark.parametrize(("task", "shots", "seed"), sorted(PINNED_IDS))
def test_kshot_chooses_the_pinned_samples(synth_root: Path, task: str, shots: int, seed: int) -> None:
    source = PINNED_SOURCES.get(task)
    data = build_kshot(task, synth_root, shots, seed, train_annotations=source and synth_root / source,
                       allow_eval_set=source is not None)
    assert data.sample_ids == PINNED_IDS[task, shots, seed]
    assert list(data.dataset["sample_id"]) == data.sample_ids


@pytest.mark.parametrize("task", ["fgvc_aircraft", "coco_fewshot", "lisa_grounding"])
def test_train_rows_are_the_rows_of_the_task_pool(synth_root: Path, task: str) -> None:
    t = get_task(task, synth_root)
    pool = t.train_pool()
    ids = [i for group in pool.groups.values() for i in group[:1]][::-1]  # any ids, any order
    rows = t.train_rows(ids)
    assert rows == pool.select(ids) and rows
    assert [r.request_id.split("#")[0] for r in rows] == [i for i in ids for _ in pool.rows[i]]
    assert all(r.system is None and r.solution.startswith("<answer>") for r in rows)  # the training rendering
    with pytest.raises(ValueError, match="'nope' is not a training sample"):
        pool.select(["nope"])
