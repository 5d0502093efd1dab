"""The hand-made out-of-distribution gen_qa set (``tests/data/ood/``).

It must read as the pipeline's own gen_qa rows, keep its three behaviours balanced, hold answers that are
right for the tools each row offers, and share no tool and no question with the synthetic training data.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from nova_dpo.data.nova_format import SYSTEM_PROMPT_HEAD, SYSTEM_PROMPT_TAIL
from nova_dpo.data.prepare import GEN_QA_MAX_CONTEXT_TOKENS
from nova_dpo.data.synthesize import FILE_NAME, TOOLS, write_synthetic
from nova_dpo.data.validation import RESERVED_STRINGS, estimate_tokens
from nova_dpo.data.when2call import CANNOT_ANSWER, CATEGORIES, REQUEST_FOR_INFO, TOOL_CALL
from nova_dpo.evaluation.tool_metrics import expectation_from
from nova_dpo.platforms.local.generation import read_gen_qa
from nova_dpo.toolcalls import parse_nova_toolcalls
from tests.data.ood import build

OOD_FILE = build.OUTPUT
ROW_KEYS = {"system", "query", "response", "metadata"}
METADATA_KEYS = {
    "prompt_id",
    "category",
    "expected_tool_calls",
    "domain",
    "n_tools",
    "target_tool",
    "missing",
}
SYNTHETIC_SEEDS = (0, 1, 2, 3)
SYNTHETIC_ROWS = 1500

SOURCE = build.load_source()
PROMPTS = {prompt["id"]: prompt for prompt in SOURCE["prompts"]}
ROWS = [json.loads(line) for line in OOD_FILE.read_text(encoding="utf-8").splitlines()]


def _metadata(row: dict[str, Any]) -> dict[str, Any]:
    return json.loads(row["metadata"])


def _rows(category: str) -> list[dict[str, Any]]:
    return [row for row in ROWS if _metadata(row)["category"] == category]


def _row_id(row: dict[str, Any]) -> str:
    return _metadata(row)["prompt_id"]


def _offered(row: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The tools the row's system prompt offers, by name, as the model reads them (Bedrock toolSpecs)."""
    system = row["system"]
    assert system.startswith(SYSTEM_PROMPT_HEAD)
    assert system.endswith(SYSTEM_PROMPT_TAIL)
    listed = json.loads(system[len(SYSTEM_PROMPT_HEAD) : -len(SYSTEM_PROMPT_TAIL)])
    specs = [tool["toolSpec"] for tool in listed["tools"]]
    return {spec["name"]: spec["inputSchema"]["json"] for spec in specs}


