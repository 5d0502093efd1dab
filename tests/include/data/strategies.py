"""Hypothesis strategies: When2Call ``train_pref`` rows broken at one place, at any depth.

Each broken row is a valid row (:func:`tests.include.data.rows.when2call_row`) with one field replaced by a value
of a type the schema does not allow there, or removed. What a source can carry decides which values are drawn:

* ``json`` (JSONL): null, booleans, numbers, strings, lists and objects;
* ``parquet``: those, plus bytes, NaN and infinities (a list holds one type, an object is a struct);
* ``python`` (what a Hub row or any Python source can hand over): those, plus text with lone surrogates,
  integers past 64 bits, non-text keys and nesting deeper than any parser allows.

A broken row carries the reason codes that fit the break, so a test checks that the row is quarantined for
the right reason, not merely that it is quarantined.
"""

from __future__ import annotations

import copy
import functools
import math
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from tests.include.data.rows import when2call_row

MEDIA = ("json", "parquet", "python")
INT64 = (-(2**63), 2**63 - 1)
# Keys of drawn objects: never one of the schema's own keys ("content", "role", "text", "name", ...).
ODD_KEYS = st.text(alphabet="xyz", min_size=1, max_size=3)
NOT_JSON_TEXT = st.text(max_size=10).map(lambda text: "<" + text)
# The scalars any source can carry, None first.
JSON_SCALARS: tuple[st.SearchStrategy[Any], ...] = (
    st.none(),
    st.booleans(),
    st.integers(*INT64),
    st.floats(allow_nan=False, allow_infinity=False),
)
MISSING = object()
RESPONSE_REASONS = frozenset(
    {"schema", "bad_role", "unsupported_content", "empty_text", "not_utf8", "reserved_string"}
    | {"too_long", "gen_qa_too_long", "identical_candidates"}
)
TOOLCALLS = (
    "<TOOLCALL>[{not json]</TOOLCALL>",
    "<TOOLCALL>[]</TOOLCALL>",
    '<TOOLCALL>[{"arguments": {}}]</TOOLCALL>',
    '<TOOLCALL>[{"name": "get_weather", "arguments": 3}]</TOOLCALL>',
    '<TOOLCALL>[{"name": "get_weather", "arguments": {"city": NaN}}]</TOOLCALL>',
    '<TOOLCALL>[{"name": "get_weather", "arguments": {"city": 1e999}}]</TOOLCALL>',
    "<TOOLCALL>" + "[" * 5000 + "]" * 5000 + "</TOOLCALL>",
    '<TOOLCALL>[{"name": "get_weather", "arguments": {"x": ' + "[" * 100 + "]" * 100 + "}}]</TOOLCALL>",
)


@dataclass(frozen=True)
class Broken:
    row: Any
    where: str
    reasons: frozenset[str]


