"""COCO / LVIS detection benchmarks (paper Tables 3, 4, 6 and the appendix LVIS OV table).

A request is one (image, category) pair, ``request_id = "<image_id>:<category_id>"``; the two-stage
protocol adds existence questions ``"exist/<image_id>:<category_id>"``. The metric is the official
evaluator (pycocotools / lvis) on *all* images of the annotation file, restricted to the task's
categories: pairs the protocol did not query only contribute false negatives, as in the official code.

Protocols (``protocol=`` task argument, recorded in every manifest):
* ``direct``: the detection prompt for every image × category ("No Objects" = no boxes);
* ``two-stage``: the evaluated model first answers our existence question (tasks.detection.prompt),
  and is asked for boxes only where it says yes;
* ``exist-map=FILE``: replay an official exist map (``{"<image_id>": [category names]}``); a map that
  misses task images is refused (`check_protocol_inputs`: strict below ``exist_map_min_coverage``,
  default 1, official for any image) and its coverage is recorded (`tasks.detection.coverage`);
  ``exist-map=2B`` / ``exist-map=7B`` name the official baseline map of the task's dataset where
  ``vrft data fetch`` puts it (`official_exist_map`);
* ``oracle``: query only the categories present in the ground truth (the first official release).

Scoring reads each completion once per reading: strict hands the reward's reading
(`StrictDetection.parse`) to the metric (`tasks.detection.metric.strict_results`); official keeps the
official repository's two readings, the reward's (`OfficialDetection.parse`) and the eval's
(`official_eval_results`), each done once.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from tasks.base import FamilyTask, Request, TaskScore, check_ids, score_record
from tasks.data import DataError
from tasks.data.detection import DetectionData, load_coco_detection, load_lvis_detection
from tasks.detection.coverage import ExistMapCoverage, coverage_fraction
from tasks.detection.metric import (
    detection_metrics,
    official_eval_results,
    reward_means,
    strict_results,
    suspects,
)
from tasks.detection.prompt import detection_prompt, existence_prompt, says_yes
from tasks.detection.rewards import VERIFIERS, DetectionTarget
from tasks.spec import Kind, Profile

log = logging.getLogger("vrft.tasks")
PROTOCOLS = ("direct", "two-stage", "oracle", "exist-map=FILE", "exist-map=2B", "exist-map=7B")
EVAL_ANNOTATIONS = {"coco": "coco/annotations/instances_val2017.json", "lvis": "lvis/annotations/lvis_v1_val.json"}
"""Dataset -> its evaluation annotation file, relative to the data root."""
OFFICIAL_EXIST_MAPS = ("2B", "7B")
"""The official repository's exist maps: one per dataset and baseline size (``{coco,lvis}_evaluation/``)."""


def official_exist_map(data_root: Path, dataset: str, size: str) -> Path:
    """Where the official `size` (2B/7B) baseline exist map of `dataset` (coco/lvis) lives under the data root:
    ``DIR/<dataset>/exist_map_<dataset>_Qwen2_vl_<size>_baseline.json`` (the official file name, beside the
    dataset's annotations; `vrft data fetch` puts it there and ``protocol=exist-map=<size>`` reads it)."""
    return Path(data_root) / dataset / f"exist_map_{dataset}_Qwen2_vl_{size}_baseline.json"


@dataclass(frozen=True)
class DetectionSpec:
    """A detection benchmark: which annotation file and which categories (by name, in paper order).

    `novel`/`base` split the categories for the open-vocabulary summary (mAPn/mAPb/mAPall).
    """

    dataset: str  # "coco" | "lvis"
    categories: tuple[str, ...]
    novel: tuple[str, ...] = ()
    base: tuple[str, ...] = ()


