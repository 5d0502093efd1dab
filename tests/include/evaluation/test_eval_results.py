import json
import math
from datetime import UTC, datetime

import pytest

from nova_dpo.evaluation.results import (
    GEN_QA_TASK,
    LLM_JUDGE_TASK,
    build_results,
    canonical_metric_name,
    format_metrics_table,
    latest_results_file,
    parse_results,
    read_results,
    results_filename,
    write_results,
)

# The two shapes Nova has been seen writing for the same gen_qa metrics.
DOCUMENTED = {
    "rouge1": 0.5,
    "rouge1_stderr": 0.1,
    "exact_match": 0.2,
    "exact_match_stderr": 0.04,
    "quasi_exact_match": 0.3,
    "quasi_exact_match_stderr": 0.05,
    "f1_score": 0.4,
    "f1_score_stderr": 0.06,
    "f1_score_quasi": 0.45,
    "f1_score_quasi_stderr": 0.07,
    "bleu": 100.00000000000004,
    "bleu_stderr": 0.0,
}
SHORT = {
    "rouge1": 0.5,
    "rouge1_stderr": 0.1,
    "em": 0.2,
    "em_stderr": 0.04,
    "qem": 0.3,
    "qem_stderr": 0.05,
    "f1": 0.4,
    "f1_stderr": 0.06,
    "f1_score_quasi": 0.45,
    "f1_score_quasi_stderr": 0.07,
    "bleu": 100.00000000000004,
    "bleu_stderr": 0.0,
}


def nova_document(metrics):
    return {
        "config_general": {"model_name": "nova-micro/prod"},
        "results": {GEN_QA_TASK: metrics, "all": metrics},
        "versions": {GEN_QA_TASK: 0},
    }


@pytest.mark.parametrize("metrics", [DOCUMENTED, SHORT], ids=["documented", "short"])
def test_both_metric_name_variants_parse_to_canonical_names(metrics):
    parsed = parse_results(nova_document(metrics))
    assert parsed.task == GEN_QA_TASK
    assert parsed.metrics == DOCUMENTED
    assert parsed.per_example is None
    assert parsed.config == {"model_name": "nova-micro/prod"}


def test_documented_name_wins_over_short_one():
    parsed = parse_results(nova_document({"em": 0.1, "exact_match": 0.9, "note": "text"}))
    assert parsed.metrics == {"exact_match": 0.9}


@pytest.mark.parametrize(
    ("name", "canonical"),
    [
        ("em", "exact_match"),
        ("qem_stderr", "quasi_exact_match_stderr"),
        ("f1", "f1_score"),
        ("rougeL", "rougeL"),
    ],
)
def test_canonical_metric_name(name, canonical):
    assert canonical_metric_name(name) == canonical


def test_single_task_without_all_and_bad_documents():
    judge = {"winrate": 0.38, "lower_rate": 0.23, "upper_rate": 0.56}
    parsed = parse_results({"results": {LLM_JUDGE_TASK: judge}})
    assert (parsed.task, parsed.metrics) == (LLM_JUDGE_TASK, judge)
    with pytest.raises(ValueError, match="no 'results'"):
        parse_results({"config_general": {}})
    with pytest.raises(ValueError, match="several tasks"):
        parse_results({"results": {"a": {}, "b": {}}})


def test_write_and_read_round_trip_with_per_example(tmp_path):
    per_example = [{"index": 0, "exact_match": 1.0}, {"index": 1, "exact_match": 0.0}]
    document = build_results(
        GEN_QA_TASK, {"exact_match": 0.5, "exact_match_stderr": 0.5}, {"x": 1}, per_example
    )
    assert document["results"]["all"] == document["results"][GEN_QA_TASK]
    path = write_results(tmp_path / "eval_results" / results_filename(), document)
    parsed = read_results(path)
    assert parsed.metrics == {"exact_match": 0.5, "exact_match_stderr": 0.5}
    assert parsed.per_example == per_example
    assert parsed.config == {"x": 1}


def test_write_refuses_nan(tmp_path):
    with pytest.raises(ValueError, match="JSON"):
        write_results(tmp_path / "r.json", build_results(GEN_QA_TASK, {"bleu": math.nan}))


def test_read_a_folder_takes_the_newest_results_file(tmp_path):
    old = results_filename(datetime(2025, 6, 26, 22, 2, 9, 817675, tzinfo=UTC))
    assert old == "results_2025-06-26T22-02-09.817675.json"
    new = results_filename(datetime(2025, 6, 27, tzinfo=UTC))
    folder = tmp_path / "nova-micro-byod-eval-job" / "eval_results"
    folder.mkdir(parents=True)
    (folder / old).write_text(json.dumps(nova_document({"bleu": 1.0})))
    (folder / new).write_text(json.dumps(nova_document({"bleu": 2.0})))
    assert latest_results_file(tmp_path).name == new
    assert read_results(tmp_path).metrics == {"bleu": 2.0}
    with pytest.raises(FileNotFoundError, match="eval_results"):
        latest_results_file(tmp_path / "nova-micro-byod-eval-job" / "nothing-here")


def test_format_metrics_table():
    table = format_metrics_table({"rouge1": 0.5, "rouge1_stderr": 0.1, "winrate": 0.38})
    assert table.splitlines()[1].split() == ["rouge1", "0.5000", "0.1000"]
    assert table.splitlines()[2].split() == ["winrate", "0.3800"]
