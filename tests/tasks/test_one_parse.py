"""A task's scorer and its trainer take the same verifier from the task, and `score()` reads each completion
once per reading: the strict reward and the strict metric share one parse (ARCHITECTURE, "Where a fact lives")."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import tasks.detection.rewards as detection_rewards
import tasks.grounding.rewards as grounding_rewards
import tasks.rewards as skeleton
from tasks.registry import get_task
from tasks.spec import Kind, Profile
from tasks.verifiers import get_verifier

TASKS = ("coco_fewshot", "fgvc_pets37", "lisa_grounding")


def answers(task: Any) -> dict[str, str]:
    """The solution as the answer for even requests, a broken answer for every third, no tag for the rest."""
    gens = {}
    for i, r in enumerate(task.requests()):
        if i % 3 == 0:
            gens[r.request_id] = "<think>x</think>" + r.solution
        elif i % 3 == 1:
            gens[r.request_id] = "<think>x</think><answer>[{'Position': [1, 2</answer>"
        else:
            gens[r.request_id] = "I think it is (10,20),(300,400)"
    return gens


@pytest.mark.parametrize("name", TASKS)
@pytest.mark.parametrize("profile", list(Profile))
def test_task_verifier_is_the_verifier_of_its_kind(name: str, profile: Profile, tmp_path: Path) -> None:
    task = get_task(name, tmp_path / "no-data")  # handing out the verifier loads nothing
    ours, theirs = task.verifier(profile), get_verifier(task.kind, profile)
    assert type(ours) is type(theirs) and ours == theirs
    assert ours.components == theirs.components
    if profile is Profile.OFFICIAL:
        assert task.verifier(profile, math_verify=False) == get_verifier(task.kind, profile, math_verify=False)
    with pytest.raises(ValueError, match="bad option"):
        task.verifier(profile, no_such_option=1)


class _Spy:
    """Forwards to a verifier and counts its calls."""

    def __init__(self, inner: Any, calls: Counter[str]) -> None:
        self._inner, self._calls = inner, calls

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._inner, name)
        if name in ("parse", "score_parsed", "score"):

            def counted(*args: Any, **kwargs: Any) -> Any:
                self._calls[name] += 1
                return value(*args, **kwargs)

            return counted
        return value


@pytest.mark.parametrize("name", TASKS)
@pytest.mark.parametrize("profile", list(Profile))
def test_score_reads_each_completion_once(
    name: str, profile: Profile, synth_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    task = get_task(name, synth_root)
    gens = answers(task)
    expected = task.score(gens, profile)
    calls: Counter[str] = Counter()
    real = type(task).verifier.__get__(task)
    monkeypatch.setattr(task, "verifier", lambda *a, **k: _Spy(real(*a, **k), calls), raising=False)
    blocks: Counter[str] = Counter()
    real_extract = skeleton.extract_answer
    monkeypatch.setattr(skeleton, "extract_answer", lambda text: blocks.update([text]) or real_extract(text))
    got = task.score(gens, profile)
    assert got.metrics == expected.metrics and got.samples == expected.samples
    n = len(got.samples)
    assert n == len(gens)
    # classification reports the strict accuracy beside the official one: in the official profile it reads
    # each completion twice, once per reading (the official reward's, the strict one)
    side_by_side = task.kind is Kind.CLASSIFICATION and profile is Profile.OFFICIAL
    assert calls["parse"] == n * (2 if side_by_side else 1)
    assert calls["score_parsed"] >= n and calls["score"] == 0
    if profile is Profile.STRICT or side_by_side:  # one strict reading, shared by reward and metric
        assert sum(blocks.values()) == n and set(blocks) == set(gens.values())
    else:  # the official readings are the official code's own, not the strict answer block
        assert sum(blocks.values()) == 0


def test_strict_detection_metric_and_reward_share_one_box_reading(
    synth_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    task = get_task("coco_fewshot", synth_root)
    gens = answers(task)
    expected = task.score(gens, Profile.STRICT)
    seen: Counter[str] = Counter()
    real = detection_rewards.parse_strict
    monkeypatch.setattr(detection_rewards, "parse_strict", lambda text: seen.update([text]) or real(text))
    got = task.score(gens, Profile.STRICT)
    assert got.metrics == expected.metrics
    read = sum(1 for text in gens.values() if "<answer>" in text)
    assert sum(seen.values()) == read  # every answer block read once, by the reward's reader


def test_strict_grounding_metric_iou_is_the_reward(synth_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    task = get_task("lisa_grounding", synth_root)
    gens = answers(task)
    seen: Counter[str] = Counter()
    real = grounding_rewards.parse_box_strict
    monkeypatch.setattr(grounding_rewards, "parse_box_strict", lambda text: seen.update([text]) or real(text))
    got = task.score(gens, Profile.STRICT)
    assert sum(seen.values()) == sum(1 for text in gens.values() if "<answer>" in text)
    for s in got.samples:
        assert s["eval_iou"] == pytest.approx(s["accuracy"], abs=1e-10)
