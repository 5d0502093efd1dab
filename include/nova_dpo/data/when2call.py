"""The When2Call ``train_pref`` schema: normalizing a raw row and naming its behaviour.

A row has ``tools`` (tool definitions as dicts or JSON strings), ``messages`` (the conversation so far),
``chosen_response`` and ``rejected_response`` (assistant messages, or bare strings) and optional rewards.

A field of the wrong type, at any depth, raises :class:`RowError` with a reason code, never another error: the
data stage quarantines the row and goes on. Keys the schema does not name are ignored, so a source that adds
a column still reads.
"""

from __future__ import annotations

import math
import reprlib
from dataclasses import dataclass
from typing import Any

import orjson

from nova_dpo.toolcalls import TOOLCALL_OPEN

HUB_DATASET = "nvidia/When2Call"
HUB_CONFIG = "train_pref"

TOOL_CALL = "tool_call"
REQUEST_FOR_INFO = "request_for_info"
CANNOT_ANSWER = "cannot_answer"
CATEGORIES = (TOOL_CALL, REQUEST_FOR_INFO, CANNOT_ANSWER)
# When2Call's fourth answer kind: an answer given without the tool it needs. Its test set names it, but a
# train_pref chosen answer never is one (only rejected answers are), so it is not among the CATEGORIES.
DIRECT = "direct"
REWARD_FIELDS = ("chosen_reward", "rejected_reward")


class RowError(ValueError):
    """A source row that cannot be used; ``reason`` is a short code counted in the manifest."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class PreferenceRow:
    """One normalized When2Call preference pair."""

    tools: tuple[str | dict[str, Any], ...]
    messages: tuple[tuple[str, str], ...]
    chosen: str
    rejected: str


def infer_category(answer: str) -> str:
    """The When2Call behaviour of an answer.

    ``train_pref`` carries no category column, so it is read off the chosen answer: a ``<TOOLCALL>`` block
    is a tool call, a question asks for missing information, anything else declines.
    """
    if TOOLCALL_OPEN in answer:
        return TOOL_CALL
    if answer.rstrip().endswith("?"):
        return REQUEST_FOR_INFO
    return CANNOT_ANSWER


def _brief(value: Any) -> str:
    """A short repr for a message; bounded in depth, so a value nested a thousand levels cannot overflow it."""
    return reprlib.repr(value)


def _block_text(block: Any, field: str) -> str:
    if not isinstance(block, dict):
        raise RowError(
            "schema", f"{field}: a content block must be an object like {{'type': 'text', 'text': ...}}"
        )
    text = block.get("text")
    if isinstance(text, str):
        return text
    if text is None and block.get("type", "text") != "text":
        raise RowError(
            "unsupported_content", f"{field}: only text blocks are supported, got {_brief(block.get('type'))}"
        )
    raise RowError("schema", f"{field}: a text block's text must be a string, got {type(text).__name__}")


def _answer_text(value: Any, field: str, role: str = "assistant") -> str:
    if isinstance(value, dict):
        if value.get("role") not in (None, role):
            raise RowError(
                "bad_role", f"{field} must be a {role} message, got role {_brief(value.get('role'))}"
            )
        value = value.get("content")
    if isinstance(value, list):  # content blocks, e.g. [{"type": "text", "text": ...}]
        value = "".join([_block_text(block, field) for block in value])
    if not isinstance(value, str):
        raise RowError(
            "schema",
            f"{field} must be a string or a {role} message with string content, got {type(value).__name__}",
        )
    return value


def _check_rewards(raw: dict[str, Any]) -> None:
    # Rewards are not used to build a record, but one of the wrong type says the row was not written as the
    # schema describes (a shifted column, a broken export): its preference cannot be trusted either.
    for field in REWARD_FIELDS:
        reward = raw.get(field)
        if reward is None:
            continue
        if isinstance(reward, float):
            number = math.isfinite(reward)
        else:  # math.isfinite would overflow on a Python int past a float's range; every int is finite
            number = isinstance(reward, int) and not isinstance(reward, bool)
        if not number:
            raise RowError("bad_reward", f"{field} must be a finite number, got {_brief(reward)}")


def _tools(value: Any) -> tuple[str | dict[str, Any], ...]:
    if isinstance(value, str):  # the whole list serialized as one JSON string
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError as err:
            raise RowError("bad_tools", f"tools is a string that is not JSON: {err}") from err
    if value is None:
        return ()
    if not isinstance(value, list):
        raise RowError("bad_tools", "tools must be a list of tool definitions (dicts or JSON strings)")
    for tool in value:
        if not isinstance(tool, (str, dict)):
            raise RowError(
                "bad_tools", f"a tool definition must be a dict or a JSON string, got {type(tool).__name__}"
            )
    return tuple(value)


def _messages(value: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, list) or not value:
        raise RowError("schema", "messages must be a non-empty list of {role, content}")
    turns = []
    for message in value:
        if not isinstance(message, dict):
            raise RowError("schema", "every message must be an object with role and content")
        role = message.get("role")
        if role not in ("user", "assistant"):
            raise RowError("bad_role", f"message role must be 'user' or 'assistant', got {_brief(role)}")
        turns.append((role, _answer_text(message, f"{role} message", role)))
    return tuple(turns)


def normalize_row(raw: Any) -> PreferenceRow:
    """Check the shape of a raw ``train_pref`` row and return it normalized.

    :raises RowError: with a reason code when the row does not have the When2Call schema.
    """
    if not isinstance(raw, dict):
        raise RowError("schema", "a row must be a JSON object")
    missing = [key for key in ("messages", "chosen_response", "rejected_response") if key not in raw]
    if missing:
        raise RowError("schema", f"missing field(s): {', '.join(missing)}")
    _check_rewards(raw)
    return PreferenceRow(
        tools=_tools(raw.get("tools")),
        messages=_messages(raw["messages"]),
        chosen=_answer_text(raw["chosen_response"], "chosen_response"),
        rejected=_answer_text(raw["rejected_response"], "rejected_response"),
    )
