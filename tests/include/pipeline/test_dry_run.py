"""``nova-dpo plan``: the AWS requests of a run, in order, each valid for botocore's service model, none sent."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from unittest import mock

import botocore.session
import pytest
from botocore.httpsession import URLLib3Session
from botocore.validate import validate_parameters

from nova_dpo import catalog, cli
from nova_dpo.pipeline.dry_run import RecordingAws, RefusedToSend, dry_run
from nova_dpo.pipeline.params import default_params
from nova_dpo.pipeline.run import resolve_run

ACCOUNT = "111122223333"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/NovaDpoSageMaker"
IMPORT_ROLE = f"arn:aws:iam::{ACCOUNT}:role/NovaDpoBedrockImport"
JOBS = ["train_dpo", "generate[candidate]", "generate[baseline]", "llm_judge"]
# What every job sends: its recipe file, then the job.
SUBMIT = ["PutObject", "CreateTrainingJob"]
INCLUDE = Path(cli.__file__).parents[1]


@pytest.fixture(autouse=True)
def deployment(monkeypatch):
    """A SageMaker deployment's environment: training in ap-northeast-1, Bedrock in us-east-1."""
    monkeypatch.setenv("NOVA_DPO_S3_ROOT", "s3://amzn-s3-demo-bucket/nova-dpo")
    monkeypatch.setenv("NOVA_DPO_ROLE_ARN", ROLE)
    monkeypatch.setenv("NOVA_DPO_IMPORT_ROLE_ARN", IMPORT_ROLE)
    monkeypatch.setenv("NOVA_DPO_BEDROCK_REGION", "us-east-1")
    monkeypatch.delenv("NOVA_DPO_BEDROCK_CONN_ID", raising=False)


@pytest.fixture
def nothing_sent():
    """Every HTTP request botocore could make (AWS, or the instance metadata service) fails the test."""
    with mock.patch.object(URLLib3Session, "send", side_effect=AssertionError("a request was sent")) as send:
        yield
        send.assert_not_called()


def planned(region: str = "ap-northeast-1", **changes):
    plan = resolve_run(
        {**default_params(), "platform": "sagemaker", **changes},
        dag_id="nova_dpo_pipeline",
        run_id="manual__2026-03-01T00:00:00+00:00",
        logical_date=dt.datetime(2026, 3, 1, tzinfo=dt.UTC),
    )
    return dry_run(plan, region)


def steps_and_operations(requests) -> list[tuple[str, str]]:
    return [(request.step, request.operation) for request in requests]


@pytest.mark.parametrize(
    ("changes", "shipping"),
    [
        (
            {"technique": "lora"},
            [
                ("import_model", "CreateCustomModel"),
                ("deploy", "CreateCustomModelDeployment"),
                ("smoke_test", "Converse"),
                ("teardown", "DeleteCustomModelDeployment"),
            ],
        ),
        (
            {"technique": "full"},
            [
                ("import_model", "CreateCustomModel"),
                ("deploy", "CreateProvisionedModelThroughput"),
                ("smoke_test", "Converse"),
                ("teardown", "DeleteProvisionedModelThroughput"),
            ],
        ),
        ({"deploy": False}, [("import_model", "CreateCustomModel")]),
    ],
    ids=["lora", "full-rank", "no-deploy"],
)
def test_the_requests_of_a_run_in_order(nothing_sent, changes, shipping):
    run = planned(**changes)

    jobs = [(step, operation) for step in JOBS for operation in SUBMIT]
    assert steps_and_operations(run.writes) == jobs + shipping


def test_reads_are_recorded_in_order_too(nothing_sent):
    run = planned()

    assert steps_and_operations(run.requests)[:3] == [
        ("train_dpo", "DescribeTrainingJob"),  # a retried task attaches to its job: look first
        ("train_dpo", "PutObject"),
        ("train_dpo", "CreateTrainingJob"),
    ]
    # teardown looks at each job of the run (each Completed: nothing to stop) and at the family's models.
    assert steps_and_operations(run.requests)[-5:] == [
        ("teardown", "DescribeTrainingJob"),
        ("teardown", "DescribeTrainingJob"),
        ("teardown", "DescribeTrainingJob"),
        ("teardown", "DeleteCustomModelDeployment"),
        ("teardown", "ListCustomModels"),
    ]


@pytest.mark.parametrize("technique", ["lora", "full"])
def test_every_request_is_valid_for_botocores_service_model(nothing_sent, technique):
    session = botocore.session.get_session()

    for request in planned(technique=technique).requests:
        operation = session.get_service_model(request.service).operation_model(request.operation)
        validate_parameters(request.params, operation.input_shape)  # raises ParamValidationError


def test_sagemaker_requests_go_to_the_jobs_region_and_bedrocks_to_its_own(nothing_sent):
    run = planned(region="ap-northeast-1")

    regions = {(request.service, request.region) for request in run.requests}
    assert regions == {
        ("sagemaker", "ap-northeast-1"),
        ("s3", "ap-northeast-1"),
        ("bedrock", "us-east-1"),
        ("bedrock-runtime", "us-east-1"),
    }
    train = next(request for request in run.writes if request.operation == "CreateTrainingJob")
    assert train.params["AlgorithmSpecification"]["TrainingImage"] == catalog.image_uri_for(
        "dpo", "1.0", "ap-northeast-1"
    )


