"""Shared test configuration: offline hub settings and the golden vectors of the official reward code.

The golden vectors are committed under tests/golden/ (a copy of the workplace's ``../shared/golden/``, which
a fresh clone elsewhere does not have). Where the shared folder is present (beside the repo, or at
``$VRFT_SHARED``), the copy must equal it, so a refreshed original cannot be silently ignored.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

for _var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
    os.environ.setdefault(_var, "1")
# scoring runs a cheap bootstrap by default in tests (users get 1000 replicates; tests of the default pass
# --bootstrap or unset this)
os.environ.setdefault("VRFT_BOOTSTRAP", "20")

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("VRFT_SHARED", REPO.parent / "shared"))
GOLDEN = REPO / "tests" / "golden" / "official_reward_vectors.json"
GOLDEN_ORIGINAL = SHARED / "golden" / "official_reward_vectors.json"


@pytest.fixture(autouse=True)
def _generation_cache_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test (and the commands it starts) gets its own generation cache, never ~/.cache/vrft."""
    path = tmp_path_factory.mktemp("vrft-cache")
    monkeypatch.setenv("VRFT_CACHE_DIR", str(path))
    return path


@pytest.fixture(scope="session")
def golden_vectors() -> list[dict]:
    import json

    vectors: list[dict] = json.loads(GOLDEN.read_text())
    if GOLDEN_ORIGINAL.is_file() and json.loads(GOLDEN_ORIGINAL.read_text()) != vectors:
        pytest.fail(f"{GOLDEN} differs from {GOLDEN_ORIGINAL}: copy the original again")
    return vectors
