"""The report of a run: ``report.md`` for people and ``report.png`` for a glance.

The markdown says what was trained (run id, dataset version, recipe), what the gate decided and why, the
metrics with their bootstrap intervals, the judge's verdict, how training went and what it cost. The text is
deterministic: the same inputs give the same bytes, and the only times in it are those passed in ``run``.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nova_dpo.data.when2call import CATEGORIES, DIRECT
from nova_dpo.evaluation.behaviour import OUTCOMES
from nova_dpo.evaluation.names import outcome_mix_cell
from nova_dpo.evaluation.results import parse_results
from nova_dpo.gate import JUDGE_WIN_THRESHOLD, GateVerdict, JudgeSummary, MetricComparison

REPORT_MARKDOWN = "report.md"
REPORT_PNG = "report.png"

# Shown first and in this order; other keys of ``run`` follow alphabetically.
RUN_FIELDS = {
    "run_id": "run id",
    "dataset_version": "dataset version",
    "recipe_sha": "recipe sha",
    "recipe": "recipe",
    "platform": "platform",
    "model_family": "model family",
    "logical_date": "logical date",
    "candidate_model": "candidate model",
    "baseline_model": "baseline model",
}
_ALWAYS_SHOWN = ("dataset_version", "recipe_sha")
COST_FIELDS = {
    "instance_type": "instance type",
    "instance_count": "instance count",
    "billable_seconds": "billable seconds",
    "estimated_usd": "estimated cost (USD)",
}
# Corpus BLEU is on a 0-100 scale; plotted divided by this so it shares the 0-1 axis of the others.
_PERCENT_SCALED = {"bleu": 100.0}
_STEP, _LOSS = "step_number", "training_loss"
_REWARD_PREFIX = "rewards_"


@dataclass(frozen=True)
class TrainingCurve:
    """The step-wise training metrics: ``step_number`` and the other numeric columns (NaN where blank)."""

    steps: list[float]
    columns: dict[str, list[float]]

    @property
    def loss(self) -> list[float]:
        return self.columns[_LOSS]

    @property
    def reward_columns(self) -> list[str]:
        return [name for name in self.columns if name.startswith(_REWARD_PREFIX)]


def read_training_metrics(path: str | Path) -> TrainingCurve:
    """Read ``step_wise_training_metrics.csv`` (Nova's columns ``step_number``, ``training_loss``, plus
    the reward columns the local trainer adds, e.g. ``rewards_accuracies``, ``rewards_margins``).

    :raises ValueError: when the two required columns are missing.
    """
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        header = reader.fieldnames or []
        missing = [name for name in (_STEP, _LOSS) if name not in header]
        if missing:
            raise ValueError(f"{path}: training metrics lack the columns {missing}; found {header}")
        rows = list(reader)
    columns = {name: [_as_float(row.get(name)) for row in rows] for name in header if name != _STEP}
    return TrainingCurve(steps=[_as_float(row[_STEP]) for row in rows], columns=columns)


def _as_float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def write_report(
    folder: str | Path,
    *,
    run: Mapping[str, Any],
    verdict: GateVerdict | Mapping[str, Any],
    candidate: Mapping[str, Any],
    baseline: Mapping[str, Any],
    judge: Mapping[str, Any] | None,
    training_metrics_csv: str | Path | None,
    cost: Mapping[str, Any] | None,
) -> Path:
    """Write ``report.md`` and ``report.png`` into ``folder`` and return the markdown's path.

    :param run: what identifies the run: ``run_id``, ``dataset_version``, ``recipe_sha`` and any other
        facts to show (``platform``, ``logical_date``, model names...).
    :param verdict: the gate's verdict, or its :meth:`~nova_dpo.gate.GateVerdict.to_dict`.
    :param candidate: the candidate's gen_qa results document; ``baseline`` the baseline's.
    :param judge: the llm_judge results document, or None when no judge ran.
    :param training_metrics_csv: ``step_wise_training_metrics.csv``, or None when training left none.
    :param cost: ``billable_seconds``, ``instance_type``, ``instance_count``, ``estimated_usd`` (any of them,
        plus other facts to show), optionally ``jobs``: a list of such dicts, one per job.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if not isinstance(verdict, GateVerdict):
        verdict = GateVerdict.from_dict(verdict)
    training = _training_curve(training_metrics_csv)
    # The verdict carries the judge's figures when the gate saw them; a judge it did not see still shows.
    judge_summary = verdict.judge or (JudgeSummary.from_results(judge) if judge is not None else None)
    plot_report(
        folder / REPORT_PNG, verdict, judge_summary, training if isinstance(training, TrainingCurve) else None
    )
    markdown = render_markdown(
        run=run,
        verdict=verdict,
        candidate=candidate,
        baseline=baseline,
        judge=judge_summary,
        training=training,
        cost=cost,
    )
    target = folder / REPORT_MARKDOWN
    target.write_text(markdown, encoding="utf-8")
    return target


