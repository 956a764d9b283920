"""Synthetic ReasonSeg items: ``<name>.jpg`` + ``<name>.json`` in ReasonSeg's per-image format.

Each image shows a target shape and one or two distractors of other colours and shapes; the
instructions name the target by colour and shape ("the red square"), once as a phrase and once as a
sentence. ``shapes[0]`` is always the target polygon, exactly as drawn. Item 1 of each split has a
second ``target`` polygon (a second instance: the official GT box uses only the first, D23) and item
2 has an ``ignore`` polygon over a distractor, so both ReasonSeg conventions occur.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from tasks.synthetic.draw import Point, background, draw, place, polygon, save_jpeg, styles, write_json

SIZES: tuple[tuple[int, int], ...] = ((224, 168), (196, 196), (168, 224))
WORDS = {"bar": "horizontal bar", "pillar": "vertical bar", "tee": "T-shaped block"}
N_LOOKS = 20


def _shape(label: str, name: str, pts: list[Point]) -> dict[str, Any]:
    return {
        "label": label,
        "labels": [label],
        "shape_type": "polygon",
        "image_name": f"{name}.jpg",
        "points": [[float(x), float(y)] for x, y in pts],
        "group_id": None,
        "group_ids": [None],
        "flags": {},
    }


def write_lisa_split(folder: Path, split: str, rng: np.random.Generator, n_items: int) -> None:
    """Write `n_items` pairs named ``rs_<split>_<i>`` into `folder`."""
    looks = styles(N_LOOKS)
    for i in range(n_items):
        name = f"rs_{split}_{i:03d}"
        width, height = SIZES[i % len(SIZES)]
        image = background(rng, width, height)
        target = int(rng.integers(0, N_LOOKS))
        others = [
            k
            for k in range(N_LOOKS)
            if looks[k].colour != looks[target].colour and looks[k].shape != looks[target].shape
        ]
        chosen = [int(k) for k in rng.choice(others, size=1 + i % 2, replace=False)]
        taken: list[tuple[int, int, int, int]] = []
        plan = [target] + ([target] if i == 1 else []) + chosen
        shapes: list[dict[str, Any]] = []
        for j, k in enumerate(plan):
            half = int(rng.integers(14, 30))
            spot = place(rng, width, height, half, taken)
            if spot is None:
                continue
            pts = polygon(looks[k].shape, spot[0], spot[1], half)
            draw(image, pts, looks[k])
            if k == target:
                shapes.append(_shape("target", name, pts))
            elif i == 2 and j == len(plan) - 1:
                shapes.append(_shape("ignore", name, pts))
        assert shapes and shapes[0]["label"] == "target"  # the first placement always succeeds
        save_jpeg(image, folder / f"{name}.jpg")
        look = looks[target]
        what = f"{look.colour} {WORDS.get(look.shape, look.shape)}"
        text = [f"the {what}", f"Which object in this picture is the {what}? Please point it out."]
        if i % 2:
            text.reverse()
        write_json(folder / f"{name}.json", {"text": text, "is_sentence": bool(i % 2), "shapes": shapes})


def write_lisa(root: Path, rng: np.random.Generator, n_items: int) -> Path:
    """``root/lisa/ReasonSeg/{val,test}/``; returns the ReasonSeg folder."""
    base = root / "lisa" / "ReasonSeg"
    for split in ("val", "test"):
        write_lisa_split(base / split, split, rng, n_items)
    return base
