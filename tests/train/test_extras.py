"""What `vrft train` offers is installed: ``--report-to tensorboard`` writes event files, and the DeepSpeed
ZeRO configs of ``train_plugin/accelerate/`` load and validate with the installed accelerate and DeepSpeed."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import yaml

from harness.tiny import TINY_MAX_PIXELS, TINY_MIN_PIXELS
from train_plugin.cli import TRAIN_CONFIG, main

REPO = Path(__file__).resolve().parents[2]
ACCELERATE = REPO / "train_plugin" / "accelerate"


@pytest.mark.slow
def test_report_to_tensorboard_writes_event_files(tiny_model: Path, synth_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "ckpt"
    argv = ["--recipe", "coco_fewshot_4shot", "--model", str(tiny_model), "--data-root", str(synth_root)]
    small = ["--max-steps", "2", "--num-generations", "2", "--prompts-per-step", "2", "--max-completion-length", "8"]
    pixels = ["--min-pixels", str(TINY_MIN_PIXELS), "--max-pixels", str(TINY_MAX_PIXELS)]
    assert main([*argv, "--output-dir", str(out), *small, *pixels, "--report-to", "tensorboard"]) == 0
    events = list(out.rglob("events.out.tfevents.*"))
    assert events and any(e.stat().st_size > 0 for e in events)
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(events[0].parent))
    acc.Reload()
    assert any("loss" in tag for tag in acc.Tags()["scalars"])  # the training curve, not an empty file
    resolved = yaml.safe_load((out / TRAIN_CONFIG).read_text())  # the resolved options, for --config
    assert resolved["report_to"] == "tensorboard" and resolved["max_steps"] == 2


@pytest.mark.parametrize(("name", "stage"), [("zero2.yaml", 2), ("zero3.yaml", 3)])
def test_deepspeed_configs_load_and_validate(name: str, stage: int) -> None:
    if importlib.util.find_spec("deepspeed") is None:
        pytest.skip("deepspeed is not installed (it comes with vrft's cpu and gpu extras)")
    from accelerate.commands.config.config_args import load_config_from_file
    from accelerate.utils import DeepSpeedPlugin, DistributedType
    from deepspeed.runtime.zero.config import DeepSpeedZeroConfig

    config = load_config_from_file(str(ACCELERATE / name))
    assert config.distributed_type == DistributedType.DEEPSPEED
    options = {k: v for k, v in config.deepspeed_config.items() if k != "deepspeed_multinode_launcher"}
    plugin = DeepSpeedPlugin(**options)  # an unknown or misspelt key fails here
    zero = DeepSpeedZeroConfig(**plugin.deepspeed_config["zero_optimization"])  # DeepSpeed's own schema
    assert zero.stage == stage
    if stage == 3:  # the checkpoint is gathered into full weights, so `vrft eval` loads it directly
        assert zero.gather_16bit_weights_on_model_save
