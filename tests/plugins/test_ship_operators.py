"""The ship operators on both platforms.

``local`` runs against a real model store in a temporary folder. ``sagemaker`` runs against real boto3 clients
wrapped in botocore's Stubber, which checks every request against the service model and the exact expected
parameters and refuses any call that was not queued; the champion record is read from S3 on a moto server.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from unittest import mock

import boto3
import pytest
from airflow.providers.amazon.aws.hooks.bedrock import BedrockHook, BedrockRuntimeHook
from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.providers.amazon.aws.hooks.sagemaker import SageMakerHook
from airflow.providers.amazon.aws.triggers.bedrock import BedrockProvisionModelThroughputCompletedTrigger
from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException, TaskDeferred
from airflow.sdk.bases.operator import ExecutorSafeguard
from botocore.stub import ANY, Stubber

from nova_dpo.pipeline.params import default_params
from nova_dpo.pipeline.run import resolve_run
from nova_dpo.platforms.bedrock_store import (
    DATASET_TAG_KEY,
    RECIPE_TAG_KEY,
    SOURCE_TAG_KEY,
    TRAINING_JOB_TAG_KEY,
    BedrockModelStore,
    client_request_token,
)
from nova_dpo.platforms.local.store import LocalModelStore
from nova_dpo_airflow.operators.ship import (
    NovaDeployModelOperator,
    NovaImportModelOperator,
    NovaSmokeTestOperator,
    NovaTeardownOperator,
    aws_connection_region,
)
from nova_dpo_airflow.triggers.bedrock_custom_model import (
    BedrockCustomModelActiveTrigger,
    BedrockCustomModelDeploymentActiveTrigger,
)
from tests import sagemaker_fakes
from tests.bedrock_fakes import (
    ACCOUNT,
    CREATED,
    DEPLOYMENT_ARN,
    MODEL_ARN,
    PT_ARN,
    REGION,
    converse_response,
    model_summary,
    not_found,
)
from tests.operator_checks import validate_template_fields

ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/BedrockImportRole"
ESCROW_URI = "s3://customer-escrow-123456789012-smtj-abc123/nova-dpo-run-1"
DATASET_SHA = "d" * 64
NO_WAIT = {"waiter_delay": 0, "waiter_max_attempts": 3}
PLUGINS = Path(__file__).resolve().parents[2] / "plugins"


def make_plan(platform: str, root: str, technique: str = "lora", **params) -> dict:
    """A real run plan, from resolve_run with the DAG's default params."""
    defaults = default_params()
    chosen = {
        **defaults,
        "platform": platform,
        "model_family": "micro",
        "technique": technique,
        "storage_root": root,
        "base_model": "tiny-test-model",
        **params,
    }
    with mock.patch.dict(os.environ, {"NOVA_DPO_ROLE_ARN": ROLE_ARN, "NOVA_DPO_IMPORT_ROLE_ARN": ROLE_ARN}):
        return resolve_run(
            chosen,
            dag_id="nova_dpo_pipeline",
            run_id="manual__2026-01-01T00:00:00+00:00",
            logical_date=CREATED,
        ).to_dict()


def smoke_name(plan: dict) -> str:
    return f"{plan['ship']['model_name']}-smoke"


def dataset() -> dict:
    return {"version": {"source": "nvidia/When2Call", "version": "v1"}, "content_sha256": DATASET_SHA}


def training(plan: dict, checkpoint_uri: str) -> dict:
    return {"job_name": plan["training"]["job_name"], "outputs": {"checkpoint_uri": checkpoint_uri}}


VERDICT = {"passed": True, "reasons": ["tool_call_f1 +20%"], "metrics": {"tool_call_f1": {"candidate": 0.6}}}


@pytest.fixture
def bedrock():
    """The Bedrock control plane; BedrockCustomModelHook inherits the patched ``conn`` from BedrockHook."""
    client = boto3.client("bedrock", region_name=REGION)
    with (
        Stubber(client) as stubber,
        mock.patch.object(BedrockHook, "conn", new_callable=mock.PropertyMock, return_value=client),
    ):
        yield stubber
        stubber.assert_no_pending_responses()


@pytest.fixture
def runtime():
    client = boto3.client("bedrock-runtime", region_name=REGION)
    with (
        Stubber(client) as stubber,
        mock.patch.object(BedrockRuntimeHook, "conn", new_callable=mock.PropertyMock, return_value=client),
    ):
        yield stubber
        stubber.assert_no_pending_responses()


@pytest.fixture
def sagemaker():
    """SageMaker, stubbed; S3 (which stopping a job never needs) stubbed with nothing expected."""
    client = boto3.client("sagemaker", region_name=REGION)
    s3 = boto3.client("s3", region_name=REGION)
    with (
        Stubber(client) as stubber,
        Stubber(s3),
        mock.patch.object(SageMakerHook, "conn", new_callable=mock.PropertyMock, return_value=client),
        mock.patch.object(S3Hook, "conn", new_callable=mock.PropertyMock, return_value=s3),
    ):
        yield stubber
        stubber.assert_no_pending_responses()


