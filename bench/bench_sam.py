"""The mask stage of lisa_grounding (`harness.mask_stage`, ``vrft eval --sam``): masks/s, and re-scoring from the
stored masks.

    .venv/bin/python bench/bench_sam.py                       # tiny random SAM on CPU (documented size: 24 items)
    .venv/bin/python bench/bench_sam.py --arch vit-h          # ViT-H architecture (random weights), 779 + 200 items
    .venv/bin/python bench/bench_sam.py --quick               # smoke size: 6 items

Both build the model offline (`harness.sam.build_random_sam`: the tiny config of ``vrft tiny --sam``, or the ViT-H
config of ``facebook/sam-vit-huge``, 641 M parameters, with random weights: the compute of the paper's SAM, not
its masks) and run on the GPU when there is one (``--arch vit-h`` is meant for one: on 2 CPU cores one image
takes minutes).
The data are synthetic ReasonSeg folders with images of ReasonSeg-like sizes (640-1280 px a side; every image is
resized to 1024 on its long side anyway, and masks are upscaled back to it); answers are replayed, one box each,
so each item asks for two boxes (the strict and the official reading), as a real run does. Timed: the mask stage
without loading the model (images read, encoder batches, decoder per image, RLE, lines written), then
``vrft score`` of the run from masks.jsonl (no SAM). ``--json PATH`` writes the figures.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _result import add_json_arg, emit, table
from PIL import Image

SIZES = ((1024, 768), (800, 600), (1280, 960), (640, 853))  # (width, height): ReasonSeg-like


def write_items(folder: Path, n: int, rng: np.random.Generator) -> None:
    """`n` ReasonSeg pairs (``<name>.jpg`` + ``<name>.json``): a textured image with one target rectangle."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        w, h = SIZES[i % len(SIZES)]
        small = rng.integers(0, 255, (h // 16, w // 16, 3), dtype=np.uint8)
        Image.fromarray(small).resize((w, h), Image.Resampling.BILINEAR).save(folder / f"b{i:04d}.jpg", quality=90)
        x1, y1 = int(rng.integers(0, w // 2)), int(rng.integers(0, h // 2))
        x2, y2 = x1 + int(rng.integers(w // 8, w // 2)), y1 + int(rng.integers(h // 8, h // 2))
        shape = {"label": "target", "points": [[x1, y1], [x2, y1], [x2, y2], [x1, y2]], "shape_type": "polygon"}
        (folder / f"b{i:04d}.json").write_text(json.dumps({"text": ["the thing"], "shapes": [shape]}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", choices=["tiny", "vit-h"], default="tiny", help="the SAM architecture")
    parser.add_argument("--test", type=int, help="test items (default: tiny 16, vit-h 779; --quick 4)")
    parser.add_argument("--val", type=int, help="val items (default: tiny 8, vit-h 200; --quick 2)")
    parser.add_argument("--batch", type=int, default=4, help="images per encoder call (--sam-batch-size)")
    parser.add_argument("--quick", action="store_true", help="smoke size")
    add_json_arg(parser)
    args = parser.parse_args()
    n_test = args.test or (4 if args.quick else 16 if args.arch == "tiny" else 779)
    n_val = args.val or (2 if args.quick else 8 if args.arch == "tiny" else 200)

    import torch

    from harness.cli import main as vrft
    from harness.mask_stage import make_masks
    from harness.sam import build_random_sam, tiny_sam_config, vit_h_config
    from harness.score_cmd import score_run
    from tasks.registry import get_task

    device = "cuda" if torch.cuda.is_available() else "cpu"
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory(prefix="bench_sam_") as tmp:
        root, run_dir = Path(tmp) / "data", Path(tmp) / "run"
        for split, n in (("test", n_test), ("val", n_val)):
            write_items(root / "lisa" / "ReasonSeg" / split, n, rng)
        t0 = time.perf_counter()
        config = tiny_sam_config() if args.arch == "tiny" else vit_h_config()
        sam = build_random_sam(Path(tmp) / "sam", config)
        build_s = time.perf_counter() - t0
        n_params = json.loads((sam / "tiny_build.json").read_text())["n_params"]
        replay = Path(tmp) / "answers.jsonl"
        with replay.open("w") as f:
            for r in get_task("lisa_grounding", root).requests():
                f.write(json.dumps({"request_id": r.request_id, "text": "<think>x</think>" + r.solution}) + "\n")
        argv = ["eval", "--model", str(replay), "--backend", "replay", "--data-root", str(root), "--tasks"]
        if vrft([*argv, "lisa_grounding", "--run-dir", str(run_dir), "--bootstrap", "0"]) != 0:
            sys.exit("bench_sam: the replayed evaluation failed")
        t0 = time.perf_counter()
        report = make_masks(run_dir, str(sam), batch_size=args.batch)
        stage_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        metrics = score_run(run_dir, bootstrap=0)["lisa_grounding"]
        score_s = time.perf_counter() - t0
    images = n_test + n_val
    figures = {
        "device": device,
        "params": n_params,
        "masks": report.made,
        "images": images,
        "masks_per_s": round(report.made / report.seconds, 3),
        "images_per_s": round(images / report.seconds, 3),
        "mask_seconds": round(report.seconds, 2),
        "stage_seconds_with_load": round(stage_s, 2),
        "score_seconds": round(score_s, 2),
        "build_seconds": round(build_s, 2),
        "gIoU_test": metrics["gIoU_test"],
    }
    rows = [
        ["masks/s", figures["masks_per_s"]],
        ["images/s", figures["images_per_s"]],
        ["masks made", report.made],
        ["mask stage (s, model load excluded)", figures["mask_seconds"]],
        ["mask stage (s, with loading SAM)", figures["stage_seconds_with_load"]],
        ["vrft score from masks.jsonl (s)", figures["score_seconds"]],
    ]
    title = f"SAM mask stage, {args.arch} ({figures['params']:,} params), {device}, {n_test}+{n_val} items"
    print(f"{title}\n" + "\n".join(f"  {k}: {v}" for k, v in rows))
    size = {"arch": args.arch, "test": n_test, "val": n_val, "batch": args.batch, "quick": args.quick}
    emit("sam", size, figures, [table(title, ["figure", "value"], rows)], args.json)


if __name__ == "__main__":
    main()
