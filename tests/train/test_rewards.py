"""The reward adapter gives exactly the verifier's components, through TRL 1.16's own reward call.

`GRPOTrainer._calculate_rewards` is called unbound on a minimal stand-in trainer, so the keyword
arguments (``prompts``, ``completions``, ``completion_ids``, every dataset column, ``trainer_state``,
``log_extra``, ``log_metric``) are exactly the ones trl 1.16 passes during training.
"""

from __future__ import annotations

import pickle  # noqa: TID251 (round-trips our own in-memory reward objects, never data files)
from types import SimpleNamespace
from typing import Any

import pytest

from tasks.registry import TASKS
from tasks.verifiers import get_verifier
from train_plugin.rewards import RewardComponent, TaskReward, completion_text, task_reward_funcs

DET_SOLUTION = (
    "<answer>[{'Position': [100, 120, 400, 500], 'Confidence': 1}, "
    "{'Position': [600, 50, 900, 300], 'Confidence': 1}]</answer>"
)
CASES: dict[str, tuple[list[str], list[str]]] = {
    "coco_fewshot": (
        [
            "<think>two</think> <answer>[{'Position': [100, 120, 400, 500], 'Confidence': 0.9}, "
            "{'Position': [600, 50, 900, 300], 'Confidence': 0.8}]</answer>",
            "<think>one</think><answer>[{'Position': [110, 125, 395, 490], 'Confidence': 0.7}]</answer>",
            "<think>x</think> <answer>No Objects</answer>",
            "<answer>[{'Position': [1, 2, 3], 'Confidence': 1}]</answer>",
            "no tags at all",
            "<think>none</think> <answer>No Objects</answer>",
            "<think>fp</think> <answer>[{'Position': [0, 0, 10, 10], 'Confidence': 0.3}]</answer>",
            "",
        ],
        [DET_SOLUTION] * 5 + ["<answer>No Objects</answer>"] * 3,
    ),
    "fgvc_aircraft": (
        [
            "<think>wings</think> <answer>737-400</answer>",
            "<think>w</think><answer>737 400</answer>",
            "<answer>737</answer>",
            "<think>w</think> <answer></answer>",
            "737-400",
            "<think>w</think> <answer>A340-300</answer>",
        ],
        ["<answer>737-400</answer>"] * 5 + ["<answer>Falcon 2000</answer>"],
    ),
    "lisa_grounding": (
        [
            "<think>there</think>\n<answer>(100,200),(300,400)</answer>",
            "<think>t</think> <answer>(120,210),(310,380)</answer>",
            "<answer>[100, 200, 300, 400]</answer>",
            "(100,200),(300,400)",
            "<think>t</think> <answer>nothing</answer>",
        ],
        ["<answer> (100,200),(300,400) </answer>"] * 5,
    ),
}


def _trl_rewards(funcs: list[Any], completions: list[Any], solutions: list[str]) -> list[list[float]]:
    """Run trl 1.16's `GRPOTrainer._calculate_rewards` (unbound) on a stand-in trainer."""
    import torch
    from trl import GRPOTrainer

    n = len(completions)
    prompts = [[{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "q"}]}]] * n
    inputs = [{"prompt": p, "image": None, "problem": "q", "solution": s}
              for p, s in zip(prompts, solutions, strict=True)]
    fake = SimpleNamespace(
        accelerator=SimpleNamespace(device=torch.device("cpu"), is_main_process=True),
        args=SimpleNamespace(report_to=[]),
        state=SimpleNamespace(global_step=0),
        reward_funcs=funcs,
        reward_processing_classes=[None] * len(funcs),
        reward_func_names=[f.__name__ for f in funcs],
        _log_completion_extra=lambda *a, **k: None,
        _log_metric=lambda *a, **k: None,
        environments=None,
    )
    out = GRPOTrainer._calculate_rewards(fake, inputs, prompts, completions, [[0]] * n)  # type: ignore[arg-type]
    return out.tolist()


