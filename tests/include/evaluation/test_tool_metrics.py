import json

import pytest

from nova_dpo.evaluation.behaviour import OUTCOMES
from nova_dpo.evaluation.names import OUTCOME_MIX_PREFIX, outcome_mix_metric
from nova_dpo.evaluation.tool_metrics import (
    Expectation,
    aggregate_tool_use,
    expectation_from,
    score_tool_use,
)


def call(name, **arguments):
    return json.dumps({"name": name, "parameters": arguments})


WEATHER = {"name": "get_weather", "arguments": {"city": "Paris", "unit": "C"}}
OFFERED = {"get_weather", "get_time"}


def test_expectation_from_metadata():
    metadata = {
        "category": "tool_call",
        "expected_tool_calls": [{"name": "get_weather", "parameters": {"a": 1}}],
    }
    assert expectation_from("ignored", metadata) == Expectation(
        "tool_call", [{"name": "get_weather", "arguments": {"a": 1}}]
    )


def test_expectation_from_metadata_written_by_the_data_stage():
    # The data stage writes null when the chosen answer makes no call; gold is not consulted then.
    metadata = {"category": "request_for_info", "expected_tool_calls": None, "prompt_id": "x"}
    assert expectation_from(call("looks_like_a_call"), metadata) == Expectation("request_for_info", [])


def test_expectation_falls_back_to_gold():
    assert expectation_from(call("get_weather", city="Paris"), None) == Expectation(
        "tool_call", [{"name": "get_weather", "arguments": {"city": "Paris"}}]
    )
    assert expectation_from("Which city?", {}) == Expectation("request_for_info", [])
    assert expectation_from("I can't.", None) == Expectation("cannot_answer", [])
    assert expectation_from("It is 20°C in Paris.", None) == Expectation("direct", [])
    # A category without listed calls takes the calls from gold.
    assert expectation_from(call("f"), {"category": "tool_call"}).tool_calls == [
        {"name": "f", "arguments": {}}
    ]


def test_expectation_rejects_malformed_calls():
    with pytest.raises(ValueError, match="string 'name'"):
        expectation_from("", {"expected_tool_calls": [{"arguments": {}}]})


def test_score_tool_use_compares_arguments_as_json():
    expectation = Expectation("tool_call", [WEATHER])
    reordered = json.dumps({"name": "get_weather", "parameters": {"unit": "C", "city": "Paris"}})
    assert score_tool_use(reordered, expectation)["tool_args_match"] == 1.0
    wrong = score_tool_use(call("get_weather", city="Lyon", unit="C"), expectation)
    assert (wrong["tool_name_match"], wrong["tool_args_match"]) == (1.0, 0.0)
    other_tool = score_tool_use(call("get_time", city="Paris", unit="C"), expectation)
    assert (other_tool["tool_name_match"], other_tool["tool_args_match"]) == (0.0, 0.0)
    no_call = score_tool_use("Which city?", expectation)
    assert (no_call["tool_name_match"], no_call["tool_args_match"]) == (None, None)


def hand_table():
    """Six examples: TP (right args), TP (wrong args), FN, FP, and two TN."""
    due = Expectation("tool_call", [WEATHER])
    return [
        score_tool_use(call("get_weather", city="Paris", unit="C"), due),
        score_tool_use(call("get_weather", city="Rome", unit="C"), due),
        score_tool_use("Which city?", due),
        score_tool_use(call("get_weather"), Expectation("request_for_info")),
        score_tool_use("No tool can do that.", Expectation("cannot_answer")),
        score_tool_use("Which one?", Expectation("request_for_info")),
    ]


def test_decision_precision_recall_f1_by_hand():
    metrics = aggregate_tool_use(hand_table())
    # TP = 2, FP = 1, FN = 1.
    assert metrics["tool_call_precision"] == pytest.approx(2 / 3)
    assert metrics["tool_call_recall"] == pytest.approx(2 / 3)
    assert metrics["tool_call_f1"] == pytest.approx(2 * 2 / (2 * 2 + 1 + 1))
    # Precision is the mean of [1, 1, 0]: sample sd sqrt(1/3), over sqrt(3).
    assert metrics["tool_call_precision_stderr"] == pytest.approx(1 / 3)
    assert metrics["tool_call_f1_stderr"] > 0


