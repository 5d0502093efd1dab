"""The CreateTrainingJob request for a Nova recipe, as the SageMaker Python SDK builds it.

The SDK is not a dependency of the Airflow environment (see DESIGN.md), so the request is built here; the
arguments keep the SDK's names (``training_recipe``, ``recipe_overrides``, ``instance_type``,
``instance_count``, ``image_uri``, ``role``, ``output_path``, ``max_run``). What the SDK does, and so
what these builders do:

* the recipe, resolved with its overrides, is uploaded as one YAML file and mounted through the input
  channel ``recipe``; the hyperparameter ``sagemaker_recipe_local_path`` points at it in the container;
* the hyperparameters name the model: ``model_type`` (``run.model_type``), and ``base_model`` from
  ``run.model_name_or_path``, or ``base_model_location`` when it is an ``s3://`` checkpoint; an evaluation
  recipe's custom-metrics Lambda (``processor.lambda_arn``) goes as ``eval_lambda_arn`` (see
  :func:`_hyperparameters`);
* DPO data comes through the channels ``train`` and (optional) ``validation`` as ``Converse`` data;
  evaluation data (``gen_qa.jsonl`` / ``llm_judge.jsonl``) through ``train`` as ``S3Prefix``.

The builders do not upload anything: they return the request together with the recipe file to put at
``upload.s3_uri`` before the request is sent.

``run.replicas`` is the instance count, so the two are kept equal: without ``instance_count`` the job
runs on ``run.replicas`` instances (the recipe's default, or its override); with ``instance_count``,
``run.replicas`` in the uploaded recipe is set to it. Both changed from the recipe's default to different
numbers is an error, since one of them would be ignored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple, TypedDict, Unpack

from nova_dpo.catalog import RECIPES, RecipeSpec, image_uri_for
from nova_dpo.platforms.base import DEFAULT_MAX_RUN
from nova_dpo.platforms.naming import MAX_JOB_NAME_LENGTH
from nova_dpo.recipes.loading import locate_recipe, read_recipe_file
from nova_dpo.recipes.overrides import Overrides, apply_overrides, combine_overrides
from nova_dpo.recipes.resolve import ResolvedRecipe, resolve_recipe
from nova_dpo.recipes.validation import base_recipe_for

DEFAULT_REGION = "us-east-1"
# The SDK's default volume for a training job (its default run time limit is base.DEFAULT_MAX_RUN).
DEFAULT_VOLUME_SIZE = 30

RECIPE_CHANNEL = "recipe"
RECIPE_FILE = "recipe.yaml"
RECIPE_LOCAL_PATH = f"/opt/ml/input/data/{RECIPE_CHANNEL}/{RECIPE_FILE}"

JOB_NAME_PATTERN = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
_ROLE_ARN_PATTERN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/\S+$")


class RecipeUpload(NamedTuple):
    """The resolved recipe file a job reads: put ``body`` at ``s3_uri`` before creating the job."""

    s3_uri: str
    body: bytes


class TrainingJobRequest(NamedTuple):
    """``request`` is the keyword arguments of ``sagemaker.create_training_job``."""

    request: dict[str, Any]
    upload: RecipeUpload
    recipe: ResolvedRecipe


class RequestOptions(TypedDict, total=False):
    """The keywords both builders pass on to the request unchanged; their defaults are ``_assemble``'s.

    See :func:`build_training_request` for what each one means.
    """

    image_uri: str | None
    region: str
    max_run: int
    volume_size: int
    volume_kms_key: str | None
    output_kms_key: str | None
    subnets: Sequence[str] | None
    security_group_ids: Sequence[str] | None
    tags: Mapping[str, str] | Sequence[Mapping[str, str]] | None
    environment: Mapping[str, str] | None
    recipe_s3_prefix: str | None
    enable_remote_debug: bool
    disable_profiler: bool


def _check_job_name(name: str) -> None:
    if not JOB_NAME_PATTERN.match(name):
        raise ValueError(
            f"job name {name!r} must be 1–{MAX_JOB_NAME_LENGTH} letters, digits and hyphens, starting and "
            "ending with a letter or digit; nova_dpo.platforms.naming.job_name builds one"
        )


def _check_s3_uri(label: str, uri: str) -> None:
    if not isinstance(uri, str) or not uri.startswith("s3://") or len(uri) <= len("s3://"):
        raise ValueError(f"{label} must be an s3:// URI, got {uri!r}")


def _check_role(role: str) -> None:
    if not _ROLE_ARN_PATTERN.match(role or ""):
        raise ValueError(
            f"role must be the ARN of an IAM role SageMaker can assume "
            f"(arn:aws:iam::<account>:role/<name>), got {role!r}"
        )


def _recipes_running_on(spec: RecipeSpec, instance_type: str) -> list[str]:
    return [
        s.name
        for s in RECIPES.values()
        if (s.model, s.task, s.method) == (spec.model, spec.task, spec.method)
        and instance_type in s.instance_types
    ]


def _check_instance_type(spec: RecipeSpec, instance_type: str) -> None:
    if instance_type in spec.instance_types:
        return
    others = _recipes_running_on(spec, instance_type)
    hint = f"; recipe {others[0]} runs on it" if others else ""
    raise ValueError(
        f"instance type {instance_type!r} is not allowed for recipe {spec.name}: use one of "
        f"{', '.join(spec.instance_types)}{hint}"
    )


def _check_instance_count(spec: RecipeSpec, count: int, relaxed: bool) -> None:
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"instance_count must be a positive integer, got {count!r}")
    counts = spec.counts
    if counts.allowed is None or count in counts.allowed:
        return
    if relaxed and counts.relaxed_allowed and count in counts.relaxed_allowed:
        return  # validation of run.replicas logs the warning
    message = (
        f"instance_count={count} is not allowed for recipe {spec.name} ({counts.source}): "
        f"use one of {', '.join(map(str, counts.allowed))}"
    )
    if counts.relaxed_allowed and count in counts.relaxed_allowed:
        message += f", or relax to {', '.join(map(str, counts.relaxed_allowed))} ({counts.relaxed_source})"
    raise ValueError(message)


def _unresolved(training_recipe: str | ResolvedRecipe, overrides: Overrides) -> tuple[str, dict[str, Any]]:
    """The recipe's name and its config with overrides applied, not yet validated."""
    if isinstance(training_recipe, ResolvedRecipe):
        return training_recipe.name, apply_overrides(training_recipe.config, overrides)
    located = locate_recipe(training_recipe)
    return located.name, apply_overrides(read_recipe_file(located.path), overrides)


