"""Fine-grained classification benchmarks (paper Table 2): one request per test image.

Accuracy is over *all* test images (the official denominator N = 2463 / 3669 / 3333 / 8041): a missing
or unreadable answer counts as wrong. Both readings are reported side by side for the same
generations: ``accuracy_strict`` (normalised exact match) and ``accuracy_official`` (the official eval
matcher: first single-line answer tag, bidirectional substring, PROTOCOL §6.1); ``accuracy`` is the one
of the scoring profile. Each completion is read once per reading: the strict reading
(`StrictClassification.parse`) feeds the strict accuracy and, in the strict profile, the reward; the
official eval's and the official reward's readings are the official repository's own
(`tasks.classification.metric`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from functools import cached_property
from pathlib import Path
from typing import Any

from tasks.base import FamilyTask, Request, TaskScore, check_ids, score_record
from tasks.classification.metric import accuracy_percent, official_eval_match
from tasks.classification.prompt import classification_prompt
from tasks.classification.rewards import VERIFIERS, ClassificationTarget
from tasks.data.classification import ClassificationData, load_classification
from tasks.spec import Kind, Profile


class ClassificationTask(FamilyTask):
    kind = Kind.CLASSIFICATION
    verifiers = VERIFIERS

    def __init__(
        self,
        name: str,
        version: str,
        dataset: str,
        data_root: Path,
        *,
        prompt: str = "strict",
        limit: int | None = None,
        max_new_tokens: int = 1024,
        split: str = "test",
    ) -> None:
        self.name, self.version, self.dataset = name, version, dataset
        self.data_root = Path(data_root)
        self.prompt = classification_prompt(dataset, prompt)
        self.limit, self.max_new_tokens, self.split = limit, max_new_tokens, split
        self.args: dict[str, Any] = {"prompt": prompt, "limit": limit, "split": split}

    @cached_property
    def data(self) -> ClassificationData:
        # an unreadable image costs its request only (the backend records it as failed, with the reason)
        return load_classification(self.dataset, self.data_root, self.split, unreadable_ok=True)

    @cached_property
    def samples(self) -> list[Any]:
        samples = self.data.samples
        return samples[: self.limit] if self.limit is not None else samples

    def requests(self) -> Iterator[Request]:
        for s in self.samples:
            yield Request(
                request_id=s.doc_id,
                image=s.image,
                text=self.prompt.text,
                system=self.prompt.system,
                max_new_tokens=self.max_new_tokens,
                solution=f"<answer>{s.class_name}</answer>",
            )

    def score(self, generations: Mapping[str, str], profile: Profile) -> TaskScore:
        profile = Profile.parse(profile)
        missing, unknown = check_ids((s.doc_id for s in self.samples), generations)
        verifier = self.verifier(profile)
        strict = verifier if profile is Profile.STRICT else self.verifier(Profile.STRICT)
        n_strict = n_official = official_errors = 0
        failures: Counter[str] = Counter()
        samples: list[dict[str, Any]] = []
        for s in self.samples:
            text = generations.get(s.doc_id)
            if text is None:
                failures["missing"] += 1
                continue
            strict_score = strict.score_parsed(strict.parse(text), ClassificationTarget(s.class_name))
            n_strict += strict_score.components["accuracy"] == 1.0
            if strict_score.parse != "ok":
                failures[strict_score.parse] += 1
            match = official_eval_match(text, s.class_name)
            n_official += match.correct
            official_errors += match.error
            if profile is Profile.STRICT:
                reward = strict_score
            else:  # the official reward's own reading
                reward = verifier.score_parsed(verifier.parse(text), f"<answer>{s.class_name}</answer>")
            samples.append(
                score_record(
                    s.doc_id,
                    reward.components,
                    reward.parse,
                    label=s.class_name,
                    correct_strict=strict_score.components["accuracy"] == 1.0,
                    correct_official=match.correct,
                )
            )
        n = len(self.samples)
        acc_strict = accuracy_percent(n_strict, n)
        acc_official = accuracy_percent(n_official, n)
        metrics: dict[str, Any] = {
            "accuracy": acc_strict if profile is Profile.STRICT else acc_official,
            "accuracy_strict": acc_strict,
            "accuracy_official": acc_official,
            "n": n,
            "n_scored": len(samples),
            "parse_failures": dict(sorted(failures.items())),
            "official_error_count": official_errors,
        }
        return TaskScore(metrics, samples, missing, unknown)
