"""Calibrating a judge on pairs whose better answer is known, before its verdicts are used.

Each reference answer of the test set is set against a corrupted copy of itself:

- ``wrong_tool``: the reference call, naming another tool the prompt offers;
- ``wrong_argument``: the reference call with one argument's value changed;
- ``question_instead_of_call``: a question where the reference calls a tool;
- ``call_instead_of_question``: a call where the reference asks for what is missing;
- ``call_instead_of_declining``: a call where the reference declines (no offered tool fits).

The pairs are judged as every pair is, both ways: the reference shown second (``response_B``), then first. A
judge is calibrated when it picks the reference at least :data:`CALIBRATION_THRESHOLD` of the time in *each*
position: a judge that always answers "B" scores 1.0 in one position and 0.0 in the other. An uncalibrated
judge's verdicts are reported, marked so, and the gate does not use them.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import zip_longest
from typing import Any

from nova_dpo.data.nova_format import listed_tools
from nova_dpo.evaluation.judge_stats import PairOutcome
from nova_dpo.toolcalls import ToolCall, format_nova_toolcalls, parse_nova_toolcalls

CALIBRATION_THRESHOLD = 0.85
DEFAULT_CALIBRATION_PAIRS = 48
KINDS = (
    "wrong_tool",
    "wrong_argument",
    "question_instead_of_call",
    "call_instead_of_question",
    "call_instead_of_declining",
)
QUESTION = "Could you tell me a bit more about what you need before I go ahead?"


@dataclass(frozen=True)
class CalibrationPair:
    """A judge pair with a known better answer: ``response_B`` is the reference, ``response_A`` its corruption."""

    kind: str
    prompt: str
    system: str
    reference: str
    corrupted: str

    def to_judge_pair(self) -> dict[str, str]:
        """The pair as an ``llm_judge.jsonl`` record (with the reference and system prompt the local judge reads)."""
        return {
            "prompt": self.prompt,
            "system": self.system,
            "reference": self.reference,
            "response_A": self.corrupted,
            "response_B": self.reference,
        }


def _only_call(text: str) -> ToolCall | None:
    """The reference's tool call when it makes exactly one, else None."""
    calls = parse_nova_toolcalls(text)
    return calls[0] if len(calls) == 1 else None


def _call_text(name: str, arguments: Mapping[str, Any]) -> str:
    return format_nova_toolcalls([{"name": name, "arguments": dict(arguments)}])


def _wrong_value(value: Any) -> Any:
    """A value of the same kind as ``value`` that differs from it."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        if not math.isfinite(value):
            return 0
        changed = value + 1
        # A float so large that adding one changes nothing changes sign instead.
        return changed if changed != value else -value
    if isinstance(value, str):
        return "unknown" if value.strip().lower() != "unknown" else "none"
    if isinstance(value, list):
        return value[:-1] if value else ["unknown"]
    return None


def corruptions(record: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(kind, corrupted answer)`` for one test record (``response``, ``system``, ``category``)."""
    reference, system = record["reference"], record.get("system", "")
    offered = sorted(listed_tools(system) or ())
    call = _only_call(reference)
    if call is not None:
        found = []
        others = [name for name in offered if name != call["name"]]
        if others:
            found.append(("wrong_tool", _call_text(others[0], call["arguments"])))
        if call["arguments"]:
            name = sorted(call["arguments"])[0]
            changed = {**call["arguments"], name: _wrong_value(call["arguments"][name])}
            found.append(("wrong_argument", _call_text(call["name"], changed)))
        found.append(("question_instead_of_call", QUESTION))
        return found
    if not offered:
        return []
    kind = {
        "request_for_info": "call_instead_of_question",
        "cannot_answer": "call_instead_of_declining",
    }.get(record.get("category") or "")
    return [(kind, _call_text(offered[0], {}))] if kind else []


def calibration_pairs(
    records: Sequence[Mapping[str, Any]], limit: int = DEFAULT_CALIBRATION_PAIRS
) -> list[CalibrationPair]:
    """Up to ``limit`` calibration pairs from test records, the kinds taking turns so that each is represented.

    :param records: ``prompt``, ``system``, ``reference`` (the gen_qa ``response``) and ``category`` (the expected
        behaviour), e.g. the lines of a local run's ``llm_judge.jsonl``. The order is fixed by a hash of the
        prompt, so the same records give the same pairs.
    """
    by_kind: dict[str, list[CalibrationPair]] = {kind: [] for kind in KINDS}
    ordered = sorted(records, key=lambda r: hashlib.sha256(str(r["prompt"]).encode()).hexdigest())
    for record in ordered:
        for kind, corrupted in corruptions(record):
            by_kind[kind].append(
                CalibrationPair(
                    kind, record["prompt"], record.get("system", ""), record["reference"], corrupted
                )
            )
    interleaved = [pair for turn in zip_longest(*by_kind.values()) for pair in turn if pair is not None]
    return interleaved[:limit]


def calibration_summary(pairs: Sequence[CalibrationPair], outcomes: Sequence[PairOutcome]) -> dict[str, Any]:
    """How often the judge picked the reference, in each position and for each kind of corruption.

    :returns: ``pairs``, ``reference_second`` and ``reference_first`` (the share of passes that picked the
        reference with it shown as B, then as A), ``per_kind`` (both positions together), ``threshold`` and
        ``calibrated``. Ties and errors count as misses.
    """
    if len(pairs) != len(outcomes):
        raise ValueError(f"{len(pairs)} calibration pairs but {len(outcomes)} outcomes")
    second = [outcome.forward == "B" for outcome in outcomes]
    first = [outcome.backward_unswapped == "B" for outcome in outcomes]
    per_kind: Counter[str] = Counter()
    totals: Counter[str] = Counter()
    for pair, hit_second, hit_first in zip(pairs, second, first, strict=True):
        per_kind[pair.kind] += hit_second + hit_first
        totals[pair.kind] += 2
    summary = {
        "pairs": len(pairs),
        "reference_second": _share(second),
        "reference_first": _share(first),
        "per_kind": {kind: round(per_kind[kind] / totals[kind], 4) for kind in KINDS if totals[kind]},
        "threshold": CALIBRATION_THRESHOLD,
    }
    summary["calibrated"] = bool(pairs) and min(summary["reference_second"], summary["reference_first"]) >= (
        CALIBRATION_THRESHOLD
    )
    return summary


def _share(hits: Sequence[bool]) -> float:
    return round(sum(hits) / len(hits), 4) if hits else 0.0


def describe_calibration(summary: Mapping[str, Any]) -> str:
    """One line for a log or a report."""
    verdict = "calibrated" if summary.get("calibrated") else "NOT calibrated: its verdicts are not used"
    return (
        f"judge {verdict} (picked the known-better answer {summary['reference_second']:.0%} with it shown "
        f"second, {summary['reference_first']:.0%} shown first, over {summary['pairs']} pairs; "
        f"{summary['threshold']:.0%} needed in each position)"
    )
