"""Parity of the ``official`` scoring profile with the official Visual-RFT *evaluation* code.

Reference: github.com/Liuziyu77/Visual-RFT at 9486633 (`coco_evaluation/Qwen2_VL_coco_infere.py`,
`coco_evaluation/coco_evaluation.py` + `evaluation.ipynb`, `lvis_evaluation/Qwen2_VL_lvis_infere.py`
+ the LVIS notebook of a7d8894, `classification/Qwen2_VL_classification_infere.py`,
`lisa_evaluation/Qwen2_VL_lisa_infere.py`, `gen_box_ann.py`, `gen_sft.py`, `merge_eval.py`;
PROTOCOL.md §6). The official logic is re-implemented below in plain code and fed with a
deterministic mix of hostile generations over synthetic data written in the real on-disk formats.
vrft is only used through its public entry points: `get_task`, `write_synthetic`, `requests()`,
`score(..., "official")` and the classification samples' class names; the ground truth, image sizes
and category names of the reference come from the annotation files themselves.

The mix exercises the seven causes of the issue; each also has a focused test, so a failure names
its cause:

* A  LISA: the official box pattern allows whitespace around every number and between the tuples
     and takes the first match of ``re.findall`` over the untrimmed decode (prompt included);
* B  classification: the answer is taken unstripped, only ' ' and '_' are removed;
* C  a listed class without GT has AP NaN, so the notebooks' mean over the listed classes is NaN
     (vrft: None, with a warning naming the classes);
* D  ``trans_bbox`` scales each corner before subtracting (inputs are chosen so that the two
     orders of operations put an IoU on different sides of a COCOeval threshold);
* E  ``remove_duplicates`` hashes ``tuple(bbox['Position'])``: an unhashable or non-iterable
     Position raises before any box of that answer is kept (one error, no box);
* F  results go to COCOeval/LVISEval unchecked (``true``, NaN, infinite, a 400-digit integer), and
     the evaluation fails exactly where the evaluator fails (a string score, README D25), naming the
     request;
* G  the LISA solution string uses ``int(v / w * 1000)`` (``gen_sft.py``).
"""

from __future__ import annotations

import contextlib
import copy
import functools
import io
import itertools
import json
import logging
import math
import random
import re
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as coco_mask
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval, Params

from tasks.registry import get_task
from tasks.synthetic import SyntheticSizes, write_synthetic

SIZES = SyntheticSizes(lisa_items=16, cls_test=6)  # defaults otherwise: 24 COCO / 24 LVIS images

# The notebooks' class lists (PROTOCOL §3, §6.3): few-shot 8 / 6, OV 15 novel + 65 base.
COCO_FEWSHOT = ("bus", "train", "fire hydrant", "stop sign", "cat", "dog", "bed", "toilet")
LVIS_FEWSHOT = ("horse_buggy", "die", "kitchen_table", "omelet", "papaya", "stepladder")
COCO_NOVEL15 = (
    "mouse", "fork", "hot dog", "cat", "airplane", "suitcase", "parking meter", "sandwich", "train",
    "hair drier", "toilet", "toaster", "snowboard", "frisbee", "bear",
)  # fmt: skip
DETECTION = {  # task -> (dataset, listed classes; None = every class of the file)
    "coco_fewshot": ("coco", COCO_FEWSHOT),
    "coco_ov": ("coco", None),
    "lvis_fewshot": ("lvis", LVIS_FEWSHOT),
}
ANN_FILE = {"coco": "coco/annotations/instances_val2017.json", "lvis": "lvis/annotations/lvis_v1_val.json"}
REMOVED = {"coco": "stop sign", "lvis": "papaya"}  # the listed class without GT in the `no_gt` root


# =============================================================================================
# Data: the synthetic tree, plus two edits in the real formats
# =============================================================================================


@dataclass(frozen=True)
class Roots:
    main: Path  # synthetic data; LISA items edited for A (a tuple in an instruction) and G
    no_gt: Path  # as `main`, but one listed COCO and one listed LVIS class have no annotation


G_POINTS = {  # ReasonSeg shapes[0] -> a rectangle whose coordinates gen_sft.py truncates toward zero
    "val/rs_val_000": (-0.4, 37.8, 151.2, 151.2),  # 224x168: int() vs floor() differ on all four
    "val/rs_val_001": (53.9, 53.9, 107.8, 107.8),  # 196x196
}
PROMPT_TUPLE_ITEM = "test/rs_test_000"  # its instruction holds a spaced tuple: D22 + A through the prompt


@pytest.fixture(scope="module")
def roots(tmp_path_factory: pytest.TempPathFactory) -> Roots:
    main = tmp_path_factory.mktemp("parity") / "data"
    write_synthetic(main, seed=0, sizes=SIZES)
    for rid, (x1, y1, x2, y2) in G_POINTS.items():
        path = _lisa_json(main, rid)
        doc = json.loads(path.read_text())
        doc["shapes"][0]["points"] = [[x1, y1], [x2, y1], [x2, y2], [x1, y2]]
        path.write_text(json.dumps(doc))
    path = _lisa_json(main, PROMPT_TUPLE_ITEM)
    doc = json.loads(path.read_text())
    doc["text"][0] = "the thing drawn at (12, 30), (400, 500) in the picture"
    path.write_text(json.dumps(doc))

    no_gt = tmp_path_factory.mktemp("parity_no_gt") / "data"
    write_synthetic(no_gt, seed=0, sizes=SIZES)
    for dataset, name in REMOVED.items():
        path = no_gt / ANN_FILE[dataset]
        gt = json.loads(path.read_text())
        (cid,) = (c["id"] for c in gt["categories"] if c["name"] == name)
        gt["annotations"] = [a for a in gt["annotations"] if a["category_id"] != cid]
        for im in gt["images"]:
            if "pos_category_ids" in im:
                im["pos_category_ids"] = [c for c in im["pos_category_ids"] if c != cid]
        path.write_text(json.dumps(gt))
    return Roots(main, no_gt)


def _lisa_json(root: Path, rid: str) -> Path:
    split, stem = rid.split("/")
    return root / "lisa" / "ReasonSeg" / split / f"{stem}.json"


@pytest.fixture
def lvis_numpy(monkeypatch: pytest.MonkeyPatch) -> None:
    """lvis 0.5.3 uses ``np.float`` (removed in numpy 1.24); PROTOCOL §6.4 restores it as ``float``."""
    if not hasattr(np, "float"):
        monkeypatch.setattr(np, "float", float, raising=False)


# =============================================================================================
# Reference: the official detection inference scripts (COCO and LVIS parse identically, §6.2)
# =============================================================================================

ANSWER = re.compile(r"<answer>(.*?)</answer>")  # no DOTALL, as in every official script


def ref_extract_bbox(wrapped: str) -> Any:
    """`extract_bbox`: text between the first tags (or to the end), truncation repair, quote swap, JSON."""
    if "<answer>" not in wrapped:
        return None
    start = wrapped.find("<answer>") + len("<answer>")
    stop = wrapped.find("</answer>")
    body = wrapped[start : len(wrapped) if stop == -1 else stop]
    if not body.endswith("]"):
        body = body.rsplit("},", 1)[0] + "}]"
    try:
        return json.loads(body.replace("'", '"'))
    except json.JSONDecodeError:
        return None


def ref_remove_duplicates(boxes: Sequence[Any]) -> list[Any]:
    """`remove_duplicates`: first occurrence of each ``tuple(box['Position'])`` (a set of tuples)."""
    seen: set[tuple[Any, ...]] = set()
    kept = []
    for box in boxes:
        key = tuple(box["Position"])
        if key not in seen:
            seen.add(key)
            kept.append(box)
    return kept


