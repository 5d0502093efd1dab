"""The metric gate: rules in, verdict and reasons out.

The candidate model and the baseline (the family's champion, or the base model) answered the same gen_qa
prompts. The gate compares them metric by metric with a paired bootstrap: it resamples prompts, the same
draw for both models, and recomputes every metric on each resample. Pairing cancels the variation between
prompts, which is most of the noise, so real differences show with fewer prompts. A corpus-level metric
(``bleu``, the tool-call precision/recall/F1, an accuracy over a subset of prompts) is recomputed from the
summed per-example counts of the resample, exactly as its full-sample value is, never averaged.

* A **required gain** passes when the relative gain reaches the minimum *and* the interval of the
  difference lies entirely on the side of a gain: noise cannot promote a candidate.
* A **regression** fails when the candidate is worse by more than the tolerance *and* the interval lies
  entirely on the side of a loss: noise cannot block a candidate either.
* **The judge**, when required, must prefer the candidate beyond doubt: the lower end of its win-rate
  interval (Nova's ``lower_rate``) must be above 0.5.

A rule that cannot be checked (a metric missing from a side, no per-example scores to test it on, no judge
results) fails and says why; it never passes silently.

The rules themselves, their validation and their JSON schema live in :mod:`nova_dpo.gate_rules`, which
imports no numerics (the DAG file builds its trigger form from them); ``GateRules`` is importable from here.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from nova_dpo.evaluation.gen_qa_metrics import parse_metadata
from nova_dpo.evaluation.names import BEHAVIOUR_ACCURACY_PREFIX, GEN_QA_METRICS
from nova_dpo.evaluation.results import STDERR_SUFFIX, parse_results
from nova_dpo.evaluation.stats import DEFAULT_RESAMPLES, DEFAULT_SEED, bootstrap_indices
from nova_dpo.evaluation.text_metrics import bleu_of_summed_statistics
from nova_dpo.gate_rules import DEFAULT_WATCHED_METRICS, GateRules

# Metrics where a smaller value is better. None of the gen_qa or tool-use metrics is, but an error rate or
# a latency would be; every comparison is oriented by this set so that "gain" always means "better".
LOWER_IS_BETTER: frozenset[str] = frozenset()

_MEAN_METRICS = tuple(name for name in GEN_QA_METRICS if name != "bleu")

# Judges must beat a coin toss: Nova's lower_rate is the 2.5th percentile of the bootstrapped win rate.
JUDGE_WIN_THRESHOLD = 0.5
JUDGE_KEYS = ("winrate", "lower_rate", "upper_rate", "a_scores", "b_scores", "ties", "inference_error")
_JUDGE_REQUIRED_KEYS = ("winrate", "lower_rate", "upper_rate")


# ------------------------------------------------------------------------- per-example recomputation


@dataclass(frozen=True)
class _Statistic:
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


def _ratio_of(numerator: Any, denominator: Any) -> _Statistic:
    columns = np.column_stack([numerator, denominator]).astype(float)
    return _Statistic(columns, _ratio, support=int(np.count_nonzero(columns[:, 1])))


def _field(rows: Sequence[Mapping[str, Any]], key: str) -> list[Any] | None:
    """The values of one per-example field, or None when some row lacks it."""
    if not rows or any(key not in row for row in rows):
        return None
    return [row[key] for row in rows]


def metric_statistics(rows: Sequence[Mapping[str, Any]]) -> dict[str, _Statistic]:
    """Every metric that the per-example rows (of :func:`~nova_dpo.evaluation.gen_qa_metrics.score_example`)
    let us recompute on a resample, under its reported name."""
    statistics: dict[str, _Statistic] = {}
    ones = np.ones(len(rows))
    for name in _MEAN_METRICS:
        values = _field(rows, name)
        if values is not None:
            statistics[name] = _ratio_of(values, ones)
    bleu = _field(rows, "bleu_statistics")
    if bleu is not None:
        statistics["bleu"] = _Statistic(
            np.asarray(bleu, dtype=float).reshape(-1, 10), bleu_of_summed_statistics, support=len(rows)
        )
    statistics.update(_tool_use_statistics(rows, ones))
    return statistics


def _tool_use_statistics(rows: Sequence[Mapping[str, Any]], ones: np.ndarray) -> dict[str, _Statistic]:
    """The tool-use metrics as ratios of sums, defined as :func:`~nova_dpo.evaluation.tool_metrics.aggregate_tool_use`."""
    statistics: dict[str, _Statistic] = {}
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


def _values(statistics: Mapping[str, _Statistic], weights: np.ndarray) -> dict[str, np.ndarray]:
    sums = _weighted_sums(np.atleast_2d(np.asarray(weights, dtype=float)), list(statistics.values()))
    return {name: s.of_sums(summed) for (name, s), summed in zip(statistics.items(), sums, strict=True)}


def _weighted_sums(weights: np.ndarray, statistics: Sequence[_Statistic]) -> list[np.ndarray]:
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
    return _paired_intervals(
        metric_statistics(candidate_rows),
        metric_statistics(baseline_rows),
        len(candidate_rows),
        confidence=confidence,
        resamples=resamples,
        seed=seed,
    )


def _paired_intervals(
    candidate: Mapping[str, _Statistic],
    baseline: Mapping[str, _Statistic],
    examples: int,
    *,
    confidence: float,
    resamples: int,
    seed: int,
) -> dict[str, PairedInterval]:
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


# ------------------------------------------------------------------------------------------ comparison


@dataclass(frozen=True)
class MetricComparison:
    """One row of the verdict's metric table.

    ``difference`` and its interval (``ci_low``, ``ci_high``) are candidate - baseline as measured;
    ``relative_gain`` is oriented (positive = better, also where lower is better) and None when the
    baseline is 0. Interval fields are None where the results lack the per-example scores to bootstrap.
    ``baseline_support`` and ``candidate_support`` count the examples each value rests on (see
    :attr:`GateRules.min_support`), None without per-example scores.
    """

    baseline: float | None
    candidate: float | None
    difference: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    relative_gain: float | None = None
    baseline_low: float | None = None
    baseline_high: float | None = None
    candidate_low: float | None = None
    candidate_high: float | None = None
    higher_is_better: bool = True
    baseline_support: int | None = None
    candidate_support: int | None = None

    @property
    def support(self) -> int | None:
        """The fewer examples of the two sides' values, when both are known."""
        if self.baseline_support is None or self.candidate_support is None:
            return None
        return min(self.baseline_support, self.candidate_support)

    @property
    def has_interval(self) -> bool:
        return self.ci_low is not None and self.ci_high is not None

    @property
    def improvement(self) -> float | None:
        """The difference oriented so that above 0 means better."""
        if self.difference is None:
            return None
        return self.difference if self.higher_is_better else -self.difference

    @property
    def improvement_interval(self) -> tuple[float, float] | None:
        """The interval of the difference oriented so that above 0 means better."""
        if self.ci_low is None or self.ci_high is None:
            return None
        return (self.ci_low, self.ci_high) if self.higher_is_better else (-self.ci_high, -self.ci_low)


