"""The benchmarks of the paper, one row each, by stable name: ``get_task(name, data_root, **args)``.

A row (`TaskInfo`) holds every fact about one benchmark: family, the dataset it reads under the data
root, categories / splits, the metric keys its ``metrics.json`` reports, the headline metric, what its
lmms-eval task reports, where the paper prints it and which keys feed that table's columns, groups,
version and description. Everything else is derived from the rows, never restated:

* `vrft tasks` and the groups (`GROUPS`, `expand_task_names`);
* `tasks.data.layout` (what ``vrft data check`` checks for each task);
* the lmms-eval task and group files (`tasks.lmms_eval.generate`, ``vrft lmms-yaml``) and their hooks;
* the paper tables' metric keys (`paper_metric_keys`, i.e. ``harness.tables.paper.TASK_METRIC_KEYS``),
  the figures' headline metric (`headline_metrics`) and ``vrft score``'s summary (`summary_metric_keys`).

Adding a benchmark of an existing family is one row in `BENCHMARKS` (plus ``vrft lmms-yaml`` to
rewrite the generated lmms-eval files). A task's `version` changes whenever its prompt rendering,
request set or metric changes; it is written into every run manifest and table.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tasks.base import Task
from tasks.classification.task import ClassificationTask
from tasks.data.lisa import LISA_SPLITS
from tasks.detection.categories import COCO_FEWSHOT, LVIS_FEWSHOT, LVIS_OV13, OV_SPLITS
from tasks.detection.task import DetectionSpec, DetectionTask
from tasks.grounding.task import GroundingTask
from tasks.spec import Kind

PER_CLASS = "AP/*"
"""In a row's `paper_keys`: one ``AP/<category>`` key per category of the row, in category order."""
PER_CLASS_PREFIX = "AP/"
"""Detection tasks report the AP of each evaluated category as ``AP/<category>``."""
DEFAULT_MAX_NEW_TOKENS = 1024

Builder = Callable[..., Task]
"""``build(info, data_root, **args) -> Task``: the family's task class, filled from the row."""

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_TABLE = re.compile(r"^Table (\d+)$")


@dataclass(frozen=True)
class TaskInfo:
    """One benchmark: every fact about it that code outside its family module needs.

    name          stable task name (``[a-z][a-z0-9_]*``; lmms-eval task ``vrft_<name>``)
    kind          the task family
    version       bumped when prompt rendering, request set or metric changes
    description   what is evaluated (``vrft tasks``, the lmms-eval task file's comment)
    build         ``build(info, data_root, **args) -> Task`` (the family's task class)
    dataset       the data-root dataset it reads: a key of `tasks.data.layout.DATASETS`
    metric        the metrics in words, for ``vrft tasks``
    metrics       scalar keys of its ``metrics.json`` entry that summaries show, in that order
                  (``vrft score`` also shows the per-class ``AP/<category>`` keys a detection task reports)
    headline      the one number that stands for the task (figures' default, first of the summary)
    lmms_metrics  what its lmms-eval task reports (each one of `metrics`; ``missing`` is added)
    paper         where the paper reports it: ``"Table N"``, ``"appendix"`` or ``""``
    paper_keys    metric keys feeding the columns of that table, in the contract's order
                  (`PER_CLASS` expands to ``AP/<category>`` per category)
    paper_pending of `paper_keys`: columns the task does not produce yet (the table shows "–")
    groups        the groups it belongs to (``paper``, ``fgvc``, ``detection``, ...)
    categories    detection: the categories evaluated (``AP/<category>`` keys)
    splits        the splits it evaluates or selects between (task argument), the default first
    max_new_tokens  the default generation budget of its requests (the lmms-eval task files use it)
    """

    name: str
    kind: Kind
    version: str
    description: str
    build: Builder
    dataset: str
    metric: str
    metrics: tuple[str, ...]
    headline: str
    lmms_metrics: tuple[str, ...]
    paper: str = ""
    paper_keys: tuple[str, ...] = ()
    paper_pending: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    splits: tuple[str, ...] = ()
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS

    def __post_init__(self) -> None:
        def fail(field: str, value: object, fix: str) -> ValueError:
            return ValueError(f"registry row {self.name!r}: {field}={value!r}: {fix}")

        if not _NAME.match(self.name):
            raise fail("name", self.name, "use lower-case letters, digits and '_' (a Python identifier)")
        if self.headline not in self.metrics:
            raise fail("headline", self.headline, f"must be one of metrics {self.metrics}")
        bad = [m for m in self.lmms_metrics if m not in self.metrics or not m.isidentifier() or m == "missing"]
        if bad or not self.lmms_metrics:
            raise fail("lmms_metrics", self.lmms_metrics, f"give identifiers among metrics {self.metrics}")
        if self.paper and self.paper != "appendix" and not _TABLE.match(self.paper):
            raise fail("paper", self.paper, "write 'Table N', 'appendix' or ''")
        if self.paper_keys and self.table is None:
            raise fail("paper_keys", self.paper_keys, "a row with paper columns names its table: paper='Table N'")
        if PER_CLASS in self.paper_keys and not self.categories:
            raise fail("paper_keys", PER_CLASS, "per-class columns need the row's categories")
        unknown = [k for k in self.paper_keys if k not in (*self.metrics, PER_CLASS, *self.paper_pending)]
        if unknown:
            raise fail("paper_keys", unknown, "list them in metrics, or in paper_pending if not produced yet")
        if not set(self.paper_pending) <= set(self.paper_keys) or set(self.paper_pending) & set(self.metrics):
            raise fail("paper_pending", self.paper_pending, "name paper_keys the task does not report (not in metrics)")
        if self.max_new_tokens < 1:
            raise fail("max_new_tokens", self.max_new_tokens, "must be a positive number of tokens")

    @property
    def table(self) -> int | None:
        """The paper table's number (None for the appendix or no table)."""
        m = _TABLE.match(self.paper)
        return int(m.group(1)) if m else None

    @property
    def table_keys(self) -> tuple[str, ...]:
        """`paper_keys` with `PER_CLASS` expanded: the metric keys a paper table may read for this task."""
        out: list[str] = []
        for key in self.paper_keys:
            out += [per_class_key(c) for c in self.categories] if key == PER_CLASS else [key]
        return tuple(out)


