"""The lmms-eval task files work from a folder that has its own ``tasks/`` package (issue 14).

``python -m lmms_eval`` puts the working directory first on ``sys.path``; the task files name
``vrft_lmms_hooks`` (beside them), which pins ``tasks`` to vrft's package before the hooks import it.
The check runs lmms-eval's own YAML loader (``load_yaml_config``, the ``!function`` resolver of 0.7.3) in a
subprocess whose working directory holds decoy ``tasks`` and ``harness`` packages.

The model (``--model vrft``) had the same clash with ``harness``: lmms-eval loads the ``lmms_eval.models``
entry point with an ``import``, so the entry point names the top-level ``vrft_lmms_model``
(`harness._lmms_model_alias`), which pins ``tasks`` and ``harness`` first. Its check loads the two top-level
modules from their sources as the wheel installs them, then the pyproject's entry point through
``importlib.metadata`` and lmms-eval's registry, from the decoy folder (tests/test_install.py repeats it with
the installed wheel).
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

_MODEL_PROBE = """
import importlib.util, json, sys
from importlib.metadata import EntryPoint
hooks_src, model_src, value = sys.argv[1:4]
for name, path in (("vrft_lmms_hooks", hooks_src), ("vrft_lmms_model", model_src)):  # the wheel's top level
    spec = importlib.util.spec_from_file_location(name, path)
    module = sys.modules[name] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
from lmms_eval.models import MODEL_REGISTRY_V2 as registry
registry.register_manifest(EntryPoint("vrft", value, "lmms_eval.models").load()(), overwrite=True)
cls = registry.get_model_class("vrft")
import harness, tasks
print(json.dumps({"class": f"{cls.__module__}.{cls.__name__}", "harness": harness.__file__, "tasks": tasks.__file__}))
"""


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


def _pyproject() -> dict:
    import tomllib

    return tomllib.loads((INCLUDE_PATH.parents[1] / "pyproject.toml").read_text(encoding="utf-8"))


@pytest.mark.slow  # imports lmms_eval.models (~10 s)
def test_the_model_entry_point_loads_vrft_from_a_folder_with_a_decoy_harness_package(tmp_path: Path) -> None:
    project = _pyproject()
    value = project["project"]["entry-points"]["lmms_eval.models"]["vrft"]
    shipped = project["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]
    assert value == "vrft_lmms_model:manifest" and shipped["harness/_lmms_model_alias.py"] == "vrft_lmms_model.py"
    repo = INCLUDE_PATH.parents[1]
    cwd = _decoy(tmp_path / "research")
    old = _python(cwd, "-c", "import harness.lmms_model")  # what the entry point used to name: the decoy wins
    assert old.returncode != 0 and "No module named 'harness.lmms_model'" in old.stderr

    hooks_src = repo / shipped_source(shipped, "vrft_lmms_hooks.py")
    done = _python(cwd, "-c", _MODEL_PROBE, str(hooks_src), str(repo / "harness" / "_lmms_model_alias.py"), value)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["class"] == "harness.lmms_model.VrftModel"
    assert Path(out["harness"]).resolve() == (repo / "harness" / "__init__.py").resolve()
    assert Path(out["tasks"]).resolve() == (repo / "tasks" / "__init__.py").resolve()


def shipped_source(force_include: dict[str, str], installed: str) -> str:
    """The repository file the wheel installs as `installed`."""
    return next(src for src, dest in force_include.items() if dest == installed)


def test_the_alias_copied_into_an_editable_install_finds_the_checkout(tmp_path: Path) -> None:
    """An editable install copies the alias into site-packages with no ``tasks/`` beside it: it must load the
    checkout the install names (``direct_url.json``), never itself (it used to recurse until the stack ran out)."""
    from importlib.metadata import distribution

    if '"editable":true' not in (distribution("vrft").read_text("direct_url.json") or "").replace(" ", ""):
        pytest.skip("vrft is not installed in editable mode in this environment")
    site = tmp_path / "site-packages"
    site.mkdir()
    (site / "vrft_lmms_hooks.py").write_bytes((INCLUDE_PATH / "_toplevel_alias.py").read_bytes())
    cwd = _decoy(tmp_path / "research")
    code = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('vrft_lmms_hooks', {str(site / 'vrft_lmms_hooks.py')!r})\n"
        "m = sys.modules['vrft_lmms_hooks'] = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(m)\n"
        "import tasks\n"
        "print(m.docs_coco_fewshot.__module__, tasks.__file__)\n"
    )
    done = _python(cwd, "-c", code)
    assert done.returncode == 0, done.stderr[-3000:]
    module, tasks_init = done.stdout.split()
    assert module == "tasks.lmms_eval.hooks"
    assert Path(tasks_init).resolve() == (INCLUDE_PATH.parent / "__init__.py").resolve()
