import math

import numpy as np
import pytest

from nova_dpo.evaluation.judge_stats import PairOutcome, count_table, judge_statistics
from nova_dpo.evaluation.results import LLM_JUDGE_TASK, build_results, read_results, write_results

# Backward verdicts are as the judge gave them with the responses swapped: "A" there means B won.
HAND_TABLE = [
    PairOutcome("A", "B"),  # A wins both passes
    PairOutcome("B", "A"),  # B wins both passes
    PairOutcome("A", "A"),  # position bias: one pass each
    PairOutcome("tie", "error"),
    PairOutcome("B", "tie"),
]


def test_backward_verdict_is_mapped_back():
    assert [o.backward_unswapped for o in HAND_TABLE] == ["A", "B", "B", "error", "tie"]
    assert count_table(HAND_TABLE).tolist() == [
        [2, 0, 0, 0],
        [0, 2, 0, 0],
        [1, 1, 0, 0],
        [0, 0, 1, 1],
        [0, 1, 1, 0],
    ]


def test_statistics_by_hand():
    stats = judge_statistics(HAND_TABLE)
    assert (stats["a_scores"], stats["b_scores"], stats["ties"], stats["inference_error"]) == (3, 4, 2, 1)
    # Per-pair rates (count / 2): A [1, 0, .5, 0, 0], B [0, 1, .5, 0, .5], ties [0, 0, 0, .5, .5],
    # errors [0, 0, 0, .5, 0]; stderr = sample sd / sqrt(5).
    assert stats["a_scores_stderr"] == pytest.approx(math.sqrt(0.8 / 4 / 5))
    assert stats["b_scores_stderr"] == pytest.approx(math.sqrt(0.7 / 4 / 5))
    assert stats["ties_stderr"] == pytest.approx(math.sqrt(0.3 / 4 / 5))
    assert stats["inference_error_stderr"] == pytest.approx(math.sqrt(0.2 / 4 / 5))
    assert (stats["score"], stats["score_stderr"]) == (stats["b_scores"], stats["b_scores_stderr"])
    # Ties count half a win for each side, errors are left out: (4 + 2/2) / (3 + 4 + 2).
    assert stats["winrate"] == pytest.approx(5 / 9)


def test_novas_example_counts_give_its_winrate():
    outcomes = [PairOutcome("A", "B")] * 8 + [PairOutcome("B", "A")] * 5
    stats = judge_statistics(outcomes)
    assert (stats["a_scores"], stats["b_scores"], stats["ties"]) == (16, 10, 0)
    assert round(stats["winrate"], 2) == 0.38


def test_bootstrap_interval_is_deterministic_and_contains_the_estimate():
    rng = np.random.default_rng(7)
    verdicts = ["A", "B", "tie", "error"]
    outcomes = [PairOutcome(*rng.choice(verdicts, size=2, p=[0.3, 0.5, 0.15, 0.05])) for _ in range(60)]
    stats = judge_statistics(outcomes, seed=3)
    assert stats == judge_statistics(outcomes, seed=3)
    assert stats["lower_rate"] < stats["winrate"] < stats["upper_rate"]
    other = judge_statistics(outcomes, seed=4)
    assert (other["lower_rate"], other["upper_rate"]) != (stats["lower_rate"], stats["upper_rate"])
    assert other["winrate"] == stats["winrate"]


def test_all_ties_and_no_usable_verdict():
    ties = judge_statistics([PairOutcome("tie", "tie")] * 4)
    assert (ties["winrate"], ties["lower_rate"], ties["upper_rate"]) == (0.5, 0.5, 0.5)
    for outcomes in ([], [PairOutcome("error", "error")] * 3):
        stats = judge_statistics(outcomes)
        assert (stats["winrate"], stats["lower_rate"], stats["upper_rate"]) == (0.5, 0.0, 1.0)
    assert judge_statistics([PairOutcome("error", "error")] * 3)["inference_error"] == 6


def test_pair_outcome_rows_round_trip_and_validation():
    outcome = PairOutcome("A", "A", "[[A]]", "[[A]]")
    row = outcome.to_row()
    assert (row["a_scores"], row["b_scores"], row["score"]) == (1, 1, 1)
    assert PairOutcome.from_row(row) == outcome
    with pytest.raises(ValueError, match="verdict"):
        PairOutcome("C", "A")


def test_judge_results_round_trip_keeps_pairs_for_paired_statistics(tmp_path):
    metrics = judge_statistics(HAND_TABLE)
    document = build_results(LLM_JUDGE_TASK, metrics, per_example=[o.to_row() for o in HAND_TABLE])
    parsed = read_results(write_results(tmp_path / "results.json", document))
    assert parsed.task == LLM_JUDGE_TASK
    assert parsed.metrics == pytest.approx(metrics)
    assert judge_statistics([PairOutcome.from_row(row) for row in parsed.per_example]) == metrics
