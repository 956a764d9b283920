"""Image-level bootstrap (issue 18), exact parity: the re-accumulation reproduces pycocotools / lvis on the
identity resample, and the weighted path equals explicitly duplicated records on resampled multisets."""

from __future__ import annotations

import contextlib
import io
import warnings

import numpy as np
import pytest
from bootstrap_synth import (
    _multisets,
    coco_eval,
    duplicated_as_entries,
    duplicated_in_place,
    lvis_eval,
    random_coco,
    random_lvis,
)

from tasks.metrics import coco_bbox_eval, coco_ov_summary, lvis_bbox_eval
from tasks.metrics.bootstrap_accumulate import min_tp, records_from_cocoeval, records_from_lvis_eval
from tasks.metrics.bootstrap_coco import (
    DetectionStatistic,
    coco_records,
    lvis_records,
)

# ---- parity: identity -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_coco_identity_reproduces_pycocotools_precision(seed):
    gt, dets = random_coco(seed)
    ev = coco_eval(gt, dets)
    rec = records_from_cocoeval(ev)
    assert rec.areas == ("all", "small", "medium", "large") and rec.max_dets == (1, 10, 100)
    mine = rec.official_precision(np.ones(len(rec.image_ids), dtype=np.int64))
    with contextlib.redirect_stdout(io.StringIO()):
        ev.accumulate()
    assert np.array_equal(mine, ev.eval["precision"])
    assert (mine[:, :, 3] == -1).all() and (mine[:, :, :3, 0, 2] > -1).all()  # class 4 undefined, 1..3 not


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("official", [False, True])
def test_coco_identity_reproduces_coco_bbox_eval(seed, official):
    gt, dets = random_coco(seed)
    cats = [3, 1, 2, 4]
    m = coco_bbox_eval(gt, dets, cats, official=official)
    pt = DetectionStatistic(
        coco_records(gt, dets, cats, official=official), category_ids=cats, official=official, ov=([1, 4], [2, 3])
    ).point()
    for c in cats:
        assert (pt[f"ap/{c}"], pt[f"ap50/{c}"], pt[f"ap75/{c}"]) == (
            m.per_class[c].ap,
            m.per_class[c].ap50,
            m.per_class[c].ap75,
        )
    assert pt["ap/4"] is None
    assert (pt["map"], pt["map50"]) == (m.map, m.map50)
    assert official == (pt["map"] is None)
    ov = coco_ov_summary(m.per_class, [1, 4], [2, 3], official=official)
    assert (pt["mAPn"], pt["mAPb"], pt["mAPall"]) == (ov["mAPn"], ov["mAPb"], ov["mAPall"])


def test_coco_image_subset_matches_coco_bbox_eval():
    gt, dets = random_coco(5)
    subset = [im["id"] for im in gt["images"][3:11]]
    rec = coco_records(gt, dets, [1, 2, 3], subset)
    assert rec.image_ids == tuple(sorted(subset))
    m = coco_bbox_eval(gt, dets, [1, 2, 3], subset)
    pt = DetectionStatistic(rec).point()
    assert [pt[f"ap/{c}"] for c in (1, 2, 3)] == [m.per_class[c].ap for c in (1, 2, 3)]


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("max_dets", [300, 5])
def test_lvis_identity_reproduces_lvis_precision(seed, max_dets):
    gt, dets = random_lvis(seed)
    ev = lvis_eval(gt, dets, max_dets)
    rec = records_from_lvis_eval(ev)
    mine = rec.official_precision(np.ones(len(rec.image_ids), dtype=np.int64))
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ev.accumulate()
    assert np.array_equal(mine, ev.eval["precision"])
    assert (mine[:, :, 3] == -1).all()  # category 4: negatives and FPs, no GT


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("official", [False, True])
def test_lvis_identity_reproduces_lvis_bbox_eval(seed, official):
    gt, dets = random_lvis(seed)
    cats = [2, 3, 1, 4]
    m = lvis_bbox_eval(gt, dets, cats, max_dets=8, official=official)
    rec = lvis_records(gt, dets, cats, max_dets=8, official=official)
    assert rec.image_ids == tuple(sorted(im["id"] for im in gt["images"]))
    pt = DetectionStatistic(rec, category_ids=cats, official=official).point()
    for c in cats:
        c_ap = m.per_class[c]
        assert (pt[f"ap/{c}"], pt[f"ap50/{c}"], pt[f"ap_official_area_mean/{c}"]) == (
            c_ap.ap,
            c_ap.ap50,
            c_ap.ap_official_area_mean,
        )
    assert (pt["map"], pt["map50"], pt["map_official_area_mean"]) == (m.map, m.map50, m.map_official_area_mean)


