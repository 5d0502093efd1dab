"""One place that turns a platform name into a :class:`~nova_dpo.platforms.base.Platform`.

Operators, the CLI and tests build platforms here, so a platform's settings are read the same way everywhere.
The SageMaker platform (and boto3) is imported only when it is asked for: the local platform runs without it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nova_dpo.platforms.base import ModelStore, Platform

LOCAL = "local"
SAGEMAKER = "sagemaker"
PLATFORMS: tuple[str, ...] = (LOCAL, SAGEMAKER)

LOCAL_HOME_ENV = "NOVA_DPO_HOME"
DEFAULT_LOCAL_HOME = "~/.nova-dpo"
S3_ROOT_ENV = "NOVA_DPO_S3_ROOT"

#: ``aws(service)`` is a boto3 client of that AWS service (Airflow: the ``conn`` of the provider's hook for it),
#: called only when the platform first needs one: the local platform never does.
AwsClients = Callable[[str], Any]


@dataclass(frozen=True)
class PlatformTraits:
    """What the pipeline must know of a platform before it builds one: the facts that decide a run plan.

    :param name: the platform's name.
    :param object_storage: its storage root is an object store (``s3://bucket/prefix``), else a local folder.
    :param root_env: the environment variable naming the deployment's storage root.
    :param default_root: the storage root when that variable is unset; None when one must be given.
    :param publishes_job_outputs: a job's output files live where later tasks cannot read them (an
        ``output.tar.gz``), so the task that waited for the job publishes them under the run's folder.
    :param trains_recipe_model: it trains the recipe's ``run.model_name_or_path`` (else a ``base_model``).
    :param runs_as_roles: its jobs and imports run as IAM roles the deployment names.
    :param judges_locally: its llm_judge job runs a judge the run chooses (the local model or a connection).
    :param bills: its jobs cost money, so a run's budget applies.
    :param ships_to_bedrock: its model store is Amazon Bedrock, reached in a region and on an AWS connection
        of its own (the run plan records and checks both).
    """

    name: str
    object_storage: bool
    root_env: str
    default_root: str | None
    publishes_job_outputs: bool
    trains_recipe_model: bool
    runs_as_roles: bool
    judges_locally: bool
    bills: bool
    ships_to_bedrock: bool


TRAITS: dict[str, PlatformTraits] = {
    LOCAL: PlatformTraits(
        name=LOCAL,
        object_storage=False,
        root_env=LOCAL_HOME_ENV,
        default_root=DEFAULT_LOCAL_HOME,
        publishes_job_outputs=False,
        trains_recipe_model=False,
        runs_as_roles=False,
        judges_locally=True,
        bills=False,
        ships_to_bedrock=False,
    ),
    SAGEMAKER: PlatformTraits(
        name=SAGEMAKER,
        object_storage=True,
        root_env=S3_ROOT_ENV,
        default_root=None,
        publishes_job_outputs=True,
        trains_recipe_model=True,
        runs_as_roles=True,
        judges_locally=False,
        bills=True,
        ships_to_bedrock=True,
    ),
}


def platform_traits(name: str) -> PlatformTraits:
    """The traits of the platform called ``name``.

    :raises ValueError: for an unknown platform name.
    """
    try:
        return TRAITS[name]
    except KeyError:
        raise ValueError(f"Unknown platform {name!r}; use one of {', '.join(PLATFORMS)}.") from None


def local_root(root: str | os.PathLike[str] | None = None) -> Path:
    """The local platform's folder: ``root``, else ``$NOVA_DPO_HOME``, else ``~/.nova-dpo`` (absolute)."""
    chosen = root or os.environ.get(LOCAL_HOME_ENV) or DEFAULT_LOCAL_HOME
    return Path(chosen).expanduser().absolute()


