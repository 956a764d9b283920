"""GRPO learns: on a task whose reward a tiny random model can find, the mean reward rises.

The reward is the real `fgvc_aircraft` verifier in the *official* profile (the paper's training reward),
on a 2-class synthetic set. That profile grades a bare completion by bidirectional substring match
after deleting spaces (PROTOCOL §5.6, defects D3/D4): an empty answer, a space or a digit of "737-400"
is "correct". A random 0.5 M-parameter model emits such a one-token answer about 1.3 % of the time
(measured), so with 32 completions per step the reward is found within a few steps and GRPO must
then raise it. It checks the optimisation end to end (rollouts -> verifier -> group advantages ->
update), not that the model learns aircraft; it also shows why the strict profile exists.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.tiny import TINY_MAX_PIXELS, TINY_MIN_PIXELS
from tasks.synthetic import SyntheticSizes, write_synthetic
from train_plugin.config import RunConfig
from train_plugin.grpo import train_grpo
from train_plugin.recipes import Recipe

pytestmark = pytest.mark.slow
STEPS = 24
KEY = "rewards/fgvc_aircraft/accuracy/mean"


def test_grpo_raises_mean_reward(tiny_model: Path, tmp_path: Path) -> None:
    import json

    root = tmp_path / "data"
    write_synthetic(root, seed=1, sizes=SyntheticSizes(cls_classes=2, cls_train=4))
    recipe = Recipe(name="learning_check", task="fgvc_aircraft", shots=4, max_steps=STEPS, num_generations=16,
                    prompts_per_step=2, max_completion_length=1, learning_rate=5e-4, profile="official",
                    min_pixels=TINY_MIN_PIXELS, max_pixels=TINY_MAX_PIXELS)
    out = train_grpo(RunConfig(recipe=recipe, model=str(tiny_model), output_dir=tmp_path / "out", data_root=root,
                               seed=0, save_steps=10**6))
    history = json.loads((out / "train_manifest.json").read_text())["log_history"]
    curve = [h[KEY] for h in history if KEY in h]
    assert len(curve) == STEPS
    print("mean accuracy reward per step:", " ".join(f"{r:.2f}" for r in curve))
    q = STEPS // 4
    first, last = sum(curve[:q]) / q, sum(curve[-q:]) / q
    print(f"first quarter {first:.3f} -> last quarter {last:.3f}")
    assert last > first
    assert last > 0.5