# ------------------------------------------------------------------------------------------------ common


def test_importing_the_module_imports_no_aws_sdk():
    code = (
        "import sys\n"
        "import nova_dpo_airflow.operators.ship\n"
        "heavy = sorted({'boto3', 'botocore', 'nova_dpo'} & sys.modules.keys())\n"
        "assert not heavy, heavy\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(PLUGINS), str(PLUGINS.parent / "include")])}
    completed = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr


#: Airflow's modules that are no public interface: the task runner's internals, the ORM, the executors.
PRIVATE_AIRFLOW = re.compile(
    r"ExecutorSafeguard|\bairflow\.(?:sdk\.(?:bases|definitions|execution_time|api)|models|utils|jobs|executors"
    r"|serialization)\b"
)


#: The one internal a trigger needs: Airflow 3 gives a trigger no public way to read its task's state, which
#: ``on_kill`` must know (a user ended the task, or another triggerer took the trigger over). The Amazon provider's
#: own triggers read it the same way (``triggers/emr.py``, ``EmrServerlessStartJobTrigger.get_task_state``).
TASK_STATE_LOOKUP = (
    "nova_dpo_airflow/triggers/local_job.py",
    "from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance",
)


def test_plugins_use_no_private_airflow_module():
    """The plugins reach Bedrock through hooks and run no operator inside another (no ExecutorSafeguard); the
    only internal they touch is the task state lookup the Amazon provider's triggers use too."""
    offenders = [
        f"{path.relative_to(PLUGINS)}:{number}: {line.strip()}"
        for path in sorted(PLUGINS.rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if PRIVATE_AIRFLOW.search(line)
        and (str(path.relative_to(PLUGINS)), line.strip()) != TASK_STATE_LOOKUP
    ]

    assert not offenders


@pytest.mark.parametrize(
    "operator",
    [
        NovaImportModelOperator(task_id="import_model", plan={}, dataset={}, training={}),
        NovaDeployModelOperator(task_id="deploy", plan={}, imported={}),
        NovaSmokeTestOperator(task_id="smoke_test", plan={}, deployment={}),
        NovaTeardownOperator(task_id="teardown", plan={}, job_names=[]),
    ],
    ids=lambda operator: type(operator).__name__,
)
def test_template_fields(operator):
    validate_template_fields(operator)
    assert "plan" in operator.template_fields


def test_a_plan_rendered_as_text_is_refused_with_the_fix():
    op = NovaDeployModelOperator(task_id="deploy", plan="{'platform': 'local'}", imported={})

    with pytest.raises(TypeError, match="render_template_as_native_obj=True"):
        op.execute({})


def test_an_unknown_platform_is_refused(tmp_path):
    plan = {**make_plan("local", str(tmp_path)), "platform": "azure"}

    with pytest.raises(ValueError, match="'local' or 'sagemaker'"):
        NovaTeardownOperator(task_id="teardown", plan=plan, job_names=[]).execute({})


@pytest.mark.parametrize("platform", ["local", "sagemaker"])
def test_deploy_off_deploys_nothing_and_smoke_test_skips(bedrock, platform, tmp_path):
    root = str(tmp_path) if platform == "local" else "s3://bucket-one/root"
    plan = make_plan(platform, root, deploy=False)
    imported = {"model_name": plan["ship"]["model_name"], "model_id": MODEL_ARN, "model_uri": ESCROW_URI}

    deployment = NovaDeployModelOperator(task_id="deploy", plan=plan, imported=imported).execute({})
    smoke = NovaSmokeTestOperator(task_id="smoke_test", plan=plan, deployment=deployment).execute({})

    assert deployment == {}
    assert smoke == {"skipped": "deploy=false"}


# ------------------------------------------------------------------------------------------------- local


@pytest.fixture
def checkpoint(tmp_path: Path) -> Path:
    """A model folder as a local training job leaves it; the store copies whatever it is given."""
    folder = tmp_path / "jobs" / "train" / "checkpoint"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"model_type": "llama", "hidden_size": 8}))
    (folder / "model.safetensors").write_bytes(b"\0" * 64)
    return folder