def build_platform(
    name: str,
    *,
    root: str | os.PathLike[str] | None = None,
    region: str | None = None,
    role_arn: str | None = None,
    output_path: str | None = None,
    sagemaker_client: Any = None,
    s3_client: Any = None,
    relaxed: bool = False,
    download_dir: str | os.PathLike[str] | None = None,
    credentials: Mapping[str, str] | None = None,
    aws: AwsClients | None = None,
) -> Platform:
    """The platform called ``name``.

    :param name: ``"local"`` or ``"sagemaker"``.
    :param root: local: the platform's folder (default ``$NOVA_DPO_HOME``, else ``~/.nova-dpo``).
    :param region: sagemaker: the region jobs run in (default: the SageMaker client's).
    :param role_arn: sagemaker: the IAM role jobs run as (needed to submit a job).
    :param output_path: sagemaker: ``s3://`` prefix for the output of jobs that name none.
    :param sagemaker_client: sagemaker: a boto3 SageMaker client (Airflow: ``SageMakerHook().conn``);
        default boto3's for ``region``.
    :param s3_client: sagemaker: a boto3 S3 client (Airflow: ``S3Hook().conn``); default boto3's.
    :param relaxed: sagemaker: accept recipe values that only the wider of two disagreeing AWS sources allows
        (the recipe is validated again when the request is built).
    :param download_dir: sagemaker: where job outputs are extracted when the caller names no folder.
    :param aws: sagemaker: where the SageMaker and S3 clients come from when none is given (by service name).
    :param credentials: local: what the jobs it starts find in their environment (the endpoint judge's API
        key; see :mod:`nova_dpo.platforms.local.credentials`). SageMaker jobs take none.
    :raises ValueError: for an unknown platform name.
    """
    if name == LOCAL:
        from nova_dpo.platforms.local.platform import LocalPlatform

        return LocalPlatform(local_root(root), credentials=credentials)
    if name == SAGEMAKER:
        if credentials:
            raise ValueError("SageMaker jobs take no credentials from the worker; they run as role_arn.")
        from nova_dpo.platforms.sagemaker import SageMakerPlatform

        if aws is not None:
            sagemaker_client = sagemaker_client or aws("sagemaker")
            s3_client = s3_client or aws("s3")
        return SageMakerPlatform(
            sagemaker_client,
            s3_client,
            region,
            role_arn,
            output_path,
            download_dir=download_dir,
            relaxed=relaxed,
        )
    raise ValueError(f"Unknown platform {name!r}; use one of {', '.join(PLATFORMS)}.")


def build_model_store(
    name: str,
    *,
    root: str | os.PathLike[str] | None = None,
    aws: AwsClients | None = None,
    registry: Callable[[str, str], Any] | None = None,
    import_role_arn: str | None = None,
    full_rank: bool = False,
    name_prefix: str = "nova-dpo",
    log: Any = None,
) -> ModelStore:
    """The model store of the platform called ``name``: where its trained models are imported, deployed and
    chatted with.

    :param name: ``"local"`` (the local model store under ``root``) or ``"sagemaker"`` (Amazon Bedrock).
    :param root: local: the platform's folder (default ``$NOVA_DPO_HOME``, else ``~/.nova-dpo``).
    :param aws: sagemaker: the ``bedrock`` and ``bedrock-runtime`` clients, by service name.
    :param registry: sagemaker: ``registry(family, alias)`` is the path of an alias's record (the champion).
    :param import_role_arn: sagemaker: the role Bedrock assumes to read a checkpoint it imports.
    :param full_rank: sagemaker: the models are full-rank, so they are served on provisioned throughput (LoRA
        models are deployed on demand).
    :param name_prefix: sagemaker: imported models of family ``f`` are named ``{name_prefix}-{f}-...``.
    :param log: where the store says what it does.
    :raises ValueError: for an unknown platform name.
    """
    if name == LOCAL:
        from nova_dpo.platforms.local.runtime import LocalRuntime
        from nova_dpo.platforms.local.store import LocalModelStore

        return LocalModelStore(local_root(root), runtime=LocalRuntime())
    if name == SAGEMAKER:
        from nova_dpo.platforms.bedrock_store import ON_DEMAND, PROVISIONED, BedrockModelStore

        clients = aws or _boto3_client
        return BedrockModelStore(
            lambda: clients("bedrock"),
            lambda: clients("bedrock-runtime"),
            registry=registry,
            import_role_arn=import_role_arn,
            serving=PROVISIONED if full_rank else ON_DEMAND,
            name_prefix=name_prefix,
            log=log,
        )
    raise ValueError(f"Unknown platform {name!r}; use one of {', '.join(PLATFORMS)}.")


def _boto3_client(service: str) -> Any:
    import boto3

    return boto3.client(service)
