"""
Operators for the Bedrock side of the pipeline: import, deploy, smoke-test and tear down a custom model.

apache-airflow-providers-amazon has no operator for ``CreateCustomModel`` (importing a SageMaker-trained Nova
checkpoint), for on-demand custom model deployments, or for deleting them; these fill that gap in the
provider's own style. Full-rank models are served through provisioned throughput, which the provider's
``BedrockCreateProvisionedModelThroughputOperator`` creates; only its deletion lives here.

Every create is idempotent across task retries: the operator first looks for the resource by its name and
attaches to it, and the create call carries a client request token derived from the request, so a retry
after a lost response cannot create a second model or deployment.

The calls themselves (``CustomModelImport``, ``CustomModelDeployment``, ``converse_smoke_test``,
``delete_resource``, ``prune_custom_models``) and the wait after them (``BedrockWait``: in the worker, or
deferred to a trigger) are shared with the ship operators (``operators/ship.py``), which make the same calls
through the same hooks for the run's plan.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.providers.amazon.aws.exceptions import WaiterTerminalFailure
from airflow.providers.amazon.aws.hooks.bedrock import BedrockRuntimeHook
from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.triggers.bedrock import BedrockProvisionModelThroughputCompletedTrigger
from airflow.providers.amazon.aws.utils import validate_execute_complete_event
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.providers.amazon.aws.utils.waiter_with_logging import wait as wait_with_logging
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
    BedrockResourceTrigger,
)

if TYPE_CHECKING:
    from logging import Logger

    from airflow.providers.amazon.aws.triggers.base import AwsBaseWaiterTrigger
    from airflow.sdk import BaseOperator, Context

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


@dataclass(frozen=True)
class BedrockWait:
    """
    A wait for one Bedrock resource to reach a state, in the worker or deferred to the triggerer.

    The trigger names the waiter and its argument; a wait in the worker runs that same waiter, so both
    halves wait for the same thing and log the same status lines.

    :param trigger_class: The trigger to defer to.
    :param argument: The trigger's argument naming the resource, and the event's key for it.
    :param resource: The resource as log lines name it, e.g. ``custom model``.
    :param state: The state waited for, as log lines name it, e.g. ``Active``.
    :param waiter_delay: Seconds between status checks, unless the operator sets its own.
    :param waiter_max_attempts: Maximum number of status checks, unless the operator sets its own.
    :param action: What an error event interrupted, for its message. (default: ``waiting for``)
    :param delete_call: The client method that deletes the resource, for waits until it is gone.
    """

    trigger_class: type[AwsBaseWaiterTrigger]
    argument: str
    resource: str
    state: str
    waiter_delay: int
    waiter_max_attempts: int
    action: str = "waiting for"
    delete_call: str | None = None

    @classmethod
    def on(
        cls, trigger_class: type[BedrockResourceTrigger], resource: str, state: str, **extra: str
    ) -> BedrockWait:
        """The wait a trigger of this package runs, with its argument and default waiter settings."""
        return cls(
            trigger_class,
            trigger_class.argument,
            resource,
            state,
            trigger_class.default_waiter_delay,
            trigger_class.default_waiter_max_attempts,
            **extra,
        )


CUSTOM_MODEL_ACTIVE = BedrockWait.on(BedrockCustomModelActiveTrigger, "custom model", "Active")
DEPLOYMENT_ACTIVE = BedrockWait.on(BedrockCustomModelDeploymentActiveTrigger, "deployment", "Active")
DEPLOYMENT_DELETED = BedrockWait.on(
    BedrockCustomModelDeploymentDeletedTrigger,
    "deployment",
    "deleted",
    action="deleting",
    delete_call="delete_custom_model_deployment",
)
THROUGHPUT_DELETED = BedrockWait.on(
    BedrockProvisionedModelThroughputDeletedTrigger,
    "provisioned throughput",
    "deleted",
    action="deleting",
    delete_call="delete_provisioned_model_throughput",
)
#: The provider's trigger, with the defaults of its ``BedrockCreateProvisionedModelThroughputOperator``.
THROUGHPUT_IN_SERVICE = BedrockWait(
    BedrockProvisionModelThroughputCompletedTrigger,
    "provisioned_model_id",
    "provisioned throughput",
    "InService",
    60,
    20,
)


def wait_or_defer(
    operator: BaseOperator,
    wait: BedrockWait,
    identifier: str,
    on_failure: Callable[[dict[str, Any]], Exception] | None = None,
) -> None:
    """
    Wait until the resource ``identifier`` is in ``wait``'s state: defer ``operator`` if it is deferrable.

    ``operator`` is the task that waits: its ``deferrable``, ``waiter_delay`` and ``waiter_max_attempts``
    (``None``: the wait's default) and connection settings (``aws_conn_id``, ``region_name``, and
    ``verify`` and ``botocore_config`` where it has them) choose how. A deferred task resumes in its
    ``execute_complete``, which calls :func:`completed_wait`. ``on_failure`` turns the last description of a
    resource that failed while the worker waited into the task's error.
    """
    waiter_delay = wait.waiter_delay if operator.waiter_delay is None else operator.waiter_delay
    waiter_max_attempts = (
        wait.waiter_max_attempts if operator.waiter_max_attempts is None else operator.waiter_max_attempts
    )
    trigger = wait.trigger_class(
        **{wait.argument: identifier},
        waiter_delay=waiter_delay,
        waiter_max_attempts=waiter_max_attempts,
        aws_conn_id=operator.aws_conn_id,
        region_name=operator.region_name,
        verify=getattr(operator, "verify", None),
        botocore_config=getattr(operator, "botocore_config", None),
    )
    if operator.deferrable:
        operator.log.info("Deferring until %s %s is %s.", wait.resource, identifier, wait.state)
        operator.defer(trigger=trigger, method_name="execute_complete")
    operator.log.info("Waiting until %s %s is %s.", wait.resource, identifier, wait.state)
    try:
        wait_with_logging(
            waiter=trigger.hook().get_waiter(trigger.waiter_name),
            waiter_delay=waiter_delay,
            waiter_max_attempts=waiter_max_attempts,
            args=trigger.waiter_args,
            failure_message=trigger.failure_message,
            status_message=trigger.status_message,
            status_args=trigger.status_queries,
        )
    except WaiterTerminalFailure as error:
        if on_failure is None:
            raise
        raise on_failure(error.last_response) from error


def completed_wait(
    operator: BaseOperator,
    wait: BedrockWait,
    event: dict[str, Any] | None,
    failure_of: Callable[[str], Exception | None] | None = None,
) -> str:
    """
    The resource that the event of ``wait``'s trigger names, once it reached the state; raise otherwise.

    After an error event ``failure_of`` looks at the resource: its error when the resource failed (then a
    retry cannot help), else ``None``, and the event's error is raised so that a retry waits again.
    """
    validated_event = validate_execute_complete_event(event)
    identifier = validated_event[wait.argument]
    if validated_event["status"] != "success":
        error = AirflowException(f"Error while {wait.action} {wait.resource} {identifier}: {validated_event}")
        failure = failure_of(identifier) if failure_of else None
        if failure is not None:
            raise failure from error
        raise error
    operator.log.info("%s %s is %s.", wait.resource.capitalize(), identifier, wait.state)
    return identifier


class BedrockWaitingOperator(AwsBaseOperator[BedrockCustomModelHook]):
    """
    A Bedrock operator that waits for the resource it creates or deletes, in the worker or deferred.

    A subclass declares ``bedrock_wait``; its ``execute`` starts the work and ends with
    ``self._wait(identifier)``; ``_waited`` is what the task returns once the resource is in the state,
    from ``execute`` or from ``execute_complete``.

    :param wait_for_completion: Whether to wait for the resource to reach the state. (default: True)
    :param waiter_delay: Time in seconds to wait between status checks. (default: the wait's)
    :param waiter_max_attempts: Maximum number of status checks. (default: the wait's)
    :param deferrable: If True, wait in the triggerer instead of the worker; implies waiting for completion.
        (default: the ``[operators] default_deferrable`` setting, else False)
    :param aws_conn_id: The Airflow connection used for AWS credentials.
        If this is ``None`` or empty then the default boto3 behaviour is used.
    :param region_name: AWS region_name. If not specified then the default boto3 behaviour is used.
    :param verify: Whether or not to verify SSL certificates. See:
        https://boto3.amazonaws.com/v1/documentation/api/latest/reference/core/session.html
    :param botocore_config: Configuration dictionary (key-values) for botocore client. See:
        https://botocore.amazonaws.com/v1/documentation/api/latest/reference/config.html
    """

    aws_hook_class = BedrockCustomModelHook
    bedrock_wait: ClassVar[BedrockWait]

    def __init__(
        self,
        *,
        wait_for_completion: bool = True,
        waiter_delay: int | None = None,
        waiter_max_attempts: int | None = None,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.wait_for_completion = wait_for_completion
        self.waiter_delay = waiter_delay
        self.waiter_max_attempts = waiter_max_attempts
        self.deferrable = deferrable

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        return self._waited(completed_wait(self, self.bedrock_wait, event, self._failure_of))

    def _wait(self, identifier: str) -> Any:
        wait_or_defer(self, self.bedrock_wait, identifier, self._failed)
        return self._waited(identifier)

    def _waited(self, identifier: str) -> Any:
        raise NotImplementedError

    def _failed(self, description: dict[str, Any]) -> Exception:
        """The task's error for a resource that failed, from its description."""
        raise NotImplementedError

    def _failure_of(self, identifier: str) -> Exception | None:
        """The task's error when the resource failed, else None (the wait broke: a retry waits again)."""
        return None


class _BedrockCreateOperator(BedrockWaitingOperator):
    """
    Create a resource, or attach to the one of its name, then wait until it is Active.

    A subclass names its ``creation_class`` (``CustomModelImport``, ``CustomModelDeployment``), whose
    arguments after the hook and the log are the operator's attributes of the same names, and ``_result``.
    """

    creation_class: ClassVar[type[CustomModelImport | CustomModelDeployment]]

    def execute(self, context: Context) -> dict[str, str]:
        identifier, status = self._creation().get_or_create()
        if status == "Active" or not (self.deferrable or self.wait_for_completion):
            return self._result(identifier, status)
        return self._wait(identifier)

    def _creation(self) -> CustomModelImport | CustomModelDeployment:
        arguments = [field.name for field in fields(self.creation_class)][2:]
        return self.creation_class(self.hook, self.log, **{name: getattr(self, name) for name in arguments})

    def _result(self, identifier: str, status: str) -> dict[str, str]:
        raise NotImplementedError

    def _waited(self, identifier: str) -> dict[str, str]:
        return self._result(identifier, "Active")

    def _failed(self, description: dict[str, Any]) -> Exception:
        return self._creation().failed(description)

    def _failure_of(self, identifier: str) -> Exception | None:
        return self._creation().failure_of(identifier)


@dataclass(frozen=True)
class CustomModelImport:
    """
    The import of one checkpoint as a named custom model, for the operators that import.

    See :class:`BedrockImportCustomModelOperator` for the arguments.
    """

    hook: BedrockCustomModelHook
    log: Logger
    model_name: str
    model_source_uri: str
    role_arn: str
    model_tags: dict[str, str] | list[dict[str, str]] | None = None
    model_kms_key_arn: str | None = None
    client_request_token: str | None = None

    def get_or_create(self) -> tuple[str, str]:
        """The ARN and status of the model of that name (from this checkpoint) or of a new one.

        A model that has Failed raises its failure.
        """
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
        if model["modelStatus"] == "Failed":
            raise self.failed(model)
        return model["modelArn"], model["modelStatus"]

    def failed(self, model: dict[str, Any]) -> AirflowFailException:
        return AirflowFailException(
            f"Bedrock could not import custom model {model.get('modelArn', self.model_name)}: "
            f"{_failure_detail(model)}. A failed model keeps its name: delete it (DeleteCustomModel) or choose "
            "another model_name before running this task again."
        )

    def failure_of(self, model_arn: str) -> AirflowFailException | None:
        model = self.hook.get_custom_model(model_arn)
        if model is not None and model.get("modelStatus") == "Failed":
            return self.failed(model)
        return None

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


class BedrockImportCustomModelOperator(_BedrockCreateOperator):
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
    :param aws_conn_id: The AWS connection; it and the other connection arguments are those of
        :class:`BedrockWaitingOperator`.
    :return: ``{"model_arn": ..., "model_name": ..., "status": ...}``; status is ``Active`` unless
        ``wait_for_completion`` is False.
    """

    template_fields: Sequence[str] = aws_template_fields(
        "model_name",
        "model_source_uri",
        "role_arn",
        "model_kms_key_arn",
        "model_tags",
        "client_request_token",
    )
    bedrock_wait = CUSTOM_MODEL_ACTIVE
    creation_class = CustomModelImport

    def __init__(
        self,
        *,
        model_name: str,
        model_source_uri: str,
        role_arn: str,
        model_kms_key_arn: str | None = None,
        model_tags: dict[str, str] | list[dict[str, str]] | None = None,
        client_request_token: str | None = None,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.model_name = model_name
        self.model_source_uri = model_source_uri
        self.role_arn = role_arn
        self.model_kms_key_arn = model_kms_key_arn
        self.model_tags = model_tags
        self.client_request_token = client_request_token

    def _result(self, model_arn: str, status: str) -> dict[str, str]:
        return {"model_arn": model_arn, "model_name": self.model_name, "status": status}


@dataclass(frozen=True)
class CustomModelDeployment:
    """
    The on-demand deployment of one custom model under a name, for the operators that deploy.

    See :class:`BedrockCreateCustomModelDeploymentOperator` for the arguments.
    """

    hook: BedrockCustomModelHook
    log: Logger
    deployment_name: str
    model_arn: str
    description: str | None = None
    tags: dict[str, str] | list[dict[str, str]] | None = None
    client_request_token: str | None = None

    def get_or_create(self) -> tuple[str, str]:
        """The ARN and status of the deployment of that name (serving this model) or of a new one.

        A deployment that has Failed raises its failure.
        """
        _validate_resource_name(self.deployment_name, "deployment_name")
        if not isinstance(self.model_arn, str) or not self.model_arn.startswith("arn:"):
            raise ValueError(f"model_arn must be a custom model ARN, got {self.model_arn!r}.")
        if self.client_request_token is not None:
            _validate_token(self.client_request_token)

        existing = self.hook.find_custom_model_deployment(self.deployment_name)
        if existing is None:
            return self._create(), "Creating"
        deployment_arn, status = existing["customModelDeploymentArn"], existing["status"]
        self.log.info("Deployment %s already exists (%s): attaching to it.", deployment_arn, status)
        if existing["modelArn"] != self.model_arn:
            raise AirflowFailException(
                f"Deployment {self.deployment_name!r} already serves {existing['modelArn']}, not "
                f"{self.model_arn}. Delete it or choose another deployment_name."
            )
        if status == "Failed":
            raise self.failed(existing)
        return deployment_arn, status

    def failed(self, deployment: dict[str, Any]) -> AirflowFailException:
        arn = deployment.get("customModelDeploymentArn", self.deployment_name)
        return AirflowFailException(
            f"Bedrock could not deploy {self.model_arn} as {arn}: {_failure_detail(deployment)}. "
            "Delete the failed deployment or choose another deployment_name before running this task again."
        )

    def failure_of(self, deployment_arn: str) -> AirflowFailException | None:
        try:
            deployment = self.hook.conn.get_custom_model_deployment(
                customModelDeploymentIdentifier=deployment_arn
            )
        except ClientError as describe_error:
            if is_not_found(describe_error):
                return None
            raise
        if deployment.get("status") == "Failed":
            return self.failed(deployment)
        return None

    def _create(self) -> str:
        """Create the deployment; its ARN is returned."""
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


class BedrockCreateCustomModelDeploymentOperator(_BedrockCreateOperator):
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
    :param aws_conn_id: The AWS connection; it and the other connection arguments are those of
        :class:`BedrockWaitingOperator`.
    :return: ``{"deployment_arn": ..., "status": ...}``; use the ARN as ``modelId`` for inference.
    """

    template_fields: Sequence[str] = aws_template_fields(
        "deployment_name", "model_arn", "description", "tags", "client_request_token"
    )
    bedrock_wait = DEPLOYMENT_ACTIVE
    creation_class = CustomModelDeployment

    def __init__(
        self,
        *,
        deployment_name: str,
        model_arn: str,
        description: str | None = None,
        tags: dict[str, str] | list[dict[str, str]] | None = None,
        client_request_token: str | None = None,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.deployment_name = deployment_name
        self.model_arn = model_arn
        self.description = description
        self.tags = tags
        self.client_request_token = client_request_token

    def _result(self, identifier: str, status: str) -> dict[str, str]:
        return {"deployment_arn": identifier, "status": status}


def converse_smoke_test(
    hook: BedrockRuntimeHook,
    log: Logger,
    *,
    model_id: str,
    prompt_messages: str | list[dict[str, Any]] | None = None,
    system: str | list[dict[str, Any]] | None = None,
    tool_config: dict[str, Any] | None = None,
    expect_tool_call: bool = True,
    inference_config: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One ``Converse`` call to ``model_id`` and its check; see :class:`BedrockConverseSmokeTestOperator`."""
    if not model_id:
        raise ValueError("model_id is required: the deployment or provisioned throughput ARN to call.")
    request = {"modelId": model_id, **smoke_test_request(prompt_messages, system, inference_config)}
    if tool_config:
        request["toolConfig"] = tool_config

    started = time.monotonic()
    response = hook.conn.converse(**request)
    latency_ms = response.get("metrics", {}).get("latencyMs") or round((time.monotonic() - started) * 1000)
    answer = answer_text(response)
    log.info("Model %s answered in %s ms: %s", model_id, latency_ms, answer)

    if expect_tool_call:
        if not offered_tools(request["system"], tool_config):
            log.warning("No offered tools found in the system prompt or tool_config; any call passes.")
        try:
            calls = check_tool_call(response, request, model_id)
        except SmokeTestFailed as error:
            raise AirflowException(str(error)) from error
    else:
        calls = tool_calls(response)
        if not answer.strip() and not calls:
            raise AirflowException(f"Smoke test of {model_id} failed: the model gave an empty answer.")
    return {"passed": True, "answer": answer, "latency_ms": latency_ms, "tool_calls": calls}


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
        return converse_smoke_test(
            self.hook,
            self.log,
            model_id=self.model_id,
            prompt_messages=self.prompt_messages,
            system=self.system,
            tool_config=self.tool_config,
            expect_tool_call=self.expect_tool_call,
            inference_config=self.inference_config,
        )


def delete_resource(
    hook: BedrockCustomModelHook, log: Logger, gone: BedrockWait, identifier: str, *, ignore_missing: bool
) -> bool:
    """Start deleting the resource that ``gone`` waits for; False when it does not exist (and may not)."""
    try:
        getattr(hook.conn, gone.delete_call)(**{gone.trigger_class.waiter_argument: identifier})
    except ClientError as error:
        if ignore_missing and is_not_found(error):
            log.info("%s %s does not exist: nothing to delete.", gone.resource.capitalize(), identifier)
            return False
        raise
    log.info("Deleting %s %s.", gone.resource, identifier)
    return True


class _BedrockDeleteOperator(BedrockWaitingOperator):
    """Delete one Bedrock resource and wait until it is gone: the logic both teardown operators share.

    A subclass names the attribute that holds the identifier, and its wait (which names the delete call).
    """

    identifier_field: ClassVar[str]

    def __init__(
        self,
        *,
        ignore_missing: bool = True,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.ignore_missing = ignore_missing

    def execute(self, context: Context) -> bool:
        identifier = getattr(self, self.identifier_field)
        if not identifier:
            if self.ignore_missing:
                self.log.info("No %s given: nothing to delete.", self.bedrock_wait.resource)
                return False
            raise ValueError(f"{self.identifier_field} is empty.")
        if not delete_resource(
            self.hook, self.log, self.bedrock_wait, identifier, ignore_missing=self.ignore_missing
        ):
            return False
        if self.deferrable or self.wait_for_completion:
            return self._wait(identifier)
        return True

    def _waited(self, identifier: str) -> bool:
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
    :param aws_conn_id: The AWS connection; it and the other connection arguments are those of
        :class:`BedrockWaitingOperator`.
    :return: True when a deployment was deleted, False when there was none.
    """

    template_fields: Sequence[str] = aws_template_fields("deployment_arn_or_name")
    identifier_field = "deployment_arn_or_name"
    bedrock_wait = DEPLOYMENT_DELETED

    def __init__(self, *, deployment_arn_or_name: str | None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.deployment_arn_or_name = deployment_arn_or_name


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
    :param aws_conn_id: The AWS connection; it and the other connection arguments are those of
        :class:`BedrockWaitingOperator`.
    :return: True when a provisioned throughput was deleted, False when there was none.
    """

    template_fields: Sequence[str] = aws_template_fields("provisioned_model_id")
    identifier_field = "provisioned_model_id"
    bedrock_wait = THROUGHPUT_DELETED

    def __init__(self, *, provisioned_model_id: str | None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.provisioned_model_id = provisioned_model_id


def prune_custom_models(
    hook: BedrockCustomModelHook,
    log: Logger,
    *,
    name_prefix: str,
    keep: int | str,
    protect: Sequence[str] | str = (),
) -> list[str]:
    """Delete old imported models of one family; see :class:`BedrockPruneCustomModelsOperator`."""
    if not isinstance(name_prefix, str) or not name_prefix:
        raise ValueError("name_prefix is required: an empty prefix would match every custom model.")
    count = int(keep)
    if count < 0:
        raise ValueError(f"keep must be 0 or more, got {keep!r}.")
    protected = {protect} if isinstance(protect, str) else set(protect or ())

    family = [
        model
        for model in hook.list_custom_models_newest_first(name_prefix)
        if model["modelName"].startswith(name_prefix)
        and model.get("customizationType", "IMPORTED") == "IMPORTED"
    ]
    deleted: list[str] = []
    failures: list[str] = []
    for model in family[count:]:
        name, arn = model["modelName"], model["modelArn"]
        if name in protected or arn in protected:
            log.info("Keeping protected model %s.", name)
            continue
        if model.get("modelStatus") == "Creating":
            log.info("Keeping model %s: it is still being imported.", name)
            continue
        try:
            hook.conn.delete_custom_model(modelIdentifier=arn)
        except ClientError as error:
            if not is_not_found(error):
                failures.append(f"{name}: {error}")
            continue
        log.info("Deleted model %s (%s).", name, arn)
        deleted.append(name)
    if failures:
        raise AirflowException(
            f"Could not delete {len(failures)} model(s) (deleted: {deleted}): " + "; ".join(failures)
        )
    return deleted


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
        return prune_custom_models(
            self.hook, self.log, name_prefix=self.name_prefix, keep=self.keep, protect=self.protect
        )
