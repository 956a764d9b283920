"""Run every benchmark in bench/ at its documented size and write bench/RESULTS.md and the README's figures.

    make bench                                     # = python bench/run_all.py
    python bench/run_all.py --with-demo            # also the full `vrft demo` runs (expensive: ~15 min on 2 cores)
    python bench/run_all.py --only rewards scoring # some benchmarks; the others keep their last figures
    python bench/run_all.py --quick                # smoke sizes -> bench/RESULTS.quick.md, README untouched
    python bench/run_all.py --list                 # the benchmarks, their commands and sizes

Each benchmark runs as its own subprocess (a crash is recorded and the others go on) and ends its output
with a ``BENCH_JSON {...}`` line (bench/_result.py). This script adds the machine (CPU model, CPUs, RAM,
GPUs), the load average before and after, package versions, the git commit and the date, and writes one
section per machine into bench/RESULTS.md: a rerun replaces only its own machine's section (and, with
``--only``, only the benchmarks it ran; the others are carried over with their own commit and date).
Each section starts with a summary table (figures + a one-line reading per benchmark, the reading kept
here beside the benchmark's entry); the README's benchmark section, between ``<!-- bench:begin -->`` and
``<!-- bench:end -->``, is a copy of those summary tables, so no figure in the README is typed by hand.

Smoke figures never reach the README: ``--quick`` writes bench/RESULTS.quick.md by default and refuses to
write bench/RESULTS.md or README.md unless ``--placeholder`` is given (then every table says it is a smoke
run, and the next full run drops those figures). Standard library only; no vrft import.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
RESULTS = BENCH / "RESULTS.md"
QUICK_RESULTS = BENCH / "RESULTS.quick.md"
README = REPO / "README.md"
LOGS = REPO / ".cache" / "bench" / "logs"
PREFIX = "BENCH_JSON "
README_BEGIN, README_END = "<!-- bench:begin -->", "<!-- bench:end -->"
DEMO_BEGIN, DEMO_END = "<!-- demo:begin -->", "<!-- demo:end -->"  # the demo's per-seed table, near the top
SUMMARY_BEGIN, SUMMARY_END = "<!-- summary:begin -->", "<!-- summary:end -->"

sys.path.insert(0, str(BENCH))  # the sibling modules, also when this file is loaded by path (tests)
from _benches import BENCHES, Bench, available_benches, bench_by_name, fmt  # noqa: E402
from _machine import git_state, loadavg, machine_facts, machine_key, machine_label, package_versions  # noqa: E402
from _sections import (  # noqa: E402
    HEADER,
    begin_marker,
    cell,
    embed_json,
    end_marker,
    md_table,
    replace_section,
    run_text,
    section_data,
    sections,
    short_commit,
    write_atomic,
)

__all__ = ["BENCHES", "HEADER", "available_benches", "machine_key", "main", "section_data", "sections"]


# ---- running -----------------------------------------------------------------------------------


def _as_record(bench: Bench, obj: Any) -> dict[str, Any]:
    """A benchmark's --json object as bench/_result.py's record (a script with a JSON of its own gets a
    generic table from its ``rows``)."""
    if isinstance(obj, dict) and {"benchmark", "figures"} <= obj.keys():
        return obj
    tables = []
    rows = obj.get("rows") if isinstance(obj, dict) else None
    if isinstance(rows, list) and rows and all(isinstance(r, dict) for r in rows):
        head = [k for k in rows[0] if all(not isinstance(r.get(k), dict | list) for r in rows)]
        cells = [[fmt(v) if isinstance(v, int | float) and not isinstance(v, bool) else str(v)
                  for v in (r.get(k, "") for k in head)] for r in rows]
        tables.append({"title": "rows", "head": head, "rows": cells})
    return {"benchmark": bench.name, "size": {}, "figures": obj, "tables": tables}


def run_bench(bench: Bench, quick: bool, logs: Path, timeout_s: int | None = None, echo: bool = True) -> dict[str, Any]:
    """Run one benchmark as a subprocess; its record (``status`` ok / failed) with timing and load."""
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / f"{bench.name}{'.quick' if quick else ''}.log"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    before = loadavg()
    t0 = time.perf_counter()
    rec: dict[str, Any] = {"command": bench.shown(quick), "quick": quick, "load_before": before}
    with tempfile.TemporaryDirectory(prefix=f"vrft-bench-{bench.name}-") as tmp:
        json_path = Path(tmp) / "figures.json"
        tail: list[str] = []
        limit = timeout_s or bench.timeout_s
        with log.open("w", encoding="utf-8") as fh:
            # Its own session, so that a timeout ends the benchmark's whole process group (vLLM workers too).
            proc = subprocess.Popen(bench.command(quick, json_path), cwd=REPO, env=env, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, text=True, errors="replace", start_new_session=True)
            timed_out = threading.Event()

            def kill() -> None:
                timed_out.set()
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)

            timer = threading.Timer(limit, kill)
            timer.start()
            try:
                assert proc.stdout is not None
                for line in proc.stdout:
                    fh.write(line)
                    fh.flush()  # the log is readable while the benchmark runs
                    tail = [*tail[-39:], line.rstrip("\n")]
                    if echo and not line.startswith(PREFIX):
                        print(f"  [{bench.name}] {line}", end="", flush=True)
                rc = proc.wait()
            except BaseException:  # Ctrl-C: the benchmark runs in its own session, so end it here
                kill()
                raise
            finally:
                timer.cancel()
        try:
            figures = _as_record(bench, json.loads(json_path.read_text())) if json_path.is_file() else None
        except ValueError:
            figures = None
    shown_log = log.resolve().relative_to(REPO) if log.resolve().is_relative_to(REPO) else log
    rec.update(seconds=round(time.perf_counter() - t0, 1), load_after=loadavg(), rc=rc, log=str(shown_log))
    if rc == 0 and figures is not None and not timed_out.is_set():
        rec.update(status="ok", record=figures)
    else:
        why = f"timed out after {limit} s" if timed_out.is_set() else (f"exit {rc}" if rc else "no BENCH_JSON figures")
        rec.update(status="failed", error=why, tail=tail[-15:])
    return rec


# ---- RESULTS.md: sections keyed by machine (the plumbing: _sections.py) -----------------------


def render_summary(data: dict[str, Any]) -> str:
    """The summary block of a machine section: machine, run(s), one row per benchmark (also the README's)."""
    m, runs, results = data["machine"], data["runs"], data["benchmarks"]
    known = bench_by_name()
    smoke = any(r.get("quick") for r in results.values())
    labels = {rid: chr(ord("A") + i) for i, rid in enumerate(sorted(runs, key=lambda r: runs[r]["date"]))}
    lines = [f"**{machine_label(m)}**"]
    if len(runs) == 1:
        lines[0] += f" · {run_text(next(iter(runs.values())))}"
    else:
        lines += [f"run {labels[rid]}: {run_text(runs[rid])}" for rid in sorted(runs, key=labels.__getitem__)]
        lines = [lines[0], "", *(f"- {x}" for x in lines[1:])]
    if smoke:
        lines += ["", "> **Smoke run at `--quick` sizes, not the documented figures.** `make bench` replaces them."]
    lines += ["", "| benchmark | measured | reading |", "|---|---|---|"]
    for name, res in results.items():
        bench = known.get(name)
        cmd = f"`{res.get('command', name)}`" + (f" (run {labels[res['run']]})" if len(runs) > 1 else "")
        if res["status"] != "ok":
            measured = f"**failed** ({res.get('error', '?')}); see the log in its section"
        else:
            try:
                measured = bench.summary(res["record"]) if bench else json.dumps(res["record"]["figures"])[:300]
            except (KeyError, TypeError, ValueError, IndexError, ZeroDivisionError) as exc:
                measured = f"(figures in an unexpected shape: {type(exc).__name__}; see the tables below)"
        reading = ""
        if bench:
            reading = bench.reading_gpu if (bench.reading_gpu and m.get("gpus")) else bench.reading
        lines.append(f"| {cell(cmd)} | {cell(measured)} | {cell(reading)} |")
    return "\n".join(lines)


def render_section(key: str, data: dict[str, Any]) -> str:
    m, runs = data["machine"], data["runs"]
    lines = [begin_marker(key), f"## {machine_label(m)}", "", SUMMARY_BEGIN, render_summary(data), SUMMARY_END, ""]
    lines += ["### Machine and runs", ""]
    lines += md_table(["", ""], [
        ["CPU", f"{m['cpu_model']} ({m['cpus']} CPUs, {m.get('usable_cpus', m['cpus'])} usable)"],
        ["RAM", f"{m.get('ram_gib')} GiB"],
        ["GPU", "; ".join(m["gpus"]) or "none"],
        ["OS, Python", f"{m.get('os')}, Python {m.get('python')}"],
    ])
    for rid, run in sorted(runs.items(), key=lambda kv: kv[1]["date"]):
        lines += ["", f"Run {rid}: `{run['argv']}`" + (" (**smoke sizes**)" if run.get("quick") else ""), ""]
        lines += md_table(["", ""], [
            ["commit", f"`{run['commit']}`" + (" (uncommitted changes)" if run.get("dirty") else "")],
            ["date (UTC)", run["date"]],
            ["load average (1, 5, 15 min) before", ", ".join(map(str, run.get("load_before", [])))],
            ["load average after", ", ".join(map(str, run.get("load_after", [])))],
            ["wall time", f"{run.get('seconds', '?')} s"],
            ["packages", ", ".join(f"{k} {v}" for k, v in run.get("packages", {}).items())],
        ])
    lines += ["", "### Tables"]
    for name, res in data["benchmarks"].items():
        load = f"load {res.get('load_before', ['?'])[0]} → {res.get('load_after', ['?'])[0]}"
        lines += ["", f"#### {name}: `{res.get('command', name)}`", "",
                  f"{res.get('seconds', '?')} s wall, {load}, run {res['run']}."]
        if res["status"] != "ok":
            lines += ["", f"**Failed** ({res.get('error')}). Last lines of `{res.get('log')}`:", "", "```",
                      *res.get("tail", []), "```"]
            continue
        rec = res["record"]
        if rec.get("size"):
            lines += ["", "size: " + ", ".join(f"{k} {v}" for k, v in rec["size"].items())]
        for t in rec.get("tables", []):
            lines += ["", f"{t['title']}:", "", *md_table(t["head"], t["rows"])]
    lines += ["", f"<!-- machine-data {embed_json(data)} -->", end_marker(key)]
    return "\n".join(lines) + "\n"


def merge(previous: dict[str, Any] | None, new: dict[str, Any], quick: bool) -> dict[str, Any]:
    """This machine's section data: the benchmarks just run, plus the previous ones not rerun (a full run
    does not carry over smoke figures). Benchmarks in BENCHES order; runs no longer referenced dropped."""
    results = dict(new["benchmarks"])
    runs = dict(new["runs"])
    if previous:
        for name, res in previous.get("benchmarks", {}).items():
            if name in results or (res.get("quick") and not quick):
                continue
            results[name] = res
            runs.setdefault(res["run"], previous["runs"][res["run"]])
    order = [b.name for b in BENCHES]
    ordered = dict(sorted(results.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else len(order)))
    used = {r["run"] for r in ordered.values()}
    return {"machine": new["machine"], "runs": {k: v for k, v in runs.items() if k in used}, "benchmarks": ordered}


def update_results(text: str, key: str, new: dict[str, Any], quick: bool) -> str:
    old = sections(text).get(key)
    data = merge(section_data(old) if old else None, new, quick)
    text = replace_section(text, key, render_section(key, data))
    if not quick:  # a full run drops other machines' sections that hold smoke figures only
        for other, sec in sections(text).items():
            d = section_data(sec)
            if other != key and d and all(r.get("quick") for r in d["benchmarks"].values()):
                text = replace_section(text, other, None)
    return text


def readme_block(results_text: str, link: str) -> str:
    """The README's benchmark section: the summary block of every machine section, verbatim."""
    blocks = []
    for sec in sections(results_text).values():
        i, j = sec.find(SUMMARY_BEGIN), sec.find(SUMMARY_END)
        if i >= 0 and j > i:
            blocks.append(sec[i + len(SUMMARY_BEGIN) : j].strip("\n"))
    note = (f"<!-- generated by `make bench` (bench/run_all.py) from {link}: edit run_all.py, never these lines -->")
    tail = f"Tables per benchmark, package versions and the load during each run: [{link}]({link})."
    return "\n".join([README_BEGIN, note, "", "\n\n".join(blocks) or "(no figures yet: run `make bench`)", "",
                      tail, README_END])


def demo_block(results_text: str, link: str) -> str | None:
    """The README's demo table: the per-seed table of the newest full (not smoke) ``demo`` benchmark in any
    machine section, verbatim, with the machine and commit it came from; None when there is none."""
    best: tuple[str, str, dict[str, Any]] | None = None
    for sec in sections(results_text).values():
        data = section_data(sec) or {}
        res = data.get("benchmarks", {}).get("demo")
        if not res or res.get("status") != "ok" or res.get("quick"):
            continue
        run = data["runs"][res["run"]]
        if best is None or run["date"] > best[0]:
            best = (run["date"], machine_label(data["machine"]), {**res, "run_info": run})
    if best is None:
        return None
    _, machine, res = best
    rec, run = res["record"], res["run_info"]
    note = f"<!-- generated by `make bench BENCH_ARGS=--with-demo` from {link}: never edit these lines -->"
    lines = [DEMO_BEGIN, note, "", f"`{res.get('command', 'bench/bench_demo.py')}` on {machine}, {run_text(run)}:"]
    for t in rec.get("tables", [])[:1]:
        lines += ["", *md_table(t["head"], t["rows"])]
    return "\n".join([*lines, DEMO_END])


def replace_readme(readme_text: str, block: str, begin: str = README_BEGIN, end: str = README_END) -> str:
    i, j = readme_text.find(begin), readme_text.find(end)
    if i < 0 or j < i:
        raise SystemExit(f"run_all: the README has no {begin} ... {end} markers")
    return readme_text[:i] + block + readme_text[j + len(end) :]


def update_readme(readme: Path, results: Path, results_text: str) -> None:
    link = os.path.relpath(results.resolve(), readme.resolve().parent)
    text = replace_readme(readme.read_text(encoding="utf-8"), readme_block(results_text, link))
    demo = demo_block(results_text, link)
    if demo is not None and DEMO_BEGIN in text:
        text = replace_readme(text, demo, DEMO_BEGIN, DEMO_END)
    write_atomic(readme, text)
    print(f"updated {readme} between {README_BEGIN} and {README_END}" + (" and the demo table" if demo else ""))


def rerender(out: Path, readme: Path | None) -> int:
    """Every section of `out` rendered again from its machine-data (no benchmark runs)."""
    text = out.read_text(encoding="utf-8")
    for key, sec in sections(text).items():
        data = section_data(sec)
        if data is not None:
            text = replace_section(text, key, render_section(key, data))
    write_atomic(out, text)
    print(f"re-rendered {out}")
    if readme is not None:
        update_readme(readme, out, text)
    return 0


# ---- main --------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    first, rest = __doc__.split("\n\n", 1)
    ap = argparse.ArgumentParser(description=first, formatter_class=argparse.RawDescriptionHelpFormatter, epilog=rest)
    ap.add_argument("--quick", action="store_true", help="smoke sizes (each benchmark's --quick)")
    ap.add_argument("--only", nargs="+", metavar="NAME", help="run these benchmarks only (see --list)")
    ap.add_argument("--with-demo", action="store_true", help="also the expensive demo runs")
    ap.add_argument("--out", type=Path, help="results file (default bench/RESULTS.md; --quick: RESULTS.quick.md)")
    ap.add_argument("--readme", type=Path, help="README to update between the bench markers (default README.md; "
                                                "--quick: none)")
    ap.add_argument("--no-readme", action="store_true", help="leave the README alone")
    ap.add_argument("--placeholder", action="store_true",
                    help="with --quick: write the smoke figures into bench/RESULTS.md and the README anyway, "
                         "marked as a smoke run (the next full run drops them)")
    ap.add_argument("--logs", type=Path, default=LOGS, help=f"benchmark logs (default {LOGS.relative_to(REPO)})")
    ap.add_argument("--timeout", type=int, help="seconds per benchmark (default: its own, 1-2 h)")
    ap.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    ap.add_argument("--rerender", action="store_true",
                    help="run nothing: re-render the results file (and the README) from the figures it holds, "
                         "e.g. after editing a reading in this file")
    args = ap.parse_args(argv)

    benches = available_benches()
    if args.list:
        for b in benches:
            flag = " (only with --with-demo)" if b.expensive else ""
            print(f"{b.name:<14} {b.shown(args.quick):<44} {b.what}{flag}")
        return 0
    names = {b.name for b in benches}
    if args.only and (unknown := sorted(set(args.only) - names)):
        ap.error(f"unknown benchmark(s) {unknown}; known: {sorted(names)}")
    selected = [b for b in benches if (b.name in args.only if args.only else (not b.expensive or args.with_demo))]

    out = (args.out or (QUICK_RESULTS if args.quick else RESULTS)).resolve()
    readme = None if args.no_readme else (args.readme or (None if args.quick else README))
    if args.quick and args.placeholder:
        readme = None if args.no_readme else (args.readme or README)
        out = (args.out or RESULTS).resolve()
    readme = readme.resolve() if readme else None
    if args.quick and not args.placeholder and (out == RESULTS.resolve() or readme == README.resolve()):
        ap.error("--quick figures never go into bench/RESULTS.md or README.md (add --placeholder to mark them so)")

    if args.rerender:
        return rerender(args.out or RESULTS, None if args.no_readme else (args.readme or README))

    machine = machine_facts()
    key = machine_key(machine)
    git = git_state()
    date = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    run_id = f"{date} {short_commit(git['commit'])}"
    run: dict[str, Any] = {**git, "date": date, "quick": args.quick, "packages": package_versions(),
                           "argv": " ".join(["bench/run_all.py", *(argv if argv is not None else sys.argv[1:])]),
                           "load_before": loadavg()}
    print(f"machine: {key}; commit {git['commit']}{' (dirty)' if git['dirty'] else ''}; load {run['load_before']}")
    if run["load_before"] and run["load_before"][0] > 0.5 * max(1, machine["cpus"]):
        print(f"warning: load average {run['load_before'][0]} on {machine['cpus']} CPUs: the machine is not idle")
    t0 = time.perf_counter()
    results: dict[str, Any] = {}
    for b in selected:
        print(f"\n== {b.name}: {b.shown(args.quick)}", flush=True)
        rec = run_bench(b, args.quick, args.logs, args.timeout)
        rec["run"] = run_id
        results[b.name] = rec
        print(f"== {b.name}: {rec['status']} in {rec['seconds']} s" + (f" ({rec['error']})" if "error" in rec else ""))
    run.update(load_after=loadavg(), seconds=round(time.perf_counter() - t0, 1))

    text = out.read_text(encoding="utf-8") if out.is_file() else ""
    text = update_results(text, key, {"machine": machine, "runs": {run_id: run}, "benchmarks": results}, args.quick)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(out, text)
    print(f"\nwrote {out}")
    if readme is not None:
        update_readme(readme, out, text)
    print(f"summary ({key}):\n")
    print(render_summary(section_data(sections(text)[key]) or {}))
    failed = [n for n, r in results.items() if r["status"] != "ok"]
    if failed:
        print(f"\nfailed: {', '.join(failed)} (logs under {args.logs})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