def test_lvis_area_mean_with_undefined_areas_is_exercised():
    """Some class has GT in some area ranges only: the partial-area path of the official mean is used."""
    hit = False
    for seed in range(4):
        gt, dets = random_lvis(seed)
        prec = lvis_records(gt, dets, [1, 2, 3]).precision(np.ones((1, len(gt["images"])), dtype=np.int64))
        defined = prec[0, :, :, 0, 0] > -1  # (K, A)
        hit |= bool((defined.any(axis=1) & ~defined.all(axis=1)).any())
    assert hit


# ---- parity: resampled multisets --------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_coco_weighted_equals_duplicated_records(seed):
    gt, dets = random_coco(seed)
    ev = coco_eval(gt, dets)
    rec = records_from_cocoeval(ev)
    for counts in _multisets(len(rec.image_ids), seed):
        mine = rec.official_precision(counts)
        for mi, max_det in enumerate(rec.max_dets):
            assert np.array_equal(mine[..., mi], duplicated_in_place(ev, counts, max_det)[..., 0])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lvis_weighted_equals_duplicated_records(seed):
    gt, dets = random_lvis(seed)
    ev = lvis_eval(gt, dets, max_dets=8)
    rec = records_from_lvis_eval(ev)
    for counts in _multisets(len(rec.image_ids), seed):
        assert np.array_equal(rec.official_precision(counts), duplicated_in_place(ev, counts, None))


@pytest.mark.parametrize("seed", [0, 1])
def test_without_ties_in_an_image_copies_as_separate_records_agree(seed):
    """All scores distinct: the in-place convention equals the copies-as-separate-images accumulation."""
    gt, dets = random_coco(seed, tied=False)
    ev = coco_eval(gt, dets)
    rec = records_from_cocoeval(ev)
    for counts in _multisets(len(rec.image_ids), seed):
        assert np.array_equal(rec.official_precision(counts), duplicated_as_entries(ev, counts))
    gt, dets = random_lvis(seed, tied=False)
    ev = lvis_eval(gt, dets)
    rec = records_from_lvis_eval(ev)
    for counts in _multisets(len(rec.image_ids), seed):
        assert np.array_equal(rec.official_precision(counts), duplicated_as_entries(ev, counts))


def test_tie_convention_is_the_in_place_one():
    """One image, a TP and an FP with the same score, drawn twice: in place (TP TP FP FP) the precision at
    recall 1 is 1; as separate images (TP FP TP FP) it is 2/3. The module follows the in-place convention."""
    gt = {
        "images": [{"id": 1, "width": 100, "height": 100}],
        "categories": [{"id": 1, "name": "a"}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 40, 40], "area": 1600, "iscrowd": 0}
        ],
    }
    dets = [
        {"image_id": 1, "category_id": 1, "bbox": [10, 10, 40, 40], "score": 0.5},
        {"image_id": 1, "category_id": 1, "bbox": [60, 60, 30, 30], "score": 0.5},
    ]
    ev = coco_eval(gt, dets)
    rec = records_from_cocoeval(ev)
    twice = np.array([2])
    mine = rec.official_precision(twice)
    assert np.array_equal(mine[..., 2], duplicated_in_place(ev, twice, 100)[..., 0])
    assert mine[0, -1, 0, 0, 2] == 1.0
    assert duplicated_as_entries(ev, twice)[0, -1, 0, 0, 2] == pytest.approx(2 / 3)


def test_min_tp_is_the_least_count_reaching_each_recall_threshold():
    thrs = np.linspace(0.0, 1.0, 101)
    npig = np.arange(1, 2000)
    tau = min_tp(npig, thrs)
    n = npig[:, None].astype(float)
    assert (tau / n >= thrs).all()
    assert ((tau == 0) | ((tau - 1) / n < thrs)).all()
