"""What a catalogue tool is: its arguments, its When2Call definition, and the checks every entry passes.

The tools of :mod:`~nova_dpo.data.synthesize.catalogue` are built with the builders here (``tool``,
``required``, ``optional``, ...); each entry is checked when the catalogue is built, so a mistake fails at
import rather than as a wrong row.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from nova_dpo.data.synthesize.sampling import FAKES, Sampler, one_of
from nova_dpo.data.synthesize.templates import Template

# The Python types a value of each schema type may have (a JSON "number" may be whole).
PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
}


@dataclass(frozen=True, slots=True)
class Param:
    """An argument of a tool: its schema, how values are drawn, and how questions and answers refer to it.

    :param ask: the question that asks for it when a request leaves it out (required arguments).
    :param phrase: how a question mentions it when the phrasing has no slot for it (optional arguments).
    """

    name: str
    type: str
    description: str
    sample: Sampler
    required: bool
    ask: str = ""
    phrase: Template | None = None
    enum: tuple[str, ...] | None = None
    default: Any = None

    def schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": self.type, "description": self.description}
        if self.enum is not None:
            schema["enum"] = list(self.enum)
        if self.default is not None:
            schema["default"] = self.default
        return schema


def required(name: str, type: str, description: str, sample: Sampler, ask: str) -> Param:
    return Param(name, type, description, sample, required=True, ask=ask)


def required_choice(name: str, description: str, enum: tuple[str, ...], ask: str) -> Param:
    return Param(name, "string", description, one_of(enum), required=True, ask=ask, enum=enum)


def optional(
    name: str,
    type: str,
    description: str,
    sample: Sampler,
    phrase: str,
    *,
    enum: tuple[str, ...] | None = None,
    default: Any = None,
) -> Param:
    return Param(
        name,
        type,
        description,
        sample,
        required=False,
        phrase=Template.compile(phrase),
        enum=enum,
        default=default,
    )


def optional_choice(
    name: str, description: str, enum: tuple[str, ...], phrase: str, default: str | None = None
) -> Param:
    return optional(name, "string", description, one_of(enum), phrase, enum=enum, default=default)


def flag(name: str, description: str, phrase: str) -> Param:
    """An optional boolean that a question only ever switches on."""
    return optional(name, "boolean", description, lambda _rng, _args: True, phrase, default=False)


@dataclass(frozen=True, slots=True, eq=False)  # catalogue entries: identity is equality
class ToolSpec:
    """A tool of the catalogue: its When2Call definition plus what the generator needs to ask about it.

    :param domain: tools of one domain overlap in intent, so distractors, and the tools offered instead of
        a missing one, always come from unrelated domains.
    :param topic: a short noun phrase naming what the tool covers ("flight search").
    :param action: what it does, as an infinitive phrase ("search for flights").
    """

    name: str
    domain: str
    topic: str
    action: str
    description: str
    params: tuple[Param, ...]
    required: tuple[Param, ...]
    questions: tuple[Template, ...]
    answers: tuple[Template, ...]
    definition: dict[str, Any]
    definition_json: str


def _check_tool(
    name: str, params: tuple[Param, ...], questions: tuple[Template, ...], answers: tuple[Template, ...]
) -> None:
    """Catch catalogue mistakes at import: every rule here is one the generated rows rely on."""
    names = {param.name for param in params}
    required_names = {param.name for param in params if param.required}
    if not required_names:
        raise ValueError(f"tool {name}: needs a required argument (request_for_info rows leave one out)")
    if len(questions) < 4:
        raise ValueError(f"tool {name}: needs at least 4 question phrasings")
    for template in questions + answers:
        if any(part.optional and not part.fields for part in template.parts):
            raise ValueError(f"tool {name}: a [...] segment without a placeholder in {template.source!r}")
        unknown = set(template.fields) - names - FAKES.keys()
        if unknown:
            raise ValueError(f"tool {name}: unknown placeholders {sorted(unknown)} in {template.source!r}")
        if not (set(template.fields) & names) <= template.optional_fields:
            raise ValueError(f"tool {name}: argument placeholders must sit in [...] in {template.source!r}")
    for template in questions:
        if not required_names <= set(template.fields):
            raise ValueError(f"tool {name}: {template.source!r} leaves out a required argument")
    for template in answers:
        if template.source.rstrip()[-1:] not in ".!":
            raise ValueError(f"tool {name}: a direct answer must be a statement: {template.source!r}")
    for param in params:
        if param.required and not param.ask.endswith("?"):
            raise ValueError(f"tool {name}: argument {param.name} needs an `ask` question ending in '?'")
        if not param.required and param.phrase is None:
            raise ValueError(f"tool {name}: optional argument {param.name} needs a phrase")
        if param.type not in PYTHON_TYPES:
            raise ValueError(f"tool {name}: argument {param.name} has unknown type {param.type!r}")


def tool(
    name: str,
    domain: str,
    topic: str,
    action: str,
    description: str,
    params: tuple[Param, ...],
    questions: tuple[str, ...],
    answers: tuple[str, ...],
) -> ToolSpec:
    """A catalogue entry: its phrasings compiled and checked, its When2Call definition built once."""
    compiled_questions = tuple(Template.compile(text) for text in questions)
    compiled_answers = tuple(Template.compile(text) for text in answers)
    _check_tool(name, params, compiled_questions, compiled_answers)
    definition = {
        "name": name,
        "description": description,
        "parameters": {
            "type": "dict",
            "properties": {param.name: param.schema() for param in params},
            "required": [param.name for param in params if param.required],
        },
    }
    return ToolSpec(
        name=name,
        domain=domain,
        topic=topic,
        action=action,
        description=description,
        params=params,
        required=tuple(param for param in params if param.required),
        questions=compiled_questions,
        answers=compiled_answers,
        definition=definition,
        definition_json=json.dumps(definition),
    )
