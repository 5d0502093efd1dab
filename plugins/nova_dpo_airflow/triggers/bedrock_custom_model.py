"""Triggers that wait, in the triggerer, for Bedrock custom models and deployments to change state."""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any, ClassVar

from airflow.providers.amazon.aws.triggers.base import AwsBaseWaiterTrigger

from nova_dpo_airflow.hooks.bedrock_custom_model import BedrockCustomModelHook


class BedrockResourceTrigger(AwsBaseWaiterTrigger):
    """
    Trigger when one Bedrock resource, named by one argument, reaches a state (or fails to).

    A subclass only declares what differs: the argument that names the resource (also the event's key for
    it), the waiter with the argument it takes, the messages, and the default waiter settings. Its
    constructor takes that argument by name, as ``serialize()`` gives it back to the triggerer.

    :param waiter_delay: The amount of time in seconds to wait between attempts. (default: the subclass's)
    :param waiter_max_attempts: The maximum number of attempts to be made. (default: the subclass's)
    :param aws_conn_id: The Airflow connection used for AWS credentials.
    :param region_name: The AWS region where the resources to watch are.
    :param verify: Whether or not to verify SSL certificates.
        See: https://boto3.amazonaws.com/v1/documentation/api/latest/reference/core/session.html
    :param botocore_config: Configuration dictionary (key-values) for botocore client. See:
        https://botocore.amazonaws.com/v1/documentation/api/latest/reference/config.html
    """

    aws_hook_class = BedrockCustomModelHook
    #: The constructor argument naming the resource, and the key the event returns it under.
    argument: ClassVar[str]
    waiter_name: str
    #: The waiter's parameter that takes the resource's ARN or name.
    waiter_argument: ClassVar[str]
    failure_message: str
    status_message: str
    #: What the status lines show of each response (JMESPath); the base keeps them as a list.
    status_queries: Sequence[str]
    default_waiter_delay: ClassVar[int]
    default_waiter_max_attempts: ClassVar[int]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # The signature a reader (and Sphinx) sees: the subclass's argument, then the common ones.
        common = list(inspect.signature(BedrockResourceTrigger.__init__).parameters.values())[1:-1]
        defaults = {
            "waiter_delay": cls.default_waiter_delay,
            "waiter_max_attempts": cls.default_waiter_max_attempts,
        }
        cls.__signature__ = inspect.Signature(
            [
                inspect.Parameter(cls.argument, inspect.Parameter.KEYWORD_ONLY, annotation="str"),
                *(
                    parameter.replace(default=defaults.get(parameter.name, parameter.default))
                    for parameter in common
                ),
            ]
        )

    def __init__(
        self,
        *,
        waiter_delay: int | None = None,
        waiter_max_attempts: int | None = None,
        aws_conn_id: str | None = "aws_default",
        region_name: str | None = None,
        verify: bool | str | None = None,
        botocore_config: dict | None = None,
        **resource: str,
    ) -> None:
        if set(resource) != {self.argument}:
            raise TypeError(
                f"{type(self).__name__}() takes the keyword argument {self.argument!r} naming the resource, "
                f"got {sorted(resource)}."
            )
        identifier = resource[self.argument]
        super().__init__(
            serialized_fields={self.argument: identifier},
            waiter_name=self.waiter_name,
            waiter_args={self.waiter_argument: identifier},
            failure_message=self.failure_message,
            status_message=self.status_message,
            status_queries=list(self.status_queries),
            return_key=self.argument,
            return_value=identifier,
            waiter_delay=self.default_waiter_delay if waiter_delay is None else waiter_delay,
            waiter_max_attempts=(
                self.default_waiter_max_attempts if waiter_max_attempts is None else waiter_max_attempts
            ),
            aws_conn_id=aws_conn_id,
            region_name=region_name,
            verify=verify,
            botocore_config=botocore_config,
        )


class BedrockCustomModelActiveTrigger(BedrockResourceTrigger):
    """
    Trigger when an imported Bedrock custom model is Active (or has Failed).

    :param model_arn: The ARN (or name) of the custom model.
    :param waiter_delay: The amount of time in seconds to wait between attempts. (default: 60)
    :param waiter_max_attempts: The maximum number of attempts to be made. (default: 120)

    The connection arguments are those of :class:`BedrockResourceTrigger`.
    """

    argument = "model_arn"
    waiter_name = "custom_model_active"
    waiter_argument = "modelIdentifier"
    failure_message = "Bedrock custom model import failed"
    status_message = "Status of Bedrock custom model is"
    status_queries = ("modelStatus", "failureMessage")
    default_waiter_delay = 60
    default_waiter_max_attempts = 120


class BedrockCustomModelDeploymentActiveTrigger(BedrockResourceTrigger):
    """
    Trigger when an on-demand Bedrock custom model deployment is Active (or has Failed).

    :param deployment_arn: The ARN (or name) of the custom model deployment.
    :param waiter_delay: The amount of time in seconds to wait between attempts. (default: 30)
    :param waiter_max_attempts: The maximum number of attempts to be made. (default: 120)

    The connection arguments are those of :class:`BedrockResourceTrigger`.
    """

    argument = "deployment_arn"
    waiter_name = "custom_model_deployment_active"
    waiter_argument = "customModelDeploymentIdentifier"
    failure_message = "Bedrock custom model deployment failed"
    status_message = "Status of Bedrock custom model deployment is"
    status_queries = ("status", "failureMessage")
    default_waiter_delay = 30
    default_waiter_max_attempts = 120


class BedrockCustomModelDeploymentDeletedTrigger(BedrockResourceTrigger):
    """
    Trigger when an on-demand Bedrock custom model deployment no longer exists.

    :param deployment_identifier: The ARN or name of the custom model deployment.
    :param waiter_delay: The amount of time in seconds to wait between attempts. (default: 15)
    :param waiter_max_attempts: The maximum number of attempts to be made. (default: 80)

    The connection arguments are those of :class:`BedrockResourceTrigger`.
    """

    argument = "deployment_identifier"
    waiter_name = "custom_model_deployment_deleted"
    waiter_argument = "customModelDeploymentIdentifier"
    failure_message = "Bedrock custom model deployment deletion failed"
    status_message = "Status of Bedrock custom model deployment being deleted is"
    status_queries = ("status",)
    default_waiter_delay = 15
    default_waiter_max_attempts = 80


class BedrockProvisionedModelThroughputDeletedTrigger(BedrockResourceTrigger):
    """
    Trigger when a Bedrock provisioned model throughput no longer exists.

    :param provisioned_model_id: The ARN or name of the provisioned throughput.
    :param waiter_delay: The amount of time in seconds to wait between attempts. (default: 15)
    :param waiter_max_attempts: The maximum number of attempts to be made. (default: 80)

    The connection arguments are those of :class:`BedrockResourceTrigger`.
    """

    argument = "provisioned_model_id"
    waiter_name = "provisioned_model_throughput_deleted"
    waiter_argument = "provisionedModelId"
    failure_message = "Bedrock provisioned throughput deletion failed"
    status_message = "Status of Bedrock provisioned throughput being deleted is"
    status_queries = ("status",)
    default_waiter_delay = 15
    default_waiter_max_attempts = 80
