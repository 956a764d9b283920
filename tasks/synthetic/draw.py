"""Drawing primitives of the synthetic data: each class is one saturated colour + one shape.

Why so plain: the synthetic sets exist to test the pipeline end to end and to let a *tiny* VLM learn
something in minutes, so a class must be recognisable from a few pixels, and the labels must be exact.
Every object is a polygon with integer vertices, drawn with `ImageDraw.polygon` from the very points
that are recorded; PIL fills the vertices themselves, so the object's pixels span exactly
``[min x, max x] x [min y, max y]`` of its points. Objects never overlap (a margin separates them),
so each one can be recovered from the pixels in tests. JPEGs use quality 95 without chroma
subsampling, which keeps saturated edges within a pixel; PIL's encoder is deterministic.
"""

from __future__ import annotations

import io
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

# Saturated colours, far from the light-grey background and from each other (max channel gap >= 90).
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (230, 25, 25),
    "green": (20, 170, 40),
    "blue": (30, 60, 230),
    "yellow": (240, 220, 20),
    "magenta": (220, 30, 220),
    "cyan": (20, 210, 220),
    "orange": (250, 130, 10),
    "purple": (120, 20, 150),
    "black": (20, 20, 20),
    "brown": (140, 80, 20),
}

Point = tuple[int, int]


def _regular(n: int, phase: float) -> list[tuple[float, float]]:
    return [(math.cos(phase + 2 * math.pi * k / n), math.sin(phase + 2 * math.pi * k / n)) for k in range(n)]


# Unit outlines in [-1, 1]^2 whose extremes are edges or blunt corners (no thin tips that JPEG would
# wash out): the pixel extent of a drawn shape is then the extent of its points.
_UNIT: dict[str, list[tuple[float, float]]] = {
    "square": [(-1, -1), (1, -1), (1, 1), (-1, 1)],
    "circle": _regular(32, 0.0),
    "hexagon": _regular(6, 0.0),
    "octagon": _regular(8, math.pi / 8),
    "cross": [
        (-0.35, -1),
        (0.35, -1),
        (0.35, -0.35),
        (1, -0.35),
        (1, 0.35),
        (0.35, 0.35),
        (0.35, 1),
        (-0.35, 1),
        (-0.35, 0.35),
        (-1, 0.35),
        (-1, -0.35),
        (-0.35, -0.35),
    ],
    "triangle": [(0, -1), (1, 1), (-1, 1)],
    "bar": [(-1, -0.45), (1, -0.45), (1, 0.45), (-1, 0.45)],
    "pillar": [(-0.45, -1), (0.45, -1), (0.45, 1), (-0.45, 1)],
    "trapezoid": [(-0.5, -0.8), (0.5, -0.8), (1, 0.8), (-1, 0.8)],
    "tee": [(-1, -1), (1, -1), (1, -0.4), (0.3, -0.4), (0.3, 1), (-0.3, 1), (-0.3, -0.4), (-1, -0.4)],
}
SHAPES: tuple[str, ...] = tuple(_UNIT)


@dataclass(frozen=True)
class Style:
    """How one class looks: a named colour and a named shape."""

    colour: str
    shape: str

    @property
    def rgb(self) -> tuple[int, int, int]:
        return COLOURS[self.colour]


