import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from nova_dpo import gate
from nova_dpo.data.nova_format import system_prompt
from nova_dpo.evaluation.gen_qa_metrics import InferenceRecord, aggregate, compute_gen_qa_metrics
from nova_dpo.evaluation.judge_stats import PairOutcome, judge_statistics
from nova_dpo.evaluation.results import GEN_QA_TASK, LLM_JUDGE_TASK, build_results
from nova_dpo.gate import GateRules, GateVerdict, evaluate_gate
from nova_dpo.pipeline.params import DEFAULT_GATE

WEATHER = {"name": "get_weather", "parameters": {"city": "Paris"}}


def text_record(index: int, correct: bool) -> InferenceRecord:
    """A plain-answer example: the prediction is the gold (every text score 1) or shares no word (0)."""
    gold = f"answer {index} is blue"
    return InferenceRecord(
        prompt=f"question {index}", prediction=gold if correct else "no idea sorry", gold=gold
    )


def results_document(
    records: Sequence[InferenceRecord], *, ids: Sequence[str] | None = None, model: str = "model"
) -> dict[str, Any]:
    """A results document as the evaluation step writes it, optionally with a prompt_id on every row."""
    scores = compute_gen_qa_metrics(records, resamples=50)
    rows = scores.per_example
    if ids is not None:
        rows = [{"prompt_id": pid, **row} for pid, row in zip(ids, rows, strict=True)]
    return build_results(GEN_QA_TASK, scores.metrics, {"model_name": model}, rows)


def gen_qa_document(correct: Sequence[bool], *, ids: Sequence[str] | None = None, model: str = "model"):
    return results_document([text_record(i, ok) for i, ok in enumerate(correct)], ids=ids, model=model)


def first(count: int, total: int) -> list[bool]:
    """The first ``count`` of ``total`` examples answered correctly."""
    return [index < count for index in range(total)]


def judge_document(b_wins: int, a_wins: int, ties: int = 0) -> dict[str, Any]:
    """An llm_judge results document: pairs won by B (the candidate) on both passes, by A, or tied."""
    outcomes = (
        [PairOutcome("B", "A")] * b_wins
        + [PairOutcome("A", "B")] * a_wins
        + [PairOutcome("tie", "tie")] * ties
    )
    return build_results(
        LLM_JUDGE_TASK, judge_statistics(outcomes), per_example=[o.to_row() for o in outcomes]
    )


def tool_records(made_calls: bool = True) -> list[InferenceRecord]:
    """Every tool-use case: right call, wrong arguments, wrong tool (one not offered), missed call, unwanted
    call, refusals."""
    call = json.dumps(WEATHER)
    wrong_args = json.dumps({"name": "get_weather", "parameters": {"city": "Rome"}})
    wrong_tool = json.dumps({"name": "get_time", "parameters": {}})
    due = json.dumps(
        {
            "category": "tool_call",
            "expected_tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}],
        }
    )
    cases = [
        (call, call, due),
        (wrong_args, call, due),
        (wrong_tool, call, due),
        ("Which city?", call, due),
        (call, "Which city do you mean?", json.dumps({"category": "request_for_info"})),
        ("Which city do you mean?", "Which city do you mean?", json.dumps({"category": "request_for_info"})),
        (
            "I cannot help with that.",
            "Sorry, no tool can do that.",
            json.dumps({"category": "cannot_answer"}),
        ),
        ("Maybe?", "Sorry, no tool can do that.", json.dumps({"category": "cannot_answer"})),
    ]
    if not made_calls:
        cases = [("I cannot help.", gold, meta) for _, gold, meta in cases]
    system = system_prompt(({"name": "get_weather", "parameters": {}},))
    return [
        InferenceRecord(
            prompt=f"p{i}", prediction=prediction, gold=gold, metadata=json.loads(meta), system=system
        )
        for i, (prediction, gold, meta) in enumerate(cases * 3)
    ]


# ------------------------------------------------------------------------------------------ rules


