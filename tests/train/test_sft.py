"""The "+SFT" baseline: a few SFTTrainer steps on the same rows; the checkpoint loads in transformers."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from harness.tiny import TINY_MAX_PIXELS, TINY_MIN_PIXELS
from train_plugin.cli import main

pytestmark = pytest.mark.slow
TINY_PIXELS = ["--min-pixels", str(TINY_MIN_PIXELS), "--max-pixels", str(TINY_MAX_PIXELS)]


def test_sft_steps_and_checkpoint_loads(tiny_model: Path, synth_root: Path, tmp_path: Path) -> None:
    import torch
    from PIL import Image
    from transformers import AutoModelForImageTextToText, AutoProcessor

    out = tmp_path / "sft"
    rc = main(["--method", "sft", "--recipe", "fgvc_aircraft_1shot", "--model", str(tiny_model), "--data-root",
               str(synth_root), "--output-dir", str(out), "--max-steps", "3", "--prompts-per-step", "2", *TINY_PIXELS])
    assert rc == 0
    m = json.loads((out / "train_manifest.json").read_text())
    losses = [h["loss"] for h in m["log_history"] if "loss" in h]
    assert len(losses) == 3 and all(math.isfinite(x) for x in losses)
    assert m["method"] == "sft" and m["trainer_args"]["learning_rate"] == 2e-5
    model = AutoModelForImageTextToText.from_pretrained(out).eval()
    processor = AutoProcessor.from_pretrained(out)
    assert json.loads((out / "config.json").read_text())["text_config"]["use_cache"] is True
    msgs = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "q"}]}]
    text = processor.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
    inputs = processor(text=[text], images=[Image.new("RGB", (64, 64), (230, 25, 25))], return_tensors="pt")
    with torch.no_grad():
        ids = model.generate(**inputs, max_new_tokens=4, do_sample=False)
    assert ids.shape[1] > inputs["input_ids"].shape[1]


def test_sft_refuses_vllm(tiny_model: Path, synth_root: Path, tmp_path: Path,
                          capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["--method", "sft", "--recipe", "fgvc_aircraft_1shot", "--model", str(tiny_model), "--data-root",
               str(synth_root), "--output-dir", str(tmp_path), "--use-vllm"])
    assert rc == 2 and "SFT generates nothing" in capsys.readouterr().err
