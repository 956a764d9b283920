"""One test per strict-profile fix: official vs strict on a minimal example (PROTOCOL §8 D-numbers)."""

from __future__ import annotations

import math

import pytest

from tasks.detection.metric import official_eval_results, strict_eval_results
from tasks.verifiers import get_verifier

GT = "<answer>[{'Position': [300, 310, 400, 410], 'Confidence': 1}]</answer>"
NEG = "<answer>No Objects</answer>"


def det(profile: str, completion: str, solution: str = GT, **opts: object) -> dict[str, float]:
    return dict(get_verifier("detection", profile, **opts).score(completion, solution).components)


def cls(profile: str, completion: str, name: str) -> float:
    return get_verifier("classification", profile).score(completion, f"<answer>{name}</answer>").components["accuracy"]


def lisa(profile: str, completion: str, solution: str = "<answer> (100,200),(300,400) </answer>") -> float:
    return get_verifier("grounding", profile).score(completion, solution).components["accuracy"]


def test_D1_math_verify_short_circuit_is_gone(golden_vectors: list[dict]) -> None:
    v = next(v for v in golden_vectors if v["id"] == "det_math_verify_y1_collision")
    assert det("official", v["completion"], v["solution"])["accuracy_iou"] == 1.0
    strict = det("strict", v["completion"], v["solution"])
    assert strict["accuracy_iou"] == 0.0 and strict["accuracy_confidence"] == pytest.approx(0.01)


def test_D2_math_verify_classification_number_collision() -> None:
    c = "<think>r</think><answer>Falcon 2000</answer>"
    assert cls("official", c, "Saab 2000") == 1.0
    assert cls("strict", c, "Saab 2000") == 0.0


def test_D3_empty_answer_is_wrong() -> None:
    c = "<think>r</think><answer></answer>"
    assert cls("official", c, "english marigold") == 1.0
    assert cls("strict", c, "english marigold") == 0.0
    assert cls("strict", "<think>r</think><answer> _ </answer>", "sunflower") == 0.0


@pytest.mark.parametrize(
    ("answer", "gt"),
    [
        ("rose", "lenten rose"),
        ("A340", "A340-300"),
        ("desert-rose", "rose"),
        ("daisy, rose, lily", "rose"),
        ("0", "2012 BMW M3 Coupe"),
        ("Audi", "2012 Audi S5 Convertible"),
    ],
)
def test_D4_substring_matches_are_wrong(answer: str, gt: str) -> None:
    c = f"<think>r</think><answer>{answer}</answer>"
    assert cls("official", c, gt) == 1.0
    assert cls("strict", c, gt) == 0.0


def test_D4_exact_names_and_aliases_are_right() -> None:
    assert cls("strict", "<think>r</think><answer>2012 BMW M3 Coupe</answer>", "2012 BMW M3 Coupe") == 1.0
    verifier = get_verifier("classification", "strict")
    from tasks.classification.rewards import ClassificationTarget

    target = ClassificationTarget("die", aliases=("dice",))
    assert verifier.score("<think>r</think><answer>Dice</answer>", target).components["accuracy"] == 1.0


def test_D5_normalisation_of_separators() -> None:
    c = "<think>r</think><answer>737 400</answer>"
    assert cls("official", c, "737-400") == 0.0
    assert cls("strict", c, "737-400") == 1.0
    assert cls("strict", "<think>r</think><answer>American Bulldog.</answer>", "american_bulldog") == 1.0


def test_D6_no_tag_is_not_rewarded_from_the_think_text() -> None:
    c = "<think>could be a rose or a tulip</think>"
    assert cls("official", c, "rose") == 1.0
    score = get_verifier("classification", "strict").score(c, "<answer>rose</answer>")
    assert score.components["accuracy"] == 0.0 and score.parse == "no_answer"


def test_D7_multiline_answers_are_read() -> None:
    c = "<think>r</think><answer>\nsunflower\n</answer>"
    assert cls("strict", c, "sunflower") == 1.0
    d = "<think>r</think><answer>\n[{'Position': [300, 311, 400, 410], 'Confidence': 0.9}]\n</answer>"
    assert det("official", d, math_verify=False)["accuracy_iou"] == 0.0
    assert det("strict", d)["accuracy_iou"] == pytest.approx(0.99)


