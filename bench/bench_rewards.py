"""Verifier throughput: completions/s per task kind and profile, on one core.

    .venv/bin/python bench/bench_rewards.py [--n 10000] [--cli-n 50000] [--seed 0] [--quick] [--json PATH]

Documented size (bench/RESULTS.md): 10,000 completions per kind, 1,000 for the slow math_verify path,
50,000 lines per `vrft reward` run; ``--quick``: 1,000, 100 and 2,000 (a smoke run, not a figure).

Synthetic completions: 1–5 GT boxes, each predicted with jitter (some missed), plus 0–3 extra
predictions; classification and grounding completions of the same count. Two layouts:
* ``distinct``: every completion has its own solution string;
* ``grpo``: groups of G = 8 completions share one solution, as in a GRPO step (the verifiers parse
  each solution once and cache it).
Each pass starts with the verifiers' solution caches emptied, so every solution is parsed once inside
the timing (until issue 19 the second and third passes found them all cached).
Two more cases (issue 19):
* ``junk``: what a collapsing policy emits, scored against real solutions: a short think block and an
  answer block (closed or cut off) of 100–1,000 random pieces: brackets, braces, commas, colons,
  quotes, the keys and numbers;
* ``cli``: `vrft reward` end to end, a subprocess reading a JSONL file of strict detection lines
  (both layouts) and writing its results to a file; completions per CPU second of the child with its
  start-up (``end to end``) and without it (``scoring``: minus the CPU of a run on an empty file).
  The first results are checked against the in-process scores.
Rates are reported per wall second and per CPU second of this process (the one-core rate, robust
to other work on the machine). Targets: strict detection, all components, >= 50,000/s (issue 2);
`vrft reward` >= 40,000/s and strict on junk >= 30,000/s (issue 19).
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _result import add_json_arg, emit, table

from tasks.classification import rewards as classification_rewards
from tasks.detection import rewards as detection_rewards
from tasks.grounding import rewards as grounding_rewards
from tasks.verifiers import get_verifier

REPO = Path(__file__).resolve().parents[1]


def box_str(box: list[int], conf: float | int) -> str:
    return f"{{'Position': [{box[0]}, {box[1]}, {box[2]}, {box[3]}], 'Confidence': {conf}}}"


def detection_pairs(n: int, rng: random.Random, group: int = 1) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    while len(pairs) < n:
        gts = []
        for _ in range(rng.randint(1, 5)):
            x, y = rng.randint(0, 800), rng.randint(0, 800)
            gts.append([x, y, x + rng.randint(20, 200), y + rng.randint(20, 200)])
        solution = "<answer>[" + ", ".join(box_str(b, 1) for b in gts) + "]</answer>"
        for _ in range(group):
            preds = []
            for b in gts:
                if rng.random() < 0.8:
                    j = [v + rng.randint(-8, 8) for v in b]
                    preds.append(box_str(j, round(rng.uniform(0.3, 1.0), 2)))
            for _ in range(rng.randint(0, 3)):
                x, y = rng.randint(0, 900), rng.randint(0, 900)
                preds.append(box_str([x, y, x + 50, y + 60], round(rng.uniform(0.0, 1.0), 2)))
            rng.shuffle(preds)
            completion = "<think>I see the objects.</think><answer>[" + ", ".join(preds) + "]</answer>"
            pairs.append((completion, solution))
    return pairs[:n]


def classification_pairs(n: int, rng: random.Random) -> list[tuple[str, str]]:
    names = ["pink primrose", "2012 BMW M3 Coupe", "737-400", "american_bulldog", "A340-300", "sunflower"]
    return [
        (f"<think>looks like it</think><answer>{rng.choice(names)}</answer>", f"<answer>{rng.choice(names)}</answer>")
        for _ in range(n)
    ]


def grounding_pairs(n: int, rng: random.Random) -> list[tuple[str, str]]:
    out = []
    for _ in range(n):
        x, y = rng.randint(0, 700), rng.randint(0, 700)
        gt = f"<answer> ({x},{y}),({x + 200},{y + 150}) </answer>"
        dx, dy = rng.randint(-30, 30), rng.randint(-30, 30)
        comp = f"<think>the cup</think><answer>({x + dx},{y + dy}),({x + 200 + dx},{y + 150 + dy})</answer>"
        out.append((comp, gt))
    return out


def junk_pairs(n: int, rng: random.Random, solutions: list[str]) -> list[tuple[str, str]]:
    """What a collapsing policy emits (module docstring), each against one of `solutions`."""
    pool = ["[", "]", "{", "}", ",", ", ", ":", " ", "'", "Position", "Confidence"]
    pairs = []
    for _ in range(n):
        pieces = [
            str(rng.randint(0, 1000)) if rng.random() < 0.4 else rng.choice(pool) for _ in range(rng.randint(100, 1000))
        ]
        body = "".join(pieces)
        closed = "</answer>" if rng.random() < 0.5 else ""
        pairs.append((f"<think>{body[:80]}</think><answer>{body}{closed}", rng.choice(solutions)))
    return pairs


def clear_solution_caches() -> None:
    """Empty every solution-side cache of the verifiers (the lru_caches of their modules)."""
    for module in (detection_rewards, classification_rewards, grounding_rewards):
        for obj in vars(module).values():
            if callable(getattr(obj, "cache_clear", None)):
                obj.cache_clear()


def measure(kind: str, profile: str, pairs: list[tuple[str, str]], **opts: object) -> tuple[float, float]:
    """(completions per wall second, completions per CPU second of this process). The CPU figure is the
    one-core rate even when other work shares the machine; best of three passes, each starting with
    empty solution caches (a solution is read once per pass, as once per GRPO step)."""
    verifier = get_verifier(kind, profile, **opts)
    best_wall = best_cpu = 0.0
    for _ in range(3 if len(pairs) <= 20_000 else 1):
        clear_solution_caches()
        wall, cpu = time.perf_counter(), time.process_time()
        for completion, solution in pairs:
            verifier.score(completion, verifier.parse_target(solution))
        best_wall = max(best_wall, len(pairs) / (time.perf_counter() - wall))
        best_cpu = max(best_cpu, len(pairs) / max(time.process_time() - cpu, 1e-9))
    return best_wall, best_cpu


def _child_run(cmd: list[str], out: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one `vrft reward` subprocess writing its results to `out`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = time.perf_counter()
    with out.open("wb") as sink:
        subprocess.run(cmd, stdout=sink, stderr=subprocess.PIPE, cwd=REPO, check=True)
    wall = time.perf_counter() - wall
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def measure_cli(pairs: list[tuple[str, str]], runs: int) -> dict[str, float]:
    """`vrft reward --kind detection` (strict) on `pairs` as a JSONL file; best of `runs` runs. Raises if
    the results are not the in-process scores."""
    with tempfile.TemporaryDirectory() as tmp:
        src, empty, out = Path(tmp, "in.jsonl"), Path(tmp, "empty.jsonl"), Path(tmp, "out.jsonl")
        src.write_text("".join(json.dumps({"completion": c, "solution": s}) + "\n" for c, s in pairs))
        empty.write_text("")
        cmd = [sys.executable, "-m", "harness.cli", "reward", "--kind", "detection"]
        startup = min(_child_run([*cmd, str(empty)], out)[1] for _ in range(runs))
        wall, cpu = min(_child_run([*cmd, str(src)], out) for _ in range(runs))
        results = out.read_text().splitlines()
    verifier = get_verifier("detection", "strict")
    expected = [verifier.score(c, verifier.parse_target(s)).as_dict() for c, s in pairs[:500]]
    if len(results) != len(pairs) or [json.loads(r) for r in results[:500]] != expected:
        raise SystemExit("vrft reward's results differ from the in-process scores")
    n = len(pairs)
    return {
        "end_to_end_per_cpu_s": n / cpu,
        "scoring_per_cpu_s": n / max(cpu - startup, 1e-9),
        "per_wall_s": n / wall,
        "startup_cpu_s": startup,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, help="completions per kind (default 10,000; --quick 1,000)")
    parser.add_argument("--cli-n", type=int, help="lines per `vrft reward` run (default 50,000; --quick 2,000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--math-verify-n", type=int, help="samples for the slow math_verify path (default 1,000)")
    parser.add_argument("--quick", action="store_true", help="smoke size: 1,000 completions, 100 for math_verify")
    add_json_arg(parser)
    args = parser.parse_args()
    n = args.n or (1_000 if args.quick else 10_000)
    mv_n = args.math_verify_n or (100 if args.quick else 1_000)
    cli_n = args.cli_n or (2_000 if args.quick else 50_000)
    rng = random.Random(args.seed)
    data = {
        "detection": detection_pairs(n, rng),
        "detection (grpo)": detection_pairs(n, rng, group=8),
        "classification": classification_pairs(n, rng),
        "grounding": grounding_pairs(n, rng),
    }
    data["junk"] = junk_pairs(n, rng, [s for _, s in data["detection"]])
    rows, figures = [], {}
    print(f"{'kind':<17} {'profile':<28} {'per wall s':>12} {'per CPU s':>12}  (n)")
    for name, pairs in data.items():
        kind = "detection" if name == "junk" else name.split()[0]
        for label, profile, opts, subset in (
            ("strict", "strict", {}, pairs),
            ("official (no math_verify)", "official", {"math_verify": False}, pairs),
            ("official (math_verify)", "official", {"math_verify": None}, pairs[:mv_n]),
        ):
            wall, cpu = measure(kind, profile, subset, **opts)
            print(f"{name:<17} {label:<28} {wall:>12,.0f} {cpu:>12,.0f}  ({len(subset)})")
            rows.append([name, label, f"{wall:,.0f}", f"{cpu:,.0f}", f"{len(subset):,}"])
            figures[f"{name} | {label}"] = {"per_wall_s": round(wall), "per_cpu_s": round(cpu), "n": len(subset)}
    cli_rows = []
    for layout, group in (("distinct", 1), ("grpo", 8)):
        f = measure_cli(detection_pairs(cli_n, random.Random(args.seed), group=group), runs=1 if args.quick else 3)
        print(
            f"vrft reward, {layout}: {f['end_to_end_per_cpu_s']:,.0f}/s end to end, "
            f"{f['scoring_per_cpu_s']:,.0f}/s without its {f['startup_cpu_s']:.2f} s start-up (per CPU s)"
        )
        cli_rows.append(
            [
                layout,
                f"{f['end_to_end_per_cpu_s']:,.0f}",
                f"{f['scoring_per_cpu_s']:,.0f}",
                f"{f['per_wall_s']:,.0f}",
                f"{f['startup_cpu_s']:.2f}",
                f"{cli_n:,}",
            ]
        )
        figures[f"cli {layout} | strict"] = {
            k: round(v, 2) if k == "startup_cpu_s" else round(v) for k, v in f.items()
        } | {"n": cli_n}
    emit(
        "rewards",
        {"n": n, "math_verify_n": mv_n, "cli_n": cli_n, "seed": args.seed},
        figures,
        [
            table("completions/s (best of 3 passes)", ["kind", "profile", "per wall s", "per CPU s", "n"], rows),
            table(
                "`vrft reward --kind detection` (strict) end to end, completions/s (best of 3 runs)",
                ["layout", "per CPU s", "per CPU s without start-up", "per wall s", "start-up CPU s", "lines"],
                cli_rows,
            ),
        ],
        args.json,
    )


if __name__ == "__main__":
    main()
