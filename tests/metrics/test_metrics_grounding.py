"""Grounding metrics: box IoU/mIoU (official epsilon), polygon rasterisation, gIoU/cIoU variants."""

from __future__ import annotations

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from tasks.metrics import box_iou, box_iou_official, box_miou, giou_ciou, lisa_gt_masks, polygons_to_mask

GT_640x480 = (64 / 640, 96 / 480, 192 / 640, 192 / 480)  # PROTOCOL D22: GT (64,96,192,192) on 640×480


@pytest.mark.parametrize(
    ("pred", "gt", "official", "strict"),
    [
        ((0.1, 0.2, 0.3, 0.4), GT_640x480, 0.04 / (0.04 + 1e-6), 1.0),  # perfect, area 0.04
        ((0.6, 0.6, 0.7, 0.7), GT_640x480, 0.0, 0.0),  # D22 think-tuple box
        ((0.3, 0.4, 0.1, 0.2), GT_640x480, 0.0, 0.0),  # swapped corners (D15)
        ((0.0, 0.0, 0.5, 0.5), (0.25, 0.25, 0.75, 0.75), 0.0625 / (0.4375 + 1e-6), 0.0625 / 0.4375),
        ((0.2, 0.2, 0.2, 0.2), (0.2, 0.2, 0.2, 0.2), 0.0, 0.0),  # zero area
    ],
)
def test_box_iou_table(pred, gt, official, strict):
    assert box_iou_official(pred, gt) == pytest.approx(official, abs=1e-12)
    assert box_iou(pred, gt) == pytest.approx(strict, abs=1e-12)


def test_official_perfect_box_value():
    assert round(box_iou_official((0.1, 0.2, 0.3, 0.4), GT_640x480), 6) == 0.999975


def test_box_miou_missing_prediction_is_zero():
    gts = [(0.0, 0.0, 0.5, 0.5), (0.5, 0.5, 1.0, 1.0), (0.0, 0.0, 1.0, 1.0)]
    preds = [(0.0, 0.0, 0.5, 0.5), None, (0.0, 0.0, 1.0, 0.5)]
    assert box_miou(preds, gts) == pytest.approx((1.0 + 0.0 + 0.5) / 3)
    expected_official = (0.25 / 0.250001 + 0.5 / 1.000001) / 3
    assert box_miou(preds, gts, official=True) == pytest.approx(expected_official, abs=1e-12)
    with pytest.raises(ValueError):
        box_miou([None], gts)
    with pytest.raises(ValueError):
        box_miou([], [])


def test_polygon_pixel_convention():
    m = polygons_to_mask([[(0, 0), (2, 0), (2, 2), (0, 2)]], height=4, width=5)
    assert m.dtype == bool and m.shape == (4, 5)
    expected = np.zeros((4, 5), bool)
    expected[0:3, 0:3] = True  # corners inclusive: 3×3 pixels, x = column, y = row
    np.testing.assert_array_equal(m, expected)
    two = polygons_to_mask([[(0, 0), (1, 0), (1, 1), (0, 1)], [(3, 2), (4, 2), (4, 3), (3, 3)]], 4, 5)
    assert two.sum() == 8 and two[3, 4] and not two[1, 3]


@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")  # pycocotools on numpy 2
def test_polygon_close_to_pycocotools_on_a_large_shape():
    poly = [(10.0, 20.0), (80.0, 15.0), (95.0, 70.0), (30.0, 90.0)]
    ours = polygons_to_mask([poly], 100, 120)
    rle = mask_utils.frPyObjects([[c for p in poly for c in p]], 100, 120)
    coco = mask_utils.decode(mask_utils.merge(rle)).astype(bool)
    inter, union = (ours & coco).sum(), (ours | coco).sum()
    assert inter / union > 0.95  # the two conventions differ only along the boundary
    assert ours.sum() >= coco.sum()  # PIL's outline is included


def test_polygon_validation():
    with pytest.raises(ValueError, match="polygon 0"):
        polygons_to_mask([[(0, 0), (float("nan"), 1), (1, 1)]], 3, 3)


def _masks():
    gt = np.zeros((10, 10), bool)
    gt[0:4, 0:5] = True  # 20 px
    pred = np.zeros((10, 10), bool)
    pred[0:4, 0:4] = True  # 16 px inside GT
    gt2 = np.zeros((6, 6), bool)
    gt2[0:2, 0:2] = True  # 4 px
    pred2 = np.zeros((6, 6), bool)
    pred2[0:2, 0:4] = True  # 8 px, 4 inside
    return [pred, pred2], [gt, gt2]


def test_giou_ciou_known_values():
    preds, gts = _masks()
    g, c = giou_ciou(preds, gts)
    assert g == pytest.approx((16 / 20 + 4 / 8) / 2)
    assert c == pytest.approx((16 + 4) / (20 + 8))
    go, co = giou_ciou(preds, gts, official=True)
    assert go == pytest.approx((16 / (20 + 1e-6) + 4 / (8 + 1e-6)) / 2)
    assert co == pytest.approx(20 / (28 + 1e-6))


def test_missing_prediction_and_empty_union():
    _, gts = _masks()
    empty = np.zeros((3, 3), bool)
    g, c = giou_ciou([None, None, empty], [*gts, empty])
    assert g == pytest.approx(1 / 3)  # two misses (0) and an empty/empty pair (1, LISA's rule)
    assert c == 0.0
    go, _ = giou_ciou([None, None, empty], [*gts, empty], official=True)
    assert go == 0.0


def test_size_mismatch_error_strict_skip_official():
    preds, gts = _masks()
    preds = [preds[0], np.zeros((7, 7), bool)]
    with pytest.raises(ValueError, match="item 1"):
        giou_ciou(preds, gts)
    g, c = giou_ciou(preds, gts, official=True)  # D24: item dropped from the mean
    assert g == pytest.approx(16 / (20 + 1e-6)) and c == pytest.approx(16 / (20 + 1e-6))


def test_ignore_pixels_left_out_of_both_terms():
    preds, gts = _masks()
    ignore = np.zeros((10, 10), bool)
    ignore[0:4, 4] = True  # the 4 GT pixels the prediction missed
    g, c = giou_ciou(preds[:1], gts[:1], [ignore])
    assert g == 1.0 and c == 1.0
    with pytest.raises(ValueError, match="no ignore"):
        giou_ciou(preds[:1], gts[:1], [ignore], official=True)


def test_lisa_gt_masks_official_vs_strict():
    big = {"label": "target", "points": [(0, 0), (9, 0), (9, 9), (0, 9)]}  # 100 px
    hole = {"label": "ignore", "points": [(2, 2), (5, 2), (5, 5), (2, 5)]}  # 16 px inside
    dot = {"label": "target", "points": [(3, 3), (4, 3), (4, 4), (3, 4)]}  # 4 px inside the hole
    flag = {"label": "flag", "points": [(15, 15), (19, 15), (19, 19), (15, 19)]}
    second = {"label": "target", "points": [(12, 0), (19, 0), (19, 5), (12, 5)]}
    shapes = [big, hole, dot, flag, second]
    gt_o, ign_o = lisa_gt_masks(shapes, 20, 20, official=True)
    assert ign_o is None and gt_o.sum() == 100  # D23: shapes[0] only
    gt_s, ign_s = lisa_gt_masks(shapes, 20, 20)
    assert ign_s is not None
    assert ign_s.sum() == 16 - 4  # the smaller target painted over the ignore hole
    assert gt_s.sum() == 100 - 16 + 4 + 48
    assert not gt_s[17, 17]  # flag shape dropped
    assert not (gt_s & ign_s).any()
