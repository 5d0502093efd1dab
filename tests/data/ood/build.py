"""Render the hand-written out-of-distribution gen_qa set: ``prompts.yaml`` → ``gen_qa.jsonl``.

Each prompt becomes a When2Call preference row (its tools, its query, the expected answer as the chosen one)
and goes through the project's own :func:`~nova_dpo.data.nova_format.system_prompt` and
:func:`~nova_dpo.data.nova_format.gen_qa_record`, so the rows have the shape, system prompt and call format of
the pipeline's own gen_qa rows. ``metadata`` adds what the set is read by: ``domain``, ``n_tools``,
``target_tool`` (the tool that fits, null when none does) and ``missing`` (the required argument paths a
``request_for_info`` query leaves out). Run from the repository root::

    .venv/bin/python tests/data/ood/build.py
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import yaml

from nova_dpo.data.nova_format import gen_qa_record, system_prompt
from nova_dpo.data.when2call import CANNOT_ANSWER, REQUEST_FOR_INFO, TOOL_CALL, PreferenceRow
from nova_dpo.toolcalls import format_when2call_toolcalls

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "prompts.yaml"
OUTPUT = HERE / "gen_qa.jsonl"

ID_PREFIXES = {TOOL_CALL: "ood-call-", REQUEST_FOR_INFO: "ood-ask-", CANNOT_ANSWER: "ood-decline-"}
COMMON_KEYS = frozenset({"id", "category", "domain", "tools", "query"})
# Per category: the keys a prompt must have beyond the common ones, and those it may have. Any other key is
# a typo in the source, which would otherwise be dropped without a word.
CATEGORY_KEYS = {
    TOOL_CALL: (frozenset({"call"}), frozenset({"inferred"})),
    REQUEST_FOR_INFO: (frozenset({"tool", "missing", "response"}), frozenset()),
    CANNOT_ANSWER: (frozenset({"response"}), frozenset()),
}


def load_source(path: Path = SOURCE) -> dict[str, Any]:
    """The authored set: ``tools`` (definitions) and ``prompts``."""
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def tool_library(source: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The tool definitions by name.

    :raises ValueError: when a name is defined twice (the second would silently replace the first).
    """
    library: dict[str, dict[str, Any]] = {}
    for tool in source["tools"]:
        if tool["name"] in library:
            raise ValueError(f"tool {tool['name']!r} is defined twice in {SOURCE.name}: rename one")
        library[tool["name"]] = tool
    return library


def _check_prompt(prompt: dict[str, Any], library: dict[str, dict[str, Any]]) -> None:
    pid, category = prompt.get("id"), prompt.get("category")
    if category not in ID_PREFIXES:
        raise ValueError(f"{pid}: category must be one of {sorted(ID_PREFIXES)}, got {category!r}")
    if not str(pid).startswith(ID_PREFIXES[category]):
        raise ValueError(f"{pid}: a {category} prompt's id starts with {ID_PREFIXES[category]!r}")
    required, optional = CATEGORY_KEYS[category]
    keys = set(prompt)
    if not COMMON_KEYS | required <= keys or not keys <= COMMON_KEYS | required | optional:
        expected = sorted(COMMON_KEYS | required)
        raise ValueError(f"{pid}: a {category} prompt has the keys {expected} (optional: {sorted(optional)})")
    unknown = [name for name in prompt["tools"] if name not in library]
    if unknown:
        raise ValueError(f"{pid}: offers tools that {SOURCE.name} does not define: {unknown}")


def gen_qa_row(prompt: dict[str, Any], library: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The gen_qa row of one authored prompt."""
    _check_prompt(prompt, library)
    category = prompt["category"]
    tools = tuple(library[name] for name in prompt["tools"])
    if category == TOOL_CALL:
        chosen, target = format_when2call_toolcalls([prompt["call"]]), prompt["call"]["name"]
    else:
        chosen, target = prompt["response"], prompt.get("tool")
    pair = PreferenceRow(tools=tools, messages=(("user", prompt["query"]),), chosen=chosen, rejected="")
    record = gen_qa_record(pair, system_prompt(tools), prompt["id"])
    metadata = json.loads(record["metadata"])
    if metadata["category"] != category:
        raise ValueError(f"{prompt['id']}: its answer reads as {metadata['category']}, not {category}")
    metadata.update(
        domain=prompt["domain"], n_tools=len(tools), target_tool=target, missing=prompt.get("missing", [])
    )
    record["metadata"] = json.dumps(metadata, sort_keys=True)
    return record


def render(source: dict[str, Any]) -> bytes:
    """The bytes of ``gen_qa.jsonl``: one compact JSON object a line, as the data stage writes its rows."""
    library = tool_library(source)
    rows = [gen_qa_row(prompt, library) for prompt in source["prompts"]]
    return b"".join(orjson.dumps(row) + b"\n" for row in rows)


def main() -> None:
    OUTPUT.write_bytes(render(load_source()))
    print(f"wrote {OUTPUT}")


if __name__ == "__main__":
    main()
