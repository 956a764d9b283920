"""The lmms-eval files are generated from the task registry: the committed ones are exactly the generated
ones, `vrft lmms-yaml` writes them, and every hook they name exists (made from the registry)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from harness.cli import main
from tasks.lmms_eval import INCLUDE_PATH, hooks
from tasks.lmms_eval.generate import GENERATED, PLACEHOLDER, TEMPLATE, render_files, write_yaml_files
from tasks.registry import GROUPS, TASKS


def test_committed_files_equal_the_generated_ones() -> None:
    files = render_files()
    for name, text in files.items():
        committed = (INCLUDE_PATH / name).read_bytes()
        assert committed == text.encode("utf-8"), f"{name} differs from the registry: run `vrft lmms-yaml`"
    yaml_files = {p.name for p in INCLUDE_PATH.glob("*.yaml")}
    assert yaml_files == {n for n in files if n.endswith(".yaml")}  # no stale task or group file
    assert len(files) == 2 + len(TASKS) + len(GROUPS) and {TEMPLATE, PLACEHOLDER} <= set(files)


def test_vrft_lmms_yaml_writes_the_folder_and_drops_only_stale_generated_files(tmp_path: Path) -> None:
    stale = tmp_path / "vrft_gone.yaml"
    stale.write_text(f"{GENERATED}\ntask: vrft_gone\n")
    mine = tmp_path / "vrft_mine.yaml"
    mine.write_text("task: vrft_mine\n")  # not generated: left alone
    assert main(["lmms-yaml", "--out", str(tmp_path)]) == 0
    assert not stale.exists() and mine.exists()
    for name, text in render_files().items():
        assert (tmp_path / name).read_bytes() == text.encode("utf-8")
    assert write_yaml_files(tmp_path) == [tmp_path / n for n in render_files()]


def test_every_hook_the_files_name_exists() -> None:
    prefix = "!function vrft_lmms_hooks."
    names = {
        line.split(prefix, 1)[1].strip()
        for text in render_files().values()
        for line in text.splitlines()
        if prefix in line
    }
    assert {f"docs_{n}" for n in TASKS} | {f"aggregate_{m}" for ms in hooks.METRICS.values() for m in ms} <= names
    for name in names:
        hook = getattr(hooks, name)
        assert callable(hook) and hook.__name__ == name
        assert getattr(hooks, name) is hook  # one object per name
        # found again by module and qualified name, as pickle (lmms-eval's worker processes) looks functions up
        assert getattr(sys.modules[hook.__module__], hook.__qualname__) is hook


@pytest.mark.parametrize("name", ["docs_not_a_task", "aggregate_AP75", "docs_", "something_else"])
def test_unknown_hooks_are_attribute_errors(name: str) -> None:
    with pytest.raises(AttributeError, match=name):
        getattr(hooks, name)
    assert not hasattr(hooks, name)
