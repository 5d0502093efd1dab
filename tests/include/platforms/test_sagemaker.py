"""The SageMaker platform against moto (S3, and SageMaker jobs that complete at once) and botocore's Stubber
(states moto cannot produce, and StopTrainingJob), which checks every request and response against the
service model."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from nova_dpo import catalog
from nova_dpo.platforms.base import (
    EvaluationJob,
    JobConflictError,
    JobNotFoundError,
    JobRef,
    JobStatus,
    Platform,
    TrainingJob,
)
from nova_dpo.platforms.naming import AttemptsExhaustedError, attempt_job_name, job_name
from nova_dpo.platforms.sagemaker import SageMakerPlatform, job_state
from nova_dpo.platforms.sagemaker_outputs import JobOutputError, output_archive_uri, split_s3_uri
from nova_dpo.platforms.sagemaker_requests import RECIPE_LOCAL_PATH
from nova_dpo.recipes import load_recipe
from nova_dpo.recipes.yaml_io import load_yaml
from tests.sagemaker_fakes import (
    REGION,
    ROLE,
    T0,
    arn,
    described,
    expect_describe,
    recorded_creates,
    tar_gz,
)

BUCKET = "nova-dpo-platform"
OUTPUT = f"s3://{BUCKET}/runs/r1/training"
ESCROW = "s3://customer-escrow-123456789012-smtj-abc123/my-lora-run"
LORA = "nova_micro_1_0_p5_p4d_gpu_lora_dpo"
GEN_QA = "nova_micro_1_0_p5_48xl_gpu_bring_your_own_dataset_eval"
LLM_JUDGE = "nova_micro_1_0_p5_48xl_gpu_llm_judge_eval"


@pytest.fixture
def aws(moto_clients):
    """moto's S3 with one bucket, and a SageMaker client (moto's jobs complete as soon as they are created);
    empty for every test."""
    mock, sagemaker, s3 = moto_clients
    mock.reset()
    s3.create_bucket(Bucket=BUCKET)
    return sagemaker, s3


@pytest.fixture
def platform(aws):
    sagemaker, s3 = aws
    return SageMakerPlatform(sagemaker, s3, REGION, ROLE, download_dir=None)


@pytest.fixture
def stubbed(aws, tmp_path):
    """A platform whose SageMaker client is stubbed (every call must be expected) and whose S3 is moto's."""
    sagemaker, s3 = aws
    with Stubber(sagemaker) as stubber:
        yield SageMakerPlatform(sagemaker, s3, REGION, ROLE, download_dir=tmp_path), stubber
        stubber.assert_no_pending_responses()


@pytest.fixture
def creates(aws):
    with recorded_creates(aws[0]) as sent:
        yield sent


def training_job(name: str = "nova-dpo-train-r1", **overrides) -> TrainingJob:
    values = {
        "name": name,
        "recipe": load_recipe(LORA),
        "train_uri": f"s3://{BUCKET}/datasets/when2call/v1/0123456789ab/train.jsonl",
        "validation_uri": f"s3://{BUCKET}/datasets/when2call/v1/0123456789ab/validation.jsonl",
        "output_uri": OUTPUT,
        "base_model": "nova-micro/prod",
        "tags": {"run": "r1"},
    }
    return TrainingJob(**(values | overrides))


def evaluation_job(task: str = "gen_qa", recipe: str = GEN_QA, **overrides) -> EvaluationJob:
    values = {
        "name": f"nova-dpo-{task.replace('_', '-')}-r1",
        "recipe": load_recipe(recipe),
        "task": task,
        "data_uri": f"s3://{BUCKET}/runs/r1/eval/{task}.jsonl",
        "model_uri": ESCROW,
        "output_uri": f"s3://{BUCKET}/runs/r1/eval",
        "instance_type": "ml.g5.12xlarge",
    }
    return EvaluationJob(**(values | overrides))


def put_recipe(s3, built) -> None:
    """What an earlier submit left in S3: the recipe file of the job it created."""
    bucket, key = split_s3_uri(built.upload.s3_uri)
    s3.put_object(Bucket=bucket, Key=key, Body=built.upload.body)


def put_output(s3, output_path: str, name: str, files: dict[str, str]) -> str:
    uri = output_archive_uri(output_path, name)
    bucket, key = split_s3_uri(uri)
    s3.put_object(Bucket=bucket, Key=key, Body=tar_gz(files))
    return uri


