"""The operators of the DAG send exactly the requests ``nova-dpo plan`` prints for the same plan and inputs.

The dry run builds its jobs from the plan as the job operators do (:mod:`nova_dpo.pipeline.dry_run`); here each
operator runs as the DAG wires it, on botocore Stubbers that expect, to the letter, the dry run's recipe upload
and CreateTrainingJob (then the Bedrock import, deployment and smoke test), and refuse anything else.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from unittest import mock

import boto3
import pytest
from airflow.providers.amazon.aws.hooks.bedrock import BedrockHook, BedrockRuntimeHook
from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.providers.amazon.aws.hooks.sagemaker import SageMakerHook
from airflow.providers.common.compat.sdk import TaskDeferred
from botocore.stub import Stubber

from nova_dpo.pipeline import steps
from nova_dpo.pipeline.dry_run import Upstream, dry_run
from nova_dpo.pipeline.params import default_params
from nova_dpo.pipeline.run import resolve_run
from nova_dpo_airflow.operators.nova_jobs import NovaDpoTrainingOperator, NovaEvaluationOperator
from nova_dpo_airflow.operators.ship import (
    NovaDeployModelOperator,
    NovaImportModelOperator,
    NovaSmokeTestOperator,
)
from tests import sagemaker_fakes
from tests.plugins.test_ship_operators import expect_smoke_test

REGION = "us-east-1"
ACCOUNT = "111122223333"
ENV = {
    "NOVA_DPO_S3_ROOT": "s3://amzn-s3-demo-bucket/nova-dpo",
    "NOVA_DPO_ROLE_ARN": f"arn:aws:iam::{ACCOUNT}:role/NovaDpoSageMaker",
    "NOVA_DPO_IMPORT_ROLE_ARN": f"arn:aws:iam::{ACCOUNT}:role/NovaDpoBedrockImport",
    "NOVA_DPO_BEDROCK_REGION": REGION,
}


@pytest.fixture(scope="module")
def run():
    """A sagemaker run's plan, its dry run and the inputs the dry run assumed."""
    with mock.patch.dict(os.environ, ENV):
        plan = resolve_run(
            {**default_params(), "platform": "sagemaker"},
            dag_id="nova_dpo_pipeline",
            run_id="manual__2026-03-01T00:00:00+00:00",
            logical_date=dt.datetime(2026, 3, 1, tzinfo=dt.UTC),
        )
    return plan, dry_run(plan, REGION), Upstream.of(plan, ACCOUNT)


def sent(dry, step: str, operation: str) -> dict:
    (params,) = [r.params for r in dry.requests if (r.step, r.operation) == (step, operation)]
    return params


@pytest.fixture
def aws():
    """Stubbed clients behind the provider's hooks, by service."""
    hooks = {
        "sagemaker": SageMakerHook,
        "s3": S3Hook,
        "bedrock": BedrockHook,
        "bedrock-runtime": BedrockRuntimeHook,
    }
    stubbers = {}
    with contextlib.ExitStack() as stack:
        for service, hook in hooks.items():
            client = boto3.client(service, region_name=REGION)
            stubbers[service] = stack.enter_context(Stubber(client))
            stack.enter_context(
                mock.patch.object(hook, "conn", new_callable=mock.PropertyMock, return_value=client)
            )
        yield stubbers
        for stubber in stubbers.values():
            stubber.assert_no_pending_responses()


def job_operators(plan, upstream: Upstream) -> dict:
    """The job operators as the DAG wires them, with the inputs the dry run assumed."""
    files = upstream.dataset["files"]
    baseline = {"kind": "base", "name": plan.training.base_model, "uri": plan.training.base_model}
    targets = steps.evaluation_targets(plan, upstream.training, upstream.eval_set, baseline)
    common = {"plan": plan.to_dict(), "wait_for_completion": False, "deferrable": False}
    return {
        "train_dpo": NovaDpoTrainingOperator(
            task_id="train_dpo",
            train_uri=files["train.jsonl"],
            validation_uri=files["validation.jsonl"],
            **common,
        ),
        "generate[candidate]": NovaEvaluationOperator(
            task_id="generate", task="gen_qa", **targets[0], **common
        ),
        "generate[baseline]": NovaEvaluationOperator(
            task_id="generate", task="gen_qa", **targets[1], **common
        ),
        "llm_judge": NovaEvaluationOperator(
            task_id="llm_judge", task="llm_judge", data_uri=upstream.judge_pairs, **common
        ),
    }


@pytest.mark.parametrize("step", ["train_dpo", "generate[candidate]", "generate[baseline]", "llm_judge"])
def test_each_job_operator_sends_the_dry_runs_requests(run, aws, step):
    plan, dry, upstream = run
    create = sent(dry, step, "CreateTrainingJob")
    name = create["TrainingJobName"]
    sagemaker_fakes.expect_describe(aws["sagemaker"], name, None)
    aws["s3"].add_response("put_object", {}, sent(dry, step, "PutObject"))
    aws["sagemaker"].add_response(
        "create_training_job", {"TrainingJobArn": sagemaker_fakes.arn(name)}, create
    )
    sagemaker_fakes.expect_describe(aws["sagemaker"], name, sagemaker_fakes.described(create, "InProgress"))

    summary = job_operators(plan, upstream)[step].execute(
        {"ti": mock.MagicMock(map_index=-1), "run_id": plan.run_id}
    )

    assert (summary["job_name"], summary["status"]) == (name, "InProgress")


def test_the_ship_operators_send_the_dry_runs_requests(run, aws):
    plan, dry, upstream = run
    bedrock, runtime = aws["bedrock"], aws["bedrock-runtime"]
    imported = sent(dry, "import_model", "CreateCustomModel")
    model_arn = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:custom-model/imported/<model id>"
    bedrock.add_client_error("get_custom_model", "ResourceNotFoundException", http_status_code=404)
    bedrock.add_response("create_custom_model", {"modelArn": model_arn}, imported)
    deployed = sent(dry, "deploy", "CreateCustomModelDeployment")
    deployment_arn = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:custom-model-deployment/<deployment id>"
    bedrock.add_response("list_custom_model_deployments", {"modelDeploymentSummaries": []})
    bedrock.add_response(
        "create_custom_model_deployment", {"customModelDeploymentArn": deployment_arn}, deployed
    )
    expect_smoke_test(runtime, sent(dry, "smoke_test", "Converse"))
    arguments = {"plan": plan.to_dict(), "deferrable": True}

    with pytest.raises(TaskDeferred):
        NovaImportModelOperator(
            task_id="import_model", dataset=upstream.dataset, training=upstream.training, **arguments
        ).execute({})
    deploy = NovaDeployModelOperator(task_id="deploy", imported={"model_id": model_arn}, **arguments)
    with pytest.raises(TaskDeferred):
        deploy.execute({})
    deployment = deploy.execute_complete({}, {"status": "success", "deployment_arn": deployment_arn})
    smoke = NovaSmokeTestOperator(task_id="smoke_test", plan=plan.to_dict(), deployment=deployment).execute(
        {}
    )

    assert smoke["passed"] is True
