"""The layers of the house (ARCHITECTURE.md): ``train_plugin -> harness -> tasks``, one way, no circles.

* `tasks` imports none of `harness`, `train_plugin`, torch, vllm, trl, transformers: checked statically (every
  import statement of every file, function-level ones included) and at run time (every module imported in a
  fresh interpreter, then `sys.modules` inspected);
* `harness` never imports `train_plugin` (statically: `vrft train` / `vrft demo` reach the CLI through the
  ``vrft.commands`` entry-point group, never through an import);
* the modules of `harness` and of `train_plugin` import each other without a circle.

The helpers are tested on injected imports first, so that a check that cannot fail would be noticed.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "vllm", "trl", "transformers")
FORBIDDEN = {"tasks": ("harness", "train_plugin", *HEAVY), "harness": ("train_plugin",)}


# ---- static: import statements ------------------------------------------------------------------------
def imported_modules(source: str, package: str = "") -> Iterator[tuple[int, str]]:
    """(line, dotted name) of every import in `source`, at any depth: ``import a.b`` gives ``a.b``; ``from a.b
    import c`` gives ``a.b.c`` (the module ``a.b.c`` if there is one, else a name defined in ``a.b``; relative
    imports resolved against `package`); ``import_module("a.b")`` / ``__import__("a.b")`` give ``a.b``."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:  # relative: resolved against the importing package
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, *([module] if module else [])])
            yield from ((node.lineno, f"{module}.{alias.name}") for alias in node.names)
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                yield node.lineno, node.args[0].value


def python_files(package: str, root: Path | None = None) -> list[tuple[str, Path]]:
    """(module name, path) of every file of a package under `root` (default ROOT), parents first."""
    root = root or ROOT
    out = []
    for path in sorted((root / package).rglob("*.py"), key=lambda p: (p.parent.parts, p.name != "__init__.py", p)):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out.append((".".join(parts), path))
    return out


def static_violations(package: str, forbidden: Iterable[str]) -> list[str]:
    banned = set(forbidden)
    found = []
    for module, path in python_files(package):
        pkg = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for line, name in imported_modules(path.read_text(encoding="utf-8"), pkg):
            if name.split(".")[0] in banned:
                found.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    return found


def import_cycles(packages: Iterable[str]) -> list[list[str]]:
    """Circles among the modules of `packages` (an import of ``a.b.c`` counts as one of its module ``a.b.c``,
    else of the nearest package that is one of ours)."""
    files = {m: p for pkg in packages for m, p in python_files(pkg)}
    graph: dict[str, set[str]] = {m: set() for m in files}
    for module, path in files.items():
        pkg = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for _, name in imported_modules(path.read_text(encoding="utf-8"), pkg):
            parts = name.split(".")
            target = next((".".join(parts[:i]) for i in range(len(parts), 0, -1) if ".".join(parts[:i]) in files), None)
            if target is not None and target != module and not module.startswith(target + "."):
                graph[module].add(target)  # (a module importing its own package: how packages work)
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, [*stack, nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return cycles


# ---- run time: sys.modules after importing every module -------------------------------------------------
_PROBE = """
import importlib, json, sys
forbidden, names = sys.argv[1].split(","), sys.argv[2:]
loaded = lambda: {m for m in forbidden if m in sys.modules}
report, modules = {}, []
for name in names:
    before = loaded()
    importlib.import_module(name)
    modules.append(name)
    if loaded() - before:
        report[name] = sorted(loaded() - before)
print(json.dumps({"modules": modules, "violations": report}))
"""


def runtime_violations(package: str, forbidden: Iterable[str], path: Path = ROOT) -> dict[str, object]:
    """Import every module of `package` (from its files: pkgutil skips folders without ``__init__.py``) in
    a fresh interpreter, in order; which forbidden top-level modules each one brought into `sys.modules`."""
    names = [m for m, _ in python_files(package, path)]
    res = subprocess.run(
        [sys.executable, "-c", _PROBE, ",".join(forbidden), *names],
        cwd=path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "PYTHONPATH": str(path)},
    )
    assert res.returncode == 0, res.stderr[-3000:]
    result: dict[str, object] = json.loads(res.stdout.strip().splitlines()[-1])
    return result


# ---- the checks can fail ----------------------------------------------------------------------------------
def test_static_helper_sees_every_kind_of_import() -> None:
    source = (
        "import os, torch.nn\nfrom train_plugin.cli import add_parser\nfrom . import sibling\nfrom .x import y\n"
        "def f():\n    import vllm\n    importlib.import_module('train_plugin.demo.run')\n    __import__('trl')\n"
    )
    found = sorted(imported_modules(source, "harness.backends"))
    assert found == [
        (1, "os"),
        (1, "torch.nn"),
        (2, "train_plugin.cli.add_parser"),
        (3, "harness.backends.sibling"),
        (4, "harness.backends.x.y"),
        (6, "vllm"),
        (7, "train_plugin.demo.run"),
        (8, "trl"),
    ]


def test_runtime_probe_catches_an_injected_import(tmp_path: Path) -> None:
    (tmp_path / "fakepkg" / "sub").mkdir(parents=True)
    (tmp_path / "fakepkg" / "__init__.py").write_text("")
    (tmp_path / "fakepkg" / "clean.py").write_text("import json\n")
    (tmp_path / "fakepkg" / "sub" / "__init__.py").write_text("")
    (tmp_path / "fakepkg" / "sub" / "dirty.py").write_text("import fakeheavy.core\n")
    (tmp_path / "fakeheavy").mkdir()
    (tmp_path / "fakeheavy" / "__init__.py").write_text("")
    (tmp_path / "fakeheavy" / "core.py").write_text("")
    result = runtime_violations("fakepkg", ("fakeheavy",), tmp_path)
    assert result["violations"] == {"fakepkg.sub.dirty": ["fakeheavy"]}
    assert result["modules"] == ["fakepkg", "fakepkg.clean", "fakepkg.sub", "fakepkg.sub.dirty"]


def test_cycle_helper_finds_a_circle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pkg = tmp_path / "circ"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from circ.b import x\n")
    (pkg / "b.py").write_text("def f():\n    from circ import a\n")
    (pkg / "c.py").write_text("import circ.a\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert import_cycles(["circ"]) == [["circ.a", "circ.b", "circ.a"]]
    assert static_violations("circ", ("circ",)) == [
        "circ/a.py:1 imports circ.b.x",
        "circ/b.py:2 imports circ.a",
        "circ/c.py:1 imports circ.a",
    ]


# ---- the house -------------------------------------------------------------------------------------------
def test_tasks_import_nothing_from_above_statically() -> None:
    assert static_violations("tasks", FORBIDDEN["tasks"]) == []


def test_tasks_import_nothing_from_above_at_run_time() -> None:
    result = runtime_violations("tasks", FORBIDDEN["tasks"])
    assert result["violations"] == {}
    expected = sorted(m for m, _ in python_files("tasks"))
    assert sorted(result["modules"]) == expected  # every module was imported, tasks.lmms_eval included
    assert "tasks.lmms_eval.hooks" in expected and "tasks.registry" in expected


def test_harness_never_imports_train_plugin() -> None:
    assert static_violations("harness", FORBIDDEN["harness"]) == []
    assert len(python_files("harness")) > 20


def test_no_circles_in_harness_and_train_plugin() -> None:
    assert import_cycles(["harness", "train_plugin"]) == []
