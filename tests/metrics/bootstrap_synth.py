"""Synthetic COCO/LVIS data with ties, crowd boxes and empty classes for the bootstrap tests, and the
evaluators run directly (pycocotools / lvis), with reference re-accumulations by duplicated records."""

from __future__ import annotations

import contextlib
import copy
import io
import warnings

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from tasks.metrics.bootstrap import (
    draw_counts,
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