def test_rules_from_dict_canonicalizes_metric_names():
    rules = GateRules.from_dict(
        {
            "min_relative_gain": {"f1": 0.05},
            "max_relative_regression": {"em": 0.1},
            "no_significant_loss": {"qem": 0.1},
        }
    )
    assert rules.min_relative_gain == {"f1_score": 0.05}
    assert rules.max_relative_regression == {"exact_match": 0.1}
    assert rules.no_significant_loss == {"quasi_exact_match": 0.1}
    assert GateRules.from_dict(rules.to_dict()) == rules
    assert GateRules.from_dict(None).is_empty


def test_unknown_rule_key_is_refused_by_name():
    with pytest.raises(ValueError, match=r"unknown gate rule keys \['min_gain'\]"):
        GateRules.from_dict({"min_gain": {"f1_score": 0.05}})


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ({"min_relative_gain": {"f1_score": -0.1}}, "at least 0"),
        ({"min_relative_gain": ["f1_score"]}, "must map metric names"),
        ({"max_relative_regression": {"rougeL": 2}}, "between 0 and 1"),
        ({"max_relative_regression": {"rougeL_stderr": 0.1}}, "standard error"),
        ({"default_regression_tolerance": "2%"}, "must be a number"),
        ({"watched_metrics": "rougeL"}, "list of metric names"),
        ({"require_judge_win": "yes"}, "true or false"),
        ({"confidence": 1.0}, "strictly between"),
        ({"resamples": 10}, "between 100"),
        ({"resamples": 1000.0}, "whole number"),
        ({"seed": -1}, "at least 0"),
        ({"no_significant_loss": {"behaviour_accuracy_cannot_answer": -0.05}}, "at least 0"),
        ({"no_significant_loss": ["tool_name_accuracy"]}, "must map metric names"),
    ],
)
def test_bad_rule_values_are_refused(rules, message):
    with pytest.raises(ValueError, match=message):
        GateRules.from_dict(rules)


def test_json_schema_agrees_with_the_validation():
    jsonschema = pytest.importorskip("jsonschema")
    schema = GateRules.json_schema()
    rules = {
        "min_relative_gain": {"f1_score": 0.05},
        "default_regression_tolerance": 0.02,
        "require_judge_win": True,
    }
    jsonschema.validate(GateRules.from_dict(rules).to_dict(), schema)
    jsonschema.validate(GateRules.from_dict(DEFAULT_GATE).to_dict(), schema)
    for bad in (
        {"min_gain": {}},
        {"resamples": 10},
        {"max_relative_regression": {"bleu": 2}},
        {"no_significant_loss": {"bleu": -1}},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema)
        with pytest.raises(
            ValueError, match=r"gate rule keys|resamples|max_relative_regression|no_significant_loss"
        ):
            GateRules.from_dict(bad)


# ------------------------------------------------------------------------------------- decisions


def test_gain_inside_the_noise_does_not_pass():
    # +10 % on the mean, but the candidate wins 6 prompts and loses 5 of 20: a coin could do that.
    baseline = gen_qa_document(first(10, 20))
    candidate = gen_qa_document([5 <= index < 16 for index in range(20)])
    verdict = evaluate_gate(candidate, baseline, None, GateRules(min_relative_gain={"f1_score": 0.05}))
    row = verdict.metrics["f1_score"]
    assert (row.baseline, row.candidate) == (pytest.approx(0.5), pytest.approx(0.55))
    assert row.relative_gain == pytest.approx(0.10)
    assert row.ci_low < 0 < row.ci_high
    assert not verdict.passed
    assert verdict.reasons[0].startswith("f1_score: +10.0% (0.500 → 0.550, 95% CI of the difference [")
    assert verdict.reasons[0].endswith(
        "≥ required +5.0% but not significant (the interval does not lie above 0): fail"
    )