# --------------------------------------------------------------------------------------------- protocol


def test_the_platform_meets_the_protocol(platform):
    assert isinstance(platform, Platform)
    assert platform.name == "sagemaker"


# ----------------------------------------------------------------------------------------------- submit


def test_submit_creates_once_and_a_retry_attaches(aws, platform, creates):
    sagemaker, _ = aws
    job = training_job()

    first = platform.submit(job)
    retried = platform.submit(job)  # a retried task: the job exists (moto completed it) and is reused

    assert first == retried == JobRef(platform="sagemaker", name=job.name, handle=arn(job.name))
    assert len(creates) == 1
    assert [j["TrainingJobName"] for j in sagemaker.list_training_jobs()["TrainingJobSummaries"]] == [
        job.name
    ]


def test_the_created_job_is_the_nova_request(platform, creates):
    platform.submit(training_job())

    request = creates[0]
    assert request["AlgorithmSpecification"]["TrainingImage"] == catalog.image_uri_for("dpo", "1.0", REGION)
    # TrainingJob.instance_count's default stands for the recipe's run.replicas (2 for this recipe).
    assert request["ResourceConfig"] == {
        "InstanceType": "ml.p5.48xlarge",
        "InstanceCount": 2,
        "VolumeSizeInGB": 30,
    }
    assert request["HyperParameters"] == {
        "model_type": "amazon.nova-micro-v1:0:128k",
        "base_model": "nova-micro/prod",
        "sagemaker_recipe_local_path": RECIPE_LOCAL_PATH,
    }
    channels = {c["ChannelName"]: c["DataSource"]["S3DataSource"] for c in request["InputDataConfig"]}
    assert channels["train"]["S3DataType"] == channels["validation"]["S3DataType"] == "Converse"
    assert request["OutputDataConfig"] == {"S3OutputPath": OUTPUT}
    assert request["Tags"] == [{"Key": "run", "Value": "r1"}]