def styles(n: int) -> list[Style]:
    """`n` pairwise-distinct (colour, shape) styles; class i gets styles(n)[i].

    Index i = 10a + b gets colour b and shape (a + b) mod 10, a bijection for i < 100, so no two
    classes look alike and neighbouring classes differ in both colour and shape.
    """
    colours, shapes = list(COLOURS), list(SHAPES)
    if n > len(colours) * len(shapes):
        raise ValueError(f"at most {len(colours) * len(shapes)} distinct styles, asked for {n}")
    return [Style(colours[i % len(colours)], shapes[(i // len(colours) + i) % len(shapes)]) for i in range(n)]


def polygon(shape: str, cx: int, cy: int, half: int) -> list[Point]:
    """Integer vertices of `shape` centred on (cx, cy) with half-size `half` pixels."""
    pts = [(round(cx + half * u), round(cy + half * v)) for u, v in _UNIT[shape]]
    out: list[Point] = []
    for p in pts:  # drop repeats that rounding can create on small shapes
        if not out or out[-1] != p:
            out.append(p)
    return out


def extent(points: list[Point]) -> tuple[int, int, int, int]:
    """Exact pixel box xyxy (right/bottom exclusive) of a filled integer polygon."""
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return min(xs), min(ys), max(xs) + 1, max(ys) + 1


def background(rng: np.random.Generator, width: int, height: int) -> Image.Image:
    """Light grey with mild per-pixel noise: plain enough to separate objects, not a flat fill."""
    base = int(rng.integers(205, 226))
    noise = rng.integers(-8, 9, size=(height, width, 1))
    arr = np.clip(base + noise, 0, 255).astype(np.uint8).repeat(3, axis=2)
    return Image.fromarray(arr, "RGB")


def place(
    rng: np.random.Generator,
    width: int,
    height: int,
    half: int,
    taken: list[tuple[int, int, int, int]],
    margin: int = 4,
) -> tuple[int, int] | None:
    """A centre for a shape of half-size `half` that keeps `margin` px from `taken` boxes and borders."""
    lo_x, hi_x = half + 2, width - half - 3
    lo_y, hi_y = half + 2, height - half - 3
    if lo_x > hi_x or lo_y > hi_y:
        return None
    for _ in range(60):
        cx, cy = int(rng.integers(lo_x, hi_x + 1)), int(rng.integers(lo_y, hi_y + 1))
        box = (cx - half - margin, cy - half - margin, cx + half + margin, cy + half + margin)
        if all(box[2] < t[0] or t[2] < box[0] or box[3] < t[1] or t[3] < box[1] for t in taken):
            taken.append((cx - half, cy - half, cx + half, cy + half))
            return cx, cy
    return None


def place_on_grid(
    rng: np.random.Generator,
    width: int,
    height: int,
    half: int,
    taken: list[tuple[int, int, int, int]],
    grid: int,
    margin: int = 4,
) -> tuple[int, int] | None:
    """A centre on a `grid` x `grid` lattice spanning the range `place` draws from, chosen uniformly among the
    nodes whose shape keeps `margin` px from `taken` boxes (None when no node is free). Few distinct positions
    make a coarse localisation task: the demo's tiny model learns it in minutes."""
    lo_x, hi_x = half + 2, width - half - 3
    lo_y, hi_y = half + 2, height - half - 3
    if lo_x > hi_x or lo_y > hi_y:
        return None
    nodes = [(round(float(x)), round(float(y))) for y in np.linspace(lo_y, hi_y, grid)
             for x in np.linspace(lo_x, hi_x, grid)]
    free = [(cx, cy) for cx, cy in nodes
            if all(cx + half + margin < t[0] or t[2] < cx - half - margin
                   or cy + half + margin < t[1] or t[3] < cy - half - margin for t in taken)]
    if not free:
        return None
    cx, cy = free[int(rng.integers(0, len(free)))]
    taken.append((cx - half, cy - half, cx + half, cy + half))
    return cx, cy


def draw(image: Image.Image, points: list[Point], style: Style) -> None:
    ImageDraw.Draw(image).polygon(points, fill=style.rgb)


def pixel_area(points: list[Point], width: int, height: int) -> int:
    """Number of pixels PIL fills for the polygon (the COCO 'area' of the drawn object)."""
    mask = Image.new("L", (width, height), 0)
    ImageDraw.Draw(mask).polygon(points, fill=1)
    return int(np.asarray(mask, dtype=np.uint8).sum())


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write via a temporary file and `os.replace`, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def write_json(path: Path, obj: Any) -> None:
    """Atomic, compact, deterministic JSON (insertion order kept, as the real files are)."""
    write_bytes_atomic(path, json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


def write_text(path: Path, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def save_jpeg(image: Image.Image, path: Path) -> None:
    """Real JPEG bytes (quality 95, 4:4:4), deterministic for the same pixels."""
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=95, subsampling=0, optimize=False)
    write_bytes_atomic(path, buf.getvalue())
