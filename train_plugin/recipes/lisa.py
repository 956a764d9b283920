"""Paper Table 5: LISA reasoning grounding on the ReasonSeg train split, 500 steps (paper).

Every instruction of every training image is one row (the official ``gen_sft.py`` conversion, PROTOCOL §4.3);
the solution is the first polygon's box in truncated 0-1000 integers. Not published on the hub: the data
is read from ``DATA_ROOT/lisa/ReasonSeg/train``.
"""

from __future__ import annotations

from train_plugin.recipes.base import Recipe

RECIPES = [
    Recipe(
        name="lisa_grounding",
        task="lisa_grounding",
        shots=None,
        max_steps=500,
        description="Table 5: LISA ReasonSeg train split, reasoning grounding",
    )
]
