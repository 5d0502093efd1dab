"""The synthetic When2Call generator: schema, behaviours, answer rules, determinism and snapshot files."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import Counter

import pytest

from nova_dpo.data import synthesize
from nova_dpo.data.synthesize import (
    BEHAVIOURS,
    DIRECT,
    FILE_NAME,
    TOOLS,
    SyntheticExample,
    catalogue,
    synthesize_examples,
    synthesize_rows,
    write_synthetic,
)
from nova_dpo.data.when2call import (
    CANNOT_ANSWER,
    CATEGORIES,
    REQUEST_FOR_INFO,
    TOOL_CALL,
    infer_category,
    normalize_row,
)
from nova_dpo.toolcalls import TOOLCALL_OPEN, parse_when2call_toolcalls

ROWS = 4000
RESERVED = ("User:", "Bot:", "Assistant:", "System:", "Thought:", "<image>", "<video>", "[EOS]", "<unk>")
SCHEMA_TYPES = {"string", "integer", "number", "boolean"}
TOOLS_BY_NAME = {tool.name: tool for tool in TOOLS}


@pytest.fixture(scope="module")
def examples() -> list[SyntheticExample]:
    return list(synthesize_examples(ROWS, seed=11))


def _of(examples: list[SyntheticExample], category: str) -> list[SyntheticExample]:
    return [example for example in examples if example.category == category]


def _offered(example: SyntheticExample) -> list[dict]:
    return [json.loads(tool) if isinstance(tool, str) else tool for tool in example.row["tools"]]


def _question(example: SyntheticExample) -> str:
    return example.row["messages"][0]["content"]


def _chosen(example: SyntheticExample) -> str:
    return example.row["chosen_response"]["content"]


def _rejected(example: SyntheticExample) -> str:
    return example.row["rejected_response"]["content"]


# ---- the catalogue -------------------------------------------------------------------------------------


def test_catalogue_has_at_least_40_distinct_tools_across_many_domains() -> None:
    assert len(TOOLS) >= 40
    assert len({tool.name for tool in TOOLS}) == len(TOOLS)
    assert len({tool.domain for tool in TOOLS}) >= 15


@pytest.mark.parametrize("tool", TOOLS, ids=lambda tool: tool.name)
def test_tool_definition_has_the_when2call_schema(tool: synthesize.ToolSpec) -> None:
    definition = json.loads(tool.definition_json)
    assert definition == tool.definition
    assert set(definition) == {"name", "description", "parameters"}
    assert definition["name"] == tool.name
    assert definition["description"]
    parameters = definition["parameters"]
    assert parameters["type"] == "dict"
    properties, required = parameters["properties"], parameters["required"]
    assert required, "every tool needs a required argument to leave out in request_for_info rows"
    assert set(required) <= set(properties)
    for name, schema in properties.items():
        assert schema["type"] in SCHEMA_TYPES, name
        assert schema["description"], name
        if "enum" in schema and "default" in schema:
            assert schema["default"] in schema["enum"], name
    assert len(tool.questions) >= 4


DOOR_ARGUMENT = {
    "kind": "required",
    "name": "door",
    "type": "string",
    "description": "Which door.",
    "sample": ["one_of", "DOORS"],
    "ask": "Which door?",
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"sample": ["one_of", "NO_SUCH_POOL"]}, "no value pool"),
        ({"sample": ["one_of"]}, "not a sampler"),
        ({"sample": ["no_such_sampler", 1]}, "not a sampler"),
        ({"kind": "no_such_kind"}, "needs a kind"),
    ],
)
def test_a_catalogue_argument_that_does_not_build_says_why(change: dict, message: str) -> None:
    assert catalogue._param(DOOR_ARGUMENT).name == "door"
    with pytest.raises(ValueError, match=message):
        catalogue._param(DOOR_ARGUMENT | change)


# ---- the behaviours ------------------------------------------------------------------------------------


def test_chosen_behaviours_are_about_half_tool_calls_and_a_quarter_each_of_the_others(
    examples: list[SyntheticExample],
) -> None:
    shares = {category: count / ROWS for category, count in Counter(e.category for e in examples).items()}
    assert shares[TOOL_CALL] == pytest.approx(0.5, abs=0.04)
    assert shares[REQUEST_FOR_INFO] == pytest.approx(0.25, abs=0.03)
    assert shares[CANNOT_ANSWER] == pytest.approx(0.25, abs=0.03)


def test_category_read_off_the_chosen_answer_is_the_one_generated(examples: list[SyntheticExample]) -> None:
    for example in examples:
        chosen = _chosen(example)
        assert infer_category(chosen) == example.category, chosen
        if example.category == REQUEST_FOR_INFO:
            assert chosen.rstrip().endswith("?")
        if example.category == CANNOT_ANSWER:
            assert TOOLCALL_OPEN not in chosen
            assert not chosen.rstrip().endswith("?")


def test_tool_call_copies_every_argument_from_the_question(examples: list[SyntheticExample]) -> None:
    for example in _of(examples, TOOL_CALL):
        [call] = parse_when2call_toolcalls(_chosen(example))
        tool = TOOLS_BY_NAME[call["name"]]
        assert call["name"] == example.tool
        assert call["arguments"] == example.arguments
        assert {param.name for param in tool.required} <= set(call["arguments"])
        question = _question(example)
        for value in call["arguments"].values():
            if not isinstance(value, bool):  # a flag is phrased ("fully remote"), not quoted
                assert str(value) in question, (value, question)


def test_tool_call_offers_the_tool_and_one_to_three_distractors_of_other_domains(
    examples: list[SyntheticExample],
) -> None:
    for example in _of(examples, TOOL_CALL) + _of(examples, REQUEST_FOR_INFO):
        names = [tool["name"] for tool in _offered(example)]
        assert names.count(example.tool) == 1
        assert 2 <= len(names) <= 4
        domain = TOOLS_BY_NAME[example.tool].domain
        assert all(TOOLS_BY_NAME[name].domain != domain for name in names if name != example.tool)
    positions = Counter(
        [tool["name"] for tool in _offered(example)].index(example.tool)
        for example in _of(examples, TOOL_CALL)
    )
    assert len(positions) == 4, "the target tool must not always sit in the same place"


def test_request_for_info_leaves_out_one_required_argument_and_asks_for_it(
    examples: list[SyntheticExample],
) -> None:
    left_out: dict[str, set[str]] = {}
    for example in _of(examples, REQUEST_FOR_INFO):
        tool = TOOLS_BY_NAME[example.tool]
        required = {param.name: param for param in tool.required}
        assert example.missing_argument in required
        assert example.missing_argument not in example.arguments
        assert set(required) - {example.missing_argument} <= set(example.arguments)
        assert _chosen(example).endswith(required[example.missing_argument].ask)
        assert example.tool in [offered["name"] for offered in _offered(example)]
        left_out.setdefault(example.tool, set()).add(example.missing_argument)
    # Which argument is missing varies: every required argument of every tool gets its turn.
    assert left_out == {tool.name: {param.name for param in tool.required} for tool in TOOLS}


def test_cannot_answer_offers_no_tool_for_the_intent(examples: list[SyntheticExample]) -> None:
    for example in _of(examples, CANNOT_ANSWER):
        domain = TOOLS_BY_NAME[example.tool].domain
        names = [tool["name"] for tool in _offered(example)]
        assert 1 <= len(names) <= 3
        assert example.tool not in names
        assert all(TOOLS_BY_NAME[name].domain != domain for name in names)
        assert TOOLS_BY_NAME[example.tool].action in _chosen(example)


def test_rejected_answer_comes_from_another_behaviour(examples: list[SyntheticExample]) -> None:
    pairs = Counter((example.category, example.rejected_category) for example in examples)
    for category in CATEGORIES:
        others = {behaviour for behaviour in BEHAVIOURS if behaviour != category}
        assert {rejected for chosen, rejected in pairs if chosen == category} == others
    for example in examples:
        assert _rejected(example) != _chosen(example)
        assert example.rejected_category != example.category
        # "direct" is a statement, so the category rule reads it as a refusal.
        expected = CANNOT_ANSWER if example.rejected_category == DIRECT else example.rejected_category
        assert infer_category(_rejected(example)) == expected, _rejected(example)


def test_wrong_calls_in_rejected_answers_are_well_formed(examples: list[SyntheticExample]) -> None:
    for example in examples:
        if example.rejected_category == TOOL_CALL:
            [call] = parse_when2call_toolcalls(_rejected(example))
            offered = {tool["name"]: tool for tool in _offered(example)}
            assert call["name"] in offered
            assert set(offered[call["name"]]["parameters"]["required"]) <= set(call["arguments"])


def test_no_text_holds_a_reserved_nova_string(examples: list[SyntheticExample]) -> None:
    for example in examples:
        for text in (
            _question(example),
            _chosen(example),
            _rejected(example),
            *map(str, example.row["tools"]),
        ):
            assert not any(reserved in text for reserved in RESERVED), text


def test_questions_are_tidy(examples: list[SyntheticExample]) -> None:
    for example in examples:
        question = _question(example)
        assert question == question.strip(), question
        assert "  " not in question, question


# ---- the row schema ------------------------------------------------------------------------------------


def test_rows_have_the_train_pref_schema(examples: list[SyntheticExample]) -> None:
    for example in examples:
        row = example.row
        assert list(row) == [
            "tools",
            "messages",
            "chosen_response",
            "rejected_response",
            "chosen_reward",
            "rejected_reward",
        ]
        assert row["messages"] == [{"role": "user", "content": _question(example)}]
        assert row["chosen_response"]["role"] == row["rejected_response"]["role"] == "assistant"
        assert (row["chosen_reward"], row["rejected_reward"]) == (1.0, 0.0)
        normalize_row(row)


def test_tools_come_as_json_strings_mostly_and_as_dicts_sometimes(examples: list[SyntheticExample]) -> None:
    kinds = Counter(type(example.row["tools"][0]) for example in examples)
    assert kinds[dict] / ROWS == pytest.approx(0.25, abs=0.04)
    assert kinds[dict] + kinds[str] == ROWS
    for example in examples:
        assert len({type(tool) for tool in example.row["tools"]}) == 1
        for tool in example.row["tools"]:
            as_dict = json.loads(tool) if isinstance(tool, str) else tool
            assert as_dict == TOOLS_BY_NAME[as_dict["name"]].definition


def test_a_row_can_be_edited_without_changing_the_catalogue() -> None:
    row = next(row for row in synthesize_rows(200, seed=3) if isinstance(row["tools"][0], dict))
    row["tools"][0]["parameters"]["properties"].clear()
    assert all(tool.definition["parameters"]["properties"] for tool in TOOLS)


# ---- determinism and files -----------------------------------------------------------------------------


def test_a_shorter_stream_is_a_prefix_of_a_longer_one() -> None:
    assert list(synthesize_rows(50, seed=5)) == list(synthesize_rows(120, seed=5))[:50]


def test_negative_rows_are_rejected(tmp_path) -> None:
    with pytest.raises(ValueError, match="rows"):
        list(synthesize_rows(-1, seed=0))
    with pytest.raises(ValueError, match="rows"):
        write_synthetic(tmp_path, -1, seed=0)


def test_write_synthetic_writes_one_json_row_per_line(tmp_path) -> None:
    [path] = write_synthetic(tmp_path, 300, seed=2)
    assert path == tmp_path / FILE_NAME
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines == [json.dumps(row) for row in synthesize_rows(300, seed=2)]
    assert sorted(p.name for p in tmp_path.iterdir()) == [FILE_NAME], "no temporary file is left behind"


def test_the_bytes_of_a_seed_are_pinned(tmp_path) -> None:
    # Pinned from the single-module generator before it was split into a package (commit d9c733d): a change
    # to the catalogue, the vocabulary, the templates or the draw order changes these bytes. Update the pin
    # only with a change that means to change the data, and say so in its message.
    [path] = write_synthetic(tmp_path, 2000, seed=7)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert digest == "f84410e4848659659a73e4e1e57b8c0329a0232befde722fb427ecc021893e58"


def test_same_seed_writes_identical_bytes_and_another_seed_does_not(tmp_path) -> None:
    first = write_synthetic(tmp_path / "a", 500, seed=9)[0].read_bytes()
    again = write_synthetic(tmp_path / "b", 500, seed=9)[0].read_bytes()
    other = write_synthetic(tmp_path / "c", 500, seed=10)[0].read_bytes()
    assert first == again
    assert first != other


def test_snapshots_grow_and_each_starts_with_the_previous_one(tmp_path) -> None:
    dates = [dt.date(2026, 1, 19), dt.date(2026, 1, 5), dt.date(2026, 1, 12)]
    paths = write_synthetic(tmp_path, 10, seed=4, snapshots=dates)
    assert paths == [tmp_path / day / FILE_NAME for day in ("2026-01-05", "2026-01-12", "2026-01-19")]
    contents = [path.read_bytes() for path in paths]
    assert [len(content.splitlines()) for content in contents] == [3, 7, 10]
    assert contents[1].startswith(contents[0])
    assert contents[2].startswith(contents[1])
    assert contents[2] == write_synthetic(tmp_path / "single", 10, seed=4)[0].read_bytes()


@pytest.mark.parametrize(
    ("rows", "dates", "message"),
    [
        (10, [dt.date(2026, 1, 5), dt.date(2026, 1, 5)], "distinct"),
        (1, [dt.date(2026, 1, 5), dt.date(2026, 1, 12)], "at least one row per snapshot"),
    ],
)
def test_bad_snapshot_requests_are_rejected(tmp_path, rows: int, dates: list[dt.date], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        write_synthetic(tmp_path, rows, seed=0, snapshots=dates)


def test_a_failed_write_leaves_no_file(tmp_path, monkeypatch) -> None:
    def failing_rows(rows: int, seed: int):
        yield from synthesize_rows(5, seed)
        raise OSError("disk full")

    monkeypatch.setattr(synthesize.files, "synthesize_rows", failing_rows)
    with pytest.raises(OSError, match="disk full"):
        write_synthetic(tmp_path, 10, seed=0, snapshots=[dt.date(2026, 1, 5), dt.date(2026, 1, 12)])
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []
