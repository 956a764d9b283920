"""Every shared golden vector, official profile: value for value (PROTOCOL §5, golden/README.md)."""

from __future__ import annotations

import math

import pytest

from tasks import mathverify
from tasks.answer import official_format
from tasks.classification.metric import official_eval_match
from tasks.detection.metric import official_eval_results
from tasks.verifiers import get_verifier

DET_KEYS = {
    "accuracy_reward_iou": "accuracy_iou",
    "accuracy_reward_confidence": "accuracy_confidence",
    "format_reward": "format",
}


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def test_math_verify_is_installed_for_the_official_path() -> None:
    # The golden `output` values assume the package, as the official scripts import it.
    assert mathverify.available(), "math-verify (dev dependency) must be installed to test the official path"


@pytest.mark.parametrize("math_verify", [None, False], ids=["with-math-verify", "never-matches"])
def test_detection_vectors(golden_vectors: list[dict], math_verify: bool | None) -> None:
    verifier = get_verifier("detection", "official", math_verify=math_verify)
    vectors = [v for v in golden_vectors if v["id"].startswith("det_")]
    assert len(vectors) == 12
    for v in vectors:
        expected = v["output"] if math_verify is None else v["output_if_math_verify_never_matches"]
        got = verifier.score(v["completion"], v["solution"]).components
        for golden_key, ours in DET_KEYS.items():
            assert close(got[ours], expected[golden_key]), (v["id"], golden_key, got[ours], expected[golden_key])


def test_format_vectors(golden_vectors: list[dict]) -> None:
    vectors = [v for v in golden_vectors if v["id"].startswith("fmt_")]
    assert vectors
    for v in vectors:
        assert official_format(v["completion"]) == v["output"], v["id"]
        for kind in ("detection", "classification", "grounding"):
            # the same format reward sits in the three official scripts
            score = get_verifier(kind, "official", math_verify=False).score(v["completion"], "<answer>x</answer>")
            assert score.components["format"] == v["output"], (kind, v["id"])


def test_classification_vectors(golden_vectors: list[dict]) -> None:
    vectors = [v for v in golden_vectors if v["id"].startswith("cls_")]
    assert len(vectors) == 4
    verifier = get_verifier("classification", "official")
    for v in vectors:
        gt_name = v["fn"].split("GT name = '")[1].rsplit("'", 1)[0]
        train = verifier.score(v["completion"], v["solution"]).components["accuracy"]
        match = official_eval_match(v["completion"], gt_name)
        assert train == v["output"]["train_accuracy_reward"], v["id"]
        assert match.correct == v["output"]["eval_counted_correct"], v["id"]
        assert int(match.error) == v["output"]["eval_error_count"], v["id"]


def test_lisa_vectors(golden_vectors: list[dict]) -> None:
    vectors = [v for v in golden_vectors if v["id"].startswith("lisa_")]
    assert len(vectors) == 3
    verifier = get_verifier("grounding", "official")
    for v in vectors:
        assert close(verifier.score(v["completion"], v["solution"]).components["accuracy"], v["output"]), v["id"]


def test_coco_eval_vectors(golden_vectors: list[dict]) -> None:
    vectors = [v for v in golden_vectors if v["id"].startswith("coco_eval_")]
    assert vectors
    for v in vectors:
        conv = official_eval_results(v["completion"], image_id=1, category_id=17, width=640, height=480)
        assert conv.results == v["output"]["pred_results"], v["id"]
        assert conv.error_count == v["output"]["error_count"], v["id"]


def test_every_vector_is_covered(golden_vectors: list[dict]) -> None:
    prefixes = ("det_", "fmt_", "cls_", "lisa_", "coco_eval_")
    assert all(v["id"].startswith(prefixes) for v in golden_vectors)
    assert len(golden_vectors) == 22
