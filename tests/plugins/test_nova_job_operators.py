"""NovaDpoTrainingOperator and NovaEvaluationOperator on both platforms.

SageMaker: a real boto3 SageMaker client wrapped in botocore's Stubber (every request is checked against the
service model and the exact expected parameters, and a call that was not queued fails the test, so "no second
create" is enforced by the queue itself), with moto's S3 for the recipe file and the job output.

Local: real detached jobs. A platform subclass maps each job to the worker's ``sleep`` kind, so the operator's
submit / attach / wait / defer / stop paths run with real processes in a fraction of a second; one slow test
trains and evaluates the tiny random model for real.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import boto3
import pytest
from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.providers.amazon.aws.hooks.sagemaker import SageMakerHook
from airflow.providers.amazon.aws.triggers.sagemaker import SageMakerTrigger
from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException, TaskDeferred
from airflow.sdk import DAG
from botocore.stub import Stubber

from nova_dpo import catalog
from nova_dpo.platforms.base import EvaluationJob, JobRef, JobStatus, TrainingJob
from nova_dpo.platforms.local.jobs import LocalJobRunner
from nova_dpo.platforms.local.platform import LocalPlatform
from nova_dpo.platforms.naming import attempt_job_name, job_name
from nova_dpo.platforms.sagemaker import SageMakerPlatform
from nova_dpo.platforms.sagemaker_outputs import output_archive_uri, split_s3_uri
from nova_dpo.recipes import resolve_recipe
from nova_dpo_airflow.operators import nova_jobs
from nova_dpo_airflow.operators.nova_jobs import (
    JOB_NAME_XCOM_KEY,
    NovaDpoTrainingOperator,
    NovaEvaluationOperator,
)
from nova_dpo_airflow.triggers.local_job import LocalJobTrigger
from tests import sagemaker_fakes as fakes
from tests.operator_checks import validate_template_fields
from tests.sagemaker_fakes import (
    REGION,
    ROLE,
    T0,
    arn,
    expect_describe,
    recorded_creates,
    tar_gz,
)

DAG_ID = "nova_dpo_pipeline"
RUN_ID = "manual__2026-01-02T03:00:00+00:00"
BUCKET = "nova-dpo-operators"
OUTPUT = f"s3://{BUCKET}/runs/r1/training"
TRAIN = f"s3://{BUCKET}/datasets/when2call/v1/0123456789ab/train.jsonl"
VALIDATION = f"s3://{BUCKET}/datasets/when2call/v1/0123456789ab/validation.jsonl"
ESCROW = "s3://customer-escrow-123456789012-smtj-abc123/train-dpo"
LORA = "nova_micro_1_0_p5_p4d_gpu_lora_dpo"
GEN_QA = "nova_micro_1_0_p5_48xl_gpu_bring_your_own_dataset_eval"
OVERRIDES = {"training_config": {"model": {"dpo_cfg": {"beta": 0.05}}}}
TRAIN_JOB = job_name(DAG_ID, RUN_ID, "train_dpo")
REPO = Path(__file__).resolve().parents[2]


def make_context(map_index: int = -1) -> dict[str, Any]:
    return {"ti": mock.MagicMock(map_index=map_index), "run_id": RUN_ID}


def pushed_job_name(context: dict[str, Any]) -> str:
    context["ti"].xcom_push.assert_called_with(key=JOB_NAME_XCOM_KEY, value=mock.ANY)
    return context["ti"].xcom_push.call_args.kwargs["value"]


def in_dag(operator_class, **kwargs):
    with DAG(DAG_ID, schedule=None):
        return operator_class(**kwargs)


def test_importing_the_module_imports_no_heavy_library():
    """The DAG file imports the operators at parse time, when boto3 and the ML libraries cost too much."""
    code = (
        "import sys\n"
        "import nova_dpo_airflow.operators.nova_jobs\n"
        "heavy = sorted({'boto3', 'botocore', 'numpy', 'torch', 'pandas'} & sys.modules.keys())\n"
        "assert not heavy, heavy\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "include"), str(REPO / "plugins")])}
    completed = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, check=False
    )
    assert completed.returncode == 0, completed.stderr


# ================================================================================================ SageMaker


@pytest.fixture
def aws(moto_clients):
    """A Stubber on the SageMaker client of ``SageMakerHook().conn``, and moto's S3 (one empty bucket) as
    ``S3Hook().conn``."""
    moto, sagemaker, s3 = moto_clients
    moto.reset()
    s3.create_bucket(Bucket=BUCKET)
    with (
        Stubber(sagemaker) as stubber,
        mock.patch.object(SageMakerHook, "conn", new_callable=mock.PropertyMock, return_value=sagemaker),
        mock.patch.object(S3Hook, "conn", new_callable=mock.PropertyMock, return_value=s3),
    ):
        yield sagemaker, stubber, s3
        stubber.assert_no_pending_responses()


@pytest.fixture
def creates(aws):
    with recorded_creates(aws[0]) as sent:
        yield sent


@pytest.fixture
def storage_root(moto_server, aws_default_connection, tmp_path, monkeypatch):
    """The run's storage root in a bucket of the moto server, reached by ``ObjectStoragePath`` through the
    ``aws_default`` connection (as the DAG's tasks reach it); the worker's temporary folder is
    ``tmp_path / "worker-tmp"``, so a test sees what a task leaves on its worker."""
    import tempfile
    import uuid

    bucket = f"nova-dpo-root-{uuid.uuid4().hex[:8]}"
    client = boto3.client("s3", endpoint_url=moto_server, **aws_default_connection)
    client.create_bucket(Bucket=bucket)
    worker_tmp = tmp_path / "worker-tmp"
    worker_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(worker_tmp))
    return {
        "uri": f"s3://{bucket}/nova-dpo/runs/r1",
        "s3": client,
        "bucket": bucket,
        "worker_tmp": worker_tmp,
    }


def read_object(root: dict, uri: str) -> str:
    key = uri.removeprefix(f"s3://{root['bucket']}/")
    return root["s3"].get_object(Bucket=root["bucket"], Key=key)["Body"].read().decode()


def training_operator(**kwargs: Any) -> NovaDpoTrainingOperator:
    defaults: dict[str, Any] = {
        "task_id": "train_dpo",
        "platform": "sagemaker",
        "training_recipe": LORA,
        "recipe_overrides": OVERRIDES,
        "train_uri": TRAIN,
        "validation_uri": VALIDATION,
        "role": ROLE,
        "output_path": OUTPUT,
        "poll_interval": 0,
        "deferrable": False,
    }
    return in_dag(NovaDpoTrainingOperator, **(defaults | kwargs))


def expected_training_request(sagemaker, s3, name: str = TRAIN_JOB) -> tuple[dict, Any]:
    """The CreateTrainingJob request (and recipe upload) of the training job the operator should submit."""
    recipe = resolve_recipe(LORA, OVERRIDES)
    job = TrainingJob(
        name=name,
        recipe=recipe.config,
        train_uri=TRAIN,
        validation_uri=VALIDATION,
        output_uri=OUTPUT,
        base_model=recipe.config["run"]["model_name_or_path"],
    )
    built = SageMakerPlatform(sagemaker, s3, REGION, ROLE).build_request(job)
    return built.request, built.upload


def described(request: dict, status: str, **extra: Any) -> dict:
    """A DescribeTrainingJob response of the job ``request`` created, started at T0 and, once it ended,
    an hour later."""
    response = fakes.described(request, status, TrainingStartTime=T0)
    if status in ("Completed", "Failed", "Stopped"):
        response |= {"TrainingEndTime": T0 + timedelta(hours=1), "BillableTimeInSeconds": 3600}
    return response | extra


def expect_create(stubber: Stubber, request: dict) -> None:
    expect_describe(stubber, request["TrainingJobName"], None)
    stubber.add_response("create_training_job", {"TrainingJobArn": arn(request["TrainingJobName"])}, request)


def expect_submission(stubber: Stubber, request: dict) -> None:
    """A new job: no job of its name yet, CreateTrainingJob with ``request``, then the job found running."""
    expect_create(stubber, request)
    expect_describe(stubber, request["TrainingJobName"], described(request, "InProgress"))


def put_object(s3, uri: str, body: bytes) -> None:
    bucket, key = split_s3_uri(uri)
    s3.put_object(Bucket=bucket, Key=key, Body=body)


class TestSageMakerTraining:
    def test_template_fields(self):
        operator = training_operator()

        validate_template_fields(operator)
        assert {"aws_conn_id", "region_name", "verify"} <= set(operator.template_fields)

    def test_the_hooks_and_the_trigger_get_the_aws_arguments(self):
        operator = training_operator(
            aws_conn_id="aws_nova",
            region_name="eu-west-1",
            verify=False,
            botocore_config={"retries": {"max_attempts": 3}},
        )
        expected = {
            "aws_conn_id": "aws_nova",
            "region_name": "eu-west-1",
            "verify": False,
            "config": {"retries": {"max_attempts": 3}},
        }

        with (
            mock.patch("airflow.providers.amazon.aws.hooks.sagemaker.SageMakerHook") as sagemaker_hook,
            mock.patch("airflow.providers.amazon.aws.hooks.s3.S3Hook") as s3_hook,
        ):
            sagemaker_hook.return_value.conn.meta.region_name = "eu-west-1"
            platform = operator._get_platform("sagemaker")
        trigger = operator._trigger(platform, JobRef(platform="sagemaker", name=TRAIN_JOB, handle=TRAIN_JOB))

        sagemaker_hook.assert_called_once_with(**expected)
        s3_hook.assert_called_once_with(**expected)
        assert operator.hook is sagemaker_hook.return_value
        assert platform.sagemaker is sagemaker_hook.return_value.conn
        assert platform.s3 is s3_hook.return_value.conn
        assert trigger.serialize()[1] == {
            "job_name": TRAIN_JOB,
            "job_type": "training",
            "waiter_delay": 0,
            "waiter_max_attempts": operator._max_polls(),
            "aws_conn_id": "aws_nova",
            "region_name": "eu-west-1",
            "verify": False,
            "botocore_config": {"retries": {"max_attempts": 3}},
        }

    def test_the_constructor_only_assigns(self):
        operator = training_operator(
            recipe_overrides={"no": {"such": "key"}}, platform="{{ params.platform }}"
        )

        assert operator.recipe_overrides == {"no": {"such": "key"}}
        assert operator.platform == "{{ params.platform }}"

    def test_create_once_and_a_retry_attaches(self, aws, creates):
        sagemaker, stubber, s3 = aws
        request, _ = expected_training_request(sagemaker, s3)
        expect_submission(stubber, request)
        context = make_context()

        with pytest.raises(TaskDeferred) as deferred:
            training_operator(deferrable=True).execute(context)

        # The retried task: the job exists and runs, so it is attached to (DescribeTrainingJob, then the
        # operator's own), never created again.
        expect_describe(stubber, TRAIN_JOB, described(request, "InProgress"))
        expect_describe(stubber, TRAIN_JOB, described(request, "InProgress"))
        with pytest.raises(TaskDeferred) as deferred_again:
            training_operator(deferrable=True).execute(make_context())

        assert len(creates) == 1
        assert pushed_job_name(context) == TRAIN_JOB
        for raised in (deferred.value, deferred_again.value):
            assert isinstance(raised.trigger, SageMakerTrigger)
            assert raised.trigger.serialize()[1]["job_name"] == TRAIN_JOB
            assert raised.method_name == "execute_complete"

    def test_the_job_is_the_nova_dpo_request_with_the_overrides(self, aws, creates):
        sagemaker, stubber, s3 = aws
        request, upload = expected_training_request(sagemaker, s3)
        expect_submission(stubber, request)

        training_operator(wait_for_completion=False).execute(make_context())

        bucket, key = split_s3_uri(upload.s3_uri)
        uploaded = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        assert uploaded == upload.body
        assert b"beta: 0.05" in uploaded
        assert creates[0]["RoleArn"] == ROLE
        assert creates[0]["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] == TRAIN

    @pytest.mark.parametrize(
        ("wait_for_completion", "deferrable"), [(True, True), (False, True), (False, False)]
    )
    def test_a_running_job_defers_only_when_waiting_deferrably(self, aws, wait_for_completion, deferrable):
        sagemaker, stubber, s3 = aws
        request, _ = expected_training_request(sagemaker, s3)
        expect_submission(stubber, request)
        operator = training_operator(
            wait_for_completion=wait_for_completion, deferrable=deferrable, poll_interval=45, max_polls=7
        )

        with mock.patch.object(operator, "defer") as defer:
            result = operator.execute(make_context())

        if wait_for_completion and deferrable:
            trigger = defer.call_args.kwargs["trigger"]
            assert isinstance(trigger, SageMakerTrigger)
            assert trigger.serialize()[1] == {
                "job_name": TRAIN_JOB,
                "job_type": "training",
                "waiter_delay": 45,
                "waiter_max_attempts": 7,
                "aws_conn_id": "aws_default",
            }
            assert defer.call_args.kwargs["kwargs"]["job"]["name"] == TRAIN_JOB
            assert result is None
        else:
            defer.assert_not_called()
            assert result["status"] == "InProgress"
            assert result["outputs"] is None
            assert result["job_name"] == TRAIN_JOB

    def test_the_default_wait_covers_the_max_run(self):
        operator = training_operator(max_run=3600, poll_interval=60)

        assert operator._max_polls() == (3600 + 2 * 3600) // 60

    def test_a_completed_job_returns_at_once_with_its_outputs(self, aws, creates):
        sagemaker, stubber, s3 = aws
        request, upload = expected_training_request(sagemaker, s3)
        put_object(s3, upload.s3_uri, upload.body)  # what the first try uploaded
        put_object(
            s3,
            output_archive_uri(OUTPUT, TRAIN_JOB),
            tar_gz(
                {
                    "manifest.json": json.dumps({"checkpoint_s3_bucket": ESCROW}),
                    "step_wise_training_metrics.csv": "step_number,training_loss\n1,0.69\n2,0.58\n",
                }
            ),
        )
        # submit (reuses the completed job), the operator's describe, and outputs' describe.
        for _ in range(3):
            expect_describe(stubber, TRAIN_JOB, described(request, "Completed"))
        operator = training_operator(deferrable=True)

        with mock.patch.object(operator, "defer") as defer:
            result = operator.execute(make_context())

        defer.assert_not_called()
        assert creates == []
        cost = round(catalog.estimate_cost_usd("ml.p5.48xlarge", 2, 3600), 2)
        assert result == {
            "job_name": TRAIN_JOB,
            "platform": "sagemaker",
            "status": "Completed",
            "billable_seconds": 3600,
            "estimated_cost_usd": cost,
            "recipe_sha256": resolve_recipe(LORA, OVERRIDES).sha256,
            "outputs": mock.ANY,
            "checkpoint_uri": ESCROW,
        }
        assert result["outputs"]["checkpoint_uri"] == ESCROW
        assert result["outputs"]["result"]["global_steps"] == 2
        json.dumps(result)

    def test_the_training_metrics_are_published_to_an_s3_results_dir(self, aws, storage_root):
        sagemaker, stubber, s3 = aws
        request, upload = expected_training_request(sagemaker, s3)
        put_object(s3, upload.s3_uri, upload.body)
        curve = "step_number,training_loss\n1,0.69\n2,0.58\n"
        put_object(
            s3,
            output_archive_uri(OUTPUT, TRAIN_JOB),
            tar_gz(
                {
                    "manifest.json": json.dumps({"checkpoint_s3_bucket": ESCROW}),
                    "step_wise_training_metrics.csv": curve,
                    "tensorboard/events.out": "not read by any later task",
                }
            ),
        )
        for _ in range(3):
            expect_describe(stubber, TRAIN_JOB, described(request, "Completed"))
        results_dir = f"{storage_root['uri']}/train"

        result = training_operator(results_dir=results_dir).execute(make_context())

        outputs = result["outputs"]
        assert outputs["metrics_uri"] == f"{results_dir}/step_wise_training_metrics.csv"
        assert read_object(storage_root, outputs["metrics_uri"]) == curve
        assert outputs["checkpoint_uri"] == result["checkpoint_uri"] == ESCROW
        assert outputs["output_uri"] == output_archive_uri(OUTPUT, TRAIN_JOB)
        assert "file://" not in json.dumps(result)
        # The archive was extracted in a scratch folder of the worker, gone when the task returned.
        assert list(storage_root["worker_tmp"].iterdir()) == []

    def test_a_job_that_fails_while_waited_for_raises_with_the_failure_reason(self, aws):
        sagemaker, stubber, s3 = aws
        request, _ = expected_training_request(sagemaker, s3)
        expect_submission(stubber, request)
        expect_describe(stubber, TRAIN_JOB, described(request, "InProgress"))
        expect_describe(
            stubber,
            TRAIN_JOB,
            described(request, "Failed", FailureReason="AlgorithmError: CUDA out of memory"),
        )

        with pytest.raises(AirflowException, match="is Failed: AlgorithmError: CUDA out of memory") as raised:
            training_operator().execute(make_context())

        assert not isinstance(raised.value, AirflowFailException)  # a retry runs the next attempt

    def test_execute_complete_raises_with_the_failure_reason(self, aws):
        sagemaker, stubber, s3 = aws
        request, _ = expected_training_request(sagemaker, s3)
        expect_describe(
            stubber, TRAIN_JOB, described(request, "Failed", FailureReason="ClientError: bad data in row 7")
        )
        event = {"status": "failed", "job_name": TRAIN_JOB, "message": "ClientError: bad data in row 7"}

        with pytest.raises(AirflowException, match="ClientError: bad data in row 7"):
            training_operator().execute_complete(context=make_context(), event=event)

    def test_execute_complete_of_a_completed_job_returns_its_outputs(self, aws):
        sagemaker, stubber, s3 = aws
        request, upload = expected_training_request(sagemaker, s3)
        put_object(s3, upload.s3_uri, upload.body)
        put_object(
            s3,
            output_archive_uri(OUTPUT, TRAIN_JOB),
            tar_gz({"manifest.json": json.dumps({"checkpoint_s3_bucket": ESCROW})}),
        )
        expect_describe(stubber, TRAIN_JOB, described(request, "Completed"))
        expect_describe(stubber, TRAIN_JOB, described(request, "Completed"))

        result = training_operator().execute_complete(
            context=make_context(),
            event={"status": "success", "job_name": TRAIN_JOB},
            job={"platform": "sagemaker", "name": TRAIN_JOB, "handle": arn(TRAIN_JOB)},
            recipe_sha256="abc",
        )

        assert result["status"] == "Completed"
        assert result["checkpoint_uri"] == ESCROW
        assert result["recipe_sha256"] == "abc"

    def test_execute_complete_after_the_wait_timed_out_leaves_the_job_running(self, aws):
        sagemaker, stubber, s3 = aws
        request, _ = expected_training_request(sagemaker, s3)
        expect_describe(stubber, TRAIN_JOB, described(request, "InProgress"))
        event = {"status": "timeout", "job_name": TRAIN_JOB, "message": "Max attempts exceeded"}

        with pytest.raises(AirflowException, match=r"still InProgress.*A retry of this task attaches"):
            training_operator().execute_complete(context=make_context(), event=event)

    def test_execute_complete_without_an_event(self, aws):
        with pytest.raises(AirflowException, match="event is None"):
            training_operator().execute_complete(context=make_context(), event=None)

    def test_on_kill_stops_the_job(self, aws):
        sagemaker, stubber, s3 = aws
        request, _ = expected_training_request(sagemaker, s3)
        expect_submission(stubber, request)
        operator = training_operator(wait_for_completion=False)
        operator.execute(make_context())
        expect_describe(stubber, TRAIN_JOB, described(request, "InProgress"))
        stubber.add_response("stop_training_job", {}, {"TrainingJobName": TRAIN_JOB})

        operator.on_kill()

    def test_on_kill_before_anything_was_submitted_does_nothing(self, aws, capsys):
        sagemaker, _, _ = aws
        requested: list[str] = []

        def record(model, **_):
            requested.append(model.name)

        # Every SageMaker operation the client is asked for, recorded before the Stubber would refuse it.
        sagemaker.meta.events.register("provide-client-params.sagemaker", record)
        try:
            training_operator().on_kill()
        finally:
            sagemaker.meta.events.unregister("provide-client-params.sagemaker", record)

        assert requested == []
        # The operator's log (structlog, to stdout under the Task SDK).
        assert "No Nova training job was submitted; nothing to stop." in capsys.readouterr().out

    def test_a_bad_override_fails_before_any_aws_call(self, aws, creates):
        _, _, s3 = aws
        operator = training_operator(
            recipe_overrides={"training_config": {"model": {"dpo_cfg": {"beta": 5.0}}}}, deferrable=True
        )

        with pytest.raises(AirflowFailException, match="beta"):
            operator.execute(make_context())

        assert creates == []
        assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET)

    def test_an_unknown_override_key_fails_before_any_aws_call(self, aws):
        with pytest.raises(AirflowFailException, match=r"dpo_cfg.betta"):
            training_operator(recipe_overrides=["training_config.model.dpo_cfg.betta=0.2"]).execute(
                make_context()
            )

    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            ({"role": None}, "needs role_arn"),
            ({"train_uri": "/local/train.jsonl"}, "train_uri must be an s3:// URI"),
            ({"instance_type": "ml.g5.48xlarge"}, "max_length=16384 is above the maximum 4096"),
            ({"job_name": "not a job name"}, "Invalid job name"),
        ],
        ids=["no-role", "local-data", "wrong-instance", "bad-name"],
    )
    def test_bad_arguments_fail_before_any_aws_call(self, aws, kwargs, message):
        with pytest.raises(AirflowFailException, match=message):
            training_operator(**kwargs).execute(make_context())

    def test_an_existing_job_with_another_definition_fails_the_task(self, aws):
        sagemaker, stubber, s3 = aws
        request, _ = expected_training_request(sagemaker, s3)
        other = {**request, "HyperParameters": {**request["HyperParameters"], "base_model": "nova-lite/prod"}}
        expect_describe(stubber, TRAIN_JOB, described(other, "InProgress"))

        with pytest.raises(AirflowFailException, match=r"already exists .* with a different hyperparameters"):
            training_operator().execute(make_context())


class TestSageMakerEvaluation:
    def test_template_fields(self):
        validate_template_fields(
            in_dag(
                NovaEvaluationOperator,
                task_id="gen_qa",
                training_recipe=GEN_QA,
                data_uri="s3://b/gen_qa.jsonl",
            )
        )

    @staticmethod
    def completed_gen_qa_job(
        aws, output_uri: str, files: dict[str, str], results_dir: str
    ) -> tuple[NovaEvaluationOperator, str]:
        """The operator of a gen_qa job the stubbed SageMaker creates and reports completed, with ``files``
        (paths under the recipe's run name) in its output archive, and the run name."""
        sagemaker, stubber, s3 = aws
        name = job_name(DAG_ID, RUN_ID, "gen_qa_candidate")
        recipe = resolve_recipe(GEN_QA, instance_type="ml.g5.12xlarge")
        job = EvaluationJob(
            name=name,
            recipe=recipe.config,
            task="gen_qa",
            data_uri=f"s3://{BUCKET}/runs/r1/eval/gen_qa.jsonl",
            model_uri=ESCROW,
            output_uri=output_uri,
            instance_type="ml.g5.12xlarge",
        )
        built = SageMakerPlatform(sagemaker, s3, REGION, ROLE).build_request(job)
        run_name = recipe.config["run"]["name"]
        archive = {f"{run_name}/{path}": content for path, content in files.items()}
        put_object(s3, output_archive_uri(job.output_uri, name), tar_gz(archive))
        expect_create(stubber, built.request)
        expect_describe(stubber, name, described(built.request, "Completed"))
        expect_describe(stubber, name, described(built.request, "Completed"))
        operator = in_dag(
            NovaEvaluationOperator,
            task_id="gen_qa_candidate",
            platform="sagemaker",
            training_recipe=GEN_QA,
            data_uri=job.data_uri,
            model_uri=ESCROW,
            instance_type="ml.g5.12xlarge",
            role=ROLE,
            output_path=job.output_uri,
            results_dir=results_dir,
        )
        return operator, run_name

    def test_results_are_extracted_into_results_dir(self, aws, tmp_path):
        metrics = {"rouge1": 0.7, "f1_score": 0.6}
        files = {
            "eval_results/results_2026-01-02T04-00-00.json": json.dumps({"results": {"all": metrics}}),
            "eval_results/inference_output.jsonl": '{"inference": "a"}\n',
        }
        operator, run_name = self.completed_gen_qa_job(
            aws, f"s3://{BUCKET}/runs/r1/eval", files, str(tmp_path / "candidate")
        )

        result = operator.execute(make_context())

        results_dir = tmp_path / "candidate" / run_name / "eval_results"
        assert result["task"] == "gen_qa"
        assert result["results_dir"] == str(results_dir)
        assert result["outputs"]["results_uri"] == (results_dir / "results_2026-01-02T04-00-00.json").as_uri()
        assert result["outputs"]["inference_output_uri"] == (results_dir / "inference_output.jsonl").as_uri()
        assert result["outputs"]["result"]["metrics"]["rouge1"] == 0.7

    def test_results_are_published_to_an_s3_results_dir(self, aws, storage_root):
        """A later task may run on another worker: it gets URIs in the storage root, never a worker's path."""
        results = {"results": {"all": {"rouge1": 0.7, "f1_score": 0.6}}}
        inference = (
            '{"prompt": "q1", "inference": ["a"], "gold": "a"}\n{"prompt": "q2", "inference": ["b"]}\n'
        )
        files = {
            "eval_results/results_2026-01-02T04-00-00.json": json.dumps(results),
            "eval_results/inference_output.jsonl": inference,
            "eval_results/details/details.parquet": "not read by any later task",
        }
        results_dir = f"{storage_root['uri']}/generate/candidate/"
        operator, run_name = self.completed_gen_qa_job(aws, f"s3://{BUCKET}/runs/r1/jobs", files, results_dir)

        result = operator.execute(make_context())

        folder = f"{storage_root['uri']}/generate/candidate/{run_name}/eval_results"
        outputs = result["outputs"]
        assert result["results_dir"] == folder
        assert outputs["results_uri"] == f"{folder}/results_2026-01-02T04-00-00.json"
        assert outputs["inference_output_uri"] == f"{folder}/inference_output.jsonl"
        assert outputs["result"]["results_path"] == outputs["results_uri"]
        assert outputs["result"]["inference_output_path"] == outputs["inference_output_uri"]
        assert outputs["result"]["num_examples"] == 2
        assert outputs["result"]["metrics"]["rouge1"] == 0.7
        assert json.loads(read_object(storage_root, outputs["results_uri"])) == results
        assert read_object(storage_root, outputs["inference_output_uri"]) == inference
        assert "file://" not in json.dumps(result)
        listed = storage_root["s3"].list_objects_v2(Bucket=storage_root["bucket"])["Contents"]
        assert not [item["Key"] for item in listed if "details" in item["Key"]]
        assert list(storage_root["worker_tmp"].iterdir()) == []


# ==================================================================================================== local


class SleepPlatform(LocalPlatform):
    """Runs every job as the worker's ``sleep`` kind; the operator's ``local_options`` are its spec."""

    def job_definition(self, job: TrainingJob | EvaluationJob) -> tuple[str, dict[str, Any]]:
        return "sleep", {"seconds": 0.2, **job.local}


@pytest.fixture
def sleeping(home: Path):
    """The operators' local platform runs sleep jobs."""

    def build(name: str, **kwargs: Any):
        assert name == "local"
        return SleepPlatform(kwargs["root"])

    with mock.patch.object(nova_jobs, "build_platform", side_effect=build):
        yield LocalJobRunner(home)


def local_training(home: Path, **kwargs: Any) -> NovaDpoTrainingOperator:
    defaults: dict[str, Any] = {
        "task_id": "train_dpo",
        "platform": "local",
        "training_recipe": LORA,
        "recipe_overrides": OVERRIDES,
        "train_uri": "/data/train.jsonl",
        "local_root": str(home),
        "poll_interval": 0.05,
        "deferrable": False,
    }
    return in_dag(NovaDpoTrainingOperator, **(defaults | kwargs))


def local_evaluation(home: Path, **kwargs: Any) -> NovaEvaluationOperator:
    defaults: dict[str, Any] = {
        "task_id": "gen_qa",
        "platform": "local",
        "local_root": str(home),
        "training_recipe": GEN_QA,
        "data_uri": "/data/gen_qa.jsonl",
    }
    return in_dag(NovaEvaluationOperator, **(defaults | kwargs))


class TestLocalTraining:
    @pytest.mark.parametrize(
        ("wait_for_completion", "deferrable"), [(True, False), (True, True), (False, False), (False, True)]
    )
    def test_wait_modes(self, sleeping, home, wait_for_completion, deferrable):
        operator = local_training(home, wait_for_completion=wait_for_completion, deferrable=deferrable)

        if wait_for_completion and deferrable:
            with pytest.raises(TaskDeferred) as deferred:
                operator.execute(make_context())
            trigger = deferred.value.trigger
            assert isinstance(trigger, LocalJobTrigger)
            assert trigger.serialize()[1] == {"root": str(home), "job_name": TRAIN_JOB, "poll_interval": 0.05}
            # What the triggerer and the resumed task do.
            event = asyncio.run(anext(trigger.run()))
            resumed = local_training(home, wait_for_completion=wait_for_completion, deferrable=deferrable)
            result = resumed.execute_complete(make_context(), event.payload, **deferred.value.kwargs)
        else:
            result = operator.execute(make_context())

        assert result["job_name"] == TRAIN_JOB
        assert result["platform"] == "local"
        assert result["estimated_cost_usd"] is None
        assert result["recipe_sha256"] == resolve_recipe(LORA, OVERRIDES).sha256
        if wait_for_completion:
            assert result["status"] == "Completed"
            assert (
                result["outputs"]["output_uri"] == (sleeping.job_dir(TRAIN_JOB) / "output").resolve().as_uri()
            )
            assert result["outputs"]["result"] == {"message": "slept", "seconds": 0.2}
            assert result["billable_seconds"] is not None
        else:
            assert result["status"] == "InProgress"
            assert result["outputs"] is None
        json.dumps(result)

    def test_a_completed_job_returns_at_once_and_is_not_run_again(self, sleeping, home):
        first = local_training(home).execute(make_context())
        operator = local_training(home, deferrable=True)

        with mock.patch.object(operator, "defer") as defer:
            second = operator.execute(make_context())

        defer.assert_not_called()
        assert second == first
        assert [ref.name for ref in sleeping.list_jobs()] == [TRAIN_JOB]

    def test_a_failed_job_raises_with_its_reason_and_a_retry_runs_the_next_attempt(self, sleeping, home):
        options = {"fail": True, "message": "CUDA out of memory", "seconds": 0.0}

        with pytest.raises(AirflowException, match="is Failed: RuntimeError: CUDA out of memory"):
            local_training(home, local_options=options).execute(make_context())
        context = make_context()
        with pytest.raises(AirflowException, match="is Failed"):
            local_training(home, local_options=options).execute(context)

        retried = attempt_job_name(TRAIN_JOB, 2)
        assert pushed_job_name(context) == retried
        assert sorted(ref.name for ref in sleeping.list_jobs()) == sorted([TRAIN_JOB, retried])

    def test_execute_complete_with_a_failed_event_raises_with_the_reason(self, sleeping, home):
        ref = SleepPlatform(home).submit(
            TrainingJob(
                name=TRAIN_JOB,
                recipe={},
                train_uri="/x",
                output_uri="",
                base_model="",
                local={"fail": True, "message": "no space left on device", "seconds": 0.0},
            )
        )
        sleeping.wait(ref, timeout=20)
        event = {"status": "failed", "job_name": TRAIN_JOB, "message": "..."}

        with pytest.raises(AirflowException, match="RuntimeError: no space left on device"):
            local_training(home).execute_complete(make_context(), event, job=ref.to_dict())

    def test_on_kill_stops_the_job_the_task_waits_for(self, sleeping, home):
        operator = local_training(home, local_options={"seconds": 60})
        context = make_context()
        raised: list[BaseException] = []

        def run() -> None:
            try:
                operator.execute(context)
            except BaseException as error:
                raised.append(error)

        thread = threading.Thread(target=run)
        thread.start()
        deadline = time.monotonic() + 20
        while not context["ti"].xcom_push.called:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        operator.on_kill()
        thread.join(timeout=20)

        assert sleeping.describe(sleeping.ref(TRAIN_JOB)).status is JobStatus.STOPPED
        assert len(raised) == 1
        assert isinstance(raised[0], AirflowException)
        assert "is Stopped: it was stopped" in str(raised[0])

    def test_on_kill_before_anything_was_submitted_does_nothing(self, sleeping, home, capsys):
        # A job of the name this task would use, started by an earlier try: a task that submitted nothing
        # must leave it running.
        local_training(home, local_options={"seconds": 60}, wait_for_completion=False).execute(make_context())
        capsys.readouterr()

        local_training(home).on_kill()

        assert sleeping.describe(sleeping.ref(TRAIN_JOB)).status is JobStatus.IN_PROGRESS
        assert "No Nova training job was submitted; nothing to stop." in capsys.readouterr().out

    def test_a_bad_override_fails_before_a_job_starts(self, sleeping, home):
        operator = local_training(home, recipe_overrides={"training_config": {"trainer": {"max_epochs": 99}}})

        with pytest.raises(AirflowFailException, match="max_epochs"):
            operator.execute(make_context())

        assert sleeping.list_jobs() == []

    @pytest.mark.parametrize(
        ("relaxed", "accepted"), [(True, True), ("True", True), ("false", False), (False, False)]
    )
    def test_relaxed_recipe_widens_the_ranges(self, sleeping, home, relaxed, accepted):
        operator = local_training(
            home,
            recipe_overrides={"training_config": {"model": {"dpo_cfg": {"beta": 0.2}}}},
            relaxed_recipe=relaxed,
            wait_for_completion=False,
        )

        if accepted:
            assert operator.execute(make_context())["status"] == "InProgress"
        else:
            with pytest.raises(AirflowFailException, match=r"beta=0\.2 is above the maximum 0\.1"):
                operator.execute(make_context())

    def test_an_unknown_platform_fails(self, sleeping, home):
        with pytest.raises(
            AirflowFailException, match="platform='azure' is not a platform; use one of local"
        ):
            local_training(home, platform="azure").execute(make_context())

    def test_the_platform_defaults_to_the_environment_then_local(self, sleeping, home, monkeypatch):
        monkeypatch.delenv("NOVA_DPO_PLATFORM", raising=False)
        assert local_training(home, platform=None)._platform_name() == "local"
        monkeypatch.setenv("NOVA_DPO_PLATFORM", "sagemaker")
        assert local_training(home, platform=None)._platform_name() == "sagemaker"

    def test_a_mapped_task_gets_a_job_per_map_index(self, sleeping, home):
        context = make_context(map_index=1)

        local_training(home, wait_for_completion=False).execute(context)

        assert pushed_job_name(context) == job_name(DAG_ID, RUN_ID, "train_dpo-1")

    def test_an_explicit_job_name_is_used(self, sleeping, home):
        context = make_context()

        local_training(home, job_name="my-training-1", wait_for_completion=False).execute(context)

        assert pushed_job_name(context) == "my-training-1"
        assert [ref.name for ref in sleeping.list_jobs()] == ["my-training-1"]

    def test_a_wait_that_gives_up_leaves_the_job_running(self, sleeping, home):
        operator = local_training(home, local_options={"seconds": 60}, poll_interval=0.01, max_polls=3)

        with pytest.raises(
            AirflowException, match=r"still InProgress after 3 looks.*a retry of this task attaches"
        ):
            operator.execute(make_context())

        assert sleeping.describe(sleeping.ref(TRAIN_JOB)).status is JobStatus.IN_PROGRESS


class TestLocalEvaluation:
    RESULTS = "nova-micro-byod-eval-job/eval_results/results_2026-01-02T04-00-00.json"

    def completed_evaluation(self, home: Path, name: str, data: str) -> Path:
        """A completed gen_qa job, as the worker leaves one, for the job the operator below submits."""
        platform = LocalPlatform(home)
        job = EvaluationJob(
            name=name,
            recipe=resolve_recipe(GEN_QA).config,
            task="gen_qa",
            data_uri=data,
            model_uri="tiny-random",
            output_uri="",
        )
        kind, spec = platform.job_definition(job)
        job_dir = platform.runner.job_dir(name)
        output = job_dir / "output"
        (output / self.RESULTS).parent.mkdir(parents=True)
        (output / self.RESULTS).write_text(json.dumps({"results": {"all": {"rouge1": 0.4}}}))
        (job_dir / "job.json").write_text(
            json.dumps(
                {"name": name, "kind": kind, "spec": spec, "max_run": 86400, "submitted": T0.isoformat()}
            )
        )
        (job_dir / "status.json").write_text(
            json.dumps(
                {
                    "status": "Completed",
                    "started": T0.isoformat(),
                    "ended": (T0 + timedelta(seconds=90)).isoformat(),
                }
            )
        )
        (job_dir / "result.json").write_text(
            json.dumps({"task": "gen_qa", "results_path": str(output.resolve() / self.RESULTS)})
        )
        return output

    def test_results_are_copied_into_results_dir(self, home, tmp_path):
        name = job_name(DAG_ID, RUN_ID, "gen_qa_candidate")
        data = str(tmp_path / "gen_qa.jsonl")
        self.completed_evaluation(home, name, data)
        operator = local_evaluation(
            home,
            task_id="gen_qa_candidate",
            data_uri=data,
            model_uri="tiny-random",
            results_dir=(tmp_path / "candidate").as_uri(),
        )

        result = operator.execute(make_context())

        results_dir = tmp_path / "candidate" / "nova-micro-byod-eval-job" / "eval_results"
        assert result["status"] == "Completed"
        assert result["billable_seconds"] == 90
        assert result["task"] == "gen_qa"
        assert result["results_dir"] == str(results_dir)
        assert result["outputs"]["result"]["results_path"] == str(tmp_path / "candidate" / self.RESULTS)
        assert json.loads((tmp_path / "candidate" / self.RESULTS).read_text())["results"]["all"] == {
            "rouge1": 0.4
        }

    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            (
                {"task_id": "llm_judge", "task": "llm_judge", "data_uri": "/data/llm_judge.jsonl"},
                r"task='llm_judge' but the recipe .* evaluates 'gen_qa'",
            ),
            (
                {"results_dir": "s3://bucket/runs/r1/generate/candidate"},
                "results_dir must be a folder on the local platform",
            ),
            ({"training_recipe": LORA}, "is a dpo recipe"),
        ],
        ids=["a task the recipe does not run", "results_dir on s3", "a training recipe"],
    )
    def test_bad_arguments_fail_before_a_job_starts(self, home, kwargs, message):
        operator = local_evaluation(home, **kwargs)

        with pytest.raises(AirflowFailException, match=message):
            operator.execute(make_context())

        assert LocalJobRunner(home).list_jobs() == []


