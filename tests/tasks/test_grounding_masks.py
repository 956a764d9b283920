"""Mask gIoU / cIoU of lisa_grounding (issue 16) from given masks, against re-implementations of the references:

* official: ``lisa_evaluation/mask_iou.py`` (Visual-RFT) written out below, on a ReasonSeg-format folder, with
  the masks made from the answers' boxes as ``box2mask.py``'s ``scale_bbox`` scales them;
* strict: LISA's own ``get_mask_from_json`` + ``intersectionAndUnionGPU`` + ``validate`` (dvlab-research/LISA),
  written out with OpenCV as LISA does, on hand-made polygons with ``ignore`` and ``flag`` shapes.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw
from pycocotools import mask as mask_utils

from tasks.grounding.masks import (
    MaskFormatError,
    MaskScores,
    PromptBox,
    StoredMasks,
    box_mask,
    official_prompt_box,
    rle_decode,
    rle_encode,
    strict_prompt_box,
)
from tasks.registry import get_task
from tasks.spec import GroundingSample, ImageRef

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")  # pycocotools

W, H = 64, 48


# ---- the references -------------------------------------------------------------------------------------


def official_scale_bbox(bbox: list[float], width: int, height: int) -> list[int]:
    """box2mask.py's scale_bbox."""
    x1, y1, x2, y2 = bbox
    return [int(x1 * width), int(y1 * height), int(x2 * width), int(y2 * height)]


def official_mask_iou(base_path: str, test_res: dict[str, dict]) -> tuple[float, float]:
    """mask_iou.py's loop (image paths keyed as it keys them), returning (gIoU, cIoU) as fractions."""

    def polygon_to_mask(polygon, size):
        mask = Image.new("L", (size[1], size[0]), 0)
        ImageDraw.Draw(mask).polygon([tuple(point) for point in polygon], outline=1, fill=1)
        return np.array(mask, dtype=np.uint8)

    total_intersection, total_union, ious = 0, 0, []
    for pth in sorted(os.listdir(base_path)):
        if not pth.endswith(".json"):
            continue
        with open(os.path.join(base_path, pth)) as f:
            item = json.load(f)
        gt_polygon = item["shapes"][0]["points"]
        image_pth = f"{base_path}/{pth.replace('.json', '.jpg')}"
        pred_rle = test_res.get(image_pth)
        with Image.open(image_pth) as img:
            img_width, img_height = img.size
            real_size = [img_height, img_width]
        if pred_rle is not None:
            size = pred_rle["size"]
            if size != real_size:
                continue
            pred_mask = mask_utils.decode(pred_rle).astype(np.uint8)
        else:
            pred_mask = np.zeros((size[0], size[1]), dtype=np.uint8)  # the stale size (D24): the same size here
        gt_mask = polygon_to_mask(gt_polygon, real_size)
        intersection = np.logical_and(pred_mask, gt_mask).sum()
        union = np.logical_or(pred_mask, gt_mask).sum()
        total_intersection += intersection
        total_union += union
        ious.append(intersection / (union + 1e-6))
    return float(np.mean(ious)), float(total_intersection / (total_union + 1e-6))


def lisa_gt_label_mask(shapes: list[dict], height: int, width: int) -> np.ndarray:
    """LISA's get_mask_from_json: 1 target, 255 ignore, flag shapes dropped, painted largest first."""
    areas, valid = [], []
    for obj in shapes:
        if obj["label"].lower() == "flag":
            continue
        tmp = np.zeros((height, width), dtype=np.uint8)
        cv2.polylines(tmp, np.array([obj["points"]], dtype=np.int32), True, 1, 1)
        cv2.fillPoly(tmp, np.array([obj["points"]], dtype=np.int32), 1)
        areas.append(tmp.sum())
        valid.append(obj)
    mask = np.zeros((height, width), dtype=np.uint8)
    for idx in list(np.argsort(areas)[::-1].astype(np.int32)):
        obj = valid[idx]
        value = 255 if "ignore" in obj["label"].lower() else 1
        cv2.polylines(mask, np.array([obj["points"]], dtype=np.int32), True, value, 1)
        cv2.fillPoly(mask, np.array([obj["points"]], dtype=np.int32), value)
    return mask


