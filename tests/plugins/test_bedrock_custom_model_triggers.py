"""Triggers for Bedrock custom models: serialization, their hook, and run() against a stubbed async client."""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
from contextlib import asynccontextmanager
from unittest import mock

import pytest
from aiobotocore.session import get_session as get_aio_session
from aiobotocore.stub import AioStubber
from airflow.triggers.base import TriggerEvent

from nova_dpo_airflow.hooks.bedrock_custom_model import BedrockCustomModelHook
from nova_dpo_airflow.triggers.bedrock_custom_model import (
    BedrockCustomModelActiveTrigger,
    BedrockCustomModelDeploymentActiveTrigger,
    BedrockCustomModelDeploymentDeletedTrigger,
    BedrockProvisionedModelThroughputDeletedTrigger,
)
from tests.bedrock_fakes import DEPLOYMENT_ARN, MODEL_ARN, PT_ARN, custom_model, deployment

TRIGGERS = [
    pytest.param(
        BedrockCustomModelActiveTrigger, {"model_arn": MODEL_ARN}, "custom_model_active", id="model_active"
    ),
    pytest.param(
        BedrockCustomModelDeploymentActiveTrigger,
        {"deployment_arn": DEPLOYMENT_ARN},
        "custom_model_deployment_active",
        id="deployment_active",
    ),
    pytest.param(
        BedrockCustomModelDeploymentDeletedTrigger,
        {"deployment_identifier": DEPLOYMENT_ARN},
        "custom_model_deployment_deleted",
        id="deployment_deleted",
    ),
    pytest.param(
        BedrockProvisionedModelThroughputDeletedTrigger,
        {"provisioned_model_id": PT_ARN},
        "provisioned_model_throughput_deleted",
        id="throughput_deleted",
    ),
]


@pytest.mark.parametrize(("trigger_class", "args", "waiter_name"), TRIGGERS)
class TestTriggerContract:
    def test_serialize_round_trip(self, trigger_class, args, waiter_name):
        trigger = trigger_class(
            **args, waiter_delay=7, waiter_max_attempts=9, aws_conn_id="aws_prod", region_name="us-east-1"
        )

        classpath, kwargs = trigger.serialize()
        json.dumps(kwargs)
        module_name, class_name = classpath.rsplit(".", 1)
        rebuilt = getattr(importlib.import_module(module_name), class_name)(**kwargs)

        assert classpath == f"nova_dpo_airflow.triggers.bedrock_custom_model.{trigger_class.__name__}"
        assert kwargs == {
            **args,
            "waiter_delay": 7,
            "waiter_max_attempts": 9,
            "aws_conn_id": "aws_prod",
            "region_name": "us-east-1",
        }
        assert rebuilt.serialize() == (classpath, kwargs)

    def test_takes_its_argument_by_name_and_no_other(self, trigger_class, args, waiter_name):
        (argument, value), *_ = args.items()

        signature = inspect.signature(trigger_class)

        assert next(iter(signature.parameters)) == argument
        assert signature.parameters["waiter_delay"].default == trigger_class.default_waiter_delay
        assert trigger_class(**args).serialize()[1] == {
            argument: value,
            "waiter_delay": trigger_class.default_waiter_delay,
            "waiter_max_attempts": trigger_class.default_waiter_max_attempts,
            "aws_conn_id": "aws_default",
        }
        with pytest.raises(TypeError, match=argument):
            trigger_class(resource_arn=value)

    def test_hook_knows_the_waiter(self, trigger_class, args, waiter_name):
        trigger = trigger_class(
            **args, aws_conn_id=None, region_name="eu-west-1", botocore_config={"retries": {}}
        )

        hook = trigger.hook()

        assert type(hook) is BedrockCustomModelHook
        assert hook.region_name == "eu-west-1"
        assert trigger.waiter_name == waiter_name
        assert waiter_name in hook.list_waiters()

    def test_run_yields_success_when_the_waiter_returns(self, trigger_class, args, waiter_name):
        trigger = trigger_class(**args, waiter_delay=0, waiter_max_attempts=3, aws_conn_id=None)
        waiter = mock.MagicMock(wait=mock.AsyncMock())

        with (
            mock.patch.object(BedrockCustomModelHook, "get_async_conn") as get_async_conn,
            mock.patch.object(BedrockCustomModelHook, "get_waiter", return_value=waiter) as get_waiter,
        ):
            get_async_conn.return_value.__aenter__.return_value = mock.MagicMock()
            event = asyncio.run(anext(trigger.run()))

        (key, value), *_ = args.items()
        assert event == TriggerEvent({"status": "success", key: value})
        assert get_waiter.call_args.args == (waiter_name,)
        assert get_waiter.call_args.kwargs["deferrable"] is True
        waiter.wait.assert_awaited_once()


def run_with_stubbed_client(trigger, responses: list[tuple[str, dict]]) -> TriggerEvent:
    """Run ``trigger`` against a real aiobotocore client whose responses are ``responses``, in order."""

    async def run() -> TriggerEvent:
        async with get_aio_session().create_client("bedrock", region_name="us-east-1") as client:

            @asynccontextmanager
            async def stubbed_conn():
                yield client

            with (
                AioStubber(client) as stubber,
                mock.patch.object(BedrockCustomModelHook, "get_async_conn", side_effect=stubbed_conn),
            ):
                for method, response in responses:
                    stubber.add_response(method, response)
                event = await anext(trigger.run())
                stubber.assert_no_pending_responses()
        return event

    return asyncio.run(run())


class TestRunAgainstBedrock:
    def test_model_active(self):
        trigger = BedrockCustomModelActiveTrigger(model_arn=MODEL_ARN, waiter_delay=0, aws_conn_id=None)

        event = run_with_stubbed_client(
            trigger,
            [("get_custom_model", custom_model("Creating")), ("get_custom_model", custom_model("Active"))],
        )

        assert event == TriggerEvent({"status": "success", "model_arn": MODEL_ARN})

    def test_model_failed_reports_the_failure_message(self):
        trigger = BedrockCustomModelActiveTrigger(model_arn=MODEL_ARN, waiter_delay=0, aws_conn_id=None)

        event = run_with_stubbed_client(
            trigger,
            [
                (
                    "get_custom_model",
                    custom_model("Failed", failureMessage="The role cannot read the escrow bucket"),
                )
            ],
        )

        assert event.payload["status"] == "error"
        assert event.payload["model_arn"] == MODEL_ARN
        assert "The role cannot read the escrow bucket" in event.payload["message"]

    def test_model_still_creating_after_max_attempts(self):
        trigger = BedrockCustomModelActiveTrigger(
            model_arn=MODEL_ARN, waiter_delay=0, waiter_max_attempts=2, aws_conn_id=None
        )

        event = run_with_stubbed_client(
            trigger,
            [("get_custom_model", custom_model("Creating")), ("get_custom_model", custom_model("Creating"))],
        )

        assert event.payload["status"] == "error"
        assert "max attempts" in event.payload["message"]

    def test_deployment_failed_reports_the_failure_message(self):
        trigger = BedrockCustomModelDeploymentActiveTrigger(
            deployment_arn=DEPLOYMENT_ARN, waiter_delay=0, aws_conn_id=None
        )
        failed = deployment("Failed", failureMessage="On-demand deployment needs a LoRA model")

        event = run_with_stubbed_client(trigger, [("get_custom_model_deployment", failed)])

        assert event.payload["status"] == "error"
        assert "On-demand deployment needs a LoRA model" in event.payload["message"]