def test_D8_truncated_answer_keeps_complete_items(golden_vectors: list[dict]) -> None:
    v = next(v for v in golden_vectors if v["id"] == "det_truncated_with_think")
    assert det("official", v["completion"], v["solution"])["accuracy_iou"] == 0.0
    strict = det("strict", v["completion"], v["solution"])
    # one complete box (IoU 0.99) kept; the cut-off second item is dropped and counted
    assert strict["accuracy_iou"] == pytest.approx(0.99) and strict["accuracy_confidence"] == pytest.approx(0.9)


@pytest.mark.parametrize(
    "answer",
    [
        "[{'Position': [300, 311, 400, 410], 'Confidence': 0.9}, {'Position': [500, 510, 600, 610]}]",
        "[{'Position': [300, 311, 400, 410], 'Confidence': 0.9}, 'done']",
        "[{'Position': [300, 311, 400, 410], 'Confidence': 0.9}] done",
    ],
    ids=["missing-key", "stray-element", "trailing-text"],
)
def test_D9_one_bad_item_does_not_zero_the_answer(answer: str) -> None:
    c = f"<think>r</think><answer>{answer}</answer>"
    assert det("official", c, math_verify=False)["accuracy_iou"] == 0.0
    score = get_verifier("detection", "strict").score(c, GT)
    assert score.components["accuracy_iou"] == pytest.approx(0.99)
    if "done" not in answer[-6:]:
        assert score.details["n_malformed"] == 1


def test_D9_non_numeric_confidence_drops_only_that_item(golden_vectors: list[dict]) -> None:
    v = next(v for v in golden_vectors if v["id"] == "det_conf_string")
    assert det("official", v["completion"], v["solution"])["accuracy_iou"] == 0.0
    score = get_verifier("detection", "strict").score(v["completion"], v["solution"])
    assert score.parse == "all_malformed" and score.details["n_malformed"] == 1


def test_D10_iou_of_exactly_half_matches(golden_vectors: list[dict]) -> None:
    v = next(v for v in golden_vectors if v["id"] == "det_iou_exact_half_no_collision")
    assert det("official", v["completion"], v["solution"])["accuracy_iou"] == 0.0
    strict = det("strict", v["completion"], v["solution"])
    assert strict["accuracy_iou"] == pytest.approx(0.5) and strict["accuracy_confidence"] == pytest.approx(0.9)


def test_D12_exact_duplicates_are_penalised() -> None:
    box = "{'Position': [300, 311, 400, 410], 'Confidence': 0.8}"
    c = f"<think>r</think><answer>[{box}, {box}, {box}]</answer>"
    official = det("official", c, math_verify=False)
    assert official["accuracy_iou"] == pytest.approx(0.99) and official["accuracy_confidence"] == pytest.approx(0.8)
    strict = det("strict", c)
    assert strict["accuracy_iou"] == pytest.approx(0.99 / 3)
    assert strict["accuracy_confidence"] == pytest.approx((0.8 + 0.2 + 0.2) / 3)


def test_D13_negatives_reward_a_correct_refusal() -> None:
    refusal = "<think>r</think><answer>No Objects</answer>"
    hallucination = "<think>r</think><answer>[{'Position': [10, 25, 30, 40], 'Confidence': 0.7}]</answer>"
    assert det("official", refusal, NEG)["accuracy_iou"] == 0.0
    assert det("official", hallucination, NEG)["accuracy_iou"] == 0.0
    assert det("strict", refusal, NEG) == {"accuracy_iou": 1.0, "accuracy_confidence": 1.0, "format": 1.0}
    assert det("strict", "<think>r</think><answer>[]</answer>", NEG)["accuracy_iou"] == 1.0
    wrong = det("strict", hallucination, NEG)
    assert wrong["accuracy_iou"] == 0.0 and wrong["accuracy_confidence"] == pytest.approx(0.3)
    # a refusal on a positive sample scores nothing
    assert det("strict", refusal, GT)["accuracy_iou"] == 0.0


def test_D14_confidence_is_clamped_per_box(golden_vectors: list[dict]) -> None:
    c = (
        "<think>r</think><answer>[{'Position': [300, 311, 400, 410], 'Confidence': 0.9}, "
        "{'Position': [600, 600, 700, 700], 'Confidence': -0.5}]</answer>"
    )
    # official: (0.9 + 1.5) / 2 = 1.2 -> clipped mean 1.0; strict: c clamped to 0 -> (0.9 + 1) / 2
    assert det("official", c, math_verify=False)["accuracy_confidence"] == 1.0
    assert det("strict", c)["accuracy_confidence"] == pytest.approx(0.95)


