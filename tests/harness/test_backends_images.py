"""Image loading and smart_resize, checked against transformers' own Qwen2-VL implementation."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from PIL import Image

from harness.backends.images import (
    MAX_PIXELS,
    MIN_PIXELS,
    ImageLoadError,
    fetch_image,
    load_image,
    smart_resize,
    to_rgb,
)

SIDES = (1, 2, 13, 14, 15, 27, 28, 29, 41, 42, 55, 56, 57, 100, 224, 333, 480, 500, 640, 1000, 1023, 1920, 4000)
POLICIES = (
    (MIN_PIXELS, MAX_PIXELS),  # official evaluation
    (3136, 401408),  # official training
    (4 * 28 * 28, 64 * 28 * 28),  # tiny model
    (56 * 56, 28 * 28 * 1280),  # transformers' defaults
)


def test_smart_resize_equals_transformers_on_many_sizes() -> None:
    from transformers.models.qwen2_vl.image_processing_qwen2_vl import smart_resize as reference

    n = 0
    for (h, w), (lo, hi) in itertools.product(itertools.product(SIDES, SIDES), POLICIES):
        if max(h, w) / min(h, w) > 200:
            with pytest.raises(ValueError, match="aspect ratio"):
                smart_resize(h, w, min_pixels=lo, max_pixels=hi)
            continue
        assert smart_resize(h, w, min_pixels=lo, max_pixels=hi) == reference(
            h, w, factor=28, min_pixels=lo, max_pixels=hi
        ), (h, w, lo, hi)
        n += 1
    assert n > 1500


@pytest.mark.parametrize(("h", "w"), [(480, 640), (1, 1), (5000, 3000), (28, 28)])
def test_smart_resize_invariants(h: int, w: int) -> None:
    rh, rw = smart_resize(h, w, min_pixels=3136, max_pixels=401408)
    assert rh % 28 == 0 and rw % 28 == 0
    assert 3136 <= rh * rw <= 401408


def test_smart_resize_rejects_empty() -> None:
    with pytest.raises(ValueError, match="positive"):
        smart_resize(0, 10)


def test_rgba_is_pasted_on_white() -> None:
    img = Image.new("RGBA", (4, 4), (255, 0, 0, 0))  # fully transparent red
    img.putpixel((0, 0), (0, 0, 255, 255))
    out = to_rgb(img)
    assert out.mode == "RGB"
    assert out.getpixel((1, 1)) == (255, 255, 255)
    assert out.getpixel((0, 0)) == (0, 0, 255)


@pytest.mark.parametrize("mode", ["L", "P", "CMYK", "I;16", "LA"])
def test_other_modes_become_rgb(mode: str, tmp_path: Path) -> None:
    img = Image.new("RGB", (30, 20), (10, 200, 30)).convert(mode)
    path = tmp_path / ("x.tiff" if mode in ("CMYK", "I;16") else "x.png")
    img.save(path)
    assert load_image(path).mode == "RGB"


def test_fetch_image_resizes_to_the_policy(tmp_path: Path) -> None:
    path = tmp_path / "big.png"
    Image.new("RGB", (1000, 700)).save(path)
    img = fetch_image(path, min_pixels=3136, max_pixels=64 * 28 * 28)
    assert (img.height, img.width) == smart_resize(700, 1000, min_pixels=3136, max_pixels=64 * 28 * 28)
    small = tmp_path / "small.png"
    Image.new("RGB", (56, 56)).save(small)
    assert fetch_image(small).size == (56, 56)  # already on the grid: untouched


def test_load_errors_name_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "missing.jpg"
    with pytest.raises(ImageLoadError, match=r"image not found: .*missing\.jpg"):
        load_image(missing)
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(b"\xff\xd8\xff garbage")
    with pytest.raises(ImageLoadError, match=r"cannot read image .*corrupt\.jpg"):
        load_image(corrupt)
    thin = tmp_path / "thin.png"
    Image.new("RGB", (1000, 2)).save(thin)
    with pytest.raises(ImageLoadError, match=r"thin\.png.*aspect ratio"):
        fetch_image(thin)
