"""Accuracy container: percentages over all items, parse failures counted by reason."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from tasks.metrics import ClassificationMetrics, accuracy


@pytest.mark.parametrize(
    ("correct", "expected"),
    [([True], 100.0), ([False], 0.0), ([True, False, True, False], 50.0), ([True, True, False], 200 / 3)],
)
def test_accuracy(correct, expected):
    assert accuracy(correct) == pytest.approx(expected)


def test_accuracy_empty_is_an_error():
    with pytest.raises(ValueError, match="zero items"):
        accuracy([])


def test_classification_metrics():
    m = ClassificationMetrics.from_outcomes(
        strict=[True, False, False, False],
        official=[True, True, False, False],
        failure_reasons=[None, None, "no_answer", "no_answer"],
    )
    assert (m.strict_accuracy, m.official_accuracy, m.n) == (25.0, 50.0, 4)
    assert m.parse_failures == Counter({"no_answer": 2}) and m.n_parse_failures == 2
    d = m.as_dict()
    assert json.loads(json.dumps(d)) == d
    assert d["parse_failures"] == {"no_answer": 2}


def test_classification_metrics_rejects_inconsistent_input():
    with pytest.raises(ValueError, match="official"):
        ClassificationMetrics.from_outcomes([True], [True, False])
    with pytest.raises(ValueError, match="parse failures"):
        ClassificationMetrics.from_outcomes([False], [False], ["a", "b"])
