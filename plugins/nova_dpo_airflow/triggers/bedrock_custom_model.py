"""Triggers that wait, in the triggerer, for Bedrock custom models and deployments to change state."""

from __future__ import annotations

from airflow.providers.amazon.aws.triggers.base import AwsBaseWaiterTrigger

from nova_dpo_airflow.hooks.bedrock_custom_model import BedrockCustomModelHook


class BedrockCustomModelActiveTrigger(AwsBaseWaiterTrigger):
    """
    Trigger when an imported Bedrock custom model is Active (or has Failed).

    :param model_arn: The ARN (or name) of the custom model.
    :param waiter_delay: The amount of time in seconds to wait between attempts. (default: 60)
    :param waiter_max_attempts: The maximum number of attempts to be made. (default: 120)
    :param aws_conn_id: The Airflow connection used for AWS credentials.
    :param region_name: The AWS region where the resources to watch are.
    :param verify: Whether or not to verify SSL certificates.
        See: https://boto3.amazonaws.com/v1/documentation/api/latest/reference/core/session.html
    :param botocore_config: Configuration dictionary (key-values) for botocore client. See:
        https://botocore.amazonaws.com/v1/documentation/api/latest/reference/config.html
    """

    aws_hook_class = BedrockCustomModelHook

    def __init__(
        self,
        *,
        model_arn: str,
        waiter_delay: int = 60,
        waiter_max_attempts: int = 120,
        aws_conn_id: str | None = "aws_default",
        region_name: str | None = None,
        verify: bool | str | None = None,
        botocore_config: dict | None = None,
    ) -> None:
        super().__init__(
            serialized_fields={"model_arn": model_arn},
            waiter_name="custom_model_active",
            waiter_args={"modelIdentifier": model_arn},
            failure_message="Bedrock custom model import failed",
            status_message="Status of Bedrock custom model is",
            status_queries=["modelStatus", "failureMessage"],
            return_key="model_arn",
            return_value=model_arn,
            waiter_delay=waiter_delay,
            waiter_max_attempts=waiter_max_attempts,
            aws_conn_id=aws_conn_id,
            region_name=region_name,
            verify=verify,
            botocore_config=botocore_config,
        )


class BedrockCustomModelDeploymentActiveTrigger(AwsBaseWaiterTrigger):
    """
    Trigger when an on-demand Bedrock custom model deployment is Active (or has Failed).

    :param deployment_arn: The ARN (or name) of the custom model deployment.
    :param waiter_delay: The amount of time in seconds to wait between attempts. (default: 30)
    :param waiter_max_attempts: The maximum number of attempts to be made. (default: 120)
    :param aws_conn_id: The Airflow connection used for AWS credentials.
    :param region_name: The AWS region where the resources to watch are.
    :param verify: Whether or not to verify SSL certificates.
        See: https://boto3.amazonaws.com/v1/documentation/api/latest/reference/core/session.html
    :param botocore_config: Configuration dictionary (key-values) for botocore client. See:
        https://botocore.amazonaws.com/v1/documentation/api/latest/reference/config.html
    """

    aws_hook_class = BedrockCustomModelHook

    def __init__(
        self,
        *,
        deployment_arn: str,
        waiter_delay: int = 30,
        waiter_max_attempts: int = 120,
        aws_conn_id: str | None = "aws_default",
        region_name: str | None = None,
        verify: bool | str | None = None,
        botocore_config: dict | None = None,
    ) -> None:
        super().__init__(
            serialized_fields={"deployment_arn": deployment_arn},
            waiter_name="custom_model_deployment_active",
            waiter_args={"customModelDeploymentIdentifier": deployment_arn},
            failure_message="Bedrock custom model deployment failed",
            status_message="Status of Bedrock custom model deployment is",
            status_queries=["status", "failureMessage"],
            return_key="deployment_arn",
            return_value=deployment_arn,
            waiter_delay=waiter_delay,
            waiter_max_attempts=waiter_max_attempts,
            aws_conn_id=aws_conn_id,
            region_name=region_name,
            verify=verify,
            botocore_config=botocore_config,
        )


