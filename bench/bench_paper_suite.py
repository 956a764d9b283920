"""The whole paper suite at GPU scale, with no download: a Qwen2-VL-2B-shaped model with random weights,
the suite's requests through `vrft eval`'s generation path on vLLM, and the official loop beside it.

    .venv/bin/python bench/bench_paper_suite.py                 # GPU: the whole suite; CPU: a smoke run
    .venv/bin/python bench/bench_paper_suite.py --limit 20000   # GPU: a slice, and the suite's time projected
    .venv/bin/python bench/bench_paper_suite.py --quick         # smoke size on any machine

What runs (bench/_paper_suite.py builds it): the published Qwen2-VL-2B-Instruct configuration with random
weights (bfloat16) and a tokenizer of the real vocabulary size; the suite's 509,856 requests
(``--coco-ov all``: 834,856), one distinct JPEG per image at a typical size of its dataset, the tasks' own
prompts, and a fixed number of output tokens per family (random weights never close ``</answer>``, so
every request generates exactly that many: vLLM with ``ignore_eos`` and no stop string, transformers with
``min_new_tokens``). Generation goes through `harness.runner.Generator` (what `vrft eval` uses: batches of
``--batch-size`` requests, request hashes, one generation line per request, flushed per batch) into vrft's
vLLM backend, task after task in the paper group's order, with the official eval's image policy.

Reported: engine start-up, generation wall time, requests/s, output and prompt tokens/s, peak GPU memory
(NVML, every 0.5 s; vLLM reserves ``gpu_memory_utilization`` of the GPU for its cache, so this is mostly
that reservation), and the official style (transformers ``generate``, one request at a time: vrft's hf
backend with ``per_sample``) on ``--hf-n`` requests drawn over the suite in its proportions, as a ratio
of requests/s. A slice (``--limit``) also gives the whole suite's projected generation time.

Without CUDA it scales down by itself: `harness.tiny`'s model, ``--limit 18`` (two requests of most tasks),
the tiny image policy, 8 output tokens and 2 requests for the official loop: a smoke check of the path, not
a figure of the suite. Targets (issue 19): the whole suite in under an hour on one H100-class GPU; >= 30x
the official loop.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from _paper_suite import QWEN2_VL_2B_PARAMS, build_random_2b, build_requests, suite_parts, take, write_images
from _result import add_json_arg, emit, table

for _var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
    os.environ.setdefault(_var, "1")


class _Task:
    """What `Generator.run` reads of a task: its name and version (for the request hashes)."""

    def __init__(self, name: str) -> None:
        self.name, self.version = name, "bench"


class GpuMemory:
    """Peak GPU memory in use (all processes: vLLM's engine is a child process), sampled by NVML."""

    def __init__(self, period_s: float = 0.5) -> None:
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(period_s,), daemon=True)

    def _used(self) -> int:
        try:
            out = subprocess.run(
                ["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits"],
                capture_output=True,
                text=True,
                timeout=10,
                check=True,
            ).stdout
        except (OSError, subprocess.SubprocessError):
            return 0
        return sum(int(x) for x in out.split()) * 1024**2

    def _run(self, period_s: float) -> None:
        while not self._stop.wait(period_s):
            self.peak_bytes = max(self.peak_bytes, self._used())

    def __enter__(self) -> GpuMemory:
        self.peak_bytes = self._used()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def forced_vllm(model: Path, params: Any, **opts: Any) -> Any:
    """vrft's vLLM backend, every request generating exactly its max_new_tokens (EOS ignored)."""
    from harness.backends.vllm_backend import VLLMBackend

    class ForcedLength(VLLMBackend):
        def _sampling_params(self, req: Any) -> Any:
            sampling = super()._sampling_params(req)
            sampling.ignore_eos = True  # read when the engine takes the request (vLLM sets it so itself)
            return sampling

    return ForcedLength(model, params, **opts)