class DetectionTask(FamilyTask):
    kind = Kind.DETECTION
    verifiers = VERIFIERS

    def __init__(
        self,
        name: str,
        version: str,
        spec: DetectionSpec,
        data_root: Path,
        *,
        protocol: str = "direct",
        prompt: str = "strict",
        limit: int | None = None,
        max_new_tokens: int = 1024,
        exist_map_min_coverage: float | str = 1.0,
    ) -> None:
        self.name, self.version, self.spec = name, version, spec
        self.data_root = Path(data_root)
        self.protocol, self.exist_map_path = _parse_protocol(protocol)
        self.official_map = str(self.exist_map_path) in OFFICIAL_EXIST_MAPS  # exist-map=2B|7B
        if self.exist_map_path is not None and self.official_map:
            self.exist_map_path = official_exist_map(self.data_root, spec.dataset, str(self.exist_map_path))
        self.prompt_style = prompt
        detection_prompt("x", prompt)  # validates the style now, not at the first request
        self.limit = limit
        self.max_new_tokens = max_new_tokens
        self.min_coverage = coverage_fraction(name, exist_map_min_coverage)
        self.args: dict[str, Any] = {"protocol": protocol, "prompt": prompt, "limit": limit}
        if self.min_coverage != 1.0:
            self.args["exist_map_min_coverage"] = self.min_coverage

    # ---- data -------------------------------------------------------------------------------

    @property
    def eval_annotations(self) -> Path:
        """The evaluation annotation file under the data root (what `data` reads)."""
        return self.data_root / EVAL_ANNOTATIONS[self.spec.dataset]

    @cached_property
    def data(self) -> DetectionData:
        root = self.data_root
        if self.spec.dataset == "coco":
            return load_coco_detection(self.eval_annotations, root / "coco/val2017")
        return load_lvis_detection(self.eval_annotations, [root / "lvis", root / "coco"])

    @cached_property
    def category_ids(self) -> dict[str, int]:
        return {name: self.data.category_id(name) for name in self.spec.categories}

    @cached_property
    def image_ids(self) -> list[int]:
        ids = list(self.data.images)
        return ids[: self.limit] if self.limit is not None else ids

    @cached_property
    def exist_map(self) -> dict[str, list[str]]:
        path = self.exist_map_path
        assert path is not None
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            fetch = f" (`vrft data fetch --tasks {self.name} --data-root {self.data_root}` puts it there)"
            raise DataError(f"{self.name}: exist map not found: {path}{fetch if self.official_map else ''}") from None
        except json.JSONDecodeError as err:
            raise DataError(f"{self.name}: exist map {path} is not valid JSON: {err}") from None
        if not isinstance(raw, dict) or not all(isinstance(v, list) for v in raw.values()):
            raise DataError(f'{self.name}: exist map {path}: expected {{"<image_id>": [category names]}}')
        return raw

    @cached_property
    def exist_map_coverage(self) -> ExistMapCoverage:
        """How the exist map lines up with the task's images and the dataset's categories (logged once:
        category names that match no category of the dataset)."""
        names = set(self.data.categories.values())
        cov = ExistMapCoverage.of(self.exist_map_path or "", self.exist_map, self.image_ids, self.data.images, names)
        if cov.unknown_categories:
            log.warning("%s", cov.unknown_warning(self.name, self.eval_annotations))
        return cov

    def check_protocol_inputs(self, profile: Profile | str = Profile.STRICT) -> None:
        """Refuse protocol inputs that do not match the dataset (so a wrong file cannot give an all-zero
        table): an exist map must have an entry for every task image in the official profile (the official
        script indexes ``exist_map[str(image_id)]``), and for `min_coverage` of them in strict."""
        if self.protocol != "exist-map":
            return
        cov = self.exist_map_coverage
        official = Profile.parse(profile) is Profile.OFFICIAL
        if not cov.missing_ids or (not official and cov.fraction >= self.min_coverage):
            return
        raise DataError(cov.error(self.name, self.eval_annotations, self.min_coverage, official))

    def protocol_coverage(self) -> dict[str, Any] | None:
        """What the run manifest and ``metrics.json`` record about the protocol input (None: no input)."""
        return self.exist_map_coverage.as_dict() if self.protocol == "exist-map" else None

    # ---- requests ---------------------------------------------------------------------------

    def pairs(self) -> Iterator[tuple[int, int, str]]:
        """(image_id, category_id, name) in annotation-image order, categories in id order."""
        cats = sorted(self.category_ids.items(), key=lambda kv: kv[1])
        for image_id in self.image_ids:
            for name, cat_id in cats:
                yield image_id, cat_id, name

    def _detection_request(self, image_id: int, cat_id: int, name: str) -> Request:
        prompt = detection_prompt(name, self.prompt_style)
        return Request(
            request_id=f"{image_id}:{cat_id}",
            image=self.data.images[image_id],
            text=prompt.text,
            system=prompt.system,
            max_new_tokens=self.max_new_tokens,
            solution=self.solution(image_id, cat_id),
        )

    def solution(self, image_id: int, cat_id: int) -> str:
        """The target in the paper's training format (0–1000 integers), as the official reward reads it."""
        ref = self.data.images[image_id]
        boxes = DetectionTarget.from_pixels(self.data.gt_boxes(image_id, cat_id), ref.width, ref.height).boxes
        if not boxes:
            return "<answer>No Objects</answer>"
        items = ", ".join(
            "{'Position': [%d, %d, %d, %d], 'Confidence': 1}" % tuple(round(v) for v in b)  # noqa: UP031
            for b in boxes
        )
        return f"<answer>[{items}]</answer>"

    def requests(self) -> Iterator[Request]:
        self.check_protocol_inputs(Profile.STRICT)  # the official profile's check: the harness, and `score`
        for image_id, cat_id, name in self.pairs():
            if self.protocol == "direct":
                yield self._detection_request(image_id, cat_id, name)
            elif self.protocol == "oracle":
                if cat_id in self.data.present(image_id):
                    yield self._detection_request(image_id, cat_id, name)
            elif self.protocol == "exist-map":
                if name in self.exist_map.get(str(image_id), ()):
                    yield self._detection_request(image_id, cat_id, name)
            else:  # two-stage: existence questions first
                prompt = existence_prompt(name)
                yield Request(
                    request_id=f"exist/{image_id}:{cat_id}",
                    image=self.data.images[image_id],
                    text=prompt.text,
                    system=prompt.system,
                    max_new_tokens=256,
                    stage=1,
                )

    def followup_requests(self, stage1: Mapping[str, str]) -> Iterator[Request]:
        if self.protocol != "two-stage":
            return
        for image_id, cat_id, name in self.pairs():
            answer = stage1.get(f"exist/{image_id}:{cat_id}")
            if answer is not None and says_yes(answer):
                yield self._detection_request(image_id, cat_id, name)

    # ---- scoring ----------------------------------------------------------------------------

    def score(self, generations: Mapping[str, str], profile: Profile) -> TaskScore:
        profile = Profile.parse(profile)
        self.check_protocol_inputs(profile)
        stage1_ids = [r.request_id for r in self.requests()] if self.protocol == "two-stage" else []
        detection = list(self.followup_requests(generations)) if stage1_ids else list(self.requests())
        missing, unknown = check_ids([*stage1_ids, *(r.request_id for r in detection)], generations)
        official = profile is Profile.OFFICIAL
        verifier = self.verifier(profile)
        results: list[dict[str, Any]] = []
        samples: list[dict[str, Any]] = []
        failures: Counter[str] = Counter()
        counters: Counter[str] = Counter()
        for req in detection:
            text = generations.get(req.request_id)
            if text is None:
                continue
            image_id, cat_id = (int(x) for x in req.request_id.split(":"))
            ref = self.data.images[image_id]
            parsed = verifier.parse(text)  # the reward's reading, done once
            if official:
                target: Any = req.solution
                conv = official_eval_results(text, image_id, cat_id, ref.width, ref.height)  # the eval's reading
            else:
                target = DetectionTarget.from_pixels(self.data.gt_boxes(image_id, cat_id), ref.width, ref.height)
                conv = strict_results(parsed, image_id, cat_id, ref.width, ref.height)
            results.extend(conv.results)
            counters["errors"] += conv.error_count
            counters["malformed_items"] += conv.n_malformed
            counters["degenerate_boxes"] += conv.n_degenerate
            if conv.failure:
                failures[conv.failure] += 1
            s = verifier.score_parsed(parsed, target)
            samples.append(score_record(req.request_id, s.components, s.parse, n_results=len(conv.results)))
        from tasks.metrics.coco import OfficialEvaluatorError

        try:
            metrics = self._metrics(results, profile)
        except OfficialEvaluatorError as err:
            raise OfficialEvaluatorError(f"{self.name}: {err}{suspects(results, generations)}") from err
        metrics.update(
            protocol=self.protocol,
            n_requests=len(stage1_ids) + len(detection),
            n_detection_requests=len(detection),
            n_results=len(results),
            parse_failures=dict(sorted(failures.items())),
            **{k: counters[k] for k in ("errors", "malformed_items", "degenerate_boxes")},
        )
        coverage = self.protocol_coverage()
        if coverage is not None:
            metrics["exist_map_coverage"] = coverage
            if coverage["unknown_categories"]:
                metrics["warnings"].append(self.exist_map_coverage.unknown_warning(self.name, self.eval_annotations))
        metrics["reward_mean"] = reward_means(samples, verifier.components)
        return TaskScore(metrics, samples, missing, unknown, inputs={"results": results})

    def _metrics(self, results: list[dict[str, Any]], profile: Profile) -> dict[str, Any]:
        spec = self.spec
        return detection_metrics(
            self.data, spec.dataset, self.category_ids, spec.categories, (spec.novel, spec.base),
            self.image_ids, results, profile,
        )  # fmt: skip


def _parse_protocol(protocol: str) -> tuple[str, Path | None]:
    if protocol in ("direct", "two-stage", "oracle"):
        return protocol, None
    if protocol.startswith("exist-map="):
        return "exist-map", Path(protocol.split("=", 1)[1])
    raise ValueError(f"unknown detection protocol {protocol!r}: expected one of {PROTOCOLS}")
