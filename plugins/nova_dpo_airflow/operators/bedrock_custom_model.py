"""
Operators for the Bedrock side of the pipeline: import, deploy, smoke-test and tear down a custom model.

apache-airflow-providers-amazon has no operator for ``CreateCustomModel`` (importing a SageMaker-trained Nova
checkpoint), for on-demand custom model deployments, or for deleting them; these fill that gap in the
provider's own style. Full-rank models are served through provisioned throughput, which the provider's
``BedrockCreateProvisionedModelThroughputOperator`` creates; only its deletion lives here.

Every create is idempotent across task retries: the operator first looks for the resource by its name and
attaches to it, and the create call carries a client request token derived from the request, so a retry
after a lost response cannot create a second model or deployment.

The calls themselves are :class:`~nova_dpo.platforms.bedrock_store.BedrockModelStore`'s, on the hook's client,
the same store the ship operators (``operators/ship.py``) use for a run's plan; the wait after them
(``BedrockWait``: in the worker, or deferred to a trigger) is shared with those operators too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
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

from nova_dpo.evaluation.smoke_test import SmokeTestFailed, run_smoke_test, smoke_test_request
from nova_dpo.platforms.bedrock_store import (
    SOURCE_TAG_KEY,
    BedrockModelStore,
    client_request_token,
    is_not_found,
)
from nova_dpo_airflow.hooks.bedrock_custom_model import BedrockCustomModelHook
from nova_dpo_airflow.operators.ship import permanent_failures
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

__all__ = ["SOURCE_TAG_KEY", "client_request_token"]


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
    *,
    connection: Mapping[str, str | None] | None = None,
) -> None:
    """
    Wait until the resource ``identifier`` is in ``wait``'s state: defer ``operator`` if it is deferrable.

    ``operator`` is the task that waits: its ``deferrable``, ``waiter_delay`` and ``waiter_max_attempts``
    (``None``: the wait's default) and connection settings (``aws_conn_id``, ``region_name``, and
    ``verify`` and ``botocore_config`` where it has them) choose how; ``connection`` (``aws_conn_id`` and
    ``region_name``), where given, names the Bedrock connection instead of the operator's. A deferred task
    resumes in its ``execute_complete``, which calls :func:`completed_wait`. ``on_failure`` turns the last
    description of a resource that failed while the worker waited into the task's error.
    """
    waiter_delay = wait.waiter_delay if operator.waiter_delay is None else operator.waiter_delay
    waiter_max_attempts = (
        wait.waiter_max_attempts if operator.waiter_max_attempts is None else operator.waiter_max_attempts
    )
    trigger = wait.trigger_class(
        **{wait.argument: identifier},
        waiter_delay=waiter_delay,
        waiter_max_attempts=waiter_max_attempts,
        **(connection or {"aws_conn_id": operator.aws_conn_id, "region_name": operator.region_name}),
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
    Create a resource through :class:`~nova_dpo.platforms.bedrock_store.BedrockModelStore`, or attach to the
    one of its name, then wait until it is Active.

    A subclass says how it creates (``_create``: the identifier and status), how a failed resource reads
    (``_failed_in``: the store's error, from a description) and how it looks at one after a broken wait
    (``_failure_in``), and its ``_result``.
    """

    def execute(self, context: Context) -> dict[str, str]:
        with permanent_failures():
            identifier, status = self._create(self._store())
        if status == "Active" or not (self.deferrable or self.wait_for_completion):
            return self._result(identifier, status)
        return self._wait(identifier)

    def _store(self) -> BedrockModelStore:
        return BedrockModelStore(
            self.hook.conn,
            import_role_arn=getattr(self, "role_arn", None),
            model_kms_key_arn=getattr(self, "model_kms_key_arn", None),
            log=self.log,
        )

    def _create(self, store: BedrockModelStore) -> tuple[str, str]:
        raise NotImplementedError

    def _failed_in(self, store: BedrockModelStore, description: dict[str, Any]) -> Exception:
        raise NotImplementedError

    def _failure_in(self, store: BedrockModelStore, identifier: str) -> Exception | None:
        raise NotImplementedError

    def _result(self, identifier: str, status: str) -> dict[str, str]:
        raise NotImplementedError

    def _waited(self, identifier: str) -> dict[str, str]:
        return self._result(identifier, "Active")

    def _failed(self, description: dict[str, Any]) -> Exception:
        return AirflowFailException(str(self._failed_in(self._store(), description)))

    def _failure_of(self, identifier: str) -> Exception | None:
        failure = self._failure_in(self._store(), identifier)
        return AirflowFailException(str(failure)) if failure is not None else None


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

    def _create(self, store: BedrockModelStore) -> tuple[str, str]:
        record = store.import_model(
            self.model_name,
            self.model_source_uri,
            family="",
            base_model="",
            tags=self.model_tags,
            client_request_token=self.client_request_token,
        )
        return record.model_id, record.status.value

    def _failed_in(self, store: BedrockModelStore, description: dict[str, Any]) -> Exception:
        return store.import_failed(description)

    def _failure_in(self, store: BedrockModelStore, identifier: str) -> Exception | None:
        return store.import_failure(identifier)

    def _result(self, model_arn: str, status: str) -> dict[str, str]:
        return {"model_arn": model_arn, "model_name": self.model_name, "status": status}


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

    def _create(self, store: BedrockModelStore) -> tuple[str, str]:
        deployment = store.deploy(
            self.model_arn,
            self.deployment_name,
            description=self.description,
            tags=self.tags,
            client_request_token=self.client_request_token,
        )
        return deployment.deployment_id, deployment.status.value

    def _failed_in(self, store: BedrockModelStore, description: dict[str, Any]) -> Exception:
        return store.deployment_failed(description, self.model_arn)

    def _failure_in(self, store: BedrockModelStore, identifier: str) -> Exception | None:
        return store.deployment_failure(identifier, self.model_arn)

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
    request = smoke_test_request(prompt_messages, system, inference_config)
    if tool_config:
        request["toolConfig"] = tool_config
    store = BedrockModelStore(None, hook.conn, log=log)
    try:
        return run_smoke_test(store.invoke, model_id, request, expect_tool_call=expect_tool_call, log=log)
    except SmokeTestFailed as error:
        raise AirflowException(str(error)) from error


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
    store = BedrockModelStore(hook.conn, log=log)
    try:
        deleted = store.prune_named(name_prefix, keep, protect)
    except RuntimeError as error:
        raise AirflowException(str(error)) from error
    return [model["modelName"] for model in deleted]


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
