"""The task registry: one row per benchmark, and everything else derived from the rows.

* the derived views (groups, data layout, paper-table keys, headline metrics, score summaries, lmms-eval
  metrics) equal the tables that were written by hand before the registry held them;
* each row's facts hold for the real task on synthetic data: every key it lists is produced (except the
  paper columns it marks pending, which must not be), its requests use its generation budget;
* rows are validated at construction, with errors naming the field;
* one throw-away COCO-style benchmark added as ONE row to a copy of the packages shows up in
  ``vrft tasks``, ``vrft data check``, ``vrft score``, ``vrft eval``, the lmms-eval files and hooks, and
  ``vrft tables``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from harness.tables.figures import HEADLINE_METRIC
from harness.tables.paper import TASK_METRIC_KEYS, format_number
from tasks.data.layout import DATASETS, TASK_DATASETS
from tasks.detection.categories import OV_SPLITS
from tasks.lmms_eval.hooks import METRICS
from tasks.registry import (
    GROUPS,
    PER_CLASS,
    TASKS,
    expand_task_names,
    get_task,
    per_class_key,
    summary_metric_keys,
)

REPO = Path(__file__).resolve().parents[2]
FGVC = ["fgvc_flowers102", "fgvc_pets37", "fgvc_aircraft", "fgvc_cars196"]
DETECTION = ["coco_fewshot", "lvis_fewshot", "coco_ov", "lvis_ov"]

# `vrft score`'s summary before the registry held it: these keys in this order, then every AP/<class> key
OLD_SUMMARY_KEYS = (
    "accuracy",
    "accuracy_strict",
    "accuracy_official",
    "mAP",
    "AP50",
    "mAPn",
    "mAPb",
    "mAPall",
    "mIoU_val",
    "mIoU_test",
    # mask metrics of Table 5 (issue 16): SAM masks, then the box-as-mask fallback
    "gIoU_val",
    "gIoU_test",
    "cIoU_val",
    "cIoU_test",
    "gIoU_box_val",
    "gIoU_box_test",
    "cIoU_box_val",
    "cIoU_box_test",
)


# ---- derived views equal the hand-written tables they replace ---------------------------------------


def test_groups_and_names() -> None:
    assert list(TASKS) == [*FGVC, *DETECTION, "lisa_grounding"]
    groups = {"paper": list(TASKS), "fgvc": FGVC, "detection": DETECTION}
    assert groups == GROUPS
    assert expand_task_names("coco_fewshot,fgvc,detection") == ["coco_fewshot", *FGVC, *DETECTION[1:]]


def test_data_layout_is_derived() -> None:
    assert TASK_DATASETS == {
        "fgvc_flowers102": "flowers102",
        "fgvc_pets37": "pets37",
        "fgvc_aircraft": "aircraft",
        "fgvc_cars196": "cars196",
        "coco_fewshot": "coco",
        "lvis_fewshot": "lvis",
        "coco_ov": "coco",
        "lvis_ov": "lvis",
        "lisa_grounding": "lisa",
    }
    assert set(TASK_DATASETS.values()) <= set(DATASETS)  # every row names a dataset the layout checks


def test_paper_table_keys_are_derived() -> None:
    coco = ("bus", "train", "fire hydrant", "stop sign", "cat", "dog", "bed", "toilet")
    lvis = ("horse_buggy", "die", "kitchen_table", "omelet", "papaya", "stepladder")
    expected = {
        **{n: ("accuracy",) for n in FGVC},
        "coco_fewshot": ("mAP", *(f"AP/{c}" for c in coco)),
        "lvis_fewshot": ("mAP", *(f"AP/{c}" for c in lvis)),
        "lisa_grounding": ("mIoU_test", "mIoU_val", "gIoU_test"),
        "coco_ov": ("mAPn", "mAPb", "mAPall"),
    }
    assert dict(TASK_METRIC_KEYS) == expected
    assert list(TASK_METRIC_KEYS) == list(expected)  # table order: compare lists tasks in this order
    # every paper column is produced by its task (Table 5's gIoU_test from SAM masks, issue 16)
    assert all(not t.paper_pending for t in TASKS.values())


def test_headline_and_lmms_metrics_are_derived() -> None:
    headline = {
        **{n: "accuracy" for n in FGVC},
        "coco_fewshot": "mAP",
        "lvis_fewshot": "mAP",
        "coco_ov": "mAPn",
        "lvis_ov": "mAP",
        "lisa_grounding": "mIoU_test",
    }
    assert headline == HEADLINE_METRIC
    accuracy = ("accuracy", "accuracy_strict", "accuracy_official", "missing")
    lmms = {
        **{n: accuracy for n in FGVC},
        "coco_fewshot": ("mAP", "AP50", "missing"),
        "lvis_fewshot": ("mAP", "AP50", "missing"),
        "coco_ov": ("mAPn", "mAPb", "mAPall", "missing"),
        "lvis_ov": ("mAP", "AP50", "missing"),
        "lisa_grounding": ("mIoU_val", "mIoU_test", "missing"),
    }
    assert lmms == METRICS


def test_summary_keys_for_an_unknown_name_are_every_rows() -> None:
    reported = ["AP/x", "mIoU_test", "junk", "accuracy", "mAP", "AP50/x"]
    assert summary_metric_keys("not_a_task", reported) == ["accuracy", "mAP", "mIoU_test", "AP/x"]


# ---- each row's facts hold for the real task -------------------------------------------------------


@pytest.mark.parametrize("name", list(TASKS))
def test_row_facts_hold_for_the_task(name: str, synth_root: Path) -> None:
    info = TASKS[name]
    task = get_task(name, synth_root, limit=3)
    assert (task.name, task.version, task.kind) == (info.name, info.version, info.kind)
    requests = list(task.requests())
    assert requests and {r.max_new_tokens for r in requests} == {info.max_new_tokens}
    metrics = task.score({r.request_id: "<think>x</think>" + r.solution for r in requests}, "strict").metrics
    produced = [k for k, v in metrics.items() if isinstance(v, int | float) or v is None]
    assert set(info.metrics) <= set(produced), name
    assert set(info.table_keys) - set(info.paper_pending) <= set(produced), name
    assert not set(info.paper_pending) & set(metrics), f"{name}: produces {info.paper_pending}: drop paper_pending"
    assert {per_class_key(c) for c in info.categories} <= set(produced)
    old = [k for k in OLD_SUMMARY_KEYS if k in metrics] + [k for k in metrics if k.startswith("AP/")]
    assert summary_metric_keys(name, metrics) == old


# ---- validation -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": "Coco-Fewshot"}, "name="),
        ({"headline": "AP75"}, "headline="),
        ({"lmms_metrics": ("mAP", "AP75")}, "lmms_metrics="),
        ({"lmms_metrics": ()}, "lmms_metrics="),
        ({"paper": "Tab. 3"}, "paper="),
        ({"paper": "appendix"}, "paper_keys="),
        ({"categories": ()}, "paper_keys="),
        ({"paper_keys": ("mAP", "gIoU")}, "paper_keys="),
        ({"paper_pending": ("mAP",)}, "paper_pending="),
        ({"max_new_tokens": 0}, "max_new_tokens="),
    ],
)
def test_rows_are_validated_naming_the_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(ValueError, match=f"registry row .*{field}"):
        dataclasses.replace(TASKS["coco_fewshot"], **change)


def test_per_class_needs_a_table_key_token() -> None:
    assert TASKS["coco_fewshot"].paper_keys == ("mAP", PER_CLASS)
    assert TASKS["coco_fewshot"].table == 3 and TASKS["lvis_ov"].table is None


def test_split_argument_of_the_open_vocabulary_row(synth_root: Path) -> None:
    assert TASKS["coco_ov"].splits == tuple(OV_SPLITS)  # the row accepts every split the family defines
    assert get_task("coco_ov", synth_root).args["split"] == "base65_novel15"
    assert get_task("coco_ov", synth_root, split="ovr48_17").args["split"] == "ovr48_17"
    with pytest.raises(ValueError, match="coco_ov: split='x': expected 'base65_novel15' or 'ovr48_17'"):
        get_task("coco_ov", synth_root, split="x")


# ---- one row is all a benchmark takes ------------------------------------------------------------------

TOY_ROW = """    TaskInfo(
        "toy_coco",
        Kind.DETECTION,
        version="3",
        description="COCO val2017, bus and train (a throw-away test row)",
        build=_detection,
        dataset="coco",
        metric="AP per class, mAP, AP50",
        metrics=_MAP,
        headline="mAP",
        lmms_metrics=_MAP,
        paper="Table 9",
        paper_keys=("mAP", PER_CLASS),
        groups=("paper", "detection"),
        categories=("bus", "train"),
    ),
