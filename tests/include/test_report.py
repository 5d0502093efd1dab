import csv

import pytest

from nova_dpo.evaluation.names import OUTCOME_MIX_PREFIX
from nova_dpo.gate import GateRules, evaluate_gate
from nova_dpo.report import REPORT_MARKDOWN, REPORT_PNG, read_training_metrics, write_report
from tests.include.test_gate import (
    calibrated_judge,
    first,
    gen_qa_document,
    judge_document,
    results_document,
    tool_records,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
RUN = {
    "run_id": "manual__2025-06-26T22:02:09",
    "dataset_version": "when2call/2025-06-01/3f2a9c1d0b7e",
    "recipe_sha": "9c1e5b7d",
    "platform": "local",
    "logical_date": "2025-06-26T22:02:09+00:00",
}
COST = {
    "billable_seconds": 5400,
    "instance_type": "ml.p5.48xlarge",
    "instance_count": 2,
    "estimated_usd": 189.888,
    "prices_as_of": "2025-07",
    "jobs": [
        {
            "name": "train-dpo",
            "instance_type": "ml.p5.48xlarge",
            "instance_count": 2,
            "billable_seconds": 5400,
        }
    ],
}


@pytest.fixture(scope="module")
def evaluation():
    """A candidate that gains on text and keeps its tool use, a judge that prefers it, and the verdict."""
    ids = [f"p{index}" for index in range(60)]
    candidate = gen_qa_document(first(45, 60), ids=ids, model="nova-lite-dpo-candidate")
    baseline = gen_qa_document(first(30, 60), ids=ids, model="nova-lite-base")
    judge = judge_document(b_wins=30, a_wins=8, ties=4)
    rules = GateRules(
        min_relative_gain={"f1_score": 0.05}, default_regression_tolerance=0.02, require_judge_win=True
    )
    return candidate, baseline, judge, evaluate_gate(candidate, baseline, judge, rules)


@pytest.fixture(scope="module")
def training_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("training") / "step_wise_training_metrics.csv"
    columns = ["step_number", "training_loss", "rewards_accuracies", "rewards_margins", "learning_rate"]
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for step in range(1, 21):
            writer.writerow(
                [step, 0.693 / step**0.3, min(1.0, step / 10), step * 0.05, "" if step == 1 else 1e-5]
            )
    return path


@pytest.fixture(scope="module")
def written(tmp_path_factory, evaluation, training_csv):
    """One full report, read by the tests of its content."""
    return report(tmp_path_factory.mktemp("report"), evaluation, training_csv)


def report(folder, evaluation, training_csv, **overrides):
    candidate, baseline, judge, verdict = evaluation
    arguments = {
        "run": RUN,
        "verdict": verdict,
        "candidate": candidate,
        "baseline": baseline,
        "judge": judge,
        "training_metrics_csv": training_csv,
        "cost": COST,
    }
    return write_report(folder, **{**arguments, **overrides})


def test_report_files_are_written(written):
    assert written.name == REPORT_MARKDOWN
    png = (written.parent / REPORT_PNG).read_bytes()
    assert png.startswith(PNG_SIGNATURE)
    assert len(png) > 30_000


def test_markdown_holds_the_run_the_verdict_and_every_metric(written, evaluation):
    candidate, _, _, verdict = evaluation
    text = written.read_text()
    assert text.startswith(f"# DPO run {RUN['run_id']}\n")
    for value in (RUN["dataset_version"], RUN["recipe_sha"], RUN["logical_date"]):
        assert value in text
    assert verdict.passed
    assert "## Verdict: PASSED" in text
    assert verdict.summary() in text
    for reason in verdict.reasons:
        assert f"- ✅ {reason}" in text
    reported = [
        name
        for name in candidate["results"]["all"]
        if not name.endswith("_stderr") and not name.startswith(OUTCOME_MIX_PREFIX)
    ]
    assert set(reported) <= set(verdict.metrics)
    for name in verdict.metrics:
        assert f"\n| {name} | " in text
    assert "Paired bootstrap over 60 prompts (aligned by prompt_id), 1000 resamples, seed 0" in text
    assert "`nova-lite-dpo-candidate`" in text
    assert f"| candidate win rate | {verdict.judge.winrate:.3f} |" in text
    assert f"]({REPORT_PNG})" in text


def test_markdown_shows_each_models_outcome_mix(tmp_path, training_csv):
    candidate, baseline = (
        results_document(tool_records(), model="tuned"),
        results_document(tool_records(False)),
    )
    verdict = evaluate_gate(candidate, baseline, None, GateRules())
    text = report(tmp_path, (candidate, baseline, None, verdict), training_csv).read_text()
    section = text.split("## Answer outcomes\n", 1)[1].split("\n## ", 1)[0]
    header = "| expected behaviour | tool_call | request_for_info | cannot_answer | direct | malformed_call | prompts |"
    # Per expected behaviour: 4 calls due (3 made, 1 answered by a question), 2 questions due (one answered
    # by a call), 2 refusals due (one answered "Maybe?", which declines nothing); each case three times.
    assert section.split("### Baseline")[0] == (
        "\nWhat each model's answers did, counted by the behaviour each prompt expected (the diagonal counts the "
        "answers that had it). A direct answer neither calls a tool, asks nor declines; a malformed call tries "
        "to call a tool and does not parse.\n\n### Candidate: `tuned`\n\n"
        f"{header}\n|---|---|---|---|---|---|---|\n"
        "| tool_call | 9 | 3 | 0 | 0 | 0 | 12 |\n"
        "| request_for_info | 3 | 3 | 0 | 0 | 0 | 6 |\n"
        "| cannot_answer | 0 | 0 | 3 | 3 | 0 | 6 |\n\n"
    )
    assert "| tool_call | 0 | 0 | 12 | 0 | 0 | 12 |" in section.split("### Baseline")[1]


def test_markdown_summarizes_training_and_cost(written):
    text = written.read_text()
    assert "- steps logged: 20 (last step 20)" in text
    assert "- training loss: 0.6930 at the start" in text
    assert "- rewards accuracies: 1.0000 at the end" in text
    assert "| billable seconds | 5,400 s (1.50 h) |" in text
    assert "| instance type | ml.p5.48xlarge |" in text
    assert "| estimated cost (USD) | $189.89 |" in text
    assert "| prices as of | 2025-07 |" in text
    assert "| train-dpo | ml.p5.48xlarge | 2 | 5,400 s (1.50 h) | – |" in text


def test_failed_verdict_shows_its_failing_reasons(tmp_path):
    baseline, candidate = results_document(tool_records()), results_document(tool_records(made_calls=False))
    verdict = evaluate_gate(candidate, baseline, None, GateRules(default_regression_tolerance=0.02))
    text = write_report(
        tmp_path,
        run={"run_id": "r1"},
        verdict=verdict.to_dict(),
        candidate=candidate,
        baseline=baseline,
        judge=None,
        training_metrics_csv=None,
        cost=None,
    ).read_text()
    assert "| dataset version | – |\n| recipe sha | – |" in text
    assert "## Verdict: FAILED" in text
    for check in verdict.failed_checks:
        assert f"- ❌ {check.reason}" in text
    assert "No judge evaluation was run." in text
    assert "No training metrics were given." in text
    assert "No cost information was given." in text
    assert (tmp_path / REPORT_PNG).read_bytes().startswith(PNG_SIGNATURE)


def test_report_is_deterministic_and_takes_the_verdict_as_a_dict(tmp_path, written, evaluation, training_csv):
    _, _, _, verdict = evaluation
    again = report(tmp_path, evaluation, training_csv, verdict=verdict.to_dict())
    assert again.read_text() == written.read_text()
    assert (tmp_path / REPORT_PNG).read_bytes() == (written.parent / REPORT_PNG).read_bytes()


def test_missing_training_file_is_noted_not_fatal(tmp_path, evaluation):
    text = report(tmp_path, evaluation, tmp_path / "absent.csv").read_text()
    assert "The training metrics file `absent.csv` was not found." in text


def test_training_metrics_need_step_and_loss(tmp_path):
    path = tmp_path / "metrics.csv"
    path.write_text("step,loss\n1,0.7\n")
    with pytest.raises(ValueError, match=r"lack the columns \['step_number', 'training_loss'\]"):
        read_training_metrics(path)


def test_training_metrics_keep_reward_columns(training_csv):
    curve = read_training_metrics(training_csv)
    assert curve.steps[:3] == [1.0, 2.0, 3.0]
    assert curve.reward_columns == ["rewards_accuracies", "rewards_margins"]
    assert curve.loss[0] == pytest.approx(0.693)


def test_the_judges_calibration_is_shown_and_says_whether_its_verdicts_count(
    tmp_path, evaluation, training_csv
):

    candidate, baseline, _, _ = evaluation
    for calibrated, said in ((True, "**calibrated**: its verdicts count"), (False, "**not calibrated**")):
        judge = calibrated_judge(30, 8, calibrated)
        verdict = evaluate_gate(candidate, baseline, judge, GateRules(require_judge_win=True))
        text = report(
            tmp_path / str(calibrated), evaluation, training_csv, judge=judge, verdict=verdict
        ).read_text()
        assert "### Judge calibration" in text
        assert said in text
        assert "| reference shown first (A) | 0.90 |" in text if calibrated else "| 0.10 |" in text
    # Nova's own judge is not calibrated here: no section.
    assert "### Judge calibration" not in report(tmp_path / "nova", evaluation, training_csv).read_text()
