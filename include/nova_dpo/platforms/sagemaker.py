"""The production platform: Nova DPO training and evaluation as SageMaker training jobs.

``submit`` builds the CreateTrainingJob request (:mod:`nova_dpo.platforms.sagemaker_requests`), uploads the
resolved recipe where the request's ``recipe`` channel points, and creates the job. It is idempotent by job
name, so a retried Airflow task never pays for a second job:

==========================  ==============================================================================
an existing job is          ``submit``
==========================  ==============================================================================
InProgress or Stopping      attaches to it (no request sent)
Completed                   reuses it
Failed or Stopped           submits the next attempt, ``<name>-a2``, ``<name>-a3``, ... (see
                            :mod:`nova_dpo.platforms.naming`), walking past earlier attempts the same way
(none)                      creates it
==========================  ==============================================================================

A job attached to or reused must have the definition being submitted (image, instances, data, hyperparameters,
output path, run time limit, recipe file), else :class:`~nova_dpo.platforms.base.JobConflictError`.

The boto3 clients are constructor arguments, so the Airflow side passes ``SageMakerHook().conn`` and
``S3Hook().conn`` (its connection, region and credentials); without them, boto3's default clients are used.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

import boto3
from botocore.exceptions import ClientError

from nova_dpo.catalog import PRICE_REGION, PRICES_AS_OF, estimate_cost_usd
from nova_dpo.platforms.base import (
    EvaluationJob,
    JobConflictError,
    JobNotFoundError,
    JobOutputs,
    JobRef,
    JobState,
    JobStatus,
    TrainingJob,
)
from nova_dpo.platforms.naming import DEFAULT_MAX_ATTEMPTS, AttemptsExhaustedError, attempt_job_name
from nova_dpo.platforms.sagemaker_outputs import (
    JobOutputError,
    output_archive_uri,
    read_evaluation_output,
    read_training_output,
    split_s3_uri,
)
from nova_dpo.platforms.sagemaker_requests import (
    DEFAULT_VOLUME_SIZE,
    RECIPE_CHANNEL,
    RECIPE_FILE,
    TrainingJobRequest,
    build_evaluation_request,
    build_training_request,
)
from nova_dpo.recipes.resolve import ResolvedRecipe
from nova_dpo.recipes.validation import base_recipe_for
from nova_dpo.recipes.yaml_io import dump_canonical, load_yaml

log = logging.getLogger(__name__)

PLATFORM = "sagemaker"
# TrainingJob/EvaluationJob.instance_count's default: on SageMaker it stands for "the recipe's run.replicas".
_UNSET_INSTANCE_COUNT = 1
_RETRIED = (JobStatus.FAILED, JobStatus.STOPPED)
# SecondaryStatus values that mean SageMaker stopped the job itself, not because someone asked.
_LIMIT_STOPS = {
    "MaxRuntimeExceeded": "it ran past its MaxRuntimeInSeconds",
    "MaxWaitTimeExceeded": "it waited for spot capacity past its MaxWaitTimeInSeconds",
}
# The hyperparameter naming the recipe file inside the container (the SageMaker SDK's name).
RECIPE_PATH_HYPERPARAMETER = "sagemaker_recipe_local_path"
_LOGS_HINT = "CloudWatch log group /aws/sagemaker/TrainingJobs, log streams {name}/algo-*"


def _error_code(err: ClientError) -> str:
    return err.response.get("Error", {}).get("Code", "")


def _is_not_found(err: ClientError) -> bool:
    message = err.response.get("Error", {}).get("Message", "").lower()
    return _error_code(err) in ("ValidationException", "ResourceNotFound") and (
        "not found" in message or "could not find" in message
    )


def _as_utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class SageMakerPlatform:
    """Runs :class:`TrainingJob` and :class:`EvaluationJob` as SageMaker training jobs.

    :param sagemaker_client: a boto3 SageMaker client (Airflow: ``SageMakerHook().conn``); default
        ``boto3.client("sagemaker", region_name=region)``.
    :param s3_client: a boto3 S3 client (Airflow: ``S3Hook().conn``); default ``boto3.client("s3")``.
    :param region: the region jobs run in; picks the default Nova images. Default: the SageMaker client's.
    :param role_arn: the IAM role the jobs run as; needed by ``submit`` only.
    :param output_path: ``s3://`` prefix for the outputs of jobs whose ``output_uri`` is empty.
    :param download_dir: where ``outputs`` extracts a job's ``output.tar.gz`` (``<download_dir>/<job>``)
        when its caller names no folder; default a folder under the system's temporary folder (on this
        machine only: see :meth:`outputs`).
    :param max_attempts: how many attempts (failed or stopped, then retried) a job name may have.
    :param volume_size: ``ResourceConfig.VolumeSizeInGB``, default 30 (the SDK's).
    :param volume_kms_key: KMS key for the instances' volumes.
    :param output_kms_key: KMS key for the output (``OutputDataConfig.KmsKeyId``).
    :param subnets: VPC subnets (with ``security_group_ids``).
    :param security_group_ids: VPC security groups.
    :param environment: environment variables for the job's container.
    :param relaxed: accept recipe values that only the wider of two disagreeing AWS sources allows.
    """

    name = PLATFORM

    def __init__(
        self,
        sagemaker_client: Any = None,
        s3_client: Any = None,
        region: str | None = None,
        role_arn: str | None = None,
        output_path: str | None = None,
        *,
        download_dir: str | os.PathLike[str] | None = None,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        volume_size: int = DEFAULT_VOLUME_SIZE,
        volume_kms_key: str | None = None,
        output_kms_key: str | None = None,
        subnets: Sequence[str] | None = None,
        security_group_ids: Sequence[str] | None = None,
        environment: Mapping[str, str] | None = None,
        relaxed: bool = False,
    ) -> None:
        if sagemaker_client is None:
            sagemaker_client = boto3.client("sagemaker", region_name=region)
        client_region = sagemaker_client.meta.region_name
        if region is not None and client_region and region != client_region:
            raise ValueError(
                f"region {region!r} differs from the SageMaker client's region {client_region!r}; jobs run in "
                "the client's region, so configure the connection (aws_default) for the region you want"
            )
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {max_attempts}")
        self.sagemaker = sagemaker_client
        self.s3 = s3_client if s3_client is not None else boto3.client("s3", region_name=client_region)
        self.region = region or client_region
        self.role_arn = role_arn
        self.output_path = output_path
        self.download_dir = (
            Path(download_dir)
            if download_dir is not None
            else Path(tempfile.gettempdir()) / "nova_dpo_sagemaker"
        )
        self.max_attempts = max_attempts
        self._request_options: dict[str, Any] = {
            "volume_size": volume_size,
            "volume_kms_key": volume_kms_key,
            "output_kms_key": output_kms_key,
            "subnets": subnets,
            "security_group_ids": security_group_ids,
            "environment": environment,
            "relaxed": relaxed,
        }

    # -------------------------------------------------------------------------------------------- request

    def check(self, job: TrainingJob | EvaluationJob) -> None:
        """Build ``job``'s request (which validates it) and send nothing."""
        self.build_request(job)

    def build_request(self, job: TrainingJob | EvaluationJob, name: str | None = None) -> TrainingJobRequest:
        """The CreateTrainingJob request for ``job`` (named ``name``, default ``job.name``) and the recipe
        file to upload before it is sent.

        :raises ValueError: for a bad job (recipe out of range, instance type the recipe does not run on,
            no role, no ``s3://`` output path, an evaluation recipe for another task, ...).
        """
        if not self.role_arn:
            raise ValueError(
                "the SageMaker platform needs role_arn (the IAM role jobs run as) to submit a job; set it "
                "where the platform is configured"
            )
        output_path = job.output_uri or self.output_path
        if not output_path:
            raise ValueError(f"job {job.name!r} has no output_uri and the platform has no output_path")
        options: dict[str, Any] = {
            "job_name": name or job.name,
            "training_recipe": _as_recipe(job),
            "role": self.role_arn,
            "output_path": output_path,
            "instance_type": job.instance_type,
            "instance_count": None if job.instance_count == _UNSET_INSTANCE_COUNT else job.instance_count,
            "image_uri": job.image_uri,
            "region": self.region,
            "max_run": job.max_run,
            "tags": job.tags or None,
            **self._request_options,
        }
        if isinstance(job, TrainingJob):
            return build_training_request(
                train_uri=job.train_uri,
                validation_uri=job.validation_uri,
                recipe_overrides={"run": {"model_name_or_path": job.base_model}} if job.base_model else None,
                **options,
            )
        built = build_evaluation_request(data_uri=job.data_uri, model_name_or_path=job.model_uri, **options)
        if built.recipe.spec.task != job.task:
            raise ValueError(
                f"evaluation job {job.name!r} is a {job.task} job, but its recipe evaluates "
                f"{built.recipe.spec.task}; pass a {job.task} evaluation recipe"
            )
        return built

    # --------------------------------------------------------------------------------------------- submit

    def submit(self, job: TrainingJob | EvaluationJob) -> JobRef:
        """Create the job, or attach to the job of that name (see the module docstring).

        :raises JobConflictError: the job to attach to has another definition.
        :raises AttemptsExhaustedError: ``max_attempts`` attempts failed or were stopped.
        """
        for attempt in range(1, self.max_attempts + 1):
            name = attempt_job_name(job.name, attempt)
            description = self._describe_or_none(name)
            if description is None:
                return self._create(job, name)
            status = JobStatus(description["TrainingJobStatus"])
            if status in _RETRIED:
                log.info("SageMaker job %s is %s; looking at the next attempt", name, status.value)
                continue
            self._check_same_definition(description, self.build_request(job, name))
            log.info("Attaching to SageMaker job %s (%s)", name, status.value)
            return self._ref(description)
        raise AttemptsExhaustedError(
            f"All {self.max_attempts} attempts of SageMaker job {job.name!r} (the last one "
            f"{attempt_job_name(job.name, self.max_attempts)!r}) failed or were stopped. Read their failure "
            "reasons, fix the cause, and run under a new job name or raise max_attempts."
        )

    def _create(self, job: TrainingJob | EvaluationJob, name: str) -> JobRef:
        built = self.build_request(job, name)
        bucket, key = split_s3_uri(built.upload.s3_uri)
        self.s3.put_object(Bucket=bucket, Key=key, Body=built.upload.body, ContentType="application/x-yaml")
        try:
            arn = self.sagemaker.create_training_job(**built.request)["TrainingJobArn"]
        except ClientError as err:
            if _error_code(err) != "ResourceInUse":
                raise
            # Another process created it between our look and our create: attach to that one.
            description = self._describe(name)
            self._check_same_definition(description, built)
            return self._ref(description)
        log.info("Created SageMaker training job %s (%s)", name, arn)
        return JobRef(platform=PLATFORM, name=name, handle=arn)

    def _check_same_definition(self, description: Mapping[str, Any], built: TrainingJobRequest) -> None:
        name = description["TrainingJobName"]
        differences = _definition_differences(_definition(description), _definition(built.request))
        existing_recipe = self._read_object(built.upload.s3_uri)
        if existing_recipe is not None and existing_recipe != built.upload.body:
            differences.append(f"recipe (at {built.upload.s3_uri})")
        if differences:
            raise JobConflictError(
                f"SageMaker training job {name!r} already exists ({description['TrainingJobStatus']}) with a "
                f"different {', '.join(differences)}. A job name stands for one job: submit the new "
                "definition under a new name (a new DAG run, or job_name(..., attempt=n))."
            )

    def _read_object(self, uri: str) -> bytes | None:
        bucket, key = split_s3_uri(uri)
        try:
            return self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except ClientError as err:
            if _error_code(err) in ("NoSuchKey", "404", "NotFound"):
                return None
            raise

    # ------------------------------------------------------------------------------------------- describe

    def ref(self, name: str) -> JobRef:
        """The reference of the training job called ``name`` (its ARN is not needed to find it)."""
        return JobRef(platform=PLATFORM, name=name, handle=name)

    def describe(self, ref: JobRef) -> JobState:
        """The job's state: SageMaker's status, its failure reason, progress (secondary status, its last
        message, instances and an estimated cost), billable seconds and start/end times.

        :raises JobNotFoundError: there is no job of that name.
        """
        return job_state(self._describe(ref.check_platform(PLATFORM)))

    # ----------------------------------------------------------------------------------------------- stop

    def stop(self, ref: JobRef) -> None:
        """Stop the job; a no-op for one that already ended or is stopping.

        :raises JobNotFoundError: there is no job of that name.
        """
        name = ref.check_platform(PLATFORM)
        if self._stopped_or_ended(name):
            return
        try:
            self.sagemaker.stop_training_job(TrainingJobName=name)
        except ClientError as err:
            # It ended between our look and the request: SageMaker refuses to stop an ended job.
            if _error_code(err) == "ValidationException" and self._stopped_or_ended(name):
                return
            raise
        log.info("Asked SageMaker to stop training job %s", name)

    def _stopped_or_ended(self, name: str) -> bool:
        status = JobStatus(self._describe(name)["TrainingJobStatus"])
        return status.is_terminal or status is JobStatus.STOPPING

    # -------------------------------------------------------------------------------------------- outputs

    def outputs(self, ref: JobRef, local_dir: str | os.PathLike[str] | None = None) -> JobOutputs:
        """Read a completed job's ``output.tar.gz`` and extract it under ``local_dir`` (default
        ``<download_dir>/<job name>``), a folder on this machine.

        Training: ``checkpoint_uri`` is the manifest's escrow URI; ``metrics_uri`` the extracted
        ``step_wise_training_metrics.csv``. Evaluation: ``results_uri`` is the newest extracted results
        file, ``inference_output_uri`` the extracted ``inference_output.jsonl`` (gen_qa), and ``result`` is
        the local platform's result (``task``, ``results_path``, ``metrics``, ...).

        The extracted files' URIs are ``file://`` URIs on this machine: a process elsewhere (a task on another
        Airflow worker) cannot read them. The operators extract to a scratch folder and publish what later
        tasks read to the run's storage root (:func:`nova_dpo.platforms.publish.publish_outputs`).

        :raises ValueError: the job did not complete.
        :raises JobOutputError: the output lacks what the job always writes (e.g. the checkpoint URI).
        """
        name = ref.check_platform(PLATFORM)
        description = self._describe(name)
        state = job_state(description)
        if state.status is not JobStatus.COMPLETED:
            raise ValueError(
                f"SageMaker job {name!r} is {state.status.value}; only a completed job has outputs."
                + (f" {state.failure_reason}" if state.failure_reason else "")
            )
        archive = output_archive_uri(description["OutputDataConfig"]["S3OutputPath"], name)
        target = Path(local_dir) if local_dir is not None else self.download_dir / name
        recipe = self._job_recipe(description)
        if _is_evaluation(description, recipe):
            evaluation = (recipe or {}).get("evaluation") or {}
            output = read_evaluation_output(
                self.s3,
                archive,
                target,
                task=evaluation.get("task"),
                run_name=((recipe or {}).get("run") or {}).get("name"),
            )
            return JobOutputs(
                output_uri=archive,
                results_uri=output.results_path.as_uri(),
                inference_output_uri=(
                    output.inference_output_path.as_uri() if output.inference_output_path else None
                ),
                result=output.summary(),
            )
        training = read_training_output(self.s3, archive, target)
        result: dict[str, Any] = {"checkpoint_uri": training.checkpoint_uri}
        rows = training.metrics_rows()
        if rows:
            last = rows[-1]
            step = last.get("step_number")
            result["global_steps"] = int(step) if isinstance(step, float) else len(rows)
            result["final"] = last
        return JobOutputs(
            output_uri=archive,
            checkpoint_uri=training.checkpoint_uri,
            metrics_uri=training.metrics_path.as_uri() if training.metrics_path else None,
            validation_metrics_uri=(
                training.validation_metrics_path.as_uri() if training.validation_metrics_path else None
            ),
            manifest=training.manifest,
            result=result,
        )

    def _job_recipe(self, description: Mapping[str, Any]) -> dict[str, Any] | None:
        """The recipe file the job was given, or None when it cannot be read any more."""
        local_path = (description.get("HyperParameters") or {}).get(RECIPE_PATH_HYPERPARAMETER, RECIPE_FILE)
        for channel in description.get("InputDataConfig") or ():
            if channel.get("ChannelName") == RECIPE_CHANNEL:
                prefix = channel["DataSource"]["S3DataSource"]["S3Uri"]
                body = self._read_object(f"{prefix.rstrip('/')}/{PurePosixPath(local_path).name}")
                if body is None:
                    return None
                recipe = load_yaml(body.decode("utf-8"))
                return recipe if isinstance(recipe, dict) else None
        return None

    # -------------------------------------------------------------------------------------------- helpers

    def _describe_or_none(self, name: str) -> dict[str, Any] | None:
        try:
            return self.sagemaker.describe_training_job(TrainingJobName=name)
        except ClientError as err:
            if _is_not_found(err):
                return None
            raise

    def _describe(self, name: str) -> dict[str, Any]:
        description = self._describe_or_none(name)
        if description is None:
            raise JobNotFoundError(f"There is no SageMaker training job named {name!r} in {self.region}.")
        return description

    @staticmethod
    def _ref(description: Mapping[str, Any]) -> JobRef:
        return JobRef(
            platform=PLATFORM, name=description["TrainingJobName"], handle=description["TrainingJobArn"]
        )


# ---------------------------------------------------------------------------------------------- mapping


def job_state(description: Mapping[str, Any], now: datetime | None = None) -> JobState:
    """Our :class:`JobState` from a DescribeTrainingJob response."""
    name = description["TrainingJobName"]
    status = JobStatus(description["TrainingJobStatus"])
    secondary = description.get("SecondaryStatus")
    transitions = description.get("SecondaryStatusTransitions") or []
    message = transitions[-1].get("StatusMessage") if transitions else None
    started = _as_utc(description.get("TrainingStartTime"))
    ended = _as_utc(description.get("TrainingEndTime"))

    billable = description.get("BillableTimeInSeconds")
    if billable is None and started is not None:
        billable = max(0, round(((ended or now or datetime.now(UTC)) - started).total_seconds()))

    resources = description.get("ResourceConfig") or {}
    instance_type = resources.get("InstanceType")
    instance_count = resources.get("InstanceCount")
    progress: dict[str, Any] = {"secondary_status": secondary}
    if message:
        progress["message"] = message
    if instance_type:
        progress["instance_type"] = instance_type
        progress["instance_count"] = instance_count
    if billable is not None and instance_type and instance_count:
        try:
            cost = estimate_cost_usd(instance_type, instance_count, billable)
        except ValueError:
            log.debug("No price for %s; no cost estimate for job %s", instance_type, name)
        else:
            progress["estimated_cost_usd"] = round(cost, 2)
            progress["cost_basis"] = f"on-demand {PRICE_REGION} list price as of {PRICES_AS_OF}"

    return JobState(
        status=status,
        failure_reason=_failure_reason(name, status, secondary, message, description),
        progress=progress,
        billable_seconds=billable,
        started=started,
        ended=ended,
    )


def _failure_reason(
    name: str, status: JobStatus, secondary: str | None, message: str | None, description: Mapping[str, Any]
) -> str | None:
    reason = description.get("FailureReason")
    logs = _LOGS_HINT.format(name=name)
    if status is JobStatus.FAILED:
        return f"{reason or 'SageMaker gave no failure reason.'} (logs: {logs})"
    if status is JobStatus.STOPPED and secondary in _LIMIT_STOPS:
        limit = (description.get("StoppingCondition") or {}).get("MaxRuntimeInSeconds")
        detail = (
            f" of {limit} s; raise max_run to give it longer"
            if limit and secondary == "MaxRuntimeExceeded"
            else ""
        )
        return (
            f"SageMaker stopped the job: {_LIMIT_STOPS[secondary]}{detail}. {reason or message or ''}".strip()
        )
    return reason


def _definition(request: Mapping[str, Any]) -> dict[str, Any]:
    """What makes two jobs the same job, from a CreateTrainingJob request or a DescribeTrainingJob response
    (they use the same keys)."""
    resources = request.get("ResourceConfig") or {}
    return {
        "image": (request.get("AlgorithmSpecification") or {}).get("TrainingImage"),
        "instance type": resources.get("InstanceType"),
        "instance count": resources.get("InstanceCount"),
        "data": {
            channel["ChannelName"]: channel["DataSource"]["S3DataSource"]["S3Uri"]
            for channel in request.get("InputDataConfig") or ()
            if "S3DataSource" in channel.get("DataSource", {})
        }
        or None,
        "hyperparameters": request.get("HyperParameters") or None,
        "output path": ((request.get("OutputDataConfig") or {}).get("S3OutputPath") or "").rstrip("/")
        or None,
        "run time limit": (request.get("StoppingCondition") or {}).get("MaxRuntimeInSeconds"),
    }


def _definition_differences(existing: Mapping[str, Any], wanted: Mapping[str, Any]) -> list[str]:
    """The fields that differ; a field the service did not return is not compared."""
    return [
        f"{key} ({existing[key]!r}, not {wanted[key]!r})"
        for key in wanted
        if existing.get(key) is not None and existing[key] != wanted[key]
    ]


def _as_recipe(job: TrainingJob | EvaluationJob) -> ResolvedRecipe:
    """The job's recipe dict as a recipe the request builders validate again with the job's overrides."""
    text = dump_canonical(job.recipe)
    return ResolvedRecipe(
        name=job.name,
        config=dict(job.recipe),
        sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        base_recipe=base_recipe_for(job.recipe, instance_type=job.instance_type),
        source=f"the recipe of job {job.name}",
    )


def _is_evaluation(description: Mapping[str, Any], recipe: Mapping[str, Any] | None) -> bool:
    """Whether a job is a Nova evaluation: its recipe says so, or, without it, its data is not the
    ``Converse`` preference data a training job reads."""
    if recipe is not None:
        return "evaluation" in recipe
    for channel in description.get("InputDataConfig") or ():
        if channel.get("ChannelName") == "train":
            return channel["DataSource"].get("S3DataSource", {}).get("S3DataType") != "Converse"
    raise JobOutputError(
        f"Cannot tell whether SageMaker job {description['TrainingJobName']!r} trained or evaluated: its "
        "recipe file is gone and it has no 'train' channel."
    )
