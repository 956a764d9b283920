"""Paper Table 4: LVIS few-shot detection on 6 rare categories, "10-shot" (each category has 1-10 training
images, so some get fewer: the manifest lists what was sampled), 200 steps. Published as
``ViRFT_LVIS_few_shot`` (65 rows)."""

from __future__ import annotations

from train_plugin.recipes.base import Recipe

RECIPES = [
    Recipe(
        name="lvis_fewshot_10shot",
        task="lvis_fewshot",
        shots=10,
        max_steps=200,
        paper_dataset="laolao77/ViRFT_LVIS_few_shot",
        description="Table 4: LVIS 6 rare categories, 10-shot detection",
    )
]
