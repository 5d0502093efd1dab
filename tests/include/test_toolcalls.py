"""Tool-call text: a model's babble is no call and never an exception; data that is not strict JSON is refused."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nova_dpo.toolcalls import call_arguments, parse_nova_toolcalls, parse_when2call_toolcalls

CALL = json.dumps({"name": "get_weather", "parameters": {"city": "Paris"}})


def nested(depth: int) -> str:
    return '{"name": "deep", "parameters": ' + '{"a": ' * depth + "1" + "}" * (depth + 1)


@pytest.mark.parametrize(
    "answer",
    [
        nested(5000),  # RecursionError in the stdlib parser before
        '{"name": "x", "parameters": {"a": NaN}}',
        '{"name": "x", "parameters": {"a": Infinity}}',
    ],
)
def test_generated_text_that_is_not_strict_json_makes_no_call_and_raises_nothing(answer):
    assert parse_nova_toolcalls(answer) == []
    assert parse_nova_toolcalls(f"{answer}\n{CALL}") == [
        {"name": "get_weather", "arguments": {"city": "Paris"}}
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("<TOOLCALL>[" + "[" * 5000 + "]" * 5001 + "</TOOLCALL>", "nests too deep"),
        ('<TOOLCALL>[{"name": "x", "arguments": {"a": NaN}}]</TOOLCALL>', "NaN is not JSON"),
        (
            '<TOOLCALL>[{"name": "x", "arguments": "{\\"a\\": -Infinity}"}]</TOOLCALL>',
            "-Infinity is not JSON",
        ),
    ],
)
def test_when2call_calls_that_are_not_strict_json_are_a_value_error(text, message):
    with pytest.raises(ValueError, match=message):
        parse_when2call_toolcalls(text)


def test_arguments_given_as_json_text_are_decoded():
    assert call_arguments({"name": "f", "arguments": '{"k": 1}'}) == {"k": 1}


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(st.text(alphabet='{}[]":,0123456789aNInfity \\n', max_size=400))
def test_any_generated_text_parses_without_raising(text):
    for call in parse_nova_toolcalls(text):
        assert isinstance(call["name"], str)
        assert isinstance(call["arguments"], dict)
