"""The metric gate: rules in, verdict and reasons out.

The candidate model and the baseline (the family's champion, or the base model) answered the same gen_qa
prompts. The gate compares them metric by metric, each difference with a paired bootstrap interval
(:mod:`nova_dpo.gate_statistics`: the same resampled prompts for both models, corpus-level metrics
recomputed from summed per-example counts).

* A **required gain** passes when the relative gain reaches the minimum *and* the interval of the
  difference lies entirely on the side of a gain: noise cannot promote a candidate.
* A **regression** fails when the candidate is worse by more than the tolerance *and* the interval lies
  entirely on the side of a loss: noise cannot block a candidate either.
* A **significant loss** fails when the whole interval lies beyond a loss of the tolerance (in the metric's
  units): the guard of each behaviour category, which a category the evaluation set lacks passes with a note.
* **The judge**, when required, must prefer the candidate beyond doubt: the lower end of its win-rate
  interval (Nova's ``lower_rate``) must be above 0.5.

A rule that cannot be checked (a metric missing from a side, no per-example scores to test it on, no judge
results) fails and says why; it never passes silently.

The rules themselves, their validation and their JSON schema live in :mod:`nova_dpo.gate_rules`, which
imports no numerics (the DAG file builds its trigger form from them); ``GateRules`` is importable from here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from nova_dpo.evaluation.names import LOWER_IS_BETTER, OUTCOME_MIX_PREFIX
from nova_dpo.evaluation.results import STDERR_SUFFIX, parse_results
from nova_dpo.gate_rules import DEFAULT_WATCHED_METRICS, GateRules
from nova_dpo.gate_statistics import (
    PairedInterval,
    align_examples,
    full_sample_values,
    metric_statistics,
    paired_intervals,
)

# Judges must beat a coin toss: Nova's lower_rate is the 2.5th percentile of the bootstrapped win rate.
JUDGE_WIN_THRESHOLD = 0.5
JUDGE_KEYS = ("winrate", "lower_rate", "upper_rate", "a_scores", "b_scores", "ties", "inference_error")
_JUDGE_REQUIRED_KEYS = ("winrate", "lower_rate", "upper_rate")


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
    # Every comparison is oriented by LOWER_IS_BETTER, so that "gain" always means "better".
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
    # The outcome mix counts answers, for the report: no count is compared.
    metrics = {
        name: value
        for name, value in parsed.metrics.items()
        if not name.endswith(STDERR_SUFFIX) and not name.startswith(OUTCOME_MIX_PREFIX)
    }
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
        ours = _Side({**ours.metrics, **full_sample_values(our_statistics, examples)}, candidate_rows)
        theirs = _Side({**theirs.metrics, **full_sample_values(their_statistics, examples)}, baseline_rows)
        intervals = paired_intervals(
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
    #: The judge's calibration (``config_general.judge_calibration`` of a local run's results); None where the
    #: judge was not calibrated here (Nova's own judge).
    calibration: Mapping[str, Any] | None = None

    @classmethod
    def from_results(cls, judge: Mapping[str, Any]) -> JudgeSummary:
        """From an llm_judge results document, or from a flat dict of its metrics."""
        metrics = parse_results(judge).metrics if "results" in judge else judge
        calibration = (judge.get("config_general") or {}).get("judge_calibration")
        return cls(
            **{key: _number_or_none(metrics.get(key)) for key in JUDGE_KEYS},
            calibration=calibration if isinstance(calibration, Mapping) else None,
        )

    @property
    def uncalibrated(self) -> bool:
        """The judge was calibrated and failed: its verdicts are not to be used."""
        return self.calibration is not None and self.calibration.get("calibrated") is not True

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
        *(
            _loss_check(name, table.get(name), tolerance, rules)
            for name, tolerance in rules.no_significant_loss.items()
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
    explicit = {*rules.min_relative_gain, *rules.max_relative_regression, *rules.no_significant_loss}
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
    unjudged = _unjudged_loss(name, row, rule, rules)
    if unjudged is not None:
        return unjudged
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


def _loss_check(name: str, row: MetricComparison | None, tolerance: float, rules: GateRules) -> RuleCheck:
    rule = "no_significant_loss"
    if row is None or (row.baseline is None and row.candidate is None):
        reason = (
            "reported by neither model (no example of the evaluation set defines it), so it is not checked"
        )
        return _check(rule, name, True, f"{name}: {reason}")
    unjudged = _unjudged_loss(name, row, rule, rules)
    if unjudged is not None:
        return unjudged
    loss = f"a loss of {tolerance:g}"
    interval = row.improvement_interval
    if interval is None:
        passed = row.improvement >= -tolerance
        outcome = (
            f"no loss beyond {loss}"
            if passed
            else f"beyond {loss}, and without per-example scores it cannot be told from noise"
        )
    elif interval[1] < -tolerance:
        passed, outcome = False, f"the whole interval lies beyond {loss}: a significant loss"
    else:
        passed, outcome = True, f"the interval does not lie beyond {loss}: no significant loss"
    return _check(rule, name, passed, f"{_describe(name, row, rules.confidence)} {outcome}")


def _unjudged_loss(name: str, row: MetricComparison | None, rule: str, rules: GateRules) -> RuleCheck | None:
    """The check of a loss rule that cannot judge the metric (it is missing, or rests on too few examples);
    None when it can."""
    if row is None or row.improvement is None:
        return _missing(name, row, rule)
    too_few = _too_few(row, rules)
    if too_few:
        reason = f"rests on {too_few} to tell a loss from noise, so it is not checked"
        return _check(rule, name, True, f"{_describe(name, row, rules.confidence)} {reason}")
    return None


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
    if summary.uncalibrated:
        return _check(
            rule,
            subject,
            True,
            f"judge: not calibrated (picked the known-better answer {summary.calibration.get('reference_second')} "
            f"/ {summary.calibration.get('reference_first')} of the time, shown second / first; "
            f"{summary.calibration.get('threshold')} needed): its verdict is not used",
        )
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