def test_clear_gain_passes():
    baseline, candidate = gen_qa_document(first(100, 200)), gen_qa_document(first(140, 200))
    rules = GateRules(min_relative_gain={"f1_score": 0.05, "rougeL": 0.3}, default_regression_tolerance=0.02)
    verdict = evaluate_gate(candidate, baseline, None, rules)
    assert verdict.passed, verdict.reasons
    row = verdict.metrics["f1_score"]
    assert 0 < row.ci_low < row.difference < row.ci_high
    assert verdict.reasons[0].startswith("f1_score: +40.0% (0.500 → 0.700, 95% CI of the difference [+0.")
    assert verdict.reasons[0].endswith("]) ≥ required +5.0%: pass")
    assert verdict.summary() == f"gate passed: {len(verdict.checks)} of {len(verdict.checks)} checks passed"
    assert verdict.examples == 200
    assert verdict.aligned_by == "position"


def test_gain_below_the_required_minimum_fails_even_when_significant():
    baseline, candidate = gen_qa_document(first(100, 200)), gen_qa_document(first(104, 200))
    verdict = evaluate_gate(candidate, baseline, None, GateRules(min_relative_gain={"f1_score": 0.05}))
    assert not verdict.passed
    assert verdict.reasons[0].endswith("< required +5.0%: fail")


def test_significant_regression_beyond_tolerance_fails():
    baseline, candidate = gen_qa_document(first(100, 200)), gen_qa_document(first(60, 200))
    rules = GateRules(max_relative_regression={"f1_score": 0.05}, default_regression_tolerance=0.02)
    verdict = evaluate_gate(candidate, baseline, None, rules)
    assert not verdict.passed
    failed = {check.subject: check for check in verdict.failed_checks}
    assert failed["f1_score"].rule == "max_relative_regression"
    assert failed["f1_score"].reason.endswith(
        "beyond the tolerated -5.0% and the interval lies below 0: fail"
    )
    # The default tolerance watches every other reported metric.
    assert failed["rougeL"].rule == "default_regression_tolerance"
    assert {"rouge1", "exact_match", "bleu"} <= set(failed)
    assert "f1_score (max_relative_regression)" in verdict.summary()


def test_small_noisy_regression_does_not_fail():
    # -10 %: worse than the 2 % tolerated, but 5 prompts lost and 4 won of 20 is noise.
    baseline = gen_qa_document(first(10, 20))
    candidate = gen_qa_document([4 <= index < 13 for index in range(20)])
    verdict = evaluate_gate(candidate, baseline, None, GateRules(max_relative_regression={"f1_score": 0.02}))
    assert verdict.metrics["f1_score"].relative_gain == pytest.approx(-0.10)
    assert verdict.passed
    assert verdict.reasons[0].endswith(
        "beyond the tolerated -2.0% but the interval reaches 0 (within the noise): pass"
    )


def test_unchanged_metrics_are_within_tolerance():
    document = gen_qa_document(first(10, 20))
    verdict = evaluate_gate(document, document, None, GateRules(default_regression_tolerance=0.0))
    assert verdict.passed
    assert all(reason.endswith("within the tolerated -0.0%: pass") for reason in verdict.reasons)


HALLUCINATED = "It is sunny in Paris today."
GOLD = {"cannot_answer": "Sorry, no tool can do that.", "request_for_info": "Which city do you mean?"}


def behaviour_records(
    category: str, correct: Sequence[bool], wrong: str = HALLUCINATED
) -> list[InferenceRecord]:
    """Prompts that expect ``category``, answered as due or with ``wrong`` (by default a direct answer)."""
    return [
        InferenceRecord(
            prompt=f"{category}-{index}",
            prediction=GOLD[category] if right else wrong,
            gold=GOLD[category],
            metadata={"category": category, "prompt_id": f"{category}-{index}"},
        )
        for index, right in enumerate(correct)
    ]


def loss_verdict(baseline_correct: int, candidate_correct: int, total: int, **rules: Any) -> GateVerdict:
    baseline = results_document(behaviour_records("cannot_answer", first(baseline_correct, total)))
    candidate = results_document(behaviour_records("cannot_answer", first(candidate_correct, total)))
    return evaluate_gate(candidate, baseline, None, GateRules(**rules))


