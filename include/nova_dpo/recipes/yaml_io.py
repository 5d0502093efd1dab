"""Reading and writing recipe YAML the way the Nova containers (OmegaConf) read it.

PyYAML follows YAML 1.1, where ``1e-5`` (no dot) is a string; the AWS recipes write learning rates that
way and OmegaConf reads them as floats. The loader below adds the YAML 1.2 float syntax so a recipe means
the same here as in the container.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

_FLOAT_RE = re.compile(
    r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
    |\.[0-9_]+(?:[eE][-+][0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
    re.VERBOSE,
)


class RecipeLoader(yaml.SafeLoader):
    """A safe loader that also reads ``1e-5`` as a float."""


# The float resolver is keyed by first character; replacing the whole table entry for those characters
# keeps the other implicit types (int, bool, null) intact.
RecipeLoader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:float"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
RecipeLoader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT_RE, list("-+0123456789."))


def load_yaml(text: str) -> Any:
    """Parse YAML text with :class:`RecipeLoader`."""
    return yaml.load(text, Loader=RecipeLoader)


def parse_scalar(text: str) -> Any:
    """A command-line value as YAML reads it: ``0.05`` → float, ``true`` → bool, ``null`` → None, ``[1, 2]`` → list."""
    if text.strip() == "":
        return ""
    return load_yaml(text)


def dump_canonical(data: Any) -> str:
    """The canonical YAML of ``data``: sorted keys, block style, so equal recipes give equal bytes."""
    return yaml.safe_dump(data, sort_keys=True, default_flow_style=False, allow_unicode=True)


def dump_readable(data: Any) -> str:
    """YAML of ``data`` in its own key order, for files people read."""
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False, allow_unicode=True)
