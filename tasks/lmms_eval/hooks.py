"""Hooks named by the vrft lmms-eval task files (``!function tasks.lmms_eval.hooks.<name>``).

What happens inside lmms-eval 0.7.3:

1. ``dataset_path: json`` loads ``placeholder.jsonl`` (one row, beside the YAML files: no hub access) and
   the task's ``process_docs`` (``docs_<task>``) replaces it with one document per vrft `Request` of
   ``get_task(name, $VRFT_DATA_ROOT, **args).requests()``: request_id, image_path, text, system,
   max_new_tokens, solution, and ``vrft`` (the task's identity: name, data root, arguments, profile).
2. ``doc_to_visual`` + ``doc_to_text`` (lmms-eval "simple" models) or ``doc_to_messages`` ("chat"
   models) render the request: the image, then the vrft prompt text, in one user turn; the system turn
   only where the vrft task sets one (otherwise the chat template's default).
3. ``process_results`` passes ``(request_id, text)`` through, unchanged, under each metric of the task.
4. ``aggregate_<metric>`` receives every document's pair after lmms-eval gathered them (all ranks), calls
   the vrft task's ``score()`` once (cached for the task's other metrics) and returns the metric: the
   corpus metrics (COCO / LVIS mAP through pycocotools / lvis) are computed here, on the whole set.

Nothing here is written per task: ``docs_<task>`` and ``aggregate_<metric>`` are made on first use for
every row of `tasks.registry` (module ``__getattr__``), and the task files are generated from the same
rows (`tasks.lmms_eval.generate`, ``vrft lmms-yaml``).

So parsing and metrics are `tasks.*` code, the same as ``vrft score``. Settings come from the
environment, read when lmms-eval builds the task (and recorded in every document):

* ``VRFT_DATA_ROOT`` (required): the data root of ``vrft eval --data-root``.
* ``VRFT_TASK_ARGS`` (optional): task arguments as ``vrft --task-arg`` takes them, ``;``-separated;
  ``KEY=VALUE`` applies to every vrft task that accepts it, ``SCOPE:KEY=VALUE`` to one task, group or
  family (``limit=50;coco_ov:split=ovr48_17;detection:protocol=oracle``).
* ``VRFT_PROFILE`` (optional): the scoring profile, ``strict`` (default) or ``official``.

Requests that lmms-eval did not run (its ``--limit`` / ``--offset``) count as wrong answers, as with
``vrft score --allow-missing``; the ``missing`` metric reports how many. ``VRFT_TASK_ARGS=limit=K``
shrinks the benchmark itself instead. This module imports neither lmms_eval nor torch.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from PIL import Image

from tasks.base import Task, TaskScore
from tasks.chat import LMMS, chat_messages
from tasks.registry import TASKS, get_task
from tasks.spec import Profile
from tasks.task_args import parse_task_arg, resolve_task_args

log = logging.getLogger("vrft.lmms_eval")

ENV_DATA_ROOT = "VRFT_DATA_ROOT"
ENV_TASK_ARGS = "VRFT_TASK_ARGS"
ENV_PROFILE = "VRFT_PROFILE"

METRICS: dict[str, tuple[str, ...]] = {name: (*info.lmms_metrics, "missing") for name, info in TASKS.items()}
"""The lmms-eval metrics of each vrft task: its registry row's `lmms_metrics` (keys of ``TaskScore.metrics``)
and ``missing`` (requests lmms-eval did not run). Each generated task file lists exactly these."""


@dataclass(frozen=True)
class Settings:
    """Which vrft task a document belongs to and how it is scored; `args` sorted (key, value) pairs."""

    task: str
    data_root: str
    args: tuple[tuple[str, str], ...] = ()
    profile: str = "strict"

    def key(self) -> str:
        """The JSON form stored in every document (``doc["vrft"]``)."""
        body = {"task": self.task, "data_root": self.data_root, "args": dict(self.args), "profile": self.profile}
        return json.dumps(body, sort_keys=True)

    @classmethod
    def from_key(cls, key: str) -> Settings:
        return _settings_from_key(key)

    def build(self) -> Task:
        """The vrft task (cached: detection ground truth is loaded once per process)."""
        return _build_task(self)


@lru_cache(maxsize=256)
def _settings_from_key(key: str) -> Settings:
    try:
        body = json.loads(key)
        return Settings(body["task"], body["data_root"], tuple(sorted(body["args"].items())), body["profile"])
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as err:
        raise ValueError(f"not a vrft document key (doc['vrft']): {key[:200]!r}: {err}") from None


_BUILD_LOCK = threading.Lock()


@lru_cache(maxsize=16)
def _build_task_cached(settings: Settings) -> Task:
    return get_task(settings.task, settings.data_root, **dict(settings.args))


def _build_task(settings: Settings) -> Task:
    with _BUILD_LOCK:  # lmms-eval calls process_results from worker threads
        return _build_task_cached(settings)


def parse_task_args(spec: str, task: str) -> dict[str, str]:
    """The arguments of `task` in a ``VRFT_TASK_ARGS`` value (``;``-separated ``[SCOPE:]KEY=VALUE``, SCOPE a
    task, group or family), as ``vrft eval --task-arg`` reads them (`tasks.task_args.parse_task_arg` and
    `resolve_task_args`): the most specific scope wins whatever the order; an unscoped argument this task
    does not accept is left to the others. Raises ValueError naming the item."""
    args: dict[str, str] = {}
    for raw in spec.split(";"):
        if raw.strip():
            key, value = parse_task_arg(raw.strip(), option=ENV_TASK_ARGS)
            args[key] = value
    return resolve_task_args(task, args)


def settings_from_env(task: str, environ: Mapping[str, str] | None = None) -> Settings:
    """The settings of vrft task `task` from ``VRFT_DATA_ROOT`` / ``VRFT_TASK_ARGS`` / ``VRFT_PROFILE``."""
    env = os.environ if environ is None else environ
    root = env.get(ENV_DATA_ROOT, "").strip()
    if not root:
        raise ValueError(
            f"vrft_{task}: {ENV_DATA_ROOT} is not set: export {ENV_DATA_ROOT}=/path/to/data (the folder "
            "`vrft data check --data-root` accepts; `vrft data synth DIR` writes a synthetic one)"
        )
    if not Path(root).is_dir():
        raise ValueError(f"vrft_{task}: {ENV_DATA_ROOT}={root!r} is not a directory")
    profile = Profile.parse(env.get(ENV_PROFILE, "").strip() or "strict").value
    args = parse_task_args(env.get(ENV_TASK_ARGS, ""), task)
    return Settings(task, str(Path(root).resolve()), tuple(sorted(args.items())), profile)


# ---- documents ----------------------------------------------------------------------------------


def request_docs(settings: Settings) -> list[dict[str, Any]]:
    """One lmms-eval document per request of the task's (only) stage."""
    task = settings.build()
    if getattr(task, "protocol", None) == "two-stage":
        raise ValueError(
            f"vrft_{settings.task}: protocol=two-stage asks for boxes only where the model said yes, a second "
            "round lmms-eval cannot express: use protocol=direct, oracle or exist-map=FILE here, or `vrft eval`"
        )
    key = settings.key()
    docs = [
        {
            "request_id": r.request_id,
            "image_path": str(r.image.path),
            "text": r.text,
            "system": r.system,
            "max_new_tokens": r.max_new_tokens,
            "solution": r.solution,
            "vrft": key,
        }
        for r in task.requests()
    ]
    if not docs:
        raise ValueError(f"vrft_{settings.task}: the task has no requests (data root {settings.data_root})")
    return docs


