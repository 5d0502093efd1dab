"""The platform contract: jobs, their state and outputs, and the model store, alike on every platform.

Operators, triggers and the CLI speak only these types, so one DAG runs on SageMaker and locally. Every type
converts to and from plain JSON (``to_dict`` / ``from_dict``), because Airflow carries them through XCom and
trigger arguments.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from enum import Enum, StrEnum
from typing import Any, ClassVar, Literal, Protocol, Self, runtime_checkable

# SageMaker's rule for training job names. Local job folders follow it too, so a name that works on one
# platform works on the other.
_JOB_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
# Bedrock's rule for custom model names (CreateCustomModel ``modelName``), also used for families, aliases
# and deployment names, which end up in the same places.
_MODEL_NAME = re.compile(r"([0-9a-zA-Z][_-]?){1,63}")
_MAX_NAME_LENGTH = 63

# SageMaker's default MaxRuntimeInSeconds: one day.
DEFAULT_MAX_RUN = 86_400

EvaluationTask = Literal["gen_qa", "llm_judge"]
EVALUATION_TASKS: tuple[str, ...] = ("gen_qa", "llm_judge")

# The alias that names the model a family's new candidates are compared with.
CHAMPION = "champion"

# File names of a Nova job's output (``output.tar.gz``); the local jobs write the same names.
MANIFEST_FILE = "manifest.json"
MANIFEST_CHECKPOINT_KEY = "checkpoint_s3_bucket"
TRAINING_METRICS_FILE = "step_wise_training_metrics.csv"
VALIDATION_METRICS_FILE = "validation_metrics.csv"
RESULTS_FILE_GLOB = "results_*.json"
INFERENCE_OUTPUT_FILE = "inference_output.jsonl"


class JobNotFoundError(LookupError):
    """No job of that name exists on the platform."""


class JobConflictError(ValueError):
    """A job of that name exists, but was submitted with a different definition."""


class ModelStoreFailure(RuntimeError):
    """A model or deployment failed, or its name is taken by another: doing the same step again cannot help."""


class ModelNotFoundError(LookupError):
    """No model (or deployment) of that name or id exists in the model store."""


def validate_job_name(name: str) -> str:
    """``name`` if it is a valid job name (SageMaker's rule), else ValueError."""
    if not isinstance(name, str) or not _JOB_NAME.fullmatch(name):
        raise ValueError(
            f"Invalid job name {name!r}: use 1-63 letters, digits and hyphens, beginning and ending with a "
            "letter or digit (SageMaker's rule for training job names)."
        )
    return name


def validate_model_name(name: str, what: str = "model name") -> str:
    """``name`` if it is a valid model, family, alias or deployment name (Bedrock's rule), else ValueError."""
    if not isinstance(name, str) or len(name) > _MAX_NAME_LENGTH or not _MODEL_NAME.fullmatch(name):
        raise ValueError(
            f"Invalid {what} {name!r}: use 1-63 letters and digits, each optionally followed by one '-' or "
            "'_' (Bedrock's rule for custom model names)."
        )
    return name


def _to_json(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(key): _to_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_to_json(item) for item in value]
    return value


def parse_time(value: str | datetime | None) -> datetime | None:
    """A datetime from an ISO 8601 string (what ``to_dict`` writes), or None."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value)


class _JsonRecord:
    """``to_dict`` / ``from_dict`` for the frozen dataclasses of this module."""

    # Field name -> how to rebuild the field from its JSON value (enums, datetimes); the rest is plain JSON.
    _decoders: ClassVar[Mapping[str, Callable[[Any], Any]]] = {}

    def to_dict(self) -> dict[str, Any]:
        return {f.name: _to_json(getattr(self, f.name)) for f in fields(self)}  # type: ignore[arg-type]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"{cls.__name__} has no field(s) {unknown}; its fields are {sorted(known)}.")
        values = {
            name: cls._decoders[name](value) if name in cls._decoders and value is not None else value
            for name, value in data.items()
        }
        return cls(**values)


# ------------------------------------------------------------------------------------------------------ jobs


@dataclass(frozen=True, kw_only=True)
class _Job(_JsonRecord):
    """What a training and an evaluation job both have.

    :param name: the job name, unique on the platform; submitting it again attaches to the same job.
    :param recipe: the resolved recipe (base YAML merged with overrides), as a dict.
    :param output_uri: where the job writes its output (an S3 prefix, or a local folder).
    :param local: options only the local platform reads (LoRA rank, dtype, step caps; judge model, batch
        size, ...).
    :param instance_type: SageMaker instance type (ignored locally).
    :param instance_count: SageMaker instance count (ignored locally).
    :param image_uri: the job's image (SageMaker only; Nova has no default image).
    :param max_run: seconds after which the job is stopped, on both platforms.
    :param tags: tags for the job (SageMaker tags; kept in the local job's definition).
    """

    name: str
    recipe: dict[str, Any]
    output_uri: str
    local: dict[str, Any] = field(default_factory=dict)
    instance_type: str | None = None
    instance_count: int = 1
    image_uri: str | None = None
    max_run: int = DEFAULT_MAX_RUN
    tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        validate_job_name(self.name)
        if self.instance_count < 1:
            raise ValueError(f"instance_count must be at least 1, not {self.instance_count}.")
        if self.max_run <= 0:
            raise ValueError(f"max_run must be a positive number of seconds, not {self.max_run}.")


@dataclass(frozen=True, kw_only=True)
class TrainingJob(_Job):
    """A DPO training job: a resolved Nova recipe and its data (the other fields are :class:`_Job`'s).

    :param train_uri: the training data (``s3://`` or ``file://``).
    :param validation_uri: the validation data, if any.
    :param base_model: the model trained from: ``run.model_name_or_path`` on SageMaker, a local model name
        or folder locally.
    """

    train_uri: str
    base_model: str
    validation_uri: str | None = None


@dataclass(frozen=True, kw_only=True)
class EvaluationJob(_Job):
    """A Nova evaluation job over one data file (the other fields are :class:`_Job`'s).

    :param task: ``"gen_qa"`` (generate and score against references) or ``"llm_judge"`` (compare pairs).
    :param data_uri: ``gen_qa.jsonl`` or ``llm_judge.jsonl``.
    :param model_uri: the model evaluated: an escrow checkpoint URI or a base model
        (``run.model_name_or_path``).
    """

    task: EvaluationTask
    data_uri: str
    model_uri: str

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.task not in EVALUATION_TASKS:
            raise ValueError(
                f"Unknown evaluation task {self.task!r}; use one of {', '.join(EVALUATION_TASKS)}."
            )


@dataclass(frozen=True)
class JobRef(_JsonRecord):
    """What ``submit`` returns: enough to find the job again from any process.

    :param platform: the platform's name (``"sagemaker"``, ``"local"``).
    :param name: the job name.
    :param handle: where the platform keeps the job (an ARN, a job folder); opaque to callers.
    """

    platform: str
    name: str
    handle: str

    def check_platform(self, expected: str) -> str:
        """The job's name, once it is sure the job belongs to the platform called ``expected``.

        :raises ValueError: it belongs to another platform.
        """
        if expected != self.platform:
            raise ValueError(
                f"Job {self.name!r} belongs to the {self.platform!r} platform, not to {expected!r}."
            )
        return self.name


class JobStatus(StrEnum):
    """A job's status, with SageMaker's values (``TrainingJobStatus``)."""

    IN_PROGRESS = "InProgress"
    COMPLETED = "Completed"
    FAILED = "Failed"
    STOPPING = "Stopping"
    STOPPED = "Stopped"

    @property
    def is_terminal(self) -> bool:
        return self in (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.STOPPED)


@dataclass(frozen=True)
class JobState(_JsonRecord):
    """What ``describe`` returns.

    :param status: the job's status.
    :param failure_reason: why the job failed or was stopped early, for people; None otherwise.
    :param progress: what the job last reported (step, loss, ...); platform-specific keys.
    :param billable_seconds: run time so far, or in total once the job ended.
    :param started: when the job started running (UTC).
    :param ended: when the job ended (UTC).
    """

    status: JobStatus
    failure_reason: str | None = None
    progress: dict[str, Any] = field(default_factory=dict)
    billable_seconds: int | None = None
    started: datetime | None = None
    ended: datetime | None = None

    _decoders: ClassVar[Mapping[str, Callable[[Any], Any]]] = {
        "status": JobStatus,
        "started": parse_time,
        "ended": parse_time,
    }

    @property
    def is_terminal(self) -> bool:
        return self.status.is_terminal


@dataclass(frozen=True, kw_only=True)
class JobOutputs(_JsonRecord):
    """Where a completed job's results are. URIs are ``s3://`` or ``file://``; a field is None when the job
    kind does not produce it.

    :param output_uri: the job's whole output.
    :param checkpoint_uri: training: the checkpoint to evaluate and import (the manifest's
        ``checkpoint_s3_bucket``; an escrow bucket on SageMaker).
    :param metrics_uri: training: ``step_wise_training_metrics.csv``.
    :param validation_metrics_uri: training: ``validation_metrics.csv``, when validation data was given.
    :param manifest: training: the ``manifest.json`` of the output.
    :param results_uri: evaluation: the ``results_<timestamp>.json`` file.
    :param inference_output_uri: evaluation (gen_qa): ``inference_output.jsonl``.
    :param result: the small summary the job returned (local jobs), else empty.
    """

    output_uri: str
    checkpoint_uri: str | None = None
    metrics_uri: str | None = None
    validation_metrics_uri: str | None = None
    manifest: dict[str, Any] | None = None
    results_uri: str | None = None
    inference_output_uri: str | None = None
    result: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Platform(Protocol):
    """Runs training and evaluation jobs. Every method may be called from any process."""

    name: str

    def check(self, job: TrainingJob | EvaluationJob) -> None:
        """Check ``job`` as :meth:`submit` will, starting nothing, so a bad job fails before anything is paid for.

        :raises ValueError: for a job this platform cannot run (a recipe value out of range, data it cannot
            read, an unknown option, ...).
        """
        ...

    def submit(self, job: TrainingJob | EvaluationJob) -> JobRef:
        """Start ``job``, or attach to the job of that name if it exists (a retry never starts a duplicate).

        :raises JobConflictError: the name exists with a different definition.
        """
        ...

    def ref(self, name: str) -> JobRef:
        """The reference of the job called ``name``, whether or not it exists (``describe`` then raises
        JobNotFoundError): what teardown looks for a run's jobs by."""
        ...

    def describe(self, ref: JobRef) -> JobState:
        """The job's current state. A job whose process died is Failed, never InProgress forever."""
        ...

    def stop(self, ref: JobRef) -> None:
        """Stop the job if it still runs; a no-op for a job that already ended."""
        ...

    def outputs(self, ref: JobRef, local_dir: str | os.PathLike[str] | None = None) -> JobOutputs:
        """Where a Completed job's results are.

        :param local_dir: a folder on this machine to place the job's output files in (SageMaker: extract
            its ``output.tar.gz``; local: copy its output folder); the URIs then name those files
            (``file://``). They are only as durable and as shared as that folder: to hand them to a task that
            may run on another machine, publish them (:func:`nova_dpo.platforms.publish.publish_outputs`).
            Default: the platform's own place (see each platform).
        :raises ValueError: the job did not complete.
        """
        ...


# ---------------------------------------------------------------------------------------------- model store


class ModelStatus(StrEnum):
    """A model's or a deployment's status, with Bedrock's values (the same three for both)."""

    CREATING = "Creating"
    ACTIVE = "Active"
    FAILED = "Failed"


@dataclass(frozen=True, kw_only=True)
class ModelRecord(_JsonRecord):
    """A model in the model store.

    :param name: the name it was imported under; unique in the store.
    :param model_id: the store's id for it (a Bedrock model ARN, a local id).
    :param status: Creating while an import runs, then Active or Failed.
    :param created: when it was imported (UTC).
    :param family: the line of models it belongs to (e.g. ``nova-micro-when2call``); aliases are per family.
    :param artifact_uri: where the store keeps the model's files.
    :param source_uri: where the files were imported from (a job's checkpoint).
    :param base_model: the model it was trained from.
    :param lineage: how it was made: ``dataset_version``, ``dataset_sha``, ``recipe_sha``, ``job_name``, ...
    :param metrics: its evaluation metrics, for the next run's gate.
    :param failure_reason: why the import failed, if it did.
    """

    name: str
    model_id: str
    status: ModelStatus
    created: datetime
    family: str
    artifact_uri: str
    source_uri: str
    base_model: str
    lineage: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    failure_reason: str | None = None

    _decoders: ClassVar[Mapping[str, Callable[[Any], Any]]] = {"status": ModelStatus, "created": parse_time}


@dataclass(frozen=True, kw_only=True)
class Deployment(_JsonRecord):
    """A model made ready to serve (a Bedrock custom model deployment, or a local one).

    :param name: the deployment's name; unique in the store.
    :param deployment_id: what ``invoke`` is called with on the platform (a deployment ARN locally: the name).
    :param model_id: the deployed model.
    :param status: Creating, Active or Failed.
    :param created: when it was created (UTC).
    :param failure_reason: why it failed, if it did.
    :param serving: how Bedrock serves it (``on_demand`` or ``provisioned``); None locally.
    """

    name: str
    deployment_id: str
    model_id: str
    status: ModelStatus
    created: datetime
    failure_reason: str | None = None
    serving: str | None = None

    _decoders: ClassVar[Mapping[str, Callable[[Any], Any]]] = {"status": ModelStatus, "created": parse_time}


@runtime_checkable
class ModelStore(Protocol):
    """Imported models, per-family aliases, deployments, and chat with a deployed model."""

    #: Whether a model's record keeps the metrics ``import_model`` is given (the local store), or drops them.
    keeps_metrics: ClassVar[bool]

    def import_model(
        self,
        name: str,
        artifact_uri: str,
        family: str,
        base_model: str,
        lineage: Mapping[str, Any] | None = None,
        metrics: Mapping[str, Any] | None = None,
    ) -> ModelRecord:
        """Import the model at ``artifact_uri`` as ``name``; importing an existing name returns its record."""
        ...

    def get_model(self, name_or_id: str) -> ModelRecord:
        """The model of that name or id.

        :raises ModelNotFoundError: there is none.
        """
        ...

    def list_models(self, family: str | None = None) -> list[ModelRecord]:
        """The models (of one family), newest first."""
        ...

    def delete_model(self, name_or_id: str) -> None:
        """Delete a model. Refused (ValueError) while an alias points at it or it is deployed."""
        ...

    def set_alias(self, family: str, alias: str, model_id: str) -> None:
        """Point ``alias`` (e.g. ``champion``) of ``family`` at a model of that family."""
        ...

    def get_alias(self, family: str, alias: str = CHAMPION) -> str | None:
        """The model id ``alias`` of ``family`` points at, or None."""
        ...

    def deploy(
        self, name_or_id: str, deployment_name: str | None = None, *, description: str | None = None
    ) -> Deployment:
        """Deploy a model; deploying again under the same name returns the existing deployment. A deployment
        that is still Creating is the caller's to wait for."""
        ...

    def delete_deployment(self, name: str) -> bool:
        """Delete a deployment; False (and nothing done) when there is none: teardown calls it unconditionally."""
        ...

    def prune(self, family: str, keep: int) -> list[ModelRecord]:
        """Delete the family's models beyond the newest ``keep``; never its champion, a deployed model or one
        still being imported. The records deleted."""
        ...

    def invoke(
        self,
        target: str,
        messages: list[dict[str, Any]],
        *,
        system: list[dict[str, Any]] | None = None,
        inference_config: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Chat with a deployment: Bedrock Converse's request and response shapes."""
        ...