class TestLocal:
    def test_import_reads_the_stored_verdict_and_is_idempotent(self, tmp_path, checkpoint):
        plan = make_plan("local", str(tmp_path / "home"))
        verdict_file = Path(plan["storage"]["run_uri"]) / "verdict.json"
        verdict_file.parent.mkdir(parents=True)
        verdict_file.write_text(json.dumps(VERDICT))
        op = NovaImportModelOperator(
            task_id="import_model", plan=plan, dataset=dataset(), training=training(plan, checkpoint.as_uri())
        )

        imported = op.execute({})

        record = LocalModelStore(plan["storage"]["root"]).get_model(plan["ship"]["model_name"])
        assert imported == {
            "model_name": plan["ship"]["model_name"],
            "model_id": record.model_id,
            "model_uri": record.artifact_uri,
        }
        assert record.metrics == {"tool_call_f1": 0.6}
        assert record.lineage["dataset_sha256"] == DATASET_SHA
        assert (Path(record.artifact_uri.removeprefix("file://")) / "config.json").exists()
        assert op.execute({}) == imported

    def test_import_uses_the_verdict_given(self, tmp_path, checkpoint):
        plan = make_plan("local", str(tmp_path / "home"))
        verdict = {**VERDICT, "metrics": {"rouge1": {"candidate": 0.4}}}
        op = NovaImportModelOperator(
            task_id="import_model",
            plan=plan,
            dataset=dataset(),
            training=training(plan, str(checkpoint)),
            verdict=verdict,
        )

        imported = op.execute({})

        assert LocalModelStore(plan["storage"]["root"]).get_model(imported["model_id"]).metrics == {
            "rouge1": 0.4
        }

    def test_deploy_then_teardown_removes_the_deployment(self, tmp_path, checkpoint):
        plan = make_plan("local", str(tmp_path / "home"))
        imported = NovaImportModelOperator(
            task_id="import_model",
            plan=plan,
            dataset=dataset(),
            training=training(plan, str(checkpoint)),
            verdict=VERDICT,
        ).execute({})

        deployment = NovaDeployModelOperator(task_id="deploy", plan=plan, imported=imported).execute({})

        store = LocalModelStore(plan["storage"]["root"])
        assert deployment == {
            "deployment_name": smoke_name(plan),
            "deployment_id": smoke_name(plan),
            "kind": "local",
            "status": "Active",
        }
        assert [d.name for d in store.list_deployments()] == [smoke_name(plan)]

        result = NovaTeardownOperator(
            task_id="teardown",
            plan=plan,
            job_names=plan["training"]["job_name"],  # one name, as a template renders it
            deployment=deployment,
        ).execute({})

        assert result == {"stopped": [], "deleted_deployments": [smoke_name(plan)], "pruned_models": []}
        assert store.list_deployments() == []
        assert store.get_model(imported["model_id"]).name == plan["ship"]["model_name"]


class RunStates:
    """The task SDK's view of the run's task states (``RuntimeTaskInstance.get_task_states``), as the API
    server would answer it for a run that was marked failed while ``train_dpo`` ran."""

    def __init__(self, run_id: str, states: dict[str, str]) -> None:
        self.answer = {run_id: states}

    def get_task_states(self, dag_id: str, run_ids: list[str]) -> dict[str, dict[str, str]]:
        return self.answer


@pytest.mark.parametrize(
    ("states", "failed"),
    [
        (
            {"train_dpo": "failed", "metric_gate": "skipped", "publish": "skipped", "teardown": "running"},
            True,
        ),
        ({"prepare_dataset": "failed", "train_dpo": "upstream_failed", "teardown": "running"}, True),
        ({"train_dpo": "success", "reject": "success", "publish": "skipped", "teardown": "running"}, False),
    ],
)
def test_teardown_cleans_up_then_fails_a_run_with_a_failed_task(tmp_path, states, failed):
    plan = make_plan("local", str(tmp_path / "home"))
    run_id = plan["run_id"]
    operator = NovaTeardownOperator(task_id="teardown", plan=plan, deployment={})
    context = {"ti": RunStates(run_id, states), "run_id": run_id}

    if failed:
        with pytest.raises(
            AirflowFailException, match=r"Cleanup done .*the run failed: (prepare_dataset, )?train_dpo"
        ):
            operator.execute(context)
    else:
        assert operator.execute(context) == {"stopped": [], "deleted_deployments": [], "pruned_models": []}


# --------------------------------------------------------------------------------------------- sagemaker


@pytest.fixture
def s3_plan():
    return make_plan("sagemaker", "s3://bucket-one/root")


def imported_model(plan: dict) -> dict:
    return {"model_name": plan["ship"]["model_name"], "model_id": MODEL_ARN, "model_uri": ESCROW_URI}