def test_a_significant_loss_beyond_the_tolerance_fails():
    verdict = loss_verdict(36, 10, 40, no_significant_loss={"behaviour_accuracy_cannot_answer": 0.05})
    assert not verdict.passed
    [check] = verdict.checks
    assert (check.rule, check.subject) == ("no_significant_loss", "behaviour_accuracy_cannot_answer")
    assert check.reason.startswith("behaviour_accuracy_cannot_answer: -72.2% (0.900 → 0.250, 95% CI")
    assert check.reason.endswith("the whole interval lies beyond a loss of 0.05: a significant loss: fail")


def test_a_loss_that_may_be_within_the_tolerance_passes():
    # 0.90 -> 0.75 on 40 prompts: the loss is beyond 0.10 as measured, but not beyond doubt.
    verdict = loss_verdict(36, 30, 40, no_significant_loss={"behaviour_accuracy_cannot_answer": 0.10})
    row = verdict.metrics["behaviour_accuracy_cannot_answer"]
    assert row.difference == pytest.approx(-0.15)
    assert row.ci_low < -0.10 < row.ci_high < 0
    assert verdict.passed, verdict.reasons
    assert verdict.reasons[0].endswith(
        "the interval does not lie beyond a loss of 0.1: no significant loss: pass"
    )
    # The relative regression rule, which needs only the estimate beyond the tolerance, fails the same loss.
    relative = loss_verdict(36, 30, 40, max_relative_regression={"behaviour_accuracy_cannot_answer": 0.10})
    assert not relative.passed


def test_no_significant_loss_notes_a_category_the_set_lacks_and_one_with_too_few_prompts():
    rules = {"behaviour_accuracy_request_for_info": 0.05, "behaviour_accuracy_cannot_answer": 0.05}
    verdict = loss_verdict(6, 0, 6, no_significant_loss=rules)
    assert verdict.passed
    assert verdict.reasons == [
        "behaviour_accuracy_request_for_info: reported by neither model (no example of the evaluation set "
        "defines it), so it is not checked: pass",
        "behaviour_accuracy_cannot_answer: -100.0% (1.000 → 0.000, 95% CI of the difference [-1.000, -1.000]) "
        "rests on too few examples (baseline 6, candidate 6; min_support 10) to tell a loss from noise, so it "
        "is not checked: pass",
    ]


def test_the_tool_error_rates_are_lower_is_better():
    malformed = '{"name": "get_weather", "parameters": {"city": "Paris"'
    baseline = results_document(behaviour_records("cannot_answer", first(36, 40)))
    candidate = results_document(behaviour_records("cannot_answer", first(10, 40), wrong=malformed))
    verdict = evaluate_gate(
        candidate, baseline, None, GateRules(no_significant_loss={"malformed_call_rate": 0.05})
    )
    row = verdict.metrics["malformed_call_rate"]
    assert (row.baseline, row.candidate, row.higher_is_better) == (0.0, 0.75, False)
    assert not verdict.passed
    assert verdict.reasons[0].endswith("a significant loss: fail")
    # The outcome mix is for the report: the gate compares no count.
    assert not [name for name in verdict.metrics if name.startswith("outcome_mix_")]


@pytest.mark.parametrize(
    ("judge", "passed", "ending"),
    [
        (judge_document(b_wins=40, a_wins=5), True, "> 0.5 required: pass"),
        (judge_document(b_wins=6, a_wins=4), False, "≤ 0.5, not a clear win: fail"),
        (
            {"winrate": 0.6, "lower_rate": 0.5, "upper_rate": 0.7},
            False,
            "lower bound 0.500 ≤ 0.5, not a clear win: fail",
        ),
        ({"winrate": 0.6, "upper_rate": 0.7}, False, "the llm_judge results lack lower_rate: fail"),
        (None, False, "no llm_judge results were given: fail"),
    ],
)
def test_required_judge_win(judge, passed, ending):
    document = gen_qa_document(first(5, 10))
    verdict = evaluate_gate(document, document, judge, GateRules(require_judge_win=True))
    assert verdict.passed is passed
    assert verdict.checks[-1].rule == "require_judge_win"
    assert verdict.reasons[-1].endswith(ending)


