"""The metric gate's rules: what a candidate must show, their validation, and their JSON schema.

Pure Python with no numerics, so that the DAG file can build the trigger form's ``gate`` param from
:meth:`GateRules.json_schema` without importing what the gate computes with (:mod:`nova_dpo.gate`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from nova_dpo.evaluation.names import DEFAULT_RESAMPLES, DEFAULT_SEED, GEN_QA_METRICS, TOOL_USE_METRICS
from nova_dpo.evaluation.results import STDERR_SUFFIX, canonical_metric_name

DEFAULT_WATCHED_METRICS = (*GEN_QA_METRICS, *TOOL_USE_METRICS)


# Bounds of the rule values, shared by the validation and the JSON schema of the trigger-form param.
# The resample matrix is resamples x examples floats: 10 000 x 1000 examples is 80 MB.
MIN_RESAMPLES, MAX_RESAMPLES = 100, 10_000
MAX_TOLERANCE = 1.0
# A rate over fewer examples than this moves in steps of a tenth or more with each example.
DEFAULT_MIN_SUPPORT = 10


@dataclass(frozen=True)
class GateRules:
    """What a candidate must show to be imported; built with :meth:`from_dict` from the run's param.

    :param min_relative_gain: metric -> minimum relative gain over the baseline (0.05 = 5 % better); the
        gain must also be significant (the interval of the difference lies above 0).
    :param max_relative_regression: metric -> largest tolerated relative loss (0.02 = 2 % worse).
    :param no_significant_loss: metric -> tolerance in the metric's own units (0.05 = five points of an
        accuracy): the check fails when the paired bootstrap interval of candidate - baseline lies entirely
        beyond a loss of the tolerance, so the loss itself, not only its estimate, must exceed it beyond doubt.
        A metric that neither model reports (a behaviour category the evaluation set lacks) is noted, not
        failed, so one default serves every evaluation set.
    :param default_regression_tolerance: tolerated relative loss of every other metric in
        ``watched_metrics`` that the baseline reports; None checks none of them.
    :param watched_metrics: the metrics ``default_regression_tolerance`` guards.
    :param require_judge_win: require the judge's ``lower_rate`` to be above 0.5.
    :param min_support: the fewest examples a metric must rest on, in both models' results, for a rule to judge
        it: its denominator (the calls a model made, for ``tool_call_precision``; the calls that were due, for
        ``tool_call_recall``; the prompts of a category, for a behaviour accuracy). A precision from one call is
        0 or 1, and its bootstrap cannot show the noise. Below it, a regression check passes with a note (too
        few to tell a loss from noise) and a required gain fails (too few to show one).
    :param confidence: two-sided confidence of the bootstrap intervals.
    :param resamples: bootstrap resamples.
    :param seed: seed of the bootstrap draw, so a verdict can be reproduced.
    """

    min_relative_gain: dict[str, float] = field(default_factory=dict)
    max_relative_regression: dict[str, float] = field(default_factory=dict)
    no_significant_loss: dict[str, float] = field(default_factory=dict)
    default_regression_tolerance: float | None = None
    watched_metrics: tuple[str, ...] = DEFAULT_WATCHED_METRICS
    require_judge_win: bool = False
    min_support: int = DEFAULT_MIN_SUPPORT
    confidence: float = 0.95
    resamples: int = DEFAULT_RESAMPLES
    seed: int = DEFAULT_SEED

    def __post_init__(self) -> None:
        # Canonical names, so that a rule on "f1" (lighteval's short name) meets the reported "f1_score".
        object.__setattr__(
            self, "min_relative_gain", _metric_thresholds("min_relative_gain", self.min_relative_gain, None)
        )
        object.__setattr__(
            self,
            "max_relative_regression",
            _metric_thresholds("max_relative_regression", self.max_relative_regression, MAX_TOLERANCE),
        )
        object.__setattr__(
            self,
            "no_significant_loss",
            _metric_thresholds("no_significant_loss", self.no_significant_loss, None),
        )
        object.__setattr__(self, "watched_metrics", _metric_names("watched_metrics", self.watched_metrics))
        if self.default_regression_tolerance is not None:
            _check_number("default_regression_tolerance", self.default_regression_tolerance, 0, MAX_TOLERANCE)
        if not isinstance(self.require_judge_win, bool):
            raise ValueError(f"require_judge_win must be true or false, got {self.require_judge_win!r}")
        _check_integer("min_support", self.min_support, 1, None)
        _check_number("confidence", self.confidence, 0.5, 1.0)
        if self.confidence in (0.5, 1.0):
            raise ValueError(f"confidence must be strictly between 0.5 and 1, got {self.confidence}")
        _check_integer("resamples", self.resamples, MIN_RESAMPLES, MAX_RESAMPLES)
        _check_integer("seed", self.seed, 0, None)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> GateRules:
        """Rules from a plain dict (the trigger-form param); None or ``{}`` means no rules.

        :raises ValueError: on a key that is not a rule, or a value out of its range.
        """
        data = dict(data or {})
        known = [f.name for f in fields(cls)]
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ValueError(f"unknown gate rule keys {unknown}; the rules are: {', '.join(known)}")
        for name in ("min_relative_gain", "max_relative_regression", "no_significant_loss"):
            # The form sends null for an object left empty.
            if name in data and data[name] is None:
                data[name] = {}
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serializable dict that :meth:`from_dict` reads back."""
        data = asdict(self)
        data["watched_metrics"] = list(self.watched_metrics)
        return data

    @property
    def is_empty(self) -> bool:
        """True when nothing is asked of the candidate."""
        return not (
            self.min_relative_gain
            or self.max_relative_regression
            or self.no_significant_loss
            or self.default_regression_tolerance is not None
            or self.require_judge_win
        )

    @classmethod
    def json_schema(cls) -> dict[str, Any]:
        """The JSON schema of the rules dict, for the trigger form's ``Param`` (bad rules never start a run)."""
        gain = {"type": "number", "minimum": 0}
        tolerance = {"type": "number", "minimum": 0, "maximum": MAX_TOLERANCE}
        return {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "min_relative_gain": {"type": ["object", "null"], "additionalProperties": gain},
                "max_relative_regression": {"type": ["object", "null"], "additionalProperties": tolerance},
                "no_significant_loss": {"type": ["object", "null"], "additionalProperties": gain},
                "default_regression_tolerance": {**tolerance, "type": ["number", "null"]},
                "watched_metrics": {"type": "array", "items": {"type": "string"}},
                "require_judge_win": {"type": "boolean"},
                "min_support": {"type": "integer", "minimum": 1},
                "confidence": {"type": "number", "exclusiveMinimum": 0.5, "exclusiveMaximum": 1},
                "resamples": {"type": "integer", "minimum": MIN_RESAMPLES, "maximum": MAX_RESAMPLES},
                "seed": {"type": "integer", "minimum": 0},
            },
        }


