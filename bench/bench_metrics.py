"""Time the metric adapters on synthetic data of the real benchmarks' scale (prints figures).

COCO: 5,000 images, 8 categories (each present in an image with p≈0.3, 1–3 boxes), predictions =
jittered GT boxes (some missed) + false positives -> ``coco_bbox_eval``.
LVIS: 20,000 images, 6 categories with pos / neg / not_exhaustive sets -> ``lvis_bbox_eval``, and
for comparison a direct ``LVISEval`` over all images (what the official notebook runs).

Run: ``.venv/bin/python bench/bench_metrics.py [--seed N] [--skip-direct] [--quick] [--json PATH]``.
Documented size (bench/RESULTS.md): the above; ``--quick``: 500 COCO and 2,000 LVIS images (a smoke run).
Not a test: nothing asserts on time.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import logging
import random
import sys
import time
import warnings
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _result import add_json_arg, emit, table

from tasks.metrics import coco_bbox_eval, lvis_bbox_eval
from tasks.metrics.lvis import _lvis_api, ensure_numpy_float_alias

W, H = 640, 480


def _box(rng: random.Random) -> list[float]:
    w, h = rng.uniform(8, 300), rng.uniform(8, 250)
    return [rng.uniform(0, W - w), rng.uniform(0, H - h), w, h]


def _jitter(rng: random.Random, b: list[float]) -> list[float]:
    s = 0.08 * min(b[2], b[3])
    return [
        b[0] + rng.gauss(0, s),
        b[1] + rng.gauss(0, s),
        max(1.0, b[2] + rng.gauss(0, s)),
        max(1.0, b[3] + rng.gauss(0, s)),
    ]


def _predict(
    rng: random.Random, anns: list[dict[str, Any]], img_ids: list[int], cats: list[int]
) -> list[dict[str, Any]]:
    results = []
    for a in anns:
        if rng.random() < 0.8:  # 20 % missed
            results.append(
                {
                    "image_id": a["image_id"],
                    "category_id": a["category_id"],
                    "bbox": _jitter(rng, a["bbox"]),
                    "score": rng.uniform(0.3, 1.0),
                }
            )
    for _ in range(len(anns) // 2):  # false positives anywhere
        results.append(
            {
                "image_id": rng.choice(img_ids),
                "category_id": rng.choice(cats),
                "bbox": _box(rng),
                "score": rng.uniform(0.0, 0.8),
            }
        )
    return results


def coco_scene(rng: random.Random, n_images: int = 5000) -> tuple[dict[str, Any], list[dict[str, Any]], list[int]]:
    cats = list(range(1, 9))
    images = [{"id": i, "width": W, "height": H} for i in range(1, n_images + 1)]
    anns: list[dict[str, Any]] = []
    for im in images:
        for c in cats:
            if rng.random() < 0.3:
                for _ in range(rng.randint(1, 3)):
                    b = _box(rng)
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
    gt = {"images": images, "categories": [{"id": c, "name": f"c{c}"} for c in cats], "annotations": anns}
    return gt, _predict(rng, anns, [im["id"] for im in images], cats), cats


def lvis_scene(rng: random.Random, n_images: int = 20000) -> tuple[dict[str, Any], list[dict[str, Any]], list[int]]:
    cats = list(range(1, 7))
    images, anns = [], []
    for i in range(1, n_images + 1):
        neg, nel = [], []
        for c in cats:
            u = rng.random()
            if u < 0.05:  # positive
                for _ in range(rng.randint(1, 3)):
                    b = _box(rng)
                    anns.append({"id": len(anns) + 1, "image_id": i, "category_id": c, "bbox": b, "area": b[2] * b[3]})
                if rng.random() < 0.2:
                    nel.append(c)
            elif u < 0.10:
                neg.append(c)
        images.append({"id": i, "width": W, "height": H, "neg_category_ids": neg, "not_exhaustive_category_ids": nel})
    gt = {
        "images": images,
        "annotations": anns,
        "categories": [{"id": c, "name": f"c{c}", "frequency": "r"} for c in cats],
    }
    return gt, _predict(rng, anns, [im["id"] for im in images], cats), cats


def direct_lvis(gt: dict[str, Any], results: list[dict[str, Any]]) -> Any:
    """The official notebook's path (temp-free variant): LVISEval over all images, default params."""
    import copy

    api = _lvis_api()
    ensure_numpy_float_alias()
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.getLogger("lvis").setLevel(logging.ERROR)
        g = api.DictLVIS(copy.deepcopy(gt))
        ev = api.LVISEval(g, api.LVISResults(g, copy.deepcopy(results), max_dets=300), iou_type="bbox")
        ev.run()
    return ev


