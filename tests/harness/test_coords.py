"""--coords pixels: answers in resized-image pixels are converted at the edge before scoring."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from harness.backends.base import GenerationParams
from harness.backends.images import smart_resize
from harness.config import EvalConfig
from harness.coords import pixels_to_norm1000
from harness.runner import run_eval
from harness.score_cmd import score_run
from tasks.registry import get_task
from tasks.synthetic import write_synthetic


def test_conversion_scales_by_the_resized_side() -> None:
    rh, rw = smart_resize(480, 640, min_pixels=3136, max_pixels=12845056)
    text = f"<answer>[{{'Position': [0, 0, {rw}, {rh}], 'Confidence': 0.5}}]</answer>"
    assert pixels_to_norm1000(text, 640, 480, 3136, 12845056) == (
        "<answer>[{'Position': [0, 0, 1000, 1000], 'Confidence': 0.5}]</answer>"
    )
    assert pixels_to_norm1000(f"({rw // 2},{rh}),({rw},{rh})", 640, 480, 3136, 12845056) == "(500,1000),(1000,1000)"


def test_pixel_answers_score_like_norm1000_answers(tmp_path: Path) -> None:
    root = tmp_path / "data"
    write_synthetic(root)
    params = GenerationParams()
    task = get_task("coco_fewshot", root, limit=4)
    gens = tmp_path / "g.jsonl"
    with gens.open("w") as f:
        for r in task.requests():
            rh, rw = smart_resize(
                r.image.height, r.image.width, min_pixels=params.min_pixels, max_pixels=params.max_pixels
            )
            boxes = task.data.gt_boxes(*(int(x) for x in r.request_id.split(":")))
            items = ", ".join(
                f"{{'Position': [{round(b[0] * rw / r.image.width)}, {round(b[1] * rh / r.image.height)}, "
                f"{round(b[2] * rw / r.image.width)}, {round(b[3] * rh / r.image.height)}], 'Confidence': 1}}"
                for b in boxes
            )
            text = f"<think>x</think><answer>[{items}]</answer>" if items else "<answer>No Objects</answer>"
            f.write(json.dumps({"request_id": r.request_id, "text": text}) + "\n")
    base = EvalConfig(
        model=str(gens),
        tasks=("coco_fewshot",),
        data_root=str(root),
        backend="replay",
        task_args={"limit": 4},
        params=params,
    )
    as_pixels = score_run(run_eval(replace(base, coords="pixels"), tmp_path / "px"))
    as_norm = score_run(run_eval(base, tmp_path / "norm"))
    assert as_pixels["coco_fewshot"]["mAP"] > 90.0
    assert as_pixels["coco_fewshot"]["mAP"] > as_norm["coco_fewshot"]["mAP"] + 10
    assert json.loads((tmp_path / "px/manifest.json").read_text())["coords"] == "pixels"
