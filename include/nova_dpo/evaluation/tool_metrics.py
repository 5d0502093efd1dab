"""Tool-use metrics: did the model call a tool when it should, the right one, with the right arguments.

Text overlap (ROUGE, BLEU) says little about When2Call's question, which is a decision: call a tool, ask
for missing information, or say the tools cannot answer. These metrics score that decision, each answer's
outcome read by :mod:`nova_dpo.evaluation.behaviour` (which also knows direct answers and malformed calls).

A metric whose denominator is empty (precision when the model never calls a tool, a category absent from
the data) is left out of the aggregate rather than reported as 0, so a gate never reads "no data" as
"zero".
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nova_dpo.data.when2call import TOOL_CALL
from nova_dpo.evaluation.behaviour import MALFORMED_CALL, OUTCOMES, behaviour_of, classify_answer
from nova_dpo.evaluation.names import BEHAVIOUR_ACCURACY_PREFIX, outcome_mix_metric
from nova_dpo.evaluation.stats import bootstrap_stderr, mean_stderr
from nova_dpo.toolcalls import ToolCall, call_arguments, parse_nova_toolcalls


@dataclass(frozen=True)
class Expectation:
    """What the reference answer of one example calls for."""

    category: str
    tool_calls: list[ToolCall] = field(default_factory=list)

    @property
    def expects_call(self) -> bool:
        return self.category == TOOL_CALL


def expectation_from(gold: str, metadata: Mapping[str, Any] | None = None) -> Expectation:
    """The expectation of one example: from its metadata where given, else read off the gold answer (by the
    rules that read the model's answers, so an answer equal to the gold always shows the expected behaviour).

    :param metadata: the parsed ``metadata`` of a gen_qa record, e.g.
        ``{"category": "tool_call", "expected_tool_calls": [{"name": ..., "arguments": {...}}]}``;
        ``"expected_tool_calls": null`` means no call is due.
    :raises ValueError: when ``expected_tool_calls`` is not a list of calls with a string ``name``.
    """
    metadata = metadata or {}
    if "expected_tool_calls" in metadata:
        calls = _normalize_calls(metadata["expected_tool_calls"] or [])
    else:
        calls = parse_nova_toolcalls(gold)
    category = metadata.get("category")
    if not isinstance(category, str) or not category:
        category = TOOL_CALL if calls else behaviour_of(gold)
    return Expectation(category=category, tool_calls=calls)


def _normalize_calls(calls: Any) -> list[ToolCall]:
    if not isinstance(calls, list):
        raise ValueError(
            f"metadata 'expected_tool_calls' must be a list of calls, got {type(calls).__name__}"
        )
    normalized = []
    for call in calls:
        arguments = call_arguments(call, "expected tool call")  # first: it checks that call has a name
        normalized.append({"name": call["name"], "arguments": arguments})
    return normalized


def score_tool_use(
    prediction: str, expectation: Expectation, offered: Collection[str] | None = None
) -> dict[str, Any]:
    """Per-example tool-use fields.

    ``predicted_behaviour`` is the answer's outcome (:data:`~nova_dpo.evaluation.behaviour.OUTCOMES`);
    ``hallucinated_call`` whether it calls a tool not in ``offered`` (None when the offered tools are unknown);
    the two match fields are None unless a call was both due and made.
    """
    behaviour = classify_answer(prediction, offered)
    predicted_calls = behaviour.calls
    scored = expectation.expects_call and bool(predicted_calls)
    return {
        "expected_behaviour": expectation.category,
        "predicted_behaviour": behaviour.outcome,
        "behaviour_correct": float(behaviour.outcome == expectation.category),
        "hallucinated_call": behaviour.hallucinated,
        "expected_call": expectation.expects_call,
        "predicted_call": bool(predicted_calls),
        "tool_name_match": float(_same_names(predicted_calls, expectation.tool_calls)) if scored else None,
        "tool_args_match": float(_same_calls(predicted_calls, expectation.tool_calls)) if scored else None,
    }


def _same_names(predicted: Sequence[ToolCall], expected: Sequence[ToolCall]) -> bool:
    return sorted(c["name"] for c in predicted) == sorted(c["name"] for c in expected)


def _same_calls(predicted: Sequence[ToolCall], expected: Sequence[ToolCall]) -> bool:
    """Same calls in any order, arguments compared as parsed JSON (key order and 1 vs 1.0 do not matter)."""
    remaining = [(c["name"], c["arguments"]) for c in predicted]
    for call in expected:
        try:
            remaining.remove((call["name"], call["arguments"]))
        except ValueError:
            return False
    return not remaining


def aggregate_tool_use(rows: Iterable[Mapping[str, Any]]) -> dict[str, float]:
    """Aggregate tool-use metrics, each with ``<name>_stderr``, from :func:`score_tool_use` rows.

    * ``tool_call_precision`` / ``tool_call_recall`` / ``tool_call_f1``: the decision to call a tool, the
      positive class being "the answer makes a tool call". Precision and recall are means over the
      predicted (resp. expected) calls, with the standard error of that mean; F1 is ``2TP / (2TP+FP+FN)``
      with a bootstrap standard error over examples.
    * ``tool_name_accuracy`` / ``tool_args_exact_match``: over examples where a call was due and made.
    * ``behaviour_accuracy`` and ``behaviour_accuracy_<category>`` (per expected category): the share of
      answers whose outcome is the expected behaviour.
    * ``tool_hallucination_rate``: the share of answers that call a tool the prompt did not offer (When2Call's
      tool hallucination, counted over every answer whose offered tools are known); ``malformed_call_rate``:
      the share of answers that try to call a tool and do not parse. Lower is better for both.
    * The outcome mix: for each expected category and each outcome, how many answers had it
      (:func:`~nova_dpo.evaluation.names.outcome_mix_metric`; counts, without a standard error).
    """
    rows = list(rows)
    expected = np.array([bool(r["expected_call"]) for r in rows], dtype=bool)
    predicted = np.array([bool(r["predicted_call"]) for r in rows], dtype=bool)
    metrics: dict[str, float] = {}
    _add_mean(metrics, "tool_call_precision", expected[predicted])
    _add_mean(metrics, "tool_call_recall", predicted[expected])
    confusion = np.stack([expected & predicted, ~expected & predicted, expected & ~predicted], axis=1)
    if confusion.any():
        metrics["tool_call_f1"] = float(_f1_of_counts(confusion.sum(axis=0)[None, :])[0])
        metrics["tool_call_f1_stderr"] = bootstrap_stderr(confusion.astype(np.int64), _f1_of_counts)
    _add_mean(
        metrics,
        "tool_name_accuracy",
        [r["tool_name_match"] for r in rows if r["tool_name_match"] is not None],
    )
    _add_mean(
        metrics,
        "tool_args_exact_match",
        [r["tool_args_match"] for r in rows if r["tool_args_match"] is not None],
    )
    _add_mean(metrics, "behaviour_accuracy", [r["behaviour_correct"] for r in rows])
    _add_mean(
        metrics,
        "tool_hallucination_rate",
        [r["hallucinated_call"] for r in rows if r["hallucinated_call"] is not None],
    )
    _add_mean(metrics, "malformed_call_rate", [r["predicted_behaviour"] == MALFORMED_CALL for r in rows])
    for category in sorted({r["expected_behaviour"] for r in rows}):
        members = [r for r in rows if r["expected_behaviour"] == category]
        _add_mean(metrics, BEHAVIOUR_ACCURACY_PREFIX + category, [r["behaviour_correct"] for r in members])
        outcomes = [r["predicted_behaviour"] for r in members]
        for outcome in OUTCOMES:
            metrics[outcome_mix_metric(category, outcome)] = float(outcomes.count(outcome))
    return metrics


def _f1_of_counts(sums: np.ndarray) -> np.ndarray:
    """F1 per row of summed ``[TP, FP, FN]``; NaN where a resample holds no positive at all."""
    tp, fp, fn = sums[:, 0].astype(float), sums[:, 1], sums[:, 2]
    denominator = 2 * tp + fp + fn
    return np.divide(2 * tp, denominator, out=np.full(len(tp), np.nan), where=denominator > 0)


def _add_mean(metrics: dict[str, float], name: str, values: Sequence[float] | np.ndarray) -> None:
    values = np.asarray(values, dtype=float)
    if values.size:
        metrics[name] = float(values.mean())
        metrics[f"{name}_stderr"] = mean_stderr(values)
