"""The demo's plan reaches its data and its warm start: the SFT rows teach the whole strict format, and the
synthetic detection scenes are drawn as `DemoPlan.detection` says (no model, no training)."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest

from tasks.answer import extract_think, strict_format
from tasks.synthetic.categories import COCO_DRAWN
from train_plugin.data import sft_target
from train_plugin.demo.plan import FAST, FULL, DemoPlan
from train_plugin.demo.run import _run_config, _write_data


@pytest.fixture(scope="module")
def fast_trees(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return _write_data(tmp_path_factory.mktemp("demo"), FAST, seed=0)


def test_full_and_fast_warm_starts_share_the_format() -> None:
    assert FULL.think and FAST.think == FULL.think and FAST.detection == FULL.detection


def test_sft_rows_teach_think_answer_that_the_strict_verifier_scores_in_full(fast_trees: tuple[Path, Path]) -> None:
    """Every warm-start target of every demo task is ``<think>...</think><answer>...</answer>``: strict R_format 1,
    and every other reward component 1 against its own solution (the exact answer format the reward parses)."""
    from train_plugin.common import load_train_data
    from train_plugin.rewards import TaskReward
    from train_plugin.sft import sft_dataset

    train, _ = fast_trees
    for t in FAST.tasks:
        run = _run_config(FAST, t, Path("unused-model"), train.parent / "models", train, seed=0, sft=True)
        rows = sft_dataset(run, load_train_data(run))
        targets = [row["completion"][-1]["content"] for row in rows]
        assert targets and all(strict_format(x) == 1.0 for x in targets), (t.task, targets[:2])
        assert {extract_think(x) for x in targets} == {FAST.think}
        solutions = list(rows["solution"])
        if t.sft_shuffled:  # other rows' answers, each used once: scored against a permutation of the solutions
            own = [sft_target(x, FAST.think) for x in solutions]
            assert sorted(targets) == sorted(own) and targets != own, t.task
            solutions = [solutions[own.index(x)] for x in targets]
        scores = TaskReward(t.task, "strict").scores(targets, solutions)
        assert all(s.parse == "ok" and set(s.components.values()) == {1.0} for s in scores), (t.task, scores[:2])


def test_a_shuffled_warm_start_is_a_seeded_permutation_of_the_answers() -> None:
    """`to_sft(shuffle_seed=...)`: every answer kept once, moved to another row; same seed, same targets."""
    from datasets import Dataset

    from train_plugin.data import to_sft

    rows = Dataset.from_dict({"problem": [f"q{i}" for i in range(12)],
                              "solution": [f"<answer>{i}</answer>" for i in range(12)]})
    plain = [r["completion"][-1]["content"] for r in to_sft(rows, "t")]
    shuffled = [r["completion"][-1]["content"] for r in to_sft(rows, "t", shuffle_seed=3)]
    again = [r["completion"][-1]["content"] for r in to_sft(rows, "t", shuffle_seed=3)]
    other = [r["completion"][-1]["content"] for r in to_sft(rows, "t", shuffle_seed=4)]
    assert plain == [f"<think>t</think><answer>{i}</answer>" for i in range(12)]
    assert sorted(shuffled) == sorted(plain) and shuffled != plain
    assert shuffled == again and shuffled != other


def _grid_nodes(width: int, height: int, half: int, grid: int) -> set[tuple[int, int]]:
    """`tasks.synthetic.draw.place_on_grid`'s nodes, recomputed independently."""
    xs = np.linspace(half + 2, width - half - 3, grid).round().astype(int)
    ys = np.linspace(half + 2, height - half - 3, grid).round().astype(int)
    return {(int(x), int(y)) for x in xs for y in ys}


def _check_scenes(annotations: Path, plan: DemoPlan, n_images: int) -> None:
    layout = plan.detection
    data = json.loads(annotations.read_text())
    names = {c["id"]: c["name"] for c in data["categories"]}
    allowed = set(COCO_DRAWN[: layout.classes or len(COCO_DRAWN)])
    images = {img["id"]: img for img in data["images"]}
    assert len(images) == n_images
    assert {(img["width"], img["height"]) for img in images.values()} <= set(layout.sizes)
    per_image: dict[int, Counter[str]] = defaultdict(Counter)
    for ann in data["annotations"]:
        img = images[ann["image_id"]]
        name = names[ann["category_id"]]
        assert name in allowed, name
        per_image[ann["image_id"]][name] += 1
        x, y, w, h = ann["bbox"]
        assert max(w, h) <= 2 * (layout.half[1] - 1) + 1  # extents of a shape of half-size < half[1]
        if layout.grid:
            centre = (round(x + (w - 1) / 2), round(y + (h - 1) / 2))  # exact for the symmetric synthetic shapes
            nodes = set().union(*(_grid_nodes(img["width"], img["height"], half, layout.grid)
                                  for half in range(*layout.half)))
            assert centre in nodes, (centre, sorted(nodes))
    assert len(per_image) == n_images - 1  # image 0 is the empty one; every other holds its primary class
    for counts in per_image.values():
        assert len(counts) <= 1 + layout.max_extra and max(counts.values()) <= layout.max_instances
    assert len({name for counts in per_image.values() for name in counts}) == min(len(allowed), n_images - 1)


def test_detection_trees_are_drawn_as_the_plan_says(fast_trees: tuple[Path, Path]) -> None:
    train, test = fast_trees
    _check_scenes(train / "coco/annotations/instances_val2017.json", FAST, FAST.train_sizes.coco_images)
    _check_scenes(test / "coco/annotations/instances_val2017.json", FAST, FAST.test_sizes.coco_images)


def test_the_full_plan_asks_for_the_coarse_demo_layout() -> None:
    """What the README's design paragraph states: one square object per image, of a few-shot class, of one size
    (at least a quarter of the image side), on a 3 x 3 grid; classification warm-starts on shuffled answers,
    detection on other images than GRPO's."""
    layout = FULL.detection
    assert layout.classes == 8 and layout.max_instances == 1 and layout.max_extra == 0 and layout.grid == 3
    assert layout.shape == "square" and layout.half[1] - layout.half[0] == 1
    assert all(2 * layout.half[0] >= min(size) / 4 for size in layout.sizes)
    by_task = {t.task: t for t in FULL.tasks}
    assert by_task["fgvc_flowers102"].sft_shuffled and not by_task["coco_fewshot"].sft_shuffled
    assert by_task["coco_fewshot"].new_grpo_images and FULL.train_sizes.coco_train_images