def run_vllm(model: Path, params: Any, requests: dict[str, list[Any]], batch_size: int, gpu: bool) -> dict[str, Any]:
    from tqdm import tqdm

    from harness.runner import Generator

    tokens = {"prompt": 0, "output": 0}
    total = sum(len(r) for r in requests.values())
    with tempfile.TemporaryDirectory() as tmp, GpuMemory() if gpu else _NoMemory() as memory:
        t0 = time.perf_counter()
        backend = forced_vllm(model, params, max_model_len=4096)
        startup = time.perf_counter() - t0
        try:
            with Path(tmp, "generations.jsonl").open("w", encoding="utf-8") as sink:
                gen = Generator(lambda: _Counting(backend, tokens), params, sink, batch_size)
                t0 = time.perf_counter()
                with tqdm(total=total, desc="suite", unit="req", dynamic_ncols=True) as bar:
                    for task, reqs in requests.items():
                        gen.run(_Task(task), reqs, bar)  # type: ignore[arg-type]
                wall = time.perf_counter() - t0
        finally:
            backend.close()
    return {
        "startup_s": startup,
        "wall_s": wall,
        "requests": total,
        "errors": gen.n_errors,
        "prompt_tokens": tokens["prompt"],
        "output_tokens": tokens["output"],
        "peak_gpu_gib": memory.peak_bytes / 1024**3,
    }


class _Counting:
    """The backend as `Generator` sees it, adding up prompt and output tokens."""

    def __init__(self, backend: Any, tokens: dict[str, int]) -> None:
        self.backend, self.tokens, self.name = backend, tokens, backend.name

    def generate(self, reqs: Any) -> Any:
        gens = self.backend.generate(reqs)
        self.tokens["prompt"] += sum(g.n_prompt_tokens for g in gens)
        self.tokens["output"] += sum(g.n_completion_tokens for g in gens)
        return gens


class _NoMemory:
    peak_bytes = 0

    def __enter__(self) -> _NoMemory:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


def run_official(model: Path, params: Any, requests: list[Any], gpu: bool) -> dict[str, Any]:
    """transformers ``generate`` one request at a time (vrft's hf backend, ``per_sample``), forced length."""
    from harness.backends import make_backend
    from harness.runner import chat_request

    hf = make_backend("hf", str(model), params, per_sample=True)
    hf.model.generation_config.eos_token_id = None  # type: ignore[attr-defined]  # every request to its length
    hf.eos_ids = set()  # type: ignore[attr-defined]
    chats = [chat_request(r) for r in requests]
    hf.generate(chats[:1])  # warm-up, excluded
    if gpu:
        import torch

        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    gens = hf.generate(chats)
    wall = time.perf_counter() - t0
    peak = 0.0
    if gpu:
        import torch

        peak = torch.cuda.max_memory_allocated() / 1024**3
    hf.close()
    return {
        "requests": len(chats),
        "wall_s": wall,
        "output_tokens": sum(g.n_completion_tokens for g in gens),
        "errors": sum(not g.ok for g in gens),
        "peak_gpu_gib": peak,
    }


