"""
Operators that ship a candidate on the run's platform: import, deploy, smoke test, and teardown.

Each takes the run plan (``resolve_run``'s output) and does its step on ``plan.platform``:

* ``local``: the step function of :mod:`nova_dpo.pipeline.steps` (the model store on the worker);
* ``sagemaker``: the Bedrock calls of the step, through the Bedrock hooks and the functions the Bedrock
  operators use (:mod:`nova_dpo_airflow.operators.bedrock_custom_model`). A step that waits does so in the
  worker or defers to the same trigger, and resumes in its own ``execute_complete``.

Those are imported only when a task runs on ``sagemaker``, so that a DAG file importing this module does not
import boto3 or the Amazon provider's hooks and operators.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException, conf
from airflow.sdk import BaseOperator

if TYPE_CHECKING:
    from airflow.providers.amazon.aws.hooks.base_aws import AwsGenericHook
    from airflow.sdk import Context

    from nova_dpo.pipeline.plan import RunPlan
    from nova_dpo_airflow.operators.bedrock_custom_model import CustomModelDeployment, CustomModelImport

LOCAL = "local"
SAGEMAKER = "sagemaker"
ON_DEMAND = "on_demand"
PROVISIONED = "provisioned"

#: Tags put on an imported Bedrock model, naming what it was trained from.
DATASET_TAG_KEY = "nova-dpo:dataset-sha256"
RECIPE_TAG_KEY = "nova-dpo:recipe-sha256"
TRAINING_JOB_TAG_KEY = "nova-dpo:training-job"


def smoke_deployment_name(plan: RunPlan) -> str:
    """The ephemeral deployment of a run's model, named from the model so a retry finds it again."""
    return plan.ship.deployment_name


def serving_kind(plan: RunPlan) -> str:
    """How Bedrock serves the run's model: LoRA models on demand, full-rank ones on provisioned throughput."""
    return ON_DEMAND if plan.technique == "lora" else PROVISIONED


