"""lvis_bbox_eval: parity with a direct LVISEval run, the D20 area-mean quirk, federated rules."""

from __future__ import annotations

import copy
import json
import logging

import numpy as np
import pytest
from metrics_synth import ann, det, lvis_gt, lvis_image, lvis_predictions, lvis_scene, reference_lvis

from tasks.metrics import lvis_bbox_eval
from tasks.metrics.lvis import ensure_numpy_float_alias


def _std_and_area_mean(m, cats):
    std = np.array([np.nan if m.per_class[c].ap is None else m.per_class[c].ap for c in cats])
    am = [m.per_class[c].ap_official_area_mean for c in cats]
    return std, np.array([np.nan if v is None else v for v in am])


@pytest.mark.parametrize("subset", ["all", "partial", "fp_only", "perfect"])
def test_parity_with_direct_lvis_eval(tmp_path, subset):
    gt = lvis_scene()
    preds = lvis_predictions()
    if subset == "partial":
        preds = preds[::2]
    elif subset == "fp_only":
        preds = [p for p in preds if p["image_id"] in (4, 6)]
    elif subset == "perfect":
        preds = [det(a["image_id"], a["category_id"], a["bbox"], 0.5) for a in gt["annotations"]]
    ref_std, ref_area = reference_lvis(tmp_path, gt, preds)
    m = lvis_bbox_eval(gt, preds, [1, 2, 3])
    std, area = _std_and_area_mean(m, [1, 2, 3])
    np.testing.assert_allclose(std, ref_std, atol=1e-9)
    np.testing.assert_allclose(area, ref_area, atol=1e-9)
    assert m.map == pytest.approx(float(np.nanmean(ref_std)), abs=1e-9)
    assert m.map_official_area_mean == pytest.approx(float(np.nanmean(ref_area)), abs=1e-9)
    if subset == "perfect":
        assert m.map == 100.0 and m.map_official_area_mean == 100.0


def test_scene_values_are_not_trivial():
    m = lvis_bbox_eval(lvis_scene(), lvis_predictions(), [1, 2, 3])
    aps = [m.per_class[c].ap for c in (1, 2, 3)]
    assert all(a is not None and 0 < a < 100 for a in aps)
    assert len(set(aps)) == 3
    assert m.map_official_area_mean != m.map


def test_d20_area_mean_quirk():
    """PROTOCOL §6.4: one large GT + three small higher-score FPs: standard 25.0, notebook 62.5."""
    gt = lvis_gt([lvis_image(1)], [ann(1, 1, 1, [100, 100, 200, 200])], n_cats=1)
    preds = [
        det(1, 1, [0, 0, 10, 10], 0.9),
        det(1, 1, [20, 0, 10, 10], 0.8),
        det(1, 1, [40, 0, 10, 10], 0.7),
        det(1, 1, [100, 100, 200, 200], 0.5),
    ]
    c = lvis_bbox_eval(gt, preds, [1]).per_class[1]
    assert c.ap == pytest.approx(25.0, abs=1e-9)
    assert c.ap_official_area_mean == pytest.approx(62.5, abs=1e-9)


def _fed_gt():
    # category 1: one GT on image 1; image 2 lists it as negative, image 3 knows nothing of it
    return lvis_gt([lvis_image(1), lvis_image(2, neg=[1]), lvis_image(3)], [ann(1, 1, 1, [10, 10, 100, 100])], n_cats=1)


def test_fp_outside_pos_and_neg_is_ignored():
    preds = [det(1, 1, [10, 10, 100, 100], 0.5), det(3, 1, [0, 0, 50, 50], 0.9)]
    assert lvis_bbox_eval(_fed_gt(), preds, [1]).per_class[1].ap == pytest.approx(100.0)


def test_fp_on_negative_image_counts():
    preds = [det(1, 1, [10, 10, 100, 100], 0.5), det(2, 1, [0, 0, 50, 50], 0.9)]
    assert lvis_bbox_eval(_fed_gt(), preds, [1]).per_class[1].ap == pytest.approx(50.0)