def ref_trans_bbox(height: float, width: float, position: Any) -> list[Any]:
    """`trans_bbox`: each corner /1000 then ×W or ×H, then the width/height by subtraction."""
    x1, y1, x2, y2 = position
    x1, x2 = x1 / 1000.0 * width, x2 / 1000.0 * width
    y1, y2 = y1 / 1000.0 * height, y2 / 1000.0 * height
    return [x1, y1, x2 - x1, y2 - y1]


def ref_detection_results(
    response: str, image_id: int, category_id: int, width: int, height: int
) -> tuple[list[dict[str, Any]], int]:
    """One (image, category) response -> (COCO result dicts, errors), as the inference loop does it."""
    for old, new in (("[[", "["), ("]]", "]"), ("\n", ""), (", ...", "")):
        response = response.replace(old, new)
    found = ANSWER.search(response)
    wrapped = "<answer>" + (found.group(1).strip() if found else response.strip()) + "</answer>"
    out: list[dict[str, Any]] = []
    try:
        boxes = ref_extract_bbox(wrapped)
        if boxes is None or type(boxes[0]) is str:
            return out, 0
        for box in ref_remove_duplicates(boxes):
            bbox = ref_trans_bbox(height, width, box["Position"])
            out.append({"image_id": image_id, "category_id": category_id, "bbox": bbox, "score": box["Confidence"]})
    except Exception:
        return out, 1
    return out, 0


# =============================================================================================
# Reference: the metric notebooks
# =============================================================================================


