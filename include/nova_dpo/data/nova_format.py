"""When2Call rows → Amazon Nova ``bedrock-conversation-2024`` DPO records and ``gen_qa`` evaluation rows.

The system prompt and the tool-call rewriting follow AWS's Nova DPO sample: tools are listed as ``toolSpec``
JSON inside ``<tools></tools>``, and the model is asked for ``{"name", "parameters"}`` objects, so a
When2Call ``<TOOLCALL>[...]</TOOLCALL>`` answer is rewritten into that shape.
"""

from __future__ import annotations

import json
import math
import re
from functools import lru_cache
from typing import Any

import orjson

from nova_dpo.data.when2call import PreferenceRow, RowError, infer_category
from nova_dpo.toolcalls import TOOLCALL_OPEN, format_nova_toolcalls, parse_when2call_toolcalls

SCHEMA_VERSION = "bedrock-conversation-2024"
SYSTEM_PROMPT_HEAD = (
    "You may call one or more functions to assist with the user query.\n\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n"
)
SYSTEM_PROMPT_TAIL = (
    "\n</tools>\n\nFor each function call, return a json object with function name and parameters:\n"
    '{"name": function name, "parameters": dictionary of argument name and its value}'
)


_TOOLS_BLOCK = re.compile(r"<tools>(.*?)</tools>", re.DOTALL)

# Tool schemas and tool-call arguments nest a few levels (BFCL's deepest are under 10); deeper is broken data,
# and refusing it keeps the recursive rewriting and json.dumps far from Python's recursion limit.
MAX_JSON_DEPTH = 64


def _nesting(value: Any) -> int:
    """How many levels of lists and objects ``value`` nests (iteratively: it must not recurse itself)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = item.values()
        elif not isinstance(item, list):
            continue
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in item)
    return deepest


def _json_schema(schema: Any) -> Any:
    """When2Call (from BFCL) writes ``"type": "dict"``; JSON Schema, which Bedrock's toolSpec takes, says object."""
    if isinstance(schema, dict):
        return {
            key: ("object" if key == "type" and value == "dict" else _json_schema(value))
            for key, value in schema.items()
        }
    if isinstance(schema, list):
        return [_json_schema(item) for item in schema]
    return schema


def tool_spec(tool: dict[str, Any]) -> dict[str, Any]:
    """A When2Call tool definition as a Bedrock ``toolSpec``."""
    name = tool.get("name")
    if not isinstance(name, str) or not name:
        keys = ", ".join(sorted(map(str, tool)))
        raise RowError("bad_tools", f"tool definition without a string name (its keys: {keys:.120})")
    description = tool.get("description")
    if description is not None and not isinstance(description, str):
        raise RowError("bad_tools", f"tool {name!r:.80}: description must be a string")
    parameters = tool.get("parameters")
    if parameters is None or parameters == {}:
        parameters = {"type": "object", "properties": {}}
    if not isinstance(parameters, dict):
        raise RowError("bad_tools", f"tool {name!r:.80}: parameters must be a JSON-schema object")
    if _nesting(parameters) > MAX_JSON_DEPTH:
        raise RowError("bad_tools", f"tool {name!r:.80}: parameters nest deeper than {MAX_JSON_DEPTH} levels")
    return {
        "toolSpec": {
            "name": name,
            "description": description or "",
            "inputSchema": {"json": _json_schema(parameters)},
        }
    }


@lru_cache(maxsize=65536)
def _tool_spec_json(tool: str) -> str:
    # Rows share a small catalogue of tools: each distinct definition is parsed and rendered once.
    try:
        parsed = orjson.loads(tool)
    except orjson.JSONDecodeError as err:
        raise RowError("bad_tools", f"tool definition is not valid JSON: {err}") from err
    if not isinstance(parsed, dict):
        raise RowError("bad_tools", "a tool definition must be a JSON object")
    return json.dumps(tool_spec(parsed))