class TestImportOnSageMaker:
    @staticmethod
    def operator(plan: dict, **kwargs) -> NovaImportModelOperator:
        return NovaImportModelOperator(
            task_id="import_model",
            plan=plan,
            dataset=dataset(),
            training=training(plan, ESCROW_URI),
            **{**NO_WAIT, **kwargs},
        )

    @staticmethod
    def expect_create(bedrock: Stubber, plan: dict) -> None:
        name = plan["ship"]["model_name"]
        not_found(bedrock, "get_custom_model", modelIdentifier=name)
        bedrock.add_response(
            "create_custom_model",
            {"modelArn": MODEL_ARN},
            {
                "modelName": name,
                "modelSourceConfig": {"s3DataSource": {"s3Uri": ESCROW_URI}},
                "roleArn": ROLE_ARN,
                "modelTags": [
                    {"key": DATASET_TAG_KEY, "value": DATASET_SHA},
                    {"key": RECIPE_TAG_KEY, "value": plan["training"]["recipe"]["sha256"]},
                    {"key": TRAINING_JOB_TAG_KEY, "value": plan["training"]["job_name"]},
                    {"key": SOURCE_TAG_KEY, "value": hashlib.sha256(ESCROW_URI.encode()).hexdigest()},
                ],
                "clientRequestToken": client_request_token("import", name, ESCROW_URI),
            },
        )

    def expected(self, plan: dict) -> dict:
        return {"model_name": plan["ship"]["model_name"], "model_id": MODEL_ARN, "model_uri": ESCROW_URI}

    def test_imports_the_escrow_checkpoint_and_waits(self, bedrock, s3_plan):
        self.expect_create(bedrock, s3_plan)
        for status in ("Creating", "Active"):
            bedrock.add_response(
                "get_custom_model",
                {
                    "modelArn": MODEL_ARN,
                    "modelName": s3_plan["ship"]["model_name"],
                    "creationTime": CREATED,
                    "modelStatus": status,
                },
                {"modelIdentifier": MODEL_ARN},
            )

        assert self.operator(s3_plan, deferrable=False).execute({}) == self.expected(s3_plan)

    def test_a_retry_after_the_gate_imports_nothing_twice(self, bedrock, s3_plan):
        """The import task retried (or cleared) after its model was created attaches to it: no second
        CreateCustomModel (the Stubber fails on any call not listed)."""
        bedrock.add_response(
            "get_custom_model",
            {
                "modelArn": MODEL_ARN,
                "modelName": s3_plan["ship"]["model_name"],
                "creationTime": CREATED,
                "modelStatus": "Active",
            },
            {"modelIdentifier": s3_plan["ship"]["model_name"]},
        )
        bedrock.add_response(
            "list_tags_for_resource",
            {"tags": [{"key": SOURCE_TAG_KEY, "value": hashlib.sha256(ESCROW_URI.encode()).hexdigest()}]},
            {"resourceARN": MODEL_ARN},
        )

        assert self.operator(s3_plan, deferrable=False).execute({}) == self.expected(s3_plan)
        bedrock.assert_no_pending_responses()

    def test_defers_with_the_bedrock_trigger_and_resumes(self, bedrock, s3_plan):
        self.expect_create(bedrock, s3_plan)
        op = self.operator(s3_plan, deferrable=True)

        with mock.patch.object(op, "defer", wraps=op.defer) as defer, pytest.raises(TaskDeferred) as deferred:
            op.execute({})

        defer.assert_called_once()
        assert isinstance(deferred.value.trigger, BedrockCustomModelActiveTrigger)
        assert deferred.value.trigger.waiter_args == {"modelIdentifier": MODEL_ARN}
        assert deferred.value.method_name == "execute_complete"
        event = {"status": "success", "model_arn": MODEL_ARN}
        assert op.execute_complete({}, event) == self.expected(s3_plan)

    def test_a_failed_wait_fails_the_task(self, bedrock, s3_plan):
        not_found(bedrock, "get_custom_model", modelIdentifier=MODEL_ARN)

        with pytest.raises(AirflowException, match="Error while waiting"):
            self.operator(s3_plan).execute_complete({}, {"status": "failure", "model_arn": MODEL_ARN})

    def test_without_a_role_names_the_setting(self, bedrock, s3_plan):
        with pytest.raises(ValueError, match="NOVA_DPO_IMPORT_ROLE_ARN"):
            self.operator({**s3_plan, "ship": {**s3_plan["ship"], "import_role_arn": None}}).execute({})

    def test_without_a_checkpoint_says_what_to_pass(self, bedrock, s3_plan):
        op = self.operator(s3_plan)
        op.training = {"job_name": "x", "outputs": {}}

        with pytest.raises(ValueError, match="checkpoint_uri"):
            op.execute({})


