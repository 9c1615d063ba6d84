"""Recipes: public emotion corpora, each in its own naming, into one manifest format
(corpora.manifest). One module per corpus; `common` holds what they share, `checks` the copy
and count checks, `assign` the speaker folds and the default split. Run by corpora.prepare
(`pdt corpus NAME SOURCE_DIR --out MANIFEST.csv`); docs/corpora.md describes each corpus.
"""

from __future__ import annotations

from . import crema_d, emodb, iemocap, ravdess, savee, tess
from .common import Recipe, UsageError

RECIPES = {module.RECIPE.name: module.RECIPE for module in (ravdess, crema_d, emodb, savee, tess, iemocap)}


def get_recipe(name: str) -> Recipe:
    """The recipe called `name` (case-insensitive; crema_d and cremad read as crema-d)."""
    key = name.strip().lower().replace("_", "-")
    key = {"cremad": "crema-d"}.get(key, key)
    if key not in RECIPES:
        raise UsageError(f"unknown corpus {name!r}; known corpora: {', '.join(RECIPES)}")
    return RECIPES[key]


__all__ = ["RECIPES", "Recipe", "UsageError", "get_recipe"]
