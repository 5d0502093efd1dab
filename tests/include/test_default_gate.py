"""The trigger form's default gate: what a run that sets no rules of its own must show."""

from __future__ import annotations

import json
from typing import Any

import pytest

from nova_dpo.evaluation.gen_qa_metrics import InferenceRecord
from nova_dpo.gate import GateRules, evaluate_gate
from nova_dpo.pipeline.params import DEFAULT_GATE
from tests.include.test_gate import WEATHER, behaviour_records, first, results_document


@pytest.mark.parametrize("category", ["cannot_answer", "request_for_info"])
def test_the_default_gate_fails_a_candidate_that_gains_calls_but_loses_a_behaviour(category):
    # The candidate calls every time a call is due (the baseline half the time), and answers the prompts of
    # the other behaviour directly where the baseline did right: the aggregates improve, one category drops.
    due = {
        "category": "tool_call",
        "expected_tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}],
    }
    call = json.dumps(WEATHER)

    def document(calls: int, behaving: int) -> dict[str, Any]:
        tool_calls = [
            InferenceRecord(
                f"call-{i}", call if i < calls else "Which city?", call, {**due, "prompt_id": f"c{i}"}
            )
            for i in range(40)
        ]
        return results_document([*tool_calls, *behaviour_records(category, first(behaving, 20))])

    baseline, candidate = document(calls=20, behaving=20), document(calls=40, behaving=8)
    verdict = evaluate_gate(candidate, baseline, None, GateRules.from_dict(DEFAULT_GATE))
    assert [(check.rule, check.subject) for check in verdict.failed_checks] == [
        ("no_significant_loss", f"behaviour_accuracy_{category}")
    ]
    assert verdict.metrics["tool_call_f1"].relative_gain > 0.05
    assert verdict.metrics["behaviour_accuracy"].relative_gain > 0
    guarded = {check.subject for check in verdict.checks if check.rule == "no_significant_loss"}
    assert guarded == {
        "behaviour_accuracy_cannot_answer",
        "behaviour_accuracy_request_for_info",
        "tool_name_accuracy",
    }