class TestDeployOnSageMaker:
    @staticmethod
    def operator(plan: dict, **kwargs) -> NovaDeployModelOperator:
        return NovaDeployModelOperator(
            task_id="deploy", plan=plan, imported=imported_model(plan), **{**NO_WAIT, **kwargs}
        )

    @staticmethod
    def expect_on_demand(bedrock: Stubber, plan: dict) -> None:
        """Queue the look for the smoke-test deployment (none) and its creation."""
        name = smoke_name(plan)
        bedrock.add_response(
            "list_custom_model_deployments", {"modelDeploymentSummaries": []}, {"nameContains": name}
        )
        bedrock.add_response(
            "create_custom_model_deployment",
            {"customModelDeploymentArn": DEPLOYMENT_ARN},
            {
                "modelDeploymentName": name,
                "modelArn": MODEL_ARN,
                "description": ANY,
                "clientRequestToken": client_request_token("deploy", name, MODEL_ARN),
            },
        )

    @pytest.mark.parametrize("deferrable", [False, True])
    def test_lora_is_deployed_on_demand(self, bedrock, s3_plan, deferrable):
        name = smoke_name(s3_plan)
        self.expect_on_demand(bedrock, s3_plan)
        op = self.operator(s3_plan, deferrable=deferrable)
        expected = {
            "deployment_name": name,
            "deployment_id": DEPLOYMENT_ARN,
            "kind": "on_demand",
            "status": "Active",
        }

        if deferrable:
            with mock.patch.object(op, "defer", wraps=op.defer) as defer, pytest.raises(TaskDeferred):
                op.execute({})
            trigger = defer.call_args.kwargs["trigger"]
            assert isinstance(trigger, BedrockCustomModelDeploymentActiveTrigger)
            assert defer.call_args.kwargs["method_name"] == "execute_complete"
            event = {"status": "success", "deployment_arn": DEPLOYMENT_ARN}
            assert op.execute_complete({}, event) == expected
            return

        bedrock.add_response(
            "get_custom_model_deployment",
            {
                "customModelDeploymentArn": DEPLOYMENT_ARN,
                "modelDeploymentName": name,
                "modelArn": MODEL_ARN,
                "createdAt": CREATED,
                "status": "Active",
            },
            {"customModelDeploymentIdentifier": DEPLOYMENT_ARN},
        )
        assert op.execute({}) == expected

    @staticmethod
    def throughput(plan: dict, status: str, model_arn: str = MODEL_ARN) -> dict:
        return {
            "modelUnits": 1,
            "desiredModelUnits": 1,
            "provisionedModelName": smoke_name(plan),
            "provisionedModelArn": PT_ARN,
            "modelArn": model_arn,
            "desiredModelArn": model_arn,
            "foundationModelArn": "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-micro-v1:0",
            "status": status,
            "creationTime": CREATED,
            "lastModifiedTime": CREATED,
        }

    def test_full_rank_gets_one_model_unit_without_commitment_and_defers(self, bedrock):
        plan = make_plan("sagemaker", "s3://bucket-one/root", technique="full")
        name = smoke_name(plan)
        not_found(bedrock, "get_provisioned_model_throughput", provisionedModelId=name)
        bedrock.add_response(
            "create_provisioned_model_throughput",
            {"provisionedModelArn": PT_ARN},
            {
                "modelUnits": 1,
                "provisionedModelName": name,
                "modelId": MODEL_ARN,
                "clientRequestToken": client_request_token("provision", name, MODEL_ARN),
            },
        )
        op = self.operator(plan, deferrable=True)

        with mock.patch.object(op, "defer", wraps=op.defer) as defer, pytest.raises(TaskDeferred):
            op.execute({})

        trigger = defer.call_args.kwargs["trigger"]
        assert isinstance(trigger, BedrockProvisionModelThroughputCompletedTrigger)
        assert trigger.waiter_args == {"provisionedModelId": PT_ARN}
        event = {"status": "success", "provisioned_model_id": PT_ARN}
        assert op.execute_complete({}, event) == {
            "deployment_name": name,
            "deployment_id": PT_ARN,
            "kind": "provisioned",
            "status": "InService",
        }

    def test_full_rank_retry_attaches_to_the_throughput_being_created(self, bedrock):
        plan = make_plan("sagemaker", "s3://bucket-one/root", technique="full")
        params = {"provisionedModelId": smoke_name(plan)}
        bedrock.add_response("get_provisioned_model_throughput", self.throughput(plan, "Creating"), params)
        op = self.operator(plan, deferrable=True)

        with mock.patch.object(op, "defer", wraps=op.defer) as defer, pytest.raises(TaskDeferred):
            op.execute({})  # the Stubber refuses a second CreateProvisionedModelThroughput

        assert isinstance(defer.call_args.kwargs["trigger"], BedrockProvisionModelThroughputCompletedTrigger)

    def test_full_rank_retry_returns_a_throughput_in_service(self, bedrock):
        plan = make_plan("sagemaker", "s3://bucket-one/root", technique="full")
        params = {"provisionedModelId": smoke_name(plan)}
        bedrock.add_response("get_provisioned_model_throughput", self.throughput(plan, "InService"), params)

        assert self.operator(plan).execute({})["deployment_id"] == PT_ARN

    def test_full_rank_retry_waits_in_the_worker_with_the_providers_waiter(self, bedrock):
        plan = make_plan("sagemaker", "s3://bucket-one/root", technique="full")
        params = {"provisionedModelId": smoke_name(plan)}
        bedrock.add_response("get_provisioned_model_throughput", self.throughput(plan, "Creating"), params)
        waited = {"provisionedModelId": PT_ARN}
        bedrock.add_response("get_provisioned_model_throughput", self.throughput(plan, "Creating"), waited)
        bedrock.add_response("get_provisioned_model_throughput", self.throughput(plan, "InService"), waited)

        assert self.operator(plan, deferrable=False).execute({})["deployment_id"] == PT_ARN

    def test_full_rank_refuses_a_namesake_serving_another_model(self, bedrock):
        plan = make_plan("sagemaker", "s3://bucket-one/root", technique="full")
        other = MODEL_ARN.replace("abcdef123456", "0123456789ab")
        params = {"provisionedModelId": smoke_name(plan)}
        bedrock.add_response(
            "get_provisioned_model_throughput", self.throughput(plan, "InService", other), params
        )

        with pytest.raises(AirflowFailException, match="already serves"):
            self.operator(plan).execute({})


