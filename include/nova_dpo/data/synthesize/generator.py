"""The generator: When2Call ``train_pref`` examples drawn from the catalogue, one behaviour at a time.

Each example picks a chosen behaviour (``tool_call``, ``request_for_info``, ``cannot_answer``), a tool, the
arguments its question states, the tools offered, and a rejected answer of another behaviour or ``direct``.
One ``random.Random(seed)`` drives every draw, in a fixed order, so ``(rows, seed)`` fixes the stream.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from nova_dpo.data.synthesize.catalogue import RELATED_DOMAINS, TOOLS
from nova_dpo.data.synthesize.sampling import FAKES, between, pick
from nova_dpo.data.synthesize.tools import PYTHON_TYPES, Param, ToolSpec
from nova_dpo.data.synthesize.vocabulary import (
    ASK_PREFIXES,
    CLOSERS,
    OPENERS,
    REFUSALS,
    REFUSALS_NAMING_TOOLS,
)
from nova_dpo.data.when2call import CANNOT_ANSWER, DIRECT, REQUEST_FOR_INFO, TOOL_CALL
from nova_dpo.toolcalls import format_when2call_toolcalls

BEHAVIOURS = (TOOL_CALL, REQUEST_FOR_INFO, CANNOT_ANSWER, DIRECT)

# Shares of the chosen behaviours: half tool calls, a quarter each of the two ways of not calling.
TOOL_CALL_SHARE = 0.5
REQUEST_FOR_INFO_SHARE = 0.25
# Share of rows whose tools are plain dicts rather than JSON strings (the loader must accept both).
DICT_TOOLS_SHARE = 0.25
# Chance that a question mentions a given optional argument (it then appears in the call too).
OPTIONAL_MENTION_SHARE = 0.3


def _unrelated(domain: str, other: str) -> bool:
    return (
        domain != other and (domain, other) not in RELATED_DOMAINS and (other, domain) not in RELATED_DOMAINS
    )


# For each domain, the tools of the unrelated domains, in catalogue order (so draws are stable).
_UNRELATED_TOOLS: dict[str, tuple[ToolSpec, ...]] = {
    tool.domain: tuple(other for other in TOOLS if _unrelated(tool.domain, other.domain)) for tool in TOOLS
}


def _join(words: Sequence[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def _display(values: Mapping[str, Any]) -> dict[str, str]:
    """Argument values as the text a question shows: ``str`` of the value the call holds, verbatim."""
    return {name: str(value) for name, value in values.items()}


def _sample_arguments(rng: random.Random, tool: ToolSpec, *, optional_share: float) -> dict[str, Any]:
    """All required arguments and, each with ``optional_share``, the optional ones, in definition order."""
    args: dict[str, Any] = {}
    for param in tool.params:
        if param.required or rng.random() < optional_share:
            args[param.name] = param.sample(rng, args)
    return args


def _question(rng: random.Random, tool: ToolSpec, stated: Mapping[str, Any]) -> str:
    values = _display(stated)
    template = pick(rng, tool.questions)
    # Optional arguments the phrasing has no slot for follow the arguments it has ("... in Oslo in celsius").
    extras = "".join(
        " " + param.phrase.render(values)
        for param in tool.params
        if param.phrase is not None and param.name in values and param.name not in template.optional_fields
    )
    text = template.render(values, extras)
    opener = pick(rng, OPENERS)
    if opener and text[0].isupper():
        text = opener + text
    closer = pick(rng, CLOSERS)
    if closer and text[-1] in ".?!":
        text += closer
    return text


def _ask(rng: random.Random, param: Param) -> str:
    return pick(rng, ASK_PREFIXES) + param.ask


def _refusal(rng: random.Random, tool: ToolSpec, offered: Sequence[ToolSpec] = ()) -> str:
    templates = REFUSALS + REFUSALS_NAMING_TOOLS if offered else REFUSALS
    topics = _join([other.topic for other in offered]) if offered else ""
    return pick(rng, templates).format(action=tool.action, topics=topics)


def _direct(rng: random.Random, tool: ToolSpec, stated: Mapping[str, Any]) -> str:
    template = pick(rng, tool.answers)
    values = _display(stated)
    for name in template.fields:
        if name in FAKES and name not in values:
            values[name] = FAKES[name](rng)
    return template.render(values)


def _call(tool: ToolSpec, arguments: dict[str, Any]) -> str:
    return format_when2call_toolcalls([{"name": tool.name, "arguments": arguments}])


def _invented_call(rng: random.Random, tool: ToolSpec, question_args: Mapping[str, Any]) -> str:
    """A call to ``tool`` that fits the question badly: values reused where names match, the rest made up."""
    args: dict[str, Any] = {}
    for param in tool.required:
        value = question_args.get(param.name)
        fits = type(value) in PYTHON_TYPES[param.type] and (param.enum is None or value in param.enum)
        args[param.name] = value if fits else param.sample(rng, args)
    return _call(tool, args)


def _offer(rng: random.Random, tool: ToolSpec, *, include: bool) -> list[ToolSpec]:
    """1-3 tools of domains unrelated to ``tool``'s, plus ``tool`` itself if ``include``, in random order."""
    candidates = _UNRELATED_TOOLS[tool.domain]
    count = between(rng, 1, 3)
    offered: list[ToolSpec] = []
    while len(offered) < count:
        candidate = pick(rng, candidates)
        if candidate not in offered:
            offered.append(candidate)
    if include:
        offered.insert(between(rng, 0, len(offered)), tool)
    return offered