def _metric_name(rule: str, name: Any) -> str:
    if not isinstance(name, str) or not name:
        raise ValueError(f"{rule}: metric names must be non-empty strings, got {name!r}")
    if name.endswith(STDERR_SUFFIX):
        raise ValueError(f"{rule}: {name!r} is a standard error, not a metric; name the metric itself")
    return canonical_metric_name(name)


def _metric_names(rule: str, names: Any) -> tuple[str, ...]:
    if isinstance(names, str) or not isinstance(names, Sequence):
        raise ValueError(f"{rule} must be a list of metric names, got {names!r}")
    return tuple(_metric_name(rule, name) for name in names)


def _metric_thresholds(rule: str, thresholds: Any, maximum: float | None) -> dict[str, float]:
    if not isinstance(thresholds, Mapping):
        raise ValueError(
            f"{rule} must map metric names to numbers, e.g. {{'f1_score': 0.05}}; got {thresholds!r}"
        )
    checked = {}
    for name, value in thresholds.items():
        _check_number(f"{rule}[{name!r}]", value, 0, maximum)
        checked[_metric_name(rule, name)] = float(value)
    return checked


def _check_number(name: str, value: Any, minimum: float, maximum: float | None) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{name} must be a number, got {value!r}")
    if value < minimum or (maximum is not None and value > maximum):
        bounds = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
        raise ValueError(f"{name} must be {bounds}, got {value}")


def _check_integer(name: str, value: Any, minimum: int, maximum: int | None) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    _check_number(name, value, minimum, maximum)
