"""Fixtures for the training plugin: one tiny Qwen2-VL and one synthetic data tree per session.

Training tests run real TRL trainers on the tiny model. Each test pins torch to one thread (restored
afterwards): on a shared 2-core machine, two OpenMP threads per process contending with other test
processes made a 0.5 M-parameter linear layer ~20x slower (measured: 31 ms vs 1.7 ms per call).
Subprocesses (CLI, accelerate) get ``OMP_NUM_THREADS=1`` through `subprocess_env`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

for _var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
    os.environ.setdefault(_var, "1")

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Iterator[None]:
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from harness.tiny import build_tiny_qwen2vl

    return build_tiny_qwen2vl(tmp_path_factory.mktemp("train_tiny_qwen2vl"), seed=0)


@pytest.fixture(scope="session")
def synth_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default synthetic tree plus a ReasonSeg ``train`` folder (4 items) for LISA training."""
    from tasks.synthetic import write_synthetic
    from tasks.synthetic.lisa import write_lisa_split

    root = tmp_path_factory.mktemp("train_synth")
    write_synthetic(root, seed=0)
    write_lisa_split(root / "lisa" / "ReasonSeg" / "train", "train", np.random.default_rng(7), 4)
    return root


@pytest.fixture
def subprocess_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               PYTHONPATH=str(REPO) + os.pathsep + env.get("PYTHONPATH", ""), TOKENIZERS_PARALLELISM="false")
    return env