def spread(requests: dict[str, list[Any]], n: int) -> list[Any]:
    """About `n` requests over the tasks in their proportions (at least one each), evenly spaced in each;
    ids prefixed with the task (one backend call holds several tasks' requests)."""
    total = sum(len(r) for r in requests.values())
    out = []
    for task, reqs in requests.items():
        k = max(1, round(n * len(reqs) / total))
        out += [
            replace(reqs[i * len(reqs) // k], request_id=f"{task}/{reqs[i * len(reqs) // k].request_id}")
            for i in range(k)
        ]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__
    )
    ap.add_argument(
        "--limit",
        type=int,
        help="about this many requests, in the suite's proportions (default: all on a GPU, 18 on CPU)",
    )
    ap.add_argument("--hf-n", type=int, help="requests for the official one-at-a-time loop (GPU 200, CPU 2)")
    ap.add_argument(
        "--coco-ov",
        choices=["novel", "all"],
        default="novel",
        help="coco_ov's categories: its 15 novel ones (issue 19's mix) or all 80, as vrft eval asks",
    )
    ap.add_argument("--batch-size", type=int, default=1024, help="requests per backend call (vrft eval --batch-size)")
    ap.add_argument("--work-dir", type=Path, help="keep the model and images here (reused when present)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes writing images")
    ap.add_argument("--quick", action="store_true", help="smoke size: 18 requests and 2 for the official loop")
    add_json_arg(ap)
    args = ap.parse_args()

    import torch

    from harness.backends import GenerationParams
    from harness.tiny import TINY_MAX_PIXELS, TINY_MIN_PIXELS, build_tiny_qwen2vl

    gpu = torch.cuda.is_available()
    smoke = args.quick or not gpu
    limit = args.limit or (18 if smoke else None)
    hf_n = args.hf_n or (2 if smoke else 200)
    parts = suite_parts(args.coco_ov)
    suite_requests = sum(p.requests for p in parts)
    work_ctx = tempfile.TemporaryDirectory() if args.work_dir is None else None
    work = Path(work_ctx.name) if work_ctx else args.work_dir
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    if gpu and not args.quick:
        params = GenerationParams(stop=())  # the official eval's image policy; no stop string
        model = work / "qwen2-vl-2b-random"
        if not (model / "config.json").is_file():
            build_random_2b(model, params.min_pixels, params.max_pixels)
        model_name = "Qwen2-VL-2B shape, random weights"
    else:
        params = GenerationParams(stop=(), min_pixels=TINY_MIN_PIXELS, max_pixels=TINY_MAX_PIXELS)
        model = build_tiny_qwen2vl(work / "tiny")
        model_name = "tiny (harness.tiny)"
    model_s = time.perf_counter() - t0
    counts = take(parts, limit)
    requests = build_requests(parts, counts, work / "images")
    if smoke:  # the smoke run's few tokens: enough to exercise the path
        requests = {t: [_shorter(r, 8) for r in reqs] for t, reqs in requests.items()}
    t0 = time.perf_counter()
    written = write_images(requests, args.workers)
    images_s = time.perf_counter() - t0

    vl = run_vllm(model, params, requests, args.batch_size, gpu)
    sample = spread(requests, hf_n)
    hf = run_official(model, params, sample, gpu)
    # every figure per token assumes the forced lengths held: check them
    for name, got, want in (("vLLM", vl, requests.values()), ("official loop", hf, [sample])):
        expected = sum(r.max_new_tokens for reqs in want for r in reqs)
        if got["output_tokens"] != expected or got["errors"]:
            raise SystemExit(
                f"{name}: {got['output_tokens']} output tokens, expected {expected}; errors {got['errors']}"
            )
    if work_ctx:
        work_ctx.cleanup()

    device = torch.cuda.get_device_name(0) if gpu else "CPU"
    req_s = vl["requests"] / vl["wall_s"]
    hf_req_s = hf["requests"] / hf["wall_s"]
    figures: dict[str, Any] = {
        "mode": "smoke" if smoke else ("slice" if limit else "suite"),
        "device": device,
        "model": model_name,
        "requests": vl["requests"],
        "suite_requests": suite_requests,
        "errors": vl["errors"] + hf["errors"],
        "model_build_s": round(model_s, 1),
        "images_written": written,
        "images_s": round(images_s, 1),
        "engine_startup_s": round(vl["startup_s"], 1),
        "generation_wall_s": round(vl["wall_s"], 1),
        "req_per_s": round(req_s, 2),
        "output_tok_per_s": round(vl["output_tokens"] / vl["wall_s"], 1),
        "prompt_tok_per_s": round(vl["prompt_tokens"] / vl["wall_s"], 1),
        "peak_gpu_gib": round(vl["peak_gpu_gib"], 1) if gpu else None,
        "official_requests": hf["requests"],
        "official_req_per_s": round(hf_req_s, 3),
        "official_peak_gpu_gib": round(hf["peak_gpu_gib"], 1) if gpu else None,
        "speedup_vs_official": round(req_s / hf_req_s, 1),
    }
    if figures["mode"] == "slice":  # the slice keeps the suite's proportions
        figures["projected_suite_s"] = round(suite_requests / req_s + vl["startup_s"])
    if not smoke:
        figures["parameters"] = QWEN2_VL_2B_PARAMS
    for k, v in figures.items():
        print(f"{k:24s} {v}")
    per_task = [
        [p.task, f"{len(r):,}", f"{p.requests:,}", r[0].max_new_tokens]
        for p, r in zip(parts, requests.values(), strict=True)
    ]
    emit(
        "paper-suite",
        {
            "mode": figures["mode"],
            "device": device,
            "model": model_name,
            "requests": vl["requests"],
            "coco_ov": args.coco_ov,
            "batch_size": args.batch_size,
            "official_requests": hf["requests"],
        },
        figures,
        [
            table(
                "the paper suite on vLLM (vrft eval's generation path) vs the official loop",
                ["figure", "value"],
                [[k, v] for k, v in figures.items()],
            ),
            table("requests per task", ["task", "run", "in the suite", "output tokens each"], per_task),
        ],
        args.json,
    )


def _shorter(req: Any, tokens: int) -> Any:
    return replace(req, max_new_tokens=min(req.max_new_tokens, tokens))


if __name__ == "__main__":  # vLLM spawns worker processes: this guard is required
    main()
