"""Nova evaluation result files: write them (local platform), read them (both platforms).

Nova's evaluation jobs write ``eval_results/results_<timestamp>.json`` in lighteval's shape::

    {"config_general": {...},
     "results": {"custom|gen_qa_gen_qa|0": {"rouge1": ..., "rouge1_stderr": ..., ...}, "all": {...}},
     "versions": {...}}

We write the same shape, plus a top-level ``per_example`` list (per-example scores, or per-pair judge
outcomes) that Nova's files lack and a gate uses for paired statistics. Readers of Nova's files only
look at ``results``, so the extra key is harmless to them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

GEN_QA_TASK = "custom|gen_qa_gen_qa|0"
LLM_JUDGE_TASK = "custom|llm_judge_judge|0"
ALL = "all"
STDERR_SUFFIX = "_stderr"

# Nova has been seen writing lighteval's short metric names (left) as well as its documented ones.
METRIC_ALIASES = {"em": "exact_match", "qem": "quasi_exact_match", "f1": "f1_score"}
_ALIASED = frozenset({*METRIC_ALIASES, *(alias + STDERR_SUFFIX for alias in METRIC_ALIASES)})


@dataclass(frozen=True)
class EvalResults:
    """A parsed results file: the task key, its metrics under canonical names, and what else it holds."""

    task: str
    metrics: dict[str, float]
    config: dict[str, Any]
    per_example: list[dict[str, Any]] | None = None


def canonical_metric_name(name: str) -> str:
    """The documented name of a metric (``em`` -> ``exact_match``, ``qem_stderr`` -> ``quasi_exact_match_stderr``)."""
    base = name.removesuffix(STDERR_SUFFIX)
    suffix = STDERR_SUFFIX if base != name else ""
    return METRIC_ALIASES.get(base, base) + suffix


def results_filename(when: datetime | None = None) -> str:
    """Nova's file name for a results file, e.g. ``results_2025-06-26T22-02-09.817675.json``."""
    stamp = (when or datetime.now(UTC)).strftime("%Y-%m-%dT%H-%M-%S.%f")
    return f"results_{stamp}.json"


def build_results(
    task: str,
    metrics: Mapping[str, float],
    config: Mapping[str, Any] | None = None,
    per_example: Sequence[Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """A results document in Nova's shape; the task's metrics are repeated under ``all`` as Nova does."""
    flat = {name: float(value) for name, value in metrics.items()}
    document: dict[str, Any] = {
        "config_general": dict(config or {}),
        "results": {task: flat, ALL: dict(flat)},
        "versions": {task: 0},
    }
    if per_example is not None:
        document["per_example"] = [dict(row) for row in per_example]
    return document


def write_results(path: str | os.PathLike[str], document: Mapping[str, Any]) -> Path:
    """Write a results document as JSON (creating parent folders) and return its path.

    NaN and infinity are refused: they are not JSON and would break readers of the file.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(document, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    return target


def parse_results(document: Mapping[str, Any]) -> EvalResults:
    """Read a results document (Nova's or ours) into canonical metric names.

    Metrics come from ``results.all``, or from the only task entry where ``all`` is missing. Non-numeric
    entries are skipped. Where both a short and a documented name are present, the documented one wins.

    :raises ValueError: when the document has no ``results`` object with metrics in it.
    """
    results = document.get("results")
    if not isinstance(results, Mapping) or not results:
        raise ValueError("not a Nova evaluation results document: it has no 'results' object")
    tasks = [key for key in results if key != ALL]
    if ALL in results:
        raw = results[ALL]
    elif len(tasks) == 1:
        raw = results[tasks[0]]
    else:
        raise ValueError(f"results hold several tasks {tasks} and no 'all' entry; cannot tell which to read")
    if not isinstance(raw, Mapping):
        raise ValueError("the 'results' entry is not an object of metrics")
    numeric = {
        name: float(value)
        for name, value in raw.items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    }
    metrics = {canonical_metric_name(name): value for name, value in numeric.items() if name not in _ALIASED}
    for name, value in numeric.items():
        if name in _ALIASED:
            metrics.setdefault(canonical_metric_name(name), value)
    per_example = document.get("per_example")
    return EvalResults(
        task=tasks[0] if tasks else ALL,
        metrics=metrics,
        config=dict(document.get("config_general") or {}),
        per_example=list(per_example) if isinstance(per_example, list) else None,
    )


def read_results(path: str | os.PathLike[str]) -> EvalResults:
    """Parse a results file, or the newest ``results_*.json`` in a folder (an extracted ``eval_results/``)."""
    target = Path(path)
    if target.is_dir():
        target = latest_results_file(target)
    with open(target, encoding="utf-8") as handle:
        return parse_results(json.load(handle))


def latest_results_file(directory: str | os.PathLike[str]) -> Path:
    """The newest ``results_<timestamp>.json`` under a folder; the timestamps sort as text.

    :raises FileNotFoundError: when the folder holds none.
    """
    candidates = sorted(Path(directory).rglob("results_*.json"), key=lambda p: p.name)
    if not candidates:
        raise FileNotFoundError(
            f"no results_*.json under {directory}; is it an extracted eval_results folder?"
        )
    return candidates[-1]


def format_metrics_table(metrics: Mapping[str, float]) -> str:
    """A plain-text table of metrics with their standard errors, for logs and the command line."""
    names = [name for name in metrics if not name.endswith(STDERR_SUFFIX)]
    width = max((len(name) for name in names), default=6)
    lines = [f"{'metric':<{width}}  {'value':>10}  {'stderr':>10}"]
    for name in names:
        stderr = metrics.get(name + STDERR_SUFFIX)
        stderr_text = f"{stderr:>10.4f}" if stderr is not None else f"{'':>10}"
        lines.append(f"{name:<{width}}  {metrics[name]:>10.4f}  {stderr_text}")
    return "\n".join(lines)
