"""The lmms-eval task files of this folder, generated from `tasks.registry` (``vrft lmms-yaml``).

One ``vrft_<task>.yaml`` per registry row, one ``vrft_<group>.yaml`` per group, the shared template
``_vrft_template_yaml`` and ``placeholder.jsonl``. Every fact in them comes from the row: the task name,
its version, the metrics it reports (`TaskInfo.lmms_metrics` + ``missing``), its generation budget and
its groups; the hooks they name are made from the same rows (`tasks.lmms_eval.hooks`). A test checks
that the committed files equal `render_yaml_files()` byte for byte: after changing the registry, run
``vrft lmms-yaml`` (or ``python -m tasks.lmms_eval.generate``).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from tasks.lmms_eval import INCLUDE_PATH
from tasks.registry import DEFAULT_MAX_NEW_TOKENS, GROUPS, TASKS, TaskInfo, group_description
from tasks.spec import Kind

TEMPLATE = "_vrft_template_yaml"
PLACEHOLDER = "placeholder.jsonl"
GENERATED = "# Generated from tasks/registry.py by `vrft lmms-yaml`: edit the registry row, not this file."
# `vrft_lmms_hooks` (beside these files, and top-level in the wheel) pins `tasks` to vrft's own package
# before handing on to tasks.lmms_eval.hooks: run from a folder with its own tasks/, `tasks.lmms_eval.hooks`
# would resolve to that folder's package.
HOOKS_MODULE = "vrft_lmms_hooks"
_HOOKS = f"!function {HOOKS_MODULE}."

_ANSWER: dict[Kind, str] = {
    Kind.CLASSIFICATION: "the class name in <answer></answer>; accuracy over all test images (percent).",
    Kind.DETECTION: (
        "[{'Position': [x1, y1, x2, y2], 'Confidence': c}, ...] or 'No Objects', boxes as integers 0-1000 "
        "(normalised to the image size); one document per (image, category); mAP from pycocotools / lvis on "
        "the whole set (percent)."
    ),
    Kind.GROUNDING: (
        "(x1,y1),(x2,y2) with integers 0-1000 (normalised to the image size); box IoU per split, in percent."
    ),
}

_PLACEHOLDER_ROW = (
    '{"placeholder": "replaced by the vrft task\'s requests: see process_docs in tasks/lmms_eval/hooks.py"}\n'
)


def _generation_kwargs(max_new_tokens: int) -> str:
    return f"""generation_kwargs:
  until: []
  max_new_tokens: {max_new_tokens}
  temperature: 0
  do_sample: false
"""


def render_template() -> str:
    """The settings shared by every vrft task (``include:``d by each task file)."""
    return f"""# Settings shared by every vrft task (included by vrft_*.yaml; no .yaml suffix, so not a task itself).
{GENERATED}
# Documents: the placeholder row below is replaced by the vrft task's requests (process_docs, see
# hooks.py), read from $VRFT_DATA_ROOT; nothing is downloaded. Boxes in prompts and answers are
# integers normalised to 0-1000 of the image width/height (x1, y1, x2, y2), as in the paper.
dataset_path: json
dataset_kwargs:
  data_files:
    test: {PLACEHOLDER}
test_split: test
output_type: generate_until
num_fewshot: 0
doc_to_visual: {_HOOKS}doc_to_visual
doc_to_text: {_HOOKS}doc_to_text
doc_to_messages: {_HOOKS}doc_to_messages
doc_to_target: solution
process_results: {_HOOKS}process_results
# lmms-eval strips <think>...</think> before process_results unless a task opts out: the format
# reward and the official parsers read the whole completion.
reasoning_tags: "none"
# `until: []`: without it lmms-eval stops at "\\n\\n" (cutting multi-line answers); built-in models drop
# a stop string from the text, which would remove the closing </answer> the parsers read. The vrft
# model (--model vrft) stops at </answer> and keeps it, as `vrft eval` does.
{_generation_kwargs(DEFAULT_MAX_NEW_TOKENS)}"""


def _version(version: str) -> str:
    """A YAML scalar for the task version: a plain number as such (``1``), anything else quoted."""
    return version if re.fullmatch(r"\d+", version) else '"' + version.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_task(info: TaskInfo) -> str:
    """``vrft_<name>.yaml``: the template plus the task's documents, metrics and version."""
    where = f" (paper {info.paper})" if info.paper else ""
    lines = [
        f"# vrft {info.name}: {info.description}{where}.",
        f"# answer: {_ANSWER[info.kind]}",
        f"# Parsing and metrics: tasks.registry.get_task('{info.name}').score(), as `vrft score` (see README.md).",
        GENERATED,
        f"task: vrft_{info.name}",
        f"include: {TEMPLATE}",
        f"process_docs: {_HOOKS}docs_{info.name}",
    ]
    text = "\n".join(lines) + "\n"
    if info.max_new_tokens != DEFAULT_MAX_NEW_TOKENS:
        text += _generation_kwargs(info.max_new_tokens)
    text += "metric_list:\n"
    for metric in (*info.lmms_metrics, "missing"):
        text += f"  - metric: {metric}\n"
        text += f"    aggregation: {_HOOKS}aggregate_{metric}\n"
        text += f"    higher_is_better: {'false' if metric == 'missing' else 'true'}\n"
    return text + f"metadata:\n  version: {_version(info.version)}\n  vrft_task: {info.name}\n"


def render_group(group: str) -> str:
    """``vrft_<group>.yaml``: the group's tasks in registry order."""
    head = f"# vrft_{group}: {group_description(group)} (mirrors tasks.registry.GROUPS).\n{GENERATED}\n"
    return head + f"group: vrft_{group}\ntask:\n" + "".join(f"  - vrft_{name}\n" for name in GROUPS[group])


def render_yaml_files() -> dict[str, str]:
    """File name -> text of every generated file: template, one file per task, one per group."""
    files = {TEMPLATE: render_template()}
    files.update({f"vrft_{name}.yaml": render_task(info) for name, info in TASKS.items()})
    files.update({f"vrft_{group}.yaml": render_group(group) for group in GROUPS})
    return files


def render_files() -> dict[str, str]:
    """`render_yaml_files` plus the placeholder dataset the template loads (the whole include path)."""
    return {**render_yaml_files(), PLACEHOLDER: _PLACEHOLDER_ROW}


def stale_files(folder: Path) -> list[Path]:
    """Generated ``vrft_*.yaml`` files in `folder` that no registry row or group makes any more."""
    current = render_yaml_files()
    return sorted(
        p
        for p in Path(folder).glob("vrft_*.yaml")
        if p.name not in current and GENERATED in p.read_text(encoding="utf-8")
    )


def write_yaml_files(folder: Path = INCLUDE_PATH) -> list[Path]:
    """Write every generated file into `folder` (created if needed) and delete stale generated task
    files (ones carrying the generated marker only); returns the paths written, in order."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for path in stale_files(folder):
        path.unlink()
    written = []
    for name, text in render_files().items():
        path = folder / name
        path.write_text(text, encoding="utf-8", newline="\n")
        written.append(path)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tasks.lmms_eval.generate", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=INCLUDE_PATH, help=f"folder to write (default {INCLUDE_PATH})")
    args = p.parse_args(argv)
    written = write_yaml_files(args.out)
    print(f"wrote {len(written)} lmms-eval file(s) into {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
