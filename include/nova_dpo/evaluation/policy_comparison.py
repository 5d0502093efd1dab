"""A tuned model against its base model and the always-call policy, on one gen_qa set.

A model that learned only to call tools scores well on tool-call recall and badly on everything else. The
always-call policy makes that visible: it answers every prompt with a call to an offered tool, so its behaviour
accuracy is the share of prompts where a call is due and its decision precision is that share too. A tuned
model worth shipping beats both the base model and that policy in behaviour accuracy, and calls a tool mostly
when one is due (``tool_call_precision``).

Every policy is scored by the same gen_qa metrics (:func:`~nova_dpo.evaluation.gen_qa_metrics.compute_gen_qa_metrics`);
the differences in behaviour accuracy come with paired bootstrap intervals over the prompts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from nova_dpo.evaluation.gen_qa_metrics import (
    GenQaScores,
    InferenceRecord,
    compute_gen_qa_metrics,
    inference_line,
)
from nova_dpo.evaluation.names import DEFAULT_SEED
from nova_dpo.evaluation.smoke_test import offered_tools
from nova_dpo.evaluation.stats import bootstrap_indices
from nova_dpo.toolcalls import format_nova_toolcalls

ALWAYS_CALL = "always-call"
#: The metrics of the comparison table, in its order.
TABLE_METRICS = (
    "behaviour_accuracy",
    "behaviour_accuracy_tool_call",
    "behaviour_accuracy_request_for_info",
    "behaviour_accuracy_cannot_answer",
    "tool_call_precision",
    "tool_call_recall",
    "tool_name_accuracy",
    "tool_args_exact_match",
    "tool_hallucination_rate",
    "malformed_call_rate",
)
MIN_DECISION_PRECISION = 0.5


def always_call_answer(row: Mapping[str, Any]) -> str:
    """The always-call policy's answer to a gen_qa row: a call, without arguments, to the first tool the row
    offers (to ``unknown_tool`` where it offers none)."""
    tools = sorted(offered_tools([{"text": str(row.get("system") or "")}]))
    return format_nova_toolcalls([{"name": tools[0] if tools else "unknown_tool", "arguments": {}}])


def inference_records(rows: Sequence[Mapping[str, Any]], answers: Sequence[str]) -> list[dict[str, Any]]:
    """gen_qa rows and one answer each, as ``inference_output.jsonl`` lines."""
    return [inference_line(row, answer) for row, answer in zip(rows, answers, strict=True)]


@dataclass(frozen=True)
class PolicyComparison:
    """The scores of each policy on one set, and the paired differences of the candidate's behaviour accuracy.

    :param scores: policy name -> its gen_qa scores (the candidate first).
    :param differences: other policy -> (candidate − it, low, high) of behaviour accuracy, a 95% interval.
    """

    candidate: str
    scores: dict[str, GenQaScores]
    differences: dict[str, tuple[float, float, float]]

    def metric(self, policy: str, name: str) -> float | None:
        return self.scores[policy].metrics.get(name)

    def verdict(self) -> list[tuple[str, bool]]:
        """The checks a model worth shipping passes on this set: (what, passed)."""
        checks = []
        mine = self.metric(self.candidate, "behaviour_accuracy") or 0.0
        for policy in self.scores:
            if policy != self.candidate:
                theirs = self.metric(policy, "behaviour_accuracy") or 0.0
                checks.append(
                    (f"behaviour accuracy above {policy} ({mine:.3f} vs {theirs:.3f})", mine > theirs)
                )
        precision = self.metric(self.candidate, "tool_call_precision")
        checks.append(
            (
                f"decision precision ≥ {MIN_DECISION_PRECISION} ({'none: no call made' if precision is None else f'{precision:.3f}'})",
                precision is not None and precision >= MIN_DECISION_PRECISION,
            )
        )
        return checks

    @property
    def prompts(self) -> int:
        return len(self.scores[self.candidate].per_example)

    @property
    def passed(self) -> bool:
        return all(passed for _, passed in self.verdict())

    def summary(self) -> str:
        """The table, then one PASS/FAIL line per check of :meth:`verdict`."""
        checks = "\n".join(f"  {'PASS' if passed else 'FAIL'}  {what}" for what, passed in self.verdict())
        return f"{self.table()}\n\n{checks}"

    def table(self) -> str:
        policies = list(self.scores)
        lines = [
            "| metric | " + " | ".join(policies) + " |",
            "|---|" + "---:|" * len(policies),
        ]
        for name in TABLE_METRICS:
            values = [self.metric(policy, name) for policy in policies]
            if all(value is None for value in values):
                continue
            cells = ["—" if value is None else f"{value:.3f}" for value in values]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        for policy, (difference, low, high) in self.differences.items():
            lines.append(
                f"\nbehaviour accuracy, {self.candidate} − {policy}: {difference:+.3f} [{low:+.3f}, {high:+.3f}]"
            )
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "candidate": self.candidate,
            "metrics": {policy: scores.metrics for policy, scores in self.scores.items()},
            "behaviour_accuracy_differences": {
                policy: {"difference": d, "low": low, "high": high}
                for policy, (d, low, high) in self.differences.items()
            },
            "verdict": [{"check": what, "passed": passed} for what, passed in self.verdict()],
        }


def compare_policies(
    records: Mapping[str, Sequence[Mapping[str, Any]]], candidate: str, seed: int = DEFAULT_SEED
) -> PolicyComparison:
    """Score each policy's ``inference_output`` records (the same prompts, in the same order) and compare the
    candidate's behaviour accuracy with each other policy's, pairing prompts."""
    scores = {
        name: compute_gen_qa_metrics([InferenceRecord.from_json(row) for row in rows], seed=seed)
        for name, rows in records.items()
    }
    correct = {
        name: np.array([row["behaviour_correct"] for row in score.per_example], dtype=float)
        for name, score in scores.items()
    }
    sizes = {len(values) for values in correct.values()}
    if len(sizes) != 1:
        raise ValueError(f"every policy must answer the same prompts; got {sorted(sizes)} answers")
    indices = bootstrap_indices(sizes.pop(), seed=seed)
    differences = {}
    for name, values in correct.items():
        if name == candidate:
            continue
        paired = correct[candidate] - values
        resampled = paired[indices].mean(axis=1)
        low, high = np.percentile(resampled, [2.5, 97.5])
        differences[name] = (float(paired.mean()), float(low), float(high))
    ordered = {candidate: scores[candidate], **{name: s for name, s in scores.items() if name != candidate}}
    return PolicyComparison(candidate, ordered, differences)
