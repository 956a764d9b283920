"""Paper Table 6 / appendix: open-vocabulary COCO, trained on the 65 base categories, 10 images each.

The paper's text says 10-shot from the base categories; the official code trained on ``ViRFT_COCO_base65``
(~6k rows) for 2 epochs (about 750 steps, PROTOCOL §1.5): reproduce that with
``--dataset paper --max-steps 750``. Rows are sampled only for the base categories; the eval task
``coco_ov`` then scores novel and base categories.
"""

from __future__ import annotations

from train_plugin.recipes.base import Recipe

RECIPES = [
    Recipe(
        name="coco_ov_base65",
        task="coco_ov",
        shots=10,
        max_steps=200,
        paper_dataset="laolao77/ViRFT_COCO_base65",
        description="Table 6: COCO open vocabulary, 65 base categories x 10 images",
    )
]
