import json

import pytest

from nova_dpo.data.nova_format import dpo_record, gen_qa_record, listed_tools, nova_answer, system_prompt
from nova_dpo.data.validation import check_record
from nova_dpo.data.when2call import RowError, infer_category, normalize_row
from nova_dpo.toolcalls import parse_nova_toolcalls
from tests.include.data.rows import WEATHER_TOOL, when2call_row


def test_tools_as_dicts_or_json_strings_give_the_same_record():
    as_json = normalize_row(when2call_row(tools_as_json=True))
    as_dict = normalize_row(when2call_row(tools_as_json=False))
    assert dpo_record(as_json, system_prompt(as_json.tools)) == dpo_record(
        as_dict, system_prompt(as_dict.tools)
    )


def test_system_prompt_lists_tool_specs_as_the_aws_sample_does():
    row = normalize_row(when2call_row())
    prompt = system_prompt(row.tools)
    assert prompt.startswith("You may call one or more functions to assist with the user query.")
    listed = json.loads(prompt.split("<tools>\n", 1)[1].split("\n</tools>", 1)[0])
    spec = listed["tools"][0]["toolSpec"]
    assert spec["name"] == "get_weather"
    assert spec["inputSchema"]["json"]["type"] == "object"  # When2Call's "dict" is not JSON Schema
    assert spec["inputSchema"]["json"]["required"] == ["city"]
    assert prompt == (
        prompt.split("<tools>\n")[0] + "<tools>\n" + json.dumps(listed) + prompt.split("}]}", 1)[1]
    ), "the cached rendering must equal json.dumps of the whole list"


def test_the_tools_a_system_prompt_lists_are_read_back():
    row = normalize_row(when2call_row())
    assert listed_tools(system_prompt(row.tools)) == {"get_weather"}
    assert listed_tools(system_prompt(())) == set()  # offers nothing: every call would be hallucinated
    assert listed_tools('<tools>[{"name": "a"}, {"toolSpec": {"name": "b"}}, 3]</tools>') == {"a", "b"}
    # No listing to read: what was offered is unknown, which is not the same as nothing.
    for text in ("You are a helpful assistant.", "<tools>get_weather(city)</tools>", '<tools>"x"</tools>'):
        assert listed_tools(text) is None


def test_tool_calls_are_rewritten_to_the_json_the_prompt_asks_for():
    two_calls = '<TOOLCALL>[{"name": "a", "arguments": {"x": 1}}, {"name": "b", "arguments": {}}]</TOOLCALL>'
    text = nova_answer(two_calls)
    assert text == '{"name": "a", "parameters": {"x": 1}}\n{"name": "b", "parameters": {}}'
    assert parse_nova_toolcalls(text) == [
        {"name": "a", "arguments": {"x": 1}},
        {"name": "b", "arguments": {}},
    ]
    assert nova_answer("  Which city?  ") == "Which city?"
    with pytest.raises(RowError) as caught:
        nova_answer("<TOOLCALL>[{not json]</TOOLCALL>")
    assert caught.value.reason == "bad_toolcall"


def test_dpo_record_has_two_labelled_candidates_and_passes_validation():
    row = normalize_row(when2call_row())
    record = dpo_record(row, system_prompt(row.tools))
    assert record["schemaVersion"] == "bedrock-conversation-2024"
    candidates = record["messages"][-1]["candidates"]
    assert [c["preferenceLabel"] for c in candidates] == ["preferred", "non-preferred"]
    assert json.loads(candidates[0]["content"][0]["text"]) == {
        "name": "get_weather",
        "parameters": {"city": "Lisbon"},
    }
    check_record(record, max_length=4096)


@pytest.mark.parametrize("category", ["tool_call", "request_for_info", "cannot_answer"])
def test_gen_qa_row_carries_category_and_expected_call(category):
    row = normalize_row(when2call_row(category=category))
    qa = gen_qa_record(row, "system text", "abc")
    metadata = json.loads(qa["metadata"])
    assert metadata["category"] == category == infer_category(row.chosen)
    assert qa["query"] == "What's the weather in Lisbon right now?"
    expected = [{"name": "get_weather", "arguments": {"city": "Lisbon"}}] if category == "tool_call" else None
    assert metadata["expected_tool_calls"] == expected


def test_multi_turn_query_uses_the_sample_markup():
    raw = when2call_row()
    raw["messages"] = [
        {"role": "user", "content": "Weather please"},
        {"role": "assistant", "content": "Which city?"},
        {"role": "user", "content": "Lisbon"},
    ]
    qa = gen_qa_record(normalize_row(raw), "s", "id")
    assert qa["query"] == "##User: Weather please\n##Assistant: Which city?\n##User: Lisbon"


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda r: r.pop("chosen_response"), "schema"),
        (lambda r: r.update(messages=[]), "schema"),
        (lambda r: r.update(messages=[{"role": "tool", "content": "x"}]), "bad_role"),
        (lambda r: r.update(tools="not json"), "bad_tools"),
        (lambda r: r.update(tools=[42]), "bad_tools"),
        (lambda r: r.update(chosen_response={"role": "assistant", "content": None}), "schema"),
    ],
)
def test_malformed_rows_are_refused_with_a_reason(mutate, reason):
    raw = when2call_row()
    mutate(raw)
    with pytest.raises(RowError) as caught:
        normalize_row(raw)
    assert caught.value.reason == reason


def test_tools_may_arrive_as_one_json_string_and_answers_as_strings():
    raw = when2call_row()
    raw["tools"] = json.dumps([WEATHER_TOOL])
    raw["chosen_response"] = raw["chosen_response"]["content"]
    row = normalize_row(raw)
    assert row.tools == (WEATHER_TOOL,)
    assert infer_category(row.chosen) == "tool_call"
