"""Finding and reading recipes: the ones shipped with the project, by name, or any YAML file, by path.

A named AWS recipe is never fetched at run time (the SageMaker SDK would ``git clone`` the recipes
repository for it); the project ships its own copies, and anything else is passed as a path.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nova_dpo.recipes.yaml_io import load_yaml

log = logging.getLogger(__name__)

RECIPES_DIR = Path(__file__).parent
_RECIPE_FOLDERS = ("training", "evaluation")

# Recipe names of aws/sagemaker-hyperpod-recipes v1.x (the blog and the SDK samples use them, e.g.
# training_recipe="fine-tuning/nova/nova_micro_p5_gpu_lora_dpo") → the v2 recipe with the same keys and
# defaults. The v1 p5 recipes became the p5_p4d ones, except Pro full rank, which v2 split into a p5
# and a p4d recipe; the p5 one is its equivalent. v1 files lacked the mlflow keys; nothing else differs.
RECIPE_ALIASES: dict[str, str] = {
    "nova_micro_p5_gpu_lora_dpo": "nova_micro_1_0_p5_p4d_gpu_lora_dpo",
    "nova_micro_p5_gpu_dpo": "nova_micro_1_0_p5_p4d_gpu_dpo",
    "nova_micro_g5_g6_12x_gpu_lora_dpo": "nova_micro_1_0_g5_g6_12x_gpu_lora_dpo",
    "nova_micro_g5_g6_48x_gpu_lora_dpo": "nova_micro_1_0_g5_g6_48x_gpu_lora_dpo",
    "nova_lite_p5_gpu_lora_dpo": "nova_lite_1_0_p5_p4d_gpu_lora_dpo",
    "nova_lite_p5_gpu_dpo": "nova_lite_1_0_p5_p4d_gpu_dpo",
    "nova_lite_g5_g6_48x_gpu_lora_dpo": "nova_lite_1_0_g5_g6_48x_gpu_lora_dpo",
    "nova_pro_p5_gpu_lora_dpo": "nova_pro_1_0_p5_p4d_gpu_lora_dpo",
    "nova_pro_p5_gpu_dpo": "nova_pro_1_0_p5_gpu_dpo",
}


@dataclass(frozen=True)
class RecipeSource:
    """Where a recipe comes from: ``name`` is the shipped name (after aliasing) or the file's stem."""

    name: str
    path: Path
    shipped: bool


def shipped_recipes() -> dict[str, Path]:
    """The recipes shipped with the project, name → file."""
    return {
        path.stem: path
        for folder in _RECIPE_FOLDERS
        for path in sorted((RECIPES_DIR / folder).glob("*.yaml"))
    }


def _yaml_suffix(text: str) -> bool:
    return text.endswith((".yaml", ".yml"))


def locate_recipe(name_or_path: str | Path) -> RecipeSource:
    """Find a recipe by shipped name, v1 alias (with or without an AWS folder prefix or ``.yaml``), or path.

    :raises FileNotFoundError: for a ``.yaml`` path that does not exist and is no shipped name.
    :raises ValueError: for a name that is neither shipped nor an alias.
    """
    text = str(name_or_path)
    path = Path(text).expanduser()
    if path.is_file():
        shipped = shipped_recipes()
        is_shipped = shipped.get(path.stem) == path.resolve()
        return RecipeSource(path.stem, path, shipped=is_shipped)

    shipped = shipped_recipes()
    stem = Path(text).name
    if _yaml_suffix(stem):
        stem = stem.rsplit(".", 1)[0]
    if stem in shipped:
        return RecipeSource(stem, shipped[stem], shipped=True)
    if stem in RECIPE_ALIASES:
        target = RECIPE_ALIASES[stem]
        log.warning(
            "Recipe %r is an aws/sagemaker-hyperpod-recipes v1 name; using its v2 copy %r.", text, target
        )
        return RecipeSource(target, shipped[target], shipped=True)
    if _yaml_suffix(text):
        raise FileNotFoundError(
            f"recipe file {text!r} does not exist (and {stem!r} is not a shipped recipe: {', '.join(shipped)})"
        )
    raise ValueError(
        f"recipe {text!r} is not shipped with this project. Named AWS recipes are not downloaded at run "
        f"time: pass the path to a YAML file instead (e.g. a copy of the recipe from "
        f"aws/sagemaker-hyperpod-recipes), or use a shipped recipe: {', '.join(shipped)}."
    )


def read_recipe_file(path: Path) -> dict[str, Any]:
    """The mapping in a recipe YAML file."""
    data = load_yaml(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"recipe file {str(path)!r} must hold a YAML mapping, not {type(data).__name__}")
    return data


def load_recipe(name_or_path: str | Path) -> dict[str, Any]:
    """A recipe as a plain dict: a shipped one by name (with or without ``.yaml``), or any YAML by path."""
    return read_recipe_file(locate_recipe(name_or_path).path)
