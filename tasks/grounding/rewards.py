"""Grounding (LISA ReasonSeg) verifiers: ``accuracy`` and ``format``.

`OfficialGrounding` reproduces ``grpo_lisa.py`` (PROTOCOL §5.7): math_verify short-circuit, 2.0 on
an exact string match, otherwise GIoU + 1 (`tasks.geometry.official_giou`) on a "box" built from the
first two corner points of all ``(x,y),(x,y)`` matches in the answer (or the whole completion): defect
D15. GIoU + 1 is in [0, 2] only for well-ordered boxes; see `OfficialGrounding` for the true range.
Its reading (`official_reward_reading`) is not the official eval's (`tasks.grounding.metric`).
`StrictGrounding`: accuracy = IoU in [0, 1] of the first box in the answer block, corners sorted,
coordinates clipped to [0, 1000]; ``(x1,y1),(x2,y2)`` and ``[x1, y1, x2, y2]`` are both read. Its
reading is also what the strict metric reads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

from tasks.answer import extract_answer
from tasks.geometry import Box, iou_xyxy, official_giou, sort_box, xyxy_box_to_norm1000
from tasks.grounding.parse import official_points, official_reward_reading, official_solution_answer, parse_box_strict
from tasks.rewards import OfficialParse, OfficialVerifier, StrictParse, StrictVerifier
from tasks.spec import Profile, Score

COMPONENTS = ("accuracy", "format")


@dataclass(frozen=True)
class GroundingTarget:
    """The GT box in 0–1000 space, corners sorted."""

    box: Box

    @classmethod
    def from_solution(cls, solution: str) -> GroundingTarget:
        span = extract_answer(solution)
        box = parse_box_strict(span.text if span is not None else solution)
        if box is None:
            raise ValueError(f"grounding solution has no (x1,y1),(x2,y2) box: {solution[:200]!r}")
        return cls(box)

    @classmethod
    def from_pixels(cls, xyxy: tuple[float, float, float, float], width: float, height: float) -> GroundingTarget:
        return cls(sort_box(*xyxy_box_to_norm1000(xyxy, width, height)))


@lru_cache(maxsize=65_536)
def _cached_target(solution: str) -> GroundingTarget:
    return GroundingTarget.from_solution(solution)


@dataclass(frozen=True)
class StrictGrounding(StrictVerifier[Box, GroundingTarget]):
    components = COMPONENTS

    def parse_target(self, solution: str) -> GroundingTarget:
        return _cached_target(solution)

    def read_answer(self, answer: str) -> tuple[Box | None, str | None]:
        box = parse_box_strict(answer)
        return box, None if box is not None else "no_box"

    def grade(self, parsed: StrictParse[Box], target: GroundingTarget) -> Score:
        box = parsed.value
        assert box is not None  # a reading that did not fail
        return Score({"accuracy": iou_xyxy(box, target.box), "format": parsed.format}, "ok", {"box": str(box)})


OfficialReading = tuple[str, list[tuple[float, float]] | None]  # `official_reward_reading`


@dataclass(frozen=True)
class OfficialGrounding(OfficialVerifier[OfficialReading]):
    """The official LISA reward. Its accuracy is GIoU + 1, in [0, 2] for well-ordered boxes; the
    signed-area GIoU leaves that range for inverted boxes (D15). On 0–1000 corners it spans about
    −1,000 (``(0,1000),(1000,0)`` against a 1×1 GT: −999.999) to 1,000,001 (``(1000,1000),(0,0)``
    against the same GT); the eval regex reads any integer, so larger corners reach any size
    (``(1000000,1000000),(0,0)``: about 1e12). Only finiteness is guaranteed (NaN/inf become 0)."""

    components = COMPONENTS

    read = staticmethod(official_reward_reading)

    def grade(self, parsed: OfficialParse[OfficialReading], solution: str) -> Score:
        fmt = parsed.format
        student, points = parsed.value
        gt_text = official_solution_answer(solution)
        if student == gt_text:
            return Score({"accuracy": 2.0, "format": fmt}, "exact_string")
        if points is None:  # reading the answer's points raised: the official try/except gives 0
            return Score({"accuracy": 0.0, "format": fmt}, "no_box")
        try:
            value = official_giou(points, official_points(gt_text)) + 1.0
        except Exception:  # the official reward swallows every error (no box, overflow, ...)
            return Score({"accuracy": 0.0, "format": fmt}, "no_box")
        value = value if math.isfinite(value) else 0.0
        return Score({"accuracy": value, "format": fmt})


VERIFIERS = {Profile.STRICT: StrictGrounding, Profile.OFFICIAL: OfficialGrounding}