def expect_smoke_test(runtime: Stubber, request: dict | None = None) -> None:
    """Queue the deployment's answer to the smoke test, a call of the offered tool, for ``request`` (default:
    any smoke test of ``DEPLOYMENT_ARN``)."""
    answer = '{"name": "get_current_weather", "parameters": {"city": "Paris", "unit": "celsius"}}'
    runtime.add_response(
        "converse",
        converse_response({"text": answer}),
        request or {"modelId": DEPLOYMENT_ARN, "messages": ANY, "system": ANY, "inferenceConfig": ANY},
    )


def test_smoke_test_calls_the_deployment(runtime, s3_plan, capsys, caplog):
    expect_smoke_test(runtime)
    deployment = {
        "deployment_name": smoke_name(s3_plan),
        "deployment_id": DEPLOYMENT_ARN,
        "kind": "on_demand",
    }

    op = NovaSmokeTestOperator(task_id="smoke_test", plan=s3_plan, deployment=deployment)

    token = ExecutorSafeguard.tracker.set(op)  # what the task runner does for the task it runs
    try:
        result = op.execute({})
    finally:
        ExecutorSafeguard.tracker.reset(token)

    assert result["passed"] is True
    assert result["tool_calls"][0]["name"] == "get_current_weather"
    # The call goes through the runtime hook: no operator runs nested in this one, so Airflow's safeguard
    # against operators executed outside the task runner has nothing to warn about.
    assert "cannot be called outside" not in capsys.readouterr().out + caplog.text


def described(name: str, status: str) -> dict:
    """A DescribeTrainingJob response."""
    return {
        "TrainingJobName": name,
        "TrainingJobArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:training-job/{name}",
        "ModelArtifacts": {"S3ModelArtifacts": f"s3://bucket-one/root/jobs/{name}/output/model.tar.gz"},
        "TrainingJobStatus": status,
        "SecondaryStatus": {"InProgress": "Training"}.get(status, status),
        "AlgorithmSpecification": {"TrainingInputMode": "File", "TrainingImage": "nova-fine-tune:latest"},
        "ResourceConfig": {"InstanceType": "ml.p5.48xlarge", "InstanceCount": 2, "VolumeSizeInGB": 30},
        "StoppingCondition": {"MaxRuntimeInSeconds": 86_400},
        "CreationTime": CREATED,
    }


def expect_describe(sagemaker: Stubber, name: str, status: str | None) -> None:
    """Queue DescribeTrainingJob of ``name``: a job of ``status``, or "not found" for None."""
    sagemaker_fakes.expect_describe(sagemaker, name, described(name, status) if status else None)


