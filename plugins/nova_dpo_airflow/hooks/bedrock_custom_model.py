"""Amazon Bedrock custom models (imported models, on-demand deployments) with their own waiters."""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import Any

from airflow.providers.amazon.aws.hooks.bedrock import BedrockHook
from botocore.exceptions import ClientError

WAITERS_FILE = Path(__file__).resolve().parents[1] / "waiters" / "bedrock_custom_model.json"


def is_not_found(error: ClientError) -> bool:
    """Whether a Bedrock call failed because the resource it names does not exist."""
    return error.response.get("Error", {}).get("Code") == "ResourceNotFoundException"


class BedrockCustomModelHook(BedrockHook):
    """
    Interact with Amazon Bedrock custom models: import, on-demand deployment, deletion.

    A thin wrapper around :external+boto3:py:class:`boto3.client("bedrock") <Bedrock.Client>`, like
    :class:`~airflow.providers.amazon.aws.hooks.bedrock.BedrockHook`, whose waiters come from this package's
    ``waiters/bedrock_custom_model.json`` (``custom_model_active``, ``custom_model_deployment_active``,
    ``custom_model_deployment_deleted``, ``provisioned_model_throughput_deleted``) for both
    ``get_waiter(name)`` and ``get_waiter(name, deferrable=True, client=async_client)``. The provider's
    own Bedrock waiters stay on ``BedrockHook``.

    Additional arguments (such as ``aws_conn_id``) may be specified and
    are passed down to the underlying AwsBaseHook.

    .. seealso::
        - :class:`airflow.providers.amazon.aws.hooks.base_aws.AwsBaseHook`
    """

    @cached_property
    def waiter_path(self) -> os.PathLike[str] | None:
        return WAITERS_FILE

    def get_custom_model(self, model_identifier: str) -> dict[str, Any] | None:
        """Describe a custom model by name or ARN; ``None`` when there is no such model."""
        try:
            return self.conn.get_custom_model(modelIdentifier=model_identifier)
        except ClientError as error:
            if is_not_found(error):
                return None
            raise

    def find_custom_model_deployment(self, deployment_name: str) -> dict[str, Any] | None:
        """The summary of the on-demand deployment named exactly ``deployment_name``, or ``None``."""
        paginator = self.conn.get_paginator("list_custom_model_deployments")
        for page in paginator.paginate(nameContains=deployment_name):
            for summary in page.get("modelDeploymentSummaries", []):
                if summary["customModelDeploymentName"] == deployment_name:
                    return summary
        return None

    def list_custom_models_newest_first(self, name_contains: str) -> list[dict[str, Any]]:
        """Summaries of every custom model whose name contains ``name_contains``, newest first."""
        paginator = self.conn.get_paginator("list_custom_models")
        summaries = [
            summary
            for page in paginator.paginate(
                nameContains=name_contains, sortBy="CreationTime", sortOrder="Descending"
            )
            for summary in page.get("modelSummaries", [])
        ]
        # The service sorts each page; sorting again keeps the order right across pages too.
        return sorted(summaries, key=lambda summary: summary["creationTime"], reverse=True)