@pytest.mark.parametrize(("nel", "expected"), [([1], 100.0), ([], 50.0)])
def test_unmatched_detection_on_not_exhaustive_image(nel, expected):
    gt = lvis_gt([lvis_image(1, nel=nel)], [ann(1, 1, 1, [10, 10, 100, 100])], n_cats=1)
    preds = [det(1, 1, [10, 10, 100, 100], 0.5), det(1, 1, [300, 300, 50, 50], 0.9)]
    assert lvis_bbox_eval(gt, preds, [1]).per_class[1].ap == pytest.approx(expected)


def test_max_dets_keeps_top_per_image(tmp_path):
    gt = lvis_gt([lvis_image(1)], [ann(1, 1, 1, [10, 10, 100, 100])], n_cats=1)
    fps = [det(1, 1, [300 + i % 20, 300, 20, 20], 0.9) for i in range(300)]
    preds = [*fps, det(1, 1, [10, 10, 100, 100], 0.1)]  # the TP is the 301st by score
    assert lvis_bbox_eval(gt, preds, [1]).per_class[1].ap == 0.0
    capped_more = lvis_bbox_eval(gt, preds, [1], max_dets=301).per_class[1]
    assert capped_more.ap == pytest.approx(100 / 301, abs=1e-9)
    assert capped_more.ap == pytest.approx(reference_lvis(tmp_path, gt, preds, max_dets=301)[0][0], abs=1e-9)
    assert lvis_bbox_eval(gt, preds, [1]).per_class[1].n_det == 300


def test_category_restriction_excludes_other_categories():
    gt = lvis_scene()
    preds = lvis_predictions()
    base = lvis_bbox_eval(gt, preds, [1, 3])
    assert list(base.per_class) == [1, 3]
    # category-2 detections (even 400 of them on one image, which would crowd the top-300 cap)
    noise = [det(1, 2, [10, 10, 20, 20], 1.0) for _ in range(400)]
    assert lvis_bbox_eval(gt, [*noise, *preds], [1, 3]) == base
    full = lvis_bbox_eval(gt, preds, [1, 2, 3])
    assert base.per_class[1] == full.per_class[1] and base.per_class[3] == full.per_class[3]


def test_empty_results_and_undefined_category():
    gt = lvis_scene()
    gt["categories"].append({"id": 4, "name": "c4", "frequency": "r"})
    gt["images"][0]["neg_category_ids"].append(4)
    m = lvis_bbox_eval(gt, [], [1, 2, 3, 4])
    assert [m.per_class[c].ap for c in (1, 2, 3)] == [0.0, 0.0, 0.0]
    assert m.per_class[4].ap is None and m.per_class[4].ap_official_area_mean is None
    assert m.map == 0.0 and "category 4" in m.warnings[0]
    json.dumps(m.as_dict(), allow_nan=False)


def test_gt_and_results_not_mutated_and_quiet(capsys, caplog):
    gt, preds = lvis_scene(), lvis_predictions()
    gt0, preds0 = copy.deepcopy(gt), copy.deepcopy(preds)
    with caplog.at_level(logging.INFO):
        lvis_bbox_eval(gt, preds, [1, 2, 3])
    assert gt == gt0 and preds == preds0
    assert capsys.readouterr() == ("", "")
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_works_without_np_float_alias(monkeypatch):
    ensure_numpy_float_alias()
    monkeypatch.delattr(np, "float")
    with pytest.raises(AttributeError):
        _ = np.float  # numpy >= 1.24: gone, lvis 0.5.3 accumulate() needs it
    assert lvis_bbox_eval(lvis_scene(), lvis_predictions(), [1]).per_class[1].ap is not None
    assert np.float is float


def test_validation_errors():
    gt = lvis_scene()
    with pytest.raises(ValueError, match=r"result 0: .*'score'"):
        lvis_bbox_eval(gt, [det(1, 1, [0, 0, 5, 5], "high")], [1])
    bad = copy.deepcopy(gt)
    del bad["images"][2]["neg_category_ids"]
    with pytest.raises(ValueError, match="neg_category_ids"):
        lvis_bbox_eval(bad, [], [1])
    with pytest.raises(ValueError, match="not categories"):
        lvis_bbox_eval(gt, [], [7])