def _training_curve(path: str | Path | None) -> TrainingCurve | str:
    """The training curve, or a sentence saying why there is none (the report is written regardless)."""
    if path is None:
        return "No training metrics were given."
    if not Path(path).is_file():
        return f"The training metrics file `{Path(path).name}` was not found."
    return read_training_metrics(path)


# ------------------------------------------------------------------------------------------ markdown


def render_markdown(
    *,
    run: Mapping[str, Any],
    verdict: GateVerdict,
    candidate: Mapping[str, Any],
    baseline: Mapping[str, Any],
    judge: JudgeSummary | None,
    training: TrainingCurve | str,
    cost: Mapping[str, Any] | None,
) -> str:
    """The report's markdown text."""
    sections = [
        _run_section(run),
        _verdict_section(verdict),
        _metrics_section(verdict, candidate, baseline),
        _outcomes_section(candidate, baseline),
        _judge_section(judge),
        f"## Plots\n\n![Candidate vs baseline, judge and training]({REPORT_PNG})",
        _training_section(training),
        _cost_section(cost),
    ]
    return "\n\n".join(sections) + "\n"


def _run_section(run: Mapping[str, Any]) -> str:
    title = f"# DPO run {run.get('run_id', 'unknown')}"
    # What was trained is always stated, if only to say it was not recorded.
    keys = [key for key in RUN_FIELDS if key in run or key in _ALWAYS_SHOWN]
    keys += sorted(key for key in run if key not in RUN_FIELDS)
    rows = [
        (RUN_FIELDS.get(key, key.replace("_", " ")), _text(run[key]) if key in run else "–")
        for key in keys
        if key != "run_id"
    ]
    return f"{title}\n\n{_table(('', ''), rows)}"


def _verdict_section(verdict: GateVerdict) -> str:
    heading = "## Verdict: PASSED" if verdict.passed else "## Verdict: FAILED"
    lines = [f"- {'✅' if check.passed else '❌'} {check.reason}" for check in verdict.checks]
    return f"{heading}\n\n{verdict.summary()}\n\n" + "\n".join(lines)


def _metrics_section(verdict: GateVerdict, candidate: Mapping[str, Any], baseline: Mapping[str, Any]) -> str:
    rules = verdict.rules
    confidence = f"{rules.confidence * 100:g}%"
    if verdict.examples is not None:
        method = (
            f"Paired bootstrap over {verdict.examples} prompts (aligned by {verdict.aligned_by}), "
            f"{rules.resamples} resamples, seed {rules.seed}; {confidence} percentile intervals."
        )
    else:
        method = "The results carry no per-example scores, so there are no intervals."
    models = (
        f"Candidate: {_model_name(candidate)}. Baseline: {_model_name(baseline)}. "
        "Relative change is oriented: positive means better. Examples: how many each value rests on (for a "
        f"precision, the calls made); no rule judges a metric on fewer than {rules.min_support}."
    )
    header = (
        "metric",
        "baseline",
        "candidate",
        "difference",
        f"{confidence} CI of the difference",
        "relative change",
        "examples (baseline / candidate)",
    )
    rows = [_metric_row(name, row) for name, row in verdict.metrics.items()]
    return f"## Metrics\n\n{method} {models}\n\n{_table(header, rows)}"


def _metric_row(name: str, row: MetricComparison) -> tuple[str, ...]:
    interval = f"[{row.ci_low:+.4f}, {row.ci_high:+.4f}]" if row.has_interval else "–"
    return (
        name,
        _number(row.baseline),
        _number(row.candidate),
        _number(row.difference, signed=True),
        interval,
        f"{row.relative_gain:+.1%}" if row.relative_gain is not None else "–",
        f"{row.baseline_support} / {row.candidate_support}" if row.support is not None else "–",
    )


