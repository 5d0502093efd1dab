"""Hand-made When2Call rows and Nova DPO records for the data-stage tests."""

from __future__ import annotations

import copy
import json
from typing import Any

WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Current weather for a city.",
    "parameters": {
        "type": "dict",
        "properties": {
            "city": {"type": "string", "description": "City name"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        },
        "required": ["city"],
    },
}


def when2call_row(
    city: str = "Lisbon", *, tools_as_json: bool = True, category: str = "tool_call"
) -> dict[str, Any]:
    chosen = {
        "tool_call": f'<TOOLCALL>[{{"name": "get_weather", "arguments": {{"city": "{city}"}}}}]</TOOLCALL>',
        "request_for_info": "Which city would you like the weather for?",
        "cannot_answer": "I can't help with that: none of the available tools can book flights.",
    }[category]
    return {
        "tools": [json.dumps(WEATHER_TOOL)] if tools_as_json else [copy.deepcopy(WEATHER_TOOL)],
        "messages": [{"role": "user", "content": f"What's the weather in {city} right now?"}],
        "chosen_response": {"role": "assistant", "content": chosen},
        "rejected_response": {"role": "assistant", "content": f"It is 23°C and sunny in {city}."},
        "chosen_reward": 1.0,
        "rejected_reward": 0.0,
    }


def nova_record(question: str = "Weather in Lisbon?") -> dict[str, Any]:
    return {
        "schemaVersion": "bedrock-conversation-2024",
        "system": [{"text": "You may call one or more functions."}],
        "messages": [
            {"role": "user", "content": [{"text": question}]},
            {
                "role": "assistant",
                "candidates": [
                    {
                        "content": [{"text": '{"name": "get_weather", "parameters": {"city": "Lisbon"}}'}],
                        "preferenceLabel": "preferred",
                    },
                    {"content": [{"text": "It is sunny in Lisbon."}], "preferenceLabel": "non-preferred"},
                ],
            },
        ],
    }


def write_jsonl(path, rows) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row) + "\n")
