"""The gate's statistics on their own: per-example recomputation, the paired bootstrap, alignment.

The verdict built on them is tested through :func:`~nova_dpo.gate.evaluate_gate` in ``test_gate.py``.
"""

import json

import numpy as np
import pytest

from nova_dpo.evaluation.gen_qa_metrics import aggregate, compute_gen_qa_metrics
from nova_dpo.evaluation.names import OUTCOME_MIX_PREFIX
from nova_dpo.evaluation.results import STDERR_SUFFIX
from nova_dpo.gate_statistics import align_examples, paired_bootstrap, recompute_metrics, resample_weights
from tests.include.test_gate import text_record, tool_records

# ------------------------------------------------------------------------------------ alignment


def test_prompt_id_is_read_from_the_metadata():
    rows = [
        {"index": 0, "metadata": json.dumps({"prompt_id": "b"})},
        {"index": 1, "metadata": {"prompt_id": "a"}},
    ]
    other = [{"index": 0, "prompt_id": "a"}, {"index": 1, "prompt_id": "b"}]
    candidate_rows, baseline_rows, aligned_by = align_examples(rows, other)
    assert aligned_by == "prompt_id"
    assert [row["prompt_id"] for row in baseline_rows] == ["b", "a"]
    assert candidate_rows == rows


def test_duplicate_prompt_ids_are_refused():
    with pytest.raises(ValueError, match=r"baseline results score prompt_ids more than once: \['a'\]"):
        align_examples([{"prompt_id": "a"}, {"prompt_id": "b"}], [{"prompt_id": "a"}, {"prompt_id": "a"}])


# ------------------------------------------------------------------------------------ bootstrap


def test_identity_resample_reproduces_every_reported_metric():
    scores = compute_gen_qa_metrics([*tool_records(), *(text_record(i, i % 3 == 0) for i in range(12))])
    recomputed = recompute_metrics(scores.per_example, np.ones((1, len(scores.per_example))))
    # Every metric but the outcome mix, which counts answers for the report: the gate compares no count.
    reported = {
        name: value
        for name, value in scores.metrics.items()
        if not name.endswith(STDERR_SUFFIX) and not name.startswith(OUTCOME_MIX_PREFIX)
    }
    assert {"tool_hallucination_rate", "malformed_call_rate"} <= set(reported)
    assert set(recomputed) == set(reported)
    for name, value in reported.items():
        assert recomputed[name][0] == pytest.approx(value, abs=1e-12), name


def test_resampled_metrics_match_aggregating_the_resampled_rows():
    rows = compute_gen_qa_metrics(
        [*tool_records(), *(text_record(i, i % 2 == 0) for i in range(8))]
    ).per_example
    weights = resample_weights(len(rows), resamples=5, seed=3)
    recomputed = recompute_metrics(rows, weights)
    for sample, counts in enumerate(weights):
        drawn = [row for row, count in zip(rows, counts, strict=True) for _ in range(int(count))]
        expected = aggregate(drawn, resamples=2)
        for name, values in recomputed.items():
            if name in expected:
                assert values[sample] == pytest.approx(expected[name], abs=1e-9), name
            else:
                # aggregate leaves out a metric with an empty denominator; the recomputation marks it NaN.
                assert np.isnan(values[sample]), name


def test_paired_bootstrap_refuses_unaligned_rows():
    with pytest.raises(ValueError, match="align them first"):
        paired_bootstrap([{"f1_score": 1.0}], [])
