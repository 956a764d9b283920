"""Paper experiments by name: ``get_recipe("coco_fewshot_4shot")``; one module per experiment family.

Each module lists its `Recipe`s; hyperparameters shared by every paper run live once in
`train_plugin.recipes.base.Recipe`'s defaults, so recipes cannot drift apart.
"""

from __future__ import annotations

from train_plugin.recipes import coco_fewshot, coco_ov, fgvc, lisa, lvis_fewshot
from train_plugin.recipes.base import Recipe

RECIPES: dict[str, Recipe] = {
    r.name: r for m in (fgvc, coco_fewshot, lvis_fewshot, lisa, coco_ov) for r in m.RECIPES
}


def get_recipe(name: str) -> Recipe:
    try:
        return RECIPES[name]
    except KeyError:
        raise ValueError(f"unknown recipe {name!r}: expected one of {sorted(RECIPES)} (`vrft train --list`)") from None


__all__ = ["RECIPES", "Recipe", "get_recipe"]
