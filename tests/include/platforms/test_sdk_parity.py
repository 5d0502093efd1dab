"""Our CreateTrainingJob request against the one the SageMaker Python SDK 3.x sends for the same recipe.

The SDK is the oracle here and a test-only requirement (requirements-test.txt), never a runtime one. Both
sides get the same shipped recipe, overrides, instance type and count, image, role, output path and data
channels; under moto the SDK's request is captured where it reaches botocore, and its uploaded recipe is read
back from S3. The two requests must be equal field by field except for DIFFERENCES, each with its reason, and
the two recipe files must hold the same configuration.
"""

from __future__ import annotations

import copy
import os
import warnings
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import yaml
from moto import mock_aws

try:
    from omegaconf import OmegaConf
    from sagemaker.core.helper.session_helper import Session
    from sagemaker.core.shapes import Channel, DataSource, S3DataSource
    from sagemaker.core.training.configs import Compute, OutputDataConfig

    with warnings.catch_warnings():
        # ModelTrainer's module still imports its configs through the SDK's own deprecation shim.
        warnings.filterwarnings("ignore", "sagemaker.train.configs has been moved", DeprecationWarning)
        from sagemaker.train import ModelTrainer
except ImportError as error:
    if os.environ.get("CI"):
        raise  # CI installs requirements-test.txt: a missing oracle there is a broken install, not a skip
    pytest.skip(
        f"the SageMaker Python SDK 3.x (the parity oracle, pinned in requirements-test.txt) is not "
        f"importable: {error}",
        allow_module_level=True,
    )

from nova_dpo.catalog import image_uri_for
from nova_dpo.platforms.base import DEFAULT_MAX_RUN
from nova_dpo.platforms.sagemaker_requests import build_evaluation_request, build_training_request
from nova_dpo.recipes.loading import locate_recipe

pytestmark = [
    # The SDK registers its OmegaConf resolvers with a call that OmegaConf deprecates.
    pytest.mark.filterwarnings("ignore:register_new_resolver:UserWarning"),
    pytest.mark.timeout(60),
]

RECIPE = "nova_micro_1_0_p5_p4d_gpu_lora_dpo"
OVERRIDES = {
    "training_config": {
        "trainer": {"max_epochs": 1},
        "model": {"optim": {"lr": 5e-6}, "dpo_cfg": {"beta": 0.05}},
    }
}
REGION = "us-east-1"
INSTANCE_TYPE = "ml.p5.48xlarge"
IMAGE = image_uri_for("dpo", "1.0", REGION)
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
BUCKET = "nova-dpo-parity"
BASE_JOB_NAME = "nova-dpo-parity"
# The SDK uploads the recipe to s3://<default bucket>/<base job name>/<job name>/input/recipe/recipe.yaml and
# we to <output path>/<job name>/input/recipe/recipe.yaml: with these two the files land on the same key.
OUTPUT_PATH = f"s3://{BUCKET}/{BASE_JOB_NAME}"
TRAIN_URI = f"s3://{BUCKET}/datasets/train.jsonl"
VALIDATION_URI = f"s3://{BUCKET}/datasets/validation.jsonl"

RECIPE_URI = ("InputDataConfig", "recipe", "DataSource", "S3DataSource", "S3Uri")
# Where our request differs from the SDK 3.x's, and why. A path covers everything under it. The test also
# checks that each of these still differs, so the list cannot outlive a difference.
DIFFERENCES = {
    RECIPE_URI: (
        "the SDK points the recipe channel at the uploaded file itself, we at the folder that holds only "
        "that file; the file is at the same key either way, and both mount it as "
        "/opt/ml/input/data/recipe/recipe.yaml"
    ),
    ("StoppingCondition", "MaxRuntimeInSeconds"): (
        "our default max_run is 86400 s, SDK 2.x's (the AWS Nova samples use 2.x): SDK 3.x's default of "
        "3600 s would stop a Nova DPO job after one hour"
    ),
    ("OutputDataConfig", "CompressionType"): (
        "SDK 3.x sends GZIP, the service's documented default; we leave it out, which means the same"
    ),
    ("ProfilerConfig",): (
        "we turn SageMaker Debugger off explicitly, as SDK 2.x does; SDK 3.x does not configure Debugger "
        "and sends no ProfilerConfig"
    ),
    ("RemoteDebugConfig",): (
        "we send remote debugging off explicitly, as SDK 2.x does; SDK 3.x leaves it out, so it is off "
        "there too"
    ),
    ("HyperParameters", "model_type"): (
        "SDK 2.x sends run.model_type as the hyperparameter model_type (PyTorch._setup_for_nova_recipe), and "
        "so do we; SDK 3.x does not"
    ),
}


# The SDK's defaults config: no telemetry. It also replaces any user or admin config file, so that nothing on
# the machine (default tags, VPC, role) reaches the request.
SDK_CONFIG = {"SchemaVersion": "1.0", "SageMaker": {"PythonSDK": {"Modules": {"TelemetryOptOut": True}}}}


