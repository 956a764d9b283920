"""Image loading and resizing exactly as the official evaluation does it (PROTOCOL.md §1.2).

The official `*_infere.py` scripts load images through qwen_vl_utils: RGBA is pasted on a white
background (not just dropped alpha, which would turn transparent pixels black), then the image is
resized with Qwen2-VL's `smart_resize` rule before it reaches the processor, whose own resize is then
a no-op. Every backend loads images through this module so that transformers, vLLM and a remote
server see the same pixels. Only PIL is imported here.
"""

from __future__ import annotations

import math
from pathlib import Path

from PIL import Image, UnidentifiedImageError

IMAGE_FACTOR = 28
MIN_PIXELS = 4 * 28 * 28  # 3136, qwen_vl_utils and the paper's scripts
MAX_PIXELS = 16384 * 28 * 28  # 12845056, qwen_vl_utils default used at evaluation
MAX_RATIO = 200


class ImageLoadError(RuntimeError):
    """An image that cannot be read; the message names the path and the cause."""


def smart_resize(
    height: int,
    width: int,
    factor: int = IMAGE_FACTOR,
    min_pixels: int = MIN_PIXELS,
    max_pixels: int = MAX_PIXELS,
) -> tuple[int, int]:
    """Qwen2-VL's resize rule: both sides multiples of `factor`, area in [min_pixels, max_pixels],
    aspect ratio kept as well as possible. Returns (height, width).

    Same arithmetic as transformers' `qwen2_vl.image_processing_qwen2_vl.smart_resize` (a test checks
    equality on many sizes); reimplemented so that loading images needs no transformers import.
    """
    if height <= 0 or width <= 0:
        raise ValueError(f"image size must be positive, got height={height} width={width}")
    if (ratio := max(height, width) / min(height, width)) > MAX_RATIO:
        raise ValueError(f"absolute aspect ratio must be smaller than {MAX_RATIO}, got {ratio}")
    h_bar = round(height / factor) * factor
    w_bar = round(width / factor) * factor
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = max(factor, math.floor(height / beta / factor) * factor)
        w_bar = max(factor, math.floor(width / beta / factor) * factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return h_bar, w_bar


def to_rgb(image: Image.Image) -> Image.Image:
    """RGBA pasted on white, every other mode converted to RGB: exactly qwen_vl_utils.to_rgb (so LA and
    paletted transparency are *not* composited on white, as in the official evaluation)."""
    if image.mode == "RGBA":
        background = Image.new("RGB", image.size, (255, 255, 255))
        background.paste(image, mask=image.split()[3])
        return background
    return image.convert("RGB") if image.mode != "RGB" else image


def load_image(path: Path | str) -> Image.Image:
    """Open an image file fully into memory as RGB; raises ImageLoadError naming the path and the cause
    for a file that is missing, empty, undecodable or over PIL's decompression-bomb limit."""
    p = Path(path)
    try:
        with Image.open(p) as im:
            im.load()
            return to_rgb(im)
    except FileNotFoundError:
        raise ImageLoadError(f"image not found: {p}") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise ImageLoadError(f"cannot read image {p}: {type(exc).__name__}: {exc}") from exc


def fetch_image(path: Path | str, min_pixels: int = MIN_PIXELS, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Load `path` as RGB and resize it with `smart_resize` (PIL's default bicubic), like
    qwen_vl_utils.fetch_image; the processor's own resize is then the identity."""
    image = load_image(path)
    try:
        h, w = smart_resize(image.height, image.width, min_pixels=min_pixels, max_pixels=max_pixels)
    except ValueError as exc:
        raise ImageLoadError(f"cannot use image {path}: {exc}") from exc
    return image if (w, h) == image.size else image.resize((w, h), Image.Resampling.BICUBIC)