def lisa_validate(preds: list[np.ndarray], labels: list[np.ndarray]) -> tuple[float, float]:
    """LISA's intersectionAndUnionGPU (K=2, ignore 255) and validate(): (gIoU, cIoU) of class 1."""
    inter_sum, union_sum, acc = np.zeros(2), np.zeros(2), np.zeros(2)
    for pred, label in zip(preds, labels, strict=True):
        output, target = pred.astype(np.int64).ravel().copy(), label.astype(np.int64).ravel()
        output[target == 255] = 255
        intersection = output[output == target]
        a_i = np.histogram(intersection, bins=2, range=(0, 1))[0].astype(float)
        a_o = np.histogram(output, bins=2, range=(0, 1))[0].astype(float)
        a_t = np.histogram(target, bins=2, range=(0, 1))[0].astype(float)
        union = a_o + a_t - a_i
        inter_sum, union_sum = inter_sum + a_i, union_sum + union
        acc += a_i / (union + 1e-5)
        acc[union == 0] += 1.0  # no-object target
    giou = acc[1] / len(preds)
    return float(giou), float(inter_sum[1] / (union_sum[1] + 1e-10))


# ---- official profile against mask_iou.py -------------------------------------------------------------------


def _write_item(folder: Path, name: str, shapes: list[dict], size: tuple[int, int] = (W, H)) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (90, 120, 30)).save(folder / f"{name}.jpg")
    (folder / f"{name}.json").write_text(json.dumps({"text": [f"the thing in {name}"], "shapes": shapes}))


def _rect(label: str, x1: int, y1: int, x2: int, y2: int) -> dict:
    return {"label": label, "points": [[x1, y1], [x2, y1], [x2, y2], [x1, y2]], "shape_type": "polygon"}


@pytest.fixture
def lisa_root(tmp_path: Path) -> Path:
    """Five test items of one size (mask_iou.py's stale size is then the right one) and one val item."""
    test = tmp_path / "lisa" / "ReasonSeg" / "test"
    _write_item(test, "a", [_rect("target", 5, 5, 30, 20), _rect("ignore", 10, 8, 14, 12)])
    _write_item(test, "b", [{"label": "target", "points": [[40, 3], [60, 20], [45, 40], [33, 25]]}])
    _write_item(test, "c", [_rect("target", 0, 0, 63, 47)])
    _write_item(test, "d", [_rect("ignore", 20, 20, 30, 30), _rect("target", 2, 30, 25, 46)])  # shapes[0] ignore
    _write_item(test, "e", [_rect("target", 10, 10, 20, 20)])
    _write_item(tmp_path / "lisa" / "ReasonSeg" / "val", "v", [_rect("target", 1, 1, 9, 9)])
    return tmp_path


ANSWERS = {  # 0-1000 boxes; "d" has no box; "e" past 1000 (official: unclipped); "b": a mask of the wrong size
    "test/a": "<answer>(80,100),(470,430)</answer>",
    "test/b": "<answer>(520,60),(950,850)</answer>",
    "test/c": "<think>(1,2),(3,4) first</think><answer>(0,0),(999,999)</answer>",
    "test/d": "<answer>I do not know</answer>",
    "test/e": "<answer>(150,210),(1300,400)</answer>",
    "val/v": "<answer>(10,10),(150,190)</answer>",
}


