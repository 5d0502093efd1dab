"""Amazon Bedrock custom models (imported models, on-demand deployments) with their own waiters."""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path

from airflow.providers.amazon.aws.hooks.bedrock import BedrockHook

WAITERS_FILE = Path(__file__).resolve().parents[1] / "waiters" / "bedrock_custom_model.json"


class BedrockCustomModelHook(BedrockHook):
    """
    Interact with Amazon Bedrock custom models: import, on-demand deployment, deletion (the calls themselves are
    :class:`~nova_dpo.platforms.bedrock_store.BedrockModelStore`'s, on this hook's ``conn``).

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