@pytest.fixture
def aws(monkeypatch, tmp_path) -> Iterator[tuple[boto3.Session, list[dict[str, Any]]]]:
    """A moto account with the bucket, and a boto3 session whose CreateTrainingJob calls are recorded."""
    config_file = tmp_path / "sagemaker-config.yaml"
    config_file.write_text(yaml.safe_dump(SDK_CONFIG))
    for variable in ("SAGEMAKER_ADMIN_CONFIG_OVERRIDE", "SAGEMAKER_USER_CONFIG_OVERRIDE"):
        monkeypatch.setenv(variable, str(config_file))
    # The SDK checks the role's permissions with IAM's SimulatePrincipalPolicy, which moto does not implement.
    monkeypatch.setenv("SAGEMAKER_VALIDATE_ROLE", "false")
    with mock_aws():
        session = boto3.Session(region_name=REGION)
        session.client("s3").create_bucket(Bucket=BUCKET)
        calls: list[dict[str, Any]] = []

        def record(params, **_):
            calls.append(copy.deepcopy(params))

        # Clients copy the session's handlers when they are created, so this sees the SDK's client.
        session.events.register("before-parameter-build.sagemaker.CreateTrainingJob", record)
        yield session, calls


def _channel(name: str, uri: str, data_type: str = "Converse") -> Channel:
    """A data channel; by default a DPO one as the AWS Nova samples give it (SDK 2.x: ``TrainingInput(uri,
    s3_data_type="Converse")``); SDK 3.x turns a plain URI into an ``S3Prefix`` channel."""
    return Channel(
        channel_name=name,
        data_source=DataSource(
            s3_data_source=S3DataSource(
                s3_data_type=data_type, s3_uri=uri, s3_data_distribution_type="FullyReplicated"
            )
        ),
    )