def ref_coco_notebook(ann_path: Path, results: list[dict[str, Any]], tmp: Path) -> dict[str, tuple[float, float]]:
    """`CocoDetectionEvaluator.evaluate`: results through a json file, default COCOeval (all images,
    all classes), per class (AP, AP50) ×100 from ``precision[..., area all, maxDets 100]``, NaN when
    a class has no precision entry (no GT)."""
    assert results, "the official evaluator returns early on an empty result file; not a parity case"
    res_file = tmp / "prediction_results.json"
    res_file.write_text(json.dumps(results))  # NaN/Infinity/true/huge ints survive the round trip
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(ann_path))
        dets = coco.loadRes(str(res_file))
        ev = COCOeval(copy.deepcopy(coco), copy.deepcopy(dets), "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    precision = ev.eval["precision"]  # [T, R, K, A, M]
    names = [c["name"] for c in coco.loadCats(sorted(coco.getCatIds()))]
    out = {}
    for k, name in enumerate(names):
        every = precision[:, :, k, 0, -1]
        first = precision[0, :, k, 0, -1]
        ap = float(np.mean(every[every > -1]) * 100) if (every > -1).any() else math.nan
        ap50 = float(np.mean(first[first > -1]) * 100) if (first > -1).any() else math.nan
        out[name] = (ap, ap50)
    return out


def ref_lvis_notebook(ann_path: Path, results: list[dict[str, Any]]) -> dict[str, float]:
    """The LVIS notebook: ``LVISResults(max_dets=300)``, ``LVISEval(...).run()`` with default
    parameters, per class the mean of the precision entries > -1 over all four area ranges ×100."""
    assert results
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:  # `import lvis` calls logging.basicConfig
        from lvis import LVIS, LVISEval, LVISResults
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # deprecated Logger.warn; mean of an empty frequency group
        gt = LVIS(str(ann_path))
        dets = LVISResults(gt, json.loads(json.dumps(results)), max_dets=300)
        ev = LVISEval(gt, dets, "bbox")
        ev.run()
    precision = ev.eval["precision"]  # [T, R, K, A]
    out = {}
    for k, cat in enumerate(gt.load_cats(gt.get_cat_ids())):
        p = precision[:, :, k, :]
        p = p[p > -1]
        out[cat["name"]] = float(np.mean(p) * 100) if p.size else math.nan
    return out


def notebook_mean(per_class: Mapping[str, float], selected: Sequence[str]) -> float:
    """Σ AP over the selected classes (in class-id order, as the notebook loops) / their number."""
    total = 0.0
    for name, ap in per_class.items():
        if name in selected:
            total += ap
    return total / len(selected)


@dataclass
class DetectionReference:
    per_request: dict[str, tuple[list[dict[str, Any]], int]]
    ap: dict[str, float]  # COCO: area all; LVIS: the notebook's four-area mean
    ap50: dict[str, float]  # COCO only
    listed: tuple[str, ...]

    @property
    def errors(self) -> int:
        return sum(e for _, e in self.per_request.values())

    @property
    def results(self) -> list[dict[str, Any]]:
        return [r for res, _ in self.per_request.values() for r in res]


@dataclass(frozen=True)
class DetectionGT:
    """What the reference reads from the annotation file."""

    images: list[dict[str, Any]]  # file order, as the inference scripts slice them
    cat_id: dict[str, int]
    boxes: dict[tuple[int, int], list[list[float]]]  # (image, category) -> pixel xywh

    @classmethod
    def load(cls, path: Path) -> DetectionGT:
        gt = json.loads(path.read_text())
        boxes: dict[tuple[int, int], list[list[float]]] = {}
        for a in gt["annotations"]:
            boxes.setdefault((a["image_id"], a["category_id"]), []).append([float(v) for v in a["bbox"]])
        return cls(gt["images"], {c["name"]: c["id"] for c in gt["categories"]}, boxes)

    def size(self, image_id: int) -> tuple[int, int]:
        (im,) = (im for im in self.images if im["id"] == image_id)
        return im["width"], im["height"]


def reference_detection(
    root: Path, task_name: str, generations: Mapping[str, str], tmp: Path, *, evaluate: bool = True
) -> DetectionReference:
    dataset, listed = DETECTION[task_name]
    ann_path = root / ANN_FILE[dataset]
    gt = DetectionGT.load(ann_path)
    names = tuple(gt.cat_id) if listed is None else listed
    ids = sorted(gt.cat_id[n] for n in names)
    per_request: dict[str, tuple[list[dict[str, Any]], int]] = {}
    for im in gt.images:  # image order of the file, categories in id order (the exist-map order)
        for cid in ids:
            rid = f"{im['id']}:{cid}"
            if rid in generations:
                per_request[rid] = ref_detection_results(generations[rid], im["id"], cid, im["width"], im["height"])
    ref = DetectionReference(per_request, {}, {}, names)
    if not evaluate:
        return ref
    if dataset == "coco":
        both = ref_coco_notebook(ann_path, ref.results, tmp)
        ref.ap = {n: both[n][0] for n in both}
        ref.ap50 = {n: both[n][1] for n in both}
    else:
        ref.ap = ref_lvis_notebook(ann_path, ref.results)
    return ref


# =============================================================================================
# Reference: classification and LISA evaluation
# =============================================================================================


def ref_classification(response: str, class_name: str) -> tuple[bool, bool]:
    """(right, error) of the classification eval loop: the first single-line answer tag, unstripped;
    ' ' and '_' deleted, lower-cased; right iff either string contains the other."""
    found = ANSWER.search(response)
    if found is None:
        return False, True  # `match.group(1)` on None raises: error_count += 1

    def squash(s: str) -> str:
        return s.replace(" ", "").replace("_", "").lower()

    answer, gt = squash(found.group(1)), squash(class_name)
    return (gt in answer or answer in gt), False


LISA_BOX = re.compile(r"\(\s*(\d+)\s*,\s*(\d+)\s*\)\s*,\s*\(\s*(\d+)\s*,\s*(\d+)\s*\)")


def untrimmed_decode(system: str | None, text: str, generation: str) -> str:
    """`batch_decode(generated_ids, skip_special_tokens=True)` of the whole sequence: the Qwen2-VL
    chat template without its special tokens (the image placeholder tokens are special too)."""
    return f"system\n{system or 'You are a helpful assistant.'}\nuser\n{text}\nassistant\n{generation}"


def ref_lisa_iou(decoded: str, gt_px: Sequence[float], width: int, height: int) -> float:
    """Qwen2_VL_lisa_infere.py: first match of ``re.findall`` anywhere, /1000, IoU = I/(U + 1e-6);
    any exception (no match) appends 0."""
    gt = [gt_px[0] / width, gt_px[1] / height, gt_px[2] / width, gt_px[3] / height]
    try:
        x1, y1, x2, y2 = map(int, LISA_BOX.findall(decoded)[0])
        pred = [x1 / 1000, y1 / 1000, x2 / 1000, y2 / 1000]
        inter = max(0, min(pred[2], gt[2]) - max(pred[0], gt[0])) * max(0, min(pred[3], gt[3]) - max(pred[1], gt[1]))
        area_pred = (pred[2] - pred[0]) * (pred[3] - pred[1])
        area_gt = (gt[2] - gt[0]) * (gt[3] - gt[1])
        return inter / float(area_pred + area_gt - inter + 1e-6)
    except Exception:
        return 0


@dataclass(frozen=True)
class LisaItem:
    rid: str
    box: tuple[float, float, float, float]  # gen_box_ann.py: min/max of shapes[0]'s points, pixels
    width: int
    height: int


def lisa_items(root: Path) -> dict[str, LisaItem]:
    out = {}
    for split in ("val", "test"):
        for path in sorted((root / "lisa" / "ReasonSeg" / split).glob("*.json")):
            points = json.loads(path.read_text())["shapes"][0]["points"]
            xs, ys = [p[0] for p in points], [p[1] for p in points]
            with Image.open(path.with_suffix(".jpg")) as im:
                w, h = im.size
            rid = f"{split}/{path.stem}"
            out[rid] = LisaItem(rid, (min(xs), min(ys), max(xs), max(ys)), w, h)
    return out


def ref_lisa_solution(item: LisaItem) -> str:
    """gen_sft.py's assistant value ``(X1,Y1),(X2,Y2)`` with ``int(v / w * 1000)``, wrapped as
    grpo_lisa.py wraps it: ``'<answer> ' + value + ' </answer>'``."""
    x1, y1, x2, y2 = item.box
    w, h = item.width, item.height
    value = f"({int(x1 / w * 1000)},{int(y1 / h * 1000)}),({int(x2 / w * 1000)},{int(y2 / h * 1000)})"
    return "<answer> " + value + " </answer>"


# =============================================================================================
# Hostile generations
# =============================================================================================

THINK = "<think>I look at the image and find the objects.</think>"


def num(v: float) -> str:
    return str(v) if isinstance(v, int) else repr(float(v))


def item(pos: Sequence[Any], conf: str, quote: str = "'") -> str:
    coords = ", ".join(p if isinstance(p, str) else num(p) for p in pos)
    return f"{{{quote}Position{quote}: [{coords}], {quote}Confidence{quote}: {conf}}}"


def listing(items: Sequence[str]) -> str:
    return "[" + ", ".join(items) + "]"


def tagged(body: str, think: bool = True) -> str:
    return (THINK if think else "") + f"<answer>{body}</answer>"


@dataclass(frozen=True)
class DetCase:
    rid: str
    width: int
    height: int
    gt_px: list[list[float]]  # xywh pixels

    @property
    def boxes(self) -> list[list[int]]:
        """GT corners in 0–1000 integers (rounded)."""
        w, h = self.width, self.height
        return [
            [round(x / w * 1000), round(y / h * 1000), round((x + bw) / w * 1000), round((y + bh) / h * 1000)]
            for x, y, bw, bh in self.gt_px
        ]


def rand_box(rng: random.Random) -> list[int]:
    x1, y1 = rng.randint(0, 850), rng.randint(0, 850)
    return [x1, y1, min(1000, x1 + rng.randint(20, 300)), min(1000, y1 + rng.randint(20, 300))]


def conf(rng: random.Random) -> str:
    return rng.choice(["0.99", "0.95", "0.9", "0.85", "0.8", "0.75", "0.6", "1"])


def some(c: DetCase, rng: random.Random) -> list[list[int]]:
    """The GT boxes, or one invented box where the pair has none (for kinds that need an item)."""
    return c.boxes or [rand_box(rng)]


def jitter(b: Sequence[int], rng: random.Random, d: int = 25) -> list[int]:
    return [v + rng.randint(-d, d) for v in b]


def k_perfect(c: DetCase, rng: random.Random) -> str:
    return tagged(listing([item(b, conf(rng)) for b in c.boxes]) if c.boxes else "No Objects")


def k_jitter(c: DetCase, rng: random.Random) -> str:
    return tagged(listing([item(jitter(b, rng), conf(rng)) for b in some(c, rng)]))


def k_missed(c: DetCase, rng: random.Random) -> str:
    kept = c.boxes[: rng.randint(0, max(0, len(c.boxes) - 1))]
    return tagged(listing([item(b, conf(rng)) for b in kept]) if kept else "No Objects")


def k_extra(c: DetCase, rng: random.Random) -> str:
    extra = [item(rand_box(rng), rng.choice(["0.1", "0.3", "0.55"])) for _ in range(rng.randint(1, 3))]
    return tagged(listing([item(b, conf(rng)) for b in c.boxes] + extra))


def k_duplicates(c: DetCase, rng: random.Random) -> str:
    items = []
    for b in some(c, rng):
        items += [item(b, "0.9"), item(b, "0.4"), item([float(v) for v in b], "0.8"), item([b[0] + 2, *b[1:]], "0.7")]
    return tagged(listing(items))


def k_conf_out_of_range(c: DetCase, rng: random.Random) -> str:
    return tagged(listing([item(b, rng.choice(["1.5", "-0.3", "2", "0", "100", "-1"])) for b in some(c, rng)]))


def k_swapped(c: DetCase, rng: random.Random) -> str:
    return tagged(
        listing([item([b[2], b[3], b[0], b[1]], conf(rng)) for b in some(c, rng)] + [item([500, 100, 400, 300], "0.5")])
    )


def k_out_of_image(c: DetCase, rng: random.Random) -> str:
    return tagged(
        listing([item([-50, 950, 1100, 1000], "0.7"), *(item(jitter(b, rng, 5), conf(rng)) for b in c.boxes)])
    )


def k_multiline(c: DetCase, rng: random.Random) -> str:
    body = ",\n  ".join(item(b, conf(rng)) for b in some(c, rng))
    return f"<think>\nLet me see.\nThere it is.\n</think>\n<answer>\n[\n  {body}\n]\n</answer>\n"


def k_no_think(c: DetCase, rng: random.Random) -> str:
    return tagged(listing([item(b, conf(rng)) for b in some(c, rng)]), think=False)


def k_bare_json(c: DetCase, rng: random.Random) -> str:
    return listing([item(jitter(b, rng, 4), conf(rng)) for b in some(c, rng)])


def k_truncated_think(c: DetCase, rng: random.Random) -> str:
    full = tagged(listing([item(b, conf(rng)) for b in some(c, rng)] + [item(rand_box(rng), "0.5")]))
    return full[: full.rindex("'Confidence'")]


def k_truncated_bare(c: DetCase, rng: random.Random) -> str:
    full = listing([item(b, conf(rng)) for b in some(c, rng)] + [item(rand_box(rng), "'high'")])
    return full[: full.rindex("'high'") + 3]  # the string score sits in the cut-off tail


def k_double_brackets(c: DetCase, rng: random.Random) -> str:
    return tagged("[" + listing([item(b, conf(rng)) for b in some(c, rng)]) + "]")


def k_ellipsis(c: DetCase, rng: random.Random) -> str:
    return tagged("[" + ", ".join([item(b, conf(rng)) for b in some(c, rng)] + ["..."]) + "]")


def k_no_objects(c: DetCase, rng: random.Random) -> str:
    return tagged(rng.choice(["No Objects", "'No Objects'", "no objects.", "None", ""]), think=rng.random() < 0.7)


def k_double_quotes(c: DetCase, rng: random.Random) -> str:
    return tagged(listing([item(b, conf(rng), quote='"') for b in some(c, rng)]))


def k_float_positions(c: DetCase, rng: random.Random) -> str:
    return tagged(listing([item([v + rng.choice([0.25, 0.5, -0.375]) for v in b], conf(rng)) for b in some(c, rng)]))


def k_python_true(c: DetCase, rng: random.Random) -> str:
    return tagged(listing([item(b, "True") for b in some(c, rng)]))  # not JSON: no box, no error


def k_empty_list(c: DetCase, rng: random.Random) -> str:
    return tagged("[]")  # boxes[0] raises: one error


def k_dict_no_list(c: DetCase, rng: random.Random) -> str:
    return tagged(item(some(c, rng)[0], "0.9"))


def k_int_list(c: DetCase, rng: random.Random) -> str:
    return tagged("[5, 6]")


def k_three_coords(c: DetCase, rng: random.Random) -> str:
    return tagged(listing([item(b, conf(rng)) for b in some(c, rng)] + [item([1, 2, 3], "0.5")]))


def k_string_position(c: DetCase, rng: random.Random) -> str:
    return tagged(listing([item(some(c, rng)[0], "0.9"), "{'Position': 'abcd', 'Confidence': 0.5}"]))


def k_missing_confidence(c: DetCase, rng: random.Random) -> str:
    return tagged(listing([item(b, conf(rng)) for b in some(c, rng)] + ["{'Position': [1, 2, 30, 40]}"]))


def k_string_first(c: DetCase, rng: random.Random) -> str:
    return tagged(listing(["'here they are'", item(some(c, rng)[0], "'high'")]))  # skipped, no error


def k_stray_element(c: DetCase, rng: random.Random) -> str:
    return tagged(listing([item(b, conf(rng)) for b in some(c, rng)] + ["'done'"]))


def k_missing_position(c: DetCase, rng: random.Random) -> str:
    return tagged(listing([item(some(c, rng)[0], "0.9"), "{'Confidence': 'high'}"]))


def k_missing_open_tag(c: DetCase, rng: random.Random) -> str:
    return listing([item(b, conf(rng)) for b in some(c, rng)]) + "</answer>"


def k_two_answers(c: DetCase, rng: random.Random) -> str:
    return (
        THINK
        + "<answer>No Objects</answer> wait, <answer>"
        + listing([item(b, "0.9") for b in some(c, rng)])
        + "</answer>"
    )


def k_trailing_text(c: DetCase, rng: random.Random) -> str:
    items = [item(b, conf(rng)) for b in some(c, rng)] + [item(rand_box(rng), "0.2")]
    return tagged(listing(items) + " done")


def k_bracket_newline(c: DetCase, rng: random.Random) -> str:
    # "[[" is replaced before the newlines are deleted, so "[\n[" becomes a nested list: one error
    return tagged("[\n" + listing([item(b, conf(rng)) for b in some(c, rng)]) + "\n]")


def k_lowercase_keys(c: DetCase, rng: random.Random) -> str:
    return tagged(listing([item(b, conf(rng)).replace("Position", "position") for b in some(c, rng)]))


def k_many_boxes(c: DetCase, rng: random.Random) -> str:
    items = [item(b, "0.99") for b in c.boxes]
    items += [item(rand_box(rng), f"{0.9 - i * 0.007:.3f}") for i in range(120)]  # > COCO maxDets 100
    return tagged(listing(items))


# ---- E: Position that tuple() cannot hash or iterate: the whole answer is dropped, one error ---
def k_e_dict_in_position(c: DetCase, rng: random.Random) -> str:
    return tagged(
        listing([item(b, "0.95") for b in some(c, rng)] + ["{'Position': [{'x': 1}, 2, 3, 4], 'Confidence': 0.5}"])
    )


def k_e_list_in_position(c: DetCase, rng: random.Random) -> str:
    return tagged(
        listing([item(b, "0.95") for b in some(c, rng)] + ["{'Position': [1, [2, 3], 4, 5], 'Confidence': 0.5}"])
    )


def k_e_int_position(c: DetCase, rng: random.Random) -> str:
    return tagged(listing([item(b, "0.95") for b in some(c, rng)] + ["{'Position': 7, 'Confidence': 0.5}"]))


def k_e_null_position(c: DetCase, rng: random.Random) -> str:
    return tagged(listing([item(b, "0.95") for b in some(c, rng)] + ["{'Position': null, 'Confidence': 0.5}"]))


def k_e_string_score_never_evaluated(c: DetCase, rng: random.Random) -> str:
    first = item(some(c, rng)[0], "'high'")
    return tagged(listing([first, "{'Position': [{'x': 1}, 2, 3, 4], 'Confidence': 0.5}"]))


# ---- F: values the official code hands to the evaluator unchanged ----------------------------
def k_f_true(c: DetCase, rng: random.Random) -> str:
    # The 1.5 box ranks first: were `true` the top score on every image of a class, COCOeval's
    # accumulate would negate an all-boolean array at maxDets=1 and raise (that case has its own test).
    items = [item(b, "true" if i == 0 else conf(rng)) for i, b in enumerate(some(c, rng))]
    return tagged(listing([item(rand_box(rng), "1.5"), *items]))


def k_f_nan_score(c: DetCase, rng: random.Random) -> str:
    return tagged(listing([item(b, "NaN" if i == 0 else conf(rng)) for i, b in enumerate(some(c, rng))]))


def k_f_infinite_scores(c: DetCase, rng: random.Random) -> str:
    boxes = some(c, rng)
    return tagged(
        listing([item(boxes[0], "Infinity"), item(rand_box(rng), "-Infinity"), item(jitter(boxes[0], rng), "1e400")])
    )


def k_f_huge_int_score(c: DetCase, rng: random.Random) -> str:
    return tagged(listing([item(b, "1" + "0" * 400) for b in some(c, rng)] + [item(rand_box(rng), "0.3")]))


def k_f_infinite_position(c: DetCase, rng: random.Random) -> str:
    b = some(c, rng)[0]
    return tagged(
        listing(
            [item(["Infinity", b[1], b[2], b[3]], "0.8"), item(b, "0.7"), item([b[0], b[1], "-Infinity", b[3]], "0.6")]
        )
    )


def k_f_nan_position(c: DetCase, rng: random.Random) -> str:
    b = some(c, rng)[0]
    return tagged(listing([item([b[0], "NaN", b[2], b[3]], "0.95"), item(b, "0.5")]))


Kind = Callable[[DetCase, random.Random], str]
COMMON: list[Kind] = [k_perfect, k_perfect, k_jitter, k_jitter, k_missed, k_extra, k_duplicates, k_multiline]
HOSTILE: list[Kind] = [
    k_conf_out_of_range, k_swapped, k_out_of_image, k_no_think, k_bare_json, k_truncated_think,
    k_truncated_bare, k_double_brackets, k_ellipsis, k_no_objects, k_double_quotes, k_float_positions,
    k_python_true, k_empty_list, k_dict_no_list, k_int_list, k_three_coords, k_string_position,
    k_missing_confidence, k_string_first, k_stray_element, k_missing_position, k_missing_open_tag,
    k_two_answers, k_trailing_text, k_many_boxes, k_bracket_newline, k_lowercase_keys,
]  # fmt: skip
E_KINDS: list[Kind] = [
    k_e_dict_in_position, k_e_list_in_position, k_e_int_position, k_e_null_position,
    k_e_string_score_never_evaluated,
]  # fmt: skip
F_KINDS: list[Kind] = [
    k_f_true, k_f_nan_score, k_f_infinite_scores, k_f_huge_int_score, k_f_infinite_position, k_f_nan_position,
]  # fmt: skip


# ---- D: a Position on which the two orders of operations disagree at a COCOeval threshold -----
IOU_THRESHOLDS = Params(iouType="bbox").iouThrs  # COCOeval matches a detection iff IoU >= t


@functools.cache
def straddle_position(gt_px: tuple[float, ...], width: int, height: int) -> list[float] | None:
    """A 0–1000 Position (floats) whose official pixel box and the box computed the other way,
    ``(x2 - x1) / 1000 * W``, have IoUs with the GT box on different sides of a COCOeval threshold
    (None if there is none near the thresholds). The second conversion is only used here, to pick
    an input that tells the two apart."""

    def other(p: Sequence[float]) -> list[float]:
        x1, y1, x2, y2 = p
        return [x1 / 1000 * width, y1 / 1000 * height, (x2 - x1) / 1000 * width, (y2 - y1) / 1000 * height]

    gx, gy, gw, gh = gt_px
    x1, y1, y2 = gx / width * 1000, gy / height * 1000, (gy + gh) / height * 1000
    for t in IOU_THRESHOLDS:
        x2 = (gx + t * gw) / width * 1000  # keeps the GT's y-range: IoU ≈ t
        candidates = [[x1, y1, x2 + k * math.ulp(x2), y2] for k in range(-400, 401)]
        official = coco_mask.iou([ref_trans_bbox(height, width, p) for p in candidates], [list(gt_px)], [0])[:, 0]
        swapped = coco_mask.iou([other(p) for p in candidates], [list(gt_px)], [0])[:, 0]
        hits = np.flatnonzero((official >= t) != (swapped >= t))
        if hits.size:
            return candidates[int(hits[0])]
    return None


def k_d_straddle(c: DetCase, rng: random.Random) -> str:
    pos = straddle_position(tuple(c.gt_px[0]), c.width, c.height) if len(c.gt_px) == 1 else None
    return k_perfect(c, rng) if pos is None else tagged(listing([item(pos, "0.9")]))


def detection_cases(root: Path, task_name: str, rids: Sequence[str]) -> list[DetCase]:
    dataset, _ = DETECTION[task_name]
    gt = DetectionGT.load(root / ANN_FILE[dataset])
    out = []
    for rid in rids:
        image_id, cat_id = (int(x) for x in rid.split(":"))
        w, h = gt.size(image_id)
        out.append(DetCase(rid, w, h, gt.boxes.get((image_id, cat_id), [])))
    return out


def hostile_detection_mix(root: Path, task_name: str, rids: Sequence[str], seed: int) -> dict[str, str]:
    """Every special kind at least once (GT-bearing pairs first), D on single-GT pairs, the rest
    drawn from common and hostile kinds; pairs without GT mostly answer No Objects."""
    rng = random.Random(seed)
    cases = detection_cases(root, task_name, rids)
    with_gt = [c for c in cases if c.gt_px]
    rng.shuffle(with_gt)
    forced: dict[str, Kind] = {}
    singles = [c for c in with_gt if len(c.gt_px) == 1]
    straddling = (c for c in singles if straddle_position(tuple(c.gt_px[0]), c.width, c.height) is not None)
    for c in itertools.islice(straddling, 3):
        forced[c.rid] = k_d_straddle
    rest = [c for c in with_gt if c.rid not in forced] + [c for c in cases if not c.gt_px]
    special = [*E_KINDS, *F_KINDS, *HOSTILE]
    assert len(forced) == 3 and len(rest) >= len(special)
    for c, kind in zip(rest, special, strict=False):
        forced[c.rid] = kind
    out = {}
    for c in cases:
        if c.rid in forced:
            kind = forced[c.rid]
        elif c.gt_px:
            kind = rng.choice(COMMON + HOSTILE[:12])
        else:
            kind = rng.choice([k_perfect] * 12 + [k_jitter, k_no_objects, k_extra, k_python_true])
        out[c.rid] = kind(c, rng)
    return out


def perfect_except(root: Path, task_name: str, rids: Sequence[str], overrides: Mapping[str, str]) -> dict[str, str]:
    rng = random.Random(7)
    return {c.rid: overrides.get(c.rid) or k_perfect(c, rng) for c in detection_cases(root, task_name, rids)}


# ---- LISA --------------------------------------------------------------------------------------
ISSUE_A_EXAMPLES = ("(45, 178), (326, 432)", "( 45 , 178 ) , ( 326 , 432 )", "(45,178),\n(326,432)")


def lisa_answers(it: LisaItem, rng: random.Random) -> list[str]:
    """Every hostile LISA generation for one item (its GT in the solution's 0–1000 integers)."""
    w, h = it.width, it.height
    x1, y1, x2, y2 = (int(v / d * 1000) for v, d in zip(it.box, (w, h, w, h), strict=True))
    j = [v + rng.randint(-30, 30) for v in (x1, y1, x2, y2)]
    think = "<think>The instruction points at one object; I locate it.</think>\n"
    answers = [
        f"{think}<answer>({x1},{y1}),({x2},{y2})</answer>",  # perfect
        f"{think}<answer>({j[0]},{j[1]}),({j[2]},{j[3]})</answer>",  # jittered
        f"{think}<answer>({x1}, {y1}), ({x2}, {y2})</answer>",  # A: spaces after the commas
        f"{think}<answer>( {j[0]} , {j[1]} ) , ( {j[2]} , {j[3]} )</answer>",  # A: padded parentheses
        f"{think}<answer>({x1},{y1}),\n({x2},{y2})</answer>",  # A: split over two lines
        f"{think}<answer>(\t{x1},{y1}\t),\t({x2},{y2})</answer>",  # A: tabs
        f"<think>not the one at (600,600),(700,700)</think>\n<answer>({x1},{y1}),({x2},{y2})</answer>",  # D22
        f"<think>maybe ( 10 , 20 ),( 30 , 40 ) or the other</think>\n<answer>({x1},{y1}),({x2},{y2})</answer>",  # A+D22
        f"{think}<answer>({x2},{y2}),({x1},{y1})</answer>",  # swapped corners
        "<think>" + "the object is probably the one on the left side of the image " * 6,  # truncated at 128 tokens
        f"<answer>({j[0]},{j[1]}),({j[2]},{j[3]})</answer>",  # no think
        f"{think}<answer>[{x1}, {y1}, {x2}, {y2}]</answer>",  # list, not tuples
        f"{think}<answer>(0.{x1},0.{y1}),(0.{x2},0.{y2})</answer>",  # decimals
        f"{think}<answer>(-5,{y1}),({x2},{y2})</answer>",  # a sign
        f"{think}<answer>({x1},{y1}),({x2},{y2}),({j[0]},{j[1]})</answer>",  # three tuples
        f"{think}<answer>(０{x1},{y1}),({x2},{y2})</answer>",  # fullwidth digit: \d and int() accept it
        f"{think}<answer>(0,0),(1200,1300)</answer>",  # beyond the image
        f"{think}<answer>({x1},{y1}),({x1},{y1})</answer>",  # a point
        f"{think}<answer>{ISSUE_A_EXAMPLES[0]}</answer>",
        f"{think}<answer>{ISSUE_A_EXAMPLES[1]}</answer>",
        f"{think}\n<answer>{ISSUE_A_EXAMPLES[2]}</answer>",
    ]
    return answers


def lisa_mix(task: Any, items: Mapping[str, LisaItem]) -> dict[str, str]:
    """Each kind once (in request order), then random kinds."""
    rng = random.Random(3)
    out = {}
    for i, r in enumerate(task.requests()):
        answers = lisa_answers(items[r.request_id], rng)
        out[r.request_id] = answers[i] if i < len(answers) else rng.choice(answers)
    assert len(out) >= len(answers), "fewer LISA items than generation kinds"
    return out


# ---- classification ------------------------------------------------------------------------------
def classification_mix(samples: Sequence[tuple[str, str]]) -> dict[str, str]:
    """(request id, class name) -> generation; the issue's B examples on their classes first."""
    rng = random.Random(5)
    names = sorted({name for _, name in samples})
    think = "<think>Petals, colour and leaves suggest one species.</think>"
    special = {  # B: the answer is not stripped; only ' ' and '_' are removed
        "sweet pea": [
            f"{think}<answer>pea\t</answer>",
            f"{think}<answer>\t</answer>",
            f"{think}<answer>sweet pea\r</answer>",
        ],
        "tiger lily": [f"{think}<answer>\xa0lily</answer>", f"{think}<answer>tiger lily\u2028</answer>"],
    }

    def generic(name: str) -> str:
        other = rng.choice([n for n in names if n != name])
        words = name.split()
        return rng.choice(
            [
                f"{think}<answer>{name}</answer>",
                f"{think} <answer>{name.upper()}</answer>",
                f"{think}<answer>{name.replace(' ', '_')}</answer>",
                f"{think}<answer>{name.replace(' ', '')}</answer>",
                f"{think}<answer>{name.replace(' ', '-')}</answer>",  # hyphen stays: wrong
                f"{think}<answer>{words[-1]}</answer>",  # a substring: right (D4)
                f"{think}<answer>desert {name}</answer>",  # a superstring: right (D4)
                f"{think}<answer>{other}, {name}</answer>",  # a candidate list: right
                f"{think}<answer>{other}</answer>",
                f"{think}<answer></answer>",  # empty: right (D3)
                f"{think}<answer> _ </answer>",  # blank after deletion: right (D3)
                f"{think}<answer>\n{name}\n</answer>",  # multi-line: no single-line tag, an error (D7)
                f"{think}\n<answer>{name}</answer>\n",
                f"<think>It could be a {name}.</think>",  # no answer tag: an error
                name,  # bare name: an error
                f"{think}<answer>\n{other}\n</answer> <answer>{name}</answer>",  # the second tag is single-line
                f"{think}<answer><answer>{name}</answer>",  # nested opening tags
                f"{think}<answer>{name}",  # truncated
                f"{think}<answer>  {name}  </answer>",  # spaces are deleted anyway
                f"{think}<answer>{name}\t</answer>",  # a tab is kept: wrong unless it still contains the GT
            ]
        )

    out = {}
    for rid, name in samples:
        queue = special.get(name, [])
        out[rid] = queue.pop(0) if queue else generic(name)
    return out


# =============================================================================================
# Comparison helpers
# =============================================================================================


class Mismatches:
    """Collects every disagreement of one test, so a failure lists all of them with their numbers."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def number(self, what: str, got: Any, want: float, *, exact: bool = True) -> None:
        """`want` NaN (official: undefined) <-> `got` None or NaN. `exact=False`: the value is a mean
        that vrft sums in another order (np.mean's pairwise summation, class-list order) than the
        official code (a left-to-right sum in class-id or file order), so the last bits may differ."""
        if math.isnan(want):
            if not (got is None or (isinstance(got, float) and math.isnan(got))):
                self.items.append(f"{what}: vrft {got!r}, official NaN (undefined: expected None)")
            return
        if got is None or not isinstance(got, int | float):
            self.items.append(f"{what}: vrft {got!r}, official {want!r}")
            return
        same = got == want if exact else math.isclose(got, want, rel_tol=1e-12, abs_tol=1e-12)
        if not same:
            self.items.append(f"{what}: vrft {got!r}, official {want!r}")

    def equal(self, what: str, got: Any, want: Any) -> None:
        if got != want:
            self.items.append(f"{what}: vrft {got!r}, official {want!r}")

    def check(self) -> None:
        assert not self.items, f"{len(self.items)} difference(s) from the official code:\n" + "\n".join(self.items)


def _compare_detection_metrics(metrics: Mapping[str, Any], ref: DetectionReference, task: Any) -> Mismatches:
    bad = Mismatches()
    for name in ref.listed:
        bad.number(f"AP/{name}", metrics.get(f"AP/{name}"), ref.ap[name])
        if ref.ap50:
            bad.number(f"AP50/{name}", metrics.get(f"AP50/{name}"), ref.ap50[name])
    bad.number("mAP", metrics.get("mAP"), notebook_mean(ref.ap, ref.listed), exact=False)
    if task.name == "coco_ov":
        novel = [n for n in ref.ap if n in COCO_NOVEL15]
        base = [n for n in ref.ap if n not in COCO_NOVEL15]
        map_n, map_b = notebook_mean(ref.ap, novel), notebook_mean(ref.ap, base)
        bad.number("mAPn", metrics.get("mAPn"), map_n, exact=False)
        bad.number("mAPb", metrics.get("mAPb"), map_b, exact=False)
        # PROTOCOL §6.3: mAPall = (15·mAPn + 65·mAPb)/80, the 80-class mean
        bad.number("mAPall", metrics.get("mAPall"), (15 * map_n + 65 * map_b) / 80, exact=False)
    bad.equal("errors", metrics.get("errors"), ref.errors)
    bad.equal("n_results", metrics.get("n_results"), len(ref.results))
    undefined = [n for n in ref.listed if math.isnan(ref.ap[n])]
    text = " ".join(metrics.get("warnings", []))
    missing = [n for n in undefined if n not in text]
    if missing:
        bad.items.append(f"warnings: classes with no GT not named: {missing} (warnings: {text[:300]!r})")
    return bad


def score_detection(task: Any, generations: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, int]]:
    ts = task.score(generations, "official")
    assert not ts.missing and not ts.unknown
    return ts.metrics, {s["request_id"]: s.get("n_results") for s in ts.samples}


def detection_parity(task: Any, generations: Mapping[str, str], ref: DetectionReference) -> Mismatches:
    metrics, n_results = score_detection(task, generations)
    bad = _compare_detection_metrics(metrics, ref, task)
    per_request = [
        f"{rid}: vrft {n_results.get(rid)} result(s), official {len(res)} (error {err}): {generations[rid][:100]!r}"
        for rid, (res, err) in ref.per_request.items()
        if n_results.get(rid) != len(res)
    ]
    bad.items += [f"results per request: {line}" for line in per_request[:10]]
    if len(per_request) > 10:
        bad.items.append(f"results per request: ... and {len(per_request) - 10} more")
    return bad


def make_task(name: str, root: Path, **args: Any) -> Any:
    """`get_task`, typed loosely: the tests use task-specific attributes (`samples`) and pass the
    profile by name, as the CLI does."""
    return get_task(name, root, **args)


def rids_of(task: Any) -> list[str]:
    return [r.request_id for r in task.requests()]


# =============================================================================================
# Tests: the full hostile mixes
# =============================================================================================


@pytest.mark.parametrize("task_name", list(DETECTION))
@pytest.mark.usefixtures("lvis_numpy")
def test_detection_hostile_mix_matches_official(roots: Roots, task_name: str, tmp_path: Path) -> None:
    """All causes at once (C in coco_ov: 57 base classes without GT; D, E, F in every task)."""
    task = make_task(task_name, roots.main)
    rids = rids_of(task)
    gens = hostile_detection_mix(roots.main, task_name, rids, seed=sum(map(ord, task_name)))
    ref = reference_detection(roots.main, task_name, gens, tmp_path)
    assert ref.errors > 0 and len(ref.results) > 0
    assert any(not math.isnan(ap) and 0 < ap < 100 for ap in ref.ap.values())  # not a trivial case
    detection_parity(task, gens, ref).check()


def test_classification_mix_matches_official(roots: Roots) -> None:
    task = make_task("fgvc_flowers102", roots.main, prompt="official")
    samples = [(s.doc_id, s.class_name) for s in task.samples]
    assert {"sweet pea", "tiger lily"} <= {name for _, name in samples}
    gens = classification_mix(samples)
    verdicts = {rid: ref_classification(gens[rid], name) for rid, name in samples}
    right = sum(r for r, _ in verdicts.values())
    errors = sum(e for _, e in verdicts.values())
    ts = task.score(gens, "official")
    bad = Mismatches()
    bad.number("accuracy_official", ts.metrics["accuracy_official"], 100.0 * right / len(samples))
    bad.number("accuracy", ts.metrics["accuracy"], 100.0 * right / len(samples))
    bad.equal("official_error_count", ts.metrics["official_error_count"], errors)
    for s in ts.samples:
        rid, want = s["request_id"], verdicts[s["request_id"]][0]
        if s.get("correct_official") != want:
            got = s.get("correct_official")
            bad.items.append(f"{rid} {s['label']!r}: {gens[rid]!r}: vrft correct={got}, official correct={want}")
    bad.check()


def test_lisa_mix_matches_official(roots: Roots) -> None:
    task = make_task("lisa_grounding", roots.main, prompt="official")
    items = lisa_items(roots.main)
    gens = lisa_mix(task, items)
    reqs = {r.request_id: r for r in task.requests()}
    assert set(reqs) == set(items)
    ious = {
        rid: ref_lisa_iou(
            untrimmed_decode(r.system, r.text, gens[rid]), items[rid].box, items[rid].width, items[rid].height
        )
        for rid, r in reqs.items()
    }
    ts = task.score(gens, "official")
    bad = Mismatches()
    for split in ("val", "test"):
        # merge_eval.py: sum(list) / len(list) over the items in the json's order; vrft reports ×100
        # and averages with np.mean in file-name order: same numbers, other summation order.
        values = [ious[rid] for rid in items if rid.startswith(split + "/")]
        bad.number(f"mIoU_{split}", ts.metrics[f"mIoU_{split}"], 100.0 * (sum(values) / len(values)), exact=False)
    for s in ts.samples:
        bad.number(
            f"eval_iou {s['request_id']} {gens[s['request_id']][-60:]!r}", s.get("eval_iou"), ious[s["request_id"]]
        )
    bad.check()


# =============================================================================================
# Tests: one cause each
# =============================================================================================


def test_a_lisa_issue_examples(roots: Roots) -> None:
    """A: the issue's three strings, with the GT box in the same three layouts, and a spaced tuple in an
    instruction (prompt text is part of the untrimmed decode, so it is matched first)."""
    task = make_task("lisa_grounding", roots.main, prompt="official")
    items = lisa_items(roots.main)
    reqs = list(task.requests())
    gens = {}
    for i, r in enumerate(reqs):
        it = items[r.request_id]
        x1, y1, x2, y2 = (int(v / d * 1000) for v, d in zip(it.box, (it.width, it.height) * 2, strict=True))
        layouts = [
            *ISSUE_A_EXAMPLES,
            f"({x1}, {y1}), ({x2}, {y2})",
            f"( {x1} , {y1} ) , ( {x2} , {y2} )",
            f"({x1},{y1}),\n({x2},{y2})",
        ]
        gens[r.request_id] = f"<think>Found it.</think>\n<answer>{layouts[i % len(layouts)]}</answer>"
    by_id = {r.request_id: r for r in reqs}
    assert LISA_BOX.search(by_id[PROMPT_TUPLE_ITEM].text), "the edited instruction reaches the prompt"
    ts = task.score(gens, "official")
    bad = Mismatches()
    for s in ts.samples:
        r, it = by_id[s["request_id"]], items[s["request_id"]]
        want = ref_lisa_iou(untrimmed_decode(r.system, r.text, gens[r.request_id]), it.box, it.width, it.height)
        bad.number(f"eval_iou {r.request_id} {gens[r.request_id][30:]!r}", s.get("eval_iou"), want)
    bad.check()


def test_b_classification_issue_examples(roots: Roots) -> None:
    task = make_task("fgvc_flowers102", roots.main)
    samples = [(s.doc_id, s.class_name) for s in task.samples]
    examples = {
        "sweet pea": ["<answer>pea\t</answer>", "<answer>\t</answer>"],
        "tiger lily": ["<answer>\xa0lily</answer>"],
    }
    gens = {}
    for rid, name in samples:
        queue = examples.get(name, [])
        gens[rid] = "<think>x</think>" + (queue.pop(0) if queue else f"<answer>{name}</answer>")
    assert not any(examples.values())
    right = sum(ref_classification(gens[rid], name)[0] for rid, name in samples)
    assert right == len(samples) - 3  # all three examples are wrong in the official eval
    bad = Mismatches()
    bad.number(
        "accuracy_official", task.score(gens, "official").metrics["accuracy_official"], 100.0 * right / len(samples)
    )
    bad.check()


@pytest.mark.parametrize(
    ("task_name", "which"), [("coco_fewshot", "no_gt"), ("lvis_fewshot", "no_gt"), ("coco_ov", "main")]
)
@pytest.mark.usefixtures("lvis_numpy")
def test_c_class_without_gt_makes_the_mean_undefined(roots: Roots, task_name: str, which: str, tmp_path: Path) -> None:
    root = getattr(roots, which)
    task = make_task(task_name, root)
    rids = rids_of(task)
    rng = random.Random(11)
    gens = {c.rid: rng.choice([k_perfect, k_jitter, k_missed])(c, rng) for c in detection_cases(root, task_name, rids)}
    ref = reference_detection(root, task_name, gens, tmp_path)
    assert any(math.isnan(ref.ap[n]) for n in ref.listed)
    metrics, _ = score_detection(task, gens)
    assert metrics["mAP"] is None, f"official mean is NaN, vrft reports {metrics['mAP']!r}"
    _compare_detection_metrics(metrics, ref, task).check()


@pytest.mark.parametrize("task_name", ["coco_fewshot", "lvis_fewshot"])
@pytest.mark.usefixtures("lvis_numpy")
def test_d_trans_bbox_scales_corners_first(roots: Roots, task_name: str, tmp_path: Path) -> None:
    task = make_task(task_name, roots.main)
    rids = rids_of(task)
    cases = [c for c in detection_cases(roots.main, task_name, rids) if len(c.gt_px) == 1]
    found = {c.rid: straddle_position(tuple(c.gt_px[0]), c.width, c.height) for c in cases[::2]}
    overrides = {rid: tagged(listing([item(pos, "0.9")])) for rid, pos in found.items() if pos is not None}
    assert len(overrides) >= 3
    gens = perfect_except(roots.main, task_name, rids, overrides)
    ref = reference_detection(roots.main, task_name, gens, tmp_path)
    assert ref.errors == 0
    detection_parity(task, gens, ref).check()


@pytest.mark.usefixtures("lvis_numpy")
def test_e_unhashable_position_drops_the_whole_answer(roots: Roots, tmp_path: Path) -> None:
    task = make_task("coco_fewshot", roots.main)
    rids = rids_of(task)
    cases = [c for c in detection_cases(roots.main, "coco_fewshot", rids) if c.gt_px]
    kinds = [k_e_dict_in_position, k_e_list_in_position, k_e_int_position, k_e_null_position]
    overrides = {c.rid: kind(c, random.Random(0)) for c, kind in zip(cases, kinds, strict=False)}
    gens = perfect_except(roots.main, "coco_fewshot", rids, overrides)
    ref = reference_detection(roots.main, "coco_fewshot", gens, tmp_path)
    assert ref.errors == len(overrides) and all(not ref.per_request[r][0] for r in overrides)
    detection_parity(task, gens, ref).check()


@pytest.mark.parametrize("task_name", ["coco_fewshot", "lvis_fewshot"])
@pytest.mark.usefixtures("lvis_numpy")
def test_f_values_reach_the_evaluator_unchanged(roots: Roots, task_name: str, tmp_path: Path) -> None:
    task = make_task(task_name, roots.main)
    rids = rids_of(task)
    cases = [c for c in detection_cases(roots.main, task_name, rids) if c.gt_px]
    overrides = {c.rid: kind(c, random.Random(0)) for c, kind in zip(cases, F_KINDS, strict=False)}
    gens = perfect_except(roots.main, task_name, rids, overrides)
    ref = reference_detection(roots.main, task_name, gens, tmp_path)
    scores = [r["score"] for r in ref.results]
    assert True in scores and any(isinstance(s, float) and math.isnan(s) for s in scores)
    detection_parity(task, gens, ref).check()


@pytest.mark.parametrize("score", ["'high'", "'0.9'", "null", "[0.9]"])
@pytest.mark.parametrize("task_name", ["coco_fewshot", "lvis_fewshot"])
@pytest.mark.usefixtures("lvis_numpy")
def test_f_string_score_fails_where_the_official_evaluator_fails(
    roots: Roots, task_name: str, score: str, tmp_path: Path
) -> None:
    """README D25: a non-numeric Confidence on a pair the evaluator reads makes it raise; vrft must
    raise too, naming the request."""
    task = make_task(task_name, roots.main)
    rids = rids_of(task)
    (c, *_) = (c for c in detection_cases(roots.main, task_name, rids) if c.gt_px)
    rid = c.rid
    gens = perfect_except(roots.main, task_name, rids, {rid: tagged(listing([item(c.boxes[0], score)]))})
    with pytest.raises(TypeError):  # README D25: bad operand type for unary -: 'str'
        reference_detection(roots.main, task_name, gens, tmp_path)
    with pytest.raises(Exception, match=re.escape(rid)):
        task.score(gens, "official")


@pytest.mark.parametrize("lower_numeric_box", [False, True])
@pytest.mark.usefixtures("lvis_numpy")
def test_f_a_class_topped_by_true_fails_like_coco_accumulate(
    roots: Roots, lower_numeric_box: bool, tmp_path: Path
) -> None:
    """COCOeval.accumulate negates the class's concatenated scores: if every image's detections of
    a class are all `true` (or only its top one, for the maxDets=1 column), numpy raises TypeError."""
    task = make_task("coco_fewshot", roots.main)
    rids = rids_of(task)
    cases = detection_cases(roots.main, "coco_fewshot", rids)
    cid = DetectionGT.load(roots.main / ANN_FILE["coco"]).cat_id["dog"]
    mine = [c for c in cases if c.rid.endswith(f":{cid}")]
    tail = [item([0, 0, 50, 50], "0.3")] if lower_numeric_box else []
    overrides = {c.rid: tagged(listing([item(b, "true") for b in c.boxes] + tail)) for c in mine if c.boxes}
    overrides.update({c.rid: tagged("No Objects") for c in mine if not c.boxes})
    gens = perfect_except(roots.main, "coco_fewshot", rids, overrides)
    with pytest.raises(TypeError):
        reference_detection(roots.main, "coco_fewshot", gens, tmp_path)
    with pytest.raises(Exception) as err:
        task.score(gens, "official")
    assert any(c.rid in str(err.value) for c in mine if c.boxes), str(err.value)[:500]


@pytest.mark.usefixtures("lvis_numpy")
def test_f_lvis_string_score_it_never_reads_does_not_fail(roots: Roots, tmp_path: Path) -> None:
    """LVISEval only reads scores of detections on a class's positive or negative images with area
    > 0: a string score elsewhere passes in the official run, so it must pass here too."""
    task = make_task("lvis_fewshot", roots.main)
    rids = rids_of(task)
    gt = json.loads((roots.main / ANN_FILE["lvis"]).read_text())
    federated = {(im["id"], c) for im in gt["images"] for c in im["pos_category_ids"] + im["neg_category_ids"]}
    cases = detection_cases(roots.main, "lvis_fewshot", rids)
    outside = next(c for c in cases if tuple(int(x) for x in c.rid.split(":")) not in federated)
    positive = next(c for c in cases if c.gt_px)
    b = positive.boxes[0]
    overrides = {
        outside.rid: tagged(listing([item([100, 100, 400, 400], "'high'")])),  # image outside pos ∪ neg
        positive.rid: tagged(listing([item(b, "0.9"), item([b[2], b[1], b[0], b[3]], "'high'")])),  # area < 0
    }
    gens = perfect_except(roots.main, "lvis_fewshot", rids, overrides)
    ref = reference_detection(roots.main, "lvis_fewshot", gens, tmp_path)  # the official run passes
    assert "high" in [r["score"] for r in ref.results]
    detection_parity(task, gens, ref).check()


@pytest.mark.usefixtures("lvis_numpy")
def test_f_lvis_300_detections_per_image_cap_with_special_scores(roots: Roots, tmp_path: Path) -> None:
    """LVISResults keeps the top 300 detections per image, sorting the raw scores (NaN, `true`, 1e400
    included) in result order: vrft must hand over the same list in the same order."""
    task = make_task("lvis_fewshot", roots.main)
    rids = rids_of(task)
    cases = detection_cases(roots.main, "lvis_fewshot", rids)
    image = next(c.rid.split(":")[0] for c in cases if c.gt_px)
    rng = random.Random(13)
    specials = ["NaN", "true", "1e400", "1.5", "-Infinity"]
    overrides = {}
    for c in cases:
        if c.rid.split(":")[0] == image:
            items = [item(b, rng.choice(specials)) for b in c.boxes]
            items += [item(rand_box(rng), rng.choice([*specials, conf(rng), "0.05"])) for _ in range(70)]
            overrides[c.rid] = tagged(listing(items))
    assert len(overrides) * 70 > 300
    gens = perfect_except(roots.main, "lvis_fewshot", rids, overrides)
    ref = reference_detection(roots.main, "lvis_fewshot", gens, tmp_path)
    detection_parity(task, gens, ref).check()


def test_g_lisa_solution_truncates_like_gen_sft(roots: Roots) -> None:
    task = make_task("lisa_grounding", roots.main)
    items = lisa_items(roots.main)
    reqs = {r.request_id: r for r in task.requests()}
    # the edited items tell the two roundings apart (floor is only used to check the data does)
    for rid in G_POINTS:
        it = items[rid]
        floor = [math.floor(1000 * v / d) for v, d in zip(it.box, (it.width, it.height) * 2, strict=True)]
        assert floor != [int(v / d * 1000) for v, d in zip(it.box, (it.width, it.height) * 2, strict=True)]
    bad = Mismatches()
    for rid, it in items.items():
        bad.equal(f"solution {rid}", reqs[rid].solution, ref_lisa_solution(it))
    bad.check()