def per_class_key(category: str) -> str:
    """The metric key of one detection category's AP: ``AP/<category>``."""
    return PER_CLASS_PREFIX + category


# ---- builders: one per family, filled from the row ------------------------------------------------


def _classification(info: TaskInfo, data_root: Path, **kw: Any) -> Task:
    return ClassificationTask(info.name, info.version, info.dataset, data_root, **kw)


def _detection(info: TaskInfo, data_root: Path, **kw: Any) -> Task:
    return DetectionTask(info.name, info.version, DetectionSpec(info.dataset, info.categories), data_root, **kw)


def _open_vocabulary(info: TaskInfo, data_root: Path, *, split: str | None = None, **kw: Any) -> Task:
    """Novel/base evaluation over a split of `tasks.detection.categories.OV_SPLITS` (argument ``split``)."""
    split = info.splits[0] if split is None else split
    if split not in info.splits:
        choices = " or ".join(repr(s) for s in info.splits)
        raise ValueError(f"{info.name}: split={split!r}: expected {choices} (default {info.splits[0]!r})")
    s = OV_SPLITS[split]
    spec = DetectionSpec(info.dataset, s.categories, novel=s.novel, base=s.base)
    task = DetectionTask(info.name, info.version, spec, data_root, **kw)
    task.args["split"] = split
    return task


def _grounding(info: TaskInfo, data_root: Path, **kw: Any) -> Task:
    return GroundingTask(info.name, info.version, data_root, **kw)


# ---- the benchmarks -------------------------------------------------------------------------------

_ACCURACY = ("accuracy", "accuracy_strict", "accuracy_official")  # the profile's reading, then both
_MAP = ("mAP", "AP50")
_OV = ("mAPn", "mAPb", "mAPall")


def _fgvc(name: str, dataset: str, description: str) -> TaskInfo:
    return TaskInfo(
        name,
        Kind.CLASSIFICATION,
        version="1",
        description=description,
        build=_classification,
        dataset=dataset,
        metric="accuracy",
        metrics=_ACCURACY,
        headline="accuracy",
        lmms_metrics=_ACCURACY,
        paper="Table 2",
        paper_keys=("accuracy",),
        groups=("paper", "fgvc"),
    )