def _sdk_request(
    aws,
    instance_count: int | None,
    *,
    recipe: str = RECIPE,
    overrides: dict[str, Any] = OVERRIDES,
    image: str = IMAGE,
    channels: list[Channel] | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The request SDK 3.x sends and the recipe it uploads (parsed as the container's OmegaConf does).

    ``channels`` default to the DPO data channels of TRAIN_URI and VALIDATION_URI.
    """
    session, calls = aws
    trainer = ModelTrainer.from_recipe(
        # A local YAML path: a recipe name would make the SDK clone the recipes repository.
        training_recipe=str(locate_recipe(recipe).path),
        recipe_overrides=copy.deepcopy(overrides),
        compute=Compute(instance_type=INSTANCE_TYPE, instance_count=instance_count),
        training_image=image,
        role=ROLE,
        output_data_config=OutputDataConfig(s3_output_path=OUTPUT_PATH),
        input_data_config=channels or [_channel("train", TRAIN_URI), _channel("validation", VALIDATION_URI)],
        base_job_name=BASE_JOB_NAME,
        sagemaker_session=Session(boto_session=session, default_bucket=BUCKET, sagemaker_config=SDK_CONFIG),
    )
    trainer.train(wait=False, logs=False)
    assert len(calls) == 1, calls
    request = calls[0]
    bucket, key = _channels(request)["recipe"]["DataSource"]["S3DataSource"]["S3Uri"][5:].split("/", 1)
    body = session.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    return request, _parse_recipe(body)


def _parse_recipe(body: bytes) -> dict[str, Any]:
    return OmegaConf.to_container(OmegaConf.create(body.decode("utf-8")), resolve=True)


def _shipped_replicas() -> int:
    return _parse_recipe(locate_recipe(RECIPE).path.read_bytes())["run"]["replicas"]


def _channels(request: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {channel["ChannelName"]: channel for channel in request["InputDataConfig"]}


def _flatten(value: Any, path: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
    """Leaf values by path; the channels are keyed by name, since their order means nothing."""
    if path == ("InputDataConfig",):
        value = _channels({"InputDataConfig": value})
    if isinstance(value, dict) and value:
        return {leaf: v for key, item in value.items() for leaf, v in _flatten(item, (*path, key)).items()}
    return {path: value}


def _under(path: tuple[str, ...], prefix: tuple[str, ...]) -> bool:
    return path[: len(prefix)] == prefix


def _without_differences(flat: dict[tuple[str, ...], Any]) -> dict[tuple[str, ...], Any]:
    return {path: value for path, value in flat.items() if not any(_under(path, d) for d in DIFFERENCES)}


def _part(flat: dict[tuple[str, ...], Any], prefix: tuple[str, ...]) -> dict[tuple[str, ...], Any]:
    return {path: value for path, value in flat.items() if _under(path, prefix)}


@pytest.mark.parametrize(
    "instance_count",
    [
        pytest.param(None, id="count-from-recipe"),
        pytest.param(4, id="count-given"),
    ],
)
def test_training_request_matches_sdk(aws, instance_count):
    sdk, sdk_recipe = _sdk_request(aws, instance_count)
    ours = build_training_request(
        # The SDK appends a timestamp to base_job_name; we take the name we are given, so give it that one.
        job_name=sdk["TrainingJobName"],
        training_recipe=RECIPE,
        recipe_overrides=OVERRIDES,
        instance_type=INSTANCE_TYPE,
        instance_count=instance_count,
        image_uri=IMAGE,
        role=ROLE,
        output_path=OUTPUT_PATH,
        train_uri=TRAIN_URI,
        validation_uri=VALIDATION_URI,
        region=REGION,
    )
    sdk_flat, our_flat = _flatten(sdk), _flatten(ours.request)

    assert _without_differences(our_flat) == _without_differences(sdk_flat)
    for path, reason in DIFFERENCES.items():
        assert _part(our_flat, path) != _part(sdk_flat, path), f"{path} no longer differs ({reason})"

    # What each difference is, exactly.
    sdk_recipe_uri = _channels(sdk)["recipe"]["DataSource"]["S3DataSource"]["S3Uri"]
    our_recipe_uri = _channels(ours.request)["recipe"]["DataSource"]["S3DataSource"]["S3Uri"]
    assert sdk_recipe_uri == ours.upload.s3_uri
    assert our_recipe_uri == ours.upload.s3_uri.rsplit("/", 1)[0] + "/"
    assert sdk["StoppingCondition"] == {"MaxRuntimeInSeconds": 3600}
    assert ours.request["StoppingCondition"] == {"MaxRuntimeInSeconds": DEFAULT_MAX_RUN}
    assert sdk["OutputDataConfig"] == {"S3OutputPath": OUTPUT_PATH, "CompressionType": "GZIP"}
    assert ours.request["OutputDataConfig"] == {"S3OutputPath": OUTPUT_PATH}
    assert "ProfilerConfig" not in sdk
    assert "RemoteDebugConfig" not in sdk
    assert ours.request["ProfilerConfig"] == {"DisableProfiler": True}
    assert ours.request["RemoteDebugConfig"] == {"EnableRemoteDebug": False}
    assert "model_type" not in sdk["HyperParameters"]
    assert ours.request["HyperParameters"]["model_type"] == sdk_recipe["run"]["model_type"]

    our_recipe = _parse_recipe(ours.upload.body)
    if instance_count is not None:
        # The SDK runs the job on `instance_count` instances but leaves the recipe's run.replicas as it was;
        # we make the recipe say what the job runs on (see sagemaker_requests' module docstring).
        assert sdk["ResourceConfig"]["InstanceCount"] == instance_count
        assert sdk_recipe["run"]["replicas"] == _shipped_replicas()
        assert our_recipe["run"]["replicas"] == instance_count
        sdk_recipe["run"]["replicas"] = instance_count
    assert our_recipe == sdk_recipe
    assert our_recipe["training_config"]["model"]["dpo_cfg"]["beta"] == 0.05


EVAL_RECIPE = "nova_micro_1_0_p5_48xl_gpu_bring_your_own_dataset_eval"
EVAL_DATA_URI = f"s3://{BUCKET}/eval-sets/0123456789abcdef/gen_qa.jsonl"
CUSTOM_METRICS_LAMBDA = f"arn:aws:lambda:{REGION}:123456789012:function:nova-custom-metrics"


def test_evaluation_request_with_a_custom_metrics_lambda_matches_sdk(aws):
    """A gen_qa evaluation whose recipe names a Lambda: both send it as the hyperparameter eval_lambda_arn."""
    overrides = {"processor": {"lambda_arn": CUSTOM_METRICS_LAMBDA, "lambda_type": "custom_metrics"}}
    image = image_uri_for("gen_qa", "1.0", REGION)
    data = _channel("train", EVAL_DATA_URI, "S3Prefix")
    sdk, sdk_recipe = _sdk_request(
        aws, None, recipe=EVAL_RECIPE, overrides=overrides, image=image, channels=[data]
    )
    ours = build_evaluation_request(
        job_name=sdk["TrainingJobName"],
        training_recipe=EVAL_RECIPE,
        recipe_overrides=overrides,
        instance_type=INSTANCE_TYPE,
        role=ROLE,
        output_path=OUTPUT_PATH,
        data_uri=EVAL_DATA_URI,
        region=REGION,
    )

    assert _without_differences(_flatten(ours.request)) == _without_differences(_flatten(sdk))
    assert sdk["HyperParameters"]["eval_lambda_arn"] == CUSTOM_METRICS_LAMBDA
    assert ours.request["HyperParameters"]["eval_lambda_arn"] == CUSTOM_METRICS_LAMBDA
    assert ours.request["AlgorithmSpecification"]["TrainingImage"] == image
    assert _parse_recipe(ours.upload.body) == sdk_recipe
