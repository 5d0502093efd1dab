"""The tuned model against the base model and the always-call policy, on the hand-made out-of-distribution set."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nova_dpo.evaluation.policy_comparison import (
    ALWAYS_CALL,
    MIN_DECISION_PRECISION,
    always_call_answer,
    compare_policies,
    inference_records,
)
from nova_dpo.evaluation.smoke_test import offered_tools
from nova_dpo.toolcalls import parse_nova_toolcalls

OOD_SET = Path(__file__).resolve().parents[2] / "data" / "ood" / "gen_qa.jsonl"
DECLINE = "I'm sorry, but none of the tools I have can do that."


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    return [json.loads(line) for line in OOD_SET.read_text().splitlines()]


def category(row: dict) -> str:
    return json.loads(row["metadata"])["category"]


def test_always_call_calls_an_offered_tool_and_nothing_else(rows):
    for row in rows:
        [call] = parse_nova_toolcalls(always_call_answer(row))
        offered = offered_tools([{"text": row["system"]}])
        assert call["name"] in offered if offered else call["name"] == "unknown_tool"


def test_the_gold_answers_beat_the_base_and_the_always_call_policy(rows):
    records = {
        "tuned": inference_records(rows, [row["response"] for row in rows]),
        "base": inference_records(rows, [DECLINE] * len(rows)),
        ALWAYS_CALL: inference_records(rows, [always_call_answer(row) for row in rows]),
    }

    comparison = compare_policies(records, candidate="tuned")

    due = sum(category(row) == "tool_call" for row in rows) / len(rows)
    assert comparison.metric(ALWAYS_CALL, "behaviour_accuracy") == pytest.approx(due)
    assert comparison.metric(ALWAYS_CALL, "tool_call_precision") == pytest.approx(due)
    assert comparison.metric("tuned", "behaviour_accuracy") > comparison.metric("base", "behaviour_accuracy")
    # The rows' tool lists reach the scoring: a call where no tool is offered is made up, an offered one is not.
    toolless = sum(
        "<tools>" not in row["system"] or not offered_tools([{"text": row["system"]}]) for row in rows
    )
    assert toolless > 0
    assert comparison.metric(ALWAYS_CALL, "tool_hallucination_rate") == pytest.approx(toolless / len(rows))
    assert comparison.metric("tuned", "tool_hallucination_rate") == 0
    difference, low, high = comparison.differences[ALWAYS_CALL]
    assert difference == pytest.approx(1 - due, abs=0.02)
    assert low <= difference <= high
    assert low > 0, "a perfect model is significantly better than always calling"
    assert all(passed for _, passed in comparison.verdict()), comparison.verdict()
    assert "| behaviour_accuracy |" in comparison.table()


def test_a_model_that_always_calls_fails_the_comparison(rows):
    calls = [always_call_answer(row) for row in rows]
    records = {
        "tuned": inference_records(rows, calls),
        "base": inference_records(rows, [DECLINE] * len(rows)),
        ALWAYS_CALL: inference_records(rows, calls),
    }

    verdict = dict(compare_policies(records, candidate="tuned").verdict())

    failed = [what for what, passed in verdict.items() if not passed]
    assert any(ALWAYS_CALL in what for what in failed), verdict
    assert any(f"decision precision ≥ {MIN_DECISION_PRECISION}" in what for what in failed), verdict


def test_every_policy_must_answer_the_same_prompts(rows):
    records = {
        "tuned": inference_records(rows, [row["response"] for row in rows]),
        "base": inference_records(rows[:-1], [DECLINE] * (len(rows) - 1)),
    }
    with pytest.raises(ValueError, match="same prompts"):
        compare_policies(records, candidate="tuned")
