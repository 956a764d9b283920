"""Task arguments, unscoped or scoped to a task, group or family: ``--task-arg [SCOPE:]KEY=VALUE``.

``vrft eval``, ``vrft score``, ``vrft viz`` and the lmms-eval hooks read task arguments the same way:
`parse_task_arg` turns one option into a key (``key`` or ``scope:key``), `resolve_task_args` picks a
task's share (the most specific scope wins), `check_task_args` refuses what no selected task accepts,
and `build_tasks` builds the selected tasks with their shares. What each task accepts comes from its
registry row's builder (`tasks.registry.accepted_task_args`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from tasks.base import Task
from tasks.registry import GROUPS, TASKS, accepted_task_args, get_task
from tasks.spec import Kind

SCOPE_SEP = ":"
"""``--task-arg coco_ov:split=ovr48_17`` is stored as the key ``coco_ov:split``."""


def scope_members(scope: str) -> tuple[str, ...]:
    """The tasks a scope names: a task, a group (``fgvc``, ``detection``) or a family (``grounding``)."""
    if scope in TASKS:
        return (scope,)
    if scope in GROUPS:
        return tuple(GROUPS[scope])
    if scope in {k.value for k in Kind}:
        return tuple(n for n, t in TASKS.items() if t.kind.value == scope)
    raise ValueError(
        f"unknown vrft task, group or family {scope!r}: expected a task {sorted(TASKS)}, a group {sorted(GROUPS)} "
        f"or a family {sorted(k.value for k in Kind)}"
    )


def _specificity(scope: str) -> int:
    return 3 if scope in TASKS else 2 if scope in GROUPS else 1 if scope else 0


def parse_task_arg(item: str, *, option: str = "--task-arg") -> tuple[str, str]:
    """``"[SCOPE:]KEY=VALUE"`` -> (``"[SCOPE:]key"``, value); `KEY` dashes become underscores."""
    lhs, sep, value = item.partition("=")
    scope, colon, key = lhs.rpartition(SCOPE_SEP) if SCOPE_SEP in lhs else ("", "", lhs)
    key, scope = key.strip().replace("-", "_"), scope.strip()
    if not sep or not key or (colon and not scope):
        raise ValueError(
            f"{option} {item!r}: expected KEY=VALUE or SCOPE:KEY=VALUE with SCOPE a task, group or family "
            "(e.g. limit=50, coco_ov:split=ovr48_17, detection:protocol=oracle)"
        )
    if scope:
        try:
            scope_members(scope)
        except ValueError as err:
            raise ValueError(f"{option} {item!r}: {err}") from None
    return (f"{scope}{SCOPE_SEP}{key}" if scope else key), value.strip()


def resolve_task_args(name: str, args: Mapping[str, Any]) -> dict[str, Any]:
    """The arguments of task `name` among `args` (keys ``key`` or ``scope:key``): the most specific scope
    wins (task over group over family over unscoped, whatever the order); an unscoped argument the task
    does not accept is left to the other tasks (`check_task_args` refuses one that no task accepts)."""
    accepted = accepted_task_args(name)
    chosen: dict[str, tuple[int, Any]] = {}
    for raw, value in args.items():
        scope, _, key = raw.rpartition(SCOPE_SEP)
        if scope and name not in scope_members(scope):
            continue
        if not scope and accepted is not None and key not in accepted and _accepted_anywhere(key):
            continue
        rank = _specificity(scope)
        if key not in chosen or rank > chosen[key][0]:
            chosen[key] = (rank, value)
    return {k: v for k, (_, v) in chosen.items()}


def _accepted_anywhere(key: str) -> bool:
    return any(key in (accepted_task_args(n) or (key,)) for n in TASKS)


def check_task_args(names: Iterable[str], args: Mapping[str, Any]) -> None:
    """Refuse an unscoped argument that none of the tasks `names` accepts, and a scoped one that a task it
    names does not accept; the error lists, per task, the arguments it accepts."""
    names = list(names)
    problems: list[str] = []
    for raw in args:
        scope, _, key = raw.rpartition(SCOPE_SEP)
        members = [n for n in scope_members(scope) if n in names] if scope else names
        if scope and not members:
            problems.append(f"{raw!r}: {scope!r} names none of the selected tasks {names}")
            continue
        taking = [n for n in members if key in (accepted_task_args(n) or (key,))]
        if not taking or (scope and len(taking) < len(members)):
            refused = [n for n in members if n not in taking]
            problems.append(f"{raw!r}: not accepted by {', '.join(refused)}")
    if problems:
        per_task = "; ".join(f"{n}: {', '.join(accepted_task_args(n) or ('(any)',))}" for n in names)
        raise ValueError(f"task argument(s) {'; '.join(problems)}. Accepted per task: {per_task}")


def build_tasks(names: Iterable[str], data_root: Path | str, args: Mapping[str, Any]) -> list[Task]:
    """The tasks `names`, each with its share of the (possibly scoped) task arguments `args`."""
    names = list(names)
    check_task_args(names, args)
    return [get_task(n, data_root, **resolve_task_args(n, args)) for n in names]