def test_the_recipe_yaml_is_uploaded_where_the_recipe_channel_points(aws, platform, creates):
    _, s3 = aws
    job = training_job(
        recipe=load_recipe(LORA)
        | {"training_config": load_recipe(LORA)["training_config"] | {"max_length": 8192}},
        instance_count=4,
    )

    platform.submit(job)

    request = creates[0]
    (channel,) = [c for c in request["InputDataConfig"] if c["ChannelName"] == "recipe"]
    prefix = channel["DataSource"]["S3DataSource"]["S3Uri"]
    assert prefix == f"{OUTPUT}/{job.name}/input/recipe/"
    file_name = Path(request["HyperParameters"]["sagemaker_recipe_local_path"]).name
    bucket, key = split_s3_uri(prefix + file_name)
    uploaded = load_yaml(s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8"))
    assert uploaded["training_config"]["max_length"] == 8192
    assert uploaded["run"]["replicas"] == 4 == request["ResourceConfig"]["InstanceCount"]
    assert uploaded["run"]["model_name_or_path"] == "nova-micro/prod"


def test_a_checkpoint_base_model_is_trained_from(platform, creates):
    platform.submit(training_job(base_model=ESCROW))

    assert creates[0]["HyperParameters"]["base_model_location"] == ESCROW


def test_the_same_name_with_another_definition_is_a_conflict(platform, creates):
    platform.submit(training_job())
    recipe = load_recipe(LORA)
    recipe["training_config"]["model"]["dpo_cfg"]["beta"] = 0.05

    with pytest.raises(JobConflictError, match=r"'nova-dpo-train-r1' already exists \(Completed\).*recipe"):
        platform.submit(training_job(recipe=recipe))
    with pytest.raises(JobConflictError, match="different data"):
        platform.submit(training_job(train_uri=f"s3://{BUCKET}/other/train.jsonl"))
    assert len(creates) == 1


@pytest.mark.parametrize("status", ["InProgress", "Stopping", "Completed"])
def test_a_running_stopping_or_completed_job_is_attached_to(stubbed, status):
    platform, stubber = stubbed
    job = training_job()
    built = platform.build_request(job)
    put_recipe(platform.s3, built)
    expect_describe(stubber, job.name, described(built.request, status))

    ref = platform.submit(job)  # the Stubber refuses any call not expected: no CreateTrainingJob

    assert ref == JobRef(platform="sagemaker", name=job.name, handle=arn(job.name))


def test_a_failed_job_is_retried_under_the_next_attempt_name(stubbed):
    platform, stubber = stubbed
    job = training_job(name=job_name("nova_dpo_pipeline", "manual__2026-01-01T00:00:00+00:00", "train_dpo"))
    second = attempt_job_name(job.name, 2)
    built = platform.build_request(job, second)
    expect_describe(
        stubber, job.name, described(platform.build_request(job).request, "Failed", FailureReason="OOM")
    )
    expect_describe(stubber, second, None)
    stubber.add_response(
        "create_training_job", {"TrainingJobArn": arn(second)}, expected_params=built.request
    )

    ref = platform.submit(job)

    assert ref == JobRef(platform="sagemaker", name=second, handle=arn(second))
    assert len(second) <= 63
    assert second == attempt_job_name(job.name, 2)
    assert built.request["TrainingJobName"] == second
    bucket, key = split_s3_uri(built.upload.s3_uri)
    assert f"/{second}/input/recipe/" in built.upload.s3_uri
    assert platform.s3.get_object(Bucket=bucket, Key=key)["Body"].read() == built.upload.body


def test_a_retry_after_a_failure_attaches_to_the_running_next_attempt(stubbed):
    platform, stubber = stubbed
    job = training_job()
    second, third = attempt_job_name(job.name, 2), attempt_job_name(job.name, 3)
    built = platform.build_request(job, third)
    put_recipe(platform.s3, built)
    expect_describe(stubber, job.name, described(platform.build_request(job).request, "Failed"))
    expect_describe(stubber, second, described(platform.build_request(job, second).request, "Stopped"))
    expect_describe(stubber, third, described(built.request, "InProgress"))

    assert platform.submit(job).name == third


def test_when_every_attempt_failed_submit_says_so(aws, tmp_path):
    sagemaker, s3 = aws
    platform = SageMakerPlatform(sagemaker, s3, REGION, ROLE, max_attempts=2)
    job = training_job()
    with Stubber(sagemaker) as stubber:
        for attempt in (1, 2):
            name = attempt_job_name(job.name, attempt)
            expect_describe(stubber, name, described(platform.build_request(job, name).request, "Failed"))

        with pytest.raises(AttemptsExhaustedError, match=r"All 2 attempts.*failed or were stopped"):
            platform.submit(job)
        stubber.assert_no_pending_responses()


def test_a_job_created_by_another_submit_in_between_is_attached_to(stubbed):
    platform, stubber = stubbed
    job = training_job()
    built = platform.build_request(job)
    expect_describe(stubber, job.name, None)
    stubber.add_client_error(
        "create_training_job",
        service_error_code="ResourceInUse",
        service_message=f"Training job names must be unique within an AWS account and region, and a training "
        f"job with this name already exists ({arn(job.name)})",
        http_status_code=400,
        expected_params=built.request,
    )
    expect_describe(stubber, job.name, described(built.request, "InProgress"))

    assert platform.submit(job) == JobRef(platform="sagemaker", name=job.name, handle=arn(job.name))


def test_a_job_without_output_uri_writes_under_the_platforms_output_path(aws, creates):
    sagemaker, s3 = aws
    platform = SageMakerPlatform(sagemaker, s3, REGION, ROLE, f"s3://{BUCKET}/platform-output")

    platform.submit(training_job(output_uri=""))

    assert creates[0]["OutputDataConfig"] == {"S3OutputPath": f"s3://{BUCKET}/platform-output"}
    with pytest.raises(ValueError, match="has no output_uri and the platform has no output_path"):
        SageMakerPlatform(sagemaker, s3, REGION, ROLE).submit(training_job(output_uri=""))


def test_submit_needs_a_role(aws):
    sagemaker, s3 = aws
    with pytest.raises(ValueError, match="needs role_arn"):
        SageMakerPlatform(sagemaker, s3).submit(training_job())


def test_a_region_other_than_the_clients_is_refused(aws):
    sagemaker, s3 = aws
    with pytest.raises(ValueError, match="differs from the SageMaker client's region"):
        SageMakerPlatform(sagemaker, s3, "us-west-2", ROLE)


def test_an_evaluation_recipe_of_another_task_is_refused(platform):
    with pytest.raises(ValueError, match="is a gen_qa job, but its recipe evaluates llm_judge"):
        platform.submit(evaluation_job(recipe=LLM_JUDGE, data_uri=f"s3://{BUCKET}/runs/r1/eval/"))


def test_an_out_of_range_recipe_fails_before_anything_is_sent(aws, platform, creates):
    _, s3 = aws
    recipe = load_recipe(LORA)
    recipe["training_config"]["model"]["dpo_cfg"]["beta"] = 5.0

    with pytest.raises(ValueError, match="beta"):
        platform.submit(training_job(recipe=recipe))
    assert creates == []
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET)


