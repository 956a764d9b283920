"""bench/bench_paper_suite.py without a model: the suite's mix has the documented counts, its requests
are the tasks' own, its images are distinct and of the declared sizes, and the model is Qwen2-VL-2B's shape."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tasks.detection.prompt import detection_prompt
from tasks.registry import GROUPS
from tasks.spec import Kind

BENCH = Path(__file__).resolve().parents[1] / "bench"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"vrft_bench_{name}", BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


suite = _load("_paper_suite")

DOCUMENTED = {  # issue 19's mix: test-set images × queries per image
    "fgvc_flowers102": 2_463, "fgvc_pets37": 3_669, "fgvc_aircraft": 3_333, "fgvc_cars196": 8_041,
    "coco_fewshot": 5_000 * 8, "lvis_fewshot": 19_809 * 6, "coco_ov": 5_000 * 15, "lvis_ov": 19_809 * 13,
    "lisa_grounding": 200 + 779,
}  # fmt: skip


def test_the_mix_is_the_paper_suite_with_the_documented_counts() -> None:
    parts = suite.suite_parts()
    assert [p.task for p in parts] == GROUPS["paper"]  # every task of `vrft eval --tasks paper`, in its order
    assert {p.task: p.requests for p in parts} == DOCUMENTED
    fgvc = sum(p.images for p in parts if p.kind is Kind.CLASSIFICATION)
    assert fgvc == 17_506 and sum(DOCUMENTED.values()) == 509_856
    all_ov = {p.task: p.requests for p in suite.suite_parts("all")}
    assert all_ov["coco_ov"] == 5_000 * 80 and sum(all_ov.values()) == 834_856
    doc = (BENCH / "bench_paper_suite.py").read_text(encoding="utf-8")
    assert "509,856" in doc and "834,856" in doc
    with pytest.raises(ValueError, match="coco_ov"):
        suite.suite_parts("base")


def test_a_slice_keeps_the_proportions_and_every_task() -> None:
    parts = suite.suite_parts()
    assert suite.take(parts, None) == DOCUMENTED
    counts = suite.take(parts, 1000)
    assert set(counts) == set(DOCUMENTED) and min(counts.values()) >= 1
    assert counts["lvis_ov"] == round(1000 * 257_517 / 509_856) and abs(sum(counts.values()) - 1000) <= 9


def test_requests_are_the_tasks_own_image_major(tmp_path: Path) -> None:
    parts = suite.suite_parts()
    counts = {p.task: min(p.requests, 20) for p in parts}
    reqs = suite.build_requests(parts, counts, tmp_path)
    assert {t: len(r) for t, r in reqs.items()} == counts
    coco = reqs["coco_fewshot"]
    assert [r.text for r in coco[:8]] == [detection_prompt(c).text for c in suite.COCO_FEWSHOT]
    assert len({r.image.path for r in coco[:8]}) == 1 and coco[8].image.path != coco[0].image.path
    assert reqs["coco_ov"][0].image.path == coco[0].image.path  # the COCO tasks share their images
    for task, rs in reqs.items():
        assert len({r.request_id for r in rs}) == len(rs), task
        assert all(r.max_new_tokens == suite.OUTPUT_TOKENS[p.kind] for p in parts if p.task == task for r in rs)
    assert (
        "instruction" in reqs["lisa_grounding"][0].text and reqs["fgvc_aircraft"][0].text != reqs["fgvc_pets37"][0].text
    )


def test_images_are_distinct_and_of_the_declared_size(tmp_path: Path) -> None:
    from PIL import Image

    parts = [p for p in suite.suite_parts() if p.task in ("fgvc_aircraft", "lisa_grounding")]
    reqs = suite.build_requests(parts, {p.task: 3 for p in parts}, tmp_path)
    assert suite.write_images(reqs, workers=1) == 6
    assert suite.write_images(reqs, workers=1) == 0  # already there
    seen = set()
    for r in (r for rs in reqs.values() for r in rs):
        with Image.open(r.image.path) as im:
            assert im.size == (r.image.width, r.image.height)
            seen.add(im.tobytes())
    assert len(seen) == 6


def test_the_model_is_qwen2_vl_2b() -> None:
    import torch
    from transformers import Qwen2VLForConditionalGeneration

    config = suite.qwen2vl_2b_config()
    text, vision = config.text_config, config.vision_config
    assert (text.num_hidden_layers, text.hidden_size, text.num_attention_heads, text.num_key_value_heads) == (
        28,
        1536,
        12,
        2,
    )
    assert (text.intermediate_size, text.vocab_size, config.tie_word_embeddings) == (8960, 151_936, True)
    assert (vision.depth, vision.embed_dim, vision.num_heads, vision.mlp_ratio, vision.hidden_size) == (
        32,
        1280,
        16,
        4,
        1536,
    )
    assert (vision.patch_size, vision.spatial_merge_size, vision.temporal_patch_size) == (14, 2, 2)
    assert text.rope_parameters["mrope_section"] == [16, 24, 24] and config.image_token_id == 151655
    with torch.device("meta"):
        model = Qwen2VLForConditionalGeneration(config)
    assert sum(p.numel() for p in model.parameters()) == suite.QWEN2_VL_2B_PARAMS == 2_208_985_600