def _closed(schema: Any) -> Any:
    """``schema`` with every object that lists its properties closed to others, so a misspelt argument fails."""
    if isinstance(schema, list):
        return [_closed(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    closed = {key: _closed(value) for key, value in schema.items()}
    if "properties" in closed and "additionalProperties" not in closed:
        closed["additionalProperties"] = False
    return closed


def _leaves(value: Any, schema: dict[str, Any], path: str = "") -> list[tuple[str, Any, dict[str, Any]]]:
    """Every scalar argument as ``(path, value, its schema)``, paths written ``a.b.0.c``."""
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        return [
            leaf
            for key, item in value.items()
            for leaf in _leaves(item, properties.get(key, {}), f"{path}{key}.")
        ]
    if isinstance(value, list):
        items = schema.get("items", {})
        return [leaf for index, item in enumerate(value) for leaf in _leaves(item, items, f"{path}{index}.")]
    return [(path.rstrip("."), value, schema)]


def _stated(value: Any, query: str) -> bool:
    """Whether the query states ``value`` as the call writes it (numbers read without thousands commas)."""
    if isinstance(value, str):
        return value.casefold() in query.casefold()
    return str(value) in query.replace(",", "")


# ---- the file ------------------------------------------------------------------------------------------


def test_the_file_is_the_rendering_of_its_source():
    assert OOD_FILE.read_bytes() == build.render(build.load_source()), (
        "gen_qa.jsonl is stale: run .venv/bin/python tests/data/ood/build.py and commit both files"
    )


def test_the_local_evaluation_reads_every_row():
    assert len(read_gen_qa(OOD_FILE)) == len(ROWS) == len(PROMPTS)


@pytest.mark.parametrize("row", ROWS, ids=_row_id)
def test_every_row_has_the_gen_qa_shape(row):
    assert set(row) == ROW_KEYS
    assert all(isinstance(row[key], str) and row[key].strip() for key in ROW_KEYS)
    metadata = _metadata(row)
    assert set(metadata) == METADATA_KEYS
    assert row["metadata"] == json.dumps(metadata, sort_keys=True)
    assert metadata["category"] in CATEGORIES
    assert metadata["n_tools"] == len(_offered(row))
    assert isinstance(metadata["domain"], str)
    assert metadata["domain"]


@pytest.mark.parametrize("row", ROWS, ids=_row_id)
def test_every_row_fits_nova_gen_qa(row):
    for key in ("system", "query", "response"):
        reserved = [word for word in RESERVED_STRINGS if word in row[key]]
        assert not reserved, f"{key} holds {reserved}, which fail a Nova job"
    assert estimate_tokens(len(row["system"]) + len(row["query"])) <= GEN_QA_MAX_CONTEXT_TOKENS


# ---- balance and variety -------------------------------------------------------------------------------


def test_the_three_behaviours_are_a_third_each():
    counts = Counter(_metadata(row)["category"] for row in ROWS)
    assert set(counts) == set(CATEGORIES)
    assert min(counts.values()) >= 22
    assert max(counts.values()) - min(counts.values()) <= 1
    assert sum(counts.values()) >= 66


def test_prompt_ids_are_unique_and_name_their_behaviour():
    ids = [_row_id(row) for row in ROWS]
    assert len(set(ids)) == len(ids)
    for row in ROWS:
        metadata = _metadata(row)
        assert re.fullmatch(r"ood-(call|ask|decline)-\d{3}", metadata["prompt_id"])
        assert metadata["prompt_id"].startswith(build.ID_PREFIXES[metadata["category"]])


def test_queries_are_unique():
    queries = [row["query"].casefold() for row in ROWS]
    assert len(set(queries)) == len(queries)


def test_tool_lists_run_from_none_to_about_twenty():
    lengths = Counter(_metadata(row)["n_tools"] for row in ROWS)
    assert lengths[0] >= 3
    assert lengths[1] >= 3
    assert max(lengths) >= 18
    for low, high in ((2, 4), (5, 9), (10, 14), (15, 20)):
        assert sum(count for length, count in lengths.items() if low <= length <= high) >= 3, (low, high)
    for category in (TOOL_CALL, REQUEST_FOR_INFO):
        assert max(_metadata(row)["n_tools"] for row in _rows(category)) >= 15, category


def test_the_set_spans_many_domains():
    assert len({_metadata(row)["domain"] for row in ROWS}) >= 15


def test_every_defined_tool_is_offered_somewhere():
    offered = {name for row in ROWS for name in _offered(row)}
    assert offered == set(build.tool_library(SOURCE))


@pytest.mark.parametrize("row", ROWS, ids=_row_id)
def test_tool_schemas_are_valid_json_schema(row):
    for schema in _offered(row).values():
        Draft202012Validator.check_schema(schema)
        assert schema["type"] == "object"
        assert set(schema.get("required", [])) <= set(schema["properties"])


# ---- the expected answers ------------------------------------------------------------------------------


@pytest.mark.parametrize("row", ROWS, ids=_row_id)
def test_the_reference_answer_shows_the_row_s_behaviour(row):
    metadata = _metadata(row)
    made = parse_nova_toolcalls(row["response"])
    if metadata["category"] == TOOL_CALL:
        assert made == metadata["expected_tool_calls"]
        assert len(made) == 1
        assert metadata["target_tool"] == made[0]["name"]
        assert metadata["missing"] == []
        return
    assert metadata["expected_tool_calls"] is None
    assert made == []
    if metadata["category"] == REQUEST_FOR_INFO:
        assert row["response"].rstrip().endswith("?")
        assert metadata["missing"]
    else:
        assert not row["response"].rstrip().endswith("?")
        assert metadata["target_tool"] is None
        assert metadata["missing"] == []


@pytest.mark.parametrize("row", ROWS, ids=_row_id)
def test_the_evaluation_reads_the_expectation_of_every_row(row):
    metadata = _metadata(row)
    expectation = expectation_from(row["response"], metadata)
    assert expectation.category == metadata["category"]
    assert expectation.tool_calls == (metadata["expected_tool_calls"] or [])


@pytest.mark.parametrize("row", _rows(TOOL_CALL), ids=_row_id)
def test_expected_call_satisfies_the_offered_tool_s_schema(row):
    (call,) = _metadata(row)["expected_tool_calls"]
    offered = _offered(row)
    assert call["name"] in offered, f"{call['name']} is not offered in this row's system prompt"
    schema = offered[call["name"]]
    assert set(schema.get("required", [])) <= set(call["arguments"])
    errors = [error.message for error in Draft202012Validator(_closed(schema)).iter_errors(call["arguments"])]
    assert not errors


@pytest.mark.parametrize("row", _rows(TOOL_CALL), ids=_row_id)
def test_expected_call_arguments_are_stated_in_the_query(row):
    """Every argument value is in the query, but for enum members (a choice the model names) and the values
    the source marks ``inferred`` (stated in another form: a date in words); those must really differ."""
    (call,) = _metadata(row)["expected_tool_calls"]
    inferred = set(PROMPTS[_row_id(row)].get("inferred", []))
    leaves = _leaves(call["arguments"], _offered(row)[call["name"]])
    assert inferred <= {path for path, _, _ in leaves}, "an inferred path names no argument"
    for path, value, schema in leaves:
        if isinstance(value, bool) or value in schema.get("enum", ()):
            continue
        if path in inferred:
            assert not _stated(value, row["query"]), f"{path}={value!r} is in the query: it is not inferred"
        else:
            assert _stated(value, row["query"]), f"{path}={value!r} is not stated in the query"


@pytest.mark.parametrize("row", _rows(REQUEST_FOR_INFO), ids=_row_id)
def test_request_for_info_names_a_required_argument_of_an_offered_tool(row):
    metadata = _metadata(row)
    offered = _offered(row)
    assert metadata["target_tool"] in offered
    for path in metadata["missing"]:
        schema = offered[metadata["target_tool"]]
        for name in path.split("."):
            assert name in schema.get("required", []), f"{path} is not a required argument"
            schema = schema["properties"][name]


@pytest.mark.parametrize("row", _rows(CANNOT_ANSWER), ids=_row_id)
def test_cannot_answer_says_why(row):
    response = row["response"]
    assert len(response.split()) >= 10, "a refusal says why, not only no"
    assert response[-1] in ".!", response


# ---- apart from the synthetic training data ------------------------------------------------------------


def test_no_tool_shares_a_name_with_the_synthetic_catalogue():
    catalogue = {tool.name for tool in TOOLS}
    assert len(catalogue) >= 40, "the synthetic catalogue did not load"
    assert not set(build.tool_library(SOURCE)) & catalogue


@pytest.fixture(scope="module")
def synthetic_queries(tmp_path_factory) -> set[str]:
    folder = tmp_path_factory.mktemp("synthetic")
    queries = set()
    for seed in SYNTHETIC_SEEDS:
        (path,) = write_synthetic(folder / str(seed), SYNTHETIC_ROWS, seed)
        assert path.name == FILE_NAME
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            queries.update(message["content"].casefold() for message in json.loads(line)["messages"])
    return queries


def test_no_query_appears_in_synthetic_data(synthetic_queries):
    assert len(synthetic_queries) > SYNTHETIC_ROWS
    assert not [row["query"] for row in ROWS if row["query"].casefold() in synthetic_queries]