def _resolve_for_instances(
    training_recipe: str | ResolvedRecipe,
    overrides: Overrides,
    instance_type: str | None,
    instance_count: int | None,
    relaxed: bool,
) -> tuple[ResolvedRecipe, str, int]:
    name, config = _unresolved(training_recipe, overrides)
    spec = RECIPES[base_recipe_for(config, name=name, instance_type=instance_type)]
    instance_type = instance_type or spec.default_instance_type
    _check_instance_type(spec, instance_type)

    replicas = config.get("run", {}).get("replicas")
    if instance_count is None:
        # run.replicas is validated with the recipe.
        instance_count = replicas
    else:
        _check_instance_count(spec, instance_count, relaxed)
        if replicas not in (instance_count, spec.counts.default):
            raise ValueError(
                f"instance_count={instance_count} disagrees with run.replicas={replicas} set in the recipe or "
                "its overrides; they are the same number (instances of the job), so set only one of them"
            )
    recipe = resolve_recipe(
        training_recipe,
        combine_overrides(overrides, {"run": {"replicas": instance_count}}),
        relaxed,
        instance_type=instance_type,
    )
    return recipe, instance_type, instance_count


def _s3_channel(name: str, uri: str, data_type: str, *, input_mode: str | None = None) -> dict[str, Any]:
    channel: dict[str, Any] = {"ChannelName": name}
    if input_mode is not None:
        channel["InputMode"] = input_mode
    channel["DataSource"] = {
        "S3DataSource": {"S3DataType": data_type, "S3Uri": uri, "S3DataDistributionType": "FullyReplicated"}
    }
    return channel


def _tags(tags: Mapping[str, str] | Sequence[Mapping[str, str]] | None) -> list[dict[str, str]]:
    if tags is None:
        return []
    if isinstance(tags, Mapping):
        return [{"Key": str(k), "Value": str(v)} for k, v in tags.items()]
    return [{"Key": str(t["Key"]), "Value": str(t["Value"])} for t in tags]


def _hyperparameters(config: Mapping[str, Any]) -> dict[str, str]:
    """The hyperparameters SageMaker Python SDK 2.x sends for a Nova recipe, beside the recipe's path.

    ``PyTorch(training_recipe=...)`` in aws/sagemaker-python-sdk v2.257.6, ``src/sagemaker/pytorch/estimator.py``,
    ``PyTorch._setup_for_nova_recipe``::

        model_type = run_config.get("model_type")
        args["hyperparameters"]["model_type"] = model_type
        if model_name_or_path:
            if model_name_or_path.startswith("s3://"):
                args["hyperparameters"]["base_model_location"] = model_name_or_path
            else:
                args["hyperparameters"]["base_model"] = model_name_or_path
        ...
        if recipe.get("evaluation", {}):
            processor = recipe.get("processor", {})
            lambda_arn = processor.get("lambda_arn", "")
            if lambda_arn:
                args["hyperparameters"]["eval_lambda_arn"] = lambda_arn

    Its other Nova hyperparameters come from keys recipe validation refuses in the recipes we ship
    (``run.reward_lambda_arn``, ``training_config.distillation_data``). SDK 3.x sends the same but
    ``model_type`` (``sagemaker-train`` ``sm_recipes/utils.py`` ``_get_args_from_nova_recipe``); the AWS Nova
    samples run on 2.x, so we send it.
    """
    run = config["run"]
    model = run["model_name_or_path"]
    hyperparameters = {
        "model_type": run["model_type"],
        "base_model_location" if model.startswith("s3://") else "base_model": model,
    }
    lambda_arn = config.get("processor", {}).get("lambda_arn") if config.get("evaluation") else None
    if lambda_arn:
        hyperparameters["eval_lambda_arn"] = lambda_arn
    return hyperparameters


def _assemble(
    job_name: str,
    recipe: ResolvedRecipe,
    data_channels: list[dict[str, Any]],
    role: str,
    output_path: str,
    instance_type: str,
    instance_count: int,
    *,
    image_uri: str | None = None,
    region: str = DEFAULT_REGION,
    max_run: int = DEFAULT_MAX_RUN,
    volume_size: int = DEFAULT_VOLUME_SIZE,
    volume_kms_key: str | None = None,
    output_kms_key: str | None = None,
    subnets: Sequence[str] | None = None,
    security_group_ids: Sequence[str] | None = None,
    tags: Mapping[str, str] | Sequence[Mapping[str, str]] | None = None,
    environment: Mapping[str, str] | None = None,
    recipe_s3_prefix: str | None = None,
    enable_remote_debug: bool = False,
    disable_profiler: bool = True,
) -> TrainingJobRequest:
    if isinstance(max_run, bool) or not isinstance(max_run, int) or max_run < 1:
        raise ValueError(f"max_run must be a positive number of seconds, got {max_run!r}")
    if bool(subnets) != bool(security_group_ids):
        raise ValueError("a VPC needs both subnets and security_group_ids; give both or neither")

    prefix = (recipe_s3_prefix or f"{output_path.rstrip('/')}/{job_name}/input/{RECIPE_CHANNEL}").rstrip(
        "/"
    ) + "/"
    _check_s3_uri("recipe_s3_prefix", prefix)
    upload = RecipeUpload(prefix + RECIPE_FILE, recipe.to_yaml().encode("utf-8"))

    output_config = {"S3OutputPath": output_path}
    if output_kms_key:
        output_config["KmsKeyId"] = output_kms_key
    resource_config: dict[str, Any] = {
        "InstanceType": instance_type,
        "InstanceCount": instance_count,
        "VolumeSizeInGB": volume_size,
    }
    if volume_kms_key:
        resource_config["VolumeKmsKeyId"] = volume_kms_key

    request: dict[str, Any] = {
        "TrainingJobName": job_name,
        "AlgorithmSpecification": {
            "TrainingInputMode": "File",
            "TrainingImage": image_uri or image_uri_for(recipe.spec.task, recipe.spec.generation, region),
        },
        "RoleArn": role,
        "InputDataConfig": [
            *data_channels,
            _s3_channel(RECIPE_CHANNEL, prefix, "S3Prefix", input_mode="File"),
        ],
        "OutputDataConfig": output_config,
        "ResourceConfig": resource_config,
        "StoppingCondition": {"MaxRuntimeInSeconds": max_run},
        "HyperParameters": {
            **_hyperparameters(recipe.config),
            "sagemaker_recipe_local_path": RECIPE_LOCAL_PATH,
        },
    }
    if subnets:
        request["VpcConfig"] = {"SecurityGroupIds": list(security_group_ids or ()), "Subnets": list(subnets)}
    if tags:
        request["Tags"] = _tags(tags)
    if environment:
        request["Environment"] = {str(k): str(v) for k, v in environment.items()}
    request["ProfilerConfig"] = {"DisableProfiler": disable_profiler}
    request["RemoteDebugConfig"] = {"EnableRemoteDebug": enable_remote_debug}
    return TrainingJobRequest(request, upload, recipe)


def build_training_request(
    *,
    job_name: str,
    training_recipe: str | ResolvedRecipe,
    role: str,
    output_path: str,
    train_uri: str,
    validation_uri: str | None = None,
    recipe_overrides: Overrides = None,
    instance_type: str | None = None,
    instance_count: int | None = None,
    relaxed: bool = False,
    **options: Unpack[RequestOptions],
) -> TrainingJobRequest:
    """The CreateTrainingJob request of a Nova DPO training job.

    :param job_name: the job's name (see :func:`~nova_dpo.platforms.naming.job_name`).
    :param training_recipe: a shipped DPO recipe name, a v1 alias, a YAML path, or a resolved recipe.
    :param role: ARN of the IAM role the job runs as.
    :param output_path: ``s3://`` prefix for the job's output (``<output_path>/<job_name>/output/...``).
    :param train_uri: ``s3://`` URI of the training JSONL (Converse DPO records).
    :param validation_uri: ``s3://`` URI of the validation JSONL, if any.
    :param recipe_overrides: overrides of recipe keys (mapping or ``KEY=VALUE`` strings).
    :param instance_type: default: the recipe's first instance type (e.g. ``ml.p5.48xlarge``).
    :param instance_count: default: the recipe's ``run.replicas``; see the module docstring.
    :param image_uri: default: the Nova DPO training image of ``region``.
    :param region: the region the job runs in; picks the image.
    :param max_run: ``MaxRuntimeInSeconds``, default 86400 (the SDK's).
    :param output_kms_key: KMS key for the output (``OutputDataConfig.KmsKeyId``).
    :param subnets: VPC subnets (with ``security_group_ids``).
    :param tags: ``{"key": "value"}`` or ``[{"Key", "Value"}]``.
    :param relaxed: accept values that only the wider of two disagreeing AWS sources allows.
    :param recipe_s3_prefix: the ``s3://`` folder for the recipe file (default
        ``<output_path>/<job_name>/input/recipe/``); it is mounted whole, so keep it for this job only.
    :raises ValueError: for a bad argument, an instance type or count the recipe does not allow, or a
        recipe value out of range (:class:`~nova_dpo.recipes.validation.RecipeValidationError`).
    """
    _check_job_name(job_name)
    _check_role(role)
    _check_s3_uri("output_path", output_path)
    _check_s3_uri("train_uri", train_uri)
    if validation_uri is not None:
        _check_s3_uri("validation_uri", validation_uri)
    recipe, instance_type, instance_count = _resolve_for_instances(
        training_recipe, recipe_overrides, instance_type, instance_count, relaxed
    )
    if recipe.spec.task != "dpo":
        raise ValueError(f"recipe {recipe.name} is an evaluation recipe; use build_evaluation_request")
    channels = [_s3_channel("train", train_uri, "Converse")]
    if validation_uri is not None:
        channels.append(_s3_channel("validation", validation_uri, "Converse"))
    return _assemble(job_name, recipe, channels, role, output_path, instance_type, instance_count, **options)


def build_evaluation_request(
    *,
    job_name: str,
    training_recipe: str | ResolvedRecipe,
    role: str,
    output_path: str,
    data_uri: str,
    model_name_or_path: str | None = None,
    recipe_overrides: Overrides = None,
    instance_type: str | None = None,
    instance_count: int | None = None,
    relaxed: bool = False,
    **options: Unpack[RequestOptions],
) -> TrainingJobRequest:
    """The CreateTrainingJob request of a Nova evaluation job (``gen_qa`` or ``llm_judge``).

    :param training_recipe: a shipped evaluation recipe name, a YAML path, or a resolved recipe (the SDK
        calls it ``training_recipe`` for evaluation too).
    :param data_uri: ``s3://`` URI of ``gen_qa.jsonl`` / ``llm_judge.jsonl`` (or of a folder holding it);
        it reaches the job through the channel ``train``.
    :param model_name_or_path: the model to evaluate: an ``s3://`` checkpoint (a training job's escrow
        URI), or None for the base model; sets ``run.model_name_or_path``.

    The other parameters are those of :func:`build_training_request`.
    """
    _check_job_name(job_name)
    _check_role(role)
    _check_s3_uri("output_path", output_path)
    _check_s3_uri("data_uri", data_uri)
    overrides = combine_overrides(
        recipe_overrides, {"run": {"model_name_or_path": model_name_or_path}} if model_name_or_path else None
    )
    recipe, instance_type, instance_count = _resolve_for_instances(
        training_recipe, overrides, instance_type, instance_count, relaxed
    )
    task = recipe.spec.task
    if task == "dpo":
        raise ValueError(f"recipe {recipe.name} is a training recipe; use build_training_request")
    file_name = data_uri.rstrip("/").rsplit("/", 1)[-1]
    if file_name.endswith(".jsonl") and file_name != f"{task}.jsonl":
        raise ValueError(f"a {task} evaluation reads a file named exactly {task}.jsonl, got {file_name!r}")
    channels = [_s3_channel("train", data_uri, "S3Prefix")]
    return _assemble(job_name, recipe, channels, role, output_path, instance_type, instance_count, **options)
