"""SageMaker and S3 stand-ins shared by the platform's and the operators' tests: moto's clients, botocore
Stubber responses, and the output tarball a training job leaves."""

from __future__ import annotations

import contextlib
import io
import tarfile
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from botocore.stub import Stubber

REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
T0 = datetime(2026, 1, 2, 3, 0, 0, tzinfo=UTC)
NOT_FOUND = "Requested resource not found."


@contextlib.contextmanager
def recorded_creates(sagemaker) -> Iterator[list[dict]]:
    """Every CreateTrainingJob request ``sagemaker`` sends, recorded from botocore's own events."""
    sent: list[dict] = []

    def record(params, **_):
        sent.append(dict(params))

    event = "provide-client-params.sagemaker.CreateTrainingJob"
    sagemaker.meta.events.register(event, record)
    try:
        yield sent
    finally:
        sagemaker.meta.events.unregister(event, record)


def arn(name: str) -> str:
    return f"arn:aws:sagemaker:{REGION}:123456789012:training-job/{name}"


def described(request: dict, status: str, secondary: str | None = None, **extra: Any) -> dict:
    """A DescribeTrainingJob response for the job ``request`` created."""
    name = request["TrainingJobName"]
    response = {
        "TrainingJobName": name,
        "TrainingJobArn": arn(name),
        "ModelArtifacts": {
            "S3ModelArtifacts": f"{request['OutputDataConfig']['S3OutputPath']}/{name}/output/model.tar.gz"
        },
        "TrainingJobStatus": status,
        "SecondaryStatus": secondary or {"InProgress": "Training"}.get(status, status),
        "AlgorithmSpecification": request["AlgorithmSpecification"],
        "RoleArn": request["RoleArn"],
        "InputDataConfig": request["InputDataConfig"],
        "OutputDataConfig": request["OutputDataConfig"],
        "ResourceConfig": request["ResourceConfig"],
        "StoppingCondition": request["StoppingCondition"],
        "HyperParameters": request["HyperParameters"],
        "CreationTime": T0,
    }
    return response | extra


def expect_describe(stubber: Stubber, name: str, response: dict | None) -> None:
    """Queue DescribeTrainingJob of ``name``: ``response``, or SageMaker's "not found" error for None."""
    if response is None:
        stubber.add_client_error(
            "describe_training_job",
            service_error_code="ValidationException",
            service_message=NOT_FOUND,
            http_status_code=400,
            expected_params={"TrainingJobName": name},
        )
    else:
        stubber.add_response("describe_training_job", response, {"TrainingJobName": name})


def tar_gz(files: dict[str, str]) -> bytes:
    """A ``model.tar.gz`` holding ``files`` (name to text)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, text in files.items():
            data = text.encode("utf-8")
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()
