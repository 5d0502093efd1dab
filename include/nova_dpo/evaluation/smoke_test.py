"""The smoke test of a deployed model: one definition, used by the Bedrock deployment and the local one.

A tool-use question in Bedrock ``Converse`` shape (the tool offered in the system prompt, as the training data
offers tools), and the check of the answer: it must call one of the offered tools. The local model store's
``invoke`` takes the same request, so both platforms ask the same question and judge the answer the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from nova_dpo.data.nova_format import listed_tools, system_prompt
from nova_dpo.toolcalls import parse_nova_toolcalls

SMOKE_TEST_TOOL: dict[str, Any] = {
    "name": "get_current_weather",
    "description": "Get the current weather in a given city.",
    "parameters": {
        "type": "object",
        "properties": {
            "city": {"type": "string", "description": "The city name, e.g. Paris"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        },
        "required": ["city"],
    },
}
SMOKE_TEST_QUESTION = "What is the weather like in Paris right now? Answer in celsius."
SMOKE_TEST_INFERENCE_CONFIG: dict[str, Any] = {"maxTokens": 512, "temperature": 0.0}


class SmokeTestFailed(ValueError):
    """The deployed model's answer is not what the smoke test asks for."""


def smoke_test_request(
    messages: str | Sequence[Mapping[str, Any]] | None = None,
    system: str | Sequence[Mapping[str, Any]] | None = None,
    inference_config: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``Converse`` arguments of the smoke test (``messages``, ``system``, ``inferenceConfig``); each part
    may be replaced."""
    chosen = messages or SMOKE_TEST_QUESTION
    if isinstance(chosen, str):
        chosen = [{"role": "user", "content": [{"text": chosen}]}]
    blocks = system if system is not None else system_prompt((SMOKE_TEST_TOOL,))
    if isinstance(blocks, str):
        blocks = [{"text": blocks}] if blocks else []
    return {
        "messages": [dict(message) for message in chosen],
        "system": [dict(block) for block in blocks],
        "inferenceConfig": dict(inference_config or SMOKE_TEST_INFERENCE_CONFIG),
    }


def answer_text(response: Mapping[str, Any]) -> str:
    """The text of a ``Converse`` response."""
    return "\n".join(block["text"] for block in response["output"]["message"]["content"] if "text" in block)


def tool_calls(response: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The calls in a ``Converse`` response: Nova's JSON calls in the text, and ``toolUse`` blocks."""
    content = response["output"]["message"]["content"]
    return parse_nova_toolcalls(answer_text(response)) + [
        {"name": block["toolUse"]["name"], "arguments": block["toolUse"].get("input") or {}}
        for block in content
        if "toolUse" in block
    ]


def offered_tools(
    system: Iterable[Mapping[str, Any]], tool_config: Mapping[str, Any] | None = None
) -> set[str]:
    """The names of the tools a request offers: in ``toolConfig`` and in the system prompt's ``<tools>``."""
    names = {tool["toolSpec"]["name"] for tool in (tool_config or {}).get("tools", []) if "toolSpec" in tool}
    for block in system:
        names |= listed_tools(block.get("text", "")) or set()
    return names


def check_tool_call(
    response: Mapping[str, Any], request: Mapping[str, Any], model: str
) -> list[dict[str, Any]]:
    """The calls of ``response`` to a tool ``request`` offered.

    :raises SmokeTestFailed: when the model called none of them.
    """
    offered = offered_tools(request.get("system", ()), request.get("toolConfig"))
    calls = [call for call in tool_calls(response) if not offered or call["name"] in offered]
    if not calls:
        raise SmokeTestFailed(
            f"Smoke test of {model} failed: expected a JSON call "
            f'{{"name": ..., "parameters": {{...}}}} to one of {sorted(offered)}, got: {answer_text(response)!r}'
        )
    return calls


def run_smoke_test(
    invoke: Callable[..., Mapping[str, Any]],
    target: str,
    request: Mapping[str, Any] | None = None,
    *,
    expect_tool_call: bool = True,
    log: logging.Logger | logging.LoggerAdapter | None = None,
) -> dict[str, Any]:
    """Ask ``target`` the smoke test through a model store's ``invoke`` and check the answer.

    :param invoke: ``ModelStore.invoke``: ``invoke(target, messages, system=..., inference_config=...)``, and
        ``tool_config=...`` when the request has a ``toolConfig``.
    :param request: the ``Converse`` arguments (default: :func:`smoke_test_request`'s).
    :param expect_tool_call: the answer must call an offered tool; else any non-empty answer passes.
    :return: ``{"passed": True, "answer": ..., "latency_ms": ..., "tool_calls": [...]}``
    :raises SmokeTestFailed: the answer is not what the smoke test asks for.
    """
    log = log or logging.getLogger(__name__)
    request = dict(request or smoke_test_request())
    extra = {"tool_config": request["toolConfig"]} if request.get("toolConfig") else {}
    response = invoke(
        target,
        request["messages"],
        system=request["system"],
        inference_config=request["inferenceConfig"],
        **extra,
    )
    answer = answer_text(response)
    latency_ms = (response.get("metrics") or {}).get("latencyMs")
    log.info("Model %s answered in %s ms: %s", target, latency_ms, answer)
    if expect_tool_call:
        if not offered_tools(request["system"], request.get("toolConfig")):
            log.warning("No offered tools found in the system prompt or tool_config; any call passes.")
        calls = check_tool_call(response, request, target)
    else:
        calls = tool_calls(response)
        if not answer.strip() and not calls:
            raise SmokeTestFailed(f"Smoke test of {target} failed: the model gave an empty answer.")
    return {"passed": True, "answer": answer, "latency_ms": latency_ms, "tool_calls": calls}