def test_the_requests_carry_the_plan(nothing_sent):
    run = planned(model_family="lite", beta=0.05, max_run=7200)
    plan = run.plan
    creates = {
        request.step: request.params for request in run.writes if request.operation == "CreateTrainingJob"
    }
    uploads = {request.step: request.params for request in run.writes if request.operation == "PutObject"}

    assert creates["train_dpo"]["TrainingJobName"] == plan.training.job_name
    assert creates["train_dpo"]["StoppingCondition"]["MaxRuntimeInSeconds"] == 7200
    assert creates["train_dpo"]["RoleArn"] == ROLE
    assert uploads["train_dpo"]["Body"] == plan.training.recipe.to_yaml().encode()
    assert creates["generate[candidate]"]["TrainingJobName"] == plan.evaluation.candidate_job_name
    assert creates["llm_judge"]["TrainingJobName"] == plan.evaluation.judge_job_name
    imported = next(request.params for request in run.writes if request.operation == "CreateCustomModel")
    assert imported["modelName"] == plan.ship.model_name
    assert imported["roleArn"] == IMPORT_ROLE


def test_the_cost_is_the_worst_case_of_each_training_job(nothing_sent):
    run = planned(max_run=3600)

    creates = [request for request in run.writes if request.operation == "CreateTrainingJob"]
    for request in creates:
        resources = request.params["ResourceConfig"]
        assert request.worst_case_usd == pytest.approx(
            catalog.estimate_cost_usd(
                resources["InstanceType"],
                resources["InstanceCount"],
                request.params["StoppingCondition"]["MaxRuntimeInSeconds"],
            )
        )
    assert run.worst_case_usd == pytest.approx(sum(request.worst_case_usd for request in creates))
    assert all(request.worst_case_usd is None for request in run.requests if request not in creates)


def test_a_client_that_would_send_refuses():
    client = RecordingAws(ACCOUNT).client("sagemaker", "us-east-1")

    with pytest.raises(RefusedToSend, match="sends nothing"):
        client.list_training_jobs()  # an operation the dry run has no answer for goes on to be sent


@pytest.mark.parametrize(
    ("env", "changes", "message"),
    [
        (
            {},
            {"platform": "local", "storage_root": "/data/nova-dpo"},
            "the local platform sends no AWS request",
        ),
        ({"NOVA_DPO_ROLE_ARN": None}, {}, "set env NOVA_DPO_ROLE_ARN"),
        ({"NOVA_DPO_IMPORT_ROLE_ARN": None}, {}, "set env NOVA_DPO_IMPORT_ROLE_ARN"),
    ],
)
def test_what_a_dry_run_cannot_do_is_said(monkeypatch, env, changes, message):
    for name, value in env.items():
        monkeypatch.delenv(name) if value is None else monkeypatch.setenv(name, value)

    with pytest.raises(ValueError, match=message):
        planned(**changes)


def command(capsys, *argv: str) -> str:
    assert cli.main(["plan", *argv]) == 0
    return capsys.readouterr().out


def test_the_command_prints_each_request_with_its_region_and_json(nothing_sent, capsys):
    out = command(capsys, "--platform", "sagemaker", "--region", "ap-northeast-1", "-p", "technique=full")

    listed = [line.split()[1:3] for line in out.splitlines() if line[:3].strip().rstrip(".").isdigit()]
    assert [operation for operation, _ in listed] == [
        *SUBMIT * len(JOBS),
        "CreateCustomModel",
        "CreateProvisionedModelThroughput",
        "Converse",
        "DeleteProvisionedModelThroughput",
    ]
    assert "Nothing was sent" in out
    assert "Worst-case cost of the training jobs: $" in out
    assert '"TrainingImage": "878185805882.dkr.ecr.ap-northeast-1.amazonaws.com/' in out


def test_the_command_prints_json(nothing_sent, capsys):
    conf = json.dumps({"model_family": "pro", "deploy": False})
    document = json.loads(
        command(capsys, "--platform", "sagemaker", "--region", "us-east-1", "--conf", conf, "--json")
    )

    writes = [request["operation"] for request in document["requests"] if not request["reads"]]
    assert writes == [*SUBMIT * len(JOBS), "CreateCustomModel"]
    assert document["bedrock"] == {"region": "us-east-1", "conn_id": "aws_default"}
    assert document["worst_case_usd"] == pytest.approx(
        sum(request["worst_case_usd"] or 0 for request in document["requests"]), abs=0.01
    )
    recipe = next(request for request in document["requests"] if request["operation"] == "PutObject")
    assert "model_type: amazon.nova-pro-v1:0:300k" in recipe["params"]["Body"]


def test_a_bedrock_region_without_import_fails_the_command_naming_the_setting(monkeypatch, caplog):
    monkeypatch.delenv("NOVA_DPO_BEDROCK_REGION")

    assert cli.main(["plan", "--platform", "sagemaker", "--region", "ap-northeast-1"]) == 2
    assert "set env NOVA_DPO_BEDROCK_REGION to a region that does: us-east-1" in caplog.text


def test_the_command_imports_no_aws_sdk_for_its_help():
    code = (
        "import sys\n"
        "from nova_dpo import cli\n"
        "cli.build_parser().parse_args(['plan', '--platform', 'sagemaker'])\n"
        "assert not {'boto3', 'botocore'} & sys.modules.keys()\n"
    )
    done = subprocess.run([sys.executable, "-c", code], env={"PYTHONPATH": str(INCLUDE)}, capture_output=True)
    assert done.returncode == 0, done.stderr.decode()
