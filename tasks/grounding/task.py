"""LISA ReasonSeg reasoning grounding (paper Table 5): one request per item (first instruction).

``request_id = "<split>/<name>"`` over the val and test splits. Box mIoU per split:
* official: the first ``(int,int),(int,int)`` (whitespace allowed around every number) anywhere in
  the untrimmed decode (prompt text included, D22), divided by 1000, against ``shapes[0]``'s box
  / (w, h, w, h), IoU = I/(U + 1e-6) (§6.5);
* strict: the first box of the answer block (corners sorted, clipped) against the box of all target
  polygons (every shape not labelled ``ignore``/``flag``; ``shapes[0]`` if none), exact IoU.
A missing or unreadable answer scores 0 in both. gIoU / cIoU need masks (`tasks.metrics.giou_ciou`).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator, Mapping
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from tasks.answer import extract_answer
from tasks.base import Request, TaskScore, check_ids, score_record
from tasks.data.lisa import LISA_SPLITS, load_lisa
from tasks.geometry import official_lisa_norm1000
from tasks.grounding.rewards import GroundingTarget, parse_box_strict
from tasks.metrics import box_iou, box_iou_official
from tasks.prompts import grounding_prompt
from tasks.spec import GroundingSample, Kind, Profile
from tasks.verifiers import get_verifier

# Qwen2_VL_lisa_infere.py: whitespace allowed around every number and between the two tuples (so a
# box split over two lines matches); the first match of re.findall = the first re.search match.
_OFFICIAL_EVAL_BOX = re.compile(r"\(\s*(\d+)\s*,\s*(\d+)\s*\)\s*,\s*\(\s*(\d+)\s*,\s*(\d+)\s*\)")


def official_eval_box(decoded: str) -> tuple[float, float, float, float] | None:
    """The official eval's box: the first match in the decoded text, each integer divided by 1000."""
    m = _OFFICIAL_EVAL_BOX.search(decoded)
    if m is None:
        return None
    x1, y1, x2, y2 = (int(v) / 1000 for v in m.groups())
    return x1, y1, x2, y2


def official_solution(sample: GroundingSample) -> str:
    """``<answer> (X1,Y1),(X2,Y2) </answer>`` with 0–1000 integers as ``gen_sft.py`` computes them,
    ``int(v / w * 1000)`` (§2.5). Training targets of both profiles use this string."""
    w, h = sample.image.width, sample.image.height
    x1, y1, x2, y2 = (official_lisa_norm1000(v, d) for v, d in zip(sample.gt_xyxy, (w, h, w, h), strict=True))
    return f"<answer> ({x1},{y1}),({x2},{y2}) </answer>"


def strict_gt_box(sample: GroundingSample) -> tuple[float, float, float, float]:
    """Pixel box of every target polygon (labels other than ignore/flag); shapes[0] if none."""
    pts = [p for label, poly in sample.polygons if label.lower() not in ("ignore", "flag") for p in poly]
    if not pts:
        return tuple(float(v) for v in sample.gt_xyxy)  # type: ignore[return-value]
    arr = np.asarray(pts, dtype=np.float64)
    return (float(arr[:, 0].min()), float(arr[:, 1].min()), float(arr[:, 0].max()), float(arr[:, 1].max()))


class GroundingTask:
    kind = Kind.GROUNDING

    def __init__(
        self,
        name: str,
        version: str,
        data_root: Path,
        *,
        prompt: str = "strict",
        splits: str = "val,test",
        limit: int | None = None,
        max_new_tokens: int | None = None,
    ) -> None:
        self.name, self.version = name, version
        self.data_root = Path(data_root)
        self.prompt_style = prompt
        grounding_prompt("x", prompt)
        self.splits = tuple(s for s in splits.split(",") if s)
        bad = [s for s in self.splits if s not in LISA_SPLITS]
        if bad or not self.splits:
            raise ValueError(f"{name}: splits={splits!r}: expected a comma list of {LISA_SPLITS}")
        self.limit = limit
        # official eval decodes 128 tokens (answers are often cut off, D22); strict allows the training length
        self.max_new_tokens = max_new_tokens or (128 if prompt == "official" else 256)
        self.args: dict[str, Any] = {"prompt": prompt, "splits": ",".join(self.splits), "limit": limit}

    @cached_property
    def samples(self) -> dict[str, GroundingSample]:
        out: dict[str, GroundingSample] = {}
        for split in self.splits:
            items = load_lisa(self.data_root, split)
            for s in items[: self.limit] if self.limit is not None else items:
                out[f"{split}/{s.doc_id}"] = s
        return out

    def requests(self) -> Iterator[Request]:
        for rid, s in self.samples.items():
            prompt = grounding_prompt(s.instruction, self.prompt_style)
            yield Request(rid, s.image, prompt.text, prompt.system, self.max_new_tokens, official_solution(s))

    def followup_requests(self, stage1: Mapping[str, str]) -> Iterator[Request]:
        return iter(())

    def score(self, generations: Mapping[str, str], profile: Profile) -> TaskScore:
        profile = Profile.parse(profile)
        missing, unknown = check_ids(self.samples, generations)
        verifier = get_verifier(Kind.GROUNDING, profile)
        ious: dict[str, list[float]] = {split: [] for split in self.splits}
        failures: Counter[str] = Counter()
        samples: list[dict[str, Any]] = []
        for req in self.requests():
            s = self.samples[req.request_id]
            split = req.request_id.split("/", 1)[0]
            text = generations.get(req.request_id)
            if text is None:
                ious[split].append(0.0)
                failures["missing"] += 1
                continue
            iou, reason = self._eval_iou(s, req, text, profile)
            ious[split].append(iou)
            if reason:
                failures[reason] += 1
            target: Any = (
                req.solution
                if profile is Profile.OFFICIAL
                else GroundingTarget.from_pixels(strict_gt_box(s), s.image.width, s.image.height)
            )
            reward = verifier.score(text, target)
            samples.append(score_record(req.request_id, reward.components, reward.parse, eval_iou=iou))
        metrics: dict[str, Any] = {
            f"mIoU_{split}": 100.0 * float(np.mean(v)) if v else None for split, v in ious.items()
        }
        metrics.update(n=len(self.samples), parse_failures=dict(sorted(failures.items())))
        return TaskScore(metrics, samples, missing, unknown)

    def _eval_iou(self, s: GroundingSample, req: Request, text: str, profile: Profile) -> tuple[float, str | None]:
        w, h = s.image.width, s.image.height
        if profile is Profile.OFFICIAL:
            decoded = "\n".join(x for x in (req.system, req.text, text) if x)  # the untrimmed decode
            pred = official_eval_box(decoded)
            if pred is None:
                return 0.0, "no_box"
            x1, y1, x2, y2 = (float(v) for v in s.gt_xyxy)
            return box_iou_official(pred, (x1 / w, y1 / h, x2 / w, y2 / h)), None
        span = extract_answer(text)
        box = parse_box_strict(span.text) if span is not None else None
        if box is None:
            return 0.0, "no_answer" if span is None else "no_box"
        gt = GroundingTarget.from_pixels(strict_gt_box(s), w, h).box
        return box_iou(box, gt), None
