"""coco_bbox_eval: parity with a direct pycocotools run, known values (PROTOCOL §6.3), validation."""

from __future__ import annotations

import copy
import json
import math

import numpy as np
import pytest
from metrics_synth import ann, coco_gt, coco_prediction_sets, det, reference_coco

from tasks.metrics import ClassAP, coco_bbox_eval, coco_ov_summary

PRED_SETS = coco_prediction_sets()


def _values(m, cats):
    return np.array([[m.per_class[c].ap, m.per_class[c].ap50, m.per_class[c].ap75] for c in cats], float)


@pytest.mark.parametrize("name", sorted(set(PRED_SETS) - {"empty"}))
def test_parity_with_direct_cocoeval(tmp_path, name):
    gt, results = coco_gt(), PRED_SETS[name]
    ref = reference_coco(tmp_path, gt, results)  # all 3 categories, default params
    m = coco_bbox_eval(gt, results, [1, 2, 3])
    np.testing.assert_allclose(_values(m, [1, 2, 3]), ref, rtol=0, atol=1e-9)
    assert m.map == pytest.approx(float(np.mean(ref[:, 0])), abs=1e-9)
    assert m.map50 == pytest.approx(float(np.mean(ref[:, 1])), abs=1e-9)


def test_prediction_sets_give_distinct_known_shapes():
    gt = coco_gt()
    perfect = coco_bbox_eval(gt, PRED_SETS["perfect"], [1, 2, 3])
    assert perfect.map == 100.0 and perfect.warnings == ()
    partial = coco_bbox_eval(gt, PRED_SETS["partial"], [1, 2, 3])
    fp = coco_bbox_eval(gt, PRED_SETS["false_positive"], [1, 2, 3])
    assert 0 < fp.map < partial.map < 100
    # one dog missed out of three: AP50 capped by recall 2/3 -> 101-point mean 67/101
    assert partial.per_class[2].ap50 == pytest.approx(100 * 67 / 101, abs=1e-9)
    assert partial.per_class[2].n_gt == 3 and partial.per_class[2].n_det == 2
    assert fp.per_class[1].n_det == 3


def test_subset_of_categories_matches_per_class_and_excludes_others(tmp_path):
    gt = coco_gt()
    results = PRED_SETS["partial"]
    ref = reference_coco(tmp_path, gt, results)
    m = coco_bbox_eval(gt, results, [2, 1])
    assert list(m.per_class) == [2, 1]
    np.testing.assert_allclose(_values(m, [1, 2]), ref[:2], atol=1e-9)
    assert m.map == pytest.approx((ref[0, 0] + ref[1, 0]) / 2, abs=1e-9)
    # a category-3 detection exactly on a category-1 GT box, scored highest, changes nothing
    extra = [*results, det(1, 3, [10, 10, 50, 50], 1.0), det(2, 3, [100, 100, 40, 60], 1.0)]
    assert coco_bbox_eval(gt, extra, [1, 2]) == m


def test_known_values_cat_dog():
    """PROTOCOL §6.3: 2 cat GTs, one detected perfectly -> cat AP 50.50; both -> 100."""
    gt = {
        "images": [{"id": 1, "width": 100, "height": 100}, {"id": 2, "width": 100, "height": 100}],
        "categories": [{"id": 17, "name": "cat"}, {"id": 18, "name": "dog"}],
        "annotations": [
            ann(1, 1, 17, [10, 10, 30, 30], iscrowd=0),
            ann(2, 2, 17, [40, 40, 30, 30], iscrowd=0),
            ann(3, 2, 18, [0, 0, 20, 20], iscrowd=0),
        ],
    }
    one = coco_bbox_eval(gt, [det(1, 17, [10, 10, 30, 30], 1.0)], [17])
    assert round(one.per_class[17].ap, 2) == 50.50
    assert one.per_class[17].ap == pytest.approx(100 * 51 / 101, abs=1e-12)
    both = coco_bbox_eval(gt, [det(1, 17, [10, 10, 30, 30], 1.0), det(2, 17, [40, 40, 30, 30], 0.5)], [17])
    assert both.per_class[17].ap == 100.0 and both.map == 100.0
    # with the prediction-less dog class requested too, it counts as AP 0 (as stats[0] would)
    assert (
        coco_bbox_eval(gt, [det(1, 17, [10, 10, 30, 30], 1.0), det(2, 17, [40, 40, 30, 30], 0.5)], [17, 18]).map == 50.0
    )


def test_empty_results_give_zero_not_crash(tmp_path):
    # pycocotools' loadRes crashes on [] (D25): why the adapter special-cases it
    with pytest.raises(IndexError):
        reference_coco(tmp_path, coco_gt(), [])
    m = coco_bbox_eval(coco_gt(), [], [1, 2, 3])
    assert [c.ap for c in m.per_class.values()] == [0.0, 0.0, 0.0]
    assert m.map == 0.0 and m.map50 == 0.0


