"""A recipe ready to run: loaded, overridden, validated, and fingerprinted.

The fingerprint (``sha256``) is of the canonical YAML that is uploaded for the job, so two runs with the
same fingerprint trained with the same configuration; the pipeline uses it to skip work already done.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nova_dpo.catalog import RECIPES, RecipeSpec
from nova_dpo.recipes.loading import locate_recipe, read_recipe_file
from nova_dpo.recipes.overrides import Overrides, apply_overrides
from nova_dpo.recipes.validation import base_recipe_for, validate_recipe
from nova_dpo.recipes.yaml_io import dump_canonical

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ResolvedRecipe:
    """A validated recipe with its overrides applied. Treat ``config`` as read-only.

    :param name: the shipped recipe name, or the stem of the YAML file it came from.
    :param config: the resolved recipe.
    :param sha256: hex SHA-256 of :meth:`to_yaml`.
    :param base_recipe: the shipped recipe whose rules and instance types apply.
    :param source: the file the recipe was read from.
    :param warnings: what relaxed mode accepted.
    """

    name: str
    config: dict[str, Any] = field(compare=False)
    sha256: str
    base_recipe: str
    source: str
    warnings: tuple[str, ...] = ()

    @property
    def spec(self) -> RecipeSpec:
        """The catalog entry of the base recipe: model, task, LoRA/full rank, instance types and counts."""
        return RECIPES[self.base_recipe]

    def to_yaml(self) -> str:
        """The canonical YAML of the resolved recipe (sorted keys): what a job receives."""
        return dump_canonical(self.config)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serializable dict that :meth:`from_dict` reads back (a run plan carries it in XCom)."""
        return {
            "name": self.name,
            "config": self.config,
            "sha256": self.sha256,
            "base_recipe": self.base_recipe,
            "source": self.source,
            "warnings": list(self.warnings),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ResolvedRecipe:
        """The recipe :meth:`to_dict` wrote, checked against its fingerprint (not validated again).

        :raises ValueError: when the config no longer has the sha256 it was resolved with.
        """
        config = dict(data["config"])
        digest = hashlib.sha256(dump_canonical(config).encode("utf-8")).hexdigest()
        if digest != data["sha256"]:
            raise ValueError(
                f"recipe {data['name']!r} changed after it was resolved (sha256 {digest[:12]}, "
                f"resolved as {data['sha256'][:12]}); resolve it again"
            )
        return cls(
            name=data["name"],
            config=config,
            sha256=digest,
            base_recipe=data["base_recipe"],
            source=data["source"],
            warnings=tuple(data.get("warnings", ())),
        )


def resolve_recipe(
    recipe: str | Path | ResolvedRecipe,
    overrides: Overrides = None,
    relaxed: bool = False,
    *,
    instance_type: str | None = None,
) -> ResolvedRecipe:
    """Load ``recipe`` (a shipped name, a v1 alias, a YAML path, or an already resolved recipe), apply
    ``overrides`` (later wins), validate, and log the result.

    :param relaxed: accept values only the wider of two disagreeing AWS sources allows (with warnings).
    :param instance_type: also check the instance-type specific ranges (e.g. max_length on p4d).
    :raises RecipeOverrideError: for an override key the recipe does not have.
    :raises RecipeValidationError: listing every out-of-range value.
    """
    if isinstance(recipe, ResolvedRecipe):
        name, source, config = recipe.name, recipe.source, recipe.config
    else:
        located = locate_recipe(recipe)
        name, source, config = located.name, str(located.path), read_recipe_file(located.path)
    config = apply_overrides(config, overrides)
    warnings = validate_recipe(config, relaxed=relaxed, name=name, instance_type=instance_type)
    base = base_recipe_for(config, name=name, instance_type=instance_type)
    text = dump_canonical(config)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    log.info("Resolved recipe %s (rules of %s, sha256 %s)", name, base, digest[:12])
    log.debug("Recipe %s:\n%s", name, text)
    return ResolvedRecipe(name, config, digest, base, source, tuple(warnings))
