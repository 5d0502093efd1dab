"""The gate's statistics: per-example metric recomputation, the paired bootstrap, and example alignment.

The candidate model and the baseline answered the same gen_qa prompts. The gate compares them with a paired
bootstrap: it resamples prompts, the same draw for both models, and recomputes every metric on each resample.
Pairing cancels the variation between prompts, which is most of the noise, so real differences show with
fewer prompts. A corpus-level metric (``bleu``, the tool-call precision/recall/F1, an accuracy over a subset
of prompts) is recomputed from the summed per-example counts of the resample, exactly as its full-sample
value is, never averaged.

:mod:`nova_dpo.gate` turns these intervals into the verdict.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from nova_dpo.evaluation.behaviour import MALFORMED_CALL
from nova_dpo.evaluation.gen_qa_metrics import parse_metadata
from nova_dpo.evaluation.names import BEHAVIOUR_ACCURACY_PREFIX, GEN_QA_METRICS
from nova_dpo.evaluation.stats import DEFAULT_RESAMPLES, DEFAULT_SEED, bootstrap_indices
from nova_dpo.evaluation.text_metrics import bleu_of_summed_statistics

_MEAN_METRICS = tuple(name for name in GEN_QA_METRICS if name != "bleu")

# ------------------------------------------------------------------------- per-example recomputation


@dataclass(frozen=True)
class MetricStatistic:
    """A metric as a function of per-example columns summed over a (re)sample of examples.

    Every metric here is one: a mean is ``sum(value) / sum(1)``, a precision ``sum(hit) / sum(predicted)``,
    corpus BLEU a function of summed n-gram counts. Summing is a matrix product with the resample weights,
    which is what makes the bootstrap a handful of vectorized operations.
    """

    columns: np.ndarray  # (examples, m)
    of_sums: Callable[[np.ndarray], np.ndarray]  # (k, m) summed columns -> (k,) metric values
    support: int  # the examples the full-sample value rests on (a ratio's non-empty denominators)


def _ratio(sums: np.ndarray) -> np.ndarray:
    """``numerator / denominator`` per row; NaN where the denominator is empty (undefined, not zero)."""
    numerator, denominator = sums[:, 0], sums[:, 1]
    return np.divide(numerator, denominator, out=np.full(len(sums), np.nan), where=denominator > 0)


def _ratio_of(numerator: Any, denominator: Any) -> MetricStatistic:
    columns = np.column_stack([numerator, denominator]).astype(float)
    return MetricStatistic(columns, _ratio, support=int(np.count_nonzero(columns[:, 1])))


def _field(rows: Sequence[Mapping[str, Any]], key: str) -> list[Any] | None:
    """The values of one per-example field, or None when some row lacks it."""
    if not rows or any(key not in row for row in rows):
        return None
    return [row[key] for row in rows]


def metric_statistics(rows: Sequence[Mapping[str, Any]]) -> dict[str, MetricStatistic]:
    """Every metric that the per-example rows (of :func:`~nova_dpo.evaluation.gen_qa_metrics.score_example`)
    let us recompute on a resample, under its reported name."""
    statistics: dict[str, MetricStatistic] = {}
    ones = np.ones(len(rows))
    for name in _MEAN_METRICS:
        values = _field(rows, name)
        if values is not None:
            statistics[name] = _ratio_of(values, ones)
    bleu = _field(rows, "bleu_statistics")
    if bleu is not None:
        statistics["bleu"] = MetricStatistic(
            np.asarray(bleu, dtype=float).reshape(-1, 10), bleu_of_summed_statistics, support=len(rows)
        )
    statistics.update(_tool_use_statistics(rows, ones))
    return statistics


def _tool_use_statistics(rows: Sequence[Mapping[str, Any]], ones: np.ndarray) -> dict[str, MetricStatistic]:
    """The tool-use metrics as ratios of sums, defined as :func:`~nova_dpo.evaluation.tool_metrics.aggregate_tool_use`."""
    statistics: dict[str, MetricStatistic] = {}
    expected, predicted = _field(rows, "expected_call"), _field(rows, "predicted_call")
    if expected is not None and predicted is not None:
        due, made = np.asarray(expected, dtype=bool), np.asarray(predicted, dtype=bool)
        hit = due & made
        statistics["tool_call_precision"] = _ratio_of(hit, made)
        statistics["tool_call_recall"] = _ratio_of(hit, due)
        # 2TP / (2TP + FP + FN): both terms are sums of per-example counts.
        statistics["tool_call_f1"] = _ratio_of(2 * hit, 2 * hit + (made & ~due) + (due & ~made))
    for name, key in (
        ("tool_name_accuracy", "tool_name_match"),
        ("tool_args_exact_match", "tool_args_match"),
    ):
        matches = _field(rows, key)
        if matches is not None:
            # None marks an example where no call was both due and made: outside the metric's denominator.
            scored = [match is not None for match in matches]
            statistics[name] = _ratio_of([match or 0.0 for match in matches], scored)
    outcomes = _field(rows, "predicted_behaviour")
    if outcomes is not None:
        statistics["malformed_call_rate"] = _ratio_of([o == MALFORMED_CALL for o in outcomes], ones)
    hallucinated = _field(rows, "hallucinated_call")
    if hallucinated is not None:
        # None marks an answer whose offered tools are unknown: outside the rate's denominator.
        known = [flag is not None for flag in hallucinated]
        statistics["tool_hallucination_rate"] = _ratio_of([bool(flag) for flag in hallucinated], known)
    correct = _field(rows, "behaviour_correct")
    if correct is not None:
        statistics["behaviour_accuracy"] = _ratio_of(correct, ones)
        categories = _field(rows, "expected_behaviour")
        for category in sorted(set(categories or [])):
            member = np.array([c == category for c in categories], dtype=float)
            statistics[BEHAVIOUR_ACCURACY_PREFIX + category] = _ratio_of(np.multiply(correct, member), member)
    return statistics


def recompute_metrics(rows: Sequence[Mapping[str, Any]], weights: np.ndarray) -> dict[str, np.ndarray]:
    """Each recomputable metric on weighted samples of the rows.

    :param weights: shape ``(k, examples)``: how many times each example is drawn in each of ``k`` samples;
        a row of ones is the full sample.
    :returns: metric -> ``(k,)`` values (NaN where a sample leaves the metric undefined).
    """
    return _values(metric_statistics(rows), weights)


def _values(statistics: Mapping[str, MetricStatistic], weights: np.ndarray) -> dict[str, np.ndarray]:
    sums = _weighted_sums(np.atleast_2d(np.asarray(weights, dtype=float)), list(statistics.values()))
    return {name: s.of_sums(summed) for (name, s), summed in zip(statistics.items(), sums, strict=True)}


def _weighted_sums(weights: np.ndarray, statistics: Sequence[MetricStatistic]) -> list[np.ndarray]:
    """The weighted column sums of each statistic, from one matrix product over all their columns.

    One wide product instead of one per metric: a BLAS call costs about the same for 2 columns as for 80.
    """
    if not statistics:
        return []
    sums = weights @ np.hstack([s.columns for s in statistics])
    edges = np.cumsum([0, *(s.columns.shape[1] for s in statistics)])
    return [sums[:, start:end] for start, end in itertools.pairwise(edges)]


def resample_weights(n: int, resamples: int, seed: int) -> np.ndarray:
    """The ``(resamples, n)`` draw counts of a seeded bootstrap of ``n`` examples."""
    indices = bootstrap_indices(n, resamples, seed)
    flat = (indices + n * np.arange(resamples)[:, None]).ravel()
    return np.bincount(flat, minlength=resamples * n).reshape(resamples, n).astype(float)


@dataclass(frozen=True)
class PairedInterval:
    """Bootstrap intervals of one metric: each model's value, and candidate - baseline."""

    candidate: tuple[float, float]
    baseline: tuple[float, float]
    difference: tuple[float, float]