class TestTeardownOnSageMaker:
    CONN_ID = "nova_dpo_ship_test"
    PREFIX = "nova-dpo-micro-"
    LIST = {"nameContains": PREFIX, "sortBy": "CreationTime", "sortOrder": "Descending"}  # noqa: RUF012

    @pytest.fixture
    def storage(self, moto_server, s3_root, monkeypatch):
        """The run's storage root on S3 (moto), reachable through the connection the operator is given."""
        extra = {"endpoint_url": moto_server, "region_name": REGION}
        monkeypatch.setenv(
            f"AIRFLOW_CONN_{self.CONN_ID.upper()}", json.dumps({"conn_type": "aws", "extra": extra})
        )
        return s3_root

    def operator(self, plan: dict, **kwargs) -> NovaTeardownOperator:
        return NovaTeardownOperator(task_id="teardown", plan=plan, aws_conn_id=self.CONN_ID, **kwargs)

    def test_stops_running_jobs_deletes_the_deployment_and_prunes_all_but_the_champion(
        self, storage, sagemaker, bedrock
    ):
        plan = make_plan("sagemaker", str(storage), keep_models=2)
        training_job, judge_job = plan["training"]["job_name"], plan["training"]["job_name"][:40] + "-judge"
        models = {
            day: model_summary(f"{self.PREFIX}2026010{day}t000000-abcdef1{day}", day) for day in range(1, 6)
        }
        champion = models[2]
        (storage / "registry" / "micro").mkdir(parents=True, exist_ok=True)
        (storage / "registry" / "micro" / "champion.json").write_text(
            json.dumps({"model_name": champion["modelName"], "model_id": champion["modelArn"]})
        )
        # The training job still runs: stopped. The judge failed once; its retry attempt runs: stopped.
        expect_describe(sagemaker, training_job, "InProgress")
        expect_describe(sagemaker, training_job, "InProgress")
        sagemaker.add_response("stop_training_job", {}, {"TrainingJobName": training_job})
        expect_describe(sagemaker, judge_job, "Failed")
        expect_describe(sagemaker, f"{judge_job}-a2", "InProgress")
        expect_describe(sagemaker, f"{judge_job}-a2", "InProgress")
        sagemaker.add_response("stop_training_job", {}, {"TrainingJobName": f"{judge_job}-a2"})
        bedrock.add_response(
            "delete_custom_model_deployment", {}, {"customModelDeploymentIdentifier": DEPLOYMENT_ARN}
        )
        bedrock.add_response(
            "list_custom_models", {"modelSummaries": [models[day] for day in (5, 4, 3, 2, 1)]}, self.LIST
        )
        for day in (3, 1):
            bedrock.add_response("delete_custom_model", {}, {"modelIdentifier": models[day]["modelArn"]})
        deployment = {
            "deployment_name": smoke_name(plan),
            "deployment_id": DEPLOYMENT_ARN,
            "kind": "on_demand",
        }

        result = self.operator(plan, job_names=[training_job, judge_job], deployment=deployment).execute({})

        assert result == {
            "stopped": [training_job, f"{judge_job}-a2"],
            "deleted_deployments": [smoke_name(plan)],
            "pruned_models": [models[3]["modelName"], models[1]["modelName"]],
        }

    def test_finds_the_throughput_a_failed_deploy_left_by_its_name(self, storage, sagemaker, bedrock):
        plan = make_plan("sagemaker", str(storage), technique="full")
        training_job = plan["training"]["job_name"]
        expect_describe(sagemaker, training_job, "Completed")
        bedrock.add_response(
            "delete_provisioned_model_throughput", {}, {"provisionedModelId": smoke_name(plan)}
        )
        bedrock.add_response(
            "list_custom_models", {"modelSummaries": [model_summary(f"{self.PREFIX}1", 1)]}, self.LIST
        )

        result = self.operator(plan, job_names=[training_job], deployment=None).execute({})

        assert result == {"stopped": [], "deleted_deployments": [smoke_name(plan)], "pruned_models": []}

    def test_ignores_what_does_not_exist(self, storage, sagemaker, bedrock):
        plan = make_plan("sagemaker", str(storage))
        expect_describe(sagemaker, plan["training"]["job_name"], None)
        not_found(bedrock, "delete_custom_model_deployment", customModelDeploymentIdentifier=smoke_name(plan))
        bedrock.add_response("list_custom_models", {"modelSummaries": []}, self.LIST)

        result = self.operator(plan, job_names=plan["training"]["job_name"]).execute({})

        assert result == {"stopped": [], "deleted_deployments": [], "pruned_models": []}

    def test_deploy_off_deletes_no_deployment(self, storage, sagemaker, bedrock):
        plan = make_plan("sagemaker", str(storage), deploy=False)
        bedrock.add_response("list_custom_models", {"modelSummaries": []}, self.LIST)

        assert self.operator(plan, job_names=[]).execute({})["deleted_deployments"] == []

    def test_does_everything_it_can_then_fails_naming_what_it_could_not(self, storage, sagemaker, bedrock):
        plan = make_plan("sagemaker", str(storage))
        training_job = plan["training"]["job_name"]
        expect_describe(sagemaker, training_job, "InProgress")
        expect_describe(sagemaker, training_job, "InProgress")
        sagemaker.add_client_error(
            "stop_training_job", "AccessDeniedException", "not authorized", http_status_code=403
        )
        bedrock.add_response(
            "delete_custom_model_deployment", {}, {"customModelDeploymentIdentifier": smoke_name(plan)}
        )

        with (
            mock.patch.object(
                BedrockModelStore, "alias_record", side_effect=PermissionError("no s3:GetObject")
            ),
            pytest.raises(AirflowException, match="2 thing") as error,
        ):
            self.operator(plan, job_names=[training_job]).execute({})

        # No model was listed or deleted without knowing the champion (the Stubber expects no such call).
        assert f"stop job {training_job}" in str(error.value)
        assert "prune models: no s3:GetObject" in str(error.value)


# -------------------------------------------------------------------- Bedrock's own connection and region

BEDROCK_CONN = "nova_dpo_bedrock_east"
BEDROCK_REGION = "us-east-1"


@pytest.fixture
def bedrock_apart(monkeypatch):
    """Bedrock on a connection of its own (env NOVA_DPO_BEDROCK_CONN_ID), whose own region is eu-west-1, in
    us-east-1 (env NOVA_DPO_BEDROCK_REGION). A hook's client is the one of its (service, connection, region),
    under botocore's Stubber; asking for one on any other connection or region fails the test. The stubbers
    by service."""
    extra = {"region_name": "eu-west-1"}
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{BEDROCK_CONN.upper()}", json.dumps({"conn_type": "aws", "extra": extra})
    )
    monkeypatch.setenv("NOVA_DPO_BEDROCK_CONN_ID", BEDROCK_CONN)
    monkeypatch.setenv("NOVA_DPO_BEDROCK_REGION", BEDROCK_REGION)
    clients = {
        (service, BEDROCK_CONN, BEDROCK_REGION): boto3.client(service, region_name=BEDROCK_REGION)
        for service in ("bedrock", "bedrock-runtime")
    }

    def conn(hook):
        key = (hook.client_type, hook.aws_conn_id, hook.region_name)
        assert key in clients, f"a {key[0]} client on connection {key[1]} in {key[2]}"
        return clients[key]

    stubbers = {service: Stubber(client) for (service, _, _), client in clients.items()}
    with (
        stubbers["bedrock"],
        stubbers["bedrock-runtime"],
        mock.patch.object(BedrockHook, "conn", property(conn)),
        mock.patch.object(BedrockRuntimeHook, "conn", property(conn)),
    ):
        yield stubbers
        for stubber in stubbers.values():
            stubber.assert_no_pending_responses()