class BedrockCustomModelDeploymentDeletedTrigger(AwsBaseWaiterTrigger):
    """
    Trigger when an on-demand Bedrock custom model deployment no longer exists.

    :param deployment_identifier: The ARN or name of the custom model deployment.
    :param waiter_delay: The amount of time in seconds to wait between attempts. (default: 15)
    :param waiter_max_attempts: The maximum number of attempts to be made. (default: 80)
    :param aws_conn_id: The Airflow connection used for AWS credentials.
    :param region_name: The AWS region where the resources to watch are.
    :param verify: Whether or not to verify SSL certificates.
        See: https://boto3.amazonaws.com/v1/documentation/api/latest/reference/core/session.html
    :param botocore_config: Configuration dictionary (key-values) for botocore client. See:
        https://botocore.amazonaws.com/v1/documentation/api/latest/reference/config.html
    """

    aws_hook_class = BedrockCustomModelHook

    def __init__(
        self,
        *,
        deployment_identifier: str,
        waiter_delay: int = 15,
        waiter_max_attempts: int = 80,
        aws_conn_id: str | None = "aws_default",
        region_name: str | None = None,
        verify: bool | str | None = None,
        botocore_config: dict | None = None,
    ) -> None:
        super().__init__(
            serialized_fields={"deployment_identifier": deployment_identifier},
            waiter_name="custom_model_deployment_deleted",
            waiter_args={"customModelDeploymentIdentifier": deployment_identifier},
            failure_message="Bedrock custom model deployment deletion failed",
            status_message="Status of Bedrock custom model deployment being deleted is",
            status_queries=["status"],
            return_key="deployment_identifier",
            return_value=deployment_identifier,
            waiter_delay=waiter_delay,
            waiter_max_attempts=waiter_max_attempts,
            aws_conn_id=aws_conn_id,
            region_name=region_name,
            verify=verify,
            botocore_config=botocore_config,
        )


class BedrockProvisionedModelThroughputDeletedTrigger(AwsBaseWaiterTrigger):
    """
    Trigger when a Bedrock provisioned model throughput no longer exists.

    :param provisioned_model_id: The ARN or name of the provisioned throughput.
    :param waiter_delay: The amount of time in seconds to wait between attempts. (default: 15)
    :param waiter_max_attempts: The maximum number of attempts to be made. (default: 80)
    :param aws_conn_id: The Airflow connection used for AWS credentials.
    :param region_name: The AWS region where the resources to watch are.
    :param verify: Whether or not to verify SSL certificates.
        See: https://boto3.amazonaws.com/v1/documentation/api/latest/reference/core/session.html
    :param botocore_config: Configuration dictionary (key-values) for botocore client. See:
        https://botocore.amazonaws.com/v1/documentation/api/latest/reference/config.html
    """

    aws_hook_class = BedrockCustomModelHook

    def __init__(
        self,
        *,
        provisioned_model_id: str,
        waiter_delay: int = 15,
        waiter_max_attempts: int = 80,
        aws_conn_id: str | None = "aws_default",
        region_name: str | None = None,
        verify: bool | str | None = None,
        botocore_config: dict | None = None,
    ) -> None:
        super().__init__(
            serialized_fields={"provisioned_model_id": provisioned_model_id},
            waiter_name="provisioned_model_throughput_deleted",
            waiter_args={"provisionedModelId": provisioned_model_id},
            failure_message="Bedrock provisioned throughput deletion failed",
            status_message="Status of Bedrock provisioned throughput being deleted is",
            status_queries=["status"],
            return_key="provisioned_model_id",
            return_value=provisioned_model_id,
            waiter_delay=waiter_delay,
            waiter_max_attempts=waiter_max_attempts,
            aws_conn_id=aws_conn_id,
            region_name=region_name,
            verify=verify,
            botocore_config=botocore_config,
        )
