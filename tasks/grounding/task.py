"""LISA ReasonSeg reasoning grounding (paper Table 5): one request per item (first instruction).

``request_id = "<split>/<name>"`` over the val and test splits. Box mIoU per split
(`tasks.grounding.metric`): official, the official eval's reading of the untrimmed decode against
``shapes[0]``'s box; strict, the reward's reading against the box of all target polygons (every shape
not labelled ``ignore``/``flag``; ``shapes[0]`` if none). Scoring reads each completion once per
reading: strict hands the reward's reading (`StrictGrounding.parse`) to the metric; official keeps the
official repository's two readings (reward and eval), each done once.

Mask gIoU / cIoU (Table 5): SAM masks prompted with the box of the same reading the mIoU grades, made by
the harness (`harness.mask_stage`) and handed over with `use_masks`; without them only the box-raster
fallback ``gIoU_box_*`` / ``cIoU_box_*`` is reported (`tasks.grounding.masks`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import replace
from functools import cached_property
from pathlib import Path
from typing import Any

from tasks.base import FamilyTask, Request, TaskScore, check_ids, score_record
from tasks.data import DataError
from tasks.data.lisa import LISA_SPLITS, load_lisa
from tasks.geometry import Box, official_lisa_norm1000, points_to_xyxy
from tasks.grounding.masks import MaskScores, PromptBox, StoredMasks, official_prompt_box, strict_prompt_box
from tasks.grounding.metric import miou_percent, official_eval_iou, official_eval_reading, strict_eval_iou
from tasks.grounding.prompt import grounding_prompt
from tasks.grounding.rewards import VERIFIERS, GroundingTarget
from tasks.spec import GroundingSample, ImageRef, Kind, Profile


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
    return points_to_xyxy(pts)


def prompt_box(sample: GroundingSample, reading: Box | None, *, official: bool) -> PromptBox | None:
    """The SAM prompt box of a reading: official, the eval's 0–1 box as ``box2mask.py`` scales it; strict,
    the reward's 0–1000 box in pixels (`tasks.grounding.masks`); None for no box."""
    if reading is None:
        return None
    convert = official_prompt_box if official else strict_prompt_box
    return convert(reading, sample.image.width, sample.image.height)


class GroundingTask(FamilyTask):
    kind = Kind.GROUNDING
    verifiers = VERIFIERS

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
        self._recorded_sizes: dict[str, tuple[int, int]] = {}
        self._masks: StoredMasks | None = None

    @cached_property
    def samples(self) -> dict[str, GroundingSample]:
        """The items; an unreadable image gets size 0x0 (unknown) or the size a run recorded for it, and its
        request goes out anyway (the backend records it as failed, with the reason)."""
        out: dict[str, GroundingSample] = {}
        for split in self.splits:
            items = load_lisa(self.data_root, split, unreadable_ok=True)
            for s in items[: self.limit] if self.limit is not None else items:
                rid = f"{split}/{s.doc_id}"
                if s.image.width <= 0 and rid in self._recorded_sizes:
                    s = replace(s, image=ImageRef(s.image.path, *self._recorded_sizes[rid]))
                out[rid] = s
        return out

    def use_image_sizes(self, sizes: Mapping[str, tuple[int, int]]) -> None:
        """Image sizes a run recorded (request id -> (width, height)), standing in for images whose header
        cannot be read now: a run is re-scored from its files alone, even when its images are gone."""
        self._recorded_sizes = dict(sizes)
        self.__dict__.pop("samples", None)

    def use_masks(self, masks: StoredMasks | None) -> None:
        """The SAM masks a run holds (``masks.jsonl``, `harness.mask_stage`): `score` reports gIoU / cIoU
        from them; without them only the box-raster numbers (``gIoU_box_*``)."""
        self._masks = masks

    def mask_prompts(self, generations: Mapping[str, str], profile: Profile | str) -> dict[str, PromptBox]:
        """request id -> the box SAM is prompted with in `profile` (`tasks.grounding.masks`), for every answer
        that has one on an image of known size: what the mask stage makes masks for (the reading `score` does)."""
        profile = Profile.parse(profile)
        verifier = self.verifier(profile)
        out: dict[str, PromptBox] = {}
        for req in self.requests():
            s, text = self.samples[req.request_id], generations.get(req.request_id)
            if text is None or s.image.width <= 0 or s.image.height <= 0:
                continue
            if profile is Profile.OFFICIAL:
                prompt = prompt_box(s, official_eval_reading(req.system, req.text, text), official=True)
            else:
                prompt = prompt_box(s, verifier.parse(text).value, official=False)
            if prompt is not None:
                out[req.request_id] = prompt
        return out

    def requests(self) -> Iterator[Request]:
        for rid, s in self.samples.items():
            prompt = grounding_prompt(s.instruction, self.prompt_style)
            solution = official_solution(s) if s.image.width > 0 and s.image.height > 0 else ""  # size unknown
            yield Request(rid, s.image, prompt.text, prompt.system, self.max_new_tokens, solution)

    def score(self, generations: Mapping[str, str], profile: Profile) -> TaskScore:
        profile = Profile.parse(profile)
        missing, unknown = check_ids(self.samples, generations)
        verifier = self.verifier(profile)
        ious: dict[str, list[float]] = {split: [] for split in self.splits}
        failures: Counter[str] = Counter()
        samples: list[dict[str, Any]] = []
        masks = MaskScores(self.splits, official=profile is Profile.OFFICIAL, masks=self._masks)
        for req in self.requests():
            s = self.samples[req.request_id]
            split = req.request_id.split("/", 1)[0]
            text = generations.get(req.request_id)
            if text is None:
                ious[split].append(0.0)
                failures["missing"] += 1
                masks.add(split, req.request_id, s, None)
                continue
            if s.image.width <= 0 or s.image.height <= 0:
                raise DataError(
                    f"{self.name}: {req.request_id}: an answer exists but the size of {s.image.path} is unknown "
                    "(the image is missing or unreadable, and no run recorded its size); restore the image, or "
                    "re-score the run directory it was generated in (vrft score RUN_DIR)"
                )
            parsed = verifier.parse(text)  # the reward's reading, done once
            if profile is Profile.OFFICIAL:
                target: Any = req.solution
                box = official_eval_reading(req.system, req.text, text)  # the eval's reading, done once
                iou, reason = official_eval_iou(s, box)
                prompt = prompt_box(s, box, official=True)
            else:
                target = GroundingTarget.from_pixels(strict_gt_box(s), s.image.width, s.image.height)
                iou, reason = strict_eval_iou(parsed, target)
                prompt = prompt_box(s, parsed.value, official=False)  # None where the reading failed
            ious[split].append(iou)
            if reason:
                failures[reason] += 1
            mask_iou = masks.add(split, req.request_id, s, prompt)
            reward = verifier.score_parsed(parsed, target)
            extra = {} if mask_iou is None else {"mask_iou": mask_iou}  # unrounded: the bootstrap's gIoU equals gIoU
            samples.append(score_record(req.request_id, reward.components, reward.parse, eval_iou=iou, **extra))
        metrics: dict[str, Any] = {f"mIoU_{split}": miou_percent(v) for split, v in ious.items()}
        metrics.update(masks.metrics())
        metrics.update(n=len(self.samples), parse_failures=dict(sorted(failures.items())))
        return TaskScore(metrics, samples, missing, unknown)
