"""
Operators for the Bedrock side of the pipeline: import, deploy, smoke-test and tear down a custom model.

apache-airflow-providers-amazon has no operator for ``CreateCustomModel`` (importing a SageMaker-trained Nova
checkpoint), for on-demand custom model deployments, or for deleting them; these fill that gap in the
provider's own style. Full-rank models are served through provisioned throughput, which the provider's
``BedrockCreateProvisionedModelThroughputOperator`` creates; only its deletion lives here.

Every create is idempotent across task retries: the operator first looks for the resource by its name and
attaches to it, and the create call carries a client request token derived from the request, so a retry
after a lost response cannot create a second model or deployment.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.providers.amazon.aws.exceptions import WaiterTerminalFailure
from airflow.providers.amazon.aws.hooks.bedrock import BedrockRuntimeHook
from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils import validate_execute_complete_event
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.providers.amazon.aws.utils.waiter_with_logging import wait
from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException, conf
from botocore.exceptions import ClientError

from nova_dpo.evaluation.smoke_test import (
    SmokeTestFailed,
    answer_text,
    check_tool_call,
    offered_tools,
    smoke_test_request,
    tool_calls,
)
from nova_dpo_airflow.hooks.bedrock_custom_model import BedrockCustomModelHook, is_not_found
from nova_dpo_airflow.triggers.bedrock_custom_model import (
    BedrockCustomModelActiveTrigger,
    BedrockCustomModelDeploymentActiveTrigger,
    BedrockCustomModelDeploymentDeletedTrigger,
    BedrockProvisionedModelThroughputDeletedTrigger,
)

if TYPE_CHECKING:
    from airflow.sdk import Context

# Bedrock's patterns for resource names and idempotency tokens (botocore service model, "bedrock").
_RESOURCE_NAME = re.compile(r"([0-9a-zA-Z][_-]?){1,63}")
_CLIENT_REQUEST_TOKEN = re.compile(r"[a-zA-Z0-9]([-a-zA-Z0-9]{0,254}[a-zA-Z0-9])?")

#: Tag recording which checkpoint a model was imported from, so a retry never adopts a namesake.
SOURCE_TAG_KEY = "nova-dpo:source-sha256"


def client_request_token(kind: str, *parts: str) -> str:
    """A Bedrock ``clientRequestToken`` that is the same for the same request, so a retried create is a no-op."""
    digest = hashlib.sha256("\n".join(parts).encode()).hexdigest()
    return f"{kind}-{digest}"


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _validate_resource_name(name: Any, argument: str) -> None:
    if not isinstance(name, str) or len(name) > 63 or not _RESOURCE_NAME.fullmatch(name):
        raise ValueError(
            f"{argument}={name!r} is not a valid Bedrock name: use 1-63 letters and digits, each optionally "
            "followed by one '-' or '_'."
        )


def _validate_token(token: str) -> None:
    if not _CLIENT_REQUEST_TOKEN.fullmatch(token):
        raise ValueError(
            f"client_request_token={token!r} is not valid: use 1-256 letters, digits and inner hyphens."
        )


def _tag_list(tags: dict[str, str] | list[dict[str, str]] | None) -> list[dict[str, str]]:
    """Tags as Bedrock takes them (``[{"key": ..., "value": ...}]``), from that form or a plain mapping."""
    if tags is None:
        return []
    if isinstance(tags, dict):
        return [{"key": str(key), "value": str(value)} for key, value in tags.items()]
    return list(tags)


def _failure_detail(description: dict[str, Any] | None) -> str:
    return (description or {}).get("failureMessage") or "Bedrock gave no failure message"


class BedrockImportCustomModelOperator(AwsBaseOperator[BedrockCustomModelHook]):
    """
    Import a SageMaker-trained Amazon Nova checkpoint into Amazon Bedrock as a custom model.

    Calls ``CreateCustomModel`` with the checkpoint's S3 URI (for a Nova training job, the escrow URI in its
    ``manifest.json``) and waits until the model is Active. A model that already exists under
    ``model_name`` is attached to instead of created again: an Active one is returned at once, a Creating one
    is waited for, a Failed one fails the task with Bedrock's ``failureMessage``. The created model is tagged
    with a digest of ``model_source_uri`` so that a namesake imported from another checkpoint is never
    adopted.

    :param model_name: Name of the custom model, 1-63 letters and digits with single ``-``/``_``
        separators. (templated)
    :param model_source_uri: S3 URI of the checkpoint to import. (templated)
    :param role_arn: IAM role that Bedrock assumes to read the checkpoint. (templated)
    :param model_kms_key_arn: KMS key to encrypt the model with. (default: AWS-owned key) (templated)
    :param model_tags: Tags for the model, as a mapping or as ``[{"key": ..., "value": ...}]``. (templated)
    :param client_request_token: Idempotency token for ``CreateCustomModel``. (default: derived from
        ``model_name`` and ``model_source_uri``) (templated)
    :param wait_for_completion: Whether to wait for the model to be Active. (default: True)
    :param waiter_delay: Time in seconds to wait between status checks. (default: 60)
    :param waiter_max_attempts: Maximum number of status checks. (default: 120)
    :param deferrable: If True, wait in the triggerer instead of the worker; implies waiting for completion.
        (default: the ``[operators] default_deferrable`` setting, else False)
    :param aws_conn_id: The Airflow connection used for AWS credentials.
        If this is ``None`` or empty then the default boto3 behaviour is used.
    :param region_name: AWS region_name. If not specified then the default boto3 behaviour is used.
    :param verify: Whether or not to verify SSL certificates. See:
        https://boto3.amazonaws.com/v1/documentation/api/latest/reference/core/session.html
    :param botocore_config: Configuration dictionary (key-values) for botocore client. See:
        https://botocore.amazonaws.com/v1/documentation/api/latest/reference/config.html
    :return: ``{"model_arn": ..., "model_name": ..., "status": ...}``; status is ``Active`` unless
        ``wait_for_completion`` is False.
    """

    aws_hook_class = BedrockCustomModelHook
    template_fields: Sequence[str] = aws_template_fields(
        "model_name",
        "model_source_uri",
        "role_arn",
        "model_kms_key_arn",
        "model_tags",
        "client_request_token",
    )

    def __init__(
        self,
        *,
        model_name: str,
        model_source_uri: str,
        role_arn: str,
        model_kms_key_arn: str | None = None,
        model_tags: dict[str, str] | list[dict[str, str]] | None = None,
        client_request_token: str | None = None,
        wait_for_completion: bool = True,
        waiter_delay: int = 60,
        waiter_max_attempts: int = 120,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.model_name = model_name
        self.model_source_uri = model_source_uri
        self.role_arn = role_arn
        self.model_kms_key_arn = model_kms_key_arn
        self.model_tags = model_tags
        self.client_request_token = client_request_token
        self.wait_for_completion = wait_for_completion
        self.waiter_delay = waiter_delay
        self.waiter_max_attempts = waiter_max_attempts
        self.deferrable = deferrable

    def execute(self, context: Context) -> dict[str, str]:
        self._validate()
        model = self.hook.get_custom_model(self.model_name)
        if model is None:
            model = self._create()
        else:
            self.log.info(
                "Custom model %s already exists (%s): attaching to it.",
                model["modelArn"],
                model["modelStatus"],
            )
            self._check_source(model["modelArn"])
        model_arn, status = model["modelArn"], model["modelStatus"]
        if status == "Failed":
            raise self._failed(model)
        if status == "Active" or not (self.deferrable or self.wait_for_completion):
            return self._result(model_arn, status)
        if self.deferrable:
            self.log.info("Deferring until custom model %s is Active.", model_arn)
            self.defer(
                trigger=BedrockCustomModelActiveTrigger(
                    model_arn=model_arn,
                    waiter_delay=self.waiter_delay,
                    waiter_max_attempts=self.waiter_max_attempts,
                    aws_conn_id=self.aws_conn_id,
                    region_name=self.region_name,
                    verify=self.verify,
                    botocore_config=self.botocore_config,
                ),
                method_name="execute_complete",
            )
        self.log.info("Waiting until custom model %s is Active.", model_arn)
        try:
            wait(
                waiter=self.hook.get_waiter("custom_model_active"),
                waiter_delay=self.waiter_delay,
                waiter_max_attempts=self.waiter_max_attempts,
                args={"modelIdentifier": model_arn},
                failure_message=f"Bedrock custom model {model_arn} failed",
                status_message=f"Status of Bedrock custom model {model_arn} is",
                status_args=["modelStatus", "failureMessage"],
            )
        except WaiterTerminalFailure as error:
            raise self._failed(error.last_response) from error
        return self._result(model_arn, "Active")

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, str]:
        validated_event = validate_execute_complete_event(event)
        model_arn = validated_event["model_arn"]
        if validated_event["status"] != "success":
            error = AirflowException(f"Error while waiting for custom model {model_arn}: {validated_event}")
            self._raise_if_failed(model_arn, error)
            raise error
        self.log.info("Custom model %s is Active.", model_arn)
        return self._result(model_arn, "Active")

    def _validate(self) -> None:
        _validate_resource_name(self.model_name, "model_name")
        if not isinstance(self.model_source_uri, str) or not self.model_source_uri.startswith("s3://"):
            raise ValueError(f"model_source_uri must be an s3:// URI, got {self.model_source_uri!r}.")
        if not self.role_arn:
            raise ValueError("role_arn is required: the IAM role Bedrock assumes to read the checkpoint.")
        if self.client_request_token is not None:
            _validate_token(self.client_request_token)

    def _create(self) -> dict[str, Any]:
        """Create the model; the model as far as known (ARN, name, status) is returned."""
        token = self.client_request_token or client_request_token(
            "import", self.model_name, self.model_source_uri
        )
        request: dict[str, Any] = {
            "modelName": self.model_name,
            "modelSourceConfig": {"s3DataSource": {"s3Uri": self.model_source_uri}},
            "roleArn": self.role_arn,
            "modelTags": [
                *_tag_list(self.model_tags),
                {"key": SOURCE_TAG_KEY, "value": _sha256(self.model_source_uri)},
            ],
            "clientRequestToken": token,
        }
        if self.model_kms_key_arn:
            request["modelKmsKeyArn"] = self.model_kms_key_arn
        self.log.info("Importing %s as custom model %s.", self.model_source_uri, self.model_name)
        try:
            model_arn = self.hook.conn.create_custom_model(**request)["modelArn"]
        except ClientError as error:
            # Another attempt created it between our lookup and this call.
            if error.response.get("Error", {}).get("Code") != "ConflictException":
                raise
            model = self.hook.get_custom_model(self.model_name)
            if model is None:
                raise
            self._check_source(model["modelArn"])
            return model
        return {"modelArn": model_arn, "modelName": self.model_name, "modelStatus": "Creating"}

    def _check_source(self, model_arn: str) -> None:
        try:
            tags = self.hook.conn.list_tags_for_resource(resourceARN=model_arn).get("tags", [])
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "AccessDeniedException":
                raise
            self.log.warning("Cannot read the tags of %s (%s); not checking its source.", model_arn, error)
            return
        recorded = next((tag["value"] for tag in tags if tag["key"] == SOURCE_TAG_KEY), None)
        if recorded is None:
            self.log.warning(
                "Custom model %s has no %s tag; cannot confirm its source.", model_arn, SOURCE_TAG_KEY
            )
        elif recorded != _sha256(self.model_source_uri):
            raise AirflowFailException(
                f"A custom model named {self.model_name!r} ({model_arn}) already exists but was imported from "
                f"another checkpoint than {self.model_source_uri}. Choose another model_name, or delete that "
                "model if it is no longer needed."
            )

    def _raise_if_failed(self, model_arn: str, error: AirflowException) -> None:
        model = self.hook.get_custom_model(model_arn)
        if model is not None and model.get("modelStatus") == "Failed":
            raise self._failed(model) from error

    def _failed(self, model: dict[str, Any]) -> AirflowFailException:
        return AirflowFailException(
            f"Bedrock could not import custom model {model.get('modelArn', self.model_name)}: "
            f"{_failure_detail(model)}. A failed model keeps its name: delete it (DeleteCustomModel) or choose "
            "another model_name before running this task again."
        )

    def _result(self, model_arn: str, status: str) -> dict[str, str]:
        return {"model_arn": model_arn, "model_name": self.model_name, "status": status}


class BedrockCreateCustomModelDeploymentOperator(AwsBaseOperator[BedrockCustomModelHook]):
    """
    Deploy a custom model for on-demand inference (``CreateCustomModelDeployment``) and wait until Active.

    On-demand deployment serves LoRA (PEFT) Nova models; full-rank models need provisioned throughput
    (``BedrockCreateProvisionedModelThroughputOperator``). A deployment that already exists under
    ``deployment_name`` for the same model is attached to; one that serves another model, or has Failed,
    fails the task with the reason.

    :param deployment_name: Name of the deployment, 1-63 letters and digits with single ``-``/``_``
        separators. (templated)
    :param model_arn: ARN of the custom model to deploy. (templated)
    :param description: Description of the deployment. (templated)
    :param tags: Tags for the deployment, as a mapping or as ``[{"key": ..., "value": ...}]``. (templated)
    :param client_request_token: Idempotency token for the create call. (default: derived from
        ``deployment_name`` and ``model_arn``) (templated)
    :param wait_for_completion: Whether to wait for the deployment to be Active. (default: True)
    :param waiter_delay: Time in seconds to wait between status checks. (default: 30)
    :param waiter_max_attempts: Maximum number of status checks. (default: 120)
    :param deferrable: If True, wait in the triggerer instead of the worker; implies waiting for completion.
        (default: the ``[operators] default_deferrable`` setting, else False)
    :param aws_conn_id: The Airflow connection used for AWS credentials.
        If this is ``None`` or empty then the default boto3 behaviour is used.
    :param region_name: AWS region_name. If not specified then the default boto3 behaviour is used.
    :param verify: Whether or not to verify SSL certificates. See:
        https://boto3.amazonaws.com/v1/documentation/api/latest/reference/core/session.html
    :param botocore_config: Configuration dictionary (key-values) for botocore client. See:
        https://botocore.amazonaws.com/v1/documentation/api/latest/reference/config.html
    :return: ``{"deployment_arn": ..., "status": ...}``; use the ARN as ``modelId`` for inference.
    """

    aws_hook_class = BedrockCustomModelHook
    template_fields: Sequence[str] = aws_template_fields(
        "deployment_name", "model_arn", "description", "tags", "client_request_token"
    )

    def __init__(
        self,
        *,
        deployment_name: str,
        model_arn: str,
        description: str | None = None,
        tags: dict[str, str] | list[dict[str, str]] | None = None,
        client_request_token: str | None = None,
        wait_for_completion: bool = True,
        waiter_delay: int = 30,
        waiter_max_attempts: int = 120,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.deployment_name = deployment_name
        self.model_arn = model_arn
        self.description = description
        self.tags = tags
        self.client_request_token = client_request_token
        self.wait_for_completion = wait_for_completion
        self.waiter_delay = waiter_delay
        self.waiter_max_attempts = waiter_max_attempts
        self.deferrable = deferrable

    def execute(self, context: Context) -> dict[str, str]:
        _validate_resource_name(self.deployment_name, "deployment_name")
        if not isinstance(self.model_arn, str) or not self.model_arn.startswith("arn:"):
            raise ValueError(f"model_arn must be a custom model ARN, got {self.model_arn!r}.")
        if self.client_request_token is not None:
            _validate_token(self.client_request_token)

        existing = self.hook.find_custom_model_deployment(self.deployment_name)
        if existing is None:
            deployment_arn, status = self._create(), "Creating"
        else:
            deployment_arn, status = existing["customModelDeploymentArn"], existing["status"]
            self.log.info("Deployment %s already exists (%s): attaching to it.", deployment_arn, status)
            if existing["modelArn"] != self.model_arn:
                raise AirflowFailException(
                    f"Deployment {self.deployment_name!r} already serves {existing['modelArn']}, not "
                    f"{self.model_arn}. Delete it or choose another deployment_name."
                )
            if status == "Failed":
                raise self._failed(existing)

        if status == "Active" or not (self.deferrable or self.wait_for_completion):
            return {"deployment_arn": deployment_arn, "status": status}
        if self.deferrable:
            self.log.info("Deferring until deployment %s is Active.", deployment_arn)
            self.defer(
                trigger=BedrockCustomModelDeploymentActiveTrigger(
                    deployment_arn=deployment_arn,
                    waiter_delay=self.waiter_delay,
                    waiter_max_attempts=self.waiter_max_attempts,
                    aws_conn_id=self.aws_conn_id,
                    region_name=self.region_name,
                    verify=self.verify,
                    botocore_config=self.botocore_config,
                ),
                method_name="execute_complete",
            )
        self.log.info("Waiting until deployment %s is Active.", deployment_arn)
        try:
            wait(
                waiter=self.hook.get_waiter("custom_model_deployment_active"),
                waiter_delay=self.waiter_delay,
                waiter_max_attempts=self.waiter_max_attempts,
                args={"customModelDeploymentIdentifier": deployment_arn},
                failure_message=f"Bedrock custom model deployment {deployment_arn} failed",
                status_message=f"Status of Bedrock custom model deployment {deployment_arn} is",
                status_args=["status", "failureMessage"],
            )
        except WaiterTerminalFailure as error:
            raise self._failed(error.last_response) from error
        return {"deployment_arn": deployment_arn, "status": "Active"}

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, str]:
        validated_event = validate_execute_complete_event(event)
        deployment_arn = validated_event["deployment_arn"]
        if validated_event["status"] != "success":
            error = AirflowException(
                f"Error while waiting for deployment {deployment_arn}: {validated_event}"
            )
            self._raise_if_failed(deployment_arn, error)
            raise error
        self.log.info("Deployment %s is Active.", deployment_arn)
        return {"deployment_arn": deployment_arn, "status": "Active"}

    def _create(self) -> dict[str, Any]:
        """Create the model; the model as far as known (ARN, name, status) is returned."""
        request: dict[str, Any] = {
            "modelDeploymentName": self.deployment_name,
            "modelArn": self.model_arn,
            "clientRequestToken": self.client_request_token
            or client_request_token("deploy", self.deployment_name, self.model_arn),
        }
        if self.description:
            request["description"] = self.description
        if self.tags:
            request["tags"] = _tag_list(self.tags)
        self.log.info("Deploying %s on demand as %s.", self.model_arn, self.deployment_name)
        return self.hook.conn.create_custom_model_deployment(**request)["customModelDeploymentArn"]

    def _raise_if_failed(self, deployment_arn: str, error: AirflowException) -> None:
        try:
            deployment = self.hook.conn.get_custom_model_deployment(
                customModelDeploymentIdentifier=deployment_arn
            )
        except ClientError as describe_error:
            if is_not_found(describe_error):
                return
            raise
        if deployment.get("status") == "Failed":
            raise self._failed(deployment) from error

    def _failed(self, deployment: dict[str, Any]) -> AirflowFailException:
        arn = deployment.get("customModelDeploymentArn", self.deployment_name)
        return AirflowFailException(
            f"Bedrock could not deploy {self.model_arn} as {arn}: {_failure_detail(deployment)}. "
            "Delete the failed deployment or choose another deployment_name before running this task again."
        )


class BedrockConverseSmokeTestOperator(AwsBaseOperator[BedrockRuntimeHook]):
    """
    Send one conversation to a deployed model through the Bedrock ``Converse`` API and check the answer.

    By default the model is offered one tool in the Nova DPO system prompt format (tools listed inside
    ``<tools></tools>``, calls answered as ``{"name": ..., "parameters": {...}}`` JSON) and asked a question
    that needs it; the test passes when the answer holds such a call naming an offered tool. Offered tools
    are read from the system prompt's ``<tools>`` block and from ``tool_config``; a native ``toolUse`` answer
    counts as a call too. With ``expect_tool_call=False`` any non-empty answer passes.

    :param model_id: What to call: a custom model deployment ARN, a provisioned throughput ARN, or any
        Bedrock model id. (templated)
    :param prompt_messages: Converse ``messages``, or one user question as a string.
        (default: a question that needs the default tool) (templated)
    :param system: System prompt as a string or as Converse ``system`` blocks.
        (default: the Nova DPO prompt offering the default tool) (templated)
    :param tool_config: Converse ``toolConfig``, for native tool use. (default: none) (templated)
    :param expect_tool_call: Whether the answer must call an offered tool. (default: True)
    :param inference_config: Converse ``inferenceConfig``. (default: 512 tokens, temperature 0) (templated)
    :param aws_conn_id: The Airflow connection used for AWS credentials.
        If this is ``None`` or empty then the default boto3 behaviour is used.
    :param region_name: AWS region_name. If not specified then the default boto3 behaviour is used.
    :param verify: Whether or not to verify SSL certificates. See:
        https://boto3.amazonaws.com/v1/documentation/api/latest/reference/core/session.html
    :param botocore_config: Configuration dictionary (key-values) for botocore client. See:
        https://botocore.amazonaws.com/v1/documentation/api/latest/reference/config.html
    :return: ``{"passed": True, "answer": ..., "latency_ms": ..., "tool_calls": [...]}``; a failed check
        raises instead.
    """

    aws_hook_class = BedrockRuntimeHook
    template_fields: Sequence[str] = aws_template_fields(
        "model_id", "prompt_messages", "system", "tool_config", "inference_config"
    )
    template_fields_renderers: ClassVar[dict[str, str]] = {
        "prompt_messages": "json",
        "system": "json",
        "tool_config": "json",
        "inference_config": "json",
    }

    def __init__(
        self,
        *,
        model_id: str,
        prompt_messages: str | list[dict[str, Any]] | None = None,
        system: str | list[dict[str, Any]] | None = None,
        tool_config: dict[str, Any] | None = None,
        expect_tool_call: bool = True,
        inference_config: dict[str, Any] | None = None,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.model_id = model_id
        self.prompt_messages = prompt_messages
        self.system = system
        self.tool_config = tool_config
        self.expect_tool_call = expect_tool_call
        self.inference_config = inference_config

    def execute(self, context: Context) -> dict[str, Any]:
        if not self.model_id:
            raise ValueError("model_id is required: the deployment or provisioned throughput ARN to call.")
        request = {
            "modelId": self.model_id,
            **smoke_test_request(self.prompt_messages, self.system, self.inference_config),
        }
        if self.tool_config:
            request["toolConfig"] = self.tool_config

        started = time.monotonic()
        response = self.hook.conn.converse(**request)
        latency_ms = response.get("metrics", {}).get("latencyMs") or round(
            (time.monotonic() - started) * 1000
        )
        answer = answer_text(response)
        self.log.info("Model %s answered in %s ms: %s", self.model_id, latency_ms, answer)

        if self.expect_tool_call:
            if not offered_tools(request["system"], self.tool_config):
                self.log.warning(
                    "No offered tools found in the system prompt or tool_config; any call passes."
                )
            try:
                calls = check_tool_call(response, request, self.model_id)
            except SmokeTestFailed as error:
                raise AirflowException(str(error)) from error
        else:
            calls = tool_calls(response)
            if not answer.strip() and not calls:
                raise AirflowException(
                    f"Smoke test of {self.model_id} failed: the model gave an empty answer."
                )
        return {"passed": True, "answer": answer, "latency_ms": latency_ms, "tool_calls": calls}


class _BedrockDeleteOperator(AwsBaseOperator[BedrockCustomModelHook]):
    """Delete one Bedrock resource and wait until it is gone: the logic both teardown operators share.

    A subclass names the attribute that holds the identifier and the API call, waiter and trigger to use.
    """

    aws_hook_class = BedrockCustomModelHook
    identifier_field: str
    resource: str
    waiter_param: str
    waiter_name: str
    trigger_class: type
    trigger_param: str

    def __init__(
        self,
        *,
        ignore_missing: bool = True,
        wait_for_completion: bool = True,
        waiter_delay: int = 15,
        waiter_max_attempts: int = 80,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.ignore_missing = ignore_missing
        self.wait_for_completion = wait_for_completion
        self.waiter_delay = waiter_delay
        self.waiter_max_attempts = waiter_max_attempts
        self.deferrable = deferrable

    def execute(self, context: Context) -> bool:
        identifier = getattr(self, self.identifier_field)
        if not identifier:
            if self.ignore_missing:
                self.log.info("No %s given: nothing to delete.", self.resource)
                return False
            raise ValueError(f"{self.identifier_field} is empty.")
        try:
            self._delete(identifier)
        except ClientError as error:
            if self.ignore_missing and is_not_found(error):
                self.log.info(
                    "%s %s does not exist: nothing to delete.", self.resource.capitalize(), identifier
                )
                return False
            raise
        self.log.info("Deleting %s %s.", self.resource, identifier)
        if self.deferrable:
            self.defer(
                trigger=self.trigger_class(
                    **{self.trigger_param: identifier},
                    waiter_delay=self.waiter_delay,
                    waiter_max_attempts=self.waiter_max_attempts,
                    aws_conn_id=self.aws_conn_id,
                    region_name=self.region_name,
                    verify=self.verify,
                    botocore_config=self.botocore_config,
                ),
                method_name="execute_complete",
            )
        if self.wait_for_completion:
            self.hook.get_waiter(self.waiter_name).wait(
                **{self.waiter_param: identifier},
                WaiterConfig={"Delay": self.waiter_delay, "MaxAttempts": self.waiter_max_attempts},
            )
        return True

    def _delete(self, identifier: str) -> None:
        raise NotImplementedError

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> bool:
        validated_event = validate_execute_complete_event(event)
        if validated_event["status"] != "success":
            raise AirflowException(f"Error while deleting {self.resource}: {validated_event}")
        self.log.info("%s %s is deleted.", self.resource.capitalize(), validated_event[self.trigger_param])
        return True


class BedrockDeleteCustomModelDeploymentOperator(_BedrockDeleteOperator):
    """
    Delete an on-demand custom model deployment, for teardown.

    :param deployment_arn_or_name: ARN or name of the deployment. An empty value deletes nothing when
        ``ignore_missing`` is set (a teardown after the deployment was never created). (templated)
    :param ignore_missing: Succeed when the deployment does not exist. (default: True)
    :param wait_for_completion: Whether to wait until the deployment is gone. (default: True)
    :param waiter_delay: Time in seconds to wait between status checks. (default: 15)
    :param waiter_max_attempts: Maximum number of status checks. (default: 80)
    :param deferrable: If True, wait in the triggerer instead of the worker; implies waiting for completion.
        (default: the ``[operators] default_deferrable`` setting, else False)
    :param aws_conn_id: The Airflow connection used for AWS credentials.
        If this is ``None`` or empty then the default boto3 behaviour is used.
    :param region_name: AWS region_name. If not specified then the default boto3 behaviour is used.
    :param verify: Whether or not to verify SSL certificates. See:
        https://boto3.amazonaws.com/v1/documentation/api/latest/reference/core/session.html
    :param botocore_config: Configuration dictionary (key-values) for botocore client. See:
        https://botocore.amazonaws.com/v1/documentation/api/latest/reference/config.html
    :return: True when a deployment was deleted, False when there was none.
    """

    template_fields: Sequence[str] = aws_template_fields("deployment_arn_or_name")
    identifier_field = "deployment_arn_or_name"
    resource = "deployment"
    waiter_param = "customModelDeploymentIdentifier"
    waiter_name = "custom_model_deployment_deleted"
    trigger_class = BedrockCustomModelDeploymentDeletedTrigger
    trigger_param = "deployment_identifier"

    def __init__(self, *, deployment_arn_or_name: str | None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.deployment_arn_or_name = deployment_arn_or_name

    def _delete(self, identifier: str) -> None:
        self.hook.conn.delete_custom_model_deployment(customModelDeploymentIdentifier=identifier)


class BedrockDeleteProvisionedThroughputOperator(_BedrockDeleteOperator):
    """
    Delete a provisioned model throughput, for teardown (it bills by the hour while it exists).

    :param provisioned_model_id: ARN or name of the provisioned throughput. An empty value deletes nothing
        when ``ignore_missing`` is set. (templated)
    :param ignore_missing: Succeed when the provisioned throughput does not exist. (default: True)
    :param wait_for_completion: Whether to wait until it is gone. (default: True)
    :param waiter_delay: Time in seconds to wait between status checks. (default: 15)
    :param waiter_max_attempts: Maximum number of status checks. (default: 80)
    :param deferrable: If True, wait in the triggerer instead of the worker; implies waiting for completion.
        (default: the ``[operators] default_deferrable`` setting, else False)
    :param aws_conn_id: The Airflow connection used for AWS credentials.
        If this is ``None`` or empty then the default boto3 behaviour is used.
    :param region_name: AWS region_name. If not specified then the default boto3 behaviour is used.
    :param verify: Whether or not to verify SSL certificates. See:
        https://boto3.amazonaws.com/v1/documentation/api/latest/reference/core/session.html
    :param botocore_config: Configuration dictionary (key-values) for botocore client. See:
        https://botocore.amazonaws.com/v1/documentation/api/latest/reference/config.html
    :return: True when a provisioned throughput was deleted, False when there was none.
    """

    template_fields: Sequence[str] = aws_template_fields("provisioned_model_id")
    identifier_field = "provisioned_model_id"
    resource = "provisioned throughput"
    waiter_param = "provisionedModelId"
    waiter_name = "provisioned_model_throughput_deleted"
    trigger_class = BedrockProvisionedModelThroughputDeletedTrigger
    trigger_param = "provisioned_model_id"

    def __init__(self, *, provisioned_model_id: str | None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.provisioned_model_id = provisioned_model_id

    def _delete(self, identifier: str) -> None:
        self.hook.conn.delete_provisioned_model_throughput(provisionedModelId=identifier)


class BedrockPruneCustomModelsOperator(AwsBaseOperator[BedrockCustomModelHook]):
    """
    Delete old imported custom models of one family, keeping the newest ``keep`` and every protected one.

    Models are those whose name starts with ``name_prefix``, ordered by creation time. Models still being
    imported are never deleted. Every deletion is attempted; if any fails (for example a model still
    serving a deployment) the task fails afterwards, naming them.

    :param name_prefix: Name prefix of the model family, e.g. ``nova-micro-dpo-``. (templated)
    :param keep: How many of the newest models to keep. (templated)
    :param protect: Names or ARNs of models never to delete, such as the current champion. (templated)
    :param aws_conn_id: The Airflow connection used for AWS credentials.
        If this is ``None`` or empty then the default boto3 behaviour is used.
    :param region_name: AWS region_name. If not specified then the default boto3 behaviour is used.
    :param verify: Whether or not to verify SSL certificates. See:
        https://boto3.amazonaws.com/v1/documentation/api/latest/reference/core/session.html
    :param botocore_config: Configuration dictionary (key-values) for botocore client. See:
        https://botocore.amazonaws.com/v1/documentation/api/latest/reference/config.html
    :return: The names of the deleted models, newest first.
    """

    aws_hook_class = BedrockCustomModelHook
    template_fields: Sequence[str] = aws_template_fields("name_prefix", "keep", "protect")

    def __init__(
        self,
        *,
        name_prefix: str,
        keep: int,
        protect: Sequence[str] = (),
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.name_prefix = name_prefix
        self.keep = keep
        self.protect = protect

    def execute(self, context: Context) -> list[str]:
        if not isinstance(self.name_prefix, str) or not self.name_prefix:
            raise ValueError("name_prefix is required: an empty prefix would match every custom model.")
        keep = int(self.keep)
        if keep < 0:
            raise ValueError(f"keep must be 0 or more, got {self.keep!r}.")
        protect = {self.protect} if isinstance(self.protect, str) else set(self.protect or ())

        family = [
            model
            for model in self.hook.list_custom_models_newest_first(self.name_prefix)
            if model["modelName"].startswith(self.name_prefix)
            and model.get("customizationType", "IMPORTED") == "IMPORTED"
        ]
        deleted: list[str] = []
        failures: list[str] = []
        for model in family[keep:]:
            name, arn = model["modelName"], model["modelArn"]
            if name in protect or arn in protect:
                self.log.info("Keeping protected model %s.", name)
                continue
            if model.get("modelStatus") == "Creating":
                self.log.info("Keeping model %s: it is still being imported.", name)
                continue
            try:
                self.hook.conn.delete_custom_model(modelIdentifier=arn)
            except ClientError as error:
                if not is_not_found(error):
                    failures.append(f"{name}: {error}")
                continue
            self.log.info("Deleted model %s (%s).", name, arn)
            deleted.append(name)
        if failures:
            raise AirflowException(
                f"Could not delete {len(failures)} model(s) (deleted: {deleted}): " + "; ".join(failures)
            )
        return deleted
