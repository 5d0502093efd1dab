import json

import pytest

from nova_dpo.evaluation.tool_metrics import (
    Expectation,
    aggregate_tool_use,
    behaviour_of,
    expectation_from,
    score_tool_use,
)


def call(name, **arguments):
    return json.dumps({"name": name, "parameters": arguments})


WEATHER = {"name": "get_weather", "arguments": {"city": "Paris", "unit": "C"}}


@pytest.mark.parametrize(
    ("text", "behaviour"),
    [
        (call("get_weather", city="Paris"), "tool_call"),
        ("Sure:\n```json\n" + call("get_weather", city="Paris") + "\n```", "tool_call"),
        ("Which city do you mean? ", "request_for_info"),
        ("None of the tools can answer that.", "cannot_answer"),
        ("", "cannot_answer"),
    ],
)
def test_behaviour_of(text, behaviour):
    assert behaviour_of(text) == behaviour


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
