"""The benchmarks `bench/run_all.py` runs: one `Bench` row each (script, documented size, smoke size, what it
measures, its one-line summary of the figures and the honest reading shown beside them in the README).

Adding a benchmark is one row in `BENCHES` (its script must end with a ``BENCH_JSON`` line, see _result.py).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent

Figures = dict[str, Any]


def fmt(x: float | int) -> str:
    """A figure as the tables print it: thousands separators, at most 2 decimals, no trailing zeros."""
    if isinstance(x, int) or (float(x).is_integer() and abs(x) >= 100):
        return f"{round(x):,}"
    return f"{x:,.2f}".rstrip("0").rstrip(".") if abs(x) < 100 else f"{x:,.1f}".rstrip("0").rstrip(".")


def _rewards(r: Figures) -> str:
    f = r["figures"]

    def rate(key: str) -> str:
        return fmt(f[key]["per_cpu_s"])

    text = (
        f"{fmt(r['size']['n'])} completions per kind, per CPU second: strict detection {rate('detection | strict')}/s; "
        f"official {rate('detection | official (no math_verify)')}/s without math_verify, "
        f"{rate('detection | official (math_verify)')}/s with it; strict classification "
        f"{rate('classification | strict')}/s, grounding {rate('grounding | strict')}/s"
    )
    if "junk | strict" in f:  # issue 19: solutions shared as in GRPO, policy junk, `vrft reward` end to end
        cli = f["cli grpo | strict"]
        text += (
            f"; strict detection, solutions shared by 8 (GRPO) {rate('detection (grpo) | strict')}/s; on junk strict "
            f"{rate('junk | strict')}/s, official {rate('junk | official (no math_verify)')}/s; `vrft reward` "
            f"(GRPO layout) {fmt(cli['scoring_per_cpu_s'])}/s, {fmt(cli['end_to_end_per_cpu_s'])}/s with its "
            f"{fmt(cli['startup_cpu_s'])} s start-up on {fmt(cli['n'])} lines"
        )
    return text


def _metrics(r: Figures) -> str:
    c, v = r["figures"]["coco"], r["figures"]["lvis"]
    text = (
        f"COCO {fmt(c['images'])} images × {c['categories']} classes: {fmt(c['seconds'])} s; "
        f"LVIS {fmt(v['images'])} × {v['categories']}: {fmt(v['seconds'])} s"
    )
    if "direct_seconds" in v:
        text += f" (the official all-images LVISEval: {fmt(v['direct_seconds'])} s)"
    return text


def _scoring(r: Figures) -> str:
    size, rows = r["size"], r["figures"]["rows"]
    parts = []
    for dataset, images in (("coco", size["coco_images"]), ("lvis", size["lvis_images"])):
        by = {row["profile"]: row for row in rows if row["dataset"] == dataset}
        if "strict" not in by:
            continue
        s = by["strict"]
        text = (
            f"{dataset.upper()} {fmt(images)} images ({fmt(s['requests'])} requests): strict {fmt(s['score_s'])} s "
            f"(metric {fmt(s['metric_s'])} s)"
        )
        if "official" in by:
            o = by["official"]
            text += f", official {fmt(o['score_s'])} s ({fmt(round(o['score_s'] / s['score_s'], 1))}× strict)"
        parts.append(text)
    return "; ".join(parts)


def _backends(r: Figures) -> str:
    f, s = r["figures"], r["size"]
    hf_b = ""
    if "hf_batched_req_per_s" in f:
        hf_b = f", HF batched ({s['hf_batch_size']}) {fmt(f['hf_batched_req_per_s'])} req/s"
    return (
        f"{s['n']} detection requests, {s['max_new_tokens']} new tokens, {s['model']} model: HF one at a time "
        f"{fmt(f['hf_per_sample_req_per_s'])} req/s{hf_b}, vLLM batched {fmt(f['vllm_batched_req_per_s'])} req/s "
        f"({fmt(f['speedup_vllm_over_hf_per_sample'])}× HF one at a time, same run); vLLM engine start-up "
        f"{fmt(f['vllm_startup_s'])} s"
    )


def _eval_overhead(r: Figures) -> str:
    f = r["figures"]
    return (
        f"`vrft eval` on vLLM, {f['requests']} requests: {fmt(f['req_per_s'])} req/s; harness time outside "
        f"generation {fmt(f['harness_overhead_pct'])} % of the generation wall (goal < 5 %); engine start-up "
        f"{fmt(f['engine_startup_s'])} s"
    )


def _eval_memory(r: Figures) -> str:
    rows = r["figures"]["rows"]
    runs = ", ".join(f"{fmt(x['n'])} samples {fmt(x['peak_rss_mb'])} MB" for x in rows)
    return f"peak RSS of eval + scoring: {runs} ({fmt(r['figures']['ratio_last_first'])}×, goal ≤ 1.3×)"


def _train(r: Figures) -> str:
    f, s = r["figures"], r["size"]
    return (
        f"{fmt(f['steps_per_s'])} steps/s = {fmt(f['completions_per_s'])} completions/s "
        f"({s['prompts_per_step']} prompts "
        f"× {s['num_generations']} generations, {s['max_completion_length']} tokens, {f['device']}, rollouts: "
        f"{f['rollouts']}; {f['timed_steps']} timed steps)"
    )


def _demo(r: Figures) -> str:
    seeds = r["figures"]["seeds"]
    walls = [s["wall_s"] for s in seeds]
    wall = f"{fmt(min(walls))}–{fmt(max(walls))} s" if len(walls) > 1 else f"{fmt(walls[0])} s"
    improved = ", ".join(f"{s['improved']}/{s['tasks']}" for s in seeds)
    what = "`vrft demo --fast` (smoke version)" if r["size"].get("fast") else "the full `vrft demo`"
    ids = ", ".join(str(s["seed"]) for s in seeds)
    at_once = f", {min(r['size']['jobs'], len(seeds))} at once" if len(seeds) > 1 and r["size"]["jobs"] > 1 else ""
    tasks_at_once = f", {r['size']['demo_jobs']} tasks at once" if "demo_jobs" in r["size"] else ""
    peak = max(s.get("peak_memory_mib", s.get("peak_rss_mib", 0)) for s in seeds)
    return (
        f"{what}, seed{'s' if len(seeds) > 1 else ''} {ids}{at_once}{tasks_at_once}: {wall} per seed, peak memory "
        f"{fmt(peak)} MiB; tasks improved by GRPO per seed: {improved}"
    )


def _bootstrap(r: Figures) -> str:
    f = r["figures"]
    parts = []
    for row in f["rows"]:
        paired = f", paired B − A {fmt(row['paired_s'])} s" if "paired_s" in row else ""
        parts.append(f"{row['kind'].upper()} {fmt(row['images'])} images × {row['classes']} classes: one evaluator run "
                     f"{fmt(row['evaluator_s'])} s, {fmt(row['replicates'])} bootstrap replicates "
                     f"{fmt(row['bootstrap_s'])} s{paired}")
    acc = f.get("accuracy")
    if acc:
        parts.append(f"accuracy over {fmt(acc['items'])} items: {fmt(acc['bootstrap_s'])} s")
    return "; ".join(parts)


def _sam(r: Figures) -> str:
    f, s = r["figures"], r["size"]
    return (
        f"{s['arch']} SAM ({fmt(f['params'])} params, {f['device']}), {s['test']} + {s['val']} items: "
        f"{fmt(f['masks_per_s'])} masks/s ({fmt(f['images_per_s'])} images/s); re-scoring from masks.jsonl "
        f"{fmt(f['score_seconds'])} s"
    )


def _paper_suite(r: Figures) -> str:
    f = r["figures"]
    where = f"{f['device']}, {f['model']}"
    if f["mode"] == "smoke":
        return (
            f"smoke run ({where}, {fmt(f['requests'])} of the suite's {fmt(f['suite_requests'])} requests): "
            f"{fmt(f['req_per_s'])} req/s on vLLM vs {fmt(f['official_req_per_s'])} req/s one at a time; "
            f"engine start-up {fmt(f['engine_startup_s'])} s"
        )
    whole = (
        f"the suite in {fmt(f['generation_wall_s'])} s"
        if f["mode"] == "suite"
        else f"{fmt(f['requests'])} requests, the suite projected at {fmt(f['projected_suite_s'])} s"
    )
    return (
        f"{where}: {whole}; {fmt(f['req_per_s'])} req/s, {fmt(f['output_tok_per_s'])} output tokens/s, "
        f"{fmt(f['speedup_vs_official'])}× the official one-at-a-time loop; start-up {fmt(f['engine_startup_s'])} s, "
        f"peak GPU memory {fmt(f['peak_gpu_gib'])} GiB"
    )


@dataclass(frozen=True)
class Bench:
    """One benchmark: its command at the documented size (``--quick`` is added for smoke runs), what it
    measures, how its figures read in one line of the summary table, and the honest reading of them."""

    name: str
    script: str
    args: tuple[str, ...]
    what: str
    summary: Callable[[Figures], str]
    reading: str
    reading_gpu: str | None = None  # where a GPU changes what the figures mean
    expensive: bool = False  # only with --with-demo; otherwise its last figures are carried over
    quick_args: tuple[str, ...] = ("--quick",)  # what makes a smoke run of it
    timeout_s: int = 3600

    def command(self, quick: bool, json_path: Path | None = None) -> list[str]:
        cmd = [sys.executable, str(BENCH / self.script), *self.args]
        if quick:
            cmd += self.quick_args
        if json_path is not None:
            cmd += ["--json", str(json_path)]
        return cmd

    def shown(self, quick: bool) -> str:
        return " ".join([f"bench/{self.script}", *self.args, *(self.quick_args if quick else ())])


BENCHES: tuple[Bench, ...] = (
    Bench(
        "rewards", "bench_rewards.py", (), "verifier completions/s per task kind and profile", _rewards,
        "Rates per CPU second of the one benchmark process: time spent waiting for a core is discounted, "
        "contention on a loaded machine is not. Issue 2's target for strict detection is 50,000/s; math_verify "
        "(sympy) is what makes the official profile slow. From issue 19 on, every pass starts with empty solution "
        "caches: `detection` parses each completion's own solution inside the timing, GRPO's 8 share one.",
    ),
    Bench(
        "metrics", "bench_metrics.py", (), "metric only (pycocotools / lvis) on synthetic GT and detections",
        _metrics,
        "The evaluators' own time, which dominates strict scoring. The LVIS adapter evaluates only the images "
        "that are positive or negative for the few-shot classes; the official all-images run gives the same APs.",
    ),
    Bench(
        "scoring", "bench_scoring.py", (), "end-to-end `vrft score` work: parse + reward + metric, no generation",
        _scoring,
        "Absolute seconds belong to this machine; strict vs official is measured side by side. The official "
        "profile is slower because it runs math_verify on every completion, as the official scripts do.",
    ),
    Bench(
        "backends", "bench_backends.py", (), "official one-sample-at-a-time transformers loop vs batched vLLM",
        _backends,
        "A 0.9 M-parameter random model on CPU cannot show the batching gains a 2B model on a GPU does: there "
        "is almost no compute per token to share, so per-request overhead dominates; the ratio shows vLLM's "
        "batched path works, not how much faster a real evaluation is.",
        reading_gpu="The tiny model leaves the GPU almost idle, so this measures per-request overhead, not "
        "compute: a 2B model batches far better than this ratio suggests.",
    ),
    Bench(
        "eval-overhead", "bench_eval.py", ("overhead",), "`vrft eval`'s own time around the engine", _eval_overhead,
        "What the harness adds (requests, hashing, result lines, progress) as a share of generation; a real "
        "model generates far slower than the tiny one, so on it the share only shrinks.",
    ),
    Bench(
        "eval-memory", "bench_eval.py", ("memory",), "peak RSS of eval + scoring vs number of samples",
        _eval_memory,
        "Samples stream through eval and scoring: memory stays flat as the sample count grows tenfold (the "
        "baseline is the Python process with its imports).",
    ),
    Bench(
        "train", "bench_train.py", (), "GRPO optimizer steps/s on the tiny model", _train,
        "The GRPO plumbing (rollouts, verifier rewards, reference KL, update) on a tiny model; a 2B model's step "
        "is dominated by generation and backward, which this does not measure.",
    ),
    Bench(
        "bootstrap", "bench_bootstrap.py", (), "image-level bootstrap intervals of box AP and accuracy", _bootstrap,
        "What the image-level bootstrap intervals cost beside one run of the evaluator on the same data, "
        "measured side by side in one process.",
        quick_args=("--coco-images", "500", "--lvis-images", "2000", "--replicates", "100"),
    ),
    Bench(
        "sam", "bench_sam.py", (), "lisa_grounding's mask stage (`vrft eval --sam`): masks/s", _sam,
        "The tiny random SAM at the real input geometry (1024-px inputs, masks back at image size), two boxes per "
        "image as a real run asks: the harness around SAM (image reading, resizing, RLE, resumable lines), not the "
        "cost of ViT-H, which `bench/bench_sam.py --arch vit-h` measures on a GPU.",
        reading_gpu="On a GPU the tiny model leaves the device idle; `--arch vit-h` gives the real-size figure.",
    ),
    Bench(
        "paper-suite", "bench_paper_suite.py", (), "the whole paper suite on vLLM, a random 2B model (GPU)",
        _paper_suite,
        "Without a GPU this is a smoke run of the path (the tiny model, a few requests of each task): its rates "
        "say nothing about the suite. bench/bench_paper_suite.py on a CUDA machine gives the real figures.",
        reading_gpu="A Qwen2-VL-2B-shaped model with random weights and a fixed number of output tokens per "
        "task (64, 96 for LISA): the compute of a 2B evaluation, not its answers. Peak memory is mostly vLLM's "
        "reserved KV cache.",
        timeout_s=10800,
    ),
    Bench(
        "demo", "bench_demo.py", ("--jobs", "1", "--demo-jobs", "2"), "the full `vrft demo`, several seeds", _demo,
        "Wall time of the whole offline demo (data, tiny model, SFT warm start, eval, GRPO, eval) as `make demo` "
        "runs it: seeds one after the other, each training its tasks two at a time (one process and one torch "
        "thread each); per-seed held-out metrics are in the table above and in bench/RESULTS.md.",
        expensive=True, timeout_s=7200,
    ),
)


def available_benches() -> list[Bench]:
    """The benchmarks whose script is present (a branch without one of them still runs the others)."""
    return [b for b in BENCHES if (BENCH / b.script).is_file()]


def bench_by_name() -> dict[str, Bench]:
    return {b.name: b for b in BENCHES}
