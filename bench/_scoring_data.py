"""Synthetic detection data for bench_scoring.py: COCO / LVIS annotation files in the real formats (json only)
and one generation per request in the paper's answer format (see bench_scoring.py's docstring for the sizes)."""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


from tasks.detection.categories import COCO_FEWSHOT, LVIS_FEWSHOT
from tasks.synthetic.categories import COCO_CATEGORIES, LVIS_CATEGORIES

COCO_SIZES = ((640, 480), (480, 640), (640, 427), (427, 640), (640, 360), (500, 375))
THINKS = (
    "I look over the whole image for any {name}. {detail}",
    "The question asks for every {name}. Scanning the scene from left to right, {detail}",
    "Let me check the foreground and the background for a {name}: {detail}",
)
DETAILS_YES = (
    "there is one clearly visible near the center, and possibly another one partly occluded.",
    "I can see it; its outline is distinct from the surroundings.",
    "the object matches the description, so I give its box with my confidence.",
)
DETAILS_NO = (
    "nothing in the image matches this category.",
    "there are other objects, but none of them is of this kind.",
    "I do not see it anywhere.",
)


# ---- synthetic annotation files ----------------------------------------------------------------


def _box(rng: random.Random, w: int, h: int) -> list[float]:
    """A COCO ``[x, y, w, h]`` pixel box inside a w×h image (sizes spread over small/medium/large)."""
    bw = w * rng.uniform(0.03, 0.6)
    bh = h * rng.uniform(0.03, 0.6)
    return [round(rng.uniform(0, w - bw), 2), round(rng.uniform(0, h - bh), 2), round(bw, 2), round(bh, 2)]


def _annotation(ann_id: int, image_id: int, cat_id: int, bbox: list[float], coco: bool) -> dict[str, Any]:
    ann: dict[str, Any] = {
        "id": ann_id,
        "image_id": image_id,
        "category_id": cat_id,
        "area": round(bbox[2] * bbox[3] * 0.75, 2),
        "bbox": bbox,
    }
    if coco:
        ann["iscrowd"] = 0
    return ann


_ANGLES = np.linspace(0.0, 2 * np.pi, 12, endpoint=False)


def _add_segmentations(anns: list[dict[str, Any]]) -> None:
    """A 12-gon inscribed in each box as its ``segmentation``, a stand-in for the real polygons (they
    make up most of the real files, and of what lvis deep-copies); built in one numpy pass."""
    if not anns:
        return
    b = np.array([a["bbox"] for a in anns], dtype=np.float64)
    cx, cy, rx, ry = b[:, :1] + b[:, 2:3] / 2, b[:, 1:2] + b[:, 3:4] / 2, b[:, 2:3] / 2, b[:, 3:4] / 2
    poly = np.empty((len(anns), 2 * len(_ANGLES)))
    poly[:, 0::2] = cx + rx * np.cos(_ANGLES)
    poly[:, 1::2] = cy + ry * np.sin(_ANGLES)
    for ann, row in zip(anns, np.round(poly, 2).tolist(), strict=True):
        ann["segmentation"] = [row]


def _write_json(path: Path, obj: Any) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(obj, separators=(",", ":"))
    path.write_text(text, encoding="utf-8")
    return len(text)


def write_coco(root: Path, rng: random.Random, n_images: int, background: int) -> tuple[Path, dict[str, int]]:
    fewshot = [cid for cid, name, _ in COCO_CATEGORIES if name in COCO_FEWSHOT]
    others = [cid for cid, name, _ in COCO_CATEGORIES if name not in COCO_FEWSHOT]
    images, anns = [], []
    for i, iid in enumerate(sorted(rng.sample(range(1, 600_000), n_images))):
        w, h = COCO_SIZES[i % len(COCO_SIZES)]
        name = f"{iid:012d}.jpg"
        images.append(
            {
                "license": 1,
                "file_name": name,
                "coco_url": f"http://images.cocodataset.org/val2017/{name}",
                "height": h,
                "width": w,
                "date_captured": "2013-11-14 17:02:52",
                "flickr_url": "",
                "id": iid,
            }
        )
        for cid in fewshot:
            if rng.random() < 0.3:
                for _ in range(rng.randint(1, 3)):
                    anns.append(_annotation(len(anns) + 1, iid, cid, _box(rng, w, h), coco=True))
        for _ in range(rng.randint(0, 2 * background)):
            anns.append(_annotation(len(anns) + 1, iid, rng.choice(others), _box(rng, w, h), coco=True))
    rng.shuffle(images)  # annotation-file order is not id order in the real file
    _add_segmentations(anns)
    cats = [{"supercategory": sup, "id": cid, "name": name} for cid, name, sup in COCO_CATEGORIES]
    path = root / "coco" / "annotations" / "instances_val2017.json"
    size = _write_json(path, {"info": {}, "licenses": [], "images": images, "annotations": anns, "categories": cats})
    n_few = sum(a["category_id"] in fewshot for a in anns)
    return path, {"images": len(images), "annotations": len(anns), "fewshot_boxes": n_few, "bytes": size}