def test_official_gIoU_cIoU_equal_mask_iou_py(lisa_root: Path) -> None:
    task = get_task("lisa_grounding", lisa_root, prompt="official")
    prompts = task.mask_prompts(ANSWERS, "official")  # the box each answer prompts SAM with
    assert "test/d" not in prompts and prompts["test/e"].outside and not prompts["test/e"].clipped
    # box2mask.py: the eval's first (int,int),(int,int) of the decode (the think block's here), scale_bbox
    assert prompts["test/c"].box == tuple(float(v) for v in official_scale_bbox([0.001, 0.002, 0.003, 0.004], W, H))
    assert prompts["test/a"].box == tuple(float(v) for v in official_scale_bbox([0.08, 0.1, 0.47, 0.43], W, H))
    rles = {rid: rle_encode(box_mask(p.box, H, W)) for rid, p in prompts.items()}
    rles["test/b"] = rle_encode(np.ones((H + 1, W), bool))  # a mask of another size: mask_iou.py skips the item
    stored = StoredMasks({(rid, prompts[rid].box): r for rid, r in rles.items()}, {}, {"model": "given"})
    task.use_masks(stored)
    metrics = task.score(ANSWERS, "official").metrics
    test_dir = str(lisa_root / "lisa" / "ReasonSeg" / "test")
    by_path = {f"{test_dir}/{rid.split('/')[1]}.jpg": r for rid, r in rles.items() if rid.startswith("test/")}
    giou, ciou = official_mask_iou(test_dir, by_path)
    assert metrics["gIoU_test"] == pytest.approx(100 * giou, abs=1e-12)
    assert metrics["cIoU_test"] == pytest.approx(100 * ciou, abs=1e-12)
    assert metrics["masks"] | {"sam": None} == {
        "source": "sam", "no_box": 1, "boxes_clipped": 0, "boxes_outside": 1, "mask_errors": 0,
        "size_mismatch_skipped": 1, "missing": 0,
        "sam": None,
    }  # fmt: skip
    # the box fallback is the same metric on the rasterised boxes (here: the masks given), b included
    rles["test/b"] = rle_encode(box_mask(prompts["test/b"].box, H, W))
    by_path[f"{test_dir}/b.jpg"] = rles["test/b"]
    box_giou, box_ciou = official_mask_iou(test_dir, by_path)
    assert metrics["gIoU_box_test"] == pytest.approx(100 * box_giou, abs=1e-12)
    assert metrics["cIoU_box_test"] == pytest.approx(100 * box_ciou, abs=1e-12)


def test_without_masks_only_the_box_fallback_and_with_some_missing_no_gIoU(lisa_root: Path) -> None:
    task = get_task("lisa_grounding", lisa_root)
    metrics = task.score(ANSWERS, "strict").metrics
    assert metrics["gIoU_test"] is None and metrics["cIoU_val"] is None  # never the box numbers
    assert metrics["gIoU_box_test"] is not None and metrics["masks"]["source"].startswith("none")
    prompts = task.mask_prompts(ANSWERS, "strict")
    some = {(rid, p.box): rle_encode(box_mask(p.box, H, W)) for rid, p in prompts.items() if rid != "test/a"}
    task.use_masks(StoredMasks(some, {}, {"model": "given"}))
    metrics = task.score(ANSWERS, "strict").metrics
    assert metrics["gIoU_test"] is None and metrics["masks"]["missing"] == 1  # test/a has no mask yet
    assert metrics["gIoU_val"] == pytest.approx(metrics["gIoU_box_val"])  # val is complete
    # a mask that could not be made (unreadable image) is an empty mask, counted
    prompts_a = prompts["test/a"].box
    task.use_masks(StoredMasks(some, {("test/a", prompts_a): "cannot read image"}, {"model": "given"}))
    metrics = task.score(ANSWERS, "strict").metrics
    assert metrics["masks"]["mask_errors"] == 1 and metrics["gIoU_test"] is not None


# ---- strict profile against LISA's own protocol ----------------------------------------------------------------


SHAPES = [  # integer rectangles: OpenCV (LISA) and PIL (vrft) rasterise them identically
    [_rect("target", 5, 5, 40, 30), _rect("ignore", 10, 10, 20, 20), _rect("target", 12, 12, 15, 15)],
    [_rect("target", 0, 0, 20, 20), _rect("flag", 30, 30, 50, 40), _rect("target", 40, 2, 60, 12)],
    [_rect("ignore", 0, 0, 63, 47), _rect("target", 30, 20, 50, 40)],
    [_rect("ignore", 2, 2, 10, 10)],  # nothing to find: empty union counts 1 (LISA's no-object rule)
    [_rect("target", 0, 0, 10, 10), _rect("ignore", 5, 5, 15, 15)],  # equal areas: the earlier is painted last
]
PRED_BOXES = [
    (0.0, 0.0, 25.0, 25.0),
    (1.0, 1.0, 61.0, 13.0),
    (28.0, 18.0, 63.0, 47.0),
    (30.0, 30.0, 40.0, 40.0),
    (4.0, 4.0, 16.0, 16.0),
]


