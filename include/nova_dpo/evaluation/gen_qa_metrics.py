"""Nova gen_qa metrics computed from an ``inference_output.jsonl``, per example and aggregated.

Aggregates carry Nova's names (``rouge1, rouge2, rougeL, exact_match, quasi_exact_match, f1_score,
f1_score_quasi, bleu``), each with ``<name>_stderr``, plus the tool-use metrics of
:mod:`nova_dpo.evaluation.tool_metrics`. Per-example rows keep every score a gate needs for paired
bootstrap statistics, including the BLEU sufficient statistics (corpus BLEU is not a mean of sentences).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from nova_dpo.data.nova_format import listed_tools
from nova_dpo.evaluation.jsonl import numbered_json_objects
from nova_dpo.evaluation.names import GEN_QA_METRICS
from nova_dpo.evaluation.stats import DEFAULT_RESAMPLES, DEFAULT_SEED, bootstrap_stderr, mean_stderr
from nova_dpo.evaluation.text_metrics import (
    bleu_of_summed_statistics,
    bleu_statistics,
    corpus_bleu_from_statistics,
    exact_match,
    quasi_exact_match,
    quasi_word_f1,
    rouge_scores,
    sentence_bleu,
    word_f1,
)
from nova_dpo.evaluation.tool_metrics import aggregate_tool_use, expectation_from, score_tool_use

log = logging.getLogger(__name__)

# Averaged over examples; bleu is the exception (a corpus statistic).
_MEAN_METRICS = GEN_QA_METRICS[:-1]


@dataclass(frozen=True)
class InferenceRecord:
    """One line of Nova's ``inference_output.jsonl``, with the first generation as ``prediction``.

    ``system`` is the gen_qa row's system prompt where the line carries it as a string (Nova's four fields do
    not): the tools it lists are what a call may name without being hallucinated.
    """

    prompt: str
    prediction: str
    gold: str
    metadata: dict[str, Any] | None = None
    system: str = ""

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> InferenceRecord:
        """Read Nova's fields: ``inference`` and ``gold`` may be a string or a list (the first counts)."""
        return cls(
            prompt=_first_text(obj.get("prompt"), "prompt"),
            prediction=_first_text(obj.get("inference"), "inference"),
            gold=_first_text(obj.get("gold"), "gold"),
            metadata=parse_metadata(obj.get("metadata")),
            system=obj["system"] if isinstance(obj.get("system"), str) else "",
        )

    @property
    def offered_tools(self) -> set[str] | None:
        """The tools listed in the system prompt, or in the prompt where it holds the system prompt; None
        when neither lists any (then no call can be told hallucinated)."""
        listings = [listed_tools(text) for text in (self.system, self.prompt)]
        known = [names for names in listings if names is not None]
        return set().union(*known) if known else None


@dataclass(frozen=True)
class GenQaScores:
    """Aggregated metrics (flat, with ``_stderr``) and one row of scores per example, in input order."""

    metrics: dict[str, float]
    per_example: list[dict[str, Any]]


def _first_text(value: Any, name: str) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        value = value[0] if value else ""
    if not isinstance(value, str):
        raise ValueError(
            f"inference output field {name!r} must be a string or a list of strings, got {value!r}"
        )
    return value


def parse_metadata(value: Any) -> dict[str, Any] | None:
    """The ``metadata`` of a record as a dict; None when absent, empty or not a JSON object.

    gen_qa carries metadata as an opaque string, so text that is not our JSON is not an error: the
    expectation is then read off the gold answer instead.
    """
    if isinstance(value, Mapping):
        return dict(value)
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        log.debug("metadata is not JSON, deriving the expectation from gold: %.80s", value)
        return None
    return parsed if isinstance(parsed, dict) else None


def inference_line(row: Mapping[str, Any], reply: str) -> dict[str, Any]:
    """The ``inference_output.jsonl`` line of a gen_qa row and a model's reply, in Nova's fields (``inference`` is a
    list, as Nova writes it), plus the row's ``system`` prompt: the tools it offered, so that a call to a tool it
    did not offer counts as made up (``tool_hallucination_rate``)."""
    return {
        "prompt": row["query"],
        "inference": [reply],
        "gold": row["response"],
        "metadata": row.get("metadata"),
        "system": row.get("system"),
    }


def read_inference_output(path: str | os.PathLike[str]) -> list[InferenceRecord]:
    """The records of an ``inference_output.jsonl`` file, in file order.

    :raises ValueError: on a line that is not a JSON object, naming the file and line.
    """
    records = []
    for number, obj in numbered_json_objects(path, "inference_output"):
        try:
            records.append(InferenceRecord.from_json(obj))
        except ValueError as err:
            raise ValueError(f"{path}:{number}: {err}") from err
    return records


def score_example(record: InferenceRecord) -> dict[str, Any]:
    """Every per-example score of one record (text metrics, sentence BLEU, BLEU statistics, tool use)."""
    prediction, gold = record.prediction, record.gold
    row: dict[str, Any] = dict(rouge_scores(prediction, gold))
    row["exact_match"] = exact_match(prediction, gold)
    row["quasi_exact_match"] = quasi_exact_match(prediction, gold)
    row["f1_score"] = word_f1(prediction, gold)
    row["f1_score_quasi"] = quasi_word_f1(prediction, gold)
    row["bleu"] = sentence_bleu(prediction, gold)
    row["bleu_statistics"] = bleu_statistics(prediction, gold)
    row.update(score_tool_use(prediction, expectation_from(gold, record.metadata), record.offered_tools))
    # The gate pairs candidate and baseline rows by prompt, whatever order each evaluation wrote them in.
    if isinstance(record.metadata, Mapping) and record.metadata.get("prompt_id"):
        row["prompt_id"] = record.metadata["prompt_id"]
    return row


def aggregate(
    per_example: Sequence[Mapping[str, Any]],
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> dict[str, float]:
    """Aggregate per-example rows into Nova's flat ``{metric, metric_stderr}`` dict.

    Means use the standard error of the mean. ``bleu`` is corpus sacreBLEU (0-100) and ``bleu_stderr`` the
    standard deviation of corpus BLEU over ``resamples`` seeded bootstrap resamples of the examples (the
    usual bootstrap standard error; lighteval further divides it by sqrt(resamples), which we do not).
    """
    if not per_example:
        raise ValueError("no examples to aggregate: the inference output is empty")
    metrics: dict[str, float] = {}
    for name in _MEAN_METRICS:
        values = np.array([row[name] for row in per_example], dtype=float)
        metrics[name] = float(values.mean())
        metrics[f"{name}_stderr"] = mean_stderr(values)
    statistics = np.array([row["bleu_statistics"] for row in per_example], dtype=np.int64)
    metrics["bleu"] = corpus_bleu_from_statistics(statistics)
    metrics["bleu_stderr"] = bootstrap_stderr(statistics, bleu_of_summed_statistics, resamples, seed)
    metrics.update(aggregate_tool_use(per_example))
    return metrics


def compute_gen_qa_metrics(
    records: Iterable[InferenceRecord],
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> GenQaScores:
    """Score every record and aggregate; the entry point both platforms use."""
    per_example = [{"index": index, **score_example(r)} for index, r in enumerate(records)]
    return GenQaScores(metrics=aggregate(per_example, resamples, seed), per_example=per_example)
