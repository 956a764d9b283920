"""Image-level bootstrap (issue 18): exact parity of the re-accumulation with pycocotools / lvis, the weighted
path against explicitly duplicated records, determinism, paired comparisons, and a coverage check."""

from __future__ import annotations

import contextlib
import copy
import io
import json
import warnings

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from tasks.metrics import coco_bbox_eval, coco_ov_summary, lvis_bbox_eval
from tasks.metrics.bootstrap import (
    MeanStatistic,
    bootstrap,
    bootstrap_mean,
    draw_counts,
    paired_bootstrap,
    paired_p_value,
    replicate_values,
)
from tasks.metrics.bootstrap_accumulate import min_tp, records_from_cocoeval, records_from_lvis_eval
from tasks.metrics.bootstrap_coco import (
    DetectionStatistic,
    bootstrap_coco,
    bootstrap_lvis,
    coco_records,
    lvis_records,
)
from tasks.metrics.lvis import _lvis_api, ensure_numpy_float_alias

TIED_SCORES = (0.3, 0.5, 0.5, 0.7, 0.9, 0.9)  # few distinct values: ties within and across images


# ---- synthetic data -------------------------------------------------------------------------------------------


def _box(rng: np.random.Generator, w: int, h: int) -> list[float]:
    bw, bh = float(rng.uniform(5, 0.7 * w)), float(rng.uniform(5, 0.7 * h))
    return [float(rng.uniform(0, w - bw)), float(rng.uniform(0, h - bh)), bw, bh]


def _jitter(rng: np.random.Generator, box: list[float]) -> list[float]:
    x, y, w, h = box
    s = rng.uniform(0.0, 0.35)
    return [x + s * w * rng.uniform(-1, 1), y + s * h * rng.uniform(-1, 1), w * (1 + s * rng.uniform(-1, 1)), h]


def _score(rng: np.random.Generator, tied: bool) -> float:
    return float(rng.choice(TIED_SCORES)) if tied else float(rng.random())


def random_coco(seed: int, *, n_images: int = 14, tied: bool = True) -> tuple[dict, list[dict]]:
    """COCO GT + detections: categories 1..3 with GT (crowd boxes included), category 4 without GT (undefined
    AP) but with false positives, images without GT, several detections per image, one image with 14
    detections of one class (maxDets 1 and 10 cut), scores with many ties (``tied``) or all distinct."""
    rng = np.random.default_rng(seed)
    w = h = 200
    images = [{"id": 10 + 7 * i, "width": w, "height": h} for i in range(n_images)]
    cats = [{"id": c, "name": f"c{c}"} for c in (1, 2, 3, 4)]
    anns: list[dict] = []
    dets: list[dict] = []
    for im in images[:-2]:  # the last two images have no GT
        for c in (1, 2, 3):
            if rng.random() < 0.55:
                for _ in range(rng.integers(1, 4)):
                    b = _box(rng, w, h)
                    anns.append(
                        {
                            "id": len(anns) + 1,
                            "image_id": im["id"],
                            "category_id": c,
                            "bbox": b,
                            "area": b[2] * b[3],
                            "iscrowd": 0,
                        }
                    )
                    if rng.random() < 0.8:
                        dets.append(
                            {
                                "image_id": im["id"],
                                "category_id": c,
                                "bbox": _jitter(rng, b),
                                "score": _score(rng, tied),
                            }
                        )
            if rng.random() < 0.15:
                b = _box(rng, w, h)
                anns.append(
                    {
                        "id": len(anns) + 1,
                        "image_id": im["id"],
                        "category_id": c,
                        "bbox": b,
                        "area": b[2] * b[3],
                        "iscrowd": 1,
                    }
                )
                for _ in range(rng.integers(0, 3)):
                    dets.append(
                        {"image_id": im["id"], "category_id": c, "bbox": _jitter(rng, b), "score": _score(rng, tied)}
                    )
    for im in images:
        for c in (1, 2, 3, 4):
            for _ in range(rng.integers(0, 3) if rng.random() < 0.4 else 0):
                dets.append(
                    {"image_id": im["id"], "category_id": c, "bbox": _box(rng, w, h), "score": _score(rng, tied)}
                )
    crowded = images[0]["id"]
    for _ in range(14):
        dets.append({"image_id": crowded, "category_id": 1, "bbox": _box(rng, w, h), "score": _score(rng, tied)})
    return {"images": images, "categories": cats, "annotations": anns}, dets