def test_strict_gIoU_cIoU_equal_lisa_on_polygons_with_ignore_and_flag() -> None:
    samples = [
        GroundingSample(f"s{i}", ImageRef(Path(f"s{i}.jpg"), W, H), "x", np.zeros(4),
                        tuple((s["label"], tuple(map(tuple, s["points"]))) for s in shapes))
        for i, shapes in enumerate(SHAPES)
    ]  # fmt: skip
    preds = [box_mask(b, H, W) for b in PRED_BOXES]
    preds[3] = np.zeros((H, W), bool)  # an empty prediction on an all-ignore image
    stored = StoredMasks(
        {(f"test/s{i}", b): rle_encode(p) for i, (b, p) in enumerate(zip(PRED_BOXES, preds, strict=True))}
    )
    scores = MaskScores(("test",), official=False, masks=stored)
    item_ious = [
        scores.add("test", f"test/s{i}", s, PromptBox(b))
        for i, (s, b) in enumerate(zip(samples, PRED_BOXES, strict=True))
    ]
    metrics = scores.metrics()
    labels = [lisa_gt_label_mask(shapes, H, W) for shapes in SHAPES]
    giou, ciou = lisa_validate(preds, labels)
    # LISA adds 1e-5 to each union and 1e-10 to the total; strict divides exactly (relative gap < 1e-5 / union)
    assert metrics["gIoU_test"] == pytest.approx(100 * giou, rel=1e-6)
    assert metrics["cIoU_test"] == pytest.approx(100 * ciou, rel=1e-9)
    assert item_ious[3] == 1.0 and 0 < metrics["gIoU_test"] < 100
    # the box fallback (the same boxes) equals the same reference on the box rasters
    box_labels = [box_mask(b, H, W) for b in PRED_BOXES]
    assert metrics["gIoU_box_test"] == pytest.approx(100 * lisa_validate(box_labels, labels)[0], rel=1e-6)


# ---- boxes and RLE ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("box", "expected", "clipped", "outside"),
    [
        ((0.1234, 0.5, 0.9999, 0.75), (7.0, 24.0, 63.0, 36.0), False, False),  # truncated toward zero, as int()
        ((0.0, 0.0, 1.5, 2.0), (0.0, 0.0, 96.0, 96.0), False, True),  # past the image: unclipped, as box2mask.py
        ((0.9, 0.8, 0.1, 0.2), (57.0, 38.0, 6.0, 9.0), False, False),  # corners as read (box2mask.py does not sort)
        ((0.0, 0.0, 1e10, 0.5), (0.0, 0.0, 64.0, 24.0), True, False),  # past int32: clipped (box2mask.py crashes)
    ],
)
def test_official_prompt_box_is_scale_bbox(box, expected, clipped, outside) -> None:
    got = official_prompt_box(box, W, H)
    assert got == PromptBox(expected, clipped, outside)
    if not clipped:
        assert got.box == tuple(float(v) for v in official_scale_bbox(list(box), W, H))


def test_strict_prompt_box_is_pixels_of_the_reading() -> None:
    assert strict_prompt_box((125.0, 500.0, 1000.0, 250.0), W, H) == PromptBox((8.0, 24.0, 64.0, 12.0), False)


def test_rle_round_trip_is_pycocotools_and_bad_rles_are_named() -> None:
    rng = np.random.default_rng(0)
    mask = rng.random((H, W)) > 0.6
    rle = rle_encode(mask)
    assert json.loads(json.dumps(rle)) == rle and rle["size"] == [H, W]
    np.testing.assert_array_equal(rle_decode(rle), mask)
    ref = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))  # box2mask.py's mask_to_rle
    assert rle["counts"] == ref["counts"].decode("utf-8")
    for bad in ([1, 2], {"size": [H], "counts": "x"}, {"size": [H, W], "counts": 3}, {"size": [0, W], "counts": ""}):
        with pytest.raises(MaskFormatError, match="RLE"):
            rle_decode(bad)