def test_judge_is_summarized_when_not_required():
    document = gen_qa_document(first(5, 10))
    verdict = evaluate_gate(document, document, judge_document(b_wins=6, a_wins=4), GateRules())
    assert verdict.judge.winrate == pytest.approx(0.6)
    assert (verdict.judge.b_scores, verdict.judge.a_scores) == (12, 8)


def test_metric_named_in_a_rule_but_missing_fails_with_a_reason():
    document = gen_qa_document(first(5, 10))
    verdict = evaluate_gate(
        document, document, None, GateRules(min_relative_gain={"tool_name_accuracy": 0.05})
    )
    assert not verdict.passed
    assert verdict.reasons == [
        "tool_name_accuracy: not reported in the candidate and the baseline results, "
        "but min_relative_gain checks it: fail"
    ]


def test_metric_missing_on_one_side_fails_a_watched_regression():
    # A candidate that stopped calling tools has no tool-call precision: that is not a pass.
    baseline, candidate = results_document(tool_records()), results_document(tool_records(made_calls=False))
    verdict = evaluate_gate(candidate, baseline, None, GateRules(default_regression_tolerance=0.05))
    failed = {check.subject: check.reason for check in verdict.failed_checks}
    assert failed["tool_call_precision"] == (
        "tool_call_precision: not reported in the candidate results, "
        "but default_regression_tolerance checks it: fail"
    )
    assert verdict.metrics["tool_call_precision"].candidate is None


def call_records(made: Sequence[bool], due: Sequence[bool]) -> list[InferenceRecord]:
    """Examples where a tool call was ``due`` or not, answered with a call (``made``) or a refusal."""
    call, refusal = json.dumps(WEATHER), "Sorry, no tool can do that."
    expected = {
        "category": "tool_call",
        "expected_tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}],
    }
    return [
        InferenceRecord(
            prompt=f"p{i}",
            prediction=call if made_one else refusal,
            gold=call if due_one else refusal,
            metadata=expected if due_one else {"category": "cannot_answer"},
        )
        for i, (made_one, due_one) in enumerate(zip(made, due, strict=True))
    ]


def test_a_precision_from_one_call_is_too_few_to_block_or_to_promote():
    due = [index < 20 for index in range(40)]
    # The baseline calls once, rightly (precision 1.0); the candidate calls 20 times, 10 of them rightly (0.5).
    baseline = results_document(call_records([index == 0 for index in range(40)], due))
    candidate = results_document(call_records([index % 2 == 0 for index in range(40)], due))

    verdict = evaluate_gate(candidate, baseline, None, GateRules(default_regression_tolerance=0.10))
    row = verdict.metrics["tool_call_precision"]
    assert (row.baseline, row.candidate) == (1.0, 0.5)
    assert (row.baseline_support, row.candidate_support, row.support) == (1, 20, 1)
    assert verdict.metrics["tool_call_recall"].support == 20  # the calls that were due, on both sides
    check = next(check for check in verdict.checks if check.subject == "tool_call_precision")
    assert check.passed
    assert check.reason.endswith(
        "rests on too few examples (baseline 1, candidate 20; min_support 10) to tell a loss from noise, "
        "so it is not checked: pass"
    )
    # The bootstrap alone sees a sure loss: every resample that draws the one call has precision 1.0.
    strict = evaluate_gate(
        candidate, baseline, None, GateRules(default_regression_tolerance=0.10, min_support=1)
    )
    assert "tool_call_precision" in {check.subject for check in strict.failed_checks}

    gain = evaluate_gate(
        baseline, candidate, None, GateRules(min_relative_gain={"tool_call_precision": 0.05})
    )
    assert not gain.passed
    assert gain.reasons[0].endswith(
        "rests on too few examples (baseline 20, candidate 1; min_support 10) to show a gain: fail"
    )