def test_category_without_gt_is_undefined_and_excluded():
    gt = coco_gt()
    gt["categories"].append({"id": 9, "name": "zebra"})
    m = coco_bbox_eval(gt, [*PRED_SETS["perfect"], det(1, 9, [0, 0, 5, 5], 0.5)], [1, 9])
    assert m.per_class[9].ap is None and m.per_class[9].ap50 is None
    assert m.per_class[9].n_det == 1
    assert m.map == 100.0
    assert len(m.warnings) == 1 and "category 9" in m.warnings[0]
    text = json.dumps(m.as_dict(), allow_nan=False)
    assert json.loads(text)["per_class"]["9"]["ap"] is None


def test_image_restriction_matches_direct(tmp_path):
    gt, results = coco_gt(), PRED_SETS["false_positive"]
    ref = reference_coco(tmp_path, gt, results, img_ids=[2, 3])
    m = coco_bbox_eval(gt, results, [1, 2, 3], image_ids=[3, 2])
    np.testing.assert_allclose(_values(m, [1, 2, 3]), ref, atol=1e-9)
    assert m.per_class[1].n_gt == 1 and m.per_class[1].n_det == 1
    assert m.map != coco_bbox_eval(gt, results, [1, 2, 3]).map


def test_inputs_not_mutated_and_quiet(capsys):
    gt, results = coco_gt(), copy.deepcopy(PRED_SETS["duplicate"])
    gt_before, res_before = copy.deepcopy(gt), copy.deepcopy(results)
    coco_bbox_eval(gt, results, [1, 2, 3])
    assert gt == gt_before and results == res_before
    assert capsys.readouterr().out == ""


def test_numpy_scores_and_missing_iscrowd_accepted():
    gt = coco_gt()
    for a in gt["annotations"]:
        del a["iscrowd"]
    res = [det(1, 1, [np.float32(10), 10, 50, 50], np.float64(0.9))]
    assert coco_bbox_eval(gt, res, [1]).per_class[1].ap == pytest.approx(100 * 51 / 101)


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({"score": "high"}, "score"),  # D25: official crashed inside COCOeval
        ({"score": float("nan")}, "score"),
        ({"score": math.inf}, "score"),
        ({"score": None}, "score"),
        ({"score": True}, "score"),
        ({"bbox": [0, 0, float("inf"), 5]}, "bbox"),
        ({"bbox": [0, 0, 5]}, "bbox"),
        ({"bbox": "0 0 5 5"}, "bbox"),
        ({"bbox": [0, 0, "5", 5]}, "bbox"),
        ({"image_id": 99}, "image_id"),
    ],
)
def test_invalid_result_raises_with_index_and_field(bad, field):
    results = [det(1, 1, [10, 10, 50, 50], 0.9), {**det(2, 1, [0, 0, 5, 5], 0.5), **bad}]
    with pytest.raises(ValueError, match=rf"result 1: .*'{field}'"):
        coco_bbox_eval(coco_gt(), results, [1])


def test_missing_field_and_bad_ids():
    with pytest.raises(ValueError, match="result 0: missing field 'score'"):
        coco_bbox_eval(coco_gt(), [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1]}], [1])
    with pytest.raises(ValueError, match="not categories"):
        coco_bbox_eval(coco_gt(), [], [1, 42])
    with pytest.raises(ValueError, match="duplicates"):
        coco_bbox_eval(coco_gt(), [], [1, 1])
    with pytest.raises(ValueError, match="empty"):
        coco_bbox_eval(coco_gt(), [], [])
    with pytest.raises(ValueError, match="not images"):
        coco_bbox_eval(coco_gt(), [], [1], image_ids=[1, 77])


def test_ov_summary_weighting():
    """PROTOCOL §6.3 check: 2B RFT (15·31.3 + 65·20.6)/80 = 22.6."""
    per_class = {i: 31.3 for i in range(15)} | {i: 20.6 for i in range(15, 80)}
    s = coco_ov_summary(per_class, novel_ids=list(range(15)), base_ids=list(range(15, 80)))
    assert s["mAPn"] == pytest.approx(31.3) and s["mAPb"] == pytest.approx(20.6)
    assert s["mAPall"] == pytest.approx((15 * 31.3 + 65 * 20.6) / 80)
    assert round(s["mAPall"], 1) == 22.6
    assert s["mAPall"] == pytest.approx(float(np.mean(list(per_class.values()))))


def test_ov_summary_with_classap_and_undefined():
    per_class = {
        1: ClassAP(ap=40.0, ap50=None, ap75=None, n_gt=1, n_det=1),
        2: ClassAP(ap=None, ap50=None, ap75=None, n_gt=0, n_det=0),
        3: ClassAP(ap=10.0, ap50=None, ap75=None, n_gt=1, n_det=1),
        4: ClassAP(ap=20.0, ap50=None, ap75=None, n_gt=1, n_det=1),
    }
    s = coco_ov_summary(per_class, novel_ids=[1, 2], base_ids=[3, 4])
    assert s == {"mAPn": 40.0, "mAPb": 15.0, "mAPall": pytest.approx(70.0 / 3)}
    with pytest.raises(ValueError, match="overlap"):
        coco_ov_summary(per_class, [1, 2], [2, 3])
    with pytest.raises(ValueError, match=r"\[5\]"):
        coco_ov_summary(per_class, [1, 5], [3])
