"""Scoring through tasks: metric parity with direct pycocotools, official vs strict readings, `vrft score`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from tasks.registry import get_task


def perfect_and_noisy(task) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Perfect answers for even images, a shifted box for odd ones, No Objects for a few."""
    gens = {}
    for i, r in enumerate(task.requests()):
        if i % 2 == 0:
            gens[r.request_id] = "<think>x</think>" + r.solution
        elif "No Objects" in r.solution:
            gens[r.request_id] = (
                "<think>x</think><answer>[{'Position': [10, 10, 200, 200], 'Confidence': 0.3}]</answer>"
            )
        else:
            gens[r.request_id] = (
                "<think>x</think>"
                + r.solution.replace("'Confidence': 1", "'Confidence': 0.6")[:-12]
                + ", {'Position': [0, 0, 990, 990], 'Confidence': 0.2}]</answer>"
            )
    return gens


def test_coco_per_class_ap_equals_direct_pycocotools(synth_root: Path, tmp_path: Path) -> None:
    from tasks.detection.metric import strict_eval_results

    task = get_task("coco_fewshot", synth_root)
    gens = perfect_and_noisy(task)
    metrics = task.score(gens, "strict").metrics
    results = []
    for rid, text in gens.items():
        img, cat = (int(x) for x in rid.split(":"))
        ref = task.data.images[img]
        results += strict_eval_results(text, img, cat, ref.width, ref.height).results
    coco = COCO(str(synth_root / "coco/annotations/instances_val2017.json"))
    ev = COCOeval(coco, coco.loadRes(results), "bbox")
    ev.params.catIds = sorted(task.category_ids.values())
    ev.evaluate()
    ev.accumulate()
    for name, cid in task.category_ids.items():
        k = ev.params.catIds.index(cid)
        p = ev.eval["precision"][:, :, k, 0, 2]
        direct = float(p[p > -1].mean()) * 100 if (p > -1).any() else None
        assert (
            metrics[f"AP/{name}"] == pytest.approx(direct, abs=1e-9)
            if direct is not None
            else metrics[f"AP/{name}"] is None
        )
    assert 0 < metrics["mAP"] < 100


def test_classification_strict_and_official_side_by_side(synth_root: Path) -> None:
    task = get_task("fgvc_cars196", synth_root)
    reqs = list(task.requests())
    gens = {r.request_id: "<think>x</think><answer>0</answer>" for r in reqs}  # D4: '0' matches every car year
    gens[reqs[0].request_id] = "no tags at all"
    m = task.score(gens, "strict").metrics
    assert m["accuracy_strict"] == 0.0
    assert m["accuracy_official"] == pytest.approx(100.0 * (len(reqs) - 1) / len(reqs))
    assert m["parse_failures"] == {"no_answer": 1} and m["official_error_count"] == 1
    assert task.score(gens, "official").metrics["accuracy"] == m["accuracy_official"]


def test_lisa_official_reads_the_first_tuple_anywhere(synth_root: Path) -> None:
    task = get_task("lisa_grounding", synth_root, splits="test")
    reqs = list(task.requests())
    right = {r.request_id: "<think>x</think><answer>" + r.solution[9:-10].strip() + "</answer>" for r in reqs}
    decoy = {k: "<think>not (0,0),(1,1)</think>" + v.removeprefix("<think>x</think>") for k, v in right.items()}
    assert task.score(right, "official").metrics["mIoU_test"] > 95
    assert task.score(decoy, "official").metrics["mIoU_test"] < 5  # D22: the think tuple wins
    assert task.score(decoy, "strict").metrics["mIoU_test"] == pytest.approx(
        task.score(right, "strict").metrics["mIoU_test"]
    )


def vrft(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True, timeout=300, check=False
    )


def test_vrft_score_reports_missing_unknown_and_duplicates(synth_root: Path, tmp_path: Path) -> None:
    task = get_task("fgvc_pets37", synth_root)
    reqs = list(task.requests())
    lines = [{"request_id": r.request_id, "text": "<think>x</think>" + r.solution} for r in reqs[1:]]
    lines.append({"request_id": "nonexistent.jpg", "text": "x"})
    gen = tmp_path / "g.jsonl"
    gen.write_text("".join(json.dumps(x) + "\n" for x in lines))
    res = vrft("score", "--task", "fgvc_pets37", "--data-root", str(synth_root), "--generations", str(gen))
    assert res.returncode == 2 and reqs[0].request_id in res.stderr and "--allow-missing" in res.stderr
    res = vrft(
        "score",
        "--task",
        "fgvc_pets37",
        "--data-root",
        str(synth_root),
        "--generations",
        str(gen),
        "--allow-missing",
        "--out",
        str(tmp_path / "out"),
    )
    assert res.returncode == 0, res.stderr
    metrics = json.loads((tmp_path / "out/metrics.json").read_text())["fgvc_pets37"]
    assert metrics["accuracy"] == pytest.approx(100.0 * (len(reqs) - 1) / len(reqs))
    assert metrics["missing"] == 1 and metrics["unknown_ids"] == ["nonexistent.jpg"]
    scores = [json.loads(x) for x in (tmp_path / "out/scores.jsonl").read_text().splitlines()]
    assert len(scores) == len(reqs) - 1 and all(s["accuracy"] == 1.0 for s in scores)
    # a conflicting duplicate is refused
    gen.write_text(gen.read_text() + json.dumps({"request_id": reqs[1].request_id, "text": "other"}) + "\n")
    res = vrft(
        "score", "--task", "fgvc_pets37", "--data-root", str(synth_root), "--generations", str(gen), "--allow-missing"
    )
    assert res.returncode == 2 and "conflicting" in res.stderr and reqs[1].request_id in res.stderr


def test_vrft_score_bad_generations_line_names_file_and_line(synth_root: Path, tmp_path: Path) -> None:
    gen = tmp_path / "g.jsonl"
    gen.write_text('{"request_id": "a", "text": "x"}\n{oops\n{"request_id": "b", "text": "y"}\n')
    res = vrft("score", "--task", "fgvc_pets37", "--data-root", str(synth_root), "--generations", str(gen))
    assert res.returncode == 2 and f"{gen}:2" in res.stderr