def test_results_without_per_example_scores_cannot_show_a_gain():
    scores = [compute_gen_qa_metrics([text_record(i, i < n) for i in range(20)]).metrics for n in (10, 16)]
    baseline, candidate = (build_results(GEN_QA_TASK, metrics) for metrics in scores)
    verdict = evaluate_gate(candidate, baseline, None, GateRules(min_relative_gain={"f1_score": 0.05}))
    assert not verdict.passed
    assert verdict.metrics["f1_score"].ci_low is None
    assert verdict.reasons[0].endswith("without per-example scores it cannot be shown significant: fail")


def test_no_rules_pass_and_say_so():
    baseline, candidate = gen_qa_document(first(10, 20)), gen_qa_document(first(2, 20))
    verdict = evaluate_gate(candidate, baseline, None, GateRules.from_dict({}))
    assert verdict.passed
    assert verdict.reasons == ["no rules were set: nothing was required of the candidate: pass"]
    assert verdict.metrics["f1_score"].ci_high < 0


def test_lower_is_better_metrics_are_oriented(monkeypatch):
    monkeypatch.setattr(gate, "LOWER_IS_BETTER", frozenset({"f1_score"}))
    baseline, candidate = gen_qa_document(first(100, 200)), gen_qa_document(first(140, 200))
    verdict = evaluate_gate(candidate, baseline, None, GateRules(max_relative_regression={"f1_score": 0.05}))
    row = verdict.metrics["f1_score"]
    assert not row.higher_is_better
    assert row.relative_gain == pytest.approx(-0.4)
    assert not verdict.passed
    assert verdict.reasons[0].endswith("and the interval lies above 0: fail")


# ------------------------------------------------------------------------------------ alignment


def test_alignment_by_prompt_id_undoes_a_different_order():
    ids = [f"prompt-{index:02d}" for index in range(40)]
    baseline_correct = first(20, 40)
    candidate = gen_qa_document(first(30, 40), ids=ids)
    baseline = gen_qa_document(baseline_correct, ids=ids)
    shuffled = dict(baseline, per_example=baseline["per_example"][::-1])
    rules = GateRules(min_relative_gain={"f1_score": 0.05})
    in_order, reordered = (
        evaluate_gate(candidate, baseline, None, rules),
        evaluate_gate(candidate, shuffled, None, rules),
    )
    assert reordered.aligned_by == "prompt_id"
    assert reordered.to_dict() == in_order.to_dict()
    # Paired by position instead, the same rows would give a different (wrong) interval.
    unpaired = [
        {key: value for key, value in row.items() if key != "prompt_id"} for row in shuffled["per_example"]
    ]
    by_position = evaluate_gate(candidate, dict(shuffled, per_example=unpaired), None, rules)
    assert by_position.aligned_by == "position"
    assert by_position.metrics["f1_score"].ci_low != in_order.metrics["f1_score"].ci_low


def test_different_prompts_are_refused():
    candidate = gen_qa_document(first(5, 10), ids=[f"p{index}" for index in range(10)])
    baseline = gen_qa_document(first(5, 10), ids=[*(f"p{index}" for index in range(9)), "other"])
    with pytest.raises(ValueError, match=r"different prompts: 1 prompt_ids only in the candidate \['p9'\]"):
        evaluate_gate(candidate, baseline, None, GateRules())


def test_different_lengths_without_ids_are_refused():
    with pytest.raises(ValueError, match="10 per-example scores and the baseline 9, with no prompt_id"):
        evaluate_gate(gen_qa_document(first(5, 10)), gen_qa_document(first(5, 9)), None, GateRules())


# ------------------------------------------------------------------------------------ bootstrap


def test_bootstrap_is_deterministic_for_a_seed():
    baseline, candidate = gen_qa_document(first(10, 30)), gen_qa_document(first(14, 30))
    rules = GateRules(min_relative_gain={"f1_score": 0.05}, seed=7)
    once, again = (
        evaluate_gate(candidate, baseline, None, rules),
        evaluate_gate(candidate, baseline, None, rules),
    )
    assert once.to_dict() == again.to_dict()
    other = evaluate_gate(candidate, baseline, None, GateRules(min_relative_gain={"f1_score": 0.05}, seed=8))
    assert other.to_dict()["metrics"] != once.to_dict()["metrics"]