def _process_docs(task: str) -> Callable[[Any], Any]:
    def process_docs(dataset: Any) -> Any:
        """Replace the placeholder dataset with the task's requests (a `datasets.Dataset`)."""
        from datasets import Dataset  # present wherever lmms-eval is; not needed by the rest of tasks/

        return Dataset.from_list(request_docs(settings_from_env(task)))

    process_docs.__name__ = process_docs.__qualname__ = f"docs_{task}"
    return process_docs


# ---- rendering ----------------------------------------------------------------------------------


def open_rgb(path: str | Path) -> Image.Image:
    """The image as RGB, RGBA pasted on white: the same conversion as `harness.backends.images.to_rgb`
    (qwen_vl_utils'), without the resize, which stays the model's image policy."""
    with Image.open(path) as im:
        im.load()
        if im.mode == "RGBA":
            background = Image.new("RGB", im.size, (255, 255, 255))
            background.paste(im, mask=im.split()[3])
            return background
        return im.convert("RGB")


def doc_to_visual(doc: Mapping[str, Any], lmms_eval_specific_kwargs: Mapping[str, Any] | None = None) -> list[Any]:
    return [open_rgb(doc["image_path"])]


def doc_to_text(doc: Mapping[str, Any], lmms_eval_specific_kwargs: Mapping[str, Any] | None = None) -> str:
    text: str = doc["text"]
    return text


