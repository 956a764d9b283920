"""Shared fixtures: one synthetic data root per test session (read-only), copies for tests that break it."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tasks.synthetic import write_synthetic


@pytest.fixture(scope="session")
def synthetic_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default synthetic tree (seed 0). Do not modify: use `fresh_root` for that."""
    root = tmp_path_factory.mktemp("synthetic") / "data"
    write_synthetic(root, seed=0)
    return root


def _link_or_copy(src: str, dst: str) -> None:
    if src.endswith(".jpg"):
        try:
            os.link(src, dst)
            return
        except OSError:
            pass
    shutil.copy2(src, dst)


@pytest.fixture
def fresh_root(synthetic_root: Path, tmp_path: Path) -> Path:
    """A private copy of the synthetic tree that a test may damage.

    Images are hard links into the session tree (fast): delete or move them, never rewrite them.
    """
    dst = tmp_path / "data"
    shutil.copytree(synthetic_root, dst, copy_function=_link_or_copy)
    return dst


def _colour_extent(
    image_path: Path, rgb: tuple[int, int, int], box: np.ndarray | list[float], pad: int = 3, tol: int = 60
) -> tuple[int, int, int, int] | None:
    """Pixel extent (x0, y0, x1, y1; right/bottom exclusive) of `rgb` inside `box` grown by `pad`.

    Recovers an object's box from the pixels alone, to check that the labels match the image.
    """
    arr = np.asarray(Image.open(image_path).convert("RGB")).astype(int)
    h, w = arr.shape[:2]
    x0, y0 = max(int(box[0]) - pad, 0), max(int(box[1]) - pad, 0)
    x1, y1 = min(int(np.ceil(box[2])) + pad, w), min(int(np.ceil(box[3])) + pad, h)
    crop = arr[y0:y1, x0:x1]
    mask = np.abs(crop - np.array(rgb)).max(axis=2) <= tol
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return None
    return x0 + int(xs.min()), y0 + int(ys.min()), x0 + int(xs.max()) + 1, y0 + int(ys.max()) + 1


@pytest.fixture
def colour_extent() -> Callable[..., tuple[int, int, int, int] | None]:
    """`_colour_extent` as a fixture (test modules cannot import conftest reliably)."""
    return _colour_extent