# --------------------------------------------------------------------------------------------- describe


def test_describe_maps_a_failed_job_with_its_reason_billable_time_and_cost(stubbed):
    platform, stubber = stubbed
    job = training_job()
    response = described(
        platform.build_request(job).request,
        "Failed",
        FailureReason="AlgorithmError: CUDA out of memory",
        BillableTimeInSeconds=5400,
        TrainingStartTime=T0,
        TrainingEndTime=T0 + timedelta(hours=1, minutes=30),
        SecondaryStatusTransitions=[
            {"Status": "Starting", "StartTime": T0, "StatusMessage": "Preparing the instances for training"},
            {
                "Status": "Failed",
                "StartTime": T0 + timedelta(hours=1),
                "StatusMessage": "Training job failed",
            },
        ],
    )
    expect_describe(stubber, job.name, response)

    state = platform.describe(JobRef("sagemaker", job.name, arn(job.name)))

    assert state.status is JobStatus.FAILED
    assert state.is_terminal
    assert state.failure_reason.startswith("AlgorithmError: CUDA out of memory")
    assert f"log streams {job.name}/algo-*" in state.failure_reason
    assert state.billable_seconds == 5400
    assert state.started == T0
    assert state.ended == T0 + timedelta(hours=1, minutes=30)
    # 2 x ml.p5.48xlarge for 1.5 h at the price table's rate.
    expected = catalog.ON_DEMAND_USD_PER_HOUR["ml.p5.48xlarge"] * 2 * 1.5
    assert state.progress == {
        "secondary_status": "Failed",
        "message": "Training job failed",
        "instance_type": "ml.p5.48xlarge",
        "instance_count": 2,
        "estimated_cost_usd": round(expected, 2),
        "cost_basis": f"on-demand us-east-1 list price as of {catalog.PRICES_AS_OF}",
    }
    assert type(state).from_dict(json.loads(json.dumps(state.to_dict()))) == state


def test_a_running_job_bills_its_time_so_far():
    request = {
        "TrainingJobName": "job-1",
        "AlgorithmSpecification": {"TrainingImage": "image"},
        "RoleArn": ROLE,
        "InputDataConfig": [],
        "OutputDataConfig": {"S3OutputPath": OUTPUT},
        "ResourceConfig": {"InstanceType": "ml.g5.12xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30},
        "StoppingCondition": {"MaxRuntimeInSeconds": 86400},
        "HyperParameters": {},
    }
    response = described(request, "InProgress", TrainingStartTime=T0)

    state = job_state(response, now=T0 + timedelta(minutes=30))

    assert state.status is JobStatus.IN_PROGRESS
    assert state.failure_reason is None
    assert state.billable_seconds == 1800
    assert state.progress["secondary_status"] == "Training"
    assert state.progress["estimated_cost_usd"] == round(
        catalog.ON_DEMAND_USD_PER_HOUR["ml.g5.12xlarge"] / 2, 2
    )


def test_a_job_stopped_at_its_run_time_limit_says_why(stubbed):
    platform, stubber = stubbed
    job = training_job()
    response = described(
        platform.build_request(job).request, "Stopped", "MaxRuntimeExceeded", BillableTimeInSeconds=86400
    )
    expect_describe(stubber, job.name, response)

    state = platform.describe(JobRef("sagemaker", job.name, arn(job.name)))

    assert state.status is JobStatus.STOPPED
    assert state.failure_reason.startswith(
        "SageMaker stopped the job: it ran past its MaxRuntimeInSeconds of 86400 s; raise max_run"
    )


def test_a_job_started_on_an_unpriced_instance_has_no_cost_estimate():
    request = {
        "TrainingJobName": "job-1",
        "AlgorithmSpecification": {"TrainingImage": "image"},
        "RoleArn": ROLE,
        "OutputDataConfig": {"S3OutputPath": OUTPUT},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 30},
        "StoppingCondition": {"MaxRuntimeInSeconds": 86400},
    }
    state = job_state(
        described(
            request | {"InputDataConfig": [], "HyperParameters": {}}, "Completed", BillableTimeInSeconds=60
        )
    )

    assert state.billable_seconds == 60
    assert "estimated_cost_usd" not in state.progress


