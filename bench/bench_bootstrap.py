"""Image-level bootstrap cost (issue 18): 1,000 replicates of COCO / LVIS box AP with intervals, beside one run
of the evaluator itself.

    .venv/bin/python bench/bench_bootstrap.py [--seed 0] [--replicates 1000] [--only coco|lvis]
        [--coco-images 5000] [--lvis-images 20000] [--no-paired] [--json PATH]

Synthetic data, built in memory (nothing read or written):

* COCO: ``--coco-images`` images, 80 categories; each (image, one of 8 few-shot classes) pair holds 1–3 boxes
  with p=0.3, plus 0–4 boxes per image of the other 72 classes. Run A answers every (image, few-shot class)
  request as the model would: present pairs get jittered GT boxes (each with p=0.85, an extra false positive
  with p=0.15), absent pairs a false positive with p=0.12; confidences with two decimals, as the model writes
  them (so many ties, within and across images). Run B: the same with less jitter.
* LVIS: ``--lvis-images`` images, 6 few-shot rare classes + 12 others; each (image, few-shot class) pair is
  positive with p=0.05 (1–3 boxes, 20 % of them not exhaustive) or verified negative with p=0.05; 0–4 boxes
  per image of the other classes. Detections as for COCO, on all images (those outside a class's pos ∪ neg
  are dropped by the federated rules).

Rows (seconds, wall clock): ``evaluator`` = one `coco_bbox_eval` / `lvis_bbox_eval` (evaluate + accumulate);
``records`` = the single ``evaluate()`` plus building the re-accumulation tables; ``bootstrap`` = 1,000
replicates of every per-class AP, AP50, AP75 (LVIS: and the four-area official mean) and their means with
intervals; ``paired`` = B − A for all of them on the same draws. Printed as a table and as one JSON object.
Not a test: nothing asserts on time. Deterministic for a given ``--seed`` (data and intervals, not timings).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tasks.metrics import coco_bbox_eval, lvis_bbox_eval
from tasks.metrics.bootstrap import bootstrap, bootstrap_mean, paired_bootstrap
from tasks.metrics.bootstrap_coco import DetectionStatistic, coco_records, lvis_records

SIZES = ((640, 480), (480, 640), (640, 427), (427, 640), (640, 360), (500, 375))


def _box(rng: random.Random, w: int, h: int) -> list[float]:
    bw, bh = w * rng.uniform(0.03, 0.6), h * rng.uniform(0.03, 0.6)
    return [round(rng.uniform(0, w - bw), 2), round(rng.uniform(0, h - bh), 2), round(bw, 2), round(bh, 2)]


def _jittered(rng: random.Random, box: list[float], sigma: float) -> list[float]:
    x, y, w, h = box
    s = sigma * min(w, h)
    x1, y1 = x + rng.gauss(0, s), y + rng.gauss(0, s)
    x2, y2 = x + w + rng.gauss(0, s), y + h + rng.gauss(0, s)
    return [round(x1, 1), round(y1, 1), round(max(1.0, x2 - x1), 1), round(max(1.0, y2 - y1), 1)]


def _answers(
    rng: random.Random, pairs: list[tuple[int, int, int, int, list[list[float]]]], sigma: float
) -> list[dict[str, Any]]:
    """One model answer per (image, class) request: (image id, class, width, height, GT boxes)."""
    out: list[dict[str, Any]] = []
    for iid, cid, w, h, gt in pairs:
        found = []
        if gt:
            found = [(_jittered(rng, b, sigma), rng.uniform(0.5, 1.0)) for b in gt if rng.random() < 0.85]
            if rng.random() < 0.15:
                found.append((_box(rng, w, h), rng.uniform(0.05, 0.6)))
        elif rng.random() < 0.12:
            found.append((_box(rng, w, h), rng.uniform(0.05, 0.6)))
        out += [{"image_id": iid, "category_id": cid, "bbox": b, "score": round(s, 2)} for b, s in found]
    return out


def make_coco(rng: random.Random, n_images: int) -> tuple[dict[str, Any], list[int], list[list[dict[str, Any]]]]:
    fewshot = list(range(1, 9))
    images, anns, pairs = [], [], []
    for i in range(n_images):
        iid = 1000 + 7 * i
        w, h = SIZES[i % len(SIZES)]
        images.append({"id": iid, "width": w, "height": h, "file_name": f"{iid:012d}.jpg"})
        for cid in fewshot:
            gt = [_box(rng, w, h) for _ in range(rng.randint(1, 3))] if rng.random() < 0.3 else []
            pairs.append((iid, cid, w, h, gt))
            anns += [{"image_id": iid, "category_id": cid, "bbox": b, "area": b[2] * b[3], "iscrowd": 0} for b in gt]
        for _ in range(rng.randint(0, 4)):
            b = _box(rng, w, h)
            anns.append({"image_id": iid, "category_id": rng.randint(9, 80), "bbox": b, "area": b[2] * b[3]})
    for k, a in enumerate(anns):
        a["id"] = k + 1
        a.setdefault("iscrowd", 0)
    gt = {"images": images, "annotations": anns, "categories": [{"id": c, "name": f"c{c}"} for c in range(1, 81)]}
    return gt, fewshot, [_answers(rng, pairs, 0.08), _answers(rng, pairs, 0.05)]


def make_lvis(rng: random.Random, n_images: int) -> tuple[dict[str, Any], list[int], list[list[dict[str, Any]]]]:
    fewshot, others = list(range(1, 7)), list(range(7, 19))
    images, anns, pairs = [], [], []
    for i in range(n_images):
        iid = 5 + 3 * i
        w, h = SIZES[i % len(SIZES)]
        pos, neg, nel = set(), [], []
        for cid in fewshot:
            u = rng.random()
            gt = [_box(rng, w, h) for _ in range(rng.randint(1, 3))] if u < 0.05 else []
            if gt:
                pos.add(cid)
                if rng.random() < 0.2:
                    nel.append(cid)
            elif u < 0.10:
                neg.append(cid)
            pairs.append((iid, cid, w, h, gt))
            anns += [{"image_id": iid, "category_id": cid, "bbox": b, "area": b[2] * b[3]} for b in gt]
        for _ in range(rng.randint(0, 4)):
            cid = rng.choice(others)
            b = _box(rng, w, h)
            anns.append({"image_id": iid, "category_id": cid, "bbox": b, "area": b[2] * b[3]})
            pos.add(cid)
        neg += [c for c in rng.sample(others, 2) if c not in pos]
        images.append({"id": iid, "width": w, "height": h, "neg_category_ids": neg, "not_exhaustive_category_ids": nel})
    for k, a in enumerate(anns):
        a["id"] = k + 1
    cats = [{"id": c, "name": f"c{c}", "frequency": "r" if c in fewshot else "cf"[c % 2]} for c in range(1, 19)]
    gt = {"images": images, "annotations": anns, "categories": cats}
    return gt, fewshot, [_answers(rng, pairs, 0.08), _answers(rng, pairs, 0.05)]


def _timed(fn: Any, *args: Any, **kwargs: Any) -> tuple[Any, float]:
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


def run(kind: str, n_images: int, args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(args.seed)
    maker, evaluator, builder = {
        "coco": (make_coco, coco_bbox_eval, coco_records),
        "lvis": (make_lvis, lvis_bbox_eval, lvis_records),
    }[kind]
    (gt, cats, (run_a, run_b)), t_data = _timed(maker, rng, n_images)
    metrics, t_eval = _timed(evaluator, gt, run_a, cats)
    records, t_records = _timed(builder, gt, run_a, cats)
    stat = DetectionStatistic(records, category_ids=cats)
    res, t_boot = _timed(bootstrap, stat, n_replicates=args.replicates, seed=args.seed)
    assert res.metrics["map"].estimate == metrics.map  # the identity resample reproduces the evaluator
    row: dict[str, Any] = {
        "kind": kind,
        "images": n_images,
        "classes": len(cats),
        "detections": len(run_a),
        "data_s": round(t_data, 2),
        "evaluator_s": round(t_eval, 2),
        "records_s": round(t_records, 2),
        "bootstrap_s": round(t_boot, 2),
        "replicates": args.replicates,
        "seed": args.seed,
        "metrics": len(res.metrics),
        "map": res.as_dict()["metrics"]["map"],
    }
    if kind == "lvis":
        row["map_official_area_mean"] = res.as_dict()["metrics"]["map_official_area_mean"]
    if not args.no_paired:
        records_b = builder(gt, run_b, cats)
        stat_b = DetectionStatistic(records_b, category_ids=cats)
        paired, t_paired = _timed(paired_bootstrap, stat, stat_b, n_replicates=args.replicates, seed=args.seed)
        row.update(paired_s=round(t_paired, 2), paired_map=paired.as_dict()["metrics"]["map"])
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--replicates", type=int, default=1000)
    ap.add_argument("--only", choices=("coco", "lvis"))
    ap.add_argument("--coco-images", type=int, default=5000)
    ap.add_argument("--lvis-images", type=int, default=20000)
    ap.add_argument("--no-paired", action="store_true", help="skip the paired B - A rows")
    ap.add_argument("--json", type=Path, help="also write the JSON here")
    args = ap.parse_args()

    load_before = os.getloadavg()
    rows = []
    for kind, n in (("coco", args.coco_images), ("lvis", args.lvis_images)):
        if args.only in (None, kind):
            rows.append(run(kind, n, args))
            r = rows[-1]
            m = r["map"]
            print(
                f"{kind:5s} {r['images']:6d} img × {r['classes']} cls, {r['detections']:6d} det | "
                f"evaluator {r['evaluator_s']:6.2f}s | records {r['records_s']:6.2f}s | "
                f"bootstrap×{r['replicates']} {r['bootstrap_s']:6.2f}s"
                + (f" | paired {r['paired_s']:6.2f}s" if "paired_s" in r else "")
                + f" | mAP {m['estimate']:.2f} [{m['low']:.2f}, {m['high']:.2f}] se {m['se']:.2f}",
                flush=True,
            )
    rng = random.Random(args.seed)
    correct = [rng.random() < 0.7 for _ in range(40_000)]
    images = [i // 8 for i in range(40_000)]  # 5,000 images × 8 requests
    acc, t_acc = _timed(bootstrap_mean, correct, images, name="accuracy", scale=100, n_replicates=args.replicates)
    a = acc.metrics["accuracy"]
    print(
        f"accuracy 40000 items / 5000 img | bootstrap×{args.replicates} {t_acc:6.2f}s | {a.estimate:.2f} "
        f"[{a.low:.2f}, {a.high:.2f}]"
    )
    out = {
        "rows": rows,
        "accuracy": {"items": 40_000, "images": 5_000, "bootstrap_s": round(t_acc, 2), **acc.as_dict()["metrics"]},
        "cpus": os.cpu_count(),
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
    }
    text = json.dumps(out, indent=1)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
