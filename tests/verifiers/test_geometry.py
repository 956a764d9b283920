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