# ======================================================================================== local, for real


def nova_dpo_record(city: str) -> dict[str, Any]:
    call = json.dumps({"name": "get_weather", "parameters": {"city": city}})
    return {
        "schemaVersion": "bedrock-conversation-2024",
        "system": [{"text": "You may call get_weather(city) to answer."}],
        "messages": [
            {"role": "user", "content": [{"text": f"What is the weather in {city}?"}]},
            {
                "role": "assistant",
                "candidates": [
                    {"content": [{"text": f"It is sunny in {city}."}], "preferenceLabel": "non-preferred"},
                    {"content": [{"text": call}], "preferenceLabel": "preferred"},
                ],
            },
        ],
    }


@pytest.mark.slow
def test_train_then_evaluate_the_tiny_model_locally(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("NOVA_DPO_CACHE", str(tmp_path / "cache"))
    home = tmp_path / "home"
    train = tmp_path / "train.jsonl"
    train.write_text(
        "".join(json.dumps(nova_dpo_record(city)) + "\n" for city in ("Paris", "Oslo", "Lima", "Rome"))
    )
    gen_qa = tmp_path / "gen_qa.jsonl"
    gen_qa.write_text(
        "".join(
            json.dumps({"query": f"What is the weather in {city}?", "response": city}) + "\n"
            for city in ("Paris", "Oslo")
        )
    )
    training = local_training(
        home,
        train_uri=train.as_uri(),
        base_model="tiny-random",
        recipe_overrides={"training_config": {"global_batch_size": 16, "max_length": 1024}},
        local_options={"max_steps": 1, "max_per_device_batch_size": 16, "gradient_checkpointing": False},
        poll_interval=0.5,
    )

    trained = training.execute(make_context())

    checkpoint = trained["checkpoint_uri"]
    assert trained["status"] == "Completed"
    assert checkpoint == (home / "jobs" / TRAIN_JOB / "output" / "checkpoint").resolve().as_uri()
    assert trained["outputs"]["result"]["global_steps"] == 1
    assert (
        Path(trained["outputs"]["metrics_uri"].removeprefix("file://")).read_text().startswith("step_number")
    )

    evaluation = local_evaluation(
        home,
        task_id="gen_qa_candidate",
        data_uri=str(gen_qa),
        model_uri=checkpoint,
        local_options={"max_new_tokens": 4, "batch_size": 2, "dtype": "float32", "device": "cpu"},
        results_dir=str(tmp_path / "candidate"),
        poll_interval=0.5,
    )

    evaluated = evaluation.execute(make_context())

    assert evaluated["status"] == "Completed"
    assert evaluated["task"] == "gen_qa"
    assert Path(evaluated["results_dir"]).is_relative_to(tmp_path / "candidate")
    assert evaluated["outputs"]["result"]["num_examples"] == 2
    # The LoRA checkpoint was evaluated as its merged model.
    stored = json.loads((home / "jobs" / evaluated["job_name"] / "job.json").read_text())
    assert stored["spec"]["model"] == str((home / "jobs" / TRAIN_JOB / "output" / "merged").resolve())
    assert "rouge1" in evaluated["outputs"]["result"]["metrics"]
