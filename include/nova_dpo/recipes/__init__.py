"""Nova recipes: the YAML files shipped with the project, overrides, range checks, resolution.

Layering: shipped recipe (or any YAML) < run overrides; unknown keys are an error; every value is checked
against the documented AWS ranges (:mod:`nova_dpo.recipes.ranges`) before a job is submitted.
"""

from nova_dpo.recipes.loading import RECIPE_ALIASES, load_recipe, locate_recipe, shipped_recipes
from nova_dpo.recipes.overrides import RecipeOverrideError, apply_overrides
from nova_dpo.recipes.resolve import ResolvedRecipe, resolve_recipe
from nova_dpo.recipes.validation import (
    RecipeValidationError,
    Violation,
    base_recipe_for,
    param_bounds,
    validate_recipe,
)

__all__ = [
    "RECIPE_ALIASES",
    "RecipeOverrideError",
    "RecipeValidationError",
    "ResolvedRecipe",
    "Violation",
    "apply_overrides",
    "base_recipe_for",
    "load_recipe",
    "locate_recipe",
    "param_bounds",
    "resolve_recipe",
    "shipped_recipes",
    "validate_recipe",
]
