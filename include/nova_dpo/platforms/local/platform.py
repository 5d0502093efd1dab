"""The local platform: Nova DPO training and evaluation jobs as detached processes on this machine.

:class:`LocalPlatform` is the :class:`~nova_dpo.platforms.base.Platform` over
:class:`~nova_dpo.platforms.local.jobs.LocalJobRunner`: a :class:`TrainingJob` becomes a ``training`` job
(TRL + PEFT on a small open model), an :class:`EvaluationJob` an ``evaluation`` job (local generation and the
Nova metrics). Each job's output stays in its job folder, ``{root}/jobs/{name}/output/``.

``submit`` is idempotent by job name, with SageMaker's rules (see :mod:`nova_dpo.platforms.naming`): a
running or completed job is attached to, and a failed or stopped one is retried under the next attempt name
(``<name>-a2``, ...), so a retried Airflow task re-attaches to a job that survived a worker restart, and runs
again after a job that failed.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nova_dpo.data import storage
from nova_dpo.platforms.base import (
    MANIFEST_FILE,
    EvaluationJob,
    JobNotFoundError,
    JobOutputs,
    JobRef,
    JobState,
    JobStatus,
    TrainingJob,
)
from nova_dpo.platforms.local.jobs import PLATFORM, LocalJobRunner
from nova_dpo.platforms.local.local_config import LocalEvaluationOptions, LocalTrainingOptions
from nova_dpo.platforms.local.model import DEFAULT_BASE_MODEL
from nova_dpo.platforms.local.worker import OUTPUT_DIR, read_json
from nova_dpo.platforms.naming import DEFAULT_MAX_ATTEMPTS, AttemptsExhaustedError, attempt_job_name

log = logging.getLogger(__name__)

TRAINING_KIND = "training"
EVALUATION_KIND = "evaluation"
# The key of a local training job's manifest that names its merged (servable) model.
MERGED_MODEL_KEY = "merged_model_uri"
_RETRIED = (JobStatus.FAILED, JobStatus.STOPPED)


def local_path(location: str | os.PathLike[str]) -> str:
    """An absolute local path from a ``file://`` URI or a path; other URIs (``s3://``) are refused."""
    text = os.fspath(location)
    if text.startswith("file://"):
        return storage.file_uri_path(text)
    if "://" in text:
        raise ValueError(
            f"The local platform reads local files (paths or file:// URIs), not {text!r}: run the pipeline "
            "with platform 'sagemaker' for data on S3, or store the data under the local platform's root."
        )
    return str(Path(text).expanduser().absolute())


def _is_location(model: str) -> bool:
    return model.startswith("file://") or model.startswith(("/", ".", "~")) or Path(model).is_dir()


