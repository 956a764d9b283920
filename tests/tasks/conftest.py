from __future__ import annotations

from pathlib import Path

import pytest

from tasks.synthetic import write_synthetic


@pytest.fixture(scope="session")
def synth_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("synth") / "data"
    write_synthetic(root, seed=0)
    return root
