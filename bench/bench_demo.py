"""The full `vrft demo` for several seeds: held-out metric before/after GRPO, wall time, peak memory (prints figures).

Each seed runs ``vrft demo --seed S --out OUT/seed_S --jobs J`` in its own process, one seed after the other by
default: the demo itself trains its tasks in ``--demo-jobs`` processes (2: both cores of a 2-core machine), so a
seed's wall time is what a user of ``make demo`` waits. The figures are read back from each run's
``demo_summary.json`` and printed as a markdown table: they are what the README reports. Peak memory is the
demo's sampled summed PSS over its processes (`train_plugin.demo.memory`).

Run: ``.venv/bin/python bench/bench_demo.py [--seeds 0 1 2] [--jobs 1] [--demo-jobs 2] [--out results/bench_demo]
[--json PATH]``. Documented size (bench/RESULTS.md): seeds 0 1 2, one at a time, ``--demo-jobs 2``; ``--quick``: seed
0 of ``vrft demo --fast`` (a smoke run of the plumbing, too few steps to move the metrics).
Not a test: nothing asserts on time or on the size of the effect.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from _result import add_json_arg, emit
from _result import table as json_table

from train_plugin.demo.report import peak_memory_mib

REPO = Path(__file__).resolve().parents[1]


def run_seed(seed: int, out: Path, fast: bool = False, demo_jobs: int = 2) -> dict[str, Any]:
    folder = out / f"seed_{seed}"
    log = out / f"seed_{seed}.log"
    t0 = time.perf_counter()
    with log.open("w") as handle:
        cmd = [sys.executable, "-m", "harness.cli", "demo", "--seed", str(seed), "--out", str(folder),
               "--jobs", str(demo_jobs)]
        proc = subprocess.run([*cmd, "--fast"] if fast else cmd,
                              cwd=REPO, stdout=handle, stderr=subprocess.STDOUT, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"bench_demo: seed {seed} failed (exit {proc.returncode}); see {log}")
    summary: dict[str, Any] = json.loads((folder / "demo_summary.json").read_text())
    summary["process_wall_s"] = round(time.perf_counter() - t0, 1)
    return summary


def table_cells(summaries: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    tasks = list(summaries[0]["tasks"])
    head = ["seed", *(f"{t}: baseline -> +RFT (reward)" for t in tasks), "improved", "wall s", "peak memory MiB"]
    rows = []
    for s in summaries:
        cells = [str(s["seed"])]
        for t in tasks:
            r = s["tasks"][t]
            held = r["held_out"]
            cells.append(f"{r['baseline']:.1f} -> {r['visual_rft']:.1f} ({r['delta']:+.1f}; "
                         f"{held['baseline']['reward']:.3f} -> {held['visual_rft']['reward']:.3f})")
        cells += [f"{len(s['improved'])}/{len(tasks)}", f"{s['timings_s']['total']:.0f}",
                  f"{peak_memory_mib(s):.0f}"]
        rows.append(cells)
    return head, rows


def table(summaries: list[dict[str, Any]]) -> str:
    head, rows = table_cells(summaries)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(cells) + " |" for cells in rows]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", help="default 0 1 2 (--quick: 0)")
    ap.add_argument("--jobs", type=int, default=1, help="seeds run at once (default 1)")
    ap.add_argument("--demo-jobs", type=int, default=2, help="each demo's --jobs: its tasks trained at once")
    ap.add_argument("--out", type=Path, default=REPO / "results" / "bench_demo")
    ap.add_argument("--fast", action="store_true", help="run `vrft demo --fast` (smoke version)")
    ap.add_argument("--quick", action="store_true", help="smoke size: seed 0 of `vrft demo --fast`")
    add_json_arg(ap)
    args = ap.parse_args()
    args.seeds = args.seeds or ([0] if args.quick else [0, 1, 2])
    args.fast = args.fast or args.quick
    args.out.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        summaries = list(pool.map(lambda s: run_seed(s, args.out, args.fast, args.demo_jobs), args.seeds))
    print(table(summaries))
    stage_times: dict[str, list[float]] = {}
    for s in summaries:
        for name, sec in s["timings_s"].items():
            stage_times.setdefault(name, []).append(sec)
    print("\nstage wall times (s), per seed:")
    for name, secs in stage_times.items():
        print(f"  {name:<42} {' / '.join(f'{x:.0f}' for x in secs)}")
    head, rows = table_cells(summaries)
    figures = {
        "seeds": [
            {
                "seed": s["seed"],
                "wall_s": round(s["timings_s"]["total"]),
                "process_wall_s": s["process_wall_s"],
                "peak_memory_mib": round(peak_memory_mib(s)),
                "improved": len(s["improved"]),
                "tasks": len(s["tasks"]),
            }
            for s in summaries
        ],
    }
    emit("demo", {"seeds": args.seeds, "jobs": args.jobs, "demo_jobs": args.demo_jobs, "fast": args.fast}, figures,
         [json_table("held-out metric: baseline -> +RFT, per seed", head, rows)], args.json)


if __name__ == "__main__":
    main()