def deep(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = [value]
    return value


def _surrogates(max_size: int = 3) -> st.SearchStrategy[str]:
    return st.text(st.characters(categories=["Cs"]), min_size=1, max_size=max_size)


def _scalar_types(medium: str) -> list[st.SearchStrategy[Any]]:
    """One strategy per scalar type that no text field accepts, None first."""
    types = list(JSON_SCALARS)
    if medium != "json":
        types += [st.binary(max_size=8), st.sampled_from([math.nan, math.inf, -math.inf])]
    if medium == "python":
        types += [st.integers(min_value=2**64, max_value=2**200), _surrogates()]
    return types


def _lists(medium: str) -> st.SearchStrategy[list[Any]]:
    if medium == "parquet":  # an Arrow list holds one type
        return st.sampled_from(_scalar_types(medium)).flatmap(lambda kind: st.lists(kind, max_size=3))
    return st.lists(st.one_of(_scalar_types(medium)), max_size=3)


def _objects(medium: str) -> st.SearchStrategy[dict[Any, Any]]:
    keys = st.one_of(ODD_KEYS, st.integers(0, 9)) if medium == "python" else ODD_KEYS
    # Parquet cannot write a struct without fields.
    smallest = 1 if medium == "parquet" else 0
    return st.dictionaries(keys, st.one_of(_scalar_types(medium)), min_size=smallest, max_size=3)


def not_text(medium: str, *, none: bool = True) -> st.SearchStrategy[Any]:
    """Anything but valid text (lists and objects included); ``none=False`` leaves out None."""
    scalars = _scalar_types(medium)
    return st.one_of(*(scalars if none else scalars[1:]), _lists(medium), _objects(medium))


def _content(medium: str) -> st.SearchStrategy[Any]:
    """A message content that is not usable text: a wrong type, broken blocks, blank, reserved or too long."""
    return st.one_of(
        not_text(medium),
        st.lists(st.one_of(_scalar_types(medium)), min_size=1, max_size=2),  # blocks that are not objects
        st.just([{"type": "image", "image": {"format": "png"}}]),
        st.lists(
            st.fixed_dictionaries({"type": st.just("text"), "text": not_text(medium)}), min_size=1, max_size=2
        ),
        st.sampled_from(["", "   ", "\n", "User: hi", "[EOS]", "Bot: sure", "<image>"]),
        st.integers(13_000, 40_000).map(lambda chars: "word " * (chars // 5)),
    )


def _not_json(medium: str) -> st.SearchStrategy[Any]:
    """A value JSON cannot carry, deep inside a tool definition given as an object."""
    if medium == "json":  # any JSON value is JSON: only nesting too deep for a schema is wrong
        return st.integers(70, 200).map(deep)
    values = [
        st.binary(min_size=1, max_size=4),
        st.sampled_from([math.nan, math.inf]),
        # Past MAX_JSON_DEPTH (64), within what a Parquet reader reads (about 118: see loading.py).
        st.integers(70, 110).map(deep),
    ]
    if medium == "python":
        values += [
            _surrogates(),
            st.integers(min_value=2**64, max_value=2**80),
            st.just({1: "a key that is not text"}),
            st.integers(300, 3000).map(deep),  # past orjson's and Python's recursion limits
        ]
    return st.one_of(values)


def _deep_tool_text(depth: int) -> str:
    """A tool given as JSON text whose schema nests ``depth`` levels: too deep for a schema, or for orjson."""
    nested = "[" * depth + "]" * depth
    return '{"name": "get_weather", "parameters": {"type": "dict", "properties": {"x": ' + nested + "}}}"


def _breaks(medium: str) -> list[st.SearchStrategy[tuple[str, Any, frozenset[str]]]]:
    """(where, the value put there, the reasons that fit) for each field of the schema, at every depth."""

    def at(where: str, values: st.SearchStrategy[Any], *reasons: str) -> st.SearchStrategy[Any]:
        return st.tuples(st.just(where), values, st.just(frozenset(reasons)))

    text_not = st.text(max_size=8).filter
    reward = [st.booleans(), st.text(max_size=5), _lists(medium), _objects(medium)]
    if medium != "json":
        reward += [st.sampled_from([math.nan, math.inf, -math.inf]), st.binary(max_size=4)]
    # A Parquet row is always a struct: only JSONL and Python sources can hand over a row that is no object.
    breaks = (
        [] if medium == "parquet" else [at("", st.one_of(not_text(medium), st.text(max_size=5)), "schema")]
    )
    breaks += [
        at(
            "tools",
            st.one_of(not_text(medium, none=False).filter(lambda v: not isinstance(v, list)), NOT_JSON_TEXT),
            "bad_tools",
        ),
        at(
            "tools[0]",
            st.one_of(
                *_scalar_types(medium),
                _lists(medium),
                _objects(medium),  # no name
                NOT_JSON_TEXT,
                st.sampled_from(["[]", "1", "null", '"get_weather"']),  # JSON, but not an object
                st.sampled_from([100, 300, 2000]).map(_deep_tool_text),
            ),
            "bad_tools",
        ),
        at("tools[0].name", st.one_of(not_text(medium), st.just("")), "bad_tools"),
        at("tools[0].description", not_text(medium, none=False), "bad_tools"),
        at(
            "tools[0].parameters",  # any object is a schema: only a non-object is wrong
            st.one_of(*_scalar_types(medium)[1:], _lists(medium), st.text(max_size=5)),
            "bad_tools",
        ),
        at("tools[0].parameters.properties.city.default", _not_json(medium), "bad_tools"),
        at("messages", st.one_of(not_text(medium), st.text(max_size=5)), "schema"),
        at("messages[0]", st.one_of(*_scalar_types(medium), st.text(max_size=5), _lists(medium)), "schema"),
        at(
            "messages[0].role",
            st.one_of(not_text(medium), text_not(lambda role: role != "user")),
            "bad_role",
            "alternation",
        ),
        at("messages[0].content", _content(medium), "alternation", *RESPONSE_REASONS),
        at("chosen_reward", st.one_of(reward), "bad_reward"),
        at("rejected_reward", st.one_of(reward), "bad_reward"),
        at("chosen_response.content", st.sampled_from(TOOLCALLS), "bad_toolcall"),
    ]
    for response in ("chosen_response", "rejected_response"):
        breaks += [
            at(
                response,
                st.one_of(*_scalar_types(medium), _lists(medium), _objects(medium)),
                *RESPONSE_REASONS,
            ),
            at(
                f"{response}.role",
                st.one_of(not_text(medium, none=False), text_not(lambda role: role != "assistant")),
                "bad_role",
            ),
            at(f"{response}.content", _content(medium), *RESPONSE_REASONS),
        ]
    missing = ("messages", "chosen_response", "rejected_response", "messages[0].role", "messages[0].content")
    breaks += [
        at(where, st.just(MISSING), "schema", "bad_role", "bad_tools")
        for where in (*missing, "chosen_response.content", "tools[0].name")
    ]
    return breaks


def _at(row: dict[str, Any], where: str, value: Any) -> Any:
    """A copy of ``row`` with the field at ``where`` (``a[0].b``; empty: the row itself) set or removed."""
    if not where:
        return value
    row = copy.deepcopy(row)  # before the value goes in: a value nested 3,000 levels deep is not copied
    *parents, last = where.replace("[", ".").replace("]", "").split(".")
    target: Any = row
    for key in parents:
        target = target[int(key)] if key.isdigit() else target[key]
    key: Any = int(last) if last.isdigit() else last
    if value is MISSING:
        del target[key]
    else:
        target[key] = value
    return row


def _broken(base: dict[str, Any], change: tuple[str, Any, frozenset[str]]) -> Broken:
    where, value, reasons = change
    return Broken(_at(base, where, value), where or "row", reasons)


@functools.cache  # built once: Hypothesis validates a strategy when it is built, and these are large
def broken_rows(medium: str) -> st.SearchStrategy[Broken]:
    """A When2Call row with one field of a wrong type, or missing, at any depth, for ``medium``."""
    bases = st.builds(
        when2call_row,
        st.text(alphabet="abcdefgh", min_size=1, max_size=8),
        category=st.sampled_from(["tool_call", "request_for_info", "cannot_answer"]),
        tools_as_json=st.just(False),
    )
    return st.builds(_broken, bases, st.one_of(_breaks(medium)))


@st.composite
def extra_keys(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    """A valid row, and the same row with keys the schema does not name at every depth."""
    base = when2call_row(draw(st.text(alphabet="abcdefgh", min_size=1, max_size=8)), tools_as_json=False)
    values = st.recursive(
        st.one_of(*JSON_SCALARS, st.text(max_size=8)),
        lambda children: st.one_of(
            st.lists(children, max_size=3), st.dictionaries(ODD_KEYS, children, max_size=3)
        ),
        max_leaves=8,
    )
    extended = copy.deepcopy(base)
    for target in (
        extended,
        extended["messages"][0],
        extended["chosen_response"],
        extended["rejected_response"],
        extended["tools"][0],
    ):
        target.update(draw(st.dictionaries(ODD_KEYS.map(lambda key: "extra_" + key), values, max_size=2)))
    return base, extended
