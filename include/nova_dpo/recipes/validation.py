"""Checking a recipe against the documented ranges before any compute is paid for.

Every recipe is checked against the rules of one shipped recipe, its *base recipe*: the shipped recipe
of that name, or for a custom YAML the first shipped recipe with the same model, task, LoRA/full rank and
(when known) instance type.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from nova_dpo.catalog import MODELS, RECIPES, RecipeSpec
from nova_dpo.recipes.loading import load_recipe, locate_recipe, read_recipe_file, shipped_recipes
from nova_dpo.recipes.overrides import key_paths
from nova_dpo.recipes.ranges import Bounds, Rule, format_value, rules_for

log = logging.getLogger(__name__)

_MISSING = object()


@dataclass(frozen=True)
class Violation:
    """One value that breaks a rule, with a message that says what to set instead."""

    path: str
    message: str


class RecipeValidationError(ValueError):
    """A recipe breaks one or more rules; ``violations`` lists every one of them."""

    def __init__(self, violations: list[Violation], recipe: str | None = None) -> None:
        self.violations = violations
        self.recipe = recipe
        head = f"recipe {recipe!r} is invalid" if recipe else "recipe is invalid"
        lines = "\n".join(f"  - {v.message}" for v in violations)
        super().__init__(f"{head} ({len(violations)} problem{'s' if len(violations) != 1 else ''}):\n{lines}")


def _get(recipe: Mapping[str, Any], path: str) -> Any:
    node: Any = recipe
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return _MISSING
        node = node[part]
    return node


def _model_of(recipe: Mapping[str, Any]) -> str:
    model_type = _get(recipe, "run.model_type")
    for model in MODELS.values():
        if model.model_type == model_type:
            return model.key
    known = ", ".join(m.model_type for m in MODELS.values())
    raise ValueError(f"run.model_type={model_type!r} is not a Nova 1.0 model type; expected one of {known}")


def _task_of(recipe: Mapping[str, Any]) -> str:
    if "evaluation" in recipe:
        task = _get(recipe, "evaluation.task")
        if task not in ("gen_qa", "llm_judge"):
            raise ValueError(
                f"evaluation.task={task!r} is not supported; this project runs gen_qa and llm_judge"
            )
        return task
    if _get(recipe, "training_config.model.dpo_cfg") is not _MISSING:
        return "dpo"
    raise ValueError(
        "not a Nova DPO or evaluation recipe: it has neither training_config.model.dpo_cfg nor evaluation"
    )


def base_recipe_for(
    recipe: Mapping[str, Any], *, name: str | None = None, instance_type: str | None = None
) -> str:
    """The shipped recipe whose rules apply to ``recipe``.

    :param name: the recipe's name; a shipped name is its own base recipe.
    :param instance_type: picks among the shipped recipes of the same kind (p5/p4d vs g5/g6); without
        it, ``run.replicas`` does.
    :raises ValueError: when the recipe is no Nova 1.0 DPO/evaluation recipe, or no shipped recipe of its
        kind runs on ``instance_type``.
    """
    if name in RECIPES:
        return name
    model, task = _model_of(recipe), _task_of(recipe)
    method = None
    if task == "dpo":
        method = (
            "full" if _get(recipe, "training_config.model.peft.peft_scheme") in (None, _MISSING) else "lora"
        )
    candidates = [s for s in RECIPES.values() if (s.model, s.task, s.method) == (model, task, method)]
    if instance_type is not None:
        fitting = [s for s in candidates if instance_type in s.instance_types]
        if not fitting:
            allowed = sorted({t for s in candidates for t in s.instance_types})
            raise ValueError(
                f"instance type {instance_type!r} does not run Nova {model} {method or task} recipes; "
                f"use one of {', '.join(allowed)}"
            )
        candidates = fitting
    else:
        # run.replicas tells single-instance (g5/g6) recipes from multi-instance (p5/p4d) ones.
        replicas = _get(recipe, "run.replicas")
        candidates = [
            s for s in candidates if s.counts.allowed is None or replicas in s.counts.allowed
        ] or candidates
    log.debug("Checking recipe %r against the rules of %s", name, candidates[0].name)
    return candidates[0].name


@cache
def _template_paths(base: str) -> frozenset[str]:
    return frozenset(key_paths(read_recipe_file(shipped_recipes()[base])))


def _leaf_paths(recipe: Mapping[str, Any], prefix: str = "") -> list[str]:
    paths = []
    for key, value in recipe.items():
        path = f"{prefix}{key}"
        paths.extend(_leaf_paths(value, f"{path}.") if isinstance(value, Mapping) and value else [path])
    return paths


def _check_value(rule: Rule, value: Any, bounds: Bounds) -> str | None:
    if rule.kind == "list":
        if rule.length is not None and len(value) != rule.length:
            return f"must hold {rule.length} values"
        for item in value:
            if isinstance(item, bool) or not isinstance(item, int | float):
                return f"must hold numbers, not {item!r}"
            problem = bounds.problem(item)
            if problem:
                return f"holds {format_value(item)}, which {problem}"
        return None
    if rule.pattern is not None and not re.match(rule.pattern, value):
        return f"must be {rule.pattern_hint}"
    return bounds.problem(value)


def _check_rule(
    rule: Rule, value: Any, relaxed: bool, violations: list[Violation], warnings: list[str]
) -> None:
    shown = f"{rule.path}={format_value(value)}"
    type_problem = rule.type_problem(value)
    if type_problem:
        violations.append(Violation(rule.path, f"{shown} {type_problem} ({rule.source})"))
        return
    problem = _check_value(rule, value, rule.bounds)
    if problem is None:
        return
    fits_relaxed = rule.relaxed is not None and _check_value(rule, value, rule.relaxed) is None
    if relaxed and fits_relaxed:
        warnings.append(
            f"{shown} {problem} for {rule.source} (allowed: {rule.bounds.describe()}) but fits "
            f"{rule.relaxed_source} ({rule.relaxed.describe()}); accepted because relaxed=True"
        )
        return
    fix = (
        ""
        if rule.pattern is not None and problem.startswith("must be")
        else f"; set {rule.bounds.describe()}"
    )
    message = f"{shown} {problem} ({rule.source}){fix}"
    if fits_relaxed:
        message += (
            f", or relax to {rule.relaxed.describe()} ({rule.relaxed_source}) with relaxed=True (--relaxed)"
        )
    violations.append(Violation(rule.path, message))


def _lora_recipe_for(model: str) -> str:
    return next(s.name for s in RECIPES.values() if (s.model, s.task, s.method) == (model, "dpo", "lora"))


def _cross_field(recipe: Mapping[str, Any], spec: RecipeSpec, violations: list[Violation]) -> None:
    if spec.task == "dpo":
        lr = _get(recipe, "training_config.model.optim.lr")
        min_lr = _get(recipe, "training_config.model.optim.sched.min_lr")
        numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (lr, min_lr))
        if numbers and not min_lr < lr:
            violations.append(
                Violation(
                    "training_config.model.optim.sched.min_lr",
                    f"training_config.model.optim.sched.min_lr={format_value(min_lr)} must be below "
                    f"training_config.model.optim.lr={format_value(lr)} (Nova DPO guide); lower min_lr or raise lr",
                )
            )
        lora_tuning = "training_config.model.peft.lora_tuning"
        if spec.method == "full" and _get(recipe, lora_tuning) is not _MISSING:
            violations.append(
                Violation(
                    lora_tuning,
                    f"{lora_tuning} is set but this is a full-rank recipe (peft_scheme null); remove it, "
                    f"or use a LoRA recipe such as {_lora_recipe_for(spec.model)}",
                )
            )
    if spec.task == "llm_judge" and _get(recipe, "inference.max_new_tokens") is not _MISSING:
        violations.append(
            Violation(
                "inference.max_new_tokens",
                "inference.max_new_tokens is not available for LLM-as-a-judge evaluation (Nova evaluation "
                "guide); remove it",
            )
        )


def validate_recipe(
    recipe: Mapping[str, Any],
    *,
    relaxed: bool = False,
    name: str | None = None,
    instance_type: str | None = None,
) -> list[str]:
    """Check ``recipe`` against the rules in :mod:`nova_dpo.recipes.ranges` and the cross-field checks.

    :param relaxed: accept values that only the wider of two disagreeing AWS sources allows, and keys
        the base recipe does not have, each with a logged warning.
    :param name: the recipe's name; a shipped name selects its rules directly.
    :param instance_type: also apply the rules for this instance type (e.g. max_length on p4d).
    :return: the warnings of relaxed mode (empty in strict mode).
    :raises RecipeValidationError: listing every violation, each with what to set instead.
    :raises ValueError: when the recipe is no Nova 1.0 DPO or evaluation recipe at all (see
        :func:`base_recipe_for`).
    """
    base = base_recipe_for(recipe, name=name, instance_type=instance_type)
    spec = RECIPES[base]
    violations: list[Violation] = []
    warnings: list[str] = []
    for rule in rules_for(spec, instance_type):
        value = _get(recipe, rule.path)
        if value is _MISSING:
            if not rule.optional:
                violations.append(Violation(rule.path, f"{rule.path} is missing; recipe {base} requires it"))
            continue
        _check_rule(rule, value, relaxed, violations, warnings)
    _cross_field(recipe, spec, violations)

    known = _template_paths(base)
    for path in _leaf_paths(recipe):
        if path not in known:
            message = f"{path} is not a key of recipe {base}; remove it or check its spelling"
            if relaxed:
                warnings.append(f"{message}; kept because relaxed=True")
            else:
                violations.append(Violation(path, f"{message} (relaxed=True keeps it)"))
    if violations:
        raise RecipeValidationError(violations, name or base)
    for warning in warnings:
        log.warning("Recipe %s: %s", name or base, warning)
    return warnings


def param_bounds(
    recipe_name: str | Path, *, relaxed: bool = False, instance_type: str | None = None
) -> dict[str, dict[str, Any]]:
    """JSON-schema bounds of every key of a recipe, from the same rules the validator uses.

    For a DAG's ``Param``: ``Param(default, type="number", **param_bounds(name)["training_config.model.dpo_cfg.beta"])``.

    :return: key path → ``{"type", "minimum", "maximum", ...}`` or ``{"enum": [...]}``.
    """
    source = locate_recipe(recipe_name)
    recipe = load_recipe(source.path)
    spec = RECIPES[base_recipe_for(recipe, name=source.name, instance_type=instance_type)]
    json_types = {"int": "integer", "number": "number", "str": "string", "bool": "boolean", "list": "array"}
    result: dict[str, dict[str, Any]] = {}
    for rule in rules_for(spec, instance_type):
        bounds = rule.relaxed if relaxed and rule.relaxed is not None else rule.bounds
        schema: dict[str, Any] = {}
        if rule.kind in json_types and bounds.allowed is None:
            schema["type"] = json_types[rule.kind]
        if rule.kind == "list":
            schema.update(items={"type": "number", **bounds.json_schema()})
            if rule.length is not None:
                schema.update(minItems=rule.length, maxItems=rule.length)
        else:
            schema.update(bounds.json_schema())
        if rule.pattern is not None:
            schema["pattern"] = rule.pattern
        allowed = rule.pattern_hint if rule.pattern is not None else bounds.describe()
        if rule.kind == "list":
            allowed = f"{rule.length} values, each {allowed}"
        origin = rule.relaxed_source if bounds is rule.relaxed else rule.source
        schema["description"] = f"{allowed} ({origin})"
        result[rule.path] = schema
    return result
