"""Bedrock custom model operators against real boto3 clients wrapped in botocore's Stubber.

The Stubber checks every request against the service model and the exact expected parameters, and fails on
any call that was not queued, so "no second create" and "no wait" are enforced by the queue itself.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import ClassVar
from unittest import mock

import boto3
import botocore.session
import pytest
from airflow.providers.amazon.aws.hooks.bedrock import BedrockRuntimeHook
from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException, TaskDeferred
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from nova_dpo.data.nova_format import system_prompt
from nova_dpo.evaluation.smoke_test import SMOKE_TEST_INFERENCE_CONFIG, SMOKE_TEST_QUESTION, SMOKE_TEST_TOOL
from nova_dpo_airflow.hooks.bedrock_custom_model import BedrockCustomModelHook
from nova_dpo_airflow.operators.bedrock_custom_model import (
    SOURCE_TAG_KEY,
    BedrockConverseSmokeTestOperator,
    BedrockCreateCustomModelDeploymentOperator,
    BedrockDeleteCustomModelDeploymentOperator,
    BedrockDeleteProvisionedThroughputOperator,
    BedrockImportCustomModelOperator,
    BedrockPruneCustomModelsOperator,
    client_request_token,
)
from nova_dpo_airflow.triggers.bedrock_custom_model import (
    BedrockCustomModelActiveTrigger,
    BedrockCustomModelDeploymentActiveTrigger,
    BedrockCustomModelDeploymentDeletedTrigger,
    BedrockProvisionedModelThroughputDeletedTrigger,
)
from tests.bedrock_fakes import (
    ACCOUNT,
    DEPLOYMENT_ARN,
    MODEL_ARN,
    PT_ARN,
    converse_response,
    custom_model,
    deployment,
    deployment_summary,
    model_summary,
    not_found,
)
from tests.operator_checks import validate_template_fields

MODEL_NAME = "nova-micro-dpo-20260101"
SOURCE_URI = "s3://customer-escrow-123456789012-smtj-abc123/nova-dpo-run-1"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/BedrockImportRole"
DEPLOYMENT_NAME = "nova-micro-dpo-20260101-od"
TOKEN_PATTERN = botocore.session.get_session().get_service_model("bedrock").shape_for("IdempotencyToken")
# Operator arguments that poll without delay and never defer (a test overrides them where it needs).
NO_WAIT = {"waiter_delay": 0, "waiter_max_attempts": 5, "deferrable": False}
SOURCE_TAG = {"key": SOURCE_TAG_KEY, "value": hashlib.sha256(SOURCE_URI.encode()).hexdigest()}


def model(status: str, **extra) -> dict:
    return custom_model(status, modelName=MODEL_NAME, **extra)


@pytest.fixture
def bedrock(bedrock_client, bedrock_stubber):
    with mock.patch.object(
        BedrockCustomModelHook, "conn", new_callable=mock.PropertyMock, return_value=bedrock_client
    ):
        yield bedrock_stubber


@pytest.fixture
def runtime():
    client = boto3.client("bedrock-runtime", region_name="us-east-1")
    with (
        Stubber(client) as stubber,
        mock.patch.object(BedrockRuntimeHook, "conn", new_callable=mock.PropertyMock, return_value=client),
    ):
        yield stubber
        stubber.assert_no_pending_responses()


class TestImportCustomModel:
    @staticmethod
    def operator(**kwargs) -> BedrockImportCustomModelOperator:
        defaults = {
            "task_id": "import_model",
            "model_name": MODEL_NAME,
            "model_source_uri": SOURCE_URI,
            "role_arn": ROLE_ARN,
            **NO_WAIT,
        }
        return BedrockImportCustomModelOperator(**{**defaults, **kwargs})

    @staticmethod
    def expect_create(bedrock: Stubber, **extra) -> None:
        bedrock.add_response(
            "create_custom_model",
            {"modelArn": MODEL_ARN},
            {
                "modelName": MODEL_NAME,
                "modelSourceConfig": {"s3DataSource": {"s3Uri": SOURCE_URI}},
                "roleArn": ROLE_ARN,
                "modelTags": [SOURCE_TAG],
                "clientRequestToken": client_request_token("import", MODEL_NAME, SOURCE_URI),
                **extra,
            },
        )

    @staticmethod
    def expect_source_tag(bedrock: Stubber, tags: list[dict] | None = None) -> None:
        bedrock.add_response(
            "list_tags_for_resource",
            {"tags": [SOURCE_TAG] if tags is None else tags},
            {"resourceARN": MODEL_ARN},
        )

    def test_template_fields(self):
        validate_template_fields(self.operator())

    def test_default_token_is_deterministic_and_valid(self):
        token = client_request_token("import", MODEL_NAME, SOURCE_URI)

        assert token == client_request_token("import", MODEL_NAME, SOURCE_URI)
        assert token != client_request_token("import", MODEL_NAME, SOURCE_URI + "-2")
        assert token != client_request_token("import", MODEL_NAME + "-2", SOURCE_URI)
        assert re.fullmatch(TOKEN_PATTERN.metadata["pattern"], token)
        assert TOKEN_PATTERN.metadata["min"] <= len(token) <= TOKEN_PATTERN.metadata["max"]

    @pytest.mark.parametrize(
        ("wait_for_completion", "deferrable"), [(False, False), (True, False), (False, True), (True, True)]
    )
    def test_creates_once_then_waits_or_defers(self, bedrock, wait_for_completion, deferrable):
        op = self.operator(
            wait_for_completion=wait_for_completion, deferrable=deferrable, waiter_max_attempts=7
        )
        not_found(bedrock, "get_custom_model", modelIdentifier=MODEL_NAME)
        self.expect_create(bedrock)

        if deferrable:
            with (
                mock.patch.object(op, "defer", wraps=op.defer) as defer,
                pytest.raises(TaskDeferred) as deferred,
            ):
                op.execute({})
            defer.assert_called_once()
            trigger = deferred.value.trigger
            assert isinstance(trigger, BedrockCustomModelActiveTrigger)
            assert deferred.value.method_name == "execute_complete"
            assert trigger.waiter_args == {"modelIdentifier": MODEL_ARN}
            assert trigger.serialize()[1] == {
                "model_arn": MODEL_ARN,
                "waiter_delay": 0,
                "waiter_max_attempts": 7,
                "aws_conn_id": "aws_default",
            }
            return

        if wait_for_completion:
            bedrock.add_response("get_custom_model", model("Creating"), {"modelIdentifier": MODEL_ARN})
            bedrock.add_response("get_custom_model", model("Active"), {"modelIdentifier": MODEL_ARN})
        result = op.execute({})

        status = "Active" if wait_for_completion else "Creating"
        assert result == {"model_arn": MODEL_ARN, "model_name": MODEL_NAME, "status": status}

    def test_passes_optional_arguments(self, bedrock):
        kms = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/0123abcd-0123-abcd-0123-0123456789ab"
        op = self.operator(
            model_kms_key_arn=kms,
            model_tags={"team": "ml"},
            client_request_token="my-token-1",
            wait_for_completion=False,
        )
        not_found(bedrock, "get_custom_model")
        bedrock.add_response(
            "create_custom_model",
            {"modelArn": MODEL_ARN},
            {
                "modelName": MODEL_NAME,
                "modelSourceConfig": {"s3DataSource": {"s3Uri": SOURCE_URI}},
                "roleArn": ROLE_ARN,
                "modelKmsKeyArn": kms,
                "modelTags": [{"key": "team", "value": "ml"}, SOURCE_TAG],
                "clientRequestToken": "my-token-1",
            },
        )

        assert op.execute({})["status"] == "Creating"

    def test_retry_attaches_instead_of_creating_again(self, bedrock):
        creates: list[dict] = []
        bedrock.client.meta.events.register(
            "before-parameter-build.bedrock.CreateCustomModel", lambda params, **_: creates.append(params)
        )
        not_found(bedrock, "get_custom_model", modelIdentifier=MODEL_NAME)
        self.expect_create(bedrock)
        bedrock.add_response("get_custom_model", model("Creating"), {"modelIdentifier": MODEL_ARN})
        with pytest.raises(AirflowException, match="max attempts"):
            self.operator(waiter_max_attempts=1).execute({})

        # The worker died or the wait timed out; the retry finds the model and waits for it.
        bedrock.add_response("get_custom_model", model("Creating"), {"modelIdentifier": MODEL_NAME})
        self.expect_source_tag(bedrock)
        bedrock.add_response("get_custom_model", model("Active"), {"modelIdentifier": MODEL_ARN})
        result = self.operator().execute({})

        assert result == {"model_arn": MODEL_ARN, "model_name": MODEL_NAME, "status": "Active"}
        assert len(creates) == 1

    @pytest.mark.parametrize("deferrable", [False, True])
    def test_active_model_returns_at_once(self, bedrock, deferrable):
        bedrock.add_response("get_custom_model", model("Active"), {"modelIdentifier": MODEL_NAME})
        self.expect_source_tag(bedrock)

        result = self.operator(deferrable=deferrable).execute({})

        assert result == {"model_arn": MODEL_ARN, "model_name": MODEL_NAME, "status": "Active"}

    def test_existing_creating_model_is_deferred_for(self, bedrock):
        bedrock.add_response("get_custom_model", model("Creating"), {"modelIdentifier": MODEL_NAME})
        self.expect_source_tag(bedrock)

        with pytest.raises(TaskDeferred) as deferred:
            self.operator(deferrable=True).execute({})

        assert isinstance(deferred.value.trigger, BedrockCustomModelActiveTrigger)

    def test_existing_failed_model_raises_its_failure_message(self, bedrock):
        bedrock.add_response(
            "get_custom_model",
            model("Failed", failureMessage="Unsupported checkpoint format"),
            {"modelIdentifier": MODEL_NAME},
        )
        self.expect_source_tag(bedrock)

        with pytest.raises(AirflowFailException, match="Unsupported checkpoint format"):
            self.operator().execute({})

    def test_model_failing_while_waited_for_raises_its_failure_message(self, bedrock):
        not_found(bedrock, "get_custom_model")
        self.expect_create(bedrock)
        failed = model("Failed", failureMessage="Access denied to the escrow bucket")
        bedrock.add_response("get_custom_model", model("Creating"), {"modelIdentifier": MODEL_ARN})
        bedrock.add_response("get_custom_model", failed, {"modelIdentifier": MODEL_ARN})

        with pytest.raises(AirflowFailException, match="Access denied to the escrow bucket"):
            self.operator().execute({})

    def test_namesake_from_another_checkpoint_is_not_adopted(self, bedrock):
        bedrock.add_response("get_custom_model", model("Active"), {"modelIdentifier": MODEL_NAME})
        self.expect_source_tag(bedrock, tags=[{"key": SOURCE_TAG_KEY, "value": "0" * 64}])

        with pytest.raises(AirflowFailException, match="another checkpoint"):
            self.operator().execute({})

    def test_model_without_source_tag_is_attached(self, bedrock):
        bedrock.add_response("get_custom_model", model("Active"), {"modelIdentifier": MODEL_NAME})
        self.expect_source_tag(bedrock, tags=[])

        assert self.operator().execute({})["status"] == "Active"

    def test_concurrent_create_conflict_attaches(self, bedrock):
        not_found(bedrock, "get_custom_model")
        bedrock.add_client_error("create_custom_model", "ConflictException", http_status_code=409)
        bedrock.add_response("get_custom_model", model("Active"), {"modelIdentifier": MODEL_NAME})
        self.expect_source_tag(bedrock)

        assert self.operator().execute({})["status"] == "Active"

    @pytest.mark.parametrize(
        ("arguments", "message"),
        [
            ({"model_name": "bad name!"}, "model_name"),
            ({"model_name": "a" * 64}, "model_name"),
            ({"model_source_uri": "/local/checkpoint"}, "s3://"),
            ({"role_arn": ""}, "role_arn"),
            ({"client_request_token": "-bad-"}, "client_request_token"),
        ],
    )
    def test_invalid_arguments_fail_before_any_call(self, bedrock, arguments, message):
        with pytest.raises(ValueError, match=message):
            self.operator(**arguments).execute({})

    def test_execute_complete_success(self):
        result = self.operator().execute_complete({}, {"status": "success", "model_arn": MODEL_ARN})

        assert result == {"model_arn": MODEL_ARN, "model_name": MODEL_NAME, "status": "Active"}

    def test_execute_complete_failure_event_raises_failure_message(self, bedrock):
        bedrock.add_response(
            "get_custom_model",
            model("Failed", failureMessage="Model weights are corrupt"),
            {"modelIdentifier": MODEL_ARN},
        )
        event = {"status": "error", "message": "Bedrock custom model import failed", "model_arn": MODEL_ARN}

        with pytest.raises(AirflowFailException, match="Model weights are corrupt"):
            self.operator().execute_complete({}, event)

    def test_execute_complete_timeout_raises_retryable_error(self, bedrock):
        bedrock.add_response("get_custom_model", model("Creating"), {"modelIdentifier": MODEL_ARN})
        event = {"status": "error", "message": "Waiter error: max attempts reached", "model_arn": MODEL_ARN}

        with pytest.raises(AirflowException, match="max attempts reached") as err:
            self.operator().execute_complete({}, event)
        assert not isinstance(err.value, AirflowFailException)

    def test_execute_complete_without_event_raises(self):
        with pytest.raises(AirflowException, match="event is None"):
            self.operator().execute_complete({}, None)


class TestCreateCustomModelDeployment:
    @staticmethod
    def operator(**kwargs) -> BedrockCreateCustomModelDeploymentOperator:
        defaults = {
            "task_id": "deploy",
            "deployment_name": DEPLOYMENT_NAME,
            "model_arn": MODEL_ARN,
            **NO_WAIT,
        }
        return BedrockCreateCustomModelDeploymentOperator(**{**defaults, **kwargs})

    @staticmethod
    def expect_lookup(bedrock: Stubber, *summaries: dict) -> None:
        bedrock.add_response(
            "list_custom_model_deployments",
            {"modelDeploymentSummaries": list(summaries)},
            {"nameContains": DEPLOYMENT_NAME},
        )

    def test_template_fields(self):
        validate_template_fields(self.operator())

    @pytest.mark.parametrize(
        ("wait_for_completion", "deferrable"), [(False, False), (True, False), (False, True), (True, True)]
    )
    def test_creates_with_deterministic_token(self, bedrock, wait_for_completion, deferrable):
        op = self.operator(
            wait_for_completion=wait_for_completion,
            deferrable=deferrable,
            description="Nova DPO candidate",
            tags=[{"key": "run", "value": "r1"}],
        )
        self.expect_lookup(bedrock, deployment_summary(DEPLOYMENT_NAME + "-old"))
        token = client_request_token("deploy", DEPLOYMENT_NAME, MODEL_ARN)
        assert re.fullmatch(TOKEN_PATTERN.metadata["pattern"], token)
        bedrock.add_response(
            "create_custom_model_deployment",
            {"customModelDeploymentArn": DEPLOYMENT_ARN},
            {
                "modelDeploymentName": DEPLOYMENT_NAME,
                "modelArn": MODEL_ARN,
                "description": "Nova DPO candidate",
                "tags": [{"key": "run", "value": "r1"}],
                "clientRequestToken": token,
            },
        )

        if deferrable:
            with (
                mock.patch.object(op, "defer", wraps=op.defer) as defer,
                pytest.raises(TaskDeferred) as deferred,
            ):
                op.execute({})
            defer.assert_called_once()
            assert isinstance(deferred.value.trigger, BedrockCustomModelDeploymentActiveTrigger)
            assert deferred.value.trigger.waiter_args == {"customModelDeploymentIdentifier": DEPLOYMENT_ARN}
            assert deferred.value.trigger.return_value == DEPLOYMENT_ARN
            return

        if wait_for_completion:
            params = {"customModelDeploymentIdentifier": DEPLOYMENT_ARN}
            bedrock.add_response("get_custom_model_deployment", deployment("Creating"), params)
            bedrock.add_response("get_custom_model_deployment", deployment("Active"), params)
        result = op.execute({})

        assert result == {
            "deployment_arn": DEPLOYMENT_ARN,
            "status": "Active" if wait_for_completion else "Creating",
        }

    def test_attaches_to_existing_active_deployment(self, bedrock):
        self.expect_lookup(bedrock, deployment_summary(DEPLOYMENT_NAME, status="Active"))

        assert self.operator().execute({}) == {"deployment_arn": DEPLOYMENT_ARN, "status": "Active"}

    def test_attaches_to_existing_creating_deployment_and_waits(self, bedrock):
        self.expect_lookup(bedrock, deployment_summary(DEPLOYMENT_NAME, status="Creating"))
        params = {"customModelDeploymentIdentifier": DEPLOYMENT_ARN}
        bedrock.add_response("get_custom_model_deployment", deployment("Active"), params)

        assert self.operator().execute({})["status"] == "Active"

    def test_existing_failed_deployment_raises_its_failure_message(self, bedrock):
        self.expect_lookup(
            bedrock, deployment_summary(DEPLOYMENT_NAME, status="Failed", failureMessage="Model is not LoRA")
        )

        with pytest.raises(AirflowFailException, match="Model is not LoRA"):
            self.operator().execute({})

    def test_existing_deployment_of_another_model_is_not_adopted(self, bedrock):
        other = f"arn:aws:bedrock:us-east-1:{ACCOUNT}:custom-model/imported/zzzzzzzzzzzz"
        self.expect_lookup(bedrock, deployment_summary(DEPLOYMENT_NAME, modelArn=other))

        with pytest.raises(AirflowFailException, match="already serves"):
            self.operator().execute({})

    def test_deployment_failing_while_waited_for_raises_its_failure_message(self, bedrock):
        self.expect_lookup(bedrock)
        bedrock.add_response("create_custom_model_deployment", {"customModelDeploymentArn": DEPLOYMENT_ARN})
        failed = deployment("Failed", failureMessage="Service quota exceeded")
        params = {"customModelDeploymentIdentifier": DEPLOYMENT_ARN}
        bedrock.add_response("get_custom_model_deployment", failed, params)

        with pytest.raises(AirflowFailException, match="Service quota exceeded"):
            self.operator().execute({})

    def test_invalid_name_fails_before_any_call(self, bedrock):
        with pytest.raises(ValueError, match="deployment_name"):
            self.operator(deployment_name="no spaces allowed").execute({})

    def test_execute_complete(self, bedrock):
        op = self.operator()
        assert op.execute_complete({}, {"status": "success", "deployment_arn": DEPLOYMENT_ARN}) == {
            "deployment_arn": DEPLOYMENT_ARN,
            "status": "Active",
        }

        bedrock.add_response(
            "get_custom_model_deployment",
            deployment("Failed", failureMessage="Capacity unavailable"),
            {"customModelDeploymentIdentifier": DEPLOYMENT_ARN},
        )
        with pytest.raises(AirflowFailException, match="Capacity unavailable"):
            op.execute_complete(
                {}, {"status": "error", "message": "failed", "deployment_arn": DEPLOYMENT_ARN}
            )


class TestConverseSmokeTest:
    DEFAULT_REQUEST: ClassVar[dict] = {
        "modelId": DEPLOYMENT_ARN,
        "messages": [{"role": "user", "content": [{"text": SMOKE_TEST_QUESTION}]}],
        "system": [{"text": system_prompt((SMOKE_TEST_TOOL,))}],
        "inferenceConfig": SMOKE_TEST_INFERENCE_CONFIG,
    }

    @staticmethod
    def operator(**kwargs) -> BedrockConverseSmokeTestOperator:
        return BedrockConverseSmokeTestOperator(
            **{"task_id": "smoke_test", "model_id": DEPLOYMENT_ARN, **kwargs}
        )

    def test_template_fields(self):
        validate_template_fields(self.operator())

    def test_default_prompt_offers_one_tool_in_the_nova_format(self):
        text = self.DEFAULT_REQUEST["system"][0]["text"]

        assert text.startswith("You may call one or more functions")
        assert "return a json object with function name and parameters" in text
        listing = json.loads(re.search(r"<tools>\n(.*)\n</tools>", text, re.DOTALL).group(1))
        assert [tool["toolSpec"]["name"] for tool in listing["tools"]] == [SMOKE_TEST_TOOL["name"]]

    def test_passes_on_a_valid_tool_call(self, runtime):
        answer = '{"name": "get_current_weather", "parameters": {"city": "Paris", "unit": "celsius"}}'
        runtime.add_response("converse", converse_response({"text": answer}), self.DEFAULT_REQUEST)

        result = self.operator().execute({})

        assert result == {
            "passed": True,
            "answer": answer,
            "latency_ms": 412,
            "tool_calls": [
                {"name": "get_current_weather", "arguments": {"city": "Paris", "unit": "celsius"}}
            ],
        }
        json.dumps(result)

    def test_passes_on_a_call_wrapped_in_prose(self, runtime):
        answer = 'Sure.\n```json\n{"name": "get_current_weather", "parameters": {"city": "Paris"}}\n```'
        runtime.add_response("converse", converse_response({"text": answer}), self.DEFAULT_REQUEST)

        assert self.operator().execute({})["passed"] is True

    def test_fails_on_a_prose_answer(self, runtime):
        answer = "I cannot check live weather, but Paris is usually mild in spring."
        runtime.add_response("converse", converse_response({"text": answer}), self.DEFAULT_REQUEST)

        with pytest.raises(AirflowException, match="Paris is usually mild"):
            self.operator().execute({})

    def test_fails_on_a_call_to_a_tool_not_offered(self, runtime):
        answer = '{"name": "search_web", "parameters": {"query": "weather Paris"}}'
        runtime.add_response("converse", converse_response({"text": answer}), self.DEFAULT_REQUEST)

        with pytest.raises(AirflowException, match="search_web"):
            self.operator().execute({})

    def test_without_expecting_a_call_any_answer_passes(self, runtime):
        request = {
            **self.DEFAULT_REQUEST,
            "messages": [{"role": "user", "content": [{"text": "Say hello."}]}],
            "system": [{"text": "Be brief."}],
            "inferenceConfig": {"maxTokens": 16},
        }
        runtime.add_response("converse", converse_response({"text": "Hello!"}), request)

        result = self.operator(
            prompt_messages="Say hello.",
            system="Be brief.",
            expect_tool_call=False,
            inference_config={"maxTokens": 16},
        ).execute({})

        assert result["answer"] == "Hello!"

    def test_empty_answer_fails_even_without_expecting_a_call(self, runtime):
        runtime.add_response("converse", converse_response({"text": "  "}), None)

        with pytest.raises(AirflowException, match="empty answer"):
            self.operator(expect_tool_call=False).execute({})

    def test_native_tool_use_counts_as_a_call(self, runtime):
        tool_config = {
            "tools": [
                {
                    "toolSpec": {
                        "name": "get_stock_price",
                        "description": "Latest price of a ticker.",
                        "inputSchema": {
                            "json": {"type": "object", "properties": {"ticker": {"type": "string"}}}
                        },
                    }
                }
            ]
        }
        messages = [{"role": "user", "content": [{"text": "What is AMZN trading at?"}]}]
        request = {
            "modelId": DEPLOYMENT_ARN,
            "messages": messages,
            "system": [],
            "inferenceConfig": SMOKE_TEST_INFERENCE_CONFIG,
            "toolConfig": tool_config,
        }
        tool_use = {"toolUse": {"toolUseId": "t-1", "name": "get_stock_price", "input": {"ticker": "AMZN"}}}
        runtime.add_response("converse", converse_response(tool_use), request)

        result = self.operator(prompt_messages=messages, system="", tool_config=tool_config).execute({})

        assert result["tool_calls"] == [{"name": "get_stock_price", "arguments": {"ticker": "AMZN"}}]


@dataclass(frozen=True)
class Deletion:
    """A delete operator, what it deletes and how: ``delete_<resource>``, then ``get_<resource>`` until gone."""

    operator_class: type
    identifier: dict[str, str]
    resource: str
    params: dict[str, str]
    trigger_class: type

    def operator(self, **kwargs):
        return self.operator_class(**{"task_id": "delete", **self.identifier, **NO_WAIT, **kwargs})


DEPLOYMENT_DELETION = Deletion(
    BedrockDeleteCustomModelDeploymentOperator,
    {"deployment_arn_or_name": DEPLOYMENT_ARN},
    "custom_model_deployment",
    {"customModelDeploymentIdentifier": DEPLOYMENT_ARN},
    BedrockCustomModelDeploymentDeletedTrigger,
)
THROUGHPUT_DELETION = Deletion(
    BedrockDeleteProvisionedThroughputOperator,
    {"provisioned_model_id": PT_ARN},
    "provisioned_model_throughput",
    {"provisionedModelId": PT_ARN},
    BedrockProvisionedModelThroughputDeletedTrigger,
)


@pytest.mark.parametrize(
    "deletion",
    [pytest.param(DEPLOYMENT_DELETION, id="deployment"), pytest.param(THROUGHPUT_DELETION, id="throughput")],
)
class TestDeleteOperators:
    def test_template_fields(self, deletion):
        validate_template_fields(deletion.operator())

    def test_deletes_and_waits_until_gone(self, bedrock, deletion):
        bedrock.add_response(f"delete_{deletion.resource}", {}, deletion.params)
        not_found(bedrock, f"get_{deletion.resource}", **deletion.params)

        assert deletion.operator().execute({}) is True

    def test_missing_resource_is_ignored(self, bedrock, deletion):
        not_found(bedrock, f"delete_{deletion.resource}", **deletion.params)

        assert deletion.operator().execute({}) is False

    def test_deferrable(self, bedrock, deletion):
        bedrock.add_response(f"delete_{deletion.resource}", {}, deletion.params)

        with pytest.raises(TaskDeferred) as deferred:
            deletion.operator(deferrable=True).execute({})

        assert isinstance(deferred.value.trigger, deletion.trigger_class)
        assert deferred.value.trigger.waiter_args == deletion.params


class TestDeleteCustomModelDeployment:
    PARAMS = DEPLOYMENT_DELETION.params

    def test_waits_while_the_deployment_is_still_there(self, bedrock):
        bedrock.add_response("delete_custom_model_deployment", {}, self.PARAMS)
        bedrock.add_response("get_custom_model_deployment", deployment("Active"), self.PARAMS)
        not_found(bedrock, "get_custom_model_deployment", **self.PARAMS)

        assert DEPLOYMENT_DELETION.operator().execute({}) is True

    def test_missing_deployment_raises_unless_ignored(self, bedrock):
        not_found(bedrock, "delete_custom_model_deployment", **self.PARAMS)

        with pytest.raises(ClientError, match="ResourceNotFoundException"):
            DEPLOYMENT_DELETION.operator(ignore_missing=False).execute({})

    @pytest.mark.parametrize("identifier", [None, ""])
    def test_nothing_to_delete(self, bedrock, identifier):
        assert DEPLOYMENT_DELETION.operator(deployment_arn_or_name=identifier).execute({}) is False
        with pytest.raises(ValueError, match="empty"):
            DEPLOYMENT_DELETION.operator(deployment_arn_or_name=identifier, ignore_missing=False).execute({})

    def test_execute_complete(self):
        op = DEPLOYMENT_DELETION.operator(deferrable=True)

        assert op.execute_complete({}, {"status": "success", "deployment_identifier": DEPLOYMENT_ARN}) is True
        with pytest.raises(AirflowException, match="Error while deleting"):
            op.execute_complete(
                {}, {"status": "error", "message": "boom", "deployment_identifier": DEPLOYMENT_ARN}
            )


class TestPruneCustomModels:
    PREFIX = "nova-micro-dpo-"
    LIST: ClassVar[dict] = {"nameContains": PREFIX, "sortBy": "CreationTime", "sortOrder": "Descending"}

    @classmethod
    def operator(cls, **kwargs) -> BedrockPruneCustomModelsOperator:
        return BedrockPruneCustomModelsOperator(**{"task_id": "prune", "name_prefix": cls.PREFIX, **kwargs})

    def expect_listing(self, bedrock: Stubber, first_page: list[dict], second_page: list[dict]) -> None:
        bedrock.add_response(
            "list_custom_models", {"modelSummaries": first_page, "nextToken": "page-2"}, self.LIST
        )
        bedrock.add_response(
            "list_custom_models", {"modelSummaries": second_page}, {**self.LIST, "nextToken": "page-2"}
        )

    def test_template_fields(self):
        validate_template_fields(self.operator(keep=2))

    def test_keeps_newest_and_protected_across_pages(self, bedrock):
        models = {day: model_summary(f"{self.PREFIX}{day:02d}", day) for day in range(1, 7)}
        self.expect_listing(
            bedrock,
            [models[6], models[5], models[4], model_summary(f"old-{self.PREFIX}09", 9)],
            [models[3], models[2], models[1]],
        )
        for day in (4, 3, 1):
            bedrock.add_response("delete_custom_model", {}, {"modelIdentifier": models[day]["modelArn"]})

        deleted = self.operator(keep=2, protect=[models[2]["modelName"]]).execute({})

        assert deleted == [f"{self.PREFIX}04", f"{self.PREFIX}03", f"{self.PREFIX}01"]

    def test_protect_by_arn_and_skip_models_being_imported(self, bedrock):
        newest, creating, champion, old = (
            model_summary(f"{self.PREFIX}04", 4),
            model_summary(f"{self.PREFIX}03", 3, modelStatus="Creating"),
            model_summary(f"{self.PREFIX}02", 2),
            model_summary(f"{self.PREFIX}01", 1),
        )
        self.expect_listing(bedrock, [newest, creating], [champion, old])
        bedrock.add_response("delete_custom_model", {}, {"modelIdentifier": old["modelArn"]})

        assert self.operator(keep=1, protect=champion["modelArn"]).execute({}) == [old["modelName"]]

    def test_keep_zero_deletes_all_but_protected(self, bedrock):
        champion, other = model_summary(f"{self.PREFIX}02", 2), model_summary(f"{self.PREFIX}01", 1)
        self.expect_listing(bedrock, [champion], [other])
        bedrock.add_response("delete_custom_model", {}, {"modelIdentifier": other["modelArn"]})

        assert self.operator(keep="0", protect=[champion["modelName"]]).execute({}) == [other["modelName"]]

    def test_attempts_every_deletion_then_reports_failures(self, bedrock):
        in_use, gone, deletable = (
            model_summary(f"{self.PREFIX}03", 3),
            model_summary(f"{self.PREFIX}02", 2),
            model_summary(f"{self.PREFIX}01", 1),
        )
        self.expect_listing(bedrock, [in_use, gone], [deletable])
        bedrock.add_client_error(
            "delete_custom_model", "ConflictException", "Model is in use", http_status_code=409
        )
        not_found(bedrock, "delete_custom_model")
        bedrock.add_response("delete_custom_model", {}, {"modelIdentifier": deletable["modelArn"]})

        with pytest.raises(AirflowException, match=rf"{in_use['modelName']}.*Model is in use"):
            self.operator(keep=0).execute({})

    @pytest.mark.parametrize(
        ("arguments", "message"), [({"name_prefix": "", "keep": 1}, "name_prefix"), ({"keep": -1}, "keep")]
    )
    def test_invalid_arguments(self, bedrock, arguments, message):
        with pytest.raises(ValueError, match=message):
            self.operator(**arguments).execute({})
