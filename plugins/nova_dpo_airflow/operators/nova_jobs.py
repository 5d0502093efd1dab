"""
Operators that run a Nova DPO training job or a Nova evaluation job, on either platform.

The same operator runs a job as a SageMaker training job (``platform="sagemaker"``: a Nova recipe, with the
SageMaker Python SDK's argument names) or as a detached job on the worker's machine (``platform="local"``:
real DPO of a small open model). Either way it resolves and validates the recipe first, so a bad override
fails before anything is paid for; submits the job under a name derived from the DAG run and the task, so a
retried task attaches to the job it started instead of starting a second one; then waits for the job, in the
triggerer when deferrable; and returns where the job's outputs are.

What an operator returns goes to the next tasks through XCom, and those may run on another worker. So the
files of a job's output that later tasks read are placed in ``results_dir``, which the pipeline puts under the
run's folder in the storage root (see :meth:`NovaJobBaseOperator.job_outputs`): on SageMaker an ``s3://``
prefix the files are published to, never a path on the worker that happened to wait for the job.

The operators hold their AWS connection arguments themselves instead of subclassing the Amazon provider's
``AwsBaseOperator``, so that a DAG file importing this module does not import boto3: the hooks, the
SageMaker trigger and the platforms are imported only when a task runs.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.providers.common.compat.sdk import (
    AirflowException,
    AirflowFailException,
    AirflowNotFoundException,
    conf,
)
from airflow.sdk import BaseOperator

from nova_dpo.platforms.base import (
    DEFAULT_MAX_RUN,
    EVALUATION_TASKS,
    EvaluationJob,
    JobOutputs,
    JobRef,
    JobState,
    JobStatus,
    Platform,
    TrainingJob,
)
from nova_dpo.platforms.factory import LOCAL, PLATFORMS, SAGEMAKER, build_platform, platform_traits
from nova_dpo.platforms.local.model import DEFAULT_BASE_MODEL
from nova_dpo.platforms.naming import AttemptsExhaustedError
from nova_dpo.platforms.naming import job_name as derive_job_name
from nova_dpo.recipes import ResolvedRecipe, resolve_recipe
from nova_dpo_airflow.triggers.local_job import LocalJobTrigger, describe_progress

if TYPE_CHECKING:
    from airflow.providers.amazon.aws.hooks.sagemaker import SageMakerHook
    from airflow.providers.amazon.aws.triggers.sagemaker import SageMakerTrigger
    from airflow.sdk import Context

    from nova_dpo.pipeline.plan import RunPlan
    from nova_dpo_airflow.hooks.judge_endpoint import JudgeEndpoint

#: The environment variable that names the platform when the operator is given none.
PLATFORM_ENV = "NOVA_DPO_PLATFORM"
#: The XCom key under which the operators record the name of the job they submitted.
JOB_NAME_XCOM_KEY = "job_name"

# How long a job may take beyond its max_run before the wait gives up: instances to start, the image to
# download and the output to upload are not part of SageMaker's MaxRuntimeInSeconds.
_START_AND_UPLOAD_ALLOWANCE_S = 2 * 3600


class NovaJobBaseOperator(BaseOperator):
    """
    Run one Nova job (training or evaluation) on the ``sagemaker`` or ``local`` platform and wait for it.

    Subclasses say what job to run; this class submits it, waits (in the worker, or deferred to a trigger),
    and returns a small JSON-serializable summary.

    :param plan: The run plan that ``resolve_run`` returned (its dict, as XCom holds it). The operator then
        takes from the plan its platform, its recipe (resolved there: it is not resolved again), role, folders,
        limits and options, and is given only what earlier tasks produced (data and model URIs; for a mapped
        task, its job name and results folder). Mutually exclusive with the arguments the plan decides.
        (templated)
    :param training_recipe: The Nova recipe: a shipped recipe name, a v1 alias, or a YAML path; required
        without ``plan``. (templated)
    :param recipe_overrides: Overrides of recipe keys, as a nested mapping or ``KEY=VALUE`` strings; they
        are validated against the documented ranges before any job is submitted. (templated)
    :param platform: ``"sagemaker"`` or ``"local"``. (default: the env ``NOVA_DPO_PLATFORM``, else
        ``"local"``) (templated)
    :param job_name: The job's name, at most 63 letters, digits and hyphens. (default: derived from the DAG
        id, the run id and the task id (and map index), so a retried task attaches to its job) (templated)
    :param instance_type: SageMaker instance type. (default: the recipe's first) (templated)
    :param instance_count: SageMaker instance count. (default: the recipe's ``run.replicas``) (templated)
    :param image_uri: The job's image. (default: the Nova image of the region) (templated)
    :param role: ARN of the IAM role SageMaker jobs run as; required on SageMaker. (templated)
    :param output_path: ``s3://`` prefix for the job's output; required on SageMaker. Local jobs write to
        their job folder. (templated)
    :param max_run: Seconds after which the job is stopped, on both platforms. (default: 86400) (templated)
    :param base_model: The model trained from, or evaluated when ``model_uri`` is not set. SageMaker: a Nova
        model (default: the recipe's ``run.model_name_or_path``); local: a local model name or folder
        (default: ``smollm2-135m-instruct``). (templated)
    :param local_options: Options only the local platform reads (LoRA rank, dtype, step caps, batch size,
        ...). (templated)
    :param local_root: The local platform's folder. (default: env ``NOVA_DPO_HOME``, else ``~/.nova-dpo``)
        (templated)
    :param results_dir: Where the files of the job's output that later tasks read are placed (training:
        the metrics CSVs; evaluation: the results file and ``inference_output.jsonl``): a folder (a path or
        ``file://`` URI), or on SageMaker an object-store URI such as ``s3://bucket/prefix/runs/<run>/judge``,
        which the files are published to with ``aws_conn_id``'s credentials. The returned ``outputs`` name
        the files there. See :meth:`job_outputs`. (default: none: SageMaker outputs are extracted to a
        folder under the worker's temporary folder, local outputs are read in the job's folder) (templated)
    :param relaxed_recipe: Accept recipe values that only the wider of two disagreeing AWS sources allows.
        (default: False) (templated)
    :param tags: Tags for the job. (templated)
    :param wait_for_completion: Whether to wait for the job to end. (default: True)
    :param poll_interval: Seconds between two looks at the job. (default: 60)
    :param max_polls: Looks at the job before the wait gives up (the job keeps running, and a retry attaches
        to it). (default: enough to cover ``max_run`` plus two hours to start and upload)
    :param deferrable: If True, wait in the triggerer instead of the worker; implies waiting for completion.
        (default: the ``[operators] default_deferrable`` setting, else False)
    :param aws_conn_id: The Airflow connection used for AWS credentials (SageMaker only).
        If this is ``None`` or empty then the default boto3 behaviour is used.
    :param region_name: AWS region_name. (default: the connection's region)
    :param verify: Whether or not to verify SSL certificates. See:
        https://boto3.amazonaws.com/v1/documentation/api/latest/reference/core/session.html
    :param botocore_config: Configuration dictionary (key-values) for botocore client. See:
        https://botocore.amazonaws.com/v1/documentation/api/latest/reference/config.html
    """

    template_fields: Sequence[str] = (
        "plan",
        "training_recipe",
        "recipe_overrides",
        "platform",
        "job_name",
        "instance_type",
        "instance_count",
        "image_uri",
        "role",
        "output_path",
        "max_run",
        "base_model",
        "local_options",
        "local_root",
        "results_dir",
        "relaxed_recipe",
        "tags",
        # The AWS arguments the Amazon provider's operators template (its aws_template_fields).
        "aws_conn_id",
        "region_name",
        "verify",
    )
    template_fields_renderers: ClassVar[dict[str, str]] = {
        "plan": "json",
        "recipe_overrides": "json",
        "local_options": "json",
    }
    ui_color = "#f0e4ec"

    #: What the job does, for messages: "training" or "evaluation".
    job_kind: ClassVar[str]

    #: Arguments a run plan gives only where the task was not given them (a mapped task's own, say).
    plan_defaults: ClassVar[tuple[str, ...]] = ("job_name", "results_dir")

    def __init__(
        self,
        *,
        plan: dict[str, Any] | None = None,
        training_recipe: str | None = None,
        recipe_overrides: dict[str, Any] | list[str] | None = None,
        platform: str | None = None,
        job_name: str | None = None,
        instance_type: str | None = None,
        instance_count: int | None = None,
        image_uri: str | None = None,
        role: str | None = None,
        output_path: str | None = None,
        max_run: int | None = None,
        base_model: str | None = None,
        local_options: dict[str, Any] | None = None,
        local_root: str | None = None,
        results_dir: str | None = None,
        relaxed_recipe: bool = False,
        tags: dict[str, str] | None = None,
        wait_for_completion: bool = True,
        poll_interval: int = 60,
        max_polls: int | None = None,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        aws_conn_id: str | None = "aws_default",
        region_name: str | None = None,
        verify: bool | str | None = None,
        botocore_config: dict[str, Any] | None = None,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.plan = plan
        self.training_recipe = training_recipe
        self.recipe_overrides = recipe_overrides
        self.platform = platform
        self.job_name = job_name
        self.instance_type = instance_type
        self.instance_count = instance_count
        self.image_uri = image_uri
        self.role = role
        self.output_path = output_path
        self.max_run = max_run
        self.base_model = base_model
        self.local_options = local_options
        self.local_root = local_root
        self.results_dir = results_dir
        self.relaxed_recipe = relaxed_recipe
        self.tags = tags
        self.wait_for_completion = wait_for_completion
        self.poll_interval = poll_interval
        self.max_polls = max_polls
        self.deferrable = deferrable
        self.aws_conn_id = aws_conn_id
        self.region_name = region_name
        self.verify = verify
        self.botocore_config = botocore_config
        self._platform: Platform | None = None
        self._job_ref: JobRef | None = None
        self._planned_recipe: ResolvedRecipe | None = None

    @cached_property
    def hook(self) -> SageMakerHook:
        """The SageMaker hook of ``aws_conn_id``, made when a task first needs it."""
        from airflow.providers.amazon.aws.hooks.sagemaker import SageMakerHook

        return SageMakerHook(**self._hook_parameters)

    @property
    def _hook_parameters(self) -> dict[str, Any]:
        """The arguments of every AWS hook the operator makes: one connection, region and client config."""
        return {
            "aws_conn_id": self.aws_conn_id,
            "region_name": self.region_name,
            "verify": self.verify,
            "config": self.botocore_config,
        }

    # ------------------------------------------------------------------------------------- to override

    def build_job(self, name: str, platform_name: str, recipe: ResolvedRecipe) -> TrainingJob | EvaluationJob:
        """The job to run, from the rendered arguments and the resolved recipe."""
        raise NotImplementedError

    def job_outputs(self, platform: Platform, ref: JobRef) -> JobOutputs:
        """Where the completed job's outputs are, for the tasks that follow (which may run on another worker).

        One path for both platforms, chosen by where ``results_dir`` is, not by the platform:

        * an object store (``s3://...``; the pipeline's choice on SageMaker, whose storage root is in S3): the
          platform places the job's files in a scratch folder on this worker (SageMaker: extracts its
          ``output.tar.gz``), the files later tasks read are published to ``results_dir``
          (:func:`~nova_dpo.platforms.publish.publish_outputs`, written through ``ObjectStoragePath`` with
          ``aws_conn_id``), and the scratch folder is deleted before the task ends: the returned URIs name the
          published copies, and no path on this worker reaches XCom.
        * a folder: the platform places the files there itself (local: copies the job's output; SageMaker:
          extracts it), and the URIs are ``file://``. Right for the local platform, whose jobs, storage root
          and ``results_dir`` all live in ``NOVA_DPO_HOME``, a folder every worker and the triggerer share
          (a volume in docker-compose.yaml); on SageMaker only as good as that folder is shared.
        * none: the platform's own place. Local: the job's folder under its root (shared, as above);
          SageMaker: a folder under this worker's temporary folder, which other workers cannot read (logged
          as a warning).
        """
        import tempfile

        from nova_dpo.platforms.publish import PUBLISHED_FIELDS, publish_outputs

        destination = self._results_destination(platform.name)
        if destination is None:
            outputs = platform.outputs(ref)
        elif _is_object_store(destination):
            with tempfile.TemporaryDirectory(prefix="nova-dpo-outputs-") as scratch:
                extracted = platform.outputs(ref, scratch)
                outputs = publish_outputs(extracted, scratch, destination, self._storage_path)
            self.log.info(
                "Published the outputs of Nova %s job %s to %s.", self.job_kind, ref.name, destination
            )
            return outputs
        else:
            outputs = platform.outputs(ref, destination)
        if platform_traits(platform.name).object_storage and any(
            str(getattr(outputs, key) or "").startswith("file://") for key in PUBLISHED_FIELDS
        ):
            self.log.warning(
                "The outputs of Nova %s job %s were extracted to %s on this worker; a task on another worker "
                "cannot read them. Pass an s3:// results_dir to publish them.",
                self.job_kind,
                ref.name,
                destination or "a temporary folder",
            )
        return outputs

    def summarize_outputs(self, outputs: JobOutputs) -> dict[str, Any]:
        """What the returned summary adds to the outputs."""
        return {}

    def plan_arguments(self, plan: RunPlan) -> dict[str, Any]:
        """The arguments ``plan`` decides for this task (subclasses add theirs)."""
        return {
            "platform": plan.platform,
            "role": plan.training.role_arn,
            "output_path": plan.storage.under_run("jobs"),
            "local_root": plan.storage.root,
        }

    def plan_recipe(self, plan: RunPlan) -> ResolvedRecipe:
        """The resolved recipe ``plan`` holds for this task."""
        raise NotImplementedError

    # -------------------------------------------------------------------------------------------- execute

    def execute(self, context: Context) -> dict[str, Any]:
        self._apply_plan()
        platform_name = self._platform_name()
        recipe = self._resolve_recipe()
        platform = self._get_platform(platform_name)
        job = self._checked_job(platform, self._job_name(context), platform_name, recipe)
        try:
            ref = platform.submit(job)
        except (ValueError, AttemptsExhaustedError) as error:
            # A job of that name with another definition, or every attempt spent: a retry cannot help.
            raise AirflowFailException(
                f"Cannot submit Nova {self.job_kind} job {job.name}: {error}"
            ) from error
        self._job_ref = ref
        context["ti"].xcom_push(key=JOB_NAME_XCOM_KEY, value=ref.name)
        self.log.info(
            "Nova %s job %s runs on the %s platform (%s).", self.job_kind, ref.name, platform_name, ref.handle
        )

        state = platform.describe(ref)
        if state.is_terminal:
            return self._finish(platform, ref, state, recipe.sha256)
        if not self.wait_for_completion:
            return self._summary(platform, ref, state, recipe.sha256, outputs=None)
        if self.deferrable:
            self.log.info(
                "Deferring until Nova %s job %s ends: %s",
                self.job_kind,
                ref.name,
                describe_progress(state.progress),
            )
            self.defer(
                trigger=self._trigger(platform, ref),
                method_name="execute_complete",
                kwargs={"job": ref.to_dict(), "recipe_sha256": recipe.sha256},
            )
        else:
            return self._finish(platform, ref, self._poll(platform, ref), recipe.sha256)

    def execute_complete(
        self,
        context: Context,
        event: dict[str, Any] | None = None,
        job: dict[str, Any] | None = None,
        recipe_sha256: str | None = None,
    ) -> dict[str, Any]:
        from airflow.providers.amazon.aws.utils import validate_execute_complete_event

        validated_event = validate_execute_complete_event(event)
        self._apply_plan()
        platform = self._get_platform(self._platform_name())
        name = validated_event.get("job_name") or (job or {}).get("name")
        if not name:
            raise AirflowException(f"The trigger's event names no job: {validated_event}")
        ref = JobRef(platform=platform.name, name=name, handle=(job or {}).get("handle", name))
        self._job_ref = ref
        # The event says why the wait ended; the platform says how the job is now.
        state = platform.describe(ref)
        if not state.is_terminal:
            raise AirflowException(
                f"Stopped waiting for Nova {self.job_kind} job {name}, which is still {state.status.value} "
                f"({validated_event.get('status')}: {validated_event.get('message')}). A retry of this task "
                "attaches to the running job."
            )
        return self._finish(platform, ref, state, recipe_sha256)

    def on_kill(self) -> None:
        if self._job_ref is None or self._platform is None:
            self.log.info("No Nova %s job was submitted; nothing to stop.", self.job_kind)
            return
        self.log.info("Stopping Nova %s job %s.", self.job_kind, self._job_ref.name)
        self._platform.stop(self._job_ref)

    # ----------------------------------------------------------------------------------------- preparing

    def _apply_plan(self) -> None:
        """Take the arguments and the resolved recipe the run plan decides, if the task has a plan.

        :raises AirflowFailException: when ``plan`` is not a run plan, or arguments the plan decides were
            given too (two sources of one value would disagree sooner or later).
        """
        if self.plan is None or self._planned_recipe is not None:
            return
        from nova_dpo.pipeline.plan import RunPlan

        try:
            plan = RunPlan.from_dict(self.plan)
            arguments = self.plan_arguments(plan)
            self._planned_recipe = self.plan_recipe(plan)
        except ValueError as error:
            raise AirflowFailException(f"Cannot run from this plan: {error}") from error
        decided = [name for name in arguments if name not in self.plan_defaults]
        given = [
            name
            for name in ("training_recipe", "recipe_overrides", *decided)
            if getattr(self, name) not in (None, {}, [], False)
        ]
        if given:
            raise AirflowFailException(
                f"{', '.join(given)} come from the plan; pass either plan or these arguments, not both."
            )
        for name, value in arguments.items():
            if name in decided or getattr(self, name) in (None, ""):
                setattr(self, name, value)

    def _platform_name(self) -> str:
        name = self.platform or os.environ.get(PLATFORM_ENV) or LOCAL
        if name not in PLATFORMS:
            raise AirflowFailException(
                f"platform={name!r} is not a platform; use one of {', '.join(PLATFORMS)}."
            )
        return name

    def _resolve_recipe(self) -> ResolvedRecipe:
        if self._planned_recipe is not None:
            return self._planned_recipe
        if not self.training_recipe:
            raise AirflowFailException("Pass training_recipe (the Nova recipe), or plan (a run plan).")
        try:
            return resolve_recipe(
                self.training_recipe,
                self.recipe_overrides,
                relaxed=self._relaxed(),
                instance_type=self.instance_type or None,
            )
        except (ValueError, TypeError, FileNotFoundError) as error:
            raise AirflowFailException(
                f"The recipe {self.training_recipe!r} with overrides {self.recipe_overrides!r} cannot run: "
                f"{error}"
            ) from error

    def _relaxed(self) -> bool:
        # A template rendered without native objects gives "True"/"False", and bool("False") is True.
        value = self.relaxed_recipe
        if isinstance(value, str) and value.strip().lower() in ("true", "false", ""):
            return value.strip().lower() == "true"
        if not isinstance(value, bool):
            raise AirflowFailException(f"relaxed_recipe must be true or false, not {value!r}.")
        return value

    def _job_name(self, context: Context) -> str:
        if self.job_name:
            return self.job_name
        map_index = getattr(context["ti"], "map_index", -1)
        step = self.task_id if map_index is None or map_index < 0 else f"{self.task_id}-{map_index}"
        return derive_job_name(self.dag_id, context["run_id"], step)

    def _checked_job(
        self, platform: Platform, name: str, platform_name: str, recipe: ResolvedRecipe
    ) -> TrainingJob | EvaluationJob:
        """The job, checked as the platform will check it, so a bad argument fails before any job starts."""
        try:
            self._results_destination(platform_name)
            job = self.build_job(name, platform_name, recipe)
            platform.check(job)
        except (ValueError, TypeError) as error:
            raise AirflowFailException(f"Cannot run Nova {self.job_kind} job {name!r}: {error}") from error
        return job

    def _results_destination(self, platform_name: str) -> str | None:
        """``results_dir`` checked: an object-store URI as it is, a folder as an absolute path, or None.

        :raises ValueError: an object-store URI on the local platform.
        """
        from nova_dpo.platforms.local.platform import local_path

        if not self.results_dir:
            return None
        text = str(self.results_dir)
        if not _is_object_store(text):
            return local_path(text)
        if not platform_traits(platform_name).object_storage:
            raise ValueError(
                f"results_dir must be a folder on the local platform (a path or file:// URI), not {text!r}: "
                "local jobs and the tasks that read their outputs share the platform's folder (NOVA_DPO_HOME)."
            )
        return text.rstrip("/")

    def _storage_path(self, uri: str) -> Any:
        """The path object of an object-store URI, with the operator's AWS connection."""
        from airflow.sdk import ObjectStoragePath

        return ObjectStoragePath(uri, conn_id=self.aws_conn_id or None)

    def _common_job_args(self, name: str, platform_name: str) -> dict[str, Any]:
        return {
            "name": name,
            "output_uri": (self.output_path or "") if platform_traits(platform_name).object_storage else "",
            "local": dict(self.local_options or {}),
            "instance_type": self.instance_type or None,
            "instance_count": int(self.instance_count) if self.instance_count else 1,
            "image_uri": self.image_uri or None,
            "max_run": self._max_run(),
            "tags": {str(key): str(value) for key, value in (self.tags or {}).items()},
        }

    def _default_model(self, platform_name: str, recipe: ResolvedRecipe) -> str:
        if self.base_model:
            return self.base_model
        if platform_traits(platform_name).trains_recipe_model:
            return recipe.config["run"]["model_name_or_path"]
        return DEFAULT_BASE_MODEL

    def _get_platform(self, platform_name: str) -> Platform:
        if self._platform is not None and self._platform.name == platform_name:
            return self._platform
        self._platform = build_platform(
            platform_name,
            root=self.local_root or None,
            # None: the region of the hook's client, which is the connection's.
            region=self.region_name,
            role_arn=self.role,
            output_path=self.output_path,
            relaxed=self._relaxed(),
            credentials=self.job_credentials() or None,
            aws=self._aws_client,
        )
        return self._platform

    def _aws_client(self, service: str) -> Any:
        """The SageMaker client of this task's hook, or an S3 client on the same connection settings."""
        if service == "sagemaker":
            return self.hook.conn
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        return S3Hook(**self._hook_parameters).conn

    def job_credentials(self) -> dict[str, str]:
        """What a local job finds in its environment (see :mod:`nova_dpo.platforms.local.credentials`)."""
        return {}

    # ------------------------------------------------------------------------------------------- waiting

    def _max_run(self) -> int:
        return int(self.max_run) if self.max_run else DEFAULT_MAX_RUN

    def _max_polls(self) -> int:
        if self.max_polls:
            return int(self.max_polls)
        return math.ceil((self._max_run() + _START_AND_UPLOAD_ALLOWANCE_S) / max(1, int(self.poll_interval)))

    def _trigger(self, platform: Platform, ref: JobRef) -> SageMakerTrigger | LocalJobTrigger:
        """The trigger that waits for a job of ``platform`` in the triggerer."""
        triggers = {LOCAL: self._local_trigger, SAGEMAKER: self._sagemaker_trigger}
        return triggers[platform.name](platform, ref)

    def _local_trigger(self, platform: Platform, ref: JobRef) -> LocalJobTrigger:
        # The local platform's folder, which every worker and the triggerer share (NOVA_DPO_HOME).
        return LocalJobTrigger(root=str(platform.root), job_name=ref.name, poll_interval=self.poll_interval)

    def _sagemaker_trigger(self, platform: Platform, ref: JobRef) -> SageMakerTrigger:
        from airflow.providers.amazon.aws.triggers.sagemaker import SageMakerTrigger

        return SageMakerTrigger(
            job_name=ref.name,
            job_type="training",
            waiter_delay=int(self.poll_interval),
            waiter_max_attempts=self._max_polls(),
            aws_conn_id=self.aws_conn_id,
            region_name=self.region_name,
            verify=self.verify,
            botocore_config=self.botocore_config,
        )

    def _poll(self, platform: Platform, ref: JobRef) -> JobState:
        for _ in range(self._max_polls()):
            state = platform.describe(ref)
            if state.is_terminal:
                return state
            self.log.info(
                "Nova %s job %s is %s: %s",
                self.job_kind,
                ref.name,
                state.status.value,
                describe_progress(state.progress),
            )
            time.sleep(self.poll_interval)
        state = platform.describe(ref)
        if state.is_terminal:
            return state
        raise AirflowException(
            f"Nova {self.job_kind} job {ref.name} is still {state.status.value} after {self._max_polls()} looks, "
            f"{self.poll_interval} s apart. It keeps running: a retry of this task attaches to it."
        )

    # --------------------------------------------------------------------------------------------- ending

    def _finish(
        self, platform: Platform, ref: JobRef, state: JobState, recipe_sha256: str | None
    ) -> dict[str, Any]:
        cost = state.progress.get("estimated_cost_usd")
        self.log.info(
            "Nova %s job %s is %s after %s billable seconds%s.",
            self.job_kind,
            ref.name,
            state.status.value,
            state.billable_seconds,
            f" (estimated cost ${cost:.2f}, {state.progress.get('cost_basis')})" if cost is not None else "",
        )
        if state.status is not JobStatus.COMPLETED:
            reason = state.failure_reason or (
                "it was stopped (by this task being killed, by the run's teardown, or by hand)"
                if state.status is JobStatus.STOPPED
                else "no reason given"
            )
            self.log.error("Nova %s job %s is %s: %s", self.job_kind, ref.name, state.status.value, reason)
            raise AirflowException(
                f"Nova {self.job_kind} job {ref.name} on the {platform.name} platform is "
                f"{state.status.value}: {reason}"
            )
        return self._summary(platform, ref, state, recipe_sha256, outputs=self.job_outputs(platform, ref))

    def _summary(
        self,
        platform: Platform,
        ref: JobRef,
        state: JobState,
        recipe_sha256: str | None,
        outputs: JobOutputs | None,
    ) -> dict[str, Any]:
        return {
            "job_name": ref.name,
            "platform": platform.name,
            "status": state.status.value,
            "billable_seconds": state.billable_seconds,
            "estimated_cost_usd": state.progress.get("estimated_cost_usd"),
            "recipe_sha256": recipe_sha256,
            "outputs": outputs.to_dict() if outputs is not None else None,
            **(self.summarize_outputs(outputs) if outputs is not None else {}),
        }


class NovaDpoTrainingOperator(NovaJobBaseOperator):
    """
    Train a model with Direct Preference Optimization from a Nova DPO recipe, on SageMaker or locally.

    On SageMaker the job is the training job the SageMaker Python SDK would start for
    ``PyTorch(training_recipe=..., recipe_overrides=...)``. Locally, a detached process trains a small open
    model (TRL + PEFT) with the same recipe values. A retried task attaches to the job it started; a job that
    failed or was stopped is run again under the next attempt name (``<job_name>-a2``, ...).

    .. seealso::
        :class:`NovaJobBaseOperator` for the arguments shared with :class:`NovaEvaluationOperator`.

    :param train_uri: The training data, Nova DPO JSONL: ``s3://`` on SageMaker, a path or ``file://`` URI
        locally. (templated)
    :param validation_uri: The validation data, if any. (templated)
    :return: ``{"job_name", "platform", "status", "billable_seconds", "estimated_cost_usd", "recipe_sha256",
        "outputs", "checkpoint_uri"}``: ``outputs`` is :meth:`JobOutputs.to_dict` (``checkpoint_uri``,
        ``metrics_uri``, ``manifest``, ``result``, ...); ``checkpoint_uri`` is the model to evaluate and import
        (the escrow URI on SageMaker, a ``file://`` folder locally). Without ``wait_for_completion`` the
        status is InProgress and ``outputs`` None.
    """

    job_kind = "training"
    template_fields: Sequence[str] = (*NovaJobBaseOperator.template_fields, "train_uri", "validation_uri")

    def __init__(self, *, train_uri: str, validation_uri: str | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.train_uri = train_uri
        self.validation_uri = validation_uri

    def plan_arguments(self, plan: RunPlan) -> dict[str, Any]:
        training = plan.training
        return {
            **super().plan_arguments(plan),
            "relaxed_recipe": training.relaxed,
            "instance_type": training.instance_type,
            "instance_count": training.instance_count,
            "max_run": training.max_run,
            "base_model": training.base_model,
            "local_options": training.local_options,
            "job_name": training.job_name,
            # sagemaker: the training metrics are published under the run (the report may run elsewhere).
            "results_dir": plan.storage.job_results["train"],
        }

    def plan_recipe(self, plan: RunPlan) -> ResolvedRecipe:
        return plan.training.recipe

    def build_job(self, name: str, platform_name: str, recipe: ResolvedRecipe) -> TrainingJob:
        if not self.train_uri:
            raise ValueError("train_uri is required: the Nova DPO training data.")
        return TrainingJob(
            **self._common_job_args(name, platform_name),
            recipe=recipe.config,
            train_uri=self.train_uri,
            validation_uri=self.validation_uri or None,
            base_model=self._default_model(platform_name, recipe),
        )

    def summarize_outputs(self, outputs: JobOutputs) -> dict[str, Any]:
        return {"checkpoint_uri": outputs.checkpoint_uri}


class NovaEvaluationOperator(NovaJobBaseOperator):
    """
    Evaluate a model with a Nova evaluation recipe (``gen_qa`` or ``llm_judge``), on SageMaker or locally.

    On SageMaker the job is a Nova evaluation training job; locally, a detached process generates with the
    model (or judges the pairs) and scores with the same metric code. The results have Nova's shape on both
    platforms and are placed in ``results_dir`` for the tasks that follow (published there when it is an
    ``s3://`` URI: see :meth:`~NovaJobBaseOperator.job_outputs`).

    .. seealso::
        :class:`NovaJobBaseOperator` for the arguments shared with :class:`NovaDpoTrainingOperator`.

    :param data_uri: ``gen_qa.jsonl`` or ``llm_judge.jsonl``: ``s3://`` on SageMaker, a path or ``file://``
        URI locally. (templated)
    :param task: ``"gen_qa"`` or ``"llm_judge"``. (default: the recipe's ``evaluation.task``) (templated)
    :param model_uri: The model to evaluate: a training job's ``checkpoint_uri``, or a model name.
        (default: ``base_model``, else the recipe's model on SageMaker and ``smollm2-135m-instruct`` locally)
        (templated)
    :param judge_conn_id: llm_judge on the local platform: the Airflow connection of an OpenAI-compatible
        endpoint to judge with (see :mod:`~nova_dpo_airflow.hooks.judge_endpoint`); its API key reaches the
        job in its environment only. (default: none: the local judge model) (templated)
    :return: ``{"job_name", "platform", "status", "billable_seconds", "estimated_cost_usd", "recipe_sha256",
        "outputs", "task", "results_dir"}``: ``outputs`` is :meth:`JobOutputs.to_dict` with ``results_uri``
        and ``inference_output_uri`` (gen_qa) naming the files in ``results_dir`` (``s3://`` URIs when it is
        an object store, else ``file://``) and the metrics in ``result["metrics"]``; ``results_dir`` in the
        summary is the folder holding the results file (a path, or a URI on an object store).
    """

    job_kind = "evaluation"
    template_fields: Sequence[str] = (
        *NovaJobBaseOperator.template_fields,
        "data_uri",
        "task",
        "model_uri",
        "judge_conn_id",
    )

    def __init__(
        self,
        *,
        data_uri: str,
        task: str | None = None,
        model_uri: str | None = None,
        judge_conn_id: str | None = None,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.data_uri = data_uri
        self.task = task
        self.model_uri = model_uri
        self.judge_conn_id = judge_conn_id

    # A baseline's gen_qa job writes where every run that shares it finds it, not under this run.
    plan_defaults: ClassVar[tuple[str, ...]] = ("job_name", "results_dir", "model_uri", "output_path")

    def plan_arguments(self, plan: RunPlan) -> dict[str, Any]:
        arguments = {**super().plan_arguments(plan), "local_options": plan.evaluation.local_options}
        if self.task == "llm_judge":
            arguments.update(
                job_name=plan.evaluation.judge_job_name,
                model_uri=plan.evaluation.judge,
                results_dir=plan.storage.job_results["judge"],
                judge_conn_id=plan.evaluation.judge_conn_id,
            )
        return arguments

    def plan_recipe(self, plan: RunPlan) -> ResolvedRecipe:
        if self.task not in EVALUATION_TASKS:
            raise ValueError(
                f"task must be one of {', '.join(EVALUATION_TASKS)} with a plan, got {self.task!r}"
            )
        return plan.evaluation.gen_qa if self.task == "gen_qa" else plan.evaluation.llm_judge

    @cached_property
    def judge_endpoint(self) -> JudgeEndpoint | None:
        """The endpoint judge of ``judge_conn_id``, read once per task; None without one."""
        if not self.judge_conn_id:
            return None
        from nova_dpo_airflow.hooks.judge_endpoint import JudgeEndpointHook

        try:
            return JudgeEndpointHook(judge_conn_id=self.judge_conn_id).get_conn()
        except (AirflowNotFoundException, ValueError) as error:
            # A missing or malformed connection is a deployment's setting: a retry cannot help.
            raise AirflowFailException(f"The judge connection cannot be used: {error}") from error

    def job_credentials(self) -> dict[str, str]:
        from nova_dpo.platforms.local.credentials import JUDGE_API_KEY_ENV

        endpoint = self.judge_endpoint
        return {JUDGE_API_KEY_ENV: endpoint.api_key} if endpoint and endpoint.api_key else {}

    def _local_options(self, task: str, platform_name: str) -> dict[str, Any]:
        """The local options, with the judge endpoint of ``judge_conn_id`` (its URL and model, not its key)."""
        options = dict(self.local_options or {})
        if not self.judge_conn_id:
            return options
        if task != "llm_judge" or not platform_traits(platform_name).judges_locally:
            raise ValueError(
                f"judge_conn_id names the judge of a local llm_judge job; this is a {task} job on the "
                f"{platform_name} platform (Nova's llm_judge judges with its own model)."
            )
        if options.get("judge", "local") != "local":
            raise ValueError(
                "Both judge_conn_id and local_options['judge'] name a judge endpoint; keep judge_conn_id."
            )
        endpoint = self.judge_endpoint
        return {**options, "judge": endpoint.url, "judge_model": options.get("judge_model") or endpoint.model}

    def build_job(self, name: str, platform_name: str, recipe: ResolvedRecipe) -> EvaluationJob:
        recipe_task = recipe.spec.task
        if recipe_task not in EVALUATION_TASKS:
            raise ValueError(
                f"{recipe.name} is a {recipe_task} recipe; pass a gen_qa or llm_judge evaluation recipe."
            )
        if self.task and self.task != recipe_task:
            raise ValueError(f"task={self.task!r} but the recipe {recipe.name} evaluates {recipe_task!r}.")
        if not self.data_uri:
            raise ValueError(f"data_uri is required: the {recipe_task}.jsonl file.")
        return EvaluationJob(
            **{
                **self._common_job_args(name, platform_name),
                "local": self._local_options(recipe_task, platform_name),
            },
            recipe=recipe.config,
            task=recipe_task,
            data_uri=self.data_uri,
            model_uri=self.model_uri or self._default_model(platform_name, recipe),
        )

    def summarize_outputs(self, outputs: JobOutputs) -> dict[str, Any]:
        from nova_dpo.platforms.local.platform import local_path

        results_dir = None
        if outputs.results_uri and _is_object_store(outputs.results_uri):
            results_dir = outputs.results_uri.rsplit("/", 1)[0]
        elif outputs.results_uri:
            results_dir = str(Path(local_path(outputs.results_uri)).parent)
        return {"task": outputs.result.get("task"), "results_dir": results_dir}


def _is_object_store(location: str) -> bool:
    """Whether ``location`` is an object-store URI (``s3://...``), not a path or ``file://`` URI."""
    return "://" in location and not location.startswith("file://")
