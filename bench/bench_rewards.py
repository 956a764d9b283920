"""Verifier throughput: completions/s per task kind and profile, on one core.

    .venv/bin/python bench/bench_rewards.py [--n 10000] [--seed 0] [--quick] [--json PATH]

Documented size (bench/RESULTS.md): 10,000 completions per kind, 1,000 for the slow math_verify path;
``--quick``: 1,000 and 100 (a smoke run, not a figure).

Synthetic completions: 1–5 GT boxes, each predicted with jitter (some missed), plus 0–3 extra
predictions; classification and grounding completions of the same count. Two layouts:
* ``distinct``: every completion has its own solution string (each solution is parsed once, inside
  the timing);
* ``grpo``: groups of G = 8 completions share one solution, as in a GRPO step (the verifiers parse
  each solution once and cache it).
Rates are reported per wall second and per CPU second of this process (the one-core rate, robust
to other work on the machine). Target (issue 2): strict detection, all components, >= 50,000/s.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _result import add_json_arg, emit, table

from tasks.verifiers import get_verifier


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


def measure(kind: str, profile: str, pairs: list[tuple[str, str]], **opts: object) -> tuple[float, float]:
    """(completions per wall second, completions per CPU second of this process). The CPU figure is the
    one-core rate even when other work shares the machine; best of three passes."""
    verifier = get_verifier(kind, profile, **opts)
    best_wall = best_cpu = 0.0
    for _ in range(3 if len(pairs) <= 20_000 else 1):
        wall, cpu = time.perf_counter(), time.process_time()
        for completion, solution in pairs:
            verifier.score(completion, verifier.parse_target(solution))
        best_wall = max(best_wall, len(pairs) / (time.perf_counter() - wall))
        best_cpu = max(best_cpu, len(pairs) / max(time.process_time() - cpu, 1e-9))
    return best_wall, best_cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, help="completions per kind (default 10,000; --quick 1,000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--math-verify-n", type=int, help="samples for the slow math_verify path (default 1,000)")
    parser.add_argument("--quick", action="store_true", help="smoke size: 1,000 completions, 100 for math_verify")
    add_json_arg(parser)
    args = parser.parse_args()
    n = args.n or (1_000 if args.quick else 10_000)
    mv_n = args.math_verify_n or (100 if args.quick else 1_000)
    rng = random.Random(args.seed)
    data = {
        "detection": detection_pairs(n, rng),
        "detection (grpo)": detection_pairs(n, rng, group=8),
        "classification": classification_pairs(n, rng),
        "grounding": grounding_pairs(n, rng),
    }
    rows, figures = [], {}
    print(f"{'kind':<17} {'profile':<28} {'per wall s':>12} {'per CPU s':>12}  (n)")
    for name, pairs in data.items():
        kind = name.split()[0]
        for label, profile, opts, subset in (
            ("strict", "strict", {}, pairs),
            ("official (no math_verify)", "official", {"math_verify": False}, pairs),
            ("official (math_verify)", "official", {"math_verify": None}, pairs[:mv_n]),
        ):
            wall, cpu = measure(kind, profile, subset, **opts)
            print(f"{name:<17} {label:<28} {wall:>12,.0f} {cpu:>12,.0f}  ({len(subset)})")
            rows.append([name, label, f"{wall:,.0f}", f"{cpu:,.0f}", f"{len(subset):,}"])
            figures[f"{name} | {label}"] = {"per_wall_s": round(wall), "per_cpu_s": round(cpu), "n": len(subset)}
    emit(
        "rewards",
        {"n": n, "math_verify_n": mv_n, "seed": args.seed},
        figures,
        [table("completions/s (best of 3 passes)", ["kind", "profile", "per wall s", "per CPU s", "n"], rows)],
        args.json,
    )

if __name__ == "__main__":
    main()
