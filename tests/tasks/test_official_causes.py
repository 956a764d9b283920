"""The seven places where the `official` profile departed from the official evaluation code (issue 12).

Each expected value was derived by running the official scripts' logic by hand on the same input
(Liuziyu77/Visual-RFT at 9486633: ``Qwen2_VL_{classification,coco,lisa}_infere.py``, the COCO
notebook, ``lisa_evaluation/gen_sft.py``); the strict profile's value is asserted beside it where it
deliberately differs.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tasks.classification.metric import official_eval_match
from tasks.detection.metric import official_eval_results, strict_eval_results
from tasks.geometry import official_lisa_norm1000, official_trans_bbox
from tasks.grounding.parse import official_eval_box
from tasks.grounding.task import official_solution
from tasks.metrics import coco_bbox_eval, coco_ov_summary
from tasks.metrics.coco import OfficialEvaluatorError
from tasks.registry import get_task
from tasks.spec import GroundingSample, ImageRef

# ---- A: the LISA eval box pattern ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("decoded", "official"),
    [
        ("<answer>(45,178),(326,432)</answer>", (0.045, 0.178, 0.326, 0.432)),
        ("<answer>(45, 178), (326, 432)</answer>", (0.045, 0.178, 0.326, 0.432)),
        ("<answer>( 45 , 178 ) , ( 326 , 432 )</answer>", (0.045, 0.178, 0.326, 0.432)),
        ("<answer>(45,178),\n(326,432)</answer>", (0.045, 0.178, 0.326, 0.432)),
        ("<think>maybe (1,2),(3,4)</think><answer>(45,178),(326,432)</answer>", (0.001, 0.002, 0.003, 0.004)),
        ("<answer>(45,178)</answer>", None),
        ("<answer>(45.5,178),(326,432)</answer>", None),
    ],
)
def test_A_lisa_eval_box_pattern(decoded: str, official: tuple[float, ...] | None) -> None:
    assert official_eval_box(decoded) == official


def test_A_spaced_box_gets_its_real_iou(synth_root: Path) -> None:
    task = get_task("lisa_grounding", synth_root, prompt="official", splits="val", limit=3)
    gens = {}
    for req in task.requests():
        s = task.samples[req.request_id]  # type: ignore[attr-defined]
        w, h = s.image.width, s.image.height
        x1, y1, x2, y2 = (int(v / d * 1000) for v, d in zip(s.gt_xyxy, (w, h, w, h), strict=True))
        gens[req.request_id] = f"<think>x</think><answer>( {x1}, {y1} ),\n({x2} ,{y2})</answer>"
    metrics = task.score(gens, "official").metrics
    assert metrics["mIoU_val"] > 95.0 and metrics["parse_failures"] == {}


# ---- B: the classification eval does not strip the answer ---------------------------------------


@pytest.mark.parametrize(
    ("response", "label", "official"),
    [
        ("<answer>pea\t</answer>", "sweet pea", False),
        ("<answer>\t</answer>", "sweet pea", False),
        ("<answer>\xa0lily</answer>", "fire lily", False),
        ("<answer> sweet_pea </answer>", "sweet pea", True),  # spaces and underscores are deleted
        ("<answer></answer>", "sweet pea", True),  # "" is a substring of everything (D3)
        ("<answer>pea</answer>", "sweet pea", True),
    ],
)
def test_B_classification_eval_keeps_whitespace(response: str, label: str, official: bool) -> None:
    match = official_eval_match(response, label)
    assert (match.correct, match.error) == (official, False)


# ---- C: a listed class without GT makes the official mean undefined --------------------------------


def _gt(boxes: dict[int, list[list[float]]], size: tuple[int, int] = (100, 100)) -> dict[str, Any]:
    anns = [
        {"id": i + 1, "image_id": 1, "category_id": cid, "bbox": b, "area": b[2] * b[3], "iscrowd": 0}
        for i, (cid, b) in enumerate((cid, b) for cid, bs in boxes.items() for b in bs)
    ]
    return {
        "images": [{"id": 1, "width": size[0], "height": size[1], "file_name": "1.jpg"}],
        "categories": [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}],
        "annotations": anns,
    }


def test_C_mean_over_listed_classes_with_an_empty_class() -> None:
    gt = _gt({1: [[10.0, 10.0, 20.0, 20.0]]})
    res = [{"image_id": 1, "category_id": 1, "bbox": [10.0, 10.0, 20.0, 20.0], "score": 0.9}]
    official = coco_bbox_eval(gt, res, [1, 2], official=True)
    strict = coco_bbox_eval(gt, res, [1, 2])
    assert official.per_class[1].ap == strict.per_class[1].ap == pytest.approx(100.0)
    assert official.per_class[2].ap is None and official.map is None and official.map50 is None
    assert "category 2" in official.warnings[0] and "undefined" in official.warnings[0]
    assert strict.map == pytest.approx(100.0)  # strict: the class is left out, and said so
    per_class = {1: 100.0, 2: None, 3: 50.0}
    assert coco_ov_summary(per_class, [1, 2], [3], official=True) == {"mAPn": None, "mAPb": 50.0, "mAPall": None}
    assert coco_ov_summary(per_class, [1, 2], [3]) == {"mAPn": 100.0, "mAPb": 50.0, "mAPall": 75.0}


def test_C_task_names_the_classes_without_gt(synth_root: Path) -> None:
    task = get_task("coco_ov", synth_root, limit=2)
    gens = {r.request_id: "<think>x</think>" + r.solution for r in task.requests()}
    metrics = task.score(gens, "official").metrics
    assert metrics["mAP"] is None if "mAP" in metrics else True
    assert metrics["mAPall"] is None
    undefined = [k.split("/", 1)[1] for k, v in metrics.items() if k.startswith("AP/") and v is None]
    assert undefined and all(name in metrics["warnings"][0] for name in undefined)
    assert task.score(gens, "strict").metrics["mAPall"] is not None


# ---- D: the official box arithmetic ------------------------------------------------------------------

# A probe found by search: with the official order of operations the IoU with this GT is exactly
# 0.75 (a match at the 0.75 threshold); with (x2 - x1)/1000*W it is 0.7499999999999998 (no match).
PROBE_SIZE = (250, 417)
PROBE_POSITION = [101, 75, 747, 920]
PROBE_GT = [25.25, 31.275, 121.125, 352.36500000000007]


def test_D_official_trans_bbox_order_of_operations() -> None:
    w, h = PROBE_SIZE
    x1, y1, x2, y2 = PROBE_POSITION
    expected = [x1 / 1000 * w, y1 / 1000 * h, x2 / 1000 * w - x1 / 1000 * w, y2 / 1000 * h - y1 / 1000 * h]
    assert official_trans_bbox(PROBE_POSITION, w, h) == expected
    alt = [x1 / 1000 * w, y1 / 1000 * h, (x2 - x1) / 1000 * w, (y2 - y1) / 1000 * h]
    assert expected != alt  # the probe really separates the two orders
    conv = official_eval_results("<answer>[{'Position': [101, 75, 747, 920], 'Confidence': 1}]</answer>", 1, 1, w, h)
    assert conv.results[0]["bbox"] == expected


def test_D_probe_changes_the_official_ap() -> None:
    w, h = PROBE_SIZE
    gt = _gt({1: [PROBE_GT]}, PROBE_SIZE)
    conv = official_eval_results("<answer>[{'Position': [101, 75, 747, 920], 'Confidence': 1}]</answer>", 1, 1, w, h)
    assert coco_bbox_eval(gt, conv.results, [1], official=True).per_class[1].ap == pytest.approx(60.0, abs=1e-9)
    x1, y1, x2, y2 = PROBE_POSITION
    old = [{**conv.results[0], "bbox": [x1 / 1000 * w, y1 / 1000 * h, (x2 - x1) / 1000 * w, (y2 - y1) / 1000 * h]}]
    assert coco_bbox_eval(gt, old, [1], official=True).per_class[1].ap == pytest.approx(50.0, abs=1e-9)


# ---- E: duplicate removal raises for the whole answer ----------------------------------------------


@pytest.mark.parametrize(
    ("answer", "n_results", "errors"),
    [
        ("[{'Position': [1, 2, 3, 4], 'Confidence': 0.9}, {'Position': [5, {'a': 1}, 7, 8], 'Confidence': 0.5}]", 0, 1),
        ("[{'Position': [1, 2, 3, 4], 'Confidence': 0.9}, {'Position': [5, [6], 7, 8], 'Confidence': 0.5}]", 0, 1),
        ("[{'Position': [1, 2, 3, 4], 'Confidence': 0.9}, {'Position': 5, 'Confidence': 0.5}]", 0, 1),
        ("[{'Position': [1, 2, 3, 4], 'Confidence': 0.9}, {'Confidence': 0.5}]", 0, 1),
        # a conversion error after deduplication keeps the boxes converted before it
        ("[{'Position': [1, 2, 3, 4], 'Confidence': 0.9}, {'Position': [5, 6, 7], 'Confidence': 0.5}]", 1, 1),
        ("[{'Position': [1, 2, 3, 4], 'Confidence': 0.9}, {'Position': [1, 2, 3, 4], 'Confidence': 0.5}]", 1, 0),
    ],
)
def test_E_remove_duplicates(answer: str, n_results: int, errors: int) -> None:
    conv = official_eval_results(f"<answer>{answer}</answer>", 1, 1, 100, 100)
    assert (len(conv.results), conv.error_count) == (n_results, errors)


# ---- F: the official profile hands the evaluator what the official code hands it ------------------


def _one(score: Any, bbox: list[float] | None = None) -> dict[str, Any]:
    return {"image_id": 1, "category_id": 1, "bbox": bbox or [10.0, 10.0, 20.0, 20.0], "score": score}


FAR = [70.0, 70.0, 10.0, 10.0]


def _reference_ap(gt: dict[str, Any], results: list[dict[str, Any]], cat: int) -> float:
    """The official notebook on raw results: default-parameter COCOeval, then the class's mean of the
    precision entries > -1 at area "all", maxDets 100, x100. Raises where the official run crashes."""
    import contextlib
    import copy
    import io

    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = copy.deepcopy(gt)
        coco.createIndex()
        ev = COCOeval(coco, coco.loadRes(copy.deepcopy(results)), "bbox")
        ev.evaluate()
        ev.accumulate()
    p = ev.eval["precision"][:, :, ev.params.catIds.index(cat), 0, 2]
    return float(np.mean(p[p > -1])) * 100


@pytest.mark.parametrize(
    "results",
    [
        [_one(float("nan")), _one(0.9, FAR)],  # NaN ranks last
        [_one(0.9, FAR), _one(True)],  # true beside a higher float score
        [_one(True), _one(0.9, FAR)],  # true on top: numpy cannot negate the maxDets=1 column (crash)
        [_one(0.9, [0.0, 0.0, math.inf, 20.0]), _one(0.5)],  # an infinite box
        [_one(0.5), _one(0.9, [math.nan, 10.0, 20.0, 20.0])],  # a NaN box matches (NaN < thr is False)
        [_one(2.5), _one(-1.0, FAR), _one(0.5, [10.0, 10.0, -20.0, 20.0])],  # out of range, negative width
    ],
)
def test_F_official_passes_what_the_official_code_passes(results: list[dict[str, Any]]) -> None:
    gt = _gt({1: [[10.0, 10.0, 20.0, 20.0]]})
    try:
        expected: float | None = _reference_ap(gt, results, 1)
    except TypeError:
        expected = None
    if expected is None:
        with pytest.raises(OfficialEvaluatorError, match="official code"):
            coco_bbox_eval(gt, results, [1], official=True)
    else:
        assert coco_bbox_eval(gt, results, [1], official=True).per_class[1].ap == expected
    if any(not isinstance(r["score"], float) or not all(map(math.isfinite, r["bbox"])) for r in results):
        with pytest.raises(ValueError, match="result"):
            coco_bbox_eval(gt, results, [1])  # strict refuses them


def test_F_nan_box_really_matches_in_the_official_evaluator() -> None:
    gt = _gt({1: [[10.0, 10.0, 20.0, 20.0]]})
    results = [_one(0.5), _one(0.9, [math.nan, 10.0, 20.0, 20.0])]
    assert coco_bbox_eval(gt, results, [1], official=True).per_class[1].ap == pytest.approx(100.0)


@pytest.mark.parametrize("score", ["high", None, [0.5]])
def test_F_official_fails_where_the_official_code_fails(score: Any) -> None:
    gt = _gt({1: [[10.0, 10.0, 20.0, 20.0]]})
    with pytest.raises(TypeError):
        _reference_ap(gt, [_one(0.5), _one(score)], 1)
    with pytest.raises(OfficialEvaluatorError, match="official code"):
        coco_bbox_eval(gt, [_one(0.5), _one(score)], [1], official=True)


def test_F_official_error_names_the_request(synth_root: Path) -> None:
    task = get_task("coco_fewshot", synth_root, limit=3)
    reqs = list(task.requests())
    gens = {r.request_id: "<think>x</think>" + r.solution for r in reqs}
    bad = next(r.request_id for r in reqs if "Position" in r.solution)
    gens[bad] = "<answer>[{'Position': [1, 2, 300, 400], 'Confidence': 'high'}]</answer>"
    with pytest.raises(OfficialEvaluatorError, match=f"coco_fewshot: .*request {bad} \\(Confidence 'high'"):
        task.score(gens, "official")
    strict = task.score(gens, "strict")  # strict rejects the item and goes on
    assert strict.metrics["mAP"] is not None


def test_F_strict_conversion_never_passes_nonfinite_values() -> None:
    conv = strict_eval_results("<answer>[{'Position': [1, 2, 3, 4], 'Confidence': 'high'}]</answer>", 1, 1, 100, 100)
    assert all(isinstance(r["score"], float) and math.isfinite(r["score"]) for r in conv.results)


# ---- G: the official LISA solution rounding ---------------------------------------------------------


def test_G_lisa_solution_truncates_like_gen_sft() -> None:
    assert official_lisa_norm1000(22.4, 224) == 99  # floor(1000 * 22.4 / 224) would be 100
    sample = GroundingSample(
        "x", ImageRef(Path("x.jpg"), 224, 224), "the cup", np.array([22.4, 22.4, 112.0, 200.2], dtype=np.float64)
    )
    assert official_solution(sample) == "<answer> (99,99),(500,893) </answer>"
    assert int(200.2 / 224 * 1000) == 893


# ---- the official LISA reward's true range -----------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "accuracy"),
    [
        ("(1000,1000),(0,0)", 1_000_001.0),
        ("(0,1000),(1000,0)", -999.999),
        ("(0,0),(1,1)", 2.0),
        ("(1000000,1000000),(0,0)", 1e12 + 1),
    ],
)
def test_official_lisa_reward_range_is_what_the_docs_say(answer: str, accuracy: float) -> None:
    from tasks.grounding.rewards import OfficialGrounding

    score = OfficialGrounding(math_verify=False).score(f"<answer>{answer}</answer>", "<answer> (0,0),(1,1) </answer>")
    assert score.components["accuracy"] == pytest.approx(accuracy, rel=1e-9)
