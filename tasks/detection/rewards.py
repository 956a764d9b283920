"""Detection verifiers: R_IoU, R_conf and R_format for one completion against one solution.

Components (each in [0, 1], summed unweighted as in the paper): ``accuracy_iou``,
``accuracy_confidence``, ``format``.

`OfficialDetection` reproduces the official ``grpo.py`` rewards (PROTOCOL §5.3–§5.5) exactly,
including the math_verify short-circuit, the strict ``> 0.5`` threshold, duplicate removal, the
single-line answer search and the whole-completion fallback; it reads a completion with
`official_reward_reading` (the eval's reading is another one: `tasks.detection.metric`).
`StrictDetection` is the same reward with the scoring defects fixed (README, "Strict profile"); its
`parse` (the strict reader `parse_strict` on the answer block) is also what the strict metric reads.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from operator import itemgetter
from typing import Any

from tasks.answer import extract_answer
from tasks.detection.parse import DetectionParse, PredBox, official_extract_bbox, official_reward_reading, parse_strict
from tasks.geometry import match_greedy, official_detection_iou, xyxy_to_norm1000
from tasks.rewards import OfficialParse, OfficialVerifier, StrictParse, StrictVerifier
from tasks.spec import Profile, Score

COMPONENTS = ("accuracy_iou", "accuracy_confidence", "format")


class TargetError(ValueError):
    """A solution (ground truth) that cannot be read: bad data, reported with its context."""


# --------------------------------------------------------------------------------------------
# Strict profile


@dataclass(frozen=True)
class DetectionTarget:
    """Ground-truth boxes in 0–1000 space (an empty tuple is a negative sample)."""

    boxes: tuple[tuple[float, float, float, float], ...]

    @classmethod
    def from_solution(cls, solution: str) -> DetectionTarget:
        """Read a training-data solution: ``<answer>[{'Position': [...], 'Confidence': 1}]</answer>``
        or ``<answer>No Objects</answer>``. Raises TargetError on anything malformed."""
        span = extract_answer(solution)
        text = span.text if span is not None else solution
        parsed = parse_strict(text)
        if parsed.failure is not None or parsed.n_malformed or parsed.truncated:
            reasons = ", ".join(parsed.malformed_reasons) or parsed.failure or "truncated"
            raise TargetError(
                f"detection solution is not a list of {{'Position': [x1, y1, x2, y2], 'Confidence': c}} "
                f"or 'No Objects' ({reasons}): {solution[:200]!r}"
            )
        return cls(tuple(b.xyxy for b in parsed.boxes))

    @classmethod
    def from_pixels(cls, xyxy: Any, width: float, height: float) -> DetectionTarget:
        """GT boxes in pixels (N, 4) -> a target in the model's 0–1000 space (not rounded)."""
        norm = xyxy_to_norm1000(xyxy, width, height)
        return cls(tuple((float(a), float(b), float(c), float(d)) for a, b, c, d in norm))


@dataclass(frozen=True)
class StrictDetection(StrictVerifier[DetectionParse, DetectionTarget]):
    """Detection rewards with the scoring defects fixed.

    R_IoU = Σ IoU of matched predictions / max(n_gt, n_pred)   (``iou_denominator="pred"``: / n_pred,
    the paper's formula); R_conf = mean over predictions of c (matched) or 1 - c (unmatched);
    a negative sample scores 1/1 for "No Objects" (or ``[]``) and R_IoU 0 for any box.
    Matching: `tasks.geometry.match_greedy` (COCO's rule, IoU >= `iou_threshold`).
    """

    iou_threshold: float = 0.5
    iou_denominator: str = "max"  # "max" | "pred"

    def __post_init__(self) -> None:
        if self.iou_denominator not in ("max", "pred"):
            raise ValueError(f"iou_denominator must be 'max' or 'pred', got {self.iou_denominator!r}")
        if not 0.0 < self.iou_threshold <= 1.0:
            raise ValueError(f"iou_threshold must be in (0, 1], got {self.iou_threshold}")

    components = COMPONENTS

    def parse_target(self, solution: str) -> DetectionTarget:
        return _cached_target(solution)

    def read_answer(self, answer: str) -> tuple[DetectionParse, str | None]:
        parsed = parse_strict(answer)
        return parsed, parsed.failure

    def failure_details(self, parsed: StrictParse[DetectionParse]) -> dict[str, float | int | str]:
        return {"n_malformed": parsed.value.n_malformed if parsed.value is not None else 0}

    def grade(self, parsed: StrictParse[DetectionParse], target: DetectionTarget) -> Score:
        answer, span = parsed.value, parsed.span
        assert answer is not None and span is not None  # a reading that did not fail
        iou_r, conf_r, n_matched = self._rewards(answer.boxes, target.boxes)
        details: dict[str, float | int | str] = {
            "n_pred": len(answer.boxes),
            "n_gt": len(target.boxes),
            "n_matched": n_matched,
            "n_malformed": answer.n_malformed,
            "truncated": int(not span.closed or answer.truncated),
        }
        components = {"accuracy_iou": iou_r, "accuracy_confidence": conf_r, "format": parsed.format}
        return Score(components, "ok", details)

    def _rewards(
        self, preds: Sequence[PredBox], gts: Sequence[tuple[float, float, float, float]]
    ) -> tuple[float, float, int]:
        n, m = len(preds), len(gts)
        # list comprehensions, not generators: the same sums in the same order, faster (hot path)
        if m == 0:  # negative sample: the correct answer is "No Objects"
            if n == 0:
                return 1.0, 1.0, 0
            return 0.0, sum([1.0 - p.confidence for p in preds]) / n, 0
        if n == 0:
            return 0.0, 0.0, 0
        matches = match_greedy(preds, gts, self.iou_threshold)
        ious = [iou for _, iou in matches]
        iou_sum = sum(ious)
        denom = max(m, n) if self.iou_denominator == "max" else n
        conf = sum([p[4] if iou > 0.0 else 1.0 - p[4] for p, iou in matches]) / n  # p[4]: p.confidence
        n_matched = n - ious.count(0.0)  # a match's IoU is >= iou_threshold > 0, never 0
        return min(iou_sum / denom, 1.0), min(max(conf, 0.0), 1.0), n_matched


