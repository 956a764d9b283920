"""Detection metric glue: one response -> COCO result entries, and the corpus metric (pycocotools /
lvis through `tasks.metrics`) over a task's results.

Which reading feeds the metric:
* strict: the *same* reading the reward grades (`StrictDetection.parse`: the answer block read by
  `parse_strict`), handed over by the task (`strict_results`), so a completion is read once;
  coordinates are already clipped to [0, 1000]; degenerate boxes are dropped and counted; every
  failure is a recorded reason.
* official: the official *eval* reading (`official_eval_reading`, PROTOCOL §6.2), which is not the
  official reward's: newline/``[[``/``, ...`` clean-up before the tag search; no predictions and no
  error for "No Objects" or an unreadable truncated answer, duplicates removed by
  `official_remove_duplicates`, boxes converted without clipping or validation, the score kept as
  given (D25, D26), and any exception counted in an error counter while entries already appended stay.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tasks.detection.parse import DetectionParse, official_eval_reading
from tasks.detection.rewards import StrictDetection
from tasks.geometry import norm1000_box_to_coco_xywh, official_trans_bbox
from tasks.rewards import StrictParse
from tasks.spec import Profile

if TYPE_CHECKING:
    from tasks.data.detection import DetectionData


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
    """The official eval's result entries for one response (its own reading of the text)."""
    results: list[dict[str, Any]] = []
    try:
        boxes = official_eval_reading(response)
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


def strict_results(
    parsed: StrictParse[DetectionParse], image_id: int, category_id: int, width: float, height: float
) -> EvalConversion:
    """Result entries from the strict reading the reward graded (`StrictDetection.parse`)."""
    answer, span = parsed.value, parsed.span
    if parsed.failure is not None or answer is None or span is None:
        n_malformed = answer.n_malformed if answer is not None else 0
        return EvalConversion([], failure=parsed.failure, n_malformed=n_malformed)
    results = []
    degenerate = 0
    for b in answer.boxes:
        if b.degenerate:
            degenerate += 1
            continue
        bbox = norm1000_box_to_coco_xywh(b[:4], width, height)
        results.append({"image_id": image_id, "category_id": category_id, "bbox": bbox, "score": b.confidence})
    return EvalConversion(
        results,
        n_malformed=answer.n_malformed,
        n_degenerate=degenerate,
        details={"truncated": int(not span.closed or answer.truncated)},
    )


_STRICT = StrictDetection()


def strict_eval_results(response: str, image_id: int, category_id: int, width: float, height: float) -> EvalConversion:
    """`strict_results` of a response not read yet (tools and tests; the task reads once and reuses)."""
    return strict_results(_STRICT.parse(response), image_id, category_id, width, height)


def detection_metrics(
    data: DetectionData,
    dataset: str,
    category_ids: Mapping[str, int],
    categories: Sequence[str],
    novel_base: tuple[Sequence[str], Sequence[str]],
    image_ids: Sequence[int],
    results: list[dict[str, Any]],
    profile: Profile,
) -> dict[str, Any]:
    """mAP, AP50, per-class AP (``AP/<name>``, ``AP50/<name>``) and the novel/base summary, from the
    official evaluator of `dataset` ("coco" | "lvis") on the categories in `categories` order."""
    from tasks.metrics import coco_bbox_eval, coco_ov_summary, lvis_bbox_eval

    names = {cid: name for name, cid in category_ids.items()}
    ids = [category_ids[n] for n in categories]
    official = profile is Profile.OFFICIAL
    out: dict[str, Any] = {}
    if dataset == "coco":
        m = coco_bbox_eval(data.gt, results, ids, image_ids=image_ids, official=official)
        per_class = {cid: m.per_class[cid].ap for cid in ids}
        out["mAP"], out["AP50"] = m.map, m.map50
    else:
        lm = lvis_bbox_eval(data.gt, results, ids, official=official)
        m = lm
        standard = {cid: lm.per_class[cid].ap for cid in ids}
        area_mean = {cid: lm.per_class[cid].ap_official_area_mean for cid in ids}
        # The official notebook's per-class number averages the four area ranges (D20); the
        # official profile reports it as the headline and keeps the standard one beside it.
        per_class = area_mean if official else standard
        out["mAP"] = lm.map_official_area_mean if official else lm.map
        out["mAP_standard"], out["mAP_official_area_mean"] = lm.map, lm.map_official_area_mean
        out["AP50"] = lm.map50
    for cid in ids:
        out[f"AP/{names[cid]}"] = per_class[cid]
        out[f"AP50/{names[cid]}"] = m.per_class[cid].ap50
    novel, base = novel_base
    if novel:
        summary = coco_ov_summary(
            per_class, [category_ids[n] for n in novel], [category_ids[n] for n in base], official=official
        )
        out.update(summary)
    out["warnings"] = [_name_categories(w, names) for w in m.warnings]
    return out


def _name_categories(warning: str, names: Mapping[int, str]) -> str:
    """Category ids in a metric warning -> ``id (name)``, so the user sees which classes."""
    head, sep, rest = warning.partition(": ")
    if not sep or not head.startswith("categor"):
        return warning
    word, _, ids = head.partition(" ")
    shown = ", ".join(f"{i} ({names.get(int(i), '?')})" for i in ids.split(", ") if i.strip().isdigit())
    return f"{word} {shown}: {rest}" if shown else warning


def suspects(results: Sequence[Mapping[str, Any]], generations: Mapping[str, str]) -> str:
    """The requests whose Confidence is not a number (what makes the official evaluator raise)."""

    def offenders(test: Any) -> dict[str, Any]:
        bad: dict[str, Any] = {}
        for r in results:
            if test(r["score"]):
                bad.setdefault(f"{r['image_id']}:{r['category_id']}", r["score"])
        return bad

    # a string/null/list score makes the evaluator raise; failing that, a class whose scores are all
    # booleans does (numpy refuses to negate a boolean array in accumulate)
    bad = offenders(lambda v: not isinstance(v, int | float)) or offenders(lambda v: isinstance(v, bool))
    if not bad:
        return ""
    shown = "; ".join(
        f"request {rid} (Confidence {score!r}; generation {generations.get(rid, '')[:120]!r})"
        for rid, score in list(bad.items())[:5]
    )
    more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
    return f". Requests with a non-numeric Confidence: {shown}{more}"


def reward_means(samples: Sequence[Mapping[str, Any]], components: Sequence[str]) -> dict[str, float | None]:
    if not samples:
        return {c: None for c in (*components, "total")}
    return {c: sum(float(s[c]) for s in samples) / len(samples) for c in (*components, "total")}