class _NovaShipOperator(BaseOperator):
    """The plan check, the platform switch and the AWS connection, shared by the steps."""

    template_fields: Sequence[str] = ("plan", "aws_conn_id", "region_name")
    template_fields_renderers: ClassVar[dict[str, str]] = {"plan": "json"}

    def __init__(
        self,
        *,
        plan: dict[str, Any],
        aws_conn_id: str | None = "aws_default",
        region_name: str | None = None,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.plan = plan
        self.aws_conn_id = aws_conn_id
        self.region_name = region_name

    def execute(self, context: Context) -> Any:
        plan = self._checked_plan()
        if plan.platform == LOCAL:
            return self.execute_local(plan, context)
        return self.execute_sagemaker(plan, context)

    def execute_local(self, plan: RunPlan, context: Context) -> Any:
        raise NotImplementedError

    def execute_sagemaker(self, plan: RunPlan, context: Context) -> Any:
        raise NotImplementedError

    def _checked_plan(self) -> RunPlan:
        from nova_dpo.pipeline.plan import RunPlan

        if not isinstance(self.plan, dict):
            raise TypeError(
                f"plan must be the dict that resolve_run returns, got {type(self.plan).__name__}: set "
                "render_template_as_native_obj=True on the DAG so that templated XCom stays a dict."
            )
        plan = RunPlan.from_dict(self.plan)
        if plan.platform not in (LOCAL, SAGEMAKER):
            raise ValueError(f"plan.platform must be {LOCAL!r} or {SAGEMAKER!r}, got {plan.platform!r}.")
        return plan

    def _hook(self, hook_class: type[AwsGenericHook]) -> Any:
        """A hook of ``hook_class`` on this task's AWS connection."""
        return hook_class(aws_conn_id=self.aws_conn_id, region_name=self.region_name)


class _WaitingShipOperator(_NovaShipOperator):
    """A step that waits for a Bedrock resource, in the worker or (deferrable) in the triggerer."""

    def __init__(
        self,
        *,
        waiter_delay: int | None = None,
        waiter_max_attempts: int | None = None,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.waiter_delay = waiter_delay
        self.waiter_max_attempts = waiter_max_attempts
        self.deferrable = deferrable


class NovaImportModelOperator(_WaitingShipOperator):
    """
    Import the trained candidate into the platform's model store.

    ``local``: :func:`nova_dpo.pipeline.steps.import_local` copies the checkpoint into the local model store,
    recording the candidate's metrics from the gate verdict. ``sagemaker``: Bedrock ``CreateCustomModel``
    (:class:`~nova_dpo_airflow.operators.bedrock_custom_model.BedrockImportCustomModelOperator`) from the
    training job's escrow checkpoint, tagged with the dataset and recipe digests and the training job, and
    waits until the model is Active. Both are idempotent by ``plan.ship.model_name``.

    :param plan: The run plan from ``resolve_run``. (templated)
    :param dataset: The uploaded dataset (``upload``'s output). (templated)
    :param training: The training job's result, with ``outputs.checkpoint_uri``. (templated)
    :param verdict: The gate verdict; read from ``{run_uri}/verdict.json`` when not given. Used locally only.
        (templated)
    :param waiter_delay: Seconds between status checks. (default: the Bedrock operator's, as the wait says)
    :param waiter_max_attempts: Maximum number of status checks. (default: the Bedrock operator's, as the
        wait says)
    :param deferrable: If True, wait in the triggerer instead of the worker.
        (default: the ``[operators] default_deferrable`` setting, else False)
    :param aws_conn_id: The Airflow connection used for AWS credentials (sagemaker). (templated)
    :param region_name: AWS region_name. If not specified then the connection's is used. (templated)
    :return: ``{"model_name": ..., "model_id": ..., "model_uri": ...}``: the local model id and its folder,
        or the Bedrock model ARN and the checkpoint it was imported from.
    """

    template_fields: Sequence[str] = (*_NovaShipOperator.template_fields, "dataset", "training", "verdict")
    template_fields_renderers: ClassVar[dict[str, str]] = {
        **_NovaShipOperator.template_fields_renderers,
        "dataset": "json",
        "training": "json",
        "verdict": "json",
    }

    def __init__(
        self,
        *,
        dataset: dict[str, Any] | str,
        training: dict[str, Any] | str,
        verdict: dict[str, Any] | str | None = None,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.dataset = dataset
        self.training = training
        self.verdict = verdict

    def execute_local(self, plan: RunPlan, context: Context) -> dict[str, Any]:
        from nova_dpo.pipeline import steps

        verdict = self.verdict if self.verdict is not None else steps.read_verdict(plan)
        return steps.import_local(plan, self.dataset, self.training, verdict)

    def execute_sagemaker(self, plan: RunPlan, context: Context) -> dict[str, Any]:
        from nova_dpo_airflow.operators.bedrock_custom_model import CUSTOM_MODEL_ACTIVE, wait_or_defer

        creation = self._import(plan)
        model_arn, status = creation.get_or_create()
        if status != "Active":
            wait_or_defer(self, CUSTOM_MODEL_ACTIVE, model_arn, creation.failed)
        return self._result(plan, model_arn)

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        from nova_dpo_airflow.operators.bedrock_custom_model import CUSTOM_MODEL_ACTIVE, completed_wait

        plan = self._checked_plan()
        return self._result(
            plan, completed_wait(self, CUSTOM_MODEL_ACTIVE, event, self._import(plan).failure_of)
        )

    def _checkpoint_uri(self) -> str:
        uri = ((self.training or {}).get("outputs") or {}).get("checkpoint_uri")
        if not uri:
            raise ValueError(
                "training has no outputs.checkpoint_uri: pass the training task's result, whose outputs name "
                "the checkpoint to import (the escrow URI from the job's manifest.json)."
            )
        return uri

    def _import(self, plan: RunPlan) -> CustomModelImport:
        from nova_dpo.pipeline.run import IMPORT_ROLE_ENV
        from nova_dpo_airflow.hooks.bedrock_custom_model import BedrockCustomModelHook
        from nova_dpo_airflow.operators.bedrock_custom_model import CustomModelImport

        if not plan.ship.import_role_arn:
            raise ValueError(
                f"The plan has no import_role_arn for Bedrock to read the checkpoint with: set env "
                f"{IMPORT_ROLE_ENV} on the workers to an IAM role that Bedrock can assume and that can read the "
                "training job's escrow checkpoint (iam/bedrock-import-role-policy.json)."
            )
        return CustomModelImport(
            self._hook(BedrockCustomModelHook),
            self.log,
            model_name=plan.ship.model_name,
            model_source_uri=self._checkpoint_uri(),
            role_arn=plan.ship.import_role_arn,
            model_tags={
                DATASET_TAG_KEY: self.dataset["content_sha256"],
                RECIPE_TAG_KEY: plan.training.recipe.sha256,
                TRAINING_JOB_TAG_KEY: self.training["job_name"],
            },
        )

    def _result(self, plan: RunPlan, model_arn: str) -> dict[str, Any]:
        return {
            "model_name": plan.ship.model_name,
            "model_id": model_arn,
            "model_uri": self._checkpoint_uri(),
        }


class NovaDeployModelOperator(_WaitingShipOperator):
    """
    Deploy the imported model for the smoke test, under the name ``{model_name}-smoke``.

    Nothing is deployed when ``plan.ship.deploy`` is false. ``local``:
    :func:`nova_dpo.pipeline.steps.deploy_local`. ``sagemaker``: a LoRA model is deployed on demand
    (``CreateCustomModelDeployment``); a full-rank one gets provisioned throughput of one model unit without
    commitment (the provider's ``BedrockCreateProvisionedModelThroughputOperator``). Both wait until the
    deployment serves; a retry attaches to the deployment of that name instead of creating another.

    :param plan: The run plan from ``resolve_run``. (templated)
    :param imported: The import step's result (``model_id``: the local id or Bedrock model ARN). (templated)
    :param waiter_delay: Seconds between status checks. (default: the Bedrock operator's, as the wait says)
    :param waiter_max_attempts: Maximum number of status checks. (default: the Bedrock operator's, as the
        wait says)
    :param deferrable: If True, wait in the triggerer instead of the worker.
        (default: the ``[operators] default_deferrable`` setting, else False)
    :param aws_conn_id: The Airflow connection used for AWS credentials (sagemaker). (templated)
    :param region_name: AWS region_name. If not specified then the connection's is used. (templated)
    :return: ``{}`` when deploy is off, else ``{"deployment_name": ..., "deployment_id": ..., "kind": ...,
        "status": ...}``; ``deployment_id`` is what to invoke (the local name, or the deployment or
        provisioned throughput ARN), ``kind`` is ``local``, ``on_demand`` or ``provisioned``.
    """

    template_fields: Sequence[str] = (*_NovaShipOperator.template_fields, "imported")
    template_fields_renderers: ClassVar[dict[str, str]] = {
        **_NovaShipOperator.template_fields_renderers,
        "imported": "json",
    }

    def __init__(self, *, imported: dict[str, Any] | str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.imported = imported

    def execute(self, context: Context) -> dict[str, Any]:
        plan = self._checked_plan()
        if not plan.ship.deploy:
            self.log.info("deploy is off for this run: nothing to deploy.")
            return {}
        return super().execute(context)

    def execute_local(self, plan: RunPlan, context: Context) -> dict[str, Any]:
        from nova_dpo.pipeline import steps

        deployment = steps.deploy_local(plan, self.imported)
        return {**deployment, "deployment_id": deployment["deployment_name"], "kind": LOCAL}

    def execute_sagemaker(self, plan: RunPlan, context: Context) -> dict[str, Any]:
        from nova_dpo_airflow.operators.bedrock_custom_model import DEPLOYMENT_ACTIVE, wait_or_defer

        if serving_kind(plan) == PROVISIONED:
            return self._provision(plan)
        creation = self._on_demand(plan)
        deployment_arn, status = creation.get_or_create()
        if status != "Active":
            wait_or_defer(self, DEPLOYMENT_ACTIVE, deployment_arn, creation.failed)
        return self._on_demand_result(plan, deployment_arn)

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        from nova_dpo_airflow.operators.bedrock_custom_model import (
            DEPLOYMENT_ACTIVE,
            THROUGHPUT_IN_SERVICE,
            completed_wait,
        )

        plan = self._checked_plan()
        if serving_kind(plan) == PROVISIONED:
            return self._provisioned_result(plan, completed_wait(self, THROUGHPUT_IN_SERVICE, event))
        failure_of = self._on_demand(plan).failure_of
        return self._on_demand_result(plan, completed_wait(self, DEPLOYMENT_ACTIVE, event, failure_of))

    def _model_arn(self) -> str:
        model_arn = (self.imported or {}).get("model_id")
        if not model_arn:
            raise ValueError("imported has no model_id: pass the import step's result.")
        return model_arn

    def _on_demand(self, plan: RunPlan) -> CustomModelDeployment:
        from nova_dpo_airflow.hooks.bedrock_custom_model import BedrockCustomModelHook
        from nova_dpo_airflow.operators.bedrock_custom_model import CustomModelDeployment

        return CustomModelDeployment(
            self._hook(BedrockCustomModelHook),
            self.log,
            deployment_name=smoke_deployment_name(plan),
            model_arn=self._model_arn(),
            description=f"Smoke test of {plan.ship.model_name} ({plan.dag_id} {plan.run_id})",
        )

    def _on_demand_result(self, plan: RunPlan, deployment_arn: str) -> dict[str, Any]:
        return {
            "deployment_name": smoke_deployment_name(plan),
            "deployment_id": deployment_arn,
            "kind": ON_DEMAND,
            "status": "Active",
        }

    def _provision(self, plan: RunPlan) -> dict[str, Any]:
        """Provision throughput of one model unit, or attach to the one of that name a previous try created."""
        from airflow.providers.amazon.aws.hooks.bedrock import BedrockHook
        from botocore.exceptions import ClientError

        from nova_dpo_airflow.hooks.bedrock_custom_model import is_not_found
        from nova_dpo_airflow.operators.bedrock_custom_model import (
            THROUGHPUT_IN_SERVICE,
            client_request_token,
            wait_or_defer,
        )

        # BedrockHook, not the custom model hook: the throughput's waiter is the provider's.
        hook = self._hook(BedrockHook)
        name, model_arn = smoke_deployment_name(plan), self._model_arn()
        try:
            existing = hook.conn.get_provisioned_model_throughput(provisionedModelId=name)
        except ClientError as error:
            if not is_not_found(error):
                raise
            self.log.info("Provisioning throughput %s for %s.", name, model_arn)
            arn = hook.conn.create_provisioned_model_throughput(
                modelUnits=1,
                provisionedModelName=name,
                modelId=model_arn,
                # No commitmentDuration: hourly, no term, so teardown can delete it after the smoke test.
                clientRequestToken=client_request_token("provision", name, model_arn),
            )["provisionedModelArn"]
            status = "Creating"
        else:
            arn, status = existing["provisionedModelArn"], existing["status"]
            self.log.info("Provisioned throughput %s already exists (%s): attaching to it.", arn, status)
            if model_arn not in (existing.get("modelArn"), existing.get("desiredModelArn")):
                raise AirflowFailException(
                    f"Provisioned throughput {name!r} already serves {existing.get('modelArn')}, not "
                    f"{model_arn}. Delete it (DeleteProvisionedModelThroughput) and run this task again."
                )
            if status == "Failed":
                raise AirflowFailException(
                    f"Provisioned throughput {arn} failed: {existing.get('failureMessage') or 'no reason given'}. "
                    "Delete it (DeleteProvisionedModelThroughput) and run this task again."
                )
        if status != "InService":
            wait_or_defer(self, THROUGHPUT_IN_SERVICE, arn)
        return self._provisioned_result(plan, arn)

    def _provisioned_result(self, plan: RunPlan, arn: str) -> dict[str, Any]:
        return {
            "deployment_name": smoke_deployment_name(plan),
            "deployment_id": arn,
            "kind": PROVISIONED,
            "status": "InService",
        }


class NovaSmokeTestOperator(_NovaShipOperator):
    """
    Ask the deployed model a question that needs a tool; the answer must call it.

    ``local``: :func:`nova_dpo.pipeline.steps.smoke_test_local`. ``sagemaker``: one Bedrock ``Converse`` call
    to the deployment or provisioned throughput
    (:class:`~nova_dpo_airflow.operators.bedrock_custom_model.BedrockConverseSmokeTestOperator`). Skipped when
    nothing was deployed.

    :param plan: The run plan from ``resolve_run``. (templated)
    :param deployment: The deploy step's result; ``{}`` when deploy is off. (templated)
    :param aws_conn_id: The Airflow connection used for AWS credentials (sagemaker). (templated)
    :param region_name: AWS region_name. If not specified then the connection's is used. (templated)
    :return: ``{"skipped": "deploy=false"}``, or ``{"passed": True, "answer": ..., ...}``; a model that does not
        answer with a tool call fails the task.
    """

    template_fields: Sequence[str] = (*_NovaShipOperator.template_fields, "deployment")
    template_fields_renderers: ClassVar[dict[str, str]] = {
        **_NovaShipOperator.template_fields_renderers,
        "deployment": "json",
    }

    def __init__(self, *, deployment: dict[str, Any] | str | None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.deployment = deployment

    def execute(self, context: Context) -> dict[str, Any]:
        self._checked_plan()
        if not self.deployment:
            self.log.info("Nothing was deployed (deploy is off): no smoke test.")
            return {"skipped": "deploy=false"}
        return super().execute(context)

    def execute_local(self, plan: RunPlan, context: Context) -> dict[str, Any]:
        from nova_dpo.pipeline import steps

        return steps.smoke_test_local(plan, self.deployment)

    def execute_sagemaker(self, plan: RunPlan, context: Context) -> dict[str, Any]:
        from airflow.providers.amazon.aws.hooks.bedrock import BedrockRuntimeHook

        from nova_dpo_airflow.operators.bedrock_custom_model import converse_smoke_test

        return converse_smoke_test(
            self._hook(BedrockRuntimeHook), self.log, model_id=self.deployment["deployment_id"]
        )


class NovaTeardownOperator(_NovaShipOperator):
    """
    Leave nothing of the run behind that costs money: an Airflow teardown task, safe to run at any point.

    ``local``: :func:`nova_dpo.pipeline.steps.teardown` stops the run's unfinished jobs and deletes its
    deployment. ``sagemaker``:

    * stops each of ``job_names`` (and the retry attempts ``<name>-a2``, ... the platform submitted) that is
      still InProgress;
    * deletes the run's ephemeral deployment: the one in ``deployment``, else the one of the deterministic
      name that a failed deploy may have left (on-demand deployment or provisioned throughput);
    * deletes imported models of the family (``nova-dpo-<family>-``) beyond ``plan.ship.keep_models``,
      never the champion named in ``{root}/registry/<family>/champion.json``.

    Whatever does not exist is skipped. Every action is attempted and logged; if any fails, the task fails
    afterwards, naming them.

    Then it reports the run's outcome: when a task of the run failed, the teardown fails too (after its
    cleanup), naming the tasks, so that with ``on_failure_fail_dagrun=True`` the run ends failed. Without this,
    a run marked failed in the UI ended *success*: Airflow marks the running task failed and the pending ones
    skipped, leaves the teardown to run, and then sees only skipped leaves.

    :param plan: The run plan from ``resolve_run``. (templated)
    :param job_names: Names of the run's training and evaluation jobs. (default: the plan's) (templated)
    :param deployment: The deploy step's result, if it got that far. (templated)
    :param aws_conn_id: The Airflow connection used for AWS credentials and the storage root (sagemaker).
        (templated)
    :param region_name: AWS region_name. If not specified then the connection's is used. (templated)
    :return: ``{"stopped": [...], "deleted_deployments": [...], "pruned_models": [...]}``
    """

    template_fields: Sequence[str] = (*_NovaShipOperator.template_fields, "job_names", "deployment")
    template_fields_renderers: ClassVar[dict[str, str]] = {
        **_NovaShipOperator.template_fields_renderers,
        "job_names": "json",
        "deployment": "json",
    }

    def __init__(
        self,
        *,
        job_names: Sequence[str] | str | None = None,
        deployment: dict[str, Any] | str | None = None,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.job_names = job_names
        self.deployment = deployment

    def execute(self, context: Context) -> dict[str, Any]:
        result = super().execute(context)
        failed = self._failed_tasks(context)
        if failed:
            raise AirflowFailException(
                f"Cleanup done ({result}); the run failed: {', '.join(failed)} "
                f"{'is' if len(failed) == 1 else 'are'} failed (by an error, or marked failed)."
            )
        return result

    def _failed_tasks(self, context: Context) -> list[str]:
        """The run's other tasks that failed or whose upstream failed."""
        ti = context.get("ti")
        if ti is None:  # run outside a task (a unit test): there is no run to report on
            return []
        run_id = context["run_id"]
        states = ti.get_task_states(dag_id=self.dag_id, run_ids=[run_id]).get(run_id, {})
        return sorted(
            task_id
            for task_id, state in states.items()
            if state in ("failed", "upstream_failed") and task_id != self.task_id
        )

    def _job_names(self, plan: RunPlan) -> list[str]:
        if self.job_names is None:
            return plan.job_names
        names = [self.job_names] if isinstance(self.job_names, str) else list(self.job_names)
        return [name for name in names if name]

    def execute_local(self, plan: RunPlan, context: Context) -> dict[str, Any]:
        from nova_dpo.pipeline import steps

        # Local models are pruned when a new champion is published.
        return {**steps.teardown(plan, self._job_names(plan)), "pruned_models": []}

    def execute_sagemaker(self, plan: RunPlan, context: Context) -> dict[str, Any]:
        result: dict[str, list[str]] = {"stopped": [], "deleted_deployments": [], "pruned_models": []}
        failures: list[str] = []
        names = self._job_names(plan)
        try:
            platform = self._platform() if names else None
        except Exception as error:
            self.log.exception("Could not reach SageMaker to stop the jobs %s.", names)
            failures.append(f"stop jobs {names}: {error}")
            names = []
        for name in names:
            try:
                result["stopped"] += self._stop_job(platform, name)
            except Exception as error:
                self.log.exception("Could not stop job %s.", name)
                failures.append(f"stop job {name}: {error}")
        try:
            result["deleted_deployments"] += self._delete_deployment(plan, context)
        except Exception as error:
            self.log.exception("Could not delete the run's deployment.")
            failures.append(f"delete deployment: {error}")
        try:
            result["pruned_models"] += self._prune(plan, context)
        except Exception as error:
            self.log.exception("Could not prune the imported models.")
            failures.append(f"prune models: {error}")

        self.log.info(
            "Teardown: stopped %s; deleted deployments %s; pruned models %s.",
            result["stopped"] or "none",
            result["deleted_deployments"] or "none",
            result["pruned_models"] or "none",
        )
        if failures:
            raise AirflowException(f"Teardown left {len(failures)} thing(s) undone: " + "; ".join(failures))
        return result

    def _platform(self) -> Any:
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook
        from airflow.providers.amazon.aws.hooks.sagemaker import SageMakerHook

        from nova_dpo.platforms.sagemaker import SageMakerPlatform

        hook_arguments = {"aws_conn_id": self.aws_conn_id, "region_name": self.region_name}
        return SageMakerPlatform(SageMakerHook(**hook_arguments).conn, S3Hook(**hook_arguments).conn)

    def _stop_job(self, platform: Any, name: str) -> list[str]:
        """Stop the job ``name``'s running attempt; the names of the jobs stopped."""
        from nova_dpo.platforms.base import JobNotFoundError, JobRef, JobStatus
        from nova_dpo.platforms.naming import attempt_job_name
        from nova_dpo.platforms.sagemaker import PLATFORM

        stopped = []
        # The platform retries a Failed or Stopped job as <name>-a2, -a3, ...: only the last attempt may run.
        for attempt in itertools.count(1):
            attempt_name = attempt_job_name(name, attempt)
            ref = JobRef(platform=PLATFORM, name=attempt_name, handle=attempt_name)
            try:
                state = platform.describe(ref)
            except JobNotFoundError:
                if attempt == 1:
                    self.log.info("Job %s does not exist: nothing to stop.", ref.name)
                break
            if state.status in (JobStatus.FAILED, JobStatus.STOPPED):
                self.log.info("Job %s is %s.", ref.name, state.status.value)
                continue
            if state.status is JobStatus.IN_PROGRESS:
                platform.stop(ref)
                self.log.info("Stopped job %s.", ref.name)
                stopped.append(ref.name)
            else:
                self.log.info("Job %s is %s: nothing to stop.", ref.name, state.status.value)
            break
        return stopped

    def _delete_deployment(self, plan: RunPlan, context: Context) -> list[str]:
        from nova_dpo_airflow.hooks.bedrock_custom_model import BedrockCustomModelHook
        from nova_dpo_airflow.operators.bedrock_custom_model import (
            DEPLOYMENT_DELETED,
            THROUGHPUT_DELETED,
            delete_resource,
        )

        deployment = self.deployment or {}
        if not deployment and not plan.ship.deploy:
            self.log.info("deploy is off for this run: no deployment to delete.")
            return []
        # Without the deploy step's result (it failed or was skipped), look for the name it would have used.
        identifier = deployment.get("deployment_id") or smoke_deployment_name(plan)
        kind = deployment.get("kind") or serving_kind(plan)
        gone = THROUGHPUT_DELETED if kind == PROVISIONED else DEPLOYMENT_DELETED
        # Deletion stops the billing at once; waiting until it is gone would only hold a worker slot.
        hook = self._hook(BedrockCustomModelHook)
        deleted = delete_resource(hook, self.log, gone, identifier, ignore_missing=True)
        return [deployment.get("deployment_name") or smoke_deployment_name(plan)] if deleted else []

    def _prune(self, plan: RunPlan, context: Context) -> list[str]:
        from airflow.sdk import ObjectStoragePath

        from nova_dpo.pipeline import steps
        from nova_dpo.pipeline.run import MODEL_NAME_PREFIX
        from nova_dpo_airflow.hooks.bedrock_custom_model import BedrockCustomModelHook
        from nova_dpo_airflow.operators.bedrock_custom_model import prune_custom_models

        # An unreadable champion record raises here, before anything is deleted.
        champion = steps.read_champion(plan, lambda uri: ObjectStoragePath(uri, conn_id=self.aws_conn_id))
        protect = [champion[key] for key in ("model_name", "model_id") if champion and champion.get(key)]
        self.log.info("Champion of %s: %s.", plan.family, protect[0] if protect else "none yet")
        return prune_custom_models(
            self._hook(BedrockCustomModelHook),
            self.log,
            name_prefix=f"{MODEL_NAME_PREFIX}-{plan.family}-",
            keep=plan.ship.keep_models,
            protect=protect,
        )
