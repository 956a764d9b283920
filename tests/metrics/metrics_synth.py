"""Hand-made GT dicts and prediction sets for the metric parity tests, plus the reference
computations written the standard way (files on disk, default parameters, as the official notebooks do)."""

from __future__ import annotations

import copy
import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from tasks.metrics.lvis import ensure_numpy_float_alias


def ann(ann_id: int, image_id: int, cat: int, bbox: list[float], **extra: Any) -> dict[str, Any]:
    return {"id": ann_id, "image_id": image_id, "category_id": cat, "bbox": bbox, "area": bbox[2] * bbox[3], **extra}


def det(image_id: int, cat: int, bbox: list[float], score: float) -> dict[str, Any]:
    return {"image_id": image_id, "category_id": cat, "bbox": bbox, "score": score}


def coco_gt() -> dict[str, Any]:
    """4 images 200×200, 3 categories; image 4 has no GT at all."""
    images = [{"id": i, "width": 200, "height": 200, "file_name": f"{i}.jpg"} for i in (1, 2, 3, 4)]
    cats = [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}, {"id": 3, "name": "bus"}]
    anns = [
        ann(1, 1, 1, [10, 10, 50, 50], iscrowd=0),
        ann(2, 2, 1, [100, 100, 40, 60], iscrowd=0),
        ann(3, 2, 2, [20, 30, 80, 40], iscrowd=0),
        ann(4, 3, 2, [5, 5, 20, 20], iscrowd=0),
        ann(5, 3, 2, [120, 120, 60, 60], iscrowd=0),
        ann(6, 3, 3, [50, 50, 100, 100], iscrowd=0),
    ]
    return {"info": {}, "images": images, "categories": cats, "annotations": anns}


def coco_prediction_sets() -> dict[str, list[dict[str, Any]]]:
    perfect = [det(a["image_id"], a["category_id"], list(a["bbox"]), 0.9) for a in coco_gt()["annotations"]]
    partial = [
        det(1, 1, [12, 12, 50, 50], 0.8),  # IoU ~0.86
        det(2, 1, [100, 110, 40, 60], 0.7),  # IoU ~0.71
        det(2, 2, [20, 30, 80, 40], 0.95),  # perfect
        det(3, 2, [125, 125, 60, 60], 0.6),  # IoU ~0.72; the small dog is missed
        det(3, 3, [60, 60, 100, 100], 0.5),  # IoU ~0.68
    ]
    false_pos = [
        *partial,
        det(4, 1, [0, 0, 30, 30], 0.99),
        det(1, 2, [150, 150, 40, 40], 0.97),
        det(4, 3, [10, 10, 10, 10], 0.3),
    ]
    duplicates = [
        *partial,
        det(2, 2, [20, 30, 80, 40], 0.94),
        det(2, 2, [21, 30, 80, 40], 0.93),
        det(1, 1, [12, 12, 50, 50], 0.85),
    ]
    one_class = [det(1, 1, [10, 10, 50, 50], 0.9), det(2, 1, [100, 100, 40, 60], 0.8)]
    return {
        "perfect": perfect,
        "partial": partial,
        "false_positive": false_pos,
        "duplicate": duplicates,
        "empty": [],
        "one_class_only": one_class,
    }


def reference_coco(
    tmp: Path, gt: dict[str, Any], results: list[dict[str, Any]], img_ids: list[int] | None = None
) -> np.ndarray:
    """Official-notebook style: COCO(file), loadRes, COCOeval with default params (all categories),
    per-class AP = mean of precision > -1 at area all, maxDets 100. Returns [K, 3] (ap, ap50, ap75)
    in the order of sorted category ids."""
    path = tmp / "gt.json"
    path.write_text(json.dumps(gt))
    coco = COCO(str(path))
    dt = coco.loadRes(copy.deepcopy(results))
    ev = COCOeval(coco, dt, "bbox")
    if img_ids is not None:
        ev.params.imgIds = img_ids
    ev.evaluate()
    ev.accumulate()
    return _per_class(ev.eval["precision"][:, :, :, 0, 2])


def _per_class(prec: np.ndarray) -> np.ndarray:
    out = np.full((prec.shape[2], 3), np.nan)
    for k in range(prec.shape[2]):
        for j, sl in enumerate((prec[:, :, k], prec[0, :, k], prec[5, :, k])):
            valid = sl[sl > -1]
            out[k, j] = np.mean(valid) * 100 if valid.size else np.nan
    return out


