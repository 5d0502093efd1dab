"""The pipeline steps that read job outputs: they take the URIs the job tasks hand on (XCom), on any storage.

On SageMaker those URIs name the run's folder in S3 (the job tasks publish there), so a step reads them with
the path factory, on whatever worker it runs; nothing may assume a file on the worker's disk.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from upath import UPath

from nova_dpo.pipeline import steps
from nova_dpo.pipeline.params import default_params
from nova_dpo.pipeline.plan import RunPlan
from nova_dpo.pipeline.run import job_results, resolve_run
from tests.include.test_gate import judge_document

RUN_NAME = "nova-micro-byod-eval-job"
WORSE = "I'm sorry, I can't help with that."


def params_for(platform: str, storage_root: str, tmp_path: Path) -> dict[str, Any]:
    params = default_params()
    params.update(platform=platform, storage_root=storage_root, dataset_source=str(tmp_path / "source"))
    params["gate"] = {"min_relative_gain": {"f1_score": 0.05}, "require_judge_win": True}
    return params


def plan_for(platform: str, storage_root: str, tmp_path: Path) -> RunPlan:
    return resolve_run(
        params_for(platform, storage_root, tmp_path),
        dag_id="nova_dpo_pipeline",
        run_id="manual__2026-01-13T00:00:00+00:00",
        logical_date=dt.datetime(2026, 1, 13, tzinfo=dt.UTC),
    )


# ----------------------------------------------------------------------------------------- where outputs go


@pytest.mark.parametrize("platform", ["local", "sagemaker"])
def test_job_results_are_under_the_run_in_the_storage_root(platform, tmp_path):
    root = "s3://bucket/nova-dpo" if platform == "sagemaker" else str(tmp_path / "home")

    plan = plan_for(platform, root, tmp_path)

    assert "local_run_dir" not in plan.to_dict()
    run_uri = plan.storage.run_uri
    assert run_uri.startswith(root)
    assert plan.storage.job_results == {
        "train": f"{run_uri}/train" if platform == "sagemaker" else None,
        "candidate": f"{run_uri}/generate/candidate",
        "baseline": f"{run_uri}/generate/baseline",
        "judge": f"{run_uri}/judge",
    }
    assert RunPlan.from_dict(json.loads(json.dumps(plan.to_dict()))) == plan


def test_the_local_training_output_is_read_in_its_job_folder():
    assert job_results("local", "/home/runs/r1")["train"] is None
    assert job_results("sagemaker", "s3://b/runs/r1")["train"] == "s3://b/runs/r1/train"


def test_the_generate_jobs_place_their_results_under_the_run(tmp_path):
    plan = plan_for("sagemaker", "s3://bucket/nova-dpo", tmp_path)
    eval_set = {"uri": plan.storage.under_root(f"eval-sets/{'0' * 16}/gen_qa.jsonl"), "sha256": "0" * 64}
    training = {"outputs": {"checkpoint_uri": "s3://customer-escrow-1-smtj-a/job"}}

    candidate, baseline = steps.evaluation_targets(plan, training, eval_set, {"uri": "nova-micro/prod"})

    assert candidate["results_dir"] == f"{plan.storage.run_uri}/generate/candidate"
    assert baseline["results_dir"] == f"{plan.storage.run_uri}/generate/baseline"


def test_runs_that_evaluate_the_same_baseline_share_its_job_and_a_new_champion_gets_a_new_one(tmp_path):
    """A retrain after a reject (another recipe, another run) submits the very baseline job of the first run:
    same name, data and output location. Before, the data and output were per run, and SageMaker refused the
    second submit (JobConflictError)."""
    first = plan_for("sagemaker", "s3://bucket/nova-dpo", tmp_path)
    retrain = resolve_run(
        {**params_for("sagemaker", "s3://bucket/nova-dpo", tmp_path), "learning_rate": 2e-5},
        dag_id="nova_dpo_pipeline",
        run_id="manual__2026-01-20T00:00:00+00:00",
        logical_date=dt.datetime(2026, 1, 20, tzinfo=dt.UTC),
    )
    eval_set = {"uri": first.storage.under_root(f"eval-sets/{'1' * 16}/gen_qa.jsonl"), "sha256": "1" * 64}
    training = {"outputs": {"checkpoint_uri": "s3://customer-escrow-1-smtj-a/job"}}
    base = {"uri": "nova-micro/prod"}

    _, before = steps.evaluation_targets(first, training, eval_set, base)
    _, after = steps.evaluation_targets(retrain, training, eval_set, base)
    _, champion = steps.evaluation_targets(retrain, training, eval_set, {"uri": "s3://escrow/champion"})

    shared = ("job_name", "model_uri", "data_uri", "output_path")
    assert {key: before[key] for key in shared} == {key: after[key] for key in shared}
    assert before["output_path"] == "s3://bucket/nova-dpo/baselines/jobs"
    assert before["results_dir"] != after["results_dir"], "each run reads the results in its own folder"
    assert champion["job_name"] != after["job_name"]


def test_on_the_local_platform_a_shared_baseline_is_one_job_definition(tmp_path):
    """The local runner attaches to a job whose kind and spec are the ones submitted: two runs evaluating the
    same baseline on the same set submit the same definition under the same name."""
    from nova_dpo.platforms.base import EvaluationJob
    from nova_dpo.platforms.local.platform import LocalPlatform

    params = params_for("local", str(tmp_path / "home"), tmp_path)
    runs = [
        resolve_run(
            {**params, "learning_rate": learning_rate},
            dag_id="nova_dpo_pipeline",
            run_id=f"manual__{day}",
            logical_date=dt.datetime(2026, 1, day, tzinfo=dt.UTC),
        )
        for day, learning_rate in ((13, None), (20, 2e-5))
    ]
    eval_set = {"uri": runs[0].storage.under_root(f"eval-sets/{'2' * 16}/gen_qa.jsonl"), "sha256": "2" * 64}
    training = {"outputs": {"checkpoint_uri": str(tmp_path / "checkpoint")}}
    platform = LocalPlatform(tmp_path / "home")

    definitions = []
    for plan in runs:
        _, baseline = steps.evaluation_targets(plan, training, eval_set, {"uri": "smollm2-135m-instruct"})
        job = EvaluationJob(
            name=baseline["job_name"],
            recipe=plan.evaluation.gen_qa.config,
            task="gen_qa",
            data_uri=baseline["data_uri"],
            model_uri=baseline["model_uri"],
            output_uri="",
            local=plan.evaluation.local_options,
        )
        definitions.append((job.name, platform.job_definition(job)))

    assert definitions[0] == definitions[1]


def test_the_evaluation_set_is_content_addressed_and_written_once(tmp_path):
    plan = plan_for("local", str(tmp_path / "home"), tmp_path)
    source = tmp_path / "gen_qa.jsonl"
    source.write_text(json.dumps({"query": "q", "response": "r"}) + "\n")

    first = steps.evaluation_set(plan, {"files": {"gen_qa.jsonl": str(source)}})
    again = steps.evaluation_set(plan, {"files": {"gen_qa.jsonl": str(source)}})

    assert first == again
    assert first["uri"] == plan.storage.under_root(f"eval-sets/{first['sha256'][:16]}/gen_qa.jsonl")


# ------------------------------------------------------------------------------- reading them from S3


def _publish(factory, uri: str, text: str) -> str:
    factory(uri).write_text(text)
    return uri


def _inference(rows: list[tuple[str, str, str]]) -> str:
    return "".join(
        json.dumps({"prompt": prompt, "inference": [answer], "gold": gold, "metadata": None}) + "\n"
        for prompt, answer, gold in rows
    )


def test_the_evaluation_steps_read_the_published_job_outputs_from_object_storage(s3_root, tmp_path):
    """What the job tasks of a SageMaker run hand on, read as a task on another worker reads it: through the
    path factory only (the worker that waited for the jobs kept nothing)."""
    root = f"s3://{s3_root.path}"

    def factory(uri: str) -> UPath:  # ObjectStoragePath with the AWS connection, in the DAG
        return UPath(uri, **s3_root.storage_options)

    plan = plan_for("sagemaker", root, tmp_path)
    results = plan.storage.job_results
    questions = [(f"question {i}", f"answer {i}") for i in range(24)]
    generated = []
    for role, worse in (("candidate", False), ("baseline", True)):
        folder = f"{results[role]}/{RUN_NAME}/eval_results"
        rows = [(q, WORSE if worse and i % 3 else a, a) for i, (q, a) in enumerate(questions)]
        generated.append(
            {
                "job_name": f"gen-qa-{role}",
                "outputs": {
                    "results_uri": _publish(factory, f"{folder}/results_1.json", "{}"),
                    "inference_output_uri": _publish(
                        factory, f"{folder}/inference_output.jsonl", _inference(rows)
                    ),
                },
            }
        )
    judge_results = f"{results['judge']}/nova-micro-llm-judge-eval-job/eval_results/results_1.json"
    # The gate and the report read the judge's document whole: its config_general holds a calibration (which a
    # local run's judge records) as well.
    judged = judge_document(20, 2, 2)
    judged["config_general"]["judge_calibration"] = {"pairs": 12, "calibrated": True, "threshold": 0.85}
    judge = {"outputs": {"results_uri": _publish(factory, judge_results, json.dumps(judged))}}
    metrics_csv = _publish(
        factory,
        f"{results['train']}/step_wise_training_metrics.csv",
        "step_number,training_loss\n1,0.69\n2,0.52\n3,0.41\n",
    )
    training = {"job_name": "train", "outputs": {"metrics_uri": metrics_csv}, "billable_seconds": 3600}
    dataset = {"version": {"source": "nvidia/When2Call", "version": "2026-01-12"}, "content_sha256": "a" * 64}

    gen_qa = steps.score_gen_qa(plan, generated, factory)
    pairs = steps.judge_pairs(plan, generated, factory)
    verdict = steps.gate(plan, gen_qa, judge, factory)
    report = steps.write_report(plan, dataset, training, gen_qa, judge, verdict, factory, "shipped")

    run_uri = plan.storage.run_uri
    assert gen_qa == {role: f"{run_uri}/gen_qa/{role}.json" for role in ("candidate", "baseline")}
    assert pairs == f"{run_uri}/eval/llm_judge.jsonl"
    lines = [json.loads(line) for line in factory(pairs).read_text().splitlines()]
    assert len(lines) == len(questions)
    # Nova's judge gets its three fields, nothing else.
    assert {tuple(line) for line in lines} == {("prompt", "response_A", "response_B")}
    assert verdict["passed"] is True, verdict["reasons"]
    assert verdict["judge"]["calibration"]["calibrated"] is True
    assert report == f"{run_uri}/report/report.md"
    markdown = factory(report).read_text()
    assert "training loss: 0.6900 at the start" in markdown
    assert "### Judge calibration" in markdown
    assert factory(f"{run_uri}/report/report.png").exists()


def test_a_local_runs_judge_pairs_carry_the_reference_its_judge_is_calibrated_on(tmp_path):
    plan = plan_for("local", str(tmp_path / "home"), tmp_path)
    system = '<tools>[{"name": "get_weather"}]</tools>'
    generated = []
    for role, answer in (("candidate", '{"name": "get_weather", "parameters": {}}'), ("baseline", "Hi!")):
        output = tmp_path / role / "inference_output.jsonl"
        output.parent.mkdir()
        row = {
            "prompt": "Weather in Oslo?",
            "inference": [answer],
            "gold": '{"name": "get_weather", "parameters": {"city": "Oslo"}}',
            "metadata": json.dumps({"category": "tool_call"}),
            "system": system,
        }
        output.write_text(json.dumps(row) + "\n")
        generated.append({"job_name": role, "outputs": {"inference_output_uri": str(output)}})

    pairs = steps.judge_pairs(plan, generated)

    (line,) = [json.loads(text) for text in Path(pairs).read_text().splitlines()]
    assert line == {
        "prompt": "Weather in Oslo?",
        "response_A": "Hi!",
        "response_B": '{"name": "get_weather", "parameters": {}}',
        "reference": '{"name": "get_weather", "parameters": {"city": "Oslo"}}',
        "system": system,
        "category": "tool_call",
    }
