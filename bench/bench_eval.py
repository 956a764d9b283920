"""`vrft eval` benchmarks: harness overhead and memory.

    .venv/bin/python bench/bench_eval.py overhead [--n 128]     # real vLLM engine on the tiny model
    .venv/bin/python bench/bench_eval.py memory [--sizes 1000 10000]

Documented sizes (bench/RESULTS.md): the defaults above; ``--quick`` (a smoke run): 16 requests, sizes 100 1000.
Both take ``--json PATH``.

overhead: the tiny Qwen2-VL (built offline), the synthetic coco_fewshot task (direct protocol, >= 64
requests), `run_eval` with the vLLM backend. Prints the engine start-up, requests/s, and the harness's
own share of the generation wall time (everything outside `backend.generate`: building requests,
hashing, writing and flushing lines, the progress bar). Goal: < 5 %.

memory: peak RSS of a full `run_eval` + `score_run` over N synthetic classification samples, one fresh
process per N. The backend here loads every image exactly as the real ones do (PIL, smart_resize) and
answers a fixed text, so the figure measures what the harness holds, not a model. Goal: RSS(10k) /
RSS(1k) <= 1.3 (samples stream; images are never all in memory).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from _result import add_json_arg, emit, table

from harness.backends.base import ChatRequest, Generation, GenerationParams, load_request_image


class ImageLoadingEcho:
    """Loads each request's image like the real backends, then answers a fixed text (bench only)."""

    name = "echo"

    def __init__(self, params: GenerationParams) -> None:
        self.params = params

    def generate(self, requests: Sequence[ChatRequest]) -> list[Generation]:
        out = []
        for r in requests:
            image = load_request_image(r, self.params)
            out.append(Generation(r.request_id, f"<think>{image.size}</think><answer>pink primrose</answer>"))
        return out

    def close(self) -> None:
        pass

    def describe(self) -> dict[str, Any]:
        return {"backend": "echo (bench)"}


