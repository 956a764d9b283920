"""ReasonSeg loader on the synthetic items: first instruction, box of shapes[0], all polygons."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tasks.data import lisa_instructions, load_lisa
from tasks.synthetic.draw import COLOURS

Extent = Callable[..., tuple[int, int, int, int] | None]


@pytest.mark.parametrize("split", ["val", "test"])
def test_items_follow_the_json(synthetic_root: Path, split: str) -> None:
    samples = load_lisa(synthetic_root, split)
    folder = synthetic_root / "lisa" / "ReasonSeg" / split
    assert len(samples) == 8
    assert [s.doc_id for s in samples] == sorted(p.stem for p in folder.glob("*.json"))
    for s in samples:
        raw = json.loads((folder / f"{s.doc_id}.json").read_text())
        assert s.instruction == raw["text"][0]
        first = np.array(raw["shapes"][0]["points"])
        expected = [first[:, 0].min(), first[:, 1].min(), first[:, 0].max(), first[:, 1].max()]
        assert s.gt_xyxy.dtype == np.float64 and s.gt_xyxy.tolist() == expected
        assert [(lab, [list(p) for p in pts]) for lab, pts in s.polygons] == [
            (sh["label"], sh["points"]) for sh in raw["shapes"]
        ]
        assert s.image.path == folder / f"{s.doc_id}.jpg" and s.image.width > 0 and s.image.height > 0
    assert lisa_instructions(synthetic_root, split) == {
        p.stem: tuple(json.loads(p.read_text())["text"]) for p in folder.glob("*.json")
    }


def test_special_items(synthetic_root: Path) -> None:
    samples = load_lisa(synthetic_root, "test")
    labels = [[lab for lab, _ in s.polygons] for s in samples]
    assert labels[1][:2] == ["target", "target"]  # two instances: the GT box uses the first only
    first, second = samples[1].polygons[0][1], samples[1].polygons[1][1]
    assert samples[1].gt_xyxy[0] == min(x for x, _ in first) != min(x for x, _ in second)
    assert "ignore" in labels[2]


def test_target_box_matches_the_pixels(synthetic_root: Path, colour_extent: Extent) -> None:
    """The instruction names the target's colour (distractors have other colours); its pixels span the box."""
    for split in ("val", "test"):
        for s in load_lisa(synthetic_root, split):
            (colour,) = [c for c in COLOURS if f" {c} " in f" {s.instruction} "]
            got = colour_extent(s.image.path, COLOURS[colour], s.gt_xyxy)
            # GT = min/max of the points; the filled polygon's pixels end at max inclusive, hence +1
            assert got is not None and list(got) == np.add(s.gt_xyxy, [0, 0, 1, 1]).tolist(), s.doc_id