@lru_cache(maxsize=65_536)
def _cached_target(solution: str) -> DetectionTarget:
    # GRPO scores G completions against one solution: read it once.
    return DetectionTarget.from_solution(solution)


# --------------------------------------------------------------------------------------------
# Official profile


_by_confidence = itemgetter("Confidence")


def _official_match(student: list[Any], gt: list[Any]) -> list[tuple[float, Any]]:
    """Greedy by confidence, strict > 0.5, each GT once (PROTOCOL §5.4). Returns (iou, confidence)."""
    results = []
    matched: set[int] = set()
    for box in sorted(student, key=_by_confidence, reverse=True):
        best_iou, best = 0.0, None
        for idx, g in enumerate(gt):
            if idx in matched:
                continue
            iou = official_detection_iou(box["Position"], g["Position"])
            if iou > best_iou:
                best_iou, best = iou, idx
        if best is not None and best_iou > 0.5:
            matched.add(best)
            results.append((best_iou, box["Confidence"]))
        else:
            results.append((0.0, box["Confidence"]))
    return results


def _official_rule_path(student: list[Any] | None, solution: str) -> tuple[float, float]:
    """(R_IoU, R_conf) of the official rule path on a reward reading; any exception gives 0 (as the
    official try/except), and so does a reading that read nothing (`official_reward_reading`)."""
    try:
        gt = official_extract_bbox(solution.strip())
        if student is None:
            return 0.0, 0.0
        matches = _official_match(student, gt)
        iou_sum = 0.0
        conf_terms: list[Any] = []
        for iou, conf in matches:
            iou_sum += iou
            conf_terms.append(conf if iou != 0 else 1 - conf)
        # The official IoU function sums the confidence terms too, so a bad confidence zeroes both.
        conf_sum = sum(conf_terms)
        iou_r = min(iou_sum / max(len(gt), len(student)), 1.0)
        conf_r = conf_sum / len(student)
        conf_r = min(max(conf_r, 0.0), 1.0)
        # JSON admits NaN/Infinity; the official code would return NaN here. We return 0 instead
        # (README: the one place the official profile departs, because rewards must be finite).
        return _finite_or_zero(iou_r), _finite_or_zero(conf_r)
    except Exception:
        return 0.0, 0.0


def _finite_or_zero(x: Any) -> float:
    v = float(x)
    return v if math.isfinite(v) else 0.0


@dataclass(frozen=True)
class OfficialDetection(OfficialVerifier[list[Any] | None]):
    """The official Visual-RFT detection rewards, defects included (`math_verify`: `OfficialVerifier`)."""

    components = COMPONENTS

    read = staticmethod(official_reward_reading)

    def grade(self, parsed: OfficialParse[list[Any] | None], solution: str) -> Score:
        iou_r, conf_r = _official_rule_path(parsed.value, solution)
        return Score({"accuracy_iou": iou_r, "accuracy_confidence": conf_r, "format": parsed.format})


VERIFIERS = {Profile.STRICT: StrictDetection, Profile.OFFICIAL: OfficialDetection}
