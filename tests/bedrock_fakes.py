"""Bedrock stand-ins shared by the model store's, the hook's, the triggers' and the operators' tests: the ARNs
of one custom model, its deployment and a provisioned throughput, and the responses botocore's Stubber gives
(it checks them against the service model)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from botocore.stub import Stubber

REGION = "us-east-1"
ACCOUNT = "123456789012"
MODEL_ARN = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:custom-model/imported/abcdef123456"
DEPLOYMENT_ARN = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:custom-model-deployment/abcdef123456"
PT_ARN = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:provisioned-model/abcdef123456"
CREATED = datetime(2026, 1, 1, tzinfo=UTC)
MODEL_NAME = "nova-dpo-1"
DEPLOYMENT_NAME = "nova-dpo-1-od"


def custom_model(status: str, **extra: Any) -> dict:
    """A GetCustomModel response for ``MODEL_ARN``."""
    return {
        "modelArn": MODEL_ARN,
        "modelName": MODEL_NAME,
        "creationTime": CREATED,
        "modelStatus": status,
        **extra,
    }


def deployment(status: str, **extra: Any) -> dict:
    """A GetCustomModelDeployment response for ``DEPLOYMENT_ARN``, serving ``MODEL_ARN``."""
    return {
        "customModelDeploymentArn": DEPLOYMENT_ARN,
        "modelDeploymentName": DEPLOYMENT_NAME,
        "modelArn": MODEL_ARN,
        "createdAt": CREATED,
        "status": status,
        **extra,
    }


def deployment_summary(name: str, status: str = "Active", **extra: Any) -> dict:
    """An entry of ListCustomModelDeployments: ``DEPLOYMENT_ARN`` under ``name``, serving ``MODEL_ARN``."""
    return {
        "customModelDeploymentArn": DEPLOYMENT_ARN,
        "customModelDeploymentName": name,
        "modelArn": MODEL_ARN,
        "createdAt": CREATED,
        "status": status,
        **extra,
    }


def model_summary(name: str, day: int, **extra: Any) -> dict:
    """An entry of ListCustomModels: an active Nova Micro model named ``name``, imported on 2026-01-``day``,
    with an ARN of its own."""
    model_id = hashlib.md5(name.encode()).hexdigest()[:12]
    return {
        "modelArn": f"arn:aws:bedrock:{REGION}:{ACCOUNT}:custom-model/imported/{model_id}",
        "modelName": name,
        "creationTime": datetime(2026, 1, day, tzinfo=UTC),
        "baseModelArn": f"arn:aws:bedrock:{REGION}::foundation-model/amazon.nova-micro-v1:0",
        "baseModelName": "Nova Micro",
        "customizationType": "IMPORTED",
        "modelStatus": "Active",
        **extra,
    }


def converse_response(*content: dict) -> dict:
    """A Converse response whose answer is ``content`` (``{"text": ...}`` or ``{"toolUse": ...}`` blocks)."""
    return {
        "output": {"message": {"role": "assistant", "content": list(content)}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": 180, "outputTokens": 20, "totalTokens": 200},
        "metrics": {"latencyMs": 412},
    }


def not_found(stubber: Stubber, method: str, **expected_params: Any) -> None:
    """Queue a ResourceNotFoundException for ``method`` (called with ``expected_params``, if given)."""
    stubber.add_client_error(
        method, "ResourceNotFoundException", http_status_code=404, expected_params=expected_params or None
    )