def random_lvis(seed: int, *, n_images: int = 16, tied: bool = True) -> tuple[dict, list[dict]]:
    """LVIS GT + detections: per (image, category 1..3) positive / negative / unknown, not-exhaustive
    positives; category 4 never positive (undefined AP) but negative somewhere, with false positives;
    detections on images outside a category's pos ∪ neg; one image with 12 detections (max_dets cap)."""
    rng = np.random.default_rng(seed)
    w, h = 640, 480
    images, anns, dets = [], [], []
    for i in range(n_images):
        iid = 5 + 3 * i
        neg, nel = [], []
        for c in (1, 2, 3):
            u = rng.random()
            if u < 0.45:
                for _ in range(rng.integers(1, 4)):
                    b = _box(rng, w, h)
                    anns.append(
                        {"id": len(anns) + 1, "image_id": iid, "category_id": c, "bbox": b, "area": b[2] * b[3]}
                    )
                    if rng.random() < 0.8:
                        dets.append(
                            {"image_id": iid, "category_id": c, "bbox": _jitter(rng, b), "score": _score(rng, tied)}
                        )
                if rng.random() < 0.3:
                    nel.append(c)
            elif u < 0.75:
                neg.append(c)
        if rng.random() < 0.3:
            neg.append(4)
        images.append({"id": iid, "width": w, "height": h, "neg_category_ids": neg, "not_exhaustive_category_ids": nel})
        for c in (1, 2, 3, 4):  # false positives, on pos, neg and unknown images alike
            for _ in range(rng.integers(0, 3) if rng.random() < 0.5 else 0):
                dets.append({"image_id": iid, "category_id": c, "bbox": _box(rng, w, h), "score": _score(rng, tied)})
    for _ in range(12):
        dets.append(
            {"image_id": images[0]["id"], "category_id": 1, "bbox": _box(rng, w, h), "score": _score(rng, tied)}
        )
    cats = [{"id": c, "name": f"c{c}", "frequency": "rcf"[c % 3]} for c in (1, 2, 3, 4)]
    return {"images": images, "categories": cats, "annotations": anns}, dets


# ---- the evaluators, run directly -------------------------------------------------------------------------------


def coco_eval(gt: dict, dets: list[dict]) -> COCOeval:
    """A COCOeval on all categories and images with default parameters, after ``evaluate()``."""
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = copy.deepcopy(gt)
        coco.createIndex()
        ev = COCOeval(coco, coco.loadRes(copy.deepcopy(dets)), "bbox")
        ev.evaluate()
    return ev


def lvis_eval(gt: dict, dets: list[dict], max_dets: int = 300):
    api = _lvis_api()
    ensure_numpy_float_alias()
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        lvis_gt = api.DictLVIS(copy.deepcopy(gt))
        ev = api.LVISEval(lvis_gt, api.LVISResults(lvis_gt, copy.deepcopy(dets), max_dets=max_dets), "bbox")
        ev.evaluate()
    return ev


def _accumulated(ev, eval_imgs: list, img_ids: list | None = None, max_det: int | None = None) -> np.ndarray:
    """The evaluator's own ``accumulate`` on replaced per-image records (layout: category × area × image)."""
    ev2 = copy.copy(ev)
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        if isinstance(ev, COCOeval):
            p = copy.deepcopy(ev._paramsEval)
            if img_ids is not None:
                p.imgIds = img_ids
            if max_det is not None:
                p.maxDets = [max_det]
            ev2.params, ev2._paramsEval, ev2.evalImgs = p, copy.deepcopy(p), eval_imgs
        else:
            p = copy.deepcopy(ev.params)
            if img_ids is not None:
                p.img_ids = img_ids
            ev2.params, ev2.eval_imgs = p, eval_imgs
        ev2.accumulate()
    return ev2.eval["precision"]


def _img_ids(ev) -> list:
    return list(ev._paramsEval.imgIds) if isinstance(ev, COCOeval) else list(ev.params.img_ids)


def _n_cat_area(ev) -> int:
    if isinstance(ev, COCOeval):
        return len(ev._paramsEval.catIds) * len(ev._paramsEval.areaRng)
    return len(ev.params.cat_ids) * len(ev.params.area_rng)


def _records(ev) -> list:
    return ev.evalImgs if isinstance(ev, COCOeval) else ev.eval_imgs


def duplicated_in_place(ev, counts: np.ndarray, max_det: int | None) -> np.ndarray:
    """The evaluator's accumulate over records where every record of an image drawn k times is repeated k times
    in place (np.repeat: the copies of a detection adjacent), cut to ``max_det`` first."""
    keys = (
        ("dtScores", "dtMatches", "dtIgnore", "gtIgnore")
        if isinstance(ev, COCOeval)
        else ("dt_scores", "dt_matches", "dt_ignore", "gt_ignore")
    )
    s, m, di, gi = keys
    n = len(_img_ids(ev))
    out = []
    for j, e in enumerate(_records(ev)):
        k = int(counts[j % n])
        if e is None or k == 0:
            out.append(None)
            continue
        d = dict(e)
        d[s] = np.repeat(np.asarray(e[s][0:max_det], dtype=float), k)
        d[m] = np.repeat(e[m][:, 0:max_det], k, axis=1)
        d[di] = np.repeat(e[di][:, 0:max_det], k, axis=1)
        d[gi] = np.repeat(e[gi], k)
        if "dt_ids" in e:  # lvis sorts the ids along (not used for the precision)
            d["dt_ids"] = np.repeat(np.asarray(e["dt_ids"], dtype=np.int64), k)
        out.append(d)
    return _accumulated(ev, out, max_det=None if max_det is None else 10**9)


def duplicated_as_entries(ev, counts: np.ndarray) -> np.ndarray:
    """The evaluator's accumulate where an image drawn k times is k separate per-image records (k new ids)."""
    n = len(_img_ids(ev))
    expanded = np.repeat(np.arange(n), counts)
    recs = _records(ev)
    out = [recs[ca * n + i] for ca in range(_n_cat_area(ev)) for i in expanded]
    return _accumulated(ev, out, img_ids=list(range(len(expanded))))


def _multisets(n: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    sets = list(draw_counts(n, seed, 0, 4))
    sets.append(rng.integers(0, 4, size=n))  # large multiplicities, zeros
    sets.append(np.where(np.arange(n) % 2 == 0, 3, 0))
    return sets


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