BENCHMARKS: tuple[TaskInfo, ...] = (
    _fgvc("fgvc_flowers102", "flowers102", "Oxford Flowers102, 2463 test images"),
    _fgvc("fgvc_pets37", "pets37", "Oxford-IIIT Pets, 3669 test images"),
    _fgvc("fgvc_aircraft", "aircraft", "FGVC-Aircraft variants, 3333 test images"),
    _fgvc("fgvc_cars196", "cars196", "Stanford Cars, 8041 test images"),
    TaskInfo(
        "coco_fewshot",
        Kind.DETECTION,
        version="1",
        description="COCO val2017, 8 few-shot categories",
        build=_detection,
        dataset="coco",
        metric="AP per class, mAP, AP50",
        metrics=_MAP,
        headline="mAP",
        lmms_metrics=_MAP,
        paper="Table 3",
        paper_keys=("mAP", PER_CLASS),
        groups=("paper", "detection"),
        categories=COCO_FEWSHOT,
    ),
    TaskInfo(
        "lvis_fewshot",
        Kind.DETECTION,
        version="1",
        description="LVIS v1 val, 6 rare categories",
        build=_detection,
        dataset="lvis",
        metric="LVIS AP per class (federated), mAP",
        metrics=_MAP,
        headline="mAP",
        lmms_metrics=_MAP,
        paper="Table 4",
        paper_keys=("mAP", PER_CLASS),
        groups=("paper", "detection"),
        categories=LVIS_FEWSHOT,
    ),
    TaskInfo(
        "coco_ov",
        Kind.DETECTION,
        version="1",
        description="COCO val2017 open vocabulary, 15 novel / 65 base (split=ovr48_17: 17/48)",
        build=_open_vocabulary,
        dataset="coco",
        metric="mAPn, mAPb, mAPall",
        metrics=_MAP + _OV,
        headline="mAPn",
        lmms_metrics=_OV,
        paper="Table 6",
        paper_keys=_OV,
        groups=("paper", "detection"),
        splits=("base65_novel15", "ovr48_17"),
    ),
    TaskInfo(
        "lvis_ov",
        Kind.DETECTION,
        version="1",
        description="LVIS v1 val open vocabulary, 13 rare categories",
        build=_detection,
        dataset="lvis",
        metric="LVIS mAP",
        metrics=_MAP,
        headline="mAP",
        lmms_metrics=_MAP,
        paper="appendix",
        groups=("paper", "detection"),
        categories=LVIS_OV13,
    ),
    TaskInfo(
        "lisa_grounding",
        Kind.GROUNDING,
        version="1",
        description="LISA ReasonSeg val (200) and test (779), first instruction",
        build=_grounding,
        dataset="lisa",
        metric="mIoU (box) val/test; gIoU, cIoU of SAM masks (vrft eval --sam); gIoU_box, cIoU_box (box as mask)",
        # gIoU/cIoU are None until the run holds SAM masks (masks.jsonl); the box-raster ones need no SAM
        metrics=tuple(f"{m}_{s}" for m in ("mIoU", "gIoU", "cIoU", "gIoU_box", "cIoU_box") for s in LISA_SPLITS),
        headline="mIoU_test",
        lmms_metrics=tuple(f"mIoU_{s}" for s in LISA_SPLITS),
        paper="Table 5",
        paper_keys=("mIoU_test", "mIoU_val", "gIoU_test"),
        groups=("paper",),
        splits=LISA_SPLITS,
        max_new_tokens=256,
    ),
)


def _index(rows: Iterable[TaskInfo]) -> dict[str, TaskInfo]:
    out: dict[str, TaskInfo] = {}
    for row in rows:
        if row.name in out:
            raise ValueError(f"registry: two rows named {row.name!r}: task names must be unique")
        out[row.name] = row
    return out


