"""Box conventions and IoU/GIoU against values computed by hand."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tasks import geometry as g


def test_norm1000_round_trip_and_coco_conversion() -> None:
    px = g.norm1000_to_xyxy([[64, 0, 950, 411]], 640, 480)
    np.testing.assert_allclose(px, [[40.96, 0.0, 608.0, 197.28]])
    np.testing.assert_allclose(g.xyxy_to_norm1000(px, 640, 480), [[64, 0, 950, 411]])
    np.testing.assert_allclose(g.xyxy_to_coco_xywh([[10, 20, 40, 60]]), [[10, 20, 30, 40]])
    np.testing.assert_allclose(g.coco_xywh_to_xyxy([[10, 20, 30, 40]]), [[10, 20, 40, 60]])
    assert g.as_boxes([]).shape == (0, 4)
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        g.as_boxes([[1, 2, 3]])
    with pytest.raises(ValueError, match="positive"):
        g.xyxy_to_norm1000([[1, 2, 3, 4]], 0, 10)


def test_iou_matrix_values_and_degenerate_boxes() -> None:
    a = [[0, 0, 10, 10], [5, 5, 15, 15], [3, 3, 3, 9]]
    b = [[0, 0, 10, 10], [20, 20, 30, 30]]
    m = g.iou_matrix(a, b)
    assert m.shape == (3, 2)
    np.testing.assert_allclose(m[:, 0], [1.0, 25 / 175, 0.0])
    np.testing.assert_allclose(m[:, 1], [0.0, 0.0, 0.0])
    assert not np.isnan(g.iou_matrix([[5, 5, 5, 5]], [[5, 5, 5, 5]])).any()
    assert g.iou_matrix([], b).shape == (0, 2)


def test_giou_known_values() -> None:
    # disjoint boxes: IoU 0, hull 30x10=300, union 200 -> GIoU = -(100/300)
    np.testing.assert_allclose(g.giou([[0, 0, 10, 10]], [[20, 0, 30, 10]]), [-1 / 3])
    np.testing.assert_allclose(g.giou([[0, 0, 10, 10]], [[0, 0, 10, 10]]), [1.0])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(-100, 1100, allow_nan=False), min_size=8, max_size=8))
def test_scalar_iou_equals_the_matrix(v: list[float]) -> None:
    a, b = g.sort_corners(v[:4])[0], g.sort_corners(v[4:])[0]
    assert g.iou_xyxy(a, b) == pytest.approx(g.iou_matrix(a, b)[0, 0], abs=1e-12)
    assert 0.0 <= g.iou_xyxy(a, b) <= 1.0


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(*[st.floats(-50, 1050, allow_nan=False)] * 4, st.floats(0, 1)), max_size=6),
    st.lists(st.tuples(*[st.floats(-50, 1050, allow_nan=False)] * 4), max_size=6),
    st.sampled_from([0.5, 0.75, 1e-9]),
)
def test_match_greedy_inlines_iou_xyxy(preds: list, gts: list, threshold: float) -> None:
    """COCO's greedy rule restated with `iou_xyxy`: every prediction (descending score, stable) takes the
    free GT of highest IoU (first on ties) if that IoU reaches the threshold."""
    gts = [tuple(g.sort_corners(b)[0]) if i % 2 else b for i, b in enumerate(gts)]  # some inverted GT boxes too
    free = list(range(len(gts)))
    expected = []
    for p in sorted(preds, key=lambda p: p[4], reverse=True):
        best, best_iou = -1, 0.0
        if p[2] > p[0] and p[3] > p[1]:
            for k in free:
                iou = g.iou_xyxy(p[:4], gts[k]) if gts[k][2] > gts[k][0] and gts[k][3] > gts[k][1] else 0.0
                if iou > best_iou:
                    best, best_iou = k, iou
        if best >= 0 and best_iou >= threshold:
            free.remove(best)
            expected.append((p, best_iou))
        else:
            expected.append((p, 0.0))
    got = g.match_greedy(preds, gts, threshold)
    assert [p for p, _ in got] == [p for p, _ in expected]
    for (_, a), (_, b) in zip(got, expected, strict=True):
        assert a == pytest.approx(b, abs=1e-12)


def test_one_box_converters_keep_their_recorded_order_of_operations() -> None:
    # corners scaled first, subtracted after (the official trans_bbox), in both profiles
    assert g.norm1000_box_to_coco_xywh([101, 75, 747, 920], 640, 427) == [
        101 / 1000 * 640,
        75 / 1000 * 427,
        747 / 1000 * 640 - 101 / 1000 * 640,
        920 / 1000 * 427 - 75 / 1000 * 427,
    ]
    assert g.official_trans_bbox([101, 75, 747, 920], 640, 427) == g.norm1000_box_to_coco_xywh(
        [101, 75, 747, 920], 640, 427
    )
    with pytest.raises(ValueError):
        g.official_trans_bbox([1, 2, 3], 640, 427)
    # the strict grounding target: v * 1000 / size (the array converter computes v * (1000 / size))
    assert g.xyxy_box_to_norm1000((22.4, 1.0, 100.0, 3.3), 224, 7) == (
        22.4 * 1000 / 224,
        1000 / 7,
        100000 / 224,
        3300 / 7,
    )
    assert g.sort_box(5, 9, 1, 2) == (1, 2, 5, 9)
    assert [g.clip_norm1000(v) for v in (-3.0, 0.0, 512.5, 1000.0, 1e9)] == [0.0, 0.0, 512.5, 1000.0, 1000.0]


def test_official_arithmetic_is_the_official_one() -> None:
    # detection reward: unclipped (signed) areas, a zero union raises as the official code does
    assert g.official_detection_iou([0, 0, 10, 10], [5, 0, 15, 10]) == 50 / 150
    with pytest.raises(ZeroDivisionError):  # overlapping boxes whose areas underflow to 0
        g.official_detection_iou([0, 0, 1e-200, 1e-200], [0, 0, 1e-200, 1e-200])
    # LISA eval: I/(U + 1e-6)
    assert g.official_lisa_iou((0.1, 0.2, 0.3, 0.4), (0.1, 0.2, 0.3, 0.4)) == pytest.approx(0.04 / 0.040001, abs=1e-15)
    assert g.official_lisa_iou((0.3, 0.4, 0.1, 0.2), (0.1, 0.2, 0.3, 0.4)) == 0.0
    # LISA reward: GIoU on points with signed areas (leaves [-1, 1] for an inverted box, D15)
    assert g.official_giou([(0, 0), (10, 10)], [(0, 0), (10, 10)]) == 1.0
    tiny = [(0.0, 0.0), (0.001, 0.001)]
    assert g.official_giou([(1.0, 1.0), (0.0, 0.0)], tiny) > 1
    assert g.official_giou([(0.0, 1.0), (1.0, 0.0)], tiny) < -1
    big = 44660671751389644418  # past 2**53: int / int rounds once, float(int) / 1000.0 twice
    assert big / g.OFFICIAL_NORM == big / 1000 != float(big) / g.NORM
