"""The README's benchmark figures come from bench/RESULTS.md, which `make bench` (bench/run_all.py) writes.

* every number between the README's bench markers appears in bench/RESULTS.md (a hand edit that drifts fails);
* bench/RESULTS.md names a commit and a machine for every section;
* the README-marker rewrite and the per-machine section replacement, on temp files;
* every benchmark script in bench/ is listed in run_all.py and takes ``--json`` and a smoke size;
* a real smoke run of run_all.py on one cheap benchmark at ``--quick`` size, into a temp dir.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "bench"
NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


def _load_run_all() -> ModuleType:
    spec = importlib.util.spec_from_file_location("vrft_bench_run_all", BENCH / "run_all.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


run_all = _load_run_all()


def _numbers(text: str) -> set[str]:
    return set(NUMBER.findall(text))


def _readme_block(text: str) -> str:
    i, j = text.find(run_all.README_BEGIN), text.find(run_all.README_END)
    assert 0 <= i < j, "the README has no <!-- bench:begin --> ... <!-- bench:end --> markers"
    return text[i + len(run_all.README_BEGIN) : j]


# ---- the committed files ------------------------------------------------------------------------


def test_readme_figures_all_come_from_results_md() -> None:
    block = _readme_block((REPO / "README.md").read_text(encoding="utf-8"))
    results = (BENCH / "RESULTS.md").read_text(encoding="utf-8")
    assert "| benchmark | measured | reading |" in block, "the README's bench section holds no generated table"
    missing = sorted(_numbers(block) - _numbers(results))
    assert not missing, f"figures in the README's bench section that bench/RESULTS.md does not hold: {missing}"
    # and the tables themselves are verbatim copies of RESULTS.md's summaries
    for line in block.splitlines():
        if line.startswith("|"):
            assert line in results, f"README line not in bench/RESULTS.md (edited by hand?): {line[:120]}"


def test_results_md_names_a_commit_and_a_machine() -> None:
    text = (BENCH / "RESULTS.md").read_text(encoding="utf-8")
    secs = run_all.sections(text)
    assert secs, "bench/RESULTS.md has no machine section"
    for key, sec in secs.items():
        data = run_all.section_data(sec)
        assert data is not None, f"section {key!r} has no machine-data line"
        assert data["machine"]["cpu_model"] and data["machine"]["cpus"] >= 1
        assert key == run_all.machine_key(data["machine"])
        assert data["runs"] and data["benchmarks"]
        for run in data["runs"].values():
            assert re.fullmatch(r"[0-9a-f]{7,40}", run["commit"]), run["commit"]
            assert re.search(rf"commit `{run['commit'][:7]}", sec)
            assert run["date"] and run["packages"]


def test_committed_files_are_what_run_all_renders_from_their_figures(tmp_path: Path) -> None:
    """A reading edited in run_all.py (or a table edited by hand) without `run_all.py --rerender` fails here."""
    (tmp_path / "bench").mkdir()
    results, readme = tmp_path / "bench" / "RESULTS.md", tmp_path / "README.md"
    results.write_text((BENCH / "RESULTS.md").read_text(encoding="utf-8"), encoding="utf-8")
    readme.write_text((REPO / "README.md").read_text(encoding="utf-8"), encoding="utf-8")
    run_all.rerender(results, readme)
    assert results.read_text(encoding="utf-8") == (BENCH / "RESULTS.md").read_text(encoding="utf-8"), (
        "bench/RESULTS.md differs from its re-rendering: run `python bench/run_all.py --rerender`"
    )
    assert readme.read_text(encoding="utf-8") == (REPO / "README.md").read_text(encoding="utf-8"), (
        "the README's bench section differs from bench/RESULTS.md: run `python bench/run_all.py --rerender`"
    )


# ---- the rewriting, on temp files ---------------------------------------------------------------


def _record(name: str, value: float, quick: bool = False, run: str = "r1") -> dict[str, Any]:
    return {
        "command": f"bench/bench_{name}.py",
        "quick": quick,
        "run": run,
        "status": "ok",
        "seconds": 1.0,
        "load_before": [0.1, 0.1, 0.1],
        "load_after": [0.2, 0.1, 0.1],
        "record": {"benchmark": name, "size": {"n": 1}, "figures": {"x": value},
                   "tables": [{"title": "t", "head": ["x"], "rows": [[str(value)]]}]},
    }


def _machine(cpu: str, gpus: list[str] | None = None) -> dict[str, Any]:
    return {"cpu_model": cpu, "cpus": 2, "usable_cpus": 2, "ram_gib": 8.0, "gpus": gpus or [], "os": "Linux",
            "python": "3.11"}


def _run(commit: str, quick: bool = False, date: str = "2025-01-01T00:00:00Z") -> dict[str, Any]:
    return {"commit": commit, "dirty": False, "date": date, "quick": quick, "packages": {"torch": "2"},
            "argv": "bench/run_all.py", "load_before": [0.1, 0.1, 0.1], "load_after": [0.2, 0.1, 0.1]}


def _new(machine: dict[str, Any], run_id: str, run: dict[str, Any], **benches: dict[str, Any]) -> dict[str, Any]:
    return {"machine": machine, "runs": {run_id: run}, "benchmarks": benches}


def test_readme_marker_rewrite(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# x\n\nbefore 1.5\n\n<!-- bench:begin -->\nold 42 req/s\n<!-- bench:end -->\n\nafter 7\n")
    results = run_all.update_results("", "cpu A", _new(_machine("cpu A"), "r1", _run("a" * 40),
                                                       rewards=_record("rewards", 123.0)), quick=False)
    new = run_all.replace_readme(readme.read_text(), run_all.readme_block(results, "bench/RESULTS.md"))
    assert new.startswith("# x\n\nbefore 1.5\n\n<!-- bench:begin -->")
    assert new.endswith("<!-- bench:end -->\n\nafter 7\n")
    block = _readme_block(new)
    assert "old 42" not in block and "commit `aaaaaaa`" in block and "(bench/RESULTS.md)" in block
    assert _numbers(block) <= _numbers(results)
    assert run_all.replace_readme(new, run_all.readme_block(results, "bench/RESULTS.md")) == new  # idempotent
    with pytest.raises(SystemExit):
        run_all.replace_readme("# no markers\n", "x")


def test_a_rerun_replaces_only_its_own_machine_section() -> None:
    a, b = _machine("cpu A"), _machine("cpu B", ["NVIDIA H200, 143771 MiB"])
    ka, kb = run_all.machine_key(a), run_all.machine_key(b)
    assert ka != kb and "H200" in kb
    text = run_all.update_results("", ka, _new(a, "r1", _run("1" * 40), rewards=_record("rewards", 11.0),
                                               metrics=_record("metrics", 22.0)), quick=False)
    text = run_all.update_results(text, kb, _new(b, "r2", _run("2" * 40), rewards=_record("rewards", 33.0, run="r2")),
                                  quick=False)
    b_before = run_all.sections(text)[kb]
    assert list(run_all.sections(text)) == [ka, kb]

    # machine A reruns `rewards` only: its figure changes, `metrics` is carried over with its own run, B untouched
    text = run_all.update_results(text, ka, _new(a, "r3", _run("3" * 40, date="2025-02-01T00:00:00Z"),
                                                 rewards=_record("rewards", 44.0, run="r3")), quick=False)
    secs = run_all.sections(text)
    assert list(secs) == [ka, kb] and secs[kb] == b_before
    data = run_all.section_data(secs[ka])
    assert data["benchmarks"]["rewards"]["record"]["figures"] == {"x": 44.0}
    assert data["benchmarks"]["metrics"]["record"]["figures"] == {"x": 22.0}
    assert set(data["runs"]) == {"r1", "r3"} and list(data["benchmarks"]) == ["rewards", "metrics"]
    assert "commit `1111111`" in secs[ka] and "commit `3333333`" in secs[ka]
    assert text.startswith(run_all.HEADER)

    # a smoke section of a third machine is dropped by the next full run; smoke figures are never carried over
    c = _machine("cpu C")
    kc = run_all.machine_key(c)
    text = run_all.update_results(text, kc, _new(c, "q", _run("4" * 40, quick=True),
                                                 rewards=_record("rewards", 55.0, quick=True, run="q")), quick=True)
    assert "Smoke run" in run_all.sections(text)[kc]
    text = run_all.update_results(text, kb, _new(b, "r5", _run("5" * 40), metrics=_record("metrics", 66.0, run="r5")),
                                  quick=False)
    assert list(run_all.sections(text)) == [ka, kb]


def test_machine_data_survives_html_comment_escaping() -> None:
    rec = _record("rewards", 1.0)
    rec["record"]["tables"][0]["rows"] = [["a --> b", "x|y"]]
    text = run_all.update_results("", "k", _new(_machine("k"), "r1", _run("a" * 40), rewards=rec), quick=False)
    data = run_all.section_data(run_all.sections(text)["k"])
    assert data["benchmarks"]["rewards"]["record"]["tables"][0]["rows"] == [["a --> b", "x|y"]]


def test_quick_refuses_the_committed_files() -> None:
    with pytest.raises(SystemExit):
        run_all.main(["--quick", "--out", str(BENCH / "RESULTS.md"), "--no-readme"])
    with pytest.raises(SystemExit):
        run_all.main(["--quick", "--readme", str(REPO / "README.md"), "--out", "/nonexistent/x.md"])


# ---- the benchmarks' protocol -------------------------------------------------------------------


def test_every_benchmark_script_is_listed_and_speaks_the_protocol() -> None:
    listed = {b.script for b in run_all.BENCHES}
    scripts = {p.name for p in BENCH.glob("bench_*.py")}
    assert scripts <= listed, f"benchmarks missing from bench/run_all.py's BENCHES: {sorted(scripts - listed)}"
    for b in run_all.available_benches():
        source = (BENCH / b.script).read_text(encoding="utf-8")
        assert "--json" in source or "add_json_arg" in source, f"{b.script} has no --json"
        assert b.quick_args != ("--quick",) or "--quick" in source, f"{b.script} has no --quick"
        assert b.reading and b.what


@pytest.mark.slow
def test_run_all_smoke_on_one_cheap_benchmark(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# t\n\n<!-- bench:begin -->\n<!-- bench:end -->\n")
    out = tmp_path / "RESULTS.md"
    proc = subprocess.run(
        [sys.executable, str(BENCH / "run_all.py"), "--quick", "--only", "rewards", "--out", str(out),
         "--readme", str(readme), "--logs", str(tmp_path / "logs")],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    text = out.read_text()
    (_key, sec), = run_all.sections(text).items()
    data = run_all.section_data(sec)
    rec = data["benchmarks"]["rewards"]
    assert rec["status"] == "ok" and rec["quick"] and rec["record"]["size"]["n"] == 1000
    assert rec["record"]["figures"]["detection | strict"]["per_cpu_s"] > 0
    assert json.loads(json.dumps(data["runs"]))  # plain JSON
    block = _readme_block(readme.read_text())
    assert "strict detection" in block and "Smoke run" in block
    assert _numbers(block) <= _numbers(text)
    assert (tmp_path / "logs" / "rewards.quick.log").read_text().rstrip().splitlines()[-1].startswith("BENCH_JSON ")


def test_a_benchmark_json_of_its_own_gets_a_generic_table() -> None:
    bench = {b.name: b for b in run_all.BENCHES}["bootstrap"]
    obj = {"rows": [{"kind": "coco", "images": 5000, "classes": 8, "evaluator_s": 1.5, "bootstrap_s": 12.25,
                     "replicates": 1000, "paired_s": 3.0, "map": {"estimate": 1}}],
           "accuracy": {"items": 40000, "bootstrap_s": 0.5}}
    rec = run_all._as_record(bench, obj)
    assert rec["figures"] == obj and rec["tables"][0]["head"][:2] == ["kind", "images"]
    assert "map" not in rec["tables"][0]["head"] and rec["tables"][0]["rows"][0][:2] == ["coco", "5,000"]
    text = bench.summary(rec)
    assert "COCO 5,000 images × 8 classes" in text and "12.25 s" in text and "40,000 items" in text
    assert run_all._as_record(bench, {"benchmark": "x", "figures": {}}) == {"benchmark": "x", "figures": {}}


def test_readme_demo_table_is_generated_from_the_newest_full_demo_run(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# x\n\n<!-- demo:begin -->\n| 0 | 99 |\n<!-- demo:end -->\n\n<!-- bench:begin -->\n"
                      "<!-- bench:end -->\n")
    demo_old, demo_new = _record("demo", 1.0), _record("demo", 2.0)
    demo_new["record"]["tables"] = [{"title": "held-out", "head": ["seed", "COCO mAP"], "rows": [["0", "3.5 -> 9.25"]]}]
    results = run_all.update_results("", "cpu A", _new(_machine("cpu A"), "r1", _run("a" * 40), demo=demo_old),
                                     quick=False)
    newer = _new(_machine("cpu B"), "r2", _run("b" * 40, date="2026-01-01T00:00:00Z"), demo={**demo_new, "run": "r2"})
    results = run_all.update_results(results, "cpu B", newer, quick=False)
    smoke = _new(_machine("cpu C"), "r3", _run("c" * 40, quick=True, date="2027-01-01T00:00:00Z"),
                 demo={**_record("demo", 5.0, quick=True), "run": "r3"})
    results = run_all.update_results(results, "cpu C", smoke, quick=True)  # newest, but a smoke run: never shown
    results_md = tmp_path / "RESULTS.md"
    results_md.write_text(results)
    run_all.update_readme(readme, results_md, results)
    text = readme.read_text()
    demo = text[text.index("<!-- demo:begin -->") : text.index("<!-- demo:end -->")]
    assert "| 0 | 3.5 -> 9.25 |" in demo and "commit `bbbbbbb`" in demo and "| 0 | 99 |" not in demo
    assert "ccccccc" not in demo and _numbers(demo.replace("2026-01-01", "")) <= _numbers(results)


def test_readme_demo_table_comes_from_results_md() -> None:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    i, j = text.find(run_all.DEMO_BEGIN), text.find(run_all.DEMO_END)
    assert 0 <= i < j, "the README's demo table has no <!-- demo:begin --> ... <!-- demo:end --> markers"
    block = text[i:j]
    results = (BENCH / "RESULTS.md").read_text(encoding="utf-8")
    missing = sorted(_numbers(block) - _numbers(results))
    assert not missing, f"figures in the README's demo table that bench/RESULTS.md does not hold: {missing}"