def doc_to_messages(
    doc: Mapping[str, Any], lmms_eval_specific_kwargs: Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    """[system turn if the task sets one] + user turn = [image, text], as vrft's backends send it."""
    return chat_messages(doc["text"], doc.get("system"), open_rgb(doc["image_path"]), LMMS)


# ---- results and metrics ------------------------------------------------------------------------


def process_results(doc: Mapping[str, Any], results: Sequence[Any]) -> dict[str, dict[str, str]]:
    """``{metric: {"vrft", "request_id", "text"}}`` for every metric of the document's task."""
    first = results[0] if results else ""
    text = first if isinstance(first, str) else str(getattr(first, "text", first) or "")
    item = {"vrft": doc["vrft"], "request_id": doc["request_id"], "text": text}
    return {metric: item for metric in METRICS[Settings.from_key(doc["vrft"]).task]}


def score_items(items: Sequence[Mapping[str, str]]) -> TaskScore:
    """The vrft `TaskScore` of gathered `process_results` items (one task), cached per item set."""
    if not items:
        raise ValueError("vrft lmms-eval aggregation: no results to score")
    keys = {it["vrft"] for it in items}
    if len(keys) != 1:
        raise ValueError(f"vrft lmms-eval aggregation: results of {len(keys)} different task settings in one metric")
    generations: dict[str, str] = {}
    for it in items:
        rid, text = it["request_id"], it["text"]
        if generations.setdefault(rid, text) != text:
            raise ValueError(f"vrft lmms-eval aggregation: request {rid!r} has two different generations")
    return _score_cached(keys.pop(), tuple(sorted(generations.items())))


@lru_cache(maxsize=8)
def _score_cached(key: str, generations: tuple[tuple[str, str], ...]) -> TaskScore:
    settings = Settings.from_key(key)
    result = settings.build().score(dict(generations), settings.profile)  # type: ignore[arg-type]
    if result.unknown:
        raise ValueError(
            f"vrft_{settings.task}: {len(result.unknown)} generation(s) match no request of the task "
            f"(e.g. {result.unknown[0]!r}): were the documents built with other VRFT_TASK_ARGS?"
        )
    if result.missing:
        log.warning(
            "vrft_%s: %d of %d request(s) were not run (lmms-eval --limit/--offset) and count as wrong, as with "
            "`vrft score --allow-missing`; VRFT_TASK_ARGS=limit=K makes a smaller benchmark instead",
            settings.task,
            len(result.missing),
            len(result.missing) + len(generations),
        )
    log.info("vrft_%s (%s profile): %s", settings.task, settings.profile, json.dumps(result.metrics, default=str))
    return result


def metric_value(result: TaskScore, metric: str) -> Any:
    """One lmms-eval metric of a vrft score (None where the task has no value, e.g. an empty split)."""
    if metric == "missing":
        return len(result.missing)
    return result.metrics.get(metric)


def _aggregate(metric: str) -> Callable[[Sequence[Mapping[str, str]]], Any]:
    def aggregate(items: Sequence[Mapping[str, str]]) -> Any:
        return metric_value(score_items(items), metric)

    aggregate.__name__ = aggregate.__qualname__ = f"aggregate_{metric}"
    return aggregate


@cache
def _hook(name: str) -> Callable[..., Any]:
    """``docs_<task>`` (process_docs of a registry task) or ``aggregate_<metric>`` (any task's metric)."""
    kind, _, arg = name.partition("_")
    if kind == "docs" and arg in TASKS:
        return _process_docs(arg)
    if kind == "aggregate" and any(arg in metrics for metrics in METRICS.values()):
        return _aggregate(arg)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __getattr__(name: str) -> Callable[..., Any]:
    """The per-task and per-metric hooks the task files name, made from the registry on first use (one
    object per name, so lmms-eval and pickle see a stable function): ``docs_<task>``, ``aggregate_<metric>``."""
    if name.startswith(("docs_", "aggregate_")):
        return _hook(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
