"""Tool-call text in the two forms the project meets.

* When2Call serializes calls as ``<TOOLCALL>[{"name": ..., "arguments": {...}}]</TOOLCALL>``.
* The Nova system prompt (the AWS sample's) asks the model for one JSON object per call,
  ``{"name": ..., "parameters": {...}}``; we write one object per line.

Both the data stage (which rewrites the first into the second) and the evaluation (which parses what a
model generated) use this module, so the format has one definition.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

TOOLCALL_OPEN = "<TOOLCALL>"
TOOLCALL_CLOSE = "</TOOLCALL>"
_TOOLCALL_RE = re.compile(r"<TOOLCALL>(.*?)</TOOLCALL>", re.DOTALL)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


# Python's decoder accepts NaN and Infinity, which no JSON writer (nor Bedrock) accepts back.
_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)


def _loads(text: str, what: str) -> Any:
    """``text`` as strict JSON.

    :raises ValueError: for text that is not JSON, holds NaN or Infinity, or nests deeper than the parser
        recurses (a RecursionError otherwise).
    """
    try:
        return _DECODER.decode(text)
    except RecursionError as err:
        raise ValueError(f"{what} nests too deep to parse") from err
    except ValueError as err:
        raise ValueError(f"{what} is not valid JSON: {err}") from err


ToolCall = dict[str, Any]


def parse_when2call_toolcalls(text: str) -> list[ToolCall] | None:
    """The calls in a When2Call answer, as ``{"name", "arguments"}`` dicts, or None if it holds no call.

    :raises ValueError: when the ``<TOOLCALL>`` block is present but is not a JSON list of calls.
    """
    match = _TOOLCALL_RE.search(text)
    if match is None:
        return None
    calls = _loads(match.group(1), "<TOOLCALL> block")
    if isinstance(calls, dict):
        calls = [calls]
    if not isinstance(calls, list) or not calls:
        raise ValueError("<TOOLCALL> block must hold a non-empty JSON list of calls")
    for call in calls:
        call["arguments"] = call_arguments(call)
        call.pop("parameters", None)
    return calls


def call_arguments(call: Any, label: str = "tool call") -> dict[str, Any]:
    """The arguments of ``call`` (under ``arguments``, or Nova's ``parameters``; JSON text decoded).

    :param label: what ``call`` is, for the error message.
    :raises ValueError: when ``call`` has no string ``name``, or its arguments are not an object.
    """
    if not isinstance(call, Mapping) or not isinstance(call.get("name"), str):
        raise ValueError(f"{label} without a string 'name': {call!r}")
    arguments = call.get("arguments", call.get("parameters", {}))
    if isinstance(arguments, str):
        arguments = _loads(arguments, f"the arguments of {label} {call['name']!r}")
    if not isinstance(arguments, Mapping):
        raise ValueError(f"{label} {call['name']!r} has arguments that are not an object")
    return dict(arguments)


def format_when2call_toolcalls(calls: list[ToolCall]) -> str:
    """The When2Call serialization of ``calls`` (each ``{"name", "arguments"}``)."""
    payload = [{"name": c["name"], "arguments": c["arguments"]} for c in calls]
    return f"{TOOLCALL_OPEN}{json.dumps(payload)}{TOOLCALL_CLOSE}"


def format_nova_toolcalls(calls: list[ToolCall]) -> str:
    """The answer the Nova system prompt asks for: one ``{"name", "parameters"}`` object per line."""
    return "\n".join(json.dumps({"name": c["name"], "parameters": c["arguments"]}) for c in calls)


def parse_nova_toolcalls(text: str) -> list[ToolCall]:
    """Every ``{"name": ..., "parameters": ...}`` object found in generated text, in order.

    Lenient on purpose (models add prose or code fences around calls): it scans for JSON objects and keeps
    those with a string ``name``. Returns ``[]`` when the text makes no call. An object that is not strict
    JSON (NaN, Infinity) or nests deeper than the parser recurses is no call: a model's babble never stops
    the evaluation.
    """
    calls: list[ToolCall] = []
    index = text.find("{")
    while index != -1:
        try:
            obj, end = _DECODER.raw_decode(text, index)
        except (ValueError, RecursionError):
            index = text.find("{", index + 1)
            continue
        if isinstance(obj, dict) and isinstance(obj.get("name"), str):
            arguments = obj.get("parameters", obj.get("arguments", {}))
            calls.append({"name": obj["name"], "arguments": arguments if isinstance(arguments, dict) else {}})
        index = text.find("{", end)
    return calls
