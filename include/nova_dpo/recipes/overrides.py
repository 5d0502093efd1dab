"""Run overrides on top of a recipe: nested mappings or dotted ``KEY=VALUE`` strings, later wins.

Overrides may only change keys the recipe already has: a typo must fail before compute is paid for,
not be carried silently into a job whose container ignores it.
"""

from __future__ import annotations

import copy
import difflib
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from nova_dpo.recipes.yaml_io import parse_scalar

Overrides = Mapping[str, Any] | Iterable[str | Mapping[str, Any]] | None

_EXAMPLE = "training_config.model.dpo_cfg.beta=0.05"


class RecipeOverrideError(ValueError):
    """One or more overrides do not fit the recipe (unknown key, or a value where a section is)."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


def key_paths(recipe: Mapping[str, Any], prefix: str = "") -> list[str]:
    """Every dotted key path of ``recipe``, sections and values alike, in document order."""
    paths = []
    for key, value in recipe.items():
        path = f"{prefix}{key}"
        paths.append(path)
        if isinstance(value, Mapping):
            paths.extend(key_paths(value, f"{path}."))
    return paths


def parse_override(text: str) -> dict[str, Any]:
    """``"a.b=0.05"`` → ``{"a.b": 0.05}``; the value is read as a YAML scalar (or flow list/mapping)."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ValueError(f"override {text!r} must look like KEY=VALUE, e.g. {_EXAMPLE}")
    try:
        value = parse_scalar(raw)
    except Exception as err:
        raise ValueError(f"override {key}: value {raw!r} is not valid YAML ({err})") from err
    return {key: value}


def _layers(overrides: Overrides) -> Iterator[Mapping[str, Any]]:
    if overrides is None:
        return
    if isinstance(overrides, Mapping):
        yield overrides
        return
    if isinstance(overrides, str):
        yield parse_override(overrides)
        return
    for item in overrides:
        if isinstance(item, str):
            yield parse_override(item)
        elif isinstance(item, Mapping):
            yield item
        else:
            raise TypeError(f"an override must be a KEY=VALUE string or a mapping, not {type(item).__name__}")


def combine_overrides(*layers: Overrides) -> list[Mapping[str, Any]]:
    """Several override arguments as one sequence, in order (later wins)."""
    return [layer for overrides in layers for layer in _layers(overrides)]


def _unknown(path: str, all_paths: list[str], siblings: Iterable[str]) -> str:
    close = difflib.get_close_matches(path, all_paths, n=1, cutoff=0.6)
    if close:
        return f"unknown recipe key {path!r}; did you mean {close[0]!r}?"
    return f"unknown recipe key {path!r}; keys at that level: {', '.join(siblings)}"


def _assign(
    node: dict[str, Any], key: str, value: Any, prefix: str, all_paths: list[str], problems: list[str]
) -> None:
    parts = key.split(".")
    for index, part in enumerate(parts):
        path = prefix + ".".join(parts[: index + 1])
        if not isinstance(node, dict) or part not in node:
            siblings = node.keys() if isinstance(node, dict) else ()
            problems.append(_unknown(path, all_paths, siblings))
            return
        if index < len(parts) - 1:
            node = node[part]
    path = prefix + key
    existing = node[parts[-1]]
    if isinstance(value, Mapping):
        if not isinstance(existing, dict):
            problems.append(f"{path} is a value, not a section: set it with {path}=VALUE")
            return
        for child_key, child_value in value.items():
            _assign(existing, str(child_key), child_value, f"{path}.", all_paths, problems)
    elif isinstance(existing, dict):
        first = next(iter(existing), "KEY")
        problems.append(f"{path} is a section: set its keys instead, e.g. {path}.{first}=VALUE")
    else:
        node[parts[-1]] = copy.deepcopy(value)


def apply_overrides(recipe: Mapping[str, Any], overrides: Overrides) -> dict[str, Any]:
    """A copy of ``recipe`` with ``overrides`` merged in, in order (later wins).

    ``overrides`` is a nested mapping (whose keys may also be dotted), a ``KEY=VALUE`` string, or a
    sequence of either; ``KEY=VALUE`` values are parsed as YAML scalars.

    :raises RecipeOverrideError: listing every key the recipe does not have, each with the closest valid key.
    """
    result = copy.deepcopy(dict(recipe))
    all_paths = key_paths(result)
    problems: list[str] = []
    for layer in _layers(overrides):
        for key, value in layer.items():
            _assign(result, str(key), value, "", all_paths, problems)
    if problems:
        raise RecipeOverrideError(problems)
    return result