def _comparison(
    name: str,
    baseline: float | None,
    candidate: float | None,
    interval: PairedInterval | None,
    supports: tuple[int | None, int | None] = (None, None),
) -> MetricComparison:
    higher_is_better = name not in LOWER_IS_BETTER
    support = {"baseline_support": supports[0], "candidate_support": supports[1]}
    if baseline is None or candidate is None:
        return MetricComparison(
            baseline=baseline, candidate=candidate, higher_is_better=higher_is_better, **support
        )
    difference = candidate - baseline
    improvement = difference if higher_is_better else -difference
    bounds: dict[str, float] = {}
    if interval is not None:
        bounds = {
            "ci_low": interval.difference[0],
            "ci_high": interval.difference[1],
            "baseline_low": interval.baseline[0],
            "baseline_high": interval.baseline[1],
            "candidate_low": interval.candidate[0],
            "candidate_high": interval.candidate[1],
        }
    return MetricComparison(
        baseline=baseline,
        candidate=candidate,
        difference=difference,
        relative_gain=improvement / abs(baseline) if baseline != 0 else None,
        higher_is_better=higher_is_better,
        **support,
        **bounds,
    )


@dataclass(frozen=True)
class _Side:
    """One model's metric values and per-example rows, read from its results document."""

    metrics: dict[str, float]
    rows: list[Mapping[str, Any]] | None


def _read_side(document: Mapping[str, Any], side: str) -> _Side:
    try:
        parsed = parse_results(document)
    except ValueError as err:
        raise ValueError(f"the {side} results: {err}") from err
    metrics = {name: value for name, value in parsed.metrics.items() if not name.endswith(STDERR_SUFFIX)}
    return _Side(metrics=metrics, rows=parsed.per_example or None)