def test_tool_name_args_and_behaviour_accuracy_by_hand():
    metrics = aggregate_tool_use(hand_table())
    assert metrics["tool_name_accuracy"] == 1.0
    assert metrics["tool_args_exact_match"] == 0.5
    assert metrics["behaviour_accuracy"] == pytest.approx(4 / 6)
    assert metrics["behaviour_accuracy_tool_call"] == pytest.approx(2 / 3)
    assert metrics["behaviour_accuracy_request_for_info"] == pytest.approx(1 / 2)
    assert metrics["behaviour_accuracy_cannot_answer"] == 1.0


def test_undefined_metrics_are_left_out():
    rows = [score_tool_use("Which city?", Expectation("request_for_info"))] * 3
    metrics = aggregate_tool_use(rows)
    for name in ("tool_call_precision", "tool_call_recall", "tool_call_f1", "tool_name_accuracy"):
        assert name not in metrics
    assert metrics["behaviour_accuracy_request_for_info"] == 1.0
    assert "behaviour_accuracy_tool_call" not in metrics


def test_rows_carry_the_outcome_and_whether_a_call_was_hallucinated():
    due = Expectation("tool_call", [WEATHER])
    invented = score_tool_use(call("book_flight", to="Oslo"), due, OFFERED)
    assert (invented["predicted_behaviour"], invented["hallucinated_call"]) == ("tool_call", True)
    assert (invented["predicted_call"], invented["tool_name_match"]) == (True, 0.0)
    unknown = score_tool_use(call("book_flight", to="Oslo"), due)
    assert unknown["hallucinated_call"] is None
    asked = score_tool_use("Which city?", due, OFFERED)
    assert (asked["predicted_behaviour"], asked["hallucinated_call"]) == ("request_for_info", False)


def test_a_malformed_call_is_no_refusal_and_no_call():
    row = score_tool_use(
        '{"name": "get_weather", "parameters": {"city": "Paris"', Expectation("cannot_answer")
    )
    assert row["predicted_behaviour"] == "malformed_call"
    assert (row["behaviour_correct"], row["predicted_call"]) == (0.0, False)


def test_error_rates_and_outcome_mix_by_hand():
    due, refuse = Expectation("tool_call", [WEATHER]), Expectation("cannot_answer")
    rows = [
        score_tool_use(call("get_weather", city="Paris", unit="C"), due, OFFERED),
        score_tool_use(call("book_flight"), due, OFFERED),
        score_tool_use('{"name": "get_weather", "parameters": {"city": "Paris"', due, OFFERED),
        score_tool_use("No tool can do that.", refuse, OFFERED),
        score_tool_use("It is sunny in Paris.", refuse, OFFERED),
        score_tool_use('{"name": "get_weather"', refuse),  # offered tools unknown
    ]
    metrics = aggregate_tool_use(rows)
    # One hallucinated call among the five answers whose offered tools are known; two malformed of six.
    assert metrics["tool_hallucination_rate"] == pytest.approx(1 / 5)
    assert metrics["malformed_call_rate"] == pytest.approx(2 / 6)
    assert metrics["behaviour_accuracy_tool_call"] == pytest.approx(2 / 3)
    assert metrics["behaviour_accuracy_cannot_answer"] == pytest.approx(1 / 3)
    expected_mix = {
        "tool_call": dict(zip(OUTCOMES, (2, 0, 0, 0, 1), strict=True)),
        "cannot_answer": dict(zip(OUTCOMES, (0, 0, 1, 1, 1), strict=True)),
    }
    mix = {name: value for name, value in metrics.items() if name.startswith(OUTCOME_MIX_PREFIX)}
    assert mix == {
        outcome_mix_metric(category, outcome): count
        for category, counts in expected_mix.items()
        for outcome, count in counts.items()
    }


def test_no_hallucination_rate_without_offered_tools():
    metrics = aggregate_tool_use([score_tool_use(call("book_flight"), Expectation("tool_call"))])
    assert "tool_hallucination_rate" not in metrics
    assert metrics["malformed_call_rate"] == 0.0
