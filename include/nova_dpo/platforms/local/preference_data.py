"""Nova DPO JSONL records as TRL conversational preference rows.

A Nova record (``bedrock-conversation-2024``) holds ``system`` text blocks and ``messages`` whose last assistant
turn carries two ``candidates`` labelled ``preferred`` and ``non-preferred``. TRL's DPOTrainer takes
``{"prompt": [messages], "chosen": [assistant message], "rejected": [assistant message]}`` and renders them
with the tokenizer's chat template, so the local model sees the conversation the way it is served.

The data stage has already validated the files, so a record that does not fit is a bug upstream: it is
reported with its line number, never skipped.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from itertools import islice, zip_longest
from pathlib import Path
from typing import Any

from nova_dpo.data.nova_format import listed_tools
from nova_dpo.data.when2call import TOOL_CALL
from nova_dpo.evaluation.behaviour import classify_answer

PREFERRED = "preferred"
NON_PREFERRED = "non-preferred"

# Text blocks of one Converse message are consecutive parts of the same turn.
BLOCK_SEPARATOR = "\n"


def content_text(blocks: list[dict[str, Any]]) -> str:
    """The text of a Converse content list (``[{"text": ...}, ...]``); the local model reads text only."""
    if not isinstance(blocks, list) or not blocks:
        raise ValueError("content must be a non-empty list of blocks")
    texts = []
    for block in blocks:
        if not isinstance(block, dict) or set(block) != {"text"} or not isinstance(block["text"], str):
            kinds = sorted(block) if isinstance(block, dict) else type(block).__name__
            raise ValueError(f"the local platform reads text blocks only, got a block with {kinds}")
        texts.append(block["text"])
    return BLOCK_SEPARATOR.join(texts)


def nova_record_to_preference_row(record: dict[str, Any]) -> dict[str, list[dict[str, str]]]:
    """One Nova DPO record as a TRL conversational preference row."""
    if not isinstance(record, dict):
        raise ValueError(f"a record must be a JSON object, got {type(record).__name__}")
    messages = record.get("messages")
    if not isinstance(messages, list) or len(messages) < 2:
        raise ValueError("'messages' must list at least a user turn and the final assistant turn")

    prompt: list[dict[str, str]] = []
    system = record.get("system")
    if system:
        prompt.append({"role": "system", "content": content_text(system)})
    for index, message in enumerate(messages[:-1]):
        if "candidates" in message:
            raise ValueError(f"only the last message may hold candidates (message {index} does)")
        role = message.get("role")
        if role not in ("user", "assistant"):
            raise ValueError(f"message {index} has role {role!r}; expected 'user' or 'assistant'")
        prompt.append({"role": role, "content": content_text(message.get("content"))})

    final = messages[-1]
    if final.get("role") != "assistant" or not isinstance(final.get("candidates"), list):
        raise ValueError("the last message must be an assistant turn with 'candidates'")
    by_label: dict[str, str] = {}
    for candidate in final["candidates"]:
        label = str(candidate.get("preferenceLabel", "")).lower()
        if label not in (PREFERRED, NON_PREFERRED):
            raise ValueError(
                f"candidate label {candidate.get('preferenceLabel')!r} is not preferred/non-preferred"
            )
        if label in by_label:
            raise ValueError(f"more than one {label!r} candidate")
        by_label[label] = content_text(candidate.get("content"))
    if len(by_label) != 2:
        raise ValueError("the last message needs exactly one preferred and one non-preferred candidate")

    return {
        "prompt": prompt,
        "chosen": [{"role": "assistant", "content": by_label[PREFERRED]}],
        "rejected": [{"role": "assistant", "content": by_label[NON_PREFERRED]}],
    }


def iter_preference_rows(path: str | Path) -> Iterator[dict[str, list[dict[str, str]]]]:
    """Stream a Nova DPO JSONL file as preference rows, one line at a time.

    Blank lines are not records and are passed over; any other line that is not a valid record raises
    ``ValueError`` naming the file and line.
    """
    path = Path(path)
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                yield nova_record_to_preference_row(json.loads(line))
            except (ValueError, AttributeError, TypeError) as err:
                raise ValueError(f"{path}:{number}: not a Nova DPO record: {err}") from err


def read_preference_rows(
    path: str | Path,
    max_rows: int | None = None,
    balance_by: Callable[[Mapping[str, list[Mapping[str, str]]]], str] | None = None,
) -> list[dict[str, list[dict[str, str]]]]:
    """The first ``max_rows`` preference rows of a Nova DPO JSONL file (all when None); an empty file is an error.

    :param balance_by: with ``max_rows``, take the rows by the group this function puts them in, one group after
        the other in turn (the groups in the order they first appear), each in file order, until ``max_rows``:
        e.g. :func:`preferred_behaviour` (a capped run trains on as many pairs that prefer asking or declining
        as pairs that prefer a call) or :func:`call_contrast`.
    """
    if balance_by is not None and max_rows is not None:
        groups: dict[str, list[dict[str, list[dict[str, str]]]]] = {}
        for row in iter_preference_rows(path):
            groups.setdefault(balance_by(row), []).append(row)
        turns = zip_longest(*groups.values())
        rows = list(islice((row for turn in turns for row in turn if row is not None), max_rows))
    else:
        rows = list(islice(iter_preference_rows(path), max_rows))
    if not rows:
        raise ValueError(f"{path} holds no preference records.")
    return rows


def preferred_behaviour(row: Mapping[str, list[Mapping[str, str]]]) -> str:
    """What the row's preferred answer does (:func:`~nova_dpo.evaluation.behaviour.classify_answer`), the tools
    its system prompt offers known."""
    return classify_answer(row["chosen"][0]["content"], listed_tools(_system(row))).outcome


def _system(row: Mapping[str, list[Mapping[str, str]]]) -> str:
    return "\n".join(message["content"] for message in row["prompt"] if message.get("role") == "system")


def call_contrast(row: Mapping[str, list[Mapping[str, str]]]) -> str:
    """What the pair teaches about calling a tool: ``prefers_call`` (the preferred answer calls), ``rejects_call``
    (the non-preferred one calls, the preferred one does not) or ``no_call`` (neither calls)."""
    offered = listed_tools(_system(row))
    if classify_answer(row["chosen"][0]["content"], offered).outcome == TOOL_CALL:
        return "prefers_call"
    if classify_answer(row["rejected"][0]["content"], offered).outcome == TOOL_CALL:
        return "rejects_call"
    return "no_call"


# LocalTrainingOptions.pair_order -> the grouping read_preference_rows takes the pairs by in turn.
PAIR_GROUPINGS: dict[str, Callable[[Mapping[str, list[Mapping[str, str]]]], str] | None] = {
    "file": None,
    "behaviours": preferred_behaviour,
    "calls": call_contrast,
}