@pytest.mark.parametrize("task", sorted(CASES))
@pytest.mark.parametrize("profile", ["strict", "official"])
@pytest.mark.parametrize("as_messages", [False, True])
def test_trl_call_equals_verifier(task: str, profile: str, as_messages: bool) -> None:
    texts, solutions = CASES[task]
    funcs, weights = task_reward_funcs(task, profile)
    verifier = get_verifier(TASKS[task].kind, profile)
    assert [f.__name__ for f in funcs] == [f"{task}/{c}" for c in verifier.components]
    assert weights == [1.0] * len(verifier.components)
    completions: list[Any] = [[{"role": "assistant", "content": t}] for t in texts] if as_messages else list(texts)
    got = _trl_rewards(funcs, completions, solutions)
    for row, text, solution in zip(got, texts, solutions, strict=True):
        expected = verifier.score(text, verifier.parse_target(solution)).components
        assert row == pytest.approx([expected[c] for c in verifier.components], abs=1e-6), (text, solution)


def test_pickle_round_trip_keeps_names_and_values() -> None:
    texts, solutions = CASES["coco_fewshot"]
    funcs, _ = task_reward_funcs("coco_fewshot", "strict")
    before = [f(prompts=None, completions=texts, solution=solutions) for f in funcs]
    restored = pickle.loads(pickle.dumps(funcs))
    assert [f.__name__ for f in restored] == [f.__name__ for f in funcs]
    assert [f(prompts=None, completions=texts, solution=solutions) for f in restored] == before
    assert restored[0].reward.__dict__["_memo"] is not None  # a fresh memo, filled by the calls above


def test_each_solution_parsed_once_and_batch_scored_once(monkeypatch: pytest.MonkeyPatch) -> None:
    reward = TaskReward("coco_fewshot", "strict")
    calls = {"parse": 0, "score": 0}
    verifier = reward.verifier
    real_parse, real_score = verifier.parse_target, verifier.score

    class Spy:
        components = verifier.components

        def parse_target(self, s: str) -> Any:
            calls["parse"] += 1
            return real_parse(s)

        def score(self, c: str, t: Any) -> Any:
            calls["score"] += 1
            return real_score(c, t)

    reward.verifier = Spy()
    texts, solutions = CASES["coco_fewshot"]
    for f in reward.funcs():
        f(prompts=None, completions=texts, solution=solutions)
    assert calls == {"parse": len(set(solutions)), "score": len(texts)}


def test_errors_name_the_problem() -> None:
    f = task_reward_funcs("coco_fewshot")[0][0]
    with pytest.raises(ValueError, match="'solution' column"):
        f(prompts=None, completions=["x"])
    with pytest.raises(ValueError, match="coco_fewshot: unparseable solution"):
        f(prompts=None, completions=["x"], solution=["<answer>[{'Position': [1, 2]}]</answer>"])
    with pytest.raises(ValueError, match="unknown task"):
        TaskReward("nope")
    with pytest.raises(ValueError, match="no reward component"):
        RewardComponent(TaskReward("fgvc_aircraft"), "accuracy_iou")


def test_completion_text_shapes() -> None:
    assert completion_text("a") == "a"
    assert completion_text([{"role": "assistant", "content": "b"}]) == "b"
    blocks = [{"type": "text", "text": "c"}, {"type": "text", "text": "d"}]
    assert completion_text([{"role": "assistant", "content": blocks}]) == "cd"
    with pytest.raises(TypeError):
        completion_text(3)


def test_the_reward_grades_with_the_task_verifier(monkeypatch: pytest.MonkeyPatch) -> None:
    from pathlib import Path

    from tasks.registry import get_task

    task = get_task("coco_fewshot", Path("nowhere"))  # no data is read
    own = task.verifier("official")
    asked: list[tuple[Any, dict[str, Any]]] = []

    def verifier(profile: Any, **options: Any) -> Any:
        asked.append((profile, options))
        return own

    monkeypatch.setattr(task, "verifier", verifier)
    reward = TaskReward(task, "official")
    assert reward.verifier is own and asked == [("official", {})]
    assert (reward.task, reward.kind) == ("coco_fewshot", task.kind)
    assert type(TaskReward("coco_fewshot", "official").verifier) is type(own)
