"""Throughput of the official one-sample-at-a-time transformers loop vs batched vLLM, same model.

Why: the official `*_infere.py` scripts call `generate` once per image; `vrft eval` uses vLLM's
continuous batching. This script measures the gap on identical detection-style requests (image +
the COCO detection prompt) so the choice is backed by numbers, and reports vLLM's engine start-up
separately (it is paid once per run, not per request).

    .venv/bin/python bench/bench_backends.py                  # tiny offline Qwen2-VL, 64 requests
    .venv/bin/python bench/bench_backends.py --model DIR --n 256 --max-new-tokens 256
    .venv/bin/python bench/bench_backends.py --quick                  # smoke size: 8 requests, 16 tokens

Documented size (bench/RESULTS.md): the tiny model, 64 requests, 64 new tokens, HF batch 8. Both backends
run in the same process one after the other, so the ratio is measured side by side.

Outputs are greedy and capped at --max-new-tokens (the random tiny model rarely emits EOS, so nearly
every request generates exactly that many tokens). Figures on a shared 2-core CPU are noisy.
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from pathlib import Path

from _result import add_json_arg, emit, table

for _var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
    os.environ.setdefault(_var, "1")

DETECTION = (
    "<image>\nDetect all objects belonging to the category '{c}' in the image, and provide the bounding boxes "
    "(between 0 and 1000, integer) and confidence (between 0 and 1, with two decimal places).\n"
    "If no object belonging to the category '{c}' in the image, return 'No Objects'.\n"
    "Output the thinking process in <think> </think> and final answer in <answer> </answer> tags."
    "The output answer format should be as follows:\n"
    "<think> ... </think> <answer>[{{'Position': [x1, y1, x2, y2], 'Confidence': number}}, ...]</answer>\n"
    "Please strictly follow the format."
)
CATEGORIES = ("bus", "train", "fire hydrant", "stop sign", "cat", "dog", "bed", "toilet")


def make_requests(image_dir: Path, n: int, max_new_tokens: int) -> list:
    """n synthetic 'photos' (random sizes 200-640 px, a few rectangles) with the detection prompt."""
    from PIL import Image, ImageDraw

    from harness.backends import ChatRequest

    rng = random.Random(0)
    reqs = []
    for i in range(n):
        w, h = rng.randint(200, 640), rng.randint(200, 640)
        img = Image.new("RGB", (w, h), tuple(rng.randrange(256) for _ in range(3)))
        draw = ImageDraw.Draw(img)
        for _ in range(3):
            x, y = rng.randrange(w - 20), rng.randrange(h - 20)
            draw.rectangle(
                (x, y, x + rng.randint(10, w - x), y + rng.randint(10, h - y)), fill=(rng.randrange(256), 0, 0)
            )
        path = image_dir / f"img{i:04d}.png"
        img.save(path)
        reqs.append(
            ChatRequest(f"req-{i}", path, DETECTION.format(c=CATEGORIES[i % len(CATEGORIES)]), None, max_new_tokens)
        )
    return reqs


def timed(backend: object, reqs: list) -> tuple[float, list]:
    backend.generate(reqs[:1])  # type: ignore[attr-defined]  # warm-up, excluded
    t0 = time.perf_counter()
    gens = backend.generate(reqs)  # type: ignore[attr-defined]
    return time.perf_counter() - t0, gens


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, help="Qwen2-VL directory (default: build the tiny one)")
    ap.add_argument("--n", type=int, help="requests (default 64; --quick 8)")
    ap.add_argument("--max-new-tokens", type=int, help="default 64 (--quick 16)")
    ap.add_argument("--hf-batch-size", type=int, default=8, help="also time HF batched (0 = skip)")
    ap.add_argument("--max-pixels", type=int, default=None, help="default: the tiny processor's 64*28*28")
    ap.add_argument("--quick", action="store_true", help="smoke size: 8 requests, 16 new tokens")
    add_json_arg(ap)
    args = ap.parse_args()
    args.n = args.n or (8 if args.quick else 64)
    args.max_new_tokens = args.max_new_tokens or (16 if args.quick else 64)

    from harness.backends import GenerationParams, make_backend
    from harness.tiny import TINY_MAX_PIXELS, build_tiny_qwen2vl

    with tempfile.TemporaryDirectory() as tmp:
        tmp_dir = Path(tmp)
        t0 = time.perf_counter()
        model = args.model or build_tiny_qwen2vl(tmp_dir / "tiny")
        build_s = time.perf_counter() - t0
        images = tmp_dir / "images"
        images.mkdir()
        reqs = make_requests(images, args.n, args.max_new_tokens)
        params = GenerationParams(max_pixels=args.max_pixels or TINY_MAX_PIXELS)
        fig: dict[str, float | int | str] = {
            "model": str(args.model or "tiny"),
            "n": args.n,
            "max_new_tokens": args.max_new_tokens,
            "cpu_count": os.cpu_count() or 0,
        }
        if not args.model:
            fig["tiny_build_s_incl_imports"] = round(build_s, 2)

        hf = make_backend("hf", str(model), params, per_sample=True)
        hf_s, hf_gens = timed(hf, reqs)
        if args.hf_batch_size:
            hf.batch_size, hf.per_sample = args.hf_batch_size, False  # type: ignore[attr-defined]
            fig["hf_batched_req_per_s"] = round(args.n / timed(hf, reqs)[0], 2)
        hf.close()

        t0 = time.perf_counter()
        vl = make_backend("vllm", str(model), params, max_model_len=4096)
        fig["vllm_startup_s"] = round(time.perf_counter() - t0, 1)
        vl_s, vl_gens = timed(vl, reqs)
        vl.close()

    tokens = sum(g.n_completion_tokens for g in vl_gens)
    fig["hf_per_sample_req_per_s"] = round(args.n / hf_s, 2)
    fig["vllm_batched_req_per_s"] = round(args.n / vl_s, 2)
    fig["speedup_vllm_over_hf_per_sample"] = round(hf_s / vl_s, 1)
    fig["vllm_out_tokens_per_s"] = round(tokens / vl_s, 1)
    fig["greedy_texts_identical"] = sum(a.text == b.text for a, b in zip(hf_gens, vl_gens, strict=True))
    fig["errors"] = sum(not g.ok for g in hf_gens + vl_gens)
    for k, v in fig.items():
        print(f"{k:34s} {v}")
    size_keys = ("model", "n", "max_new_tokens", "cpu_count")
    emit(
        "backends",
        {k: fig[k] for k in size_keys} | {"hf_batch_size": args.hf_batch_size, "max_pixels": params.max_pixels},
        {k: v for k, v in fig.items() if k not in size_keys},
        [table("HF one at a time vs vLLM batched, same process", ["figure", "value"],
               [[k, v] for k, v in fig.items() if k not in size_keys])],
        args.json,
    )


if __name__ == "__main__":  # vLLM spawns worker processes: this guard is required
    main()
