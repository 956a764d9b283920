"""Paper Table 3: COCO few-shot detection on 8 categories, k images per category, 200 steps.

Only the 4-shot set (``ViRFT_COCO_8_cate_4_shot``, 32 rows = 8 x 4) was published; other shots are
sampled from the data root's ``coco/annotations/instances_train2017.json`` (or ``--train-annotations``).
"""

from __future__ import annotations

from train_plugin.recipes.base import Recipe

RECIPES = [
    Recipe(
        name=f"coco_fewshot_{k}shot",
        task="coco_fewshot",
        shots=k,
        max_steps=200,
        paper_dataset="laolao77/ViRFT_COCO_8_cate_4_shot" if k == 4 else None,
        description=f"Table 3: COCO 8 categories, {k}-shot detection",
    )
    for k in (1, 4, 8)
]