def test_verdict_round_trips_through_json():
    baseline, candidate = gen_qa_document(first(10, 20)), gen_qa_document(first(15, 20))
    rules = GateRules(
        min_relative_gain={"f1_score": 0.05}, default_regression_tolerance=0.02, require_judge_win=True
    )
    verdict = evaluate_gate(candidate, baseline, judge_document(9, 3), rules)
    data = json.loads(json.dumps(verdict.to_dict(), allow_nan=False))
    assert data["reasons"] == verdict.reasons
    assert data["summary"] == verdict.summary()
    assert GateVerdict.from_dict(data) == verdict
    assert "\n" not in verdict.summary()


def synthetic_rows(n: int, rng: np.random.Generator, skill: float) -> list[dict[str, Any]]:
    """Per-example rows with every field the gate reads, without the cost of scoring real text."""
    rows = []
    for index in range(n):
        score = float(rng.random() * skill)
        due, made = bool(rng.random() < 0.5), bool(rng.random() < skill)
        scored = due and made
        rows.append(
            {
                "prompt_id": f"p{index}",
                **dict.fromkeys(("rouge1", "rouge2", "rougeL", "f1_score", "f1_score_quasi", "bleu"), score),
                "exact_match": float(score > 0.8),
                "quasi_exact_match": float(score > 0.7),
                "bleu_statistics": [10, 11, *(max(int(8 * score) - k, 0) for k in range(4)), 10, 9, 8, 7],
                "expected_behaviour": ("tool_call", "request_for_info", "cannot_answer")[index % 3],
                "behaviour_correct": float(rng.random() < skill),
                "expected_call": due,
                "predicted_call": made,
                "predicted_behaviour": "tool_call" if made else ("direct", "malformed_call")[index % 2],
                "hallucinated_call": made and bool(rng.random() > skill),
                "tool_name_match": float(rng.random() < skill) if scored else None,
                "tool_args_match": float(rng.random() < skill) if scored else None,
            }
        )
    return rows


def test_a_thousand_examples_and_resamples_give_intervals_for_every_recomputable_metric():
    rng = np.random.default_rng(0)
    documents = [
        build_results(GEN_QA_TASK, aggregate(rows, resamples=2), per_example=rows)
        for rows in (synthetic_rows(1000, rng, 0.9), synthetic_rows(1000, rng, 0.8))
    ]
    rules = GateRules(min_relative_gain={"f1_score": 0.05}, default_regression_tolerance=0.02, resamples=1000)
    verdict = evaluate_gate(*documents, None, rules)
    assert len([row for row in verdict.metrics.values() if row.has_interval]) >= 15


def calibrated_judge(b_wins: int, a_wins: int, calibrated: bool) -> dict[str, Any]:
    """A local run's judge results: the judge's calibration in ``config_general``."""
    document = judge_document(b_wins=b_wins, a_wins=a_wins)
    document["config_general"]["judge_calibration"] = {
        "pairs": 48,
        "reference_second": 1.0,
        "reference_first": 0.9 if calibrated else 0.1,
        "per_kind": {},
        "threshold": 0.85,
        "calibrated": calibrated,
    }
    return document


def test_an_uncalibrated_judges_verdict_is_not_used_and_a_calibrated_ones_is():
    document = gen_qa_document(first(5, 10))
    rules = GateRules(require_judge_win=True)

    ignored = evaluate_gate(document, document, calibrated_judge(2, 8, calibrated=False), rules)
    assert ignored.passed
    assert ignored.reasons[-1].startswith("judge: not calibrated (picked the known-better answer 1.0 / 0.1")
    assert ignored.reasons[-1].endswith("its verdict is not used: pass")
    # The summary keeps the calibration for the report.
    assert ignored.judge.calibration["calibrated"] is False
    assert GateVerdict.from_dict(ignored.to_dict()).judge == ignored.judge

    used = evaluate_gate(document, document, calibrated_judge(2, 8, calibrated=True), rules)
    assert not used.passed
    assert used.reasons[-1].endswith("not a clear win: fail")
