"""The smoke test's one definition: the request both platforms send and the check of the answer."""

from __future__ import annotations

import json

import pytest

from nova_dpo.evaluation.smoke_test import (
    SMOKE_TEST_TOOL,
    SmokeTestFailed,
    check_tool_call,
    offered_tools,
    smoke_test_request,
)


def response(text: str = "", tool_use: dict | None = None) -> dict:
    content = [{"text": text}] if text else []
    if tool_use:
        content.append({"toolUse": {"toolUseId": "t1", **tool_use}})
    return {"output": {"message": {"role": "assistant", "content": content}}}


def test_the_request_offers_the_weather_tool_in_the_system_prompt():
    request = smoke_test_request()

    assert offered_tools(request["system"]) == {SMOKE_TEST_TOOL["name"]}
    assert request["messages"][0]["role"] == "user"
    assert request["inferenceConfig"] == {"maxTokens": 512, "temperature": 0.0}


@pytest.mark.parametrize(
    "answer",
    [
        response(json.dumps({"name": "get_current_weather", "parameters": {"city": "Paris"}})),
        response(tool_use={"name": "get_current_weather", "input": {"city": "Paris"}}),
    ],
)
def test_a_call_to_the_offered_tool_passes(answer):
    calls = check_tool_call(answer, smoke_test_request(), "model-1")
    assert [call["name"] for call in calls] == ["get_current_weather"]


@pytest.mark.parametrize(
    "answer",
    [
        response("It is sunny in Paris."),
        response(json.dumps({"name": "get_stock_price", "parameters": {"ticker": "AMZN"}})),
        response('{"name": "get_current_weather", "parameters": {"city": '),
        response(""),
    ],
)
def test_anything_else_fails_naming_the_model_and_the_tools(answer):
    with pytest.raises(SmokeTestFailed, match=r"model-1.*get_current_weather"):
        check_tool_call(answer, smoke_test_request(), "model-1")