class LocalPlatform:
    """Runs :class:`TrainingJob` and :class:`EvaluationJob` as detached local jobs under ``root``.

    :param root: the local platform's folder; jobs live in ``{root}/jobs/``.
    :param max_attempts: how many attempts (failed or stopped, then retried) a job name may have.
    :param runner: the job runner to use (default ``LocalJobRunner(root)``).
    :param credentials: what the jobs it starts find in their environment (see
        :mod:`nova_dpo.platforms.local.credentials`); for the default runner only.
    """

    name = PLATFORM

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        runner: LocalJobRunner | None = None,
        credentials: Mapping[str, str] | None = None,
    ) -> None:
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {max_attempts}")
        if runner is not None and credentials:
            raise ValueError("Give credentials to the runner you pass, not beside it.")
        self.runner = runner if runner is not None else LocalJobRunner(root, credentials=credentials)
        self.root = self.runner.root
        self.max_attempts = max_attempts

    # --------------------------------------------------------------------------------------------- jobs

    def check(self, job: TrainingJob | EvaluationJob) -> None:
        """Build ``job``'s definition (which checks its local options and data) and start nothing."""
        self.job_definition(job)

    def job_definition(self, job: TrainingJob | EvaluationJob) -> tuple[str, dict[str, Any]]:
        """The runner's job kind and spec for ``job`` (the input of the job function the kind names).

        The local options are checked here, so a wrong one fails before a job starts.

        :raises ValueError: for data that is not local, or an unknown or out-of-range local option.
        :raises TypeError: for a job of another type.
        """
        if isinstance(job, TrainingJob):
            LocalTrainingOptions.from_dict(job.local)
            return TRAINING_KIND, {
                "recipe": dict(job.recipe),
                "local": dict(job.local),
                "train_path": local_path(job.train_uri),
                "validation_path": local_path(job.validation_uri) if job.validation_uri else None,
                "base_model": job.base_model or DEFAULT_BASE_MODEL,
            }
        if isinstance(job, EvaluationJob):
            LocalEvaluationOptions.from_dict(job.local)
            return EVALUATION_KIND, {
                "task": job.task,
                "recipe": dict(job.recipe),
                "model": self.evaluated_model(job.model_uri),
                "data_path": local_path(job.data_uri),
                "local": dict(job.local),
            }
        raise TypeError(f"The local platform runs TrainingJob and EvaluationJob, not {type(job).__name__}.")

    @staticmethod
    def evaluated_model(model_uri: str) -> str:
        """What an evaluation job loads for ``model_uri``: a model name as it is, a folder as a local path.

        A local training job's ``checkpoint/`` holds only a LoRA adapter; its merged model (named by the job's
        manifest, next to the checkpoint) is loaded instead, which generates the same text.
        """
        if not model_uri:
            return DEFAULT_BASE_MODEL
        if not _is_location(model_uri):
            return model_uri
        path = Path(local_path(model_uri))
        if not (path / "config.json").is_file():
            merged = (read_json(path.parent / MANIFEST_FILE) or {}).get(MERGED_MODEL_KEY)
            if merged and Path(local_path(merged)).is_dir():
                return local_path(merged)
        return str(path)

    # ------------------------------------------------------------------------------------------- submit

    def submit(self, job: TrainingJob | EvaluationJob) -> JobRef:
        """Start ``job``, or attach to the job of that name (see the module docstring).

        :raises JobConflictError: the job to attach to was submitted with another definition.
        :raises AttemptsExhaustedError: ``max_attempts`` attempts failed or were stopped.
        """
        kind, spec = self.job_definition(job)
        for attempt in range(1, self.max_attempts + 1):
            name = attempt_job_name(job.name, attempt)
            try:
                status = self.runner.describe(self.runner.ref(name)).status
            except JobNotFoundError:
                status = None
            if status in _RETRIED:
                log.info("Local job %s is %s; looking at the next attempt", name, status.value)
                continue
            if status is not None:
                log.info("Attaching to local job %s (%s)", name, status.value)
            ref = self.runner.submit(name, kind, spec, max_run=job.max_run)
            if status is None:
                log.info("Started local %s job %s in %s", kind, name, ref.handle)
            return ref
        raise AttemptsExhaustedError(
            f"All {self.max_attempts} attempts of local job {job.name!r} (the last one "
            f"{attempt_job_name(job.name, self.max_attempts)!r}) failed or were stopped. Read their logs under "
            f"{self.runner.jobs_dir}, fix the cause, and run under a new job name."
        )

    # ----------------------------------------------------------------------------------- describe, stop

    def ref(self, name: str) -> JobRef:
        """The reference of the local job called ``name``."""
        return self.runner.ref(name)

    def describe(self, ref: JobRef) -> JobState:
        """The job's state; a job whose process died is Failed, with the end of its log as the reason.

        :raises JobNotFoundError: there is no job of that name.
        """
        return self.runner.describe(ref)

    def stop(self, ref: JobRef) -> None:
        """Stop the job (SIGTERM, then SIGKILL); a no-op for a job that already ended.

        :raises JobNotFoundError: there is no job of that name.
        """
        self.runner.stop(ref)

    # ------------------------------------------------------------------------------------------ outputs

    def outputs(self, ref: JobRef, local_dir: str | os.PathLike[str] | None = None) -> JobOutputs:
        """Where a completed job's results are, as ``file://`` URIs.

        :param local_dir: a folder to copy the job's output into, as the SageMaker platform extracts a job's
            output there; the URIs of the copied files (and the result's ``*_path`` entries) then name the
            copies. Model folders are not copied: ``checkpoint_uri`` names the job's own checkpoint, as on
            SageMaker it names the escrow bucket. Default: no copy, the URIs name the job's output folder.
        :raises ValueError: the job did not complete.
        """
        outputs = self.runner.outputs(ref)
        if local_dir is None:
            return outputs
        source = (self.runner.job_dir(ref.name) / OUTPUT_DIR).resolve()
        target = Path(local_dir).expanduser().absolute()
        models = [Path(local_path(uri)) for uri in (outputs.manifest or {}).values() if _is_file_uri(uri)]
        copied = _copy_tree(source, target, skip=models)

        def relocated(value: Any) -> Any:
            if not isinstance(value, str):
                return value
            path = Path(local_path(value)) if _is_file_uri(value) else Path(value)
            if not path.is_absolute() or not path.is_relative_to(source):
                return value
            copy = target / path.relative_to(source)
            if copy not in copied:
                return value
            return copy.as_uri() if _is_file_uri(value) else str(copy)

        values = outputs.to_dict()
        for key in ("metrics_uri", "validation_metrics_uri", "results_uri", "inference_output_uri"):
            values[key] = relocated(values[key])
        values["result"] = {key: relocated(value) for key, value in outputs.result.items()}
        return JobOutputs.from_dict(values)


def _is_file_uri(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("file://")


def _copy_tree(source: Path, target: Path, skip: list[Path]) -> set[Path]:
    """Copy the files under ``source`` to ``target``, except those under a folder of ``skip``; the copies."""
    skipped = [folder.resolve() for folder in skip]
    copied: set[Path] = set()
    for path in sorted(source.rglob("*")):
        if not path.is_file() or any(path.resolve().is_relative_to(folder) for folder in skipped):
            continue
        destination = target / path.relative_to(source)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, destination)
        copied.add(destination)
    return copied
