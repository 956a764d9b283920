"""Detection response -> COCO result entries (``{image_id, category_id, bbox, score}``), per profile.

Official (PROTOCOL §6.2): newline/``[[``/``, ...`` clean-up before the tag search, the official box
reader, no predictions and no error for "No Objects" or an unreadable truncated answer, duplicates
removed, boxes converted without clipping or validation, the score kept as given (D25, D26), and any
exception counted in an error counter while entries already appended stay.

Strict: the strict reader (`parse_strict`), coordinates clipped to [0, 1000] and converted to pixels;
degenerate boxes are dropped from the results and counted; every failure is a recorded reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tasks.answer import extract_answer, official_first_answer
from tasks.detection.parse import official_extract_bbox, parse_strict
from tasks.geometry import official_trans_bbox


@dataclass(frozen=True)
class EvalConversion:
    """COCO result entries for one (image, category) response, plus what went wrong."""

    results: list[dict[str, Any]]
    error_count: int = 0  # official: exceptions counted by the official script
    failure: str | None = None  # strict: parse failure reason
    n_malformed: int = 0
    n_degenerate: int = 0
    details: dict[str, Any] = field(default_factory=dict)


def official_eval_results(
    response: str, image_id: int, category_id: int, width: float, height: float
) -> EvalConversion:
    cleaned = response.replace("[[", "[").replace("]]", "]").replace("\n", "").replace(", ...", "")
    match = official_first_answer(cleaned)
    inner = match.strip() if match is not None else cleaned.strip()
    results: list[dict[str, Any]] = []
    try:
        boxes = official_extract_bbox("<answer>" + inner + "</answer>")
        if boxes is None or isinstance(boxes[0], str):
            return EvalConversion([], 0)
        for box in official_remove_duplicates(boxes):
            bbox = official_trans_bbox(box["Position"], width, height)
            results.append({"image_id": image_id, "category_id": category_id, "bbox": bbox, "score": box["Confidence"]})
    except Exception:
        return EvalConversion(results, 1)
    return EvalConversion(results, 0)


def official_remove_duplicates(boxes: Any) -> list[Any]:
    """The official ``remove_duplicates``: first occurrence of each ``tuple(box['Position'])``.

    The official loop deduplicates the whole list before it converts any box, so one unhashable or
    missing Position (a dict or list inside it, an int instead of a list) raises for the whole
    answer: one error, and the answer contributes no box at all (not even the boxes before it).
    """
    seen: set[tuple[Any, ...]] = set()
    unique = []
    for box in boxes:
        key = tuple(box["Position"])
        if key not in seen:
            seen.add(key)
            unique.append(box)
    return unique


def strict_eval_results(response: str, image_id: int, category_id: int, width: float, height: float) -> EvalConversion:
    span = extract_answer(response)
    if span is None:
        return EvalConversion([], failure="no_answer")
    parsed = parse_strict(span.text)
    if parsed.failure is not None:
        return EvalConversion([], failure=parsed.failure, n_malformed=parsed.n_malformed)
    results = []
    degenerate = 0
    for b in parsed.boxes:
        if b.degenerate:
            degenerate += 1
            continue
        x1, y1 = b.x1 / 1000 * width, b.y1 / 1000 * height
        x2, y2 = b.x2 / 1000 * width, b.y2 / 1000 * height
        results.append(
            {
                "image_id": image_id,
                "category_id": category_id,
                "bbox": [x1, y1, x2 - x1, y2 - y1],
                "score": b.confidence,
            }
        )
    return EvalConversion(
        results,
        n_malformed=parsed.n_malformed,
        n_degenerate=degenerate,
        details={"truncated": int(not span.closed or parsed.truncated)},
    )