def compare_results(
    candidate: Mapping[str, Any], baseline: Mapping[str, Any], rules: GateRules
) -> tuple[dict[str, MetricComparison], int | None, str | None]:
    """The metric table of two results documents, with paired bootstrap intervals where both carry scores.

    Values are the full-sample recomputation from per-example scores where possible, so that each point
    estimate and its interval come from the same computation; otherwise the reported value.

    :returns: the table (metric -> comparison), the number of paired examples, and how they were aligned.
    """
    ours, theirs = _read_side(candidate, "candidate"), _read_side(baseline, "baseline")
    intervals: dict[str, PairedInterval] = {}
    our_support: dict[str, int] = {}
    their_support: dict[str, int] = {}
    examples = aligned_by = None
    if ours.rows and theirs.rows:
        candidate_rows, baseline_rows, aligned_by = align_examples(ours.rows, theirs.rows)
        examples = len(candidate_rows)
        # Each side's per-example columns, built once for its full-sample values, supports and intervals.
        our_statistics, their_statistics = metric_statistics(candidate_rows), metric_statistics(baseline_rows)
        ours = _Side({**ours.metrics, **_full_sample(our_statistics, examples)}, candidate_rows)
        theirs = _Side({**theirs.metrics, **_full_sample(their_statistics, examples)}, baseline_rows)
        intervals = _paired_intervals(
            our_statistics,
            their_statistics,
            examples,
            confidence=rules.confidence,
            resamples=rules.resamples,
            seed=rules.seed,
        )
        our_support = {name: statistic.support for name, statistic in our_statistics.items()}
        their_support = {name: statistic.support for name, statistic in their_statistics.items()}
    table = {
        name: _comparison(
            name,
            theirs.metrics.get(name),
            ours.metrics.get(name),
            intervals.get(name),
            (their_support.get(name), our_support.get(name)),
        )
        for name in ordered_metrics({*ours.metrics, *theirs.metrics})
    }
    return table, examples, aligned_by


def _full_sample(statistics: Mapping[str, _Statistic], examples: int) -> dict[str, float]:
    values = _values(statistics, np.ones((1, examples)))
    return {name: float(value[0]) for name, value in values.items() if np.isfinite(value[0])}


def ordered_metrics(names: set[str] | Sequence[str]) -> list[str]:
    """Metric names in report order: Nova's gen_qa order, then tool use, then the rest alphabetically."""
    known = [name for name in DEFAULT_WATCHED_METRICS if name in names]
    return known + sorted(set(names) - set(known))


# --------------------------------------------------------------------------------------------- judge


@dataclass(frozen=True)
class JudgeSummary:
    """The llm_judge figures the gate reads (B = the candidate, A = the baseline); None where not reported."""

    winrate: float | None = None
    lower_rate: float | None = None
    upper_rate: float | None = None
    a_scores: float | None = None
    b_scores: float | None = None
    ties: float | None = None
    inference_error: float | None = None

    @classmethod
    def from_results(cls, judge: Mapping[str, Any]) -> JudgeSummary:
        """From an llm_judge results document, or from a flat dict of its metrics."""
        metrics = parse_results(judge).metrics if "results" in judge else judge
        return cls(**{key: _number_or_none(metrics.get(key)) for key in JUDGE_KEYS})

    @property
    def missing(self) -> list[str]:
        return [key for key in _JUDGE_REQUIRED_KEYS if getattr(self, key) is None]


