"""The platform contract's types: validation, and a lossless trip through JSON (as through XCom)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from nova_dpo.platforms.base import (
    Deployment,
    EvaluationJob,
    JobOutputs,
    JobRef,
    JobState,
    JobStatus,
    ModelRecord,
    ModelStatus,
    TrainingJob,
    validate_job_name,
    validate_model_name,
)

STARTED = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)


def through_json(record):
    """What a record becomes after Airflow stores it in XCom and reads it back."""
    return type(record).from_dict(json.loads(json.dumps(record.to_dict())))


def training_job(**overrides) -> TrainingJob:
    values = {
        "name": "nova-dpo-2026-01-01-train",
        "recipe": {"run": {"replicas": 2}, "training_config": {"model": {"dpo_cfg": {"beta": 0.1}}}},
        "train_uri": "s3://bucket/datasets/train.jsonl",
        "validation_uri": "s3://bucket/datasets/validation.jsonl",
        "output_uri": "s3://bucket/runs/r1/training/",
        "base_model": "nova-micro/prod",
        "local": {"lora_rank": 8},
        "instance_type": "ml.p5.48xlarge",
        "instance_count": 2,
        "tags": {"run": "r1"},
    }
    return TrainingJob(**{**values, **overrides})


@pytest.mark.parametrize(
    "record",
    [
        training_job(),
        EvaluationJob(
            name="eval-1",
            recipe={"evaluation": {"task": "gen_qa"}},
            task="gen_qa",
            data_uri="file:///data/gen_qa.jsonl",
            model_uri="s3://escrow/checkpoint",
            output_uri="file:///runs/r1/eval/",
        ),
        JobRef(platform="local", name="eval-1", handle="/data/jobs/eval-1"),
        JobState(
            status=JobStatus.FAILED,
            failure_reason="boom",
            progress={"step": 3, "loss": 0.69},
            billable_seconds=12,
            started=STARTED,
            ended=STARTED.replace(second=17),
        ),
        JobState(status=JobStatus.IN_PROGRESS),
        JobOutputs(
            output_uri="file:///jobs/t/output",
            checkpoint_uri="file:///jobs/t/output/checkpoint",
            metrics_uri="file:///jobs/t/output/step_wise_training_metrics.csv",
            manifest={"checkpoint_s3_bucket": "file:///jobs/t/output/checkpoint"},
            result={"train_loss": 0.5},
        ),
        ModelRecord(
            name="nova-dpo-r1",
            model_id="lm-0123456789abcdef",
            status=ModelStatus.ACTIVE,
            created=STARTED,
            family="when2call",
            artifact_uri="file:///store/models/lm-0123456789abcdef/artifact",
            source_uri="file:///jobs/t/output/merged",
            base_model="smollm2-135m-instruct",
            lineage={"dataset_version": "2026-01-01", "recipe_sha": "abc", "job_name": "t"},
            metrics={"f1_score": 0.4},
        ),
        Deployment(
            name="nova-dpo-r1",
            deployment_id="nova-dpo-r1",
            model_id="lm-1",
            status=ModelStatus.ACTIVE,
            created=STARTED,
        ),
    ],
    ids=lambda record: type(record).__name__,
)
def test_records_survive_a_trip_through_json(record):
    assert through_json(record) == record


def test_json_form_uses_sagemaker_and_iso_spellings():
    data = JobState(status=JobStatus.IN_PROGRESS, started=STARTED).to_dict()

    assert data["status"] == "InProgress"
    assert data["started"] == "2026-01-02T03:04:05.678901+00:00"


@pytest.mark.parametrize(
    ("status", "terminal"),
    [
        (JobStatus.IN_PROGRESS, False),
        (JobStatus.STOPPING, False),
        (JobStatus.COMPLETED, True),
        (JobStatus.FAILED, True),
        (JobStatus.STOPPED, True),
    ],
)
def test_terminal_statuses(status, terminal):
    assert JobState(status=status).is_terminal is terminal
    assert JobStatus(status.value) is status


def test_from_dict_refuses_unknown_fields():
    data = {**JobRef(platform="local", name="a", handle="h").to_dict(), "arn": "x"}

    with pytest.raises(ValueError, match="arn"):
        JobRef.from_dict(data)


@pytest.mark.parametrize("name", ["a", "train-1", "A1--b2", "x" * 63])
def test_valid_job_names(name):
    assert validate_job_name(name) == name


@pytest.mark.parametrize("name", ["", "-a", "a-", "a_b", "a.b", "a b", "x" * 64])
def test_invalid_job_names(name):
    with pytest.raises(ValueError, match="job name"):
        validate_job_name(name)


@pytest.mark.parametrize("name", ["m", "nova_dpo-r1", "a-b_c", "x" * 63])
def test_valid_model_names(name):
    assert validate_model_name(name) == name


@pytest.mark.parametrize("name", ["", "_a", "a--b", "a.b", "a/b", "x" * 64])
def test_invalid_model_names(name):
    with pytest.raises(ValueError, match="model name"):
        validate_model_name(name)


def test_jobs_check_their_fields():
    with pytest.raises(ValueError, match="job name"):
        training_job(name="bad_name")
    with pytest.raises(ValueError, match="instance_count"):
        training_job(instance_count=0)
    with pytest.raises(ValueError, match="max_run"):
        training_job(max_run=0)
    with pytest.raises(ValueError, match="evaluation task"):
        EvaluationJob(name="e", recipe={}, task="mmlu", data_uri="d", model_uri="m", output_uri="o")  # type: ignore[arg-type]