"""
END_OF_ROWS = "\n)\n\n\ndef _index("

TOY_TABLE = {
    "table": 9,
    "caption": "A throw-away benchmark.",
    "metric": "AP",
    "label_header": "Models",
    "delta_layout": "inline",
    "decimals": 1,
    "columns": [
        {"key": "map", "header": "mAP", "task": "toy_coco", "metric_key": "mAP"},
        {"key": "bus", "header": "bus", "task": "toy_coco", "metric_key": "AP/bus"},
        {"key": "train", "header": "train", "task": "toy_coco", "metric_key": "AP/train"},
    ],
    "rows": [
        {
            "id": "p",
            "label": "Paper",
            "model": "P",
            "setting": "baseline",
            "values": dict.fromkeys(["map", "bus", "train"], "1.0"),
        }
    ],
}

# Run inside the copy: the hooks lmms-eval would call, and half-right generations for `vrft score`/`eval`
TOY_SCRIPT = """
import json, sys
from pathlib import Path
import tasks
from tasks.lmms_eval import hooks
from tasks.registry import get_task

root, out = Path(sys.argv[1]), Path(sys.argv[2])
docs = hooks.docs_toy_coco.__name__, hooks.aggregate_AP50.__name__
settings = hooks.Settings("toy_coco", str(root), (("limit", "4"),))
n_docs = len(hooks.request_docs(settings))
requests = list(get_task("toy_coco", root, limit=4).requests())
with out.open("w") as f:
    for i, r in enumerate(requests):
        text = "<think>x</think>" + r.solution if i % 3 else "<answer>No Objects</answer>"
        f.write(json.dumps({"request_id": r.request_id, "text": text}) + "\\n")
