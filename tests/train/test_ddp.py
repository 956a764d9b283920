"""Two-process data-parallel GRPO on CPU (gloo), launched like a multi-GPU run.

accelerate's own ``launch --cpu --num_processes 2`` starts a single process without MPI; torchrun plus
``use_cpu`` in the training arguments gives accelerate's MULTI_CPU (gloo) setup, the same code path as
``accelerate launch --config_file train_plugin/accelerate/ddp.yaml`` on GPUs.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from harness.tiny import TINY_MAX_PIXELS, TINY_MIN_PIXELS


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_two_process_gloo_ddp(tiny_model: Path, synth_root: Path, tmp_path: Path,
                              subprocess_env: dict[str, str]) -> None:
    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
           "--master_port", str(_free_port()), "-m", "train_plugin.cli", "--recipe", "coco_fewshot_1shot",
           "--model", str(tiny_model), "--data-root", str(synth_root), "--output-dir", str(out),
           "--max-steps", "2", "--num-generations", "2", "--prompts-per-step", "2", "--max-completion-length", "8",
           "--min-pixels", str(TINY_MIN_PIXELS), "--max-pixels", str(TINY_MAX_PIXELS)]
    proc = subprocess.run(cmd, env=subprocess_env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]
    m = json.loads((out / "train_manifest.json").read_text())
    assert m["world_size"] == 2
    # 2 prompts x 2 generations per step over 2 processes of 2 completions: no accumulation
    args = m["trainer_args"]
    assert (args["per_device_train_batch_size"], args["gradient_accumulation_steps"]) == (2, 1)
    steps = [h for h in m["log_history"] if "loss" in h]
    assert len(steps) == 2 and all("rewards/coco_fewshot/format/mean" in h for h in steps)
    assert (out / "model.safetensors").is_file() and json.loads((out / "config.json").read_text())["use_cache"]


@pytest.mark.parametrize(("name", "kind", "stage"), [("ddp", "MULTI_GPU", None), ("zero2", "DEEPSPEED", 2),
                                                     ("zero3", "DEEPSPEED", 3)])
def test_shipped_accelerate_configs_load(name: str, kind: str, stage: int | None) -> None:
    from accelerate.commands.config.config_args import load_config_from_file

    cfg = load_config_from_file(str(Path(__file__).parents[2] / "train_plugin" / "accelerate" / f"{name}.yaml"))
    assert cfg.distributed_type.value == kind and cfg.num_processes == 8
    assert (cfg.deepspeed_config or {}).get("zero_stage") == stage
