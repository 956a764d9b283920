"""The only training-side reward code: an adapter from a task verifier to TRL reward functions.

Why an adapter and not reward functions: the evaluation scorer and GRPO must grade with the *same* code,
so every number comes from the task's own verifier, ``task.verifier(profile).score(completion, target)``
(the object `Task.score` uses); this module only reshapes it to TRL's batched call (trl 1.16
``GRPOTrainer._calculate_rewards``)::

    reward_func(prompts=[...], completions=[...], completion_ids=[...], **columns,
                trainer_state=..., log_extra=..., log_metric=...) -> list[float | None]

where ``columns`` are the dataset's other columns (here ``solution``, ``image``, ``problem``, ...) repeated per
completion, and each completion is a string or, for conversational prompts, ``[{"role": "assistant",
"content": ...}]``. One function per verifier component, named ``<task>/<component>`` so that TRL logs
``rewards/<task>/<component>/mean``; TRL sums them with `weights` (all 1.0: the paper adds its rewards
unweighted, PROTOCOL §1.5).

TRL calls the component functions one after another on the same batch; the first call scores every
completion once (each distinct solution is parsed once per batch) and the others reuse those scores.
Everything is picklable (multiprocess data loaders, DeepSpeed, spawn): the per-batch memo is dropped
when pickled.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tasks.base import Task, Verifier
from tasks.registry import get_task
from tasks.spec import Kind, Profile, Score


def completion_text(completion: Any) -> str:
    """The assistant text of a TRL completion: a string, or a message list whose last assistant message
    holds a string or ``[{"type": "text", "text": ...}, ...]`` blocks."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, Sequence):
        for message in reversed(completion):
            if isinstance(message, Mapping) and message.get("role", "assistant") == "assistant":
                content = message.get("content")
                if isinstance(content, str):
                    return content
                if isinstance(content, Sequence):
                    return "".join(str(b.get("text", "")) for b in content if isinstance(b, Mapping))
                return ""
    raise TypeError(f"unsupported completion {type(completion).__name__}: expected str or a list of messages")


class TaskReward:
    """A task's verifier, scored once per batch and exposed as one TRL reward function per component.

    `task` is a task, or its name (then built without data: `Task.verifier` reads none). The verifier is the
    task's own (`Task.verifier`, the object its scorer uses); only it is kept, so the task and any data it
    loaded are never pickled."""

    def __init__(self, task: str | Task, profile: str | Profile = Profile.STRICT, **verifier_options: Any) -> None:
        t = get_task(task, Path()) if isinstance(task, str) else task
        self.task: str = t.name
        self.kind: Kind = t.kind
        self.profile = Profile.parse(profile)
        self.verifier_options = dict(verifier_options)
        self.verifier: Verifier = t.verifier(self.profile, **verifier_options)
        self._memo: tuple[tuple[str, ...], tuple[str, ...], list[Score]] | None = None

    @property
    def components(self) -> tuple[str, ...]:
        return tuple(self.verifier.components)

    @property
    def weights(self) -> list[float]:
        """One weight per component function: 1.0 each, the paper's unweighted sum."""
        return [1.0] * len(self.components)

    def funcs(self) -> list[RewardComponent]:
        """The reward functions to hand to ``GRPOTrainer(reward_funcs=...)``, in component order."""
        return [RewardComponent(self, c) for c in self.components]

    def scores(self, completions: Sequence[Any], solutions: Sequence[str]) -> list[Score]:
        """Verifier scores of the batch (memoised for the other components of the same batch)."""
        texts = tuple(completion_text(c) for c in completions)
        sols = tuple(str(s) for s in solutions)
        if len(texts) != len(sols):
            raise ValueError(f"{self.task}: {len(texts)} completions but {len(sols)} solutions")
        if self._memo is not None and self._memo[0] == texts and self._memo[1] == sols:
            return self._memo[2]
        targets: dict[str, Any] = {}
        for sol in dict.fromkeys(sols):  # each distinct solution parsed once per batch
            try:
                targets[sol] = self.verifier.parse_target(sol)
            except ValueError as err:
                raise ValueError(f"{self.task}: unparseable solution {sol[:200]!r}: {err}") from None
        result = [self.verifier.score(t, targets[s]) for t, s in zip(texts, sols, strict=True)]
        self._memo = (texts, sols, result)
        return result

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_memo"] = None
        return state

    def __repr__(self) -> str:
        return f"TaskReward(task={self.task!r}, profile={self.profile.value!r}, components={self.components})"


class RewardComponent:
    """One component of a `TaskReward` with TRL's reward-function signature; ``__name__`` = task/component."""

    def __init__(self, reward: TaskReward, component: str) -> None:
        if component not in reward.components:
            raise ValueError(f"{reward.task}: no reward component {component!r}: expected one of {reward.components}")
        self.reward = reward
        self.component = component
        self.__name__ = f"{reward.task}/{component}"
        self.__doc__ = f"{self.__name__}: `{component}` of {reward.kind.value}/{reward.profile.value} verifier."

    def __call__(
        self,
        prompts: Sequence[Any] | None = None,
        completions: Sequence[Any] | None = None,
        completion_ids: Sequence[Any] | None = None,
        solution: Sequence[str] | None = None,
        **kwargs: Any,
    ) -> list[float]:
        if completions is None:
            raise TypeError(f"{self.__name__}: called without completions")
        if solution is None:
            raise ValueError(
                f"{self.__name__}: no 'solution' column reached the reward function; the training dataset needs "
                "columns image, problem, solution (and GRPOConfig(remove_unused_columns=False))"
            )
        return [float(s.components[self.component]) for s in self.reward.scores(completions, solution)]

    def __repr__(self) -> str:
        return f"RewardComponent({self.__name__!r})"


def task_reward_funcs(
    task: str | Task, profile: str = "strict", **verifier_options: Any
) -> tuple[list[RewardComponent], list[float]]:
    """``(reward_funcs, reward_weights)`` for `GRPOTrainer` / `GRPOConfig` from a task (or its name) and profile."""
    reward = TaskReward(task, profile, **verifier_options)
    return reward.funcs(), reward.weights
