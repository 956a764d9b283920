"""The lmms-eval task files work from a folder that has its own ``tasks/`` package (issue 14).

``python -m lmms_eval`` puts the working directory first on ``sys.path``; the task files name
``vrft_lmms_hooks`` (beside them), which pins ``tasks`` to vrft's package before the hooks import it.
The check runs lmms-eval's own YAML loader (``load_yaml_config``, the ``!function`` resolver of 0.7.3) in a
subprocess whose working directory holds decoy ``tasks`` and ``harness`` packages.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tasks.lmms_eval import INCLUDE_PATH, vrft_lmms_hooks

pytest.importorskip("lmms_eval")

_PROBE = """
import json, sys
from lmms_eval.utils import load_yaml_config
cfg = load_yaml_config(yaml_path=sys.argv[1], mode="full")
import tasks
print(json.dumps({"tasks": tasks.__file__, "process_docs": cfg["process_docs"].__module__,
                  "name": cfg["process_docs"].__name__, "aggregation": cfg["metric_list"][0]["aggregation"].__name__}))
"""

_OLD_WAY = "import tasks.lmms_eval.hooks"


def _decoy(folder: Path) -> Path:
    for name in ("tasks", "harness"):
        (folder / name).mkdir(parents=True)
        (folder / name / "__init__.py").write_text("DECOY = True\n")
    return folder


def _python(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # `-c` puts "" (the working directory) first on sys.path, as `python -m lmms_eval` does
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=300)


@pytest.mark.slow  # imports lmms_eval.utils (~10 s)
def test_task_files_load_vrft_hooks_from_a_folder_with_a_decoy_tasks_package(tmp_path: Path) -> None:
    cwd = _decoy(tmp_path / "research")
    old = _python(cwd, "-c", _OLD_WAY)  # what the task files used to name: the decoy wins
    assert old.returncode != 0 and "No module named 'tasks.lmms_eval'" in old.stderr

    done = _python(cwd, "-c", _PROBE, str(INCLUDE_PATH / "vrft_coco_fewshot.yaml"))
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert Path(out["tasks"]).resolve() == (INCLUDE_PATH.parent / "__init__.py").resolve()
    assert out["process_docs"] == "tasks.lmms_eval.hooks" and out["name"] == "docs_coco_fewshot"
    assert out["aggregation"] == "aggregate_mAP"


def test_a_different_tasks_package_already_imported_is_refused_by_name(tmp_path: Path) -> None:
    cwd = _decoy(tmp_path / "research")
    code = f"import tasks, runpy; runpy.run_path({str(INCLUDE_PATH / 'vrft_lmms_hooks.py')!r})"
    done = _python(cwd, "-c", code)
    assert done.returncode != 0
    assert "a different top-level package 'tasks' is already imported" in done.stderr
    assert str(cwd / "tasks" / "__init__.py") in done.stderr


def test_root_is_found_beside_the_installed_copy_and_two_levels_up_in_a_checkout(tmp_path: Path) -> None:
    (tmp_path / "tasks" / "lmms_eval").mkdir(parents=True)
    (tmp_path / "tasks" / "lmms_eval" / "hooks.py").write_text("")
    assert vrft_lmms_hooks.vrft_root(tmp_path / "vrft_lmms_hooks.py") == tmp_path.resolve()  # site-packages copy
    inside = tmp_path / "tasks" / "lmms_eval" / "vrft_lmms_hooks.py"
    assert vrft_lmms_hooks.vrft_root(inside) == tmp_path.resolve()
    assert vrft_lmms_hooks.vrft_root(tmp_path / "a" / "b" / "c" / "elsewhere.py") is None
    assert vrft_lmms_hooks.vrft_root() == INCLUDE_PATH.parent.parent