def paired_bootstrap(
    candidate_rows: Sequence[Mapping[str, Any]],
    baseline_rows: Sequence[Mapping[str, Any]],
    *,
    confidence: float = 0.95,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> dict[str, PairedInterval]:
    """Percentile intervals of every metric both row lists let us recompute.

    The rows must already be aligned (row i of each is the same prompt). Resamples where a metric is
    undefined on either side (no tool call drawn, say) are left out of that metric's interval.
    """
    if len(candidate_rows) != len(baseline_rows):
        raise ValueError(
            f"paired rows differ in length ({len(candidate_rows)} vs {len(baseline_rows)}); align them first"
        )
    if not candidate_rows:
        return {}
    return paired_intervals(
        metric_statistics(candidate_rows),
        metric_statistics(baseline_rows),
        len(candidate_rows),
        confidence=confidence,
        resamples=resamples,
        seed=seed,
    )


def paired_intervals(
    candidate: Mapping[str, MetricStatistic],
    baseline: Mapping[str, MetricStatistic],
    examples: int,
    *,
    confidence: float,
    resamples: int,
    seed: int,
) -> dict[str, PairedInterval]:
    """:func:`paired_bootstrap` from each side's statistics, for a caller that also needs them for other uses."""
    names = [name for name in candidate if name in baseline]
    weights = resample_weights(examples, resamples, seed)
    sums = _weighted_sums(weights, [candidate[name] for name in names] + [baseline[name] for name in names])
    intervals = {}
    for index, name in enumerate(names):
        ours = candidate[name].of_sums(sums[index])
        theirs = baseline[name].of_sums(sums[len(names) + index])
        paired = np.isfinite(ours) & np.isfinite(theirs)
        if paired.any():
            intervals[name] = PairedInterval(
                candidate=_percentile_interval(ours[paired], confidence),
                baseline=_percentile_interval(theirs[paired], confidence),
                difference=_percentile_interval(ours[paired] - theirs[paired], confidence),
            )
    return intervals


def _percentile_interval(values: np.ndarray, confidence: float) -> tuple[float, float]:
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def full_sample_values(statistics: Mapping[str, MetricStatistic], examples: int) -> dict[str, float]:
    """Each metric on the whole sample (every example once), leaving out those it leaves undefined."""
    values = _values(statistics, np.ones((1, examples)))
    return {name: float(value[0]) for name, value in values.items() if np.isfinite(value[0])}


# ------------------------------------------------------------------------------------------- alignment


def align_examples(
    candidate_rows: Sequence[Mapping[str, Any]], baseline_rows: Sequence[Mapping[str, Any]]
) -> tuple[list[Mapping[str, Any]], list[Mapping[str, Any]], str]:
    """Pair the per-example rows of both models: by ``prompt_id`` when every row has one, else by position.

    The id is read from a row's ``prompt_id`` or from its ``metadata`` (the gen_qa record's, a JSON string
    or an object).

    :returns: both lists in the candidate's order, and ``"prompt_id"`` or ``"position"``.
    :raises ValueError: when the two were not evaluated on the same prompts.
    """
    candidate_ids, baseline_ids = (
        _prompt_ids(candidate_rows, "candidate"),
        _prompt_ids(baseline_rows, "baseline"),
    )
    if candidate_ids is None or baseline_ids is None:
        if len(candidate_rows) != len(baseline_rows):
            raise ValueError(
                f"the candidate has {len(candidate_rows)} per-example scores and the baseline "
                f"{len(baseline_rows)}, with no prompt_id to pair them by; evaluate both on the same gen_qa set"
            )
        return list(candidate_rows), list(baseline_rows), "position"
    candidate_set, baseline_set = set(candidate_ids), set(baseline_ids)
    only_candidate = [pid for pid in candidate_ids if pid not in baseline_set]
    only_baseline = [pid for pid in baseline_ids if pid not in candidate_set]
    if only_candidate or only_baseline:
        raise ValueError(
            "the candidate and the baseline were evaluated on different prompts: "
            f"{len(only_candidate)} prompt_ids only in the candidate {only_candidate[:3]}, "
            f"{len(only_baseline)} only in the baseline {only_baseline[:3]}; evaluate both on the same gen_qa set"
        )
    position = {pid: index for index, pid in enumerate(baseline_ids)}
    return list(candidate_rows), [baseline_rows[position[pid]] for pid in candidate_ids], "prompt_id"


def _prompt_ids(rows: Sequence[Mapping[str, Any]], side: str) -> list[str] | None:
    ids = [_prompt_id(row) for row in rows]
    if not ids or None in ids:
        return None
    duplicates = sorted(pid for pid, count in Counter(ids).items() if count > 1)
    if duplicates:
        raise ValueError(f"the {side} results score prompt_ids more than once: {duplicates[:3]}")
    return ids


def _prompt_id(row: Mapping[str, Any]) -> str | None:
    value = row.get("prompt_id")
    if value is None:
        value = (parse_metadata(row.get("metadata")) or {}).get("prompt_id")
    return None if value is None else str(value)
