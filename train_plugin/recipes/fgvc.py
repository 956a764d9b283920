"""Paper Table 2 (+ appendix shots): fine-grained classification, k images per class from the train split.

``fgvc_<dataset>_<k>shot`` for k in 1, 2, 4, 8, 16. Only the 4-shot training sets were published
(PROTOCOL §4.1); the others are sampled from the classification ``train`` split with the run's seed.
200 steps as the paper's few-shot runs (the official aircraft script ran 1 epoch = 25 steps, PROTOCOL §1.5).
"""

from __future__ import annotations

from train_plugin.recipes.base import Recipe

SHOTS = (1, 2, 4, 8, 16)
PAPER_4SHOT = {
    "flowers102": "laolao77/ViRFT_CLS_flower_4_shot",
    "pets37": "laolao77/ViRFT_CLS_pets37_4shot",
    "aircraft": "laolao77/ViRFT_CLS_fgvc_aircraft_4_shot",
    "cars196": "laolao77/ViRFT_CLS_car196_4shot",
}

RECIPES = [
    Recipe(
        name=f"fgvc_{dataset}_{k}shot",
        task=f"fgvc_{dataset}",
        shots=k,
        max_steps=200,
        paper_dataset=PAPER_4SHOT[dataset] if k == 4 else None,
        description=f"Table 2: {dataset} {k}-shot classification",
    )
    for dataset in PAPER_4SHOT
    for k in SHOTS
]