def _outcomes_section(candidate: Mapping[str, Any], baseline: Mapping[str, Any]) -> str:
    """Per model, how many answers had each outcome, by the behaviour their prompt expected."""
    note = (
        "What each model's answers did, counted by the behaviour each prompt expected (the diagonal counts the "
        "answers that had it). A direct answer neither calls a tool, asks nor declines; a malformed call tries "
        "to call a tool and does not parse."
    )
    parts = [f"## Answer outcomes\n\n{note}"]
    for role, document in (("Candidate", candidate), ("Baseline", baseline)):
        parts.append(f"### {role}: {_model_name(document)}\n\n{_outcome_table(document)}")
    return "\n\n".join(parts)


def _outcome_table(document: Mapping[str, Any]) -> str:
    counts: dict[str, dict[str, float]] = {}
    for name, value in parse_results(document).metrics.items():
        cell = outcome_mix_cell(name)
        if cell is not None:
            counts.setdefault(cell[0], {})[cell[1]] = value
    if not counts:
        return "The results carry no outcome mix."
    known = [category for category in (*CATEGORIES, DIRECT) if category in counts]
    rows = [
        (
            category,
            *(_number(counts[category].get(outcome), digits=0) for outcome in OUTCOMES),
            _number(sum(counts[category].values()), digits=0),
        )
        for category in known + sorted(set(counts) - set(known))
    ]
    return _table(("expected behaviour", *OUTCOMES, "prompts"), rows)


def _model_name(document: Mapping[str, Any]) -> str:
    config = parse_results(document).config
    return f"`{config['model_name']}`" if config.get("model_name") else "unnamed"


def _judge_section(summary: JudgeSummary | None) -> str:
    if summary is None:
        return "## LLM judge\n\nNo judge evaluation was run."
    interval = (
        f"[{summary.lower_rate:.3f}, {summary.upper_rate:.3f}]"
        if summary.lower_rate is not None and summary.upper_rate is not None
        else "–"
    )
    rows = [
        ("candidate win rate", _number(summary.winrate, digits=3)),
        ("95% bootstrap interval", interval),
        ("candidate preferred (B)", _number(summary.b_scores, digits=0)),
        ("baseline preferred (A)", _number(summary.a_scores, digits=0)),
        ("ties", _number(summary.ties, digits=0)),
        ("judge errors", _number(summary.inference_error, digits=0)),
    ]
    note = (
        "Each pair is judged twice, the second time with the answers swapped; ties count half a win. "
        f"A clear win needs the interval's lower end above {JUDGE_WIN_THRESHOLD}."
    )
    return f"## LLM judge\n\n{note}\n\n{_table(('', ''), rows)}{_calibration(summary.calibration)}"


def _calibration(calibration: Mapping[str, Any] | None) -> str:
    """How often the judge picked the known-better answer before its verdicts were used."""
    if calibration is None:
        return ""
    verdict = (
        "**calibrated**: its verdicts count"
        if calibration.get("calibrated")
        else "**not calibrated**: its verdicts are shown but the gate does not use them"
    )
    rows = [
        ("reference shown second (B)", _number(calibration.get("reference_second"), digits=2)),
        ("reference shown first (A)", _number(calibration.get("reference_first"), digits=2)),
        *(
            (f"{kind.replace('_', ' ')}", _number(share, digits=2))
            for kind, share in (calibration.get("per_kind") or {}).items()
        ),
    ]
    return (
        f"\n\n### Judge calibration\n\nBefore judging, the judge compared each of {calibration.get('pairs')} "
        "reference answers with a corrupted copy (a wrong tool or argument, a question where a call was due, a "
        "call where a question or a refusal was due), both ways round. Share of passes that picked the reference "
        f"({_number(calibration.get('threshold'), digits=2)} needed in each position): {verdict}.\n\n"
        f"{_table(('', 'picked the reference'), rows)}"
    )


def _training_section(training: TrainingCurve | str) -> str:
    if isinstance(training, str):
        return f"## Training\n\n{training}"
    if not training.steps:
        return "## Training\n\nThe training metrics file holds no steps."
    loss = [value for value in training.loss if math.isfinite(value)]
    lines = [f"- steps logged: {len(training.steps)} (last step {_number(training.steps[-1], digits=0)})"]
    if loss:
        lines.append(
            f"- training loss: {loss[0]:.4f} at the start, {loss[-1]:.4f} at the end, {min(loss):.4f} at best"
        )
    for name in training.reward_columns:
        values = [value for value in training.columns[name] if math.isfinite(value)]
        if values:
            lines.append(f"- {name.replace('_', ' ')}: {values[-1]:.4f} at the end")
    return "## Training\n\n" + "\n".join(lines)