def lvis_image(i: int, neg: list[int] | None = None, nel: list[int] | None = None) -> dict[str, Any]:
    return {
        "id": i,
        "width": 640,
        "height": 480,
        "neg_category_ids": neg or [],
        "not_exhaustive_category_ids": nel or [],
    }


def lvis_gt(images: list[dict[str, Any]], anns: list[dict[str, Any]], n_cats: int = 3) -> dict[str, Any]:
    cats = [{"id": c, "name": f"c{c}", "frequency": "rcf"[c % 3]} for c in range(1, n_cats + 1)]
    return {"images": images, "categories": cats, "annotations": anns}


def lvis_scene() -> dict[str, Any]:
    """6 images, 3 categories with pos / neg / not-exhaustive sets and mixed box sizes."""
    images = [
        lvis_image(1, neg=[3]),
        lvis_image(2, neg=[1], nel=[2]),
        lvis_image(3, neg=[2]),
        lvis_image(4),
        lvis_image(5, nel=[1]),
        lvis_image(6, neg=[1, 2, 3]),
    ]
    anns = [
        ann(1, 1, 1, [10, 10, 20, 20]),  # small
        ann(2, 1, 2, [100, 100, 60, 60]),  # medium
        ann(3, 2, 2, [200, 200, 150, 150]),  # large, not exhaustive
        ann(4, 3, 1, [50, 50, 120, 100]),  # large
        ann(5, 4, 3, [300, 300, 40, 40]),  # medium
        ann(6, 5, 1, [0, 0, 25, 25]),  # small, not exhaustive
        ann(7, 5, 3, [400, 100, 200, 200]),  # large
    ]
    return lvis_gt(images, anns)


def lvis_predictions() -> list[dict[str, Any]]:
    return [
        det(1, 1, [11, 11, 20, 20], 0.9),
        det(1, 1, [300, 300, 10, 10], 0.95),  # TP, small FP
        det(1, 2, [100, 100, 60, 60], 0.8),
        det(1, 3, [5, 5, 50, 50], 0.7),  # TP, FP on neg
        det(2, 1, [0, 0, 100, 100], 0.85),
        det(2, 2, [205, 205, 150, 150], 0.6),  # FP neg, TP
        det(2, 2, [0, 300, 100, 100], 0.99),  # unmatched, not exh.
        det(3, 1, [50, 50, 120, 100], 0.4),
        det(3, 2, [10, 10, 10, 10], 0.3),  # TP, FP neg
        det(4, 3, [300, 300, 40, 40], 0.9),
        det(4, 1, [0, 0, 50, 50], 0.99),  # TP, FP outside pos∪neg
        det(5, 1, [100, 100, 30, 30], 0.97),
        det(5, 3, [400, 100, 200, 190], 0.5),
        det(6, 1, [1, 1, 300, 300], 0.2),
        det(6, 2, [1, 1, 20, 20], 0.1),
        det(6, 3, [1, 1, 5, 5], 0.65),
    ]


def reference_lvis(
    tmp: Path, gt: dict[str, Any], results: list[dict[str, Any]], max_dets: int = 300
) -> tuple[np.ndarray, np.ndarray]:
    """Official-notebook style: LVIS(path), LVISResults(max_dets), LVISEval bbox with default params.
    Returns per-class (standard area-all AP, notebook four-area mean) in sorted category order,
    NaN where undefined."""
    from lvis import LVIS, LVISEval, LVISResults

    ensure_numpy_float_alias()
    path = tmp / "lvis_gt.json"
    path.write_text(json.dumps(gt))
    lvis = LVIS(str(path))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # lvis calls the deprecated Logger.warn
        dt = LVISResults(lvis, copy.deepcopy(results), max_dets=max_dets)
    ev = LVISEval(lvis, dt, "bbox")
    ev.run()
    prec = ev.eval["precision"]  # [T, R, K, A]
    std, area_mean = [], []
    for k in range(prec.shape[2]):
        for out, sl in ((std, prec[:, :, k, 0]), (area_mean, prec[:, :, k, :])):
            valid = sl[sl > -1]
            out.append(np.mean(valid) * 100 if valid.size else np.nan)
    return np.array(std), np.array(area_mean)
