"""Detection verifiers: R_IoU, R_conf and R_format for one completion against one solution.

Components (each in [0, 1], summed unweighted as in the paper): ``accuracy_iou``,
``accuracy_confidence``, ``format``.

`OfficialDetection` reproduces the official ``grpo.py`` rewards (PROTOCOL §5.3–§5.5) exactly,
including the math_verify short-circuit, the strict ``> 0.5`` threshold, duplicate removal, the
single-line answer search and the whole-completion fallback. `StrictDetection` is the same reward
with the scoring defects fixed (README, "Strict profile").
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from tasks import mathverify
from tasks.answer import extract_answer, official_first_answer, official_format, strict_format
from tasks.detection.parse import DetectionParse, PredBox, official_extract_bbox, parse_strict
from tasks.geometry import xyxy_to_norm1000
from tasks.spec import Score

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


def match_greedy(
    preds: Sequence[PredBox], gts: Sequence[tuple[float, float, float, float]], threshold: float
) -> list[tuple[PredBox, float]]:
    """COCO's rule: predictions in descending confidence (stable), each takes the still-unmatched GT
    box of highest IoU (ties: lowest index) if that IoU is >= `threshold`. Returns (pred, iou) with
    iou 0.0 for unmatched predictions; degenerate boxes never match.

    The IoU is inlined (same formula as `tasks.geometry.iou_xyxy`): this loop is the hot path of
    every detection reward.
    """
    order = sorted(preds, key=_confidence, reverse=True) if len(preds) > 1 else preds
    free = [(g, box, (box[2] - box[0]) * (box[3] - box[1])) for g, box in enumerate(gts)]
    out: list[tuple[PredBox, float]] = []
    for p in order:
        px1, py1, px2, py2, _ = p
        best, best_iou = -1, 0.0
        if px2 > px1 and py2 > py1:
            area_p = (px2 - px1) * (py2 - py1)
            for k, (_, (gx1, gy1, gx2, gy2), area_g) in enumerate(free):
                iw = (px2 if px2 < gx2 else gx2) - (px1 if px1 > gx1 else gx1)
                ih = (py2 if py2 < gy2 else gy2) - (py1 if py1 > gy1 else gy1)
                if iw <= 0.0 or ih <= 0.0:
                    continue
                inter = iw * ih
                union = area_p + area_g - inter
                iou = inter / union if union > 0.0 else 0.0
                if iou > best_iou:
                    best, best_iou = k, iou
        if best >= 0 and best_iou >= threshold:
            del free[best]
            out.append((p, best_iou))
        else:
            out.append((p, 0.0))
    return out


def _confidence(p: PredBox) -> float:
    return p.confidence


@dataclass(frozen=True)
class StrictDetection:
    """Detection rewards with the scoring defects fixed.

    R_IoU = Σ IoU of matched predictions / max(n_gt, n_pred)   (``iou_denominator="pred"``: / n_pred,
    the paper's formula); R_conf = mean over predictions of c (matched) or 1 - c (unmatched);
    a negative sample scores 1/1 for "No Objects" (or ``[]``) and R_IoU 0 for any box.
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

    def score(self, completion: str, target: DetectionTarget | str) -> Score:
        gt = self.parse_target(target) if isinstance(target, str) else target
        fmt = strict_format(completion)
        span = extract_answer(completion)
        if span is None:
            return _zero(fmt, "no_answer")
        parsed = parse_strict(span.text)
        if parsed.failure is not None:
            return _zero(fmt, parsed.failure, parsed)
        iou_r, conf_r, n_matched = self._rewards(parsed.boxes, gt.boxes)
        details: dict[str, float | int | str] = {
            "n_pred": len(parsed.boxes),
            "n_gt": len(gt.boxes),
            "n_matched": n_matched,
            "n_malformed": parsed.n_malformed,
            "truncated": int(not span.closed or parsed.truncated),
        }
        components = {"accuracy_iou": iou_r, "accuracy_confidence": conf_r, "format": fmt}
        return Score(components, "ok", details)

    def _rewards(
        self, preds: Sequence[PredBox], gts: Sequence[tuple[float, float, float, float]]
    ) -> tuple[float, float, int]:
        n, m = len(preds), len(gts)
        if m == 0:  # negative sample: the correct answer is "No Objects"
            if n == 0:
                return 1.0, 1.0, 0
            return 0.0, sum(1.0 - p.confidence for p in preds) / n, 0
        if n == 0:
            return 0.0, 0.0, 0
        matches = match_greedy(preds, gts, self.iou_threshold)
        iou_sum = sum(iou for _, iou in matches)
        denom = max(m, n) if self.iou_denominator == "max" else n
        conf = sum(p.confidence if iou > 0.0 else 1.0 - p.confidence for p, iou in matches) / n
        n_matched = sum(1 for _, iou in matches if iou > 0.0)
        return min(iou_sum / denom, 1.0), min(max(conf, 0.0), 1.0), n_matched


@lru_cache(maxsize=65_536)
def _cached_target(solution: str) -> DetectionTarget:
    # GRPO scores G completions against one solution: read it once.
    return DetectionTarget.from_solution(solution)


def _zero(fmt: float, reason: str, parsed: DetectionParse | None = None) -> Score:
    details: dict[str, float | int | str] = {"n_malformed": parsed.n_malformed if parsed else 0}
    return Score({"accuracy_iou": 0.0, "accuracy_confidence": 0.0, "format": fmt}, reason, details)


# --------------------------------------------------------------------------------------------
# Official profile


def _official_student_answer(content: str) -> str:
    match = official_first_answer(content)
    student = match.strip() if match is not None else content.strip()
    student = "<answer>" + student + "</answer>"
    return student.replace("[[", "[").replace("]]", "]").replace("\n", "")


def _official_remove_duplicates(boxes: list[Any]) -> list[Any]:
    seen: list[Any] = []
    out = []
    for box in boxes:
        if box["Position"] not in seen:
            seen.append(box["Position"])
            out.append(box)
    return out


def _official_iou(b1: Sequence[Any], b2: Sequence[Any]) -> float:
    x1, y1, x2, y2 = b1
    u1, v1, u2, v2 = b2
    xi1, yi1, xi2, yi2 = max(x1, u1), max(y1, v1), min(x2, u2), min(y2, v2)
    if xi2 <= xi1 or yi2 <= yi1:
        return 0.0
    inter = (xi2 - xi1) * (yi2 - yi1)
    union = (x2 - x1) * (y2 - y1) + (u2 - u1) * (v2 - v1) - inter
    return float(inter / union)  # ZeroDivisionError propagates, as in the official code


def _official_match(student: list[Any], gt: list[Any]) -> list[tuple[float, Any]]:
    """Greedy by confidence, strict > 0.5, each GT once (PROTOCOL §5.4). Returns (iou, confidence)."""
    results = []
    matched: set[int] = set()
    for box in sorted(student, key=lambda b: b["Confidence"], reverse=True):
        best_iou, best = 0.0, None
        for idx, g in enumerate(gt):
            if idx in matched:
                continue
            iou = _official_iou(box["Position"], g["Position"])
            if iou > best_iou:
                best_iou, best = iou, idx
        if best is not None and best_iou > 0.5:
            matched.add(best)
            results.append((best_iou, box["Confidence"]))
        else:
            results.append((0.0, box["Confidence"]))
    return results


def _official_rule_path(content: str, solution: str) -> tuple[float, float]:
    """(R_IoU, R_conf) of the official rule path; any exception gives 0 (as the official try/except)."""
    try:
        gt = official_extract_bbox(solution.strip())
        student = official_extract_bbox(_official_student_answer(content))
        if student is None or type(student[0]) is not dict:
            return 0.0, 0.0
        student = _official_remove_duplicates(student)
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
class OfficialDetection:
    """The official Visual-RFT detection rewards, defects included.

    `math_verify`: None = use the short-circuit when the math-verify package is installed (the
    official behaviour), False = never (``output_if_math_verify_never_matches``), True = require it.
    """

    math_verify: bool | None = None

    components = COMPONENTS

    def __post_init__(self) -> None:
        if self.math_verify and not mathverify.available():
            raise ValueError("math_verify=True needs the math-verify package (pip install math-verify)")

    def parse_target(self, solution: str) -> str:
        return solution  # the official code re-reads the raw solution string every time

    def score(self, completion: str, target: str) -> Score:
        fmt = official_format(completion)
        use_mv = mathverify.available() if self.math_verify is None else self.math_verify
        if use_mv and mathverify.short_circuit(completion, target):
            return Score({"accuracy_iou": 1.0, "accuracy_confidence": 1.0, "format": fmt}, "math_verify")
        iou_r, conf_r = _official_rule_path(completion, target)
        return Score({"accuracy_iou": iou_r, "accuracy_confidence": conf_r, "format": fmt})
