"""Image-level bootstrap (issue 18): determinism, paired comparisons, simple means and a coverage check
(the exact parity of the re-accumulation is in test_bootstrap_parity.py)."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
from bootstrap_synth import (
    random_coco,
    random_lvis,
)

from tasks.metrics import coco_bbox_eval, lvis_bbox_eval
from tasks.metrics.bootstrap import (
    MeanStatistic,
    bootstrap,
    bootstrap_mean,
    draw_counts,
    paired_bootstrap,
    paired_p_value,
    replicate_values,
)
from tasks.metrics.bootstrap_coco import (
    DetectionStatistic,
    bootstrap_coco,
    bootstrap_lvis,
    coco_records,
)

# ---- the bootstrap itself ---------------------------------------------------------------------------------------


def test_draws_are_image_multisets_independent_of_chunking():
    counts = draw_counts(50, 7, 0, 20)
    assert counts.shape == (20, 50) and (counts.sum(axis=1) == 50).all() and (counts >= 0).all()
    assert np.array_equal(np.concatenate([draw_counts(50, 7, 0, 3), draw_counts(50, 7, 3, 20)]), counts)
    assert not np.array_equal(draw_counts(50, 8, 0, 20), counts)


def test_coco_bootstrap_deterministic_json_ready_and_sane():
    gt, dets = random_coco(11, n_images=40)
    kwargs = {"ov": ([1], [2, 3]), "n_replicates": 200, "seed": 3}
    res = bootstrap_coco(gt, dets, [1, 2, 3, 4], **kwargs)
    again = bootstrap_coco(gt, dets, [1, 2, 3, 4], chunk=17, **kwargs)
    assert res.as_dict() == again.as_dict()
    assert res.as_dict() != bootstrap_coco(gt, dets, [1, 2, 3, 4], **{**kwargs, "seed": 4}).as_dict()
    d = json.loads(json.dumps(res.as_dict(), allow_nan=False))
    assert (d["seed"], d["n_replicates"], d["n_images"], d["unit"]) == (3, 200, 40, "image")
    assert d["metrics"]["ap/4"] == {
        "estimate": None,
        "low": None,
        "high": None,
        "se": None,
        "bias": None,
        "n_defined": 0,
    }
    m = coco_bbox_eval(gt, dets, [1, 2, 3, 4])
    for name, value in (("map", m.map), ("ap/1", m.per_class[1].ap)):
        iv = res.metrics[name]
        assert iv.estimate == value and iv.low <= value <= iv.high and iv.se > 0
    assert res.metrics["map"].n_defined == 200
    assert res.metrics["mAPall"].estimate == pytest.approx(m.map, rel=1e-12)


def test_lvis_bootstrap_runs_and_reports_area_mean():
    gt, dets = random_lvis(4, n_images=30)
    res = bootstrap_lvis(gt, dets, [1, 2, 3, 4], n_replicates=100, seed=1)
    m = lvis_bbox_eval(gt, dets, [1, 2, 3, 4])
    assert res.metrics["map"].estimate == m.map
    assert res.metrics["map_official_area_mean"].estimate == m.map_official_area_mean
    assert res.metrics["ap/4"].estimate is None
    json.dumps(res.as_dict(), allow_nan=False)
    only_all = bootstrap_lvis(gt, dets, [1, 2, 3, 4], n_replicates=100, seed=1, area_mean=False)
    assert "map_official_area_mean" not in only_all.metrics
    assert only_all.metrics["map"] == res.metrics["map"]


def test_replicates_expose_per_class_ap_and_means_per_replicate():
    gt, dets = random_coco(2, n_images=30)
    stat = DetectionStatistic(coco_records(gt, dets, [1, 2, 3, 4]))
    counts = draw_counts(30, 0, 0, 25)
    per_class = stat.class_ap(counts)
    assert per_class["ap"].shape == (25, 4) and np.isnan(per_class["ap"][:, 3]).all()
    reps = stat.replicates(counts)
    expected = [np.mean([v for v in row if not np.isnan(v)]) for row in per_class["ap"]]
    np.testing.assert_allclose(reps["map"], expected, rtol=1e-12)
    assert np.array_equal(reps["ap/2"], per_class["ap"][:, 1], equal_nan=True)


def test_official_mean_undefined_when_a_class_loses_its_gt():
    gt, dets = random_coco(0, n_images=8)
    stat = DetectionStatistic(coco_records(gt, dets, [1, 2, 3], official=True), official=True)
    reps = replicate_values(stat, n_replicates=200, seed=0)
    undefined_class = np.isnan(np.stack([reps[f"ap/{c}"] for c in (1, 2, 3)])).any(axis=0)
    assert undefined_class.any() and not undefined_class.all()
    assert np.array_equal(np.isnan(reps["map"]), undefined_class)
    strict = replicate_values(DetectionStatistic(coco_records(gt, dets, [1, 2, 3])), n_replicates=200, seed=0)
    assert not np.isnan(strict["map"]).any()


# ---- paired comparison ------------------------------------------------------------------------------------------


def test_paired_identical_runs_give_zero_difference_and_p_one():
    gt, dets = random_coco(3, n_images=30)
    a = DetectionStatistic(coco_records(gt, dets, [1, 2, 3, 4]), ov=([1], [2, 3]))
    b = DetectionStatistic(coco_records(gt, copy.deepcopy(dets), [1, 2, 3, 4]), ov=([1], [2, 3]))
    res = paired_bootstrap(a, b, n_replicates=100, seed=5)
    assert (res.seed, res.n_replicates, res.n_images) == (5, 100, 30)
    for name, d in res.metrics.items():
        if name.endswith("/4"):
            assert d.estimate is None and d.p_value is None
            continue
        assert (d.estimate, d.low, d.high, d.se, d.bias, d.p_value) == (0.0, 0.0, 0.0, 0.0, 0.0, 1.0), name
    json.dumps(res.as_dict(), allow_nan=False)


def test_paired_refuses_different_image_sets():
    gt, dets = random_coco(3, n_images=20)
    ids = [im["id"] for im in gt["images"]]
    a = DetectionStatistic(coco_records(gt, dets, [1, 2], ids[:15]))
    b = DetectionStatistic(coco_records(gt, dets, [1, 2], ids[2:]))
    with pytest.raises(ValueError, match="same images"):
        paired_bootstrap(a, b, n_replicates=10)
    with pytest.raises(ValueError, match="same images"):
        paired_bootstrap(MeanStatistic([1, 0, 1], ["x", "y", "z"]), MeanStatistic([1, 0, 1], ["x", "y", "w"]))
    with pytest.raises(ValueError, match="different metrics"):
        paired_bootstrap(
            DetectionStatistic(coco_records(gt, dets, [1, 2])),
            DetectionStatistic(coco_records(gt, dets, [1, 3])),
            n_replicates=10,
        )


def test_paired_detects_a_better_run_and_is_antisymmetric():
    gt, dets = random_coco(8, n_images=60)
    perfect = [
        {"image_id": a["image_id"], "category_id": a["category_id"], "bbox": a["bbox"], "score": 0.9}
        for a in gt["annotations"]
        if not a["iscrowd"]
    ]
    a = DetectionStatistic(coco_records(gt, dets, [1, 2, 3]))
    b = DetectionStatistic(coco_records(gt, perfect, [1, 2, 3]))
    ab = paired_bootstrap(a, b, n_replicates=300, seed=0).metrics["map"]
    ba = paired_bootstrap(b, a, n_replicates=300, seed=0).metrics["map"]
    assert ab.estimate > 0 and ab.low > 0 and ab.p_value < 0.01
    assert ba.estimate == -ab.estimate and ba.p_value == ab.p_value
    assert (ba.low, ba.high) == pytest.approx((-ab.high, -ab.low), abs=1e-9)


def test_paired_means_align_images_given_in_another_order():
    rng = np.random.default_rng(0)
    imgs = [f"img{i}" for i in range(300)]
    a_vals = rng.random(300) < 0.6
    b_vals = a_vals | (rng.random(300) < 0.3)
    order = rng.permutation(300)
    a = MeanStatistic(a_vals, imgs, name="accuracy", scale=100)
    b = MeanStatistic(b_vals[order], [imgs[i] for i in order], name="accuracy", scale=100)
    d = paired_bootstrap(a, b, n_replicates=500, seed=1).metrics["accuracy"]
    assert d.estimate == pytest.approx(100 * (b_vals.mean() - a_vals.mean()))
    assert d.low > 0 and d.p_value < 0.01
    same = paired_bootstrap(
        a, MeanStatistic(a_vals[order], [imgs[i] for i in order], name="accuracy", scale=100), n_replicates=200
    ).metrics["accuracy"]
    assert (same.estimate, same.low, same.high, same.p_value) == (0.0, 0.0, 0.0, 1.0)


def test_p_value_formula():
    d = np.array([1.0, 2.0, -1.0, 0.0, 3.0])
    assert paired_p_value(1.5, d) == pytest.approx(2 * (1 + 2) / 6)
    assert paired_p_value(-1.5, d) == 1.0
    assert paired_p_value(0.0, d) == 1.0
    assert paired_p_value(2.0, np.full(999, 1.0)) == pytest.approx(2 / 1000)


# ---- simple means -----------------------------------------------------------------------------------------------


def test_mean_point_estimates_match_the_metrics():
    rng = np.random.default_rng(0)
    correct = list(rng.random(777) < 0.37)
    assert MeanStatistic(correct, scale=100).point()["mean"] == 100.0 * sum(correct) / len(correct)
    ious = rng.random(501)
    assert MeanStatistic(ious).point()["mean"] == float(np.mean(ious))


def test_items_of_an_image_move_together():
    rng = np.random.default_rng(1)
    per_image = rng.random(200) < 0.5
    twice = np.repeat(per_image, 2)
    images = np.repeat(np.arange(200), 2)
    grouped = bootstrap_mean(twice, list(images), scale=100, n_replicates=300, seed=2)
    single = bootstrap_mean(per_image, scale=100, n_replicates=300, seed=2)
    assert grouped.metrics == single.metrics and grouped.n_images == 200
    as_items = bootstrap_mean(twice, scale=100, n_replicates=300, seed=2)  # wrongly: items as units
    assert as_items.metrics["mean"].se < 0.8 * grouped.metrics["mean"].se


def test_mean_rejects_bad_input():
    with pytest.raises(ValueError, match="non-empty"):
        MeanStatistic([])
    with pytest.raises(ValueError, match="finite"):
        MeanStatistic([0.5, float("nan")])
    with pytest.raises(ValueError, match="image keys"):
        MeanStatistic([1, 0], ["a"])
    with pytest.raises(ValueError, match="n_replicates"):
        bootstrap_mean([1, 0], n_replicates=0)


def test_accuracy_interval_covers_the_true_rate():
    """200 simulated datasets of 300 images with accuracy 70 %: the 95 % interval covers 70 about 95 % of
    the time, and the standard error is close to the binomial one."""
    p, n = 0.7, 300
    rng = np.random.default_rng(12345)
    covered, ses = 0, []
    for i in range(200):
        res = bootstrap_mean(rng.random(n) < p, scale=100, n_replicates=400, seed=i).metrics["mean"]
        covered += res.low <= 100 * p <= res.high
        ses.append(res.se)
    assert 0.88 <= covered / 200 <= 0.99
    assert np.mean(ses) == pytest.approx(100 * np.sqrt(p * (1 - p) / n), rel=0.1)


def test_bootstrap_of_a_custom_statistic_uses_the_protocol():
    stat = MeanStatistic([1.0, 2.0, 3.0], ["a", "b", "c"], name="x")
    res = bootstrap(stat, n_replicates=50, seed=0)
    assert res.metrics["x"].estimate == 2.0 and 1.0 <= res.metrics["x"].low <= res.metrics["x"].high <= 3.0
