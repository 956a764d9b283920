"""The full `vrft demo` for several seeds: held-out metric before/after GRPO, wall time, peak memory (prints figures).

Each seed runs ``vrft demo --seed S --out OUT/seed_S`` in its own process (the demo pins torch to one thread,
so ``--jobs 2`` uses both cores of a 2-core machine; wall times then include that contention). The figures
are read back from each run's ``demo_summary.json`` and printed as a markdown table: they are what the
README reports. Peak RSS is the demo process's own (``ru_maxrss``).

Run: ``.venv/bin/python bench/bench_demo.py [--seeds 0 1 2] [--jobs 1] [--out results/bench_demo]``.
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

REPO = Path(__file__).resolve().parents[1]


def run_seed(seed: int, out: Path) -> dict[str, Any]:
    folder = out / f"seed_{seed}"
    log = out / f"seed_{seed}.log"
    t0 = time.perf_counter()
    with log.open("w") as handle:
        proc = subprocess.run([sys.executable, "-m", "harness.cli", "demo", "--seed", str(seed), "--out", str(folder)],
                              cwd=REPO, stdout=handle, stderr=subprocess.STDOUT, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"bench_demo: seed {seed} failed (exit {proc.returncode}); see {log}")
    summary: dict[str, Any] = json.loads((folder / "demo_summary.json").read_text())
    summary["process_wall_s"] = round(time.perf_counter() - t0, 1)
    return summary


def table(summaries: list[dict[str, Any]]) -> str:
    tasks = list(summaries[0]["tasks"])
    head = ["seed", *(f"{t}: baseline -> +RFT (reward)" for t in tasks), "improved", "wall s", "peak RSS MiB"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for s in summaries:
        cells = [str(s["seed"])]
        for t in tasks:
            r = s["tasks"][t]
            held = r["held_out"]
            cells.append(f"{r['baseline']:.1f} -> {r['visual_rft']:.1f} ({r['delta']:+.1f}; "
                         f"{held['baseline']['reward']:.3f} -> {held['visual_rft']['reward']:.3f})")
        cells += [f"{len(s['improved'])}/{len(tasks)}", f"{s['timings_s']['total']:.0f}",
                  f"{s['peak_rss_mb']['self']:.0f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--jobs", type=int, default=1, help="seeds run at once (one torch thread each)")
    ap.add_argument("--out", type=Path, default=REPO / "results" / "bench_demo")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        summaries = list(pool.map(lambda s: run_seed(s, args.out), args.seeds))
    print(table(summaries))
    stage_times: dict[str, list[float]] = {}
    for s in summaries:
        for name, sec in s["timings_s"].items():
            stage_times.setdefault(name, []).append(sec)
    print("\nstage wall times (s), per seed:")
    for name, secs in stage_times.items():
        print(f"  {name:<42} {' / '.join(f'{x:.0f}' for x in secs)}")


if __name__ == "__main__":
    main()