def test_describe_an_unknown_job(platform):
    with pytest.raises(JobNotFoundError, match="no SageMaker training job named 'nope'"):
        platform.describe(JobRef("sagemaker", "nope", arn("nope")))


def test_a_ref_of_another_platform_is_refused(platform):
    with pytest.raises(ValueError, match="belongs to the 'local' platform"):
        platform.describe(JobRef("local", "job-1", "/tmp/jobs/job-1"))


# ------------------------------------------------------------------------------------------------- stop


def test_stop_a_running_job(stubbed):
    platform, stubber = stubbed
    job = training_job()
    expect_describe(stubber, job.name, described(platform.build_request(job).request, "InProgress"))
    stubber.add_response("stop_training_job", {}, {"TrainingJobName": job.name})

    platform.stop(JobRef("sagemaker", job.name, arn(job.name)))


@pytest.mark.parametrize("status", ["Stopped", "Completed", "Failed", "Stopping"])
def test_stop_a_job_that_ended_or_is_stopping_sends_nothing(stubbed, status):
    platform, stubber = stubbed
    job = training_job()
    expect_describe(stubber, job.name, described(platform.build_request(job).request, status))

    platform.stop(JobRef("sagemaker", job.name, arn(job.name)))  # no StopTrainingJob is expected


def refused_stop(stubber: Stubber, job: TrainingJob, request: dict, message: str, status_after: str) -> None:
    """Queue a running job whose StopTrainingJob SageMaker refuses with ``message``, and which is
    ``status_after`` when described again."""
    expect_describe(stubber, job.name, described(request, "InProgress"))
    stubber.add_client_error(
        "stop_training_job",
        service_error_code="ValidationException",
        service_message=message,
        http_status_code=400,
        expected_params={"TrainingJobName": job.name},
    )
    expect_describe(stubber, job.name, described(request, status_after))


def test_stop_a_job_that_ends_while_being_stopped(stubbed):
    platform, stubber = stubbed
    job = training_job()
    message = "The request was rejected because the training job is in status Completed."
    refused_stop(stubber, job, platform.build_request(job).request, message, "Completed")

    platform.stop(JobRef("sagemaker", job.name, arn(job.name)))


def test_a_refused_stop_of_a_running_job_is_raised(stubbed):
    platform, stubber = stubbed
    job = training_job()
    refused_stop(stubber, job, platform.build_request(job).request, "Something else is wrong.", "InProgress")

    with pytest.raises(ClientError, match="Something else is wrong"):
        platform.stop(JobRef("sagemaker", job.name, arn(job.name)))


# ---------------------------------------------------------------------------------------------- outputs


def test_training_outputs_from_the_jobs_output_tarball(aws, platform, tmp_path: Path):
    _, s3 = aws
    job = training_job()
    ref = platform.submit(job)
    archive = put_output(
        s3,
        OUTPUT,
        ref.name,
        {
            "manifest.json": json.dumps({"checkpoint_s3_bucket": ESCROW}),
            "step_wise_training_metrics.csv": "step_number,training_loss\n1,0.69\n2,0.58\n",
        },
    )

    outputs = platform.outputs(ref, tmp_path / "train")

    assert outputs.output_uri == archive
    assert outputs.checkpoint_uri == ESCROW
    assert outputs.manifest == {"checkpoint_s3_bucket": ESCROW}
    assert outputs.metrics_uri == (tmp_path / "train" / "step_wise_training_metrics.csv").as_uri()
    assert (tmp_path / "train" / "step_wise_training_metrics.csv").exists()
    assert outputs.validation_metrics_uri is None
    assert outputs.results_uri is None
    assert outputs.result == {
        "checkpoint_uri": ESCROW,
        "global_steps": 2,
        "final": {"step_number": 2.0, "training_loss": 0.58},
    }
    assert type(outputs).from_dict(json.loads(json.dumps(outputs.to_dict()))) == outputs