def _non_finite(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return True
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _tool_json(tool: dict[str, Any]) -> str:
    """The compact JSON of a tool definition that came as an object (a Parquet struct, a Hub row)."""
    try:
        text = orjson.dumps(tool)
    except TypeError as err:  # bytes (a Parquet binary field), a non-text key, nesting past 254 levels, ...
        raise RowError("bad_tools", f"a tool definition holds a value that is not JSON data: {err}") from err
    # orjson writes NaN and Infinity as null, silently: look for them only when a null was written.
    if b"null" in text and _non_finite(tool):
        raise RowError("bad_tools", "a tool definition holds NaN or Infinity, which JSON cannot carry")
    return text.decode()


def system_prompt(tools: tuple[str | dict[str, Any], ...]) -> str:
    """The Nova system prompt that offers ``tools`` (the AWS sample's wording)."""
    # Dict tools are keyed by their compact JSON, so they hit the same cache as string tools.
    specs = [_tool_spec_json(t if isinstance(t, str) else _tool_json(t)) for t in tools]
    # Equal to json.dumps({"tools": [...]}) without re-serializing the cached specs.
    return SYSTEM_PROMPT_HEAD + '{"tools": [' + ", ".join(specs) + "]}" + SYSTEM_PROMPT_TAIL


def listed_tools(system: str) -> set[str] | None:
    """The names of the tools a system prompt lists in its ``<tools>`` blocks (as :func:`system_prompt` writes
    them: ``{"tools": [{"toolSpec": {"name": ...}}, ...]}``, or a bare list of tools).

    :returns: the names, empty when the listing is empty; None when no block holds a JSON listing, so a caller
        can tell "no tool offered" from "cannot tell what was offered".
    """
    names: set[str] | None = None
    for listing in _TOOLS_BLOCK.findall(system):
        try:
            tools = json.loads(listing)
        except json.JSONDecodeError:
            continue
        if isinstance(tools, dict):
            tools = tools.get("tools")
        if not isinstance(tools, list):
            continue
        names = set() if names is None else names
        for tool in tools:
            spec = tool.get("toolSpec", tool) if isinstance(tool, dict) else {}
            if isinstance(spec, dict) and isinstance(spec.get("name"), str):
                names.add(spec["name"])
    return names


def nova_answer(text: str) -> str:
    """An assistant answer in the shape the Nova system prompt asks for."""
    if TOOLCALL_OPEN not in text:
        return text.strip()
    answer = format_nova_toolcalls(expected_tool_calls(text) or [])
    # Python's json reads and writes NaN and Infinity, which are not JSON: the model must not learn them.
    if "NaN" in answer or "Infinity" in answer:
        try:
            for line in answer.splitlines():
                orjson.loads(line)
        except orjson.JSONDecodeError as err:
            raise RowError(
                "bad_toolcall", f"a tool call argument is NaN or Infinity, not JSON: {err}"
            ) from err
    return answer


def expected_tool_calls(text: str) -> list[dict[str, Any]] | None:
    """The calls a When2Call answer makes, or None when it makes none."""
    try:
        calls = parse_when2call_toolcalls(text)
    except RecursionError as err:  # the stdlib parser recurses once a nesting level
        raise RowError("bad_toolcall", f"<TOOLCALL> block nests deeper than {MAX_JSON_DEPTH} levels") from err
    except ValueError as err:
        raise RowError("bad_toolcall", str(err)) from err
    # A level needs an opening bracket: text with few of them cannot nest deep, and is not walked.
    brackets = text.count("[") + text.count("{")
    if calls is not None and brackets > MAX_JSON_DEPTH and _nesting(calls) > MAX_JSON_DEPTH:
        raise RowError("bad_toolcall", f"<TOOLCALL> block nests deeper than {MAX_JSON_DEPTH} levels")
    return calls


def _text(text: str) -> list[dict[str, str]]:
    return [{"text": text}]


def dpo_record(row: PreferenceRow, system: str) -> dict[str, Any]:
    """The Nova DPO training record: prior turns, then a final assistant turn with two candidates."""
    messages: list[dict[str, Any]] = [{"role": role, "content": _text(text)} for role, text in row.messages]
    messages.append(
        {
            "role": "assistant",
            "candidates": [
                {"content": _text(nova_answer(row.chosen)), "preferenceLabel": "preferred"},
                {"content": _text(nova_answer(row.rejected)), "preferenceLabel": "non-preferred"},
            ],
        }
    )
    return {"schemaVersion": SCHEMA_VERSION, "system": _text(system), "messages": messages}


def gen_qa_query(row: PreferenceRow) -> str:
    """The ``query`` of a gen_qa row: the user turn, or a multi-turn conversation in the sample's markup."""
    if len(row.messages) == 1:
        return row.messages[0][1]
    names = {"user": "##User: ", "assistant": "##Assistant: "}
    return "\n".join(names[role] + text for role, text in row.messages)


def gen_qa_record(row: PreferenceRow, system: str, prompt_id: str) -> dict[str, Any]:
    """A Nova ``gen_qa`` evaluation row; ``metadata`` (a JSON string, as Nova requires) says what was due."""
    metadata = {
        "prompt_id": prompt_id,
        "category": infer_category(row.chosen),
        "expected_tool_calls": expected_tool_calls(row.chosen),
    }
    return {
        "system": system,
        "query": gen_qa_query(row),
        "response": nova_answer(row.chosen),
        "metadata": json.dumps(metadata, sort_keys=True),
    }
