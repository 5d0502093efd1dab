"""Judge calibration: pairs with a known better answer, and the verdict on a judge that judged them."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from nova_dpo.evaluation.behaviour import classify_answer
from nova_dpo.evaluation.judge_calibration import (
    KINDS,
    calibration_pairs,
    calibration_summary,
    corruptions,
    describe_calibration,
)
from nova_dpo.evaluation.judge_stats import PairOutcome

TOOLS = (
    '<tools>{"tools": [{"toolSpec": {"name": "get_weather"}}, {"toolSpec": {"name": "book_taxi"}}]}</tools>'
)
CALL = '{"name": "get_weather", "parameters": {"city": "Oslo", "days": 3}}'


def record(reference: str, category: str, prompt: str = "Weather in Oslo for 3 days?") -> dict[str, str]:
    return {"prompt": prompt, "system": TOOLS, "reference": reference, "category": category}


def test_a_call_is_corrupted_three_ways_each_worse_than_the_reference():
    found = dict(corruptions(record(CALL, "tool_call")))
    assert set(found) == {"wrong_tool", "wrong_argument", "question_instead_of_call"}
    assert json.loads(found["wrong_tool"]) == {"name": "book_taxi", "parameters": {"city": "Oslo", "days": 3}}
    wrong = json.loads(found["wrong_argument"])
    assert wrong["name"] == "get_weather"
    assert wrong["parameters"] != {"city": "Oslo", "days": 3}
    assert wrong["parameters"].keys() == {"city", "days"}
    offered = {"get_weather", "book_taxi"}
    assert classify_answer(found["question_instead_of_call"], offered).outcome == "request_for_info"


@pytest.mark.parametrize(
    ("category", "kind"),
    [("request_for_info", "call_instead_of_question"), ("cannot_answer", "call_instead_of_declining")],
)
def test_a_question_or_a_refusal_is_answered_by_a_call_to_an_offered_tool(category, kind):
    (found,) = corruptions(record("Which city?", category))
    assert found[0] == kind
    assert classify_answer(found[1], {"get_weather", "book_taxi"}).outcome == "tool_call"


def test_nothing_is_made_of_a_reference_with_no_tool_offered_or_no_known_behaviour():
    assert (
        corruptions({"prompt": "hi", "system": "", "reference": "Hello!", "category": "cannot_answer"}) == []
    )
    assert corruptions(record("Hello!", "direct")) == []


# Generation is cheap but a busy CI machine can make it look slow.
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(["get_weather", "book_taxi"]),
    parameters=st.dictionaries(
        st.text("abcdefgh_", min_size=1, max_size=8),
        st.one_of(
            st.text(max_size=12),
            st.integers(),
            st.floats(allow_nan=False),
            st.booleans(),
            st.lists(st.integers()),
        ),
        max_size=4,
    ),
)
@example(name="get_weather", parameters={"n": float("inf")})
@example(name="get_weather", parameters={"n": -7})
@example(name="get_weather", parameters={"n": 1e300})
def test_every_corruption_of_any_call_differs_from_it(name, parameters):
    reference = json.dumps({"name": name, "parameters": parameters})
    for kind, corrupted in corruptions(record(reference, "tool_call")):
        assert kind in KINDS
        assert corrupted != reference, kind
        if kind != "question_instead_of_call":
            assert json.loads(corrupted) != json.loads(reference), kind


def test_the_kinds_take_turns_and_the_same_records_give_the_same_pairs():
    records = [record(CALL, "tool_call", f"call {i}") for i in range(10)]
    records += [record("Which city?", "request_for_info", f"ask {i}") for i in range(10)]
    records += [record("I cannot do that.", "cannot_answer", f"decline {i}") for i in range(10)]
    pairs = calibration_pairs(records, limit=10)
    assert [pair.kind for pair in pairs] == list(KINDS) * 2
    assert calibration_pairs(list(reversed(records)), limit=10) == pairs
    judge_pair = pairs[0].to_judge_pair()
    assert (judge_pair["response_B"], judge_pair["reference"]) == (pairs[0].reference, pairs[0].reference)
    assert judge_pair["response_A"] == pairs[0].corrupted


def outcomes(forward: str, backward: str, count: int) -> list[PairOutcome]:
    return [PairOutcome(forward, backward) for _ in range(count)]


def test_a_judge_that_picks_by_position_is_not_calibrated():
    pairs = calibration_pairs([record(CALL, "tool_call", f"call {i}") for i in range(4)], limit=12)
    # Always "B": right whenever the reference is shown second, wrong whenever it is shown first.
    summary = calibration_summary(pairs, outcomes("B", "B", len(pairs)))
    assert (summary["reference_second"], summary["reference_first"]) == (1.0, 0.0)
    assert summary["calibrated"] is False
    assert "NOT calibrated" in describe_calibration(summary)


def test_a_judge_that_picks_the_reference_in_both_positions_is_calibrated():
    pairs = calibration_pairs([record(CALL, "tool_call", f"call {i}") for i in range(4)], limit=12)
    # Backward, the reference is shown as A: "A" picks it.
    summary = calibration_summary(pairs, outcomes("B", "A", len(pairs)))
    assert summary["calibrated"] is True
    assert summary["per_kind"] == {"wrong_tool": 1.0, "wrong_argument": 1.0, "question_instead_of_call": 1.0}


def test_ties_and_errors_are_misses_and_the_threshold_holds_per_position():
    pairs = calibration_pairs([record(CALL, "tool_call", f"call {i}") for i in range(7)], limit=20)
    assert len(pairs) == 20
    # 17 of 20 right in each position: 0.85, just enough; one more tie is not.
    mixed = outcomes("B", "A", 17) + outcomes("tie", "error", 3)
    assert calibration_summary(pairs, mixed)["calibrated"] is True
    mixed = outcomes("B", "A", 16) + outcomes("tie", "A", 4)
    summary = calibration_summary(pairs, mixed)
    assert (summary["reference_second"], summary["reference_first"]) == (0.8, 1.0)
    assert summary["calibrated"] is False


def test_no_pairs_is_not_a_calibration_and_mismatched_outcomes_are_refused():
    assert calibration_summary([], [])["calibrated"] is False
    pairs = calibration_pairs([record(CALL, "tool_call")], limit=3)
    with pytest.raises(ValueError, match="3 calibration pairs but 1 outcomes"):
        calibration_summary(pairs, outcomes("B", "A", 1))
