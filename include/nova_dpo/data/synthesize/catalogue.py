"""The tool catalogue: ``catalogue.json``, one object per tool, across many domains.

Each object gives the tool's name, domain, topic (a noun phrase: "flight search") and action (an infinitive
phrase: "search for flights"), its description, its arguments (how values are drawn, and how a question asks
for or mentions them), several question phrasings and the hallucinated direct answers, in the template
language of :mod:`~nova_dpo.data.synthesize.templates`. Entries are checked as they are built
(:func:`~nova_dpo.data.synthesize.tools.tool`), so a mistake in the file fails at import. Catalogue order is
part of the stream: a change there changes the bytes a seed writes.

An argument's ``kind`` names its builder in :mod:`~nova_dpo.data.synthesize.tools` (``required``,
``required_choice``, ``optional``, ``optional_choice``, ``flag``) and its other keys are that builder's
arguments. A ``sample`` names a function of :mod:`~nova_dpo.data.synthesize.sampling` and its arguments:
``["integer", 2, 6]``, ``["other_than", "CITIES", "origin"]``, ``["flight_number"]``. Values, in ``enum`` and
as the first argument of ``one_of`` and ``other_than``, are a list or the name of a value pool of
:mod:`~nova_dpo.data.synthesize.vocabulary` (``"CITIES"``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from nova_dpo.data.synthesize import vocabulary
from nova_dpo.data.synthesize.sampling import (
    Sampler,
    artist_of_song,
    code,
    days_after,
    decimal,
    flight_number,
    integer,
    one_of,
    other_than,
    same_group_unit,
)
from nova_dpo.data.synthesize.tools import (
    Param,
    ToolSpec,
    flag,
    optional,
    optional_choice,
    required,
    required_choice,
    tool,
)

CATALOGUE_FILE = Path(__file__).with_name("catalogue.json")

_PARAM_BUILDERS = {
    "required": required,
    "required_choice": required_choice,
    "optional": optional,
    "optional_choice": optional_choice,
    "flag": flag,
}
# Samplers drawn with arguments (one_of and other_than, which take values, are built in _sampler).
_SAMPLER_BUILDERS = {"integer": integer, "decimal": decimal, "code": code, "days_after": days_after}
# Samplers used as they are.
_SAMPLERS = {
    "flight_number": flight_number,
    "same_group_unit": same_group_unit,
    "artist_of_song": artist_of_song,
}


def _values(values: str | list[Any]) -> tuple[Any, ...]:
    """A list of values, or the name of a value pool of the vocabulary (its keys, for a mapping)."""
    if isinstance(values, list):
        return tuple(values)
    if not values.isupper() or not hasattr(vocabulary, values):
        raise ValueError(f"{CATALOGUE_FILE.name}: {values!r} is no value pool of {vocabulary.__name__}")
    return tuple(getattr(vocabulary, values))


def _sampler(spec: list[Any]) -> Sampler:
    name, *args = spec
    if name == "one_of" and len(args) == 1:
        return one_of(_values(args[0]))
    if name == "other_than" and len(args) == 2:
        return other_than(_values(args[0]), args[1])
    if name in _SAMPLER_BUILDERS:
        return _SAMPLER_BUILDERS[name](*args)
    if name in _SAMPLERS and not args:
        return _SAMPLERS[name]
    raise ValueError(f"{CATALOGUE_FILE.name}: {spec!r} is not a sampler (see {__name__}'s docstring)")


def _param(fields: dict[str, Any]) -> Param:
    arguments = dict(fields)
    kind = arguments.pop("kind", None)
    if kind not in _PARAM_BUILDERS:
        raise ValueError(
            f"{CATALOGUE_FILE.name}: argument {fields} needs a kind, one of {list(_PARAM_BUILDERS)}"
        )
    if "sample" in arguments:
        arguments["sample"] = _sampler(arguments["sample"])
    if "enum" in arguments:
        arguments["enum"] = _values(arguments["enum"])
    return _PARAM_BUILDERS[kind](**arguments)


def _tool(entry: dict[str, Any]) -> ToolSpec:
    return tool(
        **{
            **entry,
            "params": tuple(_param(fields) for fields in entry["params"]),
            "questions": tuple(entry["questions"]),
            "answers": tuple(entry["answers"]),
        }
    )


TOOLS: tuple[ToolSpec, ...] = tuple(
    _tool(entry) for entry in json.loads(CATALOGUE_FILE.read_text(encoding="utf-8"))
)

# Domains whose tools could stand in for each other's (a free-text place search finds restaurants, a news
# search finds match results): a cannot_answer row must not offer one for the other, or it would be wrong.
RELATED_DOMAINS = (
    ("restaurants", "maps"),
    ("sports", "news"),
    ("finance", "news"),
    ("finance", "currency"),
    ("banking", "loans"),
    ("health", "fitness"),
    ("translation", "dictionary"),
    ("maps", "rides"),
    ("calendar", "hr"),
    ("travel", "real_estate"),
)