def _cost_section(cost: Mapping[str, Any] | None) -> str:
    if not cost:
        return "## Cost\n\nNo cost information was given."
    parts = ["## Cost"]
    facts = {key: value for key, value in cost.items() if key != "jobs"}
    if facts:
        parts.append(_table(("", ""), _cost_rows(facts)))
    jobs = cost.get("jobs") or []
    if jobs:
        header = ("job", *COST_FIELDS.values())
        rows = [
            (_text(job.get("name", "")), *(_cost_value(key, job.get(key)) for key in COST_FIELDS))
            for job in jobs
        ]
        parts.append(_table(header, rows))
    return "\n\n".join(parts)


def _cost_rows(facts: Mapping[str, Any]) -> list[tuple[str, str]]:
    keys = [key for key in COST_FIELDS if key in facts] + sorted(
        key for key in facts if key not in COST_FIELDS
    )
    return [(COST_FIELDS.get(key, key.replace("_", " ")), _cost_value(key, facts[key])) for key in keys]


def _cost_value(key: str, value: Any) -> str:
    if value is None:
        return "–"
    if key == "estimated_usd" and isinstance(value, int | float):
        return f"${value:,.2f}"
    if key == "billable_seconds" and isinstance(value, int | float):
        return f"{value:,.0f} s ({value / 3600:.2f} h)"
    return _text(value)


def _number(value: float | None, *, digits: int = 4, signed: bool = False) -> str:
    if value is None or not math.isfinite(value):
        return "–"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def _text(value: Any) -> str:
    text = json.dumps(value, sort_keys=True) if isinstance(value, Mapping | list | tuple) else str(value)
    # A pipe would end the table cell.
    return text.replace("|", "\\|").replace("\n", " ")


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


# -------------------------------------------------------------------------------------------- figure


def plot_report(
    path: str | Path, verdict: GateVerdict, judge: JudgeSummary | None, training: TrainingCurve | None
) -> Path:
    """The four-panel PNG: metrics with intervals, relative differences, judge, training curve."""
    # Matplotlib is imported here so that importing this module (e.g. in a DAG file) stays cheap, and the
    # figure is drawn on an Agg canvas without pyplot, whose global state is not safe in a worker.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(15, 11), layout="constrained")
    FigureCanvasAgg(figure)
    (metrics_axes, differences_axes), (judge_axes, training_axes) = figure.subplots(2, 2)
    _plot_metrics(metrics_axes, verdict)
    _plot_differences(differences_axes, verdict)
    _plot_judge(judge_axes, judge)
    _plot_training(training_axes, training)
    failed = len(verdict.failed_checks)
    outcome = "PASSED" if verdict.passed else f"FAILED ({failed} of {len(verdict.checks)} checks failed)"
    figure.suptitle(f"Gate {outcome}", fontsize=14)
    # No "Software" entry: the PNG then does not change with the matplotlib version.
    figure.savefig(path, dpi=90, metadata={"Software": None})
    return Path(path)


def _plotted(verdict: GateVerdict) -> list[tuple[str, MetricComparison]]:
    return [
        (name, row)
        for name, row in verdict.metrics.items()
        if row.baseline is not None and row.candidate is not None
    ]


def _plot_metrics(axes: Any, verdict: GateVerdict) -> None:
    rows = _plotted(verdict)
    if not rows:
        _no_data(axes, "no metric reported by both models")
        return
    height = 0.38
    for offset, side, color in ((-height / 2, "baseline", "#9e9e9e"), (height / 2, "candidate", "#1f77b4")):
        values, errors = [], [[], []]
        for name, row in rows:
            scale = _PERCENT_SCALED.get(name, 1.0)
            value = getattr(row, side) / scale
            low, high = getattr(row, f"{side}_low"), getattr(row, f"{side}_high")
            values.append(value)
            errors[0].append(max(value - low / scale, 0) if low is not None else 0)
            errors[1].append(max(high / scale - value, 0) if high is not None else 0)
        positions = [index + offset for index in range(len(rows))]
        axes.barh(positions, values, height=height, color=color, label=side, xerr=errors, capsize=2)
    axes.set_yticks(range(len(rows)), [_label(name) for name, _ in rows])
    axes.invert_yaxis()
    axes.set_xlabel("value")
    axes.set_title(
        f"Baseline (grey) vs candidate (blue)\nwith {verdict.rules.confidence * 100:g}% bootstrap intervals"
    )


