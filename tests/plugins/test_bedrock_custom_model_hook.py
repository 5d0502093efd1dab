"""BedrockCustomModelHook and its waiters, against botocore's Stubber (which validates every request)."""

from __future__ import annotations

import asyncio
import json
from unittest import mock

import botocore.session
import pytest
from aiobotocore.session import get_session as get_aio_session
from aiobotocore.stub import AioStubber
from botocore.exceptions import WaiterError
from botocore.waiter import WaiterModel

from nova_dpo_airflow.hooks.bedrock_custom_model import WAITERS_FILE, BedrockCustomModelHook
from tests.bedrock_fakes import DEPLOYMENT_ARN, MODEL_ARN, PT_ARN, custom_model, deployment, not_found

NO_DELAY = {"Delay": 0, "MaxAttempts": 5}


@pytest.fixture
def hook(bedrock_client):
    with mock.patch.object(
        BedrockCustomModelHook, "conn", new_callable=mock.PropertyMock, return_value=bedrock_client
    ):
        yield BedrockCustomModelHook(aws_conn_id=None, region_name="us-east-1")


class TestWaiterFile:
    def test_loads_as_botocore_waiter_model(self):
        model = WaiterModel(json.loads(WAITERS_FILE.read_text()))
        assert set(model.waiter_names) == {
            "custom_model_active",
            "custom_model_deployment_active",
            "custom_model_deployment_deleted",
            "provisioned_model_throughput_deleted",
        }

    def test_acceptors_match_the_service_model(self):
        """Each waiter names a real operation, and each path acceptor a real output field and enum value."""
        service = botocore.session.get_session().get_service_model("bedrock")
        model = WaiterModel(json.loads(WAITERS_FILE.read_text()))
        for name in model.waiter_names:
            config = model.get_waiter(name)
            output = service.operation_model(config.operation).output_shape
            for acceptor in config.acceptors:
                if acceptor.matcher == "path":
                    field = output.members[acceptor.argument]
                    assert acceptor.expected in field.enum, (name, acceptor.expected)
                else:
                    assert acceptor.matcher == "error"
                    assert acceptor.expected in {
                        error.name for error in service.operation_model(config.operation).error_shapes
                    }

    def test_hook_uses_this_file(self, hook):
        assert hook.waiter_path == WAITERS_FILE
        assert {"custom_model_active", "custom_model_deployment_active"} <= set(hook.list_waiters())


class TestWaiters:
    def test_custom_model_active_retries_while_creating(self, hook, bedrock_stubber):
        bedrock_stubber.add_response(
            "get_custom_model", custom_model("Creating"), {"modelIdentifier": MODEL_ARN}
        )
        bedrock_stubber.add_response(
            "get_custom_model", custom_model("Creating"), {"modelIdentifier": MODEL_ARN}
        )
        bedrock_stubber.add_response(
            "get_custom_model", custom_model("Active"), {"modelIdentifier": MODEL_ARN}
        )

        hook.get_waiter("custom_model_active").wait(modelIdentifier=MODEL_ARN, WaiterConfig=NO_DELAY)

    def test_custom_model_active_stops_on_failure(self, hook, bedrock_stubber):
        bedrock_stubber.add_response(
            "get_custom_model", custom_model("Creating"), {"modelIdentifier": MODEL_ARN}
        )
        bedrock_stubber.add_response(
            "get_custom_model",
            custom_model("Failed", failureMessage="checkpoint not found"),
            {"modelIdentifier": MODEL_ARN},
        )

        with pytest.raises(WaiterError, match="terminal failure") as err:
            hook.get_waiter("custom_model_active").wait(modelIdentifier=MODEL_ARN, WaiterConfig=NO_DELAY)
        assert err.value.last_response["failureMessage"] == "checkpoint not found"

    def test_custom_model_active_gives_up_after_max_attempts(self, hook, bedrock_stubber):
        for _ in range(2):
            bedrock_stubber.add_response(
                "get_custom_model", custom_model("Creating"), {"modelIdentifier": MODEL_ARN}
            )

        with pytest.raises(WaiterError, match="Max attempts exceeded"):
            hook.get_waiter("custom_model_active").wait(
                modelIdentifier=MODEL_ARN, WaiterConfig={"Delay": 0, "MaxAttempts": 2}
            )

    def test_deployment_active(self, hook, bedrock_stubber):
        params = {"customModelDeploymentIdentifier": DEPLOYMENT_ARN}
        bedrock_stubber.add_response("get_custom_model_deployment", deployment("Creating"), params)
        bedrock_stubber.add_response("get_custom_model_deployment", deployment("Active"), params)

        hook.get_waiter("custom_model_deployment_active").wait(**params, WaiterConfig=NO_DELAY)

    def test_deployment_active_stops_on_failure(self, hook, bedrock_stubber):
        params = {"customModelDeploymentIdentifier": DEPLOYMENT_ARN}
        bedrock_stubber.add_response(
            "get_custom_model_deployment", deployment("Failed", failureMessage="quota"), params
        )

        with pytest.raises(WaiterError, match="terminal failure"):
            hook.get_waiter("custom_model_deployment_active").wait(**params, WaiterConfig=NO_DELAY)

    def test_deployment_deleted_when_not_found(self, hook, bedrock_stubber):
        params = {"customModelDeploymentIdentifier": DEPLOYMENT_ARN}
        bedrock_stubber.add_response("get_custom_model_deployment", deployment("Active"), params)
        not_found(bedrock_stubber, "get_custom_model_deployment", **params)

        hook.get_waiter("custom_model_deployment_deleted").wait(**params, WaiterConfig=NO_DELAY)

    def test_provisioned_throughput_deleted_when_not_found(self, hook, bedrock_stubber):
        params = {"provisionedModelId": PT_ARN}
        not_found(bedrock_stubber, "get_provisioned_model_throughput", **params)

        hook.get_waiter("provisioned_model_throughput_deleted").wait(**params, WaiterConfig=NO_DELAY)

    def test_deferrable_waiter_runs_on_an_async_client(self, hook):
        async def wait_async():
            async with get_aio_session().create_client("bedrock", region_name="us-east-1") as client:
                with AioStubber(client) as stubber:
                    stubber.add_response(
                        "get_custom_model", custom_model("Creating"), {"modelIdentifier": MODEL_ARN}
                    )
                    stubber.add_response(
                        "get_custom_model", custom_model("Active"), {"modelIdentifier": MODEL_ARN}
                    )
                    waiter = hook.get_waiter("custom_model_active", deferrable=True, client=client)
                    await waiter.wait(modelIdentifier=MODEL_ARN, WaiterConfig=NO_DELAY)
                    stubber.assert_no_pending_responses()
            return waiter

        waiter = asyncio.run(wait_async())
        assert type(waiter).__module__.startswith("aiobotocore")