def _groups(rows: Iterable[TaskInfo]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for row in rows:
        for group in row.groups:
            out.setdefault(group, []).append(row.name)
    return out


TASKS: dict[str, TaskInfo] = _index(BENCHMARKS)
GROUPS: dict[str, list[str]] = _groups(BENCHMARKS)
"""Group -> task names in row order, from each row's `groups` (groups in order of first appearance)."""
if clash := sorted(set(GROUPS) & set(TASKS)):
    raise ValueError(f"registry: {clash} name both a group and a task: rename one")

GROUP_DESCRIPTIONS: Mapping[str, str] = {
    "paper": "every vrft benchmark of the paper",
    "fgvc": "the fine-grained classification sets (paper Table 2)",
    "detection": "the COCO / LVIS detection benchmarks",
}
"""What each group is, in words (the lmms-eval group files' comments); a group without one is described
by its members."""


def group_description(group: str) -> str:
    return GROUP_DESCRIPTIONS.get(group) or f"the vrft tasks {', '.join(GROUPS[group])}"


# ---- derived views for the tables, figures and summaries ------------------------------------------


def paper_metric_keys() -> dict[str, tuple[str, ...]]:
    """Task -> the metric keys its paper table reads, tasks in table order (then row order)."""
    rows = sorted((t for t in TASKS.values() if t.table_keys), key=lambda t: t.table or 0)
    return {t.name: t.table_keys for t in rows}


def headline_metrics() -> dict[str, str]:
    """Task -> its headline metric key."""
    return {t.name: t.headline for t in TASKS.values()}


def summary_metric_keys(task: str, reported: Iterable[str]) -> list[str]:
    """The keys of `reported` (a ``metrics.json`` entry) that a summary of `task` shows, in order: the
    row's `metrics`, then the per-class ``AP/<category>`` keys in reported order. For a name that is no
    row, the `metrics` of every row (in row order) are looked for."""
    present = list(reported)
    info = TASKS.get(task)
    scalars = info.metrics if info is not None else tuple(dict.fromkeys(k for t in TASKS.values() for k in t.metrics))
    return [k for k in scalars if k in present] + [k for k in present if k.startswith(PER_CLASS_PREFIX)]


# ---- lookup ---------------------------------------------------------------------------------------

_INT_ARGS = {"limit", "max_new_tokens"}


def expand_task_names(spec: str) -> list[str]:
    """``"coco_fewshot,fgvc"`` -> task names (groups expanded, order kept, duplicates dropped)."""
    out: list[str] = []
    for part in (p.strip() for p in spec.split(",") if p.strip()):
        names = GROUPS.get(part, [part])
        for n in names:
            if n not in TASKS:
                raise ValueError(f"unknown task {n!r}: expected one of {sorted(TASKS)} or a group {sorted(GROUPS)}")
            if n not in out:
                out.append(n)
    return out


def get_task(name: str, data_root: Path | str, **args: Any) -> Task:
    """Build a task; `args` are task arguments (``protocol``, ``prompt``, ``limit``, ``split``, ...), already
    meant for this task (`resolve_task_args` picks them from scoped ``--task-arg``s). String values are
    converted where a number is expected (CLI ``--task-arg limit=5``); ``limit`` must be >= 1."""
    try:
        info = TASKS[name]
    except KeyError:
        raise ValueError(f"unknown task {name!r}: expected one of {sorted(TASKS)}") from None
    for key in _INT_ARGS & args.keys():
        if isinstance(args[key], str):
            try:
                args[key] = int(args[key])
            except ValueError:
                raise ValueError(f"{name}: task argument {key}={args[key]!r} must be an integer") from None
    limit = args.get("limit")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise ValueError(f"{name}: limit={limit!r}: expected a positive integer (the first N images of the task)")
    accepted = accepted_task_args(name)
    unknown = sorted(k for k in args if accepted is not None and k not in accepted)
    if unknown:
        raise ValueError(f"{name}: unknown task argument(s) {unknown}; {name} accepts {list(accepted or ())}")
    try:
        task = info.build(info, Path(data_root), **args)
    except TypeError as err:
        raise ValueError(f"{name}: unknown task argument(s) {sorted(args)}: {err}") from None
    return task


# ---- the task arguments a task accepts (scoping: tasks.task_args) ---------------------------------

_BUILT_CLASS: dict[Builder, type] = {
    _classification: ClassificationTask,
    _detection: DetectionTask,
    _open_vocabulary: DetectionTask,
    _grounding: GroundingTask,
}


def accepted_task_args(name: str) -> tuple[str, ...] | None:
    """The task arguments `name` accepts (its builder's and its task class's keyword arguments), sorted;
    None when the builder is not one of this module's (anything is passed on)."""
    import inspect

    build = TASKS[name].build
    cls = _BUILT_CLASS.get(build)
    if cls is None:
        return None
    out: set[str] = set()
    for fn in (build, getattr(cls, "__init__")):  # noqa: B009 (mypy: __init__ on a class object)
        for p in list(inspect.signature(fn).parameters.values())[1:]:
            if p.kind is p.KEYWORD_ONLY:
                out.add(p.name)
    return tuple(sorted(out))