def _number_or_none(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


# ------------------------------------------------------------------------------------------- verdict


@dataclass(frozen=True)
class RuleCheck:
    """The outcome of one rule on one metric (or on the judge), with the reason in words."""

    rule: str
    subject: str
    passed: bool
    reason: str


@dataclass(frozen=True)
class GateVerdict:
    """The gate's decision: passed when every check passed.

    :param checks: one per rule and metric, each with a human-readable reason.
    :param metrics: the metric table, in report order.
    :param judge: the judge's figures, when judge results were given.
    :param rules: the rules applied.
    :param examples: the number of paired examples behind the intervals (None without per-example scores).
    :param aligned_by: ``"prompt_id"`` or ``"position"``.
    """

    passed: bool
    checks: tuple[RuleCheck, ...]
    metrics: dict[str, MetricComparison]
    judge: JudgeSummary | None
    rules: GateRules
    examples: int | None = None
    aligned_by: str | None = None

    @property
    def reasons(self) -> list[str]:
        """One line per check, each ending in ``pass`` or ``fail``."""
        return [check.reason for check in self.checks]

    @property
    def failed_checks(self) -> list[RuleCheck]:
        return [check for check in self.checks if not check.passed]

    def summary(self) -> str:
        """One line for logs and notifications."""
        failed = self.failed_checks
        counts = f"{len(self.checks) - len(failed)} of {len(self.checks)} checks passed"
        if not failed:
            return f"gate passed: {counts}"
        names = ", ".join(f"{check.subject} ({check.rule})" for check in failed)
        return f"gate failed: {counts}; failing: {names}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-serializable (no NaN); ``summary`` and ``reasons`` are included for readers of the file."""
        return {
            "passed": self.passed,
            "summary": self.summary(),
            "reasons": self.reasons,
            "checks": [asdict(check) for check in self.checks],
            "metrics": {name: asdict(row) for name, row in self.metrics.items()},
            "judge": asdict(self.judge) if self.judge is not None else None,
            "rules": self.rules.to_dict(),
            "examples": self.examples,
            "aligned_by": self.aligned_by,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GateVerdict:
        """Read back what :meth:`to_dict` wrote (``summary`` and ``reasons`` are derived, not read)."""
        return cls(
            passed=bool(data["passed"]),
            checks=tuple(RuleCheck(**check) for check in data["checks"]),
            metrics={name: MetricComparison(**row) for name, row in data["metrics"].items()},
            judge=JudgeSummary(**data["judge"]) if data.get("judge") is not None else None,
            rules=GateRules.from_dict(data["rules"]),
            examples=data.get("examples"),
            aligned_by=data.get("aligned_by"),
        )


def evaluate_gate(
    candidate: Mapping[str, Any],
    baseline: Mapping[str, Any],
    judge: Mapping[str, Any] | None,
    rules: GateRules,
) -> GateVerdict:
    """Apply ``rules`` to the candidate's and the baseline's gen_qa results and the pairwise judge results.

    :param candidate: the candidate's results document, as :mod:`nova_dpo.evaluation.results` writes it,
        with ``per_example`` scores (without them no gain can be shown significant).
    :param baseline: the baseline's, on the same prompts.
    :param judge: the llm_judge results (response B = the candidate), or None when no judge ran.
    :raises ValueError: when the documents are not results, or cover different prompts.
    """
    table, examples, aligned_by = compare_results(candidate, baseline, rules)
    summary = JudgeSummary.from_results(judge) if judge is not None else None
    checks = [
        *(_gain_check(name, table.get(name), gain, rules) for name, gain in rules.min_relative_gain.items()),
        *(
            _regression_check(name, table.get(name), tolerance, "max_relative_regression", rules)
            for name, tolerance in rules.max_relative_regression.items()
        ),
        *_watched_checks(table, rules),
    ]
    if rules.require_judge_win:
        checks.append(_judge_check(summary))
    if not checks:
        reason = (
            "no rules were set: nothing was required of the candidate: pass"
            if rules.is_empty
            else "no rule applied to these results (the baseline reports none of the watched metrics): "
            "nothing was required of the candidate: pass"
        )
        checks.append(RuleCheck(rule="none", subject="rules", passed=True, reason=reason))
    return GateVerdict(
        passed=all(check.passed for check in checks),
        checks=tuple(checks),
        metrics=table,
        judge=summary,
        rules=rules,
        examples=examples,
        aligned_by=aligned_by,
    )


def _watched_checks(table: Mapping[str, MetricComparison], rules: GateRules) -> list[RuleCheck]:
    """The default tolerance on every watched metric the baseline reports and no explicit rule names."""
    if rules.default_regression_tolerance is None:
        return []
    explicit = {*rules.min_relative_gain, *rules.max_relative_regression}
    checks = []
    for name in rules.watched_metrics:
        row = table.get(name)
        if name in explicit or row is None or row.baseline is None:
            # Not reported for the baseline: there is nothing the candidate could regress from.
            continue
        checks.append(
            _regression_check(
                name, row, rules.default_regression_tolerance, "default_regression_tolerance", rules
            )
        )
    return checks


def _gain_check(name: str, row: MetricComparison | None, required: float, rules: GateRules) -> RuleCheck:
    rule = "min_relative_gain"
    if row is None or row.improvement is None:
        return _missing(name, row, rule)
    too_few = _too_few(row, rules)
    if too_few:
        return _check(
            rule, name, False, f"{_describe(name, row, rules.confidence)} rests on {too_few} to show a gain"
        )
    required_text = f"required {required:+.1%}"
    # From a baseline of 0 any gain is an infinite relative gain.
    reaches = row.relative_gain >= required if row.relative_gain is not None else row.improvement > 0
    interval = row.improvement_interval
    if not reaches:
        passed, outcome = False, f"< {required_text}"
    elif interval is None:
        passed, outcome = (
            False,
            f"≥ {required_text} but without per-example scores it cannot be shown significant",
        )
    elif interval[0] <= 0:
        passed, outcome = (
            False,
            f"≥ {required_text} but not significant (the interval does not lie {_better_side(row)} 0)",
        )
    else:
        passed, outcome = True, f"≥ {required_text}"
    return _check(rule, name, passed, f"{_describe(name, row, rules.confidence)} {outcome}")


def _regression_check(
    name: str, row: MetricComparison | None, tolerance: float, rule: str, rules: GateRules
) -> RuleCheck:
    if row is None or row.improvement is None:
        return _missing(name, row, rule)
    too_few = _too_few(row, rules)
    if too_few:
        reason = f"rests on {too_few} to tell a loss from noise, so it is not checked"
        return _check(rule, name, True, f"{_describe(name, row, rules.confidence)} {reason}")
    tolerated = f"the tolerated -{tolerance:.1%}"
    beyond = row.relative_gain < -tolerance if row.relative_gain is not None else row.improvement < 0
    interval = row.improvement_interval
    if not beyond:
        passed, outcome = True, f"within {tolerated}"
    elif interval is None:
        passed, outcome = (
            False,
            f"beyond {tolerated}, and without per-example scores it cannot be told from noise",
        )
    elif interval[1] < 0:
        passed, outcome = False, f"beyond {tolerated} and the interval lies {_worse_side(row)} 0"
    else:
        passed, outcome = True, f"beyond {tolerated} but the interval reaches 0 (within the noise)"
    return _check(rule, name, passed, f"{_describe(name, row, rules.confidence)} {outcome}")


def _too_few(row: MetricComparison, rules: GateRules) -> str:
    """Why the row's values rest on too few examples for a rule to judge them; empty when they do not."""
    if row.support is None or row.support >= rules.min_support:
        return ""
    return (
        f"too few examples (baseline {row.baseline_support}, candidate {row.candidate_support}; "
        f"min_support {rules.min_support})"
    )


def _judge_check(summary: JudgeSummary | None) -> RuleCheck:
    rule, subject = "require_judge_win", "judge"
    if summary is None:
        return _check(
            rule, subject, False, "judge: a judge win is required but no llm_judge results were given"
        )
    if summary.missing:
        return _check(rule, subject, False, f"judge: the llm_judge results lack {', '.join(summary.missing)}")
    described = (
        f"judge: candidate win rate {summary.winrate:.3f} "
        f"(bootstrap interval [{summary.lower_rate:.3f}, {summary.upper_rate:.3f}]), "
        f"lower bound {summary.lower_rate:.3f}"
    )
    if summary.lower_rate > JUDGE_WIN_THRESHOLD:
        return _check(rule, subject, True, f"{described} > {JUDGE_WIN_THRESHOLD} required")
    return _check(rule, subject, False, f"{described} ≤ {JUDGE_WIN_THRESHOLD}, not a clear win")


def _check(rule: str, subject: str, passed: bool, reason: str) -> RuleCheck:
    return RuleCheck(rule, subject, passed, f"{reason}: {'pass' if passed else 'fail'}")


def _missing(name: str, row: MetricComparison | None, rule: str) -> RuleCheck:
    sides = [side for side in ("candidate", "baseline") if row is None or getattr(row, side) is None]
    return _check(
        rule,
        name,
        False,
        f"{name}: not reported in the {' and the '.join(sides)} results, but {rule} checks it",
    )


def _describe(name: str, row: MetricComparison, confidence: float) -> str:
    change = f"{row.relative_gain:+.1%}" if row.relative_gain is not None else f"{row.difference:+.3f} from 0"
    if not row.higher_is_better:
        change += " better (lower is better)"
    if row.has_interval:
        interval = f", {confidence * 100:g}% CI of the difference [{row.ci_low:+.3f}, {row.ci_high:+.3f}]"
    else:
        interval = ", no interval: no per-example scores for it"
    return f"{name}: {change} ({row.baseline:.3f} → {row.candidate:.3f}{interval})"


def _better_side(row: MetricComparison) -> str:
    return "above" if row.higher_is_better else "below"


def _worse_side(row: MetricComparison) -> str:
    return "below" if row.higher_is_better else "above"