def _timed(label: str, fn: Any, rows: list[list[str]] | None = None) -> Any:
    t0 = time.perf_counter()
    out = fn()
    seconds = time.perf_counter() - t0
    print(f"{label:<44s} {seconds:8.2f} s")
    if rows is not None:
        rows.append([label, f"{seconds:.2f}"])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-direct", action="store_true", help="skip the direct all-images LVISEval run")
    ap.add_argument("--coco-images", type=int, help="default 5,000 (--quick 500)")
    ap.add_argument("--lvis-images", type=int, help="default 20,000 (--quick 2,000)")
    ap.add_argument("--quick", action="store_true", help="smoke size (500 COCO, 2,000 LVIS images)")
    add_json_arg(ap)
    args = ap.parse_args()
    n_coco = args.coco_images or (500 if args.quick else 5000)
    n_lvis = args.lvis_images or (2000 if args.quick else 20000)
    rng = random.Random(args.seed)
    rows: list[list[str]] = []
    figures: dict[str, Any] = {}

    gt, res, cats = coco_scene(rng, n_coco)
    print(
        f"COCO synthetic: {len(gt['images'])} images, {len(cats)} cats, "
        f"{len(gt['annotations'])} GT boxes, {len(res)} detections"
    )
    figures["coco"] = {"images": n_coco, "categories": len(cats), "gt": len(gt["annotations"]), "dets": len(res)}
    m = _timed("coco_bbox_eval", lambda: coco_bbox_eval(gt, res, cats), rows)
    figures["coco"]["seconds"] = float(rows[-1][1])
    print(f"  mAP {m.map:.2f}  mAP50 {m.map50:.2f}")

    gt, res, cats = lvis_scene(rng, n_lvis)
    print(
        f"LVIS synthetic: {len(gt['images'])} images, {len(cats)} cats, "
        f"{len(gt['annotations'])} GT boxes, {len(res)} detections"
    )
    figures["lvis"] = {"images": n_lvis, "categories": len(cats), "gt": len(gt["annotations"]), "dets": len(res)}
    _timed("lvis import (first call only)", _lvis_api, rows)
    m = _timed("lvis_bbox_eval (pos ∪ neg images)", lambda: lvis_bbox_eval(gt, res, cats), rows)
    figures["lvis"]["seconds"] = float(rows[-1][1])
    print(f"  mAP {m.map:.2f}  mAP (official area mean) {m.map_official_area_mean:.2f}")
    if not args.skip_direct:
        ev = _timed("direct LVISEval.run over all images", lambda: direct_lvis(gt, res), rows)
        figures["lvis"]["direct_seconds"] = float(rows[-1][1])
        prec = ev.eval["precision"]
        delta = max(
            abs(float(prec[:, :, k, 0][prec[:, :, k, 0] > -1].mean() * 100) - (m.per_class[c].ap or 0.0))
            for k, c in enumerate(sorted(cats))
        )
        print(f"  max |AP adapter - AP direct| over classes: {delta:.2e}")
        figures["lvis"]["max_ap_delta_vs_direct"] = delta

    fce = importlib.util.find_spec("faster_coco_eval") is not None
    print(f"faster-coco-eval importable: {fce}")
    emit(
        "metrics",
        {"coco_images": n_coco, "lvis_images": n_lvis, "seed": args.seed, "direct": not args.skip_direct},
        figures,
        [table(f"metric time (COCO {n_coco:,} images, LVIS {n_lvis:,} images)", ["step", "seconds"], rows)],
        args.json,
    )

if __name__ == "__main__":
    main()