print(json.dumps({"package": tasks.__file__, "hooks": docs, "n_docs": n_docs, "n_requests": len(requests)}))
"""


def _copy_packages(dst: Path) -> Path:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for package in ("tasks", "harness"):
        shutil.copytree(REPO / package, dst / package, ignore=ignore)
    registry = dst / "tasks" / "registry.py"
    source = registry.read_text(encoding="utf-8")
    assert source.count(END_OF_ROWS) == 1, "the end of BENCHMARKS moved: update END_OF_ROWS"
    registry.write_text(source.replace(END_OF_ROWS, "\n" + TOY_ROW.rstrip("\n") + END_OF_ROWS), encoding="utf-8")
    return dst


def _run(src: Path, *args: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(src), "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run([sys.executable, *args], cwd=src, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"{args}: exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


@pytest.mark.slow
def test_one_registry_row_adds_a_benchmark_everywhere(tmp_path: Path, synth_root: Path) -> None:
    src = _copy_packages(tmp_path / "src")
    vrft = ("-m", "harness.cli")

    listing = _run(src, *vrft, "tasks")
    assert "toy_coco" in listing and "a throw-away test row" in listing
    assert "detection = coco_fewshot,lvis_fewshot,coco_ov,lvis_ov,toy_coco" in listing

    assert "everything needed by toy_coco" in _run(
        src, *vrft, "data", "check", "--data-root", str(synth_root), "--tasks", "toy_coco"
    )

    gens = tmp_path / "gens.jsonl"
    facts = json.loads(_run(src, "-c", TOY_SCRIPT, str(synth_root), str(gens)).splitlines()[-1])
    assert Path(facts["package"]).is_relative_to(src)  # the copy, not the repository
    assert facts["hooks"] == ["docs_toy_coco", "aggregate_AP50"]
    assert facts["n_docs"] == facts["n_requests"] == 2 * 4  # (image, category) pairs: 2 categories, 4 images

    # vrft score on the generations: the row's metrics and its per-class keys
    summary = _run(
        src,
        *vrft,
        "score",
        "--task",
        "toy_coco",
        "--data-root",
        str(synth_root),
        "--generations",
        str(gens),
        "--task-arg",
        "limit=4",
        "--out",
        str(tmp_path / "scored"),
    )
    scored = json.loads((tmp_path / "scored" / "metrics.json").read_text())["toy_coco"]
    assert {"mAP", "AP50", "AP/bus", "AP/train"} <= set(scored) and scored["version"] == "3"
    assert 0 < scored["mAP"] < 100
    assert "| toy_coco | mAP " in summary and "| toy_coco | AP/train " in summary

    # the lmms-eval files: a task file with the row's metrics, and the groups that list it
    out = tmp_path / "lmms"
    _run(src, *vrft, "lmms-yaml", "--out", str(out))
    task_file = (out / "vrft_toy_coco.yaml").read_text()
    assert (
        "task: vrft_toy_coco\n" in task_file
        and "process_docs: !function vrft_lmms_hooks.docs_toy_coco" in task_file
    )
    assert [line.split(": ")[1] for line in task_file.splitlines() if "- metric:" in line] == ["mAP", "AP50", "missing"]
    assert "  version: 3\n  vrft_task: toy_coco\n" in task_file
    for group in ("paper", "detection"):
        assert "  - vrft_toy_coco\n" in (out / f"vrft_{group}.yaml").read_text()
    assert "toy_coco" not in (out / "vrft_fgvc.yaml").read_text()

    # vrft eval (replay backend) then vrft tables: the row's paper columns feed a new table's run row
    run_dir = tmp_path / "runs" / "toy"
    _run(
        src,
        *vrft,
        "eval",
        "--model",
        str(gens),
        "--backend",
        "replay",
        "--tasks",
        "toy_coco",
        "--data-root",
        str(synth_root),
        "--task-arg",
        "limit=4",
        "--run-dir",
        str(run_dir),
    )
    paper = tmp_path / "paper"
    shutil.copytree(REPO / "results" / "paper", paper)
    (paper / "table9_toy.json").write_text(json.dumps(TOY_TABLE))
    tables = _run(src, *vrft, "tables", "--runs", str(run_dir.parent), "--paper", str(paper))
    block = tables.split("### Table 9")[1]
    evaluated = json.loads((run_dir / "metrics.json").read_text())["toy_coco"]
    assert "`toy_coco` AP/train" in block
    run_row = next(line for line in block.splitlines() if "gens.jsonl (task v3" in line)
    assert [c.strip() for c in run_row.strip("|").split("|")][1:] == [
        format_number(evaluated[k]) for k in ("mAP", "AP/bus", "AP/train")
    ]
    assert "gens.jsonl" not in tables.split("### Table 9")[0]  # no other table reads toy_coco