def test_D15_lisa_swapped_corners_and_reward_range() -> None:
    swapped = "<think>r</think><answer>(300,400),(100,200)</answer>"
    assert lisa("official", swapped) == 2.0
    assert lisa("strict", swapped) == pytest.approx(1.0)  # corners sorted: the same box
    point = "<think>r</think><answer>(300,400),(300,400)</answer>"
    assert lisa("official", point) == 1.0
    assert lisa("strict", point) == 0.0
    two_boxes = "<think>r</think><answer>(100,200),(300,400),(200,300),(250,350)</answer>"
    assert lisa("official", two_boxes) == pytest.approx(1.25)
    assert lisa("strict", two_boxes) == pytest.approx(1.0)
    assert lisa("official", "<think>r</think><answer>[100, 200, 300, 400]</answer>") == 0.0
    assert lisa("strict", "<think>r</think><answer>[100, 200, 300, 400]</answer>") == pytest.approx(1.0)


def test_D15_lisa_box_only_from_the_answer_block() -> None:
    c = "<think>not (600,600),(700,700)</think>no answer tag (100,200),(300,400)"
    assert lisa("strict", c) == 0.0
    assert lisa("official", c) > 0.0  # whole-completion fallback


@pytest.mark.parametrize(
    ("completion", "official", "strict"),
    [
        ("<think>a</think><answer>b</answer>\n", 0.0, 1.0),
        ("\n<think>a</think> <answer>b</answer>", 0.0, 1.0),
        ("<think>a</think><answer>b</answer><answer>c</answer>", 1.0, 0.0),
        ("<think>x</think>Answer: <answer>y</answer>", 0.0, 0.0),
        ("<think><think>a</think><answer>b</answer>", 1.0, 0.0),
    ],
)
def test_D16_format_is_one_think_then_one_answer(completion: str, official: float, strict: float) -> None:
    assert det("official", completion, math_verify=False)["format"] == official
    assert det("strict", completion)["format"] == strict


def test_iou_denominator_option_is_the_papers_formula() -> None:
    c = "<think>r</think><answer>[{'Position': [300, 311, 400, 410], 'Confidence': 0.9}]</answer>"
    two_gt = (
        "<answer>[{'Position': [300, 310, 400, 410], 'Confidence': 1}, "
        "{'Position': [600, 600, 700, 700], 'Confidence': 1}]</answer>"
    )
    assert det("strict", c, two_gt)["accuracy_iou"] == pytest.approx(0.495)
    assert det("strict", c, two_gt, iou_denominator="pred")["accuracy_iou"] == pytest.approx(0.99)


def test_D26_eval_boxes_are_clipped_and_degenerate_ones_dropped() -> None:
    c = (
        "<think>r</think><answer>[{'Position': [-50, 950, 1100, 1000], 'Confidence': 0.9}, "
        "{'Position': [500, 500, 400, 600], 'Confidence': 0.5}]</answer>"
    )
    official = official_eval_results(c, 1, 17, 640, 480)
    assert official.results[0]["bbox"] == [-32.0, 456.0, 736.0, 24.0]
    assert len(official.results) == 2 and official.results[1]["bbox"][2] < 0
    strict = strict_eval_results(c, 1, 17, 640, 480)
    assert strict.n_degenerate == 1 and len(strict.results) == 1
    assert strict.results[0]["bbox"] == pytest.approx([0.0, 456.0, 640.0, 24.0])


def test_D25_non_numeric_scores_never_reach_the_evaluator() -> None:
    c = "<think>r</think><answer>[{'Position': [10, 10, 50, 50], 'Confidence': 'high'}]</answer>"
    assert official_eval_results(c, 1, 17, 640, 480).results[0]["score"] == "high"
    strict = strict_eval_results(c, 1, 17, 640, 480)
    assert strict.results == [] and strict.failure == "all_malformed"
    assert all(
        math.isfinite(r["score"])
        for r in strict_eval_results(
            "<answer>[{'Position': [1, 1, 5, 5], 'Confidence': 7}]</answer>", 1, 1, 10, 10
        ).results
    )
