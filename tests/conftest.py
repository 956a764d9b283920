"""Shared test configuration: offline hub settings and the shared/ folder beside the repo."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

for _var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
    os.environ.setdefault(_var, "1")

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
GOLDEN = SHARED / "golden" / "official_reward_vectors.json"


@pytest.fixture(scope="session")
def golden_vectors() -> list[dict]:
    import json

    if not GOLDEN.is_file():
        pytest.fail(f"golden vectors not found at {GOLDEN}: CI and developers have ../shared beside the repo")
    return json.loads(GOLDEN.read_text())