@dataclass(frozen=True, slots=True)
class SyntheticExample:
    """A generated When2Call row and what it was built to teach.

    :param row: the ``train_pref`` row.
    :param category: the behaviour of the chosen answer: ``tool_call``, ``request_for_info`` or
        ``cannot_answer``.
    :param rejected_category: the behaviour of the rejected answer (one of the others, or ``direct``).
    :param tool: the tool the question is about (offered unless ``category`` is ``cannot_answer``).
    :param arguments: the arguments the question states, as the call holds them.
    :param missing_argument: the required argument left out (``request_for_info`` only).
    """

    row: dict[str, Any]
    category: str
    rejected_category: str
    tool: str
    arguments: dict[str, Any]
    missing_argument: str | None = None


def _row(
    rng: random.Random, offered: Sequence[ToolSpec], question: str, chosen: str, rejected: str
) -> dict[str, Any]:
    if rng.random() < DICT_TOOLS_SHARE:
        # A fresh copy per row, so a caller that edits a row cannot change the catalogue.
        tools: list[Any] = [json.loads(tool.definition_json) for tool in offered]
    else:
        tools = [tool.definition_json for tool in offered]
    return {
        "tools": tools,
        "messages": [{"role": "user", "content": question}],
        "chosen_response": {"role": "assistant", "content": chosen},
        "rejected_response": {"role": "assistant", "content": rejected},
        "chosen_reward": 1.0,
        "rejected_reward": 0.0,
    }


def _tool_call_example(rng: random.Random) -> SyntheticExample:
    tool = pick(rng, TOOLS)
    args = _sample_arguments(rng, tool, optional_share=OPTIONAL_MENTION_SHARE)
    question = _question(rng, tool, args)
    offered = _offer(rng, tool, include=True)
    rejected_category = pick(rng, (REQUEST_FOR_INFO, CANNOT_ANSWER, DIRECT))
    if rejected_category == REQUEST_FOR_INFO:  # asks for something the question already gave
        rejected = _ask(rng, pick(rng, tool.required))
    elif rejected_category == CANNOT_ANSWER:  # refuses although the tool is right there
        rejected = _refusal(rng, tool)
    else:
        rejected = _direct(rng, tool, args)
    row = _row(rng, offered, question, _call(tool, args), rejected)
    return SyntheticExample(row, TOOL_CALL, rejected_category, tool.name, args)


def _request_for_info_example(rng: random.Random) -> SyntheticExample:
    tool = pick(rng, TOOLS)
    args = _sample_arguments(rng, tool, optional_share=OPTIONAL_MENTION_SHARE)
    missing = pick(rng, tool.required)
    stated = {name: value for name, value in args.items() if name != missing.name}
    question = _question(rng, tool, stated)
    offered = _offer(rng, tool, include=True)
    rejected_category = pick(rng, (TOOL_CALL, CANNOT_ANSWER, DIRECT))
    if rejected_category == TOOL_CALL:  # fills the gap with a guess (the value drawn but never stated)
        rejected = _call(tool, args)
    elif rejected_category == CANNOT_ANSWER:
        rejected = _refusal(rng, tool)
    else:
        rejected = _direct(rng, tool, stated)
    row = _row(rng, offered, question, _ask(rng, missing), rejected)
    return SyntheticExample(row, REQUEST_FOR_INFO, rejected_category, tool.name, stated, missing.name)


def _cannot_answer_example(rng: random.Random) -> SyntheticExample:
    intent = pick(rng, TOOLS)
    args = _sample_arguments(rng, intent, optional_share=OPTIONAL_MENTION_SHARE)
    question = _question(rng, intent, args)
    offered = _offer(rng, intent, include=False)
    rejected_category = pick(rng, (TOOL_CALL, REQUEST_FOR_INFO, DIRECT))
    if rejected_category == TOOL_CALL:  # forces an unrelated offered tool onto the question
        rejected = _invented_call(rng, pick(rng, offered), args)
    elif rejected_category == REQUEST_FOR_INFO:  # asks a follow-up although no tool could use the answer
        rejected = _ask(rng, pick(rng, intent.required))
    else:
        rejected = _direct(rng, intent, args)
    row = _row(rng, offered, question, _refusal(rng, intent, offered), rejected)
    return SyntheticExample(row, CANNOT_ANSWER, rejected_category, intent.name, args)


def synthesize_examples(rows: int, seed: int) -> Iterator[SyntheticExample]:
    """``rows`` generated examples; the same ``(rows, seed)`` always gives the same examples, and a shorter
    stream is a prefix of a longer one with the same seed."""
    if rows < 0:
        raise ValueError(f"rows must be 0 or more, got {rows}")
    rng = random.Random(seed)
    for _ in range(rows):
        draw = rng.random()
        if draw < TOOL_CALL_SHARE:
            yield _tool_call_example(rng)
        elif draw < TOOL_CALL_SHARE + REQUEST_FOR_INFO_SHARE:
            yield _request_for_info_example(rng)
        else:
            yield _cannot_answer_example(rng)


def synthesize_rows(rows: int, seed: int) -> Iterator[dict[str, Any]]:
    """The When2Call ``train_pref`` rows of :func:`synthesize_examples`."""
    for example in synthesize_examples(rows, seed):
        yield example.row