def test_the_region_of_a_connection_is_its_own_else_the_environments(monkeypatch):
    """What resolve_run is told of the Bedrock connection's region in the DAG (aws_connection_region)."""
    extra = {"region_name": "ap-northeast-1"}
    monkeypatch.setenv("AIRFLOW_CONN_NOVA_DPO_TOKYO", json.dumps({"conn_type": "aws", "extra": extra}))
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")

    assert aws_connection_region("nova_dpo_tokyo") == "ap-northeast-1"
    assert aws_connection_region("nova_dpo_no_such_connection") == "us-west-2"


class TestBedrockConnection:
    @staticmethod
    def assert_on_bedrock_connection(trigger) -> None:
        assert (trigger.aws_conn_id, trigger.region_name) == (BEDROCK_CONN, BEDROCK_REGION)

    def test_import_calls_and_waits_for_bedrock_on_its_connection_in_its_region(self, bedrock_apart):
        plan = make_plan("sagemaker", "s3://bucket-one/root")
        TestImportOnSageMaker.expect_create(bedrock_apart["bedrock"], plan)
        op = TestImportOnSageMaker.operator(plan, deferrable=True)

        with pytest.raises(TaskDeferred) as deferred:
            op.execute({})

        assert (plan["ship"]["bedrock_conn_id"], plan["ship"]["bedrock_region"]) == (
            BEDROCK_CONN,
            BEDROCK_REGION,
        )
        self.assert_on_bedrock_connection(deferred.value.trigger)

    def test_a_wait_in_the_worker_polls_bedrock_on_its_connection(self, bedrock_apart):
        plan = make_plan("sagemaker", "s3://bucket-one/root")
        TestImportOnSageMaker.expect_create(bedrock_apart["bedrock"], plan)
        active = {
            "modelArn": MODEL_ARN,
            "modelName": plan["ship"]["model_name"],
            "creationTime": CREATED,
            "modelStatus": "Active",
        }
        bedrock_apart["bedrock"].add_response("get_custom_model", active, {"modelIdentifier": MODEL_ARN})

        imported = TestImportOnSageMaker.operator(plan, deferrable=False).execute({})

        assert imported["model_id"] == MODEL_ARN

    def test_deploy_and_smoke_test_use_the_bedrock_connection(self, bedrock_apart):
        plan = make_plan("sagemaker", "s3://bucket-one/root")
        TestDeployOnSageMaker.expect_on_demand(bedrock_apart["bedrock"], plan)
        expect_smoke_test(bedrock_apart["bedrock-runtime"])
        op = TestDeployOnSageMaker.operator(plan, deferrable=True)

        with pytest.raises(TaskDeferred) as deferred:
            op.execute({})
        deployment = op.execute_complete({}, {"status": "success", "deployment_arn": DEPLOYMENT_ARN})
        smoke = NovaSmokeTestOperator(task_id="smoke_test", plan=plan, deployment=deployment).execute({})

        self.assert_on_bedrock_connection(deferred.value.trigger)
        assert smoke["passed"] is True

    def test_teardown_stops_jobs_on_the_tasks_connection_and_deletes_on_bedrocks(
        self, bedrock_apart, moto_server, s3_root, monkeypatch
    ):
        """SageMaker and the storage root stay on the task's connection (moto's, in its region); only the
        Bedrock calls move."""
        conn_id = TestTeardownOnSageMaker.CONN_ID
        extra = {"endpoint_url": moto_server, "region_name": REGION}
        monkeypatch.setenv(
            f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps({"conn_type": "aws", "extra": extra})
        )
        plan = make_plan("sagemaker", str(s3_root))
        sagemaker = boto3.client("sagemaker", region_name=REGION)

        def sagemaker_conn(hook):
            assert (hook.aws_conn_id, hook.region_name) == (conn_id, REGION)
            return sagemaker

        with (
            Stubber(sagemaker) as stubber,
            mock.patch.object(SageMakerHook, "conn", property(sagemaker_conn)),
        ):
            expect_describe(stubber, plan["training"]["job_name"], "Completed")
            bedrock_apart["bedrock"].add_response(
                "delete_custom_model_deployment", {}, {"customModelDeploymentIdentifier": DEPLOYMENT_ARN}
            )
            bedrock_apart["bedrock"].add_response(
                "list_custom_models", {"modelSummaries": []}, TestTeardownOnSageMaker.LIST
            )
            deployment = {"deployment_name": smoke_name(plan), "deployment_id": DEPLOYMENT_ARN}

            result = NovaTeardownOperator(
                task_id="teardown",
                plan=plan,
                aws_conn_id=conn_id,
                job_names=[plan["training"]["job_name"]],
                deployment=deployment,
            ).execute({})

            stubber.assert_no_pending_responses()
        assert result["deleted_deployments"] == [smoke_name(plan)]