def memory_child(n: int) -> None:
    from harness.config import EvalConfig
    from harness.runner import run_eval
    from harness.score_cmd import score_run
    from tasks.synthetic import SyntheticSizes, write_synthetic

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "data"
        write_synthetic(root, seed=0, sizes=SyntheticSizes(cls_classes=10, cls_train=0, cls_val=0, cls_test=n // 10))
        params = GenerationParams()
        cfg = EvalConfig(model="echo", tasks=("fgvc_flowers102",), data_root=str(root), backend="echo", params=params)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        t0 = time.perf_counter()
        run = run_eval(cfg, Path(tmp) / "run", backend=ImageLoadingEcho(params), use_cache=False)  # type: ignore[arg-type]
        score_run(run)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(
            json.dumps(
                {
                    "n": n,
                    "peak_rss_mb": peak / 1024,
                    "rss_before_mb": before / 1024,
                    "seconds": time.perf_counter() - t0,
                }
            )
        )


def memory(sizes: Sequence[int], json_path: Path | None = None) -> None:
    rows = []
    for n in sizes:
        res = subprocess.run(
            [sys.executable, __file__, "memory-child", str(n)], capture_output=True, text=True, check=True
        )
        rows.append(json.loads(res.stdout.strip().splitlines()[-1]))
    print(f"{'samples':>8} {'peak RSS (MB)':>14} {'seconds':>8}")
    for r in rows:
        print(f"{r['n']:>8} {r['peak_rss_mb']:>14.1f} {r['seconds']:>8.1f}")
    ratio = rows[-1]["peak_rss_mb"] / rows[0]["peak_rss_mb"]
    if len(rows) >= 2:
        print(f"ratio {rows[-1]['n']}/{rows[0]['n']}: {ratio:.2f}x (goal <= 1.3x)")
    emit(
        "eval-memory",
        {"sizes": list(sizes)},
        {
            "rows": [{k: round(v, 1) if isinstance(v, float) else v for k, v in r.items()} for r in rows],
            "ratio_last_first": round(ratio, 2),
        },
        [table("peak RSS of run_eval + score_run, one fresh process per size", ["samples", "peak RSS (MB)", "seconds"],
               [[f"{r['n']:,}", f"{r['peak_rss_mb']:.1f}", f"{r['seconds']:.1f}"] for r in rows])],
        json_path,
    )


def overhead(n: int, json_path: Path | None = None) -> None:
    from harness.backends.vllm_backend import VLLMBackend
    from harness.config import EvalConfig
    from harness.runner import run_eval
    from harness.tiny import TINY_MAX_PIXELS, TINY_MIN_PIXELS, build_tiny_qwen2vl
    from tasks.synthetic import SyntheticSizes, write_synthetic

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "data"
        images = max(8, -(-n // 8))
        write_synthetic(root, sizes=SyntheticSizes(coco_images=images))
        model = build_tiny_qwen2vl(Path(tmp) / "tiny")
        params = GenerationParams(min_pixels=TINY_MIN_PIXELS, max_pixels=TINY_MAX_PIXELS)
        t0 = time.perf_counter()
        backend = VLLMBackend(model, params, max_model_len=2048)
        startup = time.perf_counter() - t0
        cfg = EvalConfig(
            model=str(model),
            tasks=("coco_fewshot",),
            data_root=str(root),
            backend="vllm",
            task_args={"limit": images, "max_new_tokens": 64},
            params=params,
            batch_size=64,
        )
        t0 = time.perf_counter()
        run = run_eval(cfg, Path(tmp) / "run", backend=backend, use_cache=False)
        wall = time.perf_counter() - t0
        timing = json.loads((run / "manifest.json").read_text())["timing"][-1]
        backend.close()
    print(f"engine start-up: {startup:.1f} s")
    print(
        f"requests: {timing['requests']}, generation wall: {timing['generation_wall_s']:.2f} s, "
        f"{timing['requests'] / timing['generation_wall_s']:.1f} req/s"
    )
    print(
        f"inside backend.generate: {timing['backend_s']:.2f} s; harness overhead share of generation wall: "
        f"{100 * timing['harness_overhead_share']:.2f} % (goal < 5 %)"
    )
    print(f"run_eval wall incl. task loading and manifest: {wall:.2f} s")
    figures = {
        "engine_startup_s": round(startup, 1),
        "requests": timing["requests"],
        "generation_wall_s": round(timing["generation_wall_s"], 2),
        "req_per_s": round(timing["requests"] / timing["generation_wall_s"], 1),
        "backend_s": round(timing["backend_s"], 2),
        "harness_overhead_pct": round(100 * timing["harness_overhead_share"], 2),
        "run_eval_wall_s": round(wall, 2),
    }
    emit(
        "eval-overhead",
        {"n": n, "requests": timing["requests"], "max_new_tokens": 64, "batch_size": 64},
        figures,
        [table("vrft eval on vLLM, tiny model", ["figure", "value"], [[k, v] for k, v in figures.items()])],
        json_path,
    )


def main() -> None:
    if len(sys.argv) >= 3 and sys.argv[1] == "memory-child":
        memory_child(int(sys.argv[2]))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    o = sub.add_parser("overhead")
    o.add_argument("--n", type=int, help="requests (default 128; --quick 16)")
    m = sub.add_parser("memory")
    m.add_argument("--sizes", type=int, nargs="+", help="samples per process (default 1000 10000; --quick 100 1000)")
    for sp in (o, m):
        sp.add_argument("--quick", action="store_true", help="smoke size")
        add_json_arg(sp)
    args = parser.parse_args()
    if args.what == "overhead":
        overhead(args.n or (16 if args.quick else 128), args.json)
    else:
        memory(args.sizes or ([100, 1000] if args.quick else [1000, 10000]), args.json)


if __name__ == "__main__":
    main()
