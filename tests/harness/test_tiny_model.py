"""The offline tiny Qwen2-VL: deterministic, real chat template, loads and generates in transformers."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import pytest
from PIL import Image

from harness.tiny import build_tiny_qwen2vl

# PROTOCOL.md §1.3: the exact rendered COCO/LVIS eval prompt for category 'cat'.
COCO_CAT_PROMPT = (
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n"
    "<|vision_start|><|image_pad|><|vision_end|><image>\nDetect all objects belonging to the category 'cat' in "
    "the image, and provide the bounding boxes (between 0 and 1000, integer) and confidence (between 0 and 1, "
    "with two decimal places).\nIf no object belonging to the category 'cat' in the image, return 'No Objects'."
    "\nOutput the thinking process in <think> </think> and final answer in <answer> </answer> tags.The output "
    "answer format should be as follows:\n<think> ... </think> <answer>[{'Position': [x1, y1, x2, y2], "
    "'Confidence': number}, ...]</answer>\nPlease strictly follow the format.<|im_end|>\n<|im_start|>assistant\n"
)


def _digests(d: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(d.iterdir())}


def test_build_is_deterministic_and_fast(tiny_model: Path, tmp_path: Path) -> None:
    t0 = time.perf_counter()
    again = build_tiny_qwen2vl(tmp_path / "again", seed=0)
    assert time.perf_counter() - t0 < 30  # generous: a few seconds once transformers is imported
    assert _digests(again) == _digests(tiny_model)
    other = build_tiny_qwen2vl(tmp_path / "other", seed=1)
    assert _digests(other)["model.safetensors"] != _digests(tiny_model)["model.safetensors"]
    info = json.loads((tiny_model / "tiny_build.json").read_text())
    assert 300_000 < info["n_params"] < 1_000_000


def test_chat_template_renders_the_official_prompt(tiny_model: Path, detection_text: str) -> None:
    from transformers import AutoProcessor

    proc = AutoProcessor.from_pretrained(tiny_model)
    user = {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": detection_text.format(c="cat")}]}
    assert proc.apply_chat_template([user], tokenize=False, add_generation_prompt=True) == COCO_CAT_PROMPT
    no_gen = proc.apply_chat_template([user], tokenize=False, add_generation_prompt=False)
    assert no_gen == COCO_CAT_PROMPT.removesuffix("<|im_start|>assistant\n")
    system = {"role": "system", "content": [{"type": "text", "text": "R1 system"}]}
    with_system = proc.apply_chat_template([system, user], tokenize=False, add_generation_prompt=True)
    assert with_system.startswith("<|im_start|>system\nR1 system<|im_end|>\n<|im_start|>user\n<|vision_start|>")
    assert "You are a helpful assistant." not in with_system
    assert proc.tokenizer.padding_side == "left"
    assert (proc.image_processor.size["shortest_edge"], proc.image_processor.size["longest_edge"]) == (
        4 * 28 * 28,
        64 * 28 * 28,
    )


def test_tokenizer_covers_the_prompt_vocabulary(tiny_model: Path) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model)
    for special in ("<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|image_pad|>", "<|endoftext|>"):
        assert len(tok.encode(special, add_special_tokens=False)) == 1, special
    for text in ("<think>", "</answer>", "'Position'", "'Confidence'", "No Objects", " hippopotamus"):
        ids = tok.encode(text, add_special_tokens=False)
        assert tok.decode(ids) == text
        assert len(ids) <= 3, (text, ids)  # words learnt whole; the regex pre-split keeps '<' '>' apart
    box = "(x1,y1),(x2,y2)"
    assert tok.decode(tok.encode(box, add_special_tokens=False)) == box
    # every coordinate the paper's answers use is one token, so a box has a fixed token shape
    assert all(len(tok.encode(str(n), add_special_tokens=False)) == 1 for n in range(1001))
    answer = "<answer>[{'Position': [0, 17, 999, 1000], 'Confidence': 0.93}]</answer> (12,345),(1000,7) 10007"
    assert tok.decode(tok.encode(answer, add_special_tokens=False)) == answer
    odd = "zebra ümlaut 漢字 🙂"
    assert tok.decode(tok.encode(odd, add_special_tokens=False)) == odd  # byte-level: nothing unknown
    extra = build_tiny_qwen2vl(tiny_model.parent / "extra", extra_texts=["xylophonequartz " * 50])
    tok2 = AutoTokenizer.from_pretrained(extra)
    assert len(tok2.encode(" xylophonequartz", add_special_tokens=False)) == 1
    assert len(tok.encode(" xylophonequartz", add_special_tokens=False)) > 1


def test_loads_in_transformers_and_generates(tiny_model: Path, detection_text: str) -> None:
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor, Qwen2VLForConditionalGeneration

    proc = AutoProcessor.from_pretrained(tiny_model)
    model = AutoModelForImageTextToText.from_pretrained(tiny_model)
    assert isinstance(model, Qwen2VLForConditionalGeneration)
    assert model.config.text_config.hidden_size // model.config.text_config.num_attention_heads == 64
    assert model.generation_config.do_sample is False
    user = {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": detection_text.format(c="dog")}]}
    prompt = proc.apply_chat_template([user], tokenize=False, add_generation_prompt=True)
    inputs = proc(text=[prompt], images=[Image.new("RGB", (300, 200), (9, 99, 199))], return_tensors="pt")
    n_visual = int(inputs["image_grid_thw"].prod()) // 4  # 2x2 patches merge into one token
    assert int((inputs["input_ids"] == model.config.image_token_id).sum()) == n_visual
    with torch.inference_mode():
        out = model.generate(**inputs, max_new_tokens=12, use_cache=True)
    assert out.shape[1] > inputs["input_ids"].shape[1]
    assert isinstance(proc.batch_decode(out[:, inputs["input_ids"].shape[1] :], skip_special_tokens=True)[0], str)


@pytest.mark.parametrize("seed", [0, 3])
def test_seed_controls_weights_only(tiny_model: Path, tmp_path: Path, seed: int) -> None:
    built = build_tiny_qwen2vl(tmp_path / f"s{seed}", seed=seed)
    same = {k: v for k, v in _digests(built).items() if k not in ("model.safetensors", "tiny_build.json")}
    ref = {k: v for k, v in _digests(tiny_model).items() if k not in ("model.safetensors", "tiny_build.json")}
    assert same == ref