def write_lvis(root: Path, rng: random.Random, n_images: int, background: int) -> tuple[Path, dict[str, int]]:
    fewshot = [c[0] for c in LVIS_CATEGORIES if c[1] in LVIS_FEWSHOT]
    others = [c[0] for c in LVIS_CATEGORIES if c[1] not in LVIS_FEWSHOT]
    images, anns = [], []
    n_pos = n_neg = 0
    for i, iid in enumerate(sorted(rng.sample(range(1, 600_000), n_images))):
        w, h = COCO_SIZES[i % len(COCO_SIZES)]
        pos, neg, nel = set(), [], []
        for cid in fewshot:
            u = rng.random()
            if u < 0.05:
                for _ in range(rng.randint(1, 3)):
                    anns.append(_annotation(len(anns) + 1, iid, cid, _box(rng, w, h), coco=False))
                pos.add(cid)
                n_pos += 1
                if rng.random() < 0.2:
                    nel.append(cid)
            elif u < 0.10:
                neg.append(cid)
                n_neg += 1
        for _ in range(rng.randint(0, 2 * background)):
            cid = rng.choice(others)
            anns.append(_annotation(len(anns) + 1, iid, cid, _box(rng, w, h), coco=False))
            pos.add(cid)
        neg += [c for c in rng.sample(others, 2) if c not in pos]
        split = "train2017" if i % 8 == 7 else "val2017"
        images.append(
            {
                "id": iid,
                "coco_url": f"http://images.cocodataset.org/{split}/{iid:012d}.jpg",
                "flickr_url": "",
                "date_captured": "2013-11-14 17:02:52",
                "license": 1,
                "height": h,
                "width": w,
                "pos_category_ids": sorted(pos),
                "neg_category_ids": sorted(neg),
                "not_exhaustive_category_ids": sorted(nel),
            }
        )
    rng.shuffle(images)
    _add_segmentations(anns)
    count_imgs: dict[int, set[int]] = {c[0]: set() for c in LVIS_CATEGORIES}
    count_inst: dict[int, int] = dict.fromkeys(count_imgs, 0)
    for a in anns:
        count_imgs[a["category_id"]].add(a["image_id"])
        count_inst[a["category_id"]] += 1
    cats = [
        {
            "id": cid,
            "name": name,
            "synset": f"{name}.n.01",
            "synonyms": list(syn),
            "def": definition,
            "frequency": freq,
            "image_count": len(count_imgs[cid]),
            "instance_count": count_inst[cid],
        }
        for cid, name, freq, syn, definition in LVIS_CATEGORIES
    ]
    path = root / "lvis" / "annotations" / "lvis_v1_val.json"
    size = _write_json(path, {"info": {}, "licenses": [], "images": images, "annotations": anns, "categories": cats})
    n_few = sum(a["category_id"] in fewshot for a in anns)
    stats = {"images": len(images), "annotations": len(anns), "fewshot_boxes": n_few, "bytes": size}
    stats.update(pos_pairs=n_pos, neg_pairs=n_neg)
    return path, stats


# ---- generations -------------------------------------------------------------------------------


def _item(box: tuple[int, int, int, int], conf: float) -> str:
    return f"{{'Position': [{box[0]}, {box[1]}, {box[2]}, {box[3]}], 'Confidence': {conf:.2f}}}"


def _norm(rng: random.Random, x1: float, y1: float, x2: float, y2: float, w: int, h: int) -> tuple[int, ...]:
    """Pixel xyxy -> jittered 0–1000 integers (what the model writes)."""
    s = 0.06 * min(x2 - x1, y2 - y1)
    return tuple(
        min(1000, max(0, round((v + rng.gauss(0, s)) / size * 1000)))
        for v, size in ((x1, w), (y1, h), (x2, w), (y2, h))
    )


def _false_positive(rng: random.Random) -> tuple[int, int, int, int]:
    x1, y1 = rng.randint(0, 800), rng.randint(0, 800)
    return (x1, y1, min(1000, x1 + rng.randint(20, 400)), min(1000, y1 + rng.randint(20, 400)))


def make_generations(task: Any, rng: random.Random) -> tuple[dict[str, str], dict[str, int]]:
    """One completion per (image, category) request of `task`, from its ground truth."""
    data = task.data
    gens: dict[str, str] = {}
    kinds = {"boxes": 0, "no_objects": 0, "false_positive": 0, "missed": 0, "truncated": 0}
    for image_id, cat_id, name in task.pairs():
        ref = data.images[image_id]
        gt = data.gt_boxes(image_id, cat_id)
        items: list[str] = []
        if len(gt) and rng.random() < 0.92:
            for x1, y1, x2, y2 in gt.tolist():
                if rng.random() < 0.85:
                    items.append(_item(_norm(rng, x1, y1, x2, y2, ref.width, ref.height), rng.uniform(0.5, 1.0)))
            if rng.random() < 0.15:
                items.append(_item(_false_positive(rng), rng.uniform(0.05, 0.6)))
        elif not len(gt) and rng.random() < 0.12:
            items.append(_item(_false_positive(rng), rng.uniform(0.05, 0.6)))
        if items:
            answer = "[" + ", ".join(items) + "]"
            kinds["boxes" if len(gt) else "false_positive"] += 1
        else:
            answer = "No Objects"
            kinds["missed" if len(gt) else "no_objects"] += 1
        detail = rng.choice(DETAILS_YES if items else DETAILS_NO)
        think = rng.choice(THINKS).format(name=name.replace("_", " "), detail=detail)
        text = f"<think>{think}</think>\n<answer>{answer}</answer>"
        if items and rng.random() < 0.02:  # cut off mid-answer (max_new_tokens)
            text = text[: rng.randint(len(text) - len(answer), len(text) - 12)]
            kinds["truncated"] += 1
        gens[f"{image_id}:{cat_id}"] = text
    return gens, kinds