def test_outputs_of_a_job_whose_recipe_file_is_gone_are_read_by_its_data_channel(
    aws, platform, tmp_path: Path
):
    _, s3 = aws
    ref = platform.submit(training_job())
    bucket, key = split_s3_uri(platform.build_request(training_job()).upload.s3_uri)
    s3.delete_object(Bucket=bucket, Key=key)
    put_output(s3, OUTPUT, ref.name, {"manifest.json": json.dumps({"checkpoint_s3_bucket": ESCROW})})

    assert platform.outputs(ref, tmp_path).checkpoint_uri == ESCROW


def test_training_outputs_without_a_checkpoint_are_a_clear_error(aws, platform, tmp_path: Path):
    _, s3 = aws
    ref = platform.submit(training_job())
    put_output(s3, OUTPUT, ref.name, {"manifest.json": json.dumps({"other": "value"})})

    with pytest.raises(JobOutputError, match="has no 'checkpoint_s3_bucket'"):
        platform.outputs(ref, tmp_path)


@pytest.mark.parametrize(
    "metrics",
    [
        {"em": 0.25, "em_stderr": 0.05, "qem": 0.5, "f1": 0.6, "rouge1": 0.7},
        {
            "exact_match": 0.25,
            "exact_match_stderr": 0.05,
            "quasi_exact_match": 0.5,
            "f1_score": 0.6,
            "rouge1": 0.7,
        },
    ],
    ids=["short-names", "documented-names"],
)
def test_gen_qa_outputs_have_the_local_platforms_result_shape(aws, platform, tmp_path: Path, metrics):
    _, s3 = aws
    job = evaluation_job()
    ref = platform.submit(job)
    run_name = job.recipe["run"]["name"]
    document = {"results": {"custom|gen_qa_gen_qa|0": metrics, "all": metrics}}
    put_output(
        s3,
        job.output_uri,
        ref.name,
        {
            f"{run_name}/eval_results/results_2025-06-26T22-02-09.817675.json": json.dumps(document),
            f"{run_name}/eval_results/inference_output.jsonl": '{"inference": "a"}\n{"inference": "b"}\n',
        },
    )

    outputs = platform.outputs(ref, tmp_path)

    results = tmp_path / run_name / "eval_results" / "results_2025-06-26T22-02-09.817675.json"
    inference = tmp_path / run_name / "eval_results" / "inference_output.jsonl"
    assert outputs.results_uri == results.as_uri()
    assert outputs.inference_output_uri == inference.as_uri()
    assert outputs.checkpoint_uri is None
    assert outputs.result == {
        "task": "gen_qa",
        "results_path": str(results),
        "inference_output_path": str(inference),
        "num_examples": 2,
        "metrics": {
            "exact_match": 0.25,
            "exact_match_stderr": 0.05,
            "quasi_exact_match": 0.5,
            "f1_score": 0.6,
            "rouge1": 0.7,
        },
    }


def test_llm_judge_outputs_extract_to_the_download_dir_by_default(aws, tmp_path: Path):
    sagemaker, s3 = aws
    platform = SageMakerPlatform(sagemaker, s3, REGION, ROLE, download_dir=tmp_path)
    job = evaluation_job("llm_judge", LLM_JUDGE, data_uri=f"s3://{BUCKET}/runs/r1/eval/llm_judge.jsonl")
    ref = platform.submit(job)
    run_name = job.recipe["run"]["name"]
    judge = {
        "a_scores": 8.0,
        "b_scores": 12.0,
        "ties": 0.0,
        "winrate": 0.6,
        "lower_rate": 0.51,
        "upper_rate": 0.7,
    }
    put_output(
        s3,
        job.output_uri,
        ref.name,
        {f"{run_name}/eval_results/results_1.json": json.dumps({"results": {"all": judge}})},
    )

    outputs = platform.outputs(ref)

    assert (
        outputs.results_uri == (tmp_path / ref.name / run_name / "eval_results" / "results_1.json").as_uri()
    )
    assert outputs.inference_output_uri is None
    assert outputs.result["task"] == "llm_judge"
    assert outputs.result["metrics"] == judge


def test_outputs_of_a_job_that_did_not_complete(stubbed):
    platform, stubber = stubbed
    job = training_job()
    expect_describe(
        stubber, job.name, described(platform.build_request(job).request, "Failed", FailureReason="Boom")
    )

    with pytest.raises(ValueError, match=r"is Failed; only a completed job has outputs\. Boom"):
        platform.outputs(JobRef("sagemaker", job.name, arn(job.name)))