def _plot_differences(axes: Any, verdict: GateVerdict) -> None:
    rows = [(name, row) for name, row in _plotted(verdict) if row.relative_gain is not None]
    if not rows:
        _no_data(axes, "no relative differences to show")
        return
    required = verdict.rules.min_relative_gain
    for index, (name, row) in enumerate(rows):
        gain = row.relative_gain * 100
        interval = row.improvement_interval
        color = "#7f7f7f"
        errors = [[0], [0]]
        if interval is not None:
            low, high = (bound / abs(row.baseline) * 100 for bound in interval)
            errors = [[max(gain - low, 0)], [max(high - gain, 0)]]
            color = "#2ca02c" if low > 0 else "#d62728" if high < 0 else color
        axes.errorbar([gain], [index], xerr=errors, fmt="o", color=color, capsize=3)
        if name in required:
            axes.plot([required[name] * 100], [index], marker="|", markersize=14, color="black")
    axes.axvline(0, color="black", linewidth=0.8)
    axes.set_yticks(range(len(rows)), [name for name, _ in rows])
    axes.invert_yaxis()
    axes.set_xlabel("% of the baseline (positive = better); | marks a required gain")
    axes.set_title("Relative difference with its interval\n(green: significant gain, red: significant loss)")


def _plot_judge(axes: Any, summary: JudgeSummary | None) -> None:
    if summary is None or summary.winrate is None:
        _no_data(axes, "no judge evaluation")
        return
    low = summary.lower_rate if summary.lower_rate is not None else summary.winrate
    high = summary.upper_rate if summary.upper_rate is not None else summary.winrate
    color = "#2ca02c" if low > JUDGE_WIN_THRESHOLD else "#d62728" if high < JUDGE_WIN_THRESHOLD else "#7f7f7f"
    axes.errorbar(
        [summary.winrate],
        [0],
        xerr=[[summary.winrate - low], [high - summary.winrate]],
        fmt="o",
        markersize=10,
        capsize=8,
        color=color,
    )
    _plot_verdict_shares(axes, summary)
    axes.axvline(JUDGE_WIN_THRESHOLD, color="black", linestyle="--", linewidth=1)
    axes.set_xlim(0, 1)
    axes.set_ylim(-0.6, 1.6)
    axes.set_yticks([0, 1], ["win rate", "verdicts"])
    axes.invert_yaxis()
    axes.set_xlabel("candidate win rate (ties count half); dashed: no preference")
    axes.set_title(f"LLM judge: candidate win rate {summary.winrate:.3f}, interval [{low:.3f}, {high:.3f}]")


def _plot_verdict_shares(axes: Any, summary: JudgeSummary) -> None:
    """One bar split into the shares of all judge verdicts: candidate, tie, baseline, error."""
    shares = [
        ("candidate", summary.b_scores, "#1f77b4"),
        ("tie", summary.ties, "#c7c7c7"),
        ("baseline", summary.a_scores, "#9e9e9e"),
        ("error", summary.inference_error, "#d62728"),
    ]
    total = sum(count or 0 for _, count, _ in shares)
    if not total:
        return
    start = 0.0
    for label, count, color in shares:
        width = (count or 0) / total
        if width:
            axes.barh([1], [width], left=start, height=0.5, color=color, edgecolor="white")
            axes.text(start + width / 2, 1, f"{label}\n{count:.0f}", ha="center", va="center", fontsize=8)
        start += width


def _plot_training(axes: Any, training: TrainingCurve | None) -> None:
    if training is None or not training.steps:
        _no_data(axes, "no training metrics")
        return
    axes.plot(training.steps, training.loss, color="#1f77b4", label="training loss")
    axes.set_xlabel("step")
    axes.set_ylabel("training loss")
    axes.set_title("Training")
    handles, labels = axes.get_legend_handles_labels()
    if training.reward_columns:
        rewards = axes.twinx()
        for name in training.reward_columns:
            rewards.plot(training.steps, training.columns[name], linestyle="--", label=name.replace("_", " "))
        rewards.set_ylabel("reward metrics")
        more_handles, more_labels = rewards.get_legend_handles_labels()
        handles, labels = handles + more_handles, labels + more_labels
    axes.legend(handles, labels, loc="upper right")


def _label(name: str) -> str:
    scale = _PERCENT_SCALED.get(name)
    return f"{name} / {scale:g}" if scale else name


def _no_data(axes: Any, message: str) -> None:
    axes.text(0.5, 0.5, message, ha="center", va="center", transform=axes.transAxes, color="#7f7f7f")
    axes.set_xticks([])
    axes.set_yticks([])
