"""
Operators that ship a candidate through the run's model store: import, deploy, smoke test, and teardown.

Each takes the run plan (``resolve_run``'s output) and does its step with the model store of
``plan.platform`` (:func:`nova_dpo.pipeline.steps.model_store`): the local store on the worker, or Amazon
Bedrock through the provider's hooks on the plan's Bedrock connection and region (``plan.ship.bedrock_conn_id``
and ``bedrock_region``, which need not be those of the SageMaker jobs: Bedrock imports Nova models in fewer
regions than SageMaker trains them). The steps are the functions of
:mod:`nova_dpo.pipeline.steps`; what is Airflow's is here: a Bedrock resource that is still Creating is waited
for in the worker or deferred to the trigger that waits for it (:mod:`.bedrock_custom_model`), and a store's
permanent failure fails the task without retries.

The AWS hooks are imported only when a store asks for a client, so that a DAG file importing this module, and
a task on the local platform, import neither boto3 nor the Amazon provider.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException, conf
from airflow.sdk import BaseOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

    from nova_dpo.pipeline.plan import RunPlan
    from nova_dpo.platforms.base import ModelStore, Platform

__all__ = [
    "NovaDeployModelOperator",
    "NovaImportModelOperator",
    "NovaSmokeTestOperator",
    "NovaTeardownOperator",
]

#: The status of a model or deployment that the task waits for (Bedrock's; the local store's are Active at once).
CREATING = "Creating"
#: The hooks whose clients a model store or platform asks for, by AWS service name.
_HOOKS = {
    "bedrock": ("nova_dpo_airflow.hooks.bedrock_custom_model", "BedrockCustomModelHook"),
    "bedrock-runtime": ("airflow.providers.amazon.aws.hooks.bedrock", "BedrockRuntimeHook"),
    "sagemaker": ("airflow.providers.amazon.aws.hooks.sagemaker", "SageMakerHook"),
    "s3": ("airflow.providers.amazon.aws.hooks.s3", "S3Hook"),
}
#: The services reached on the plan's Bedrock connection and region; the others on the task's.
_BEDROCK_SERVICES = ("bedrock", "bedrock-runtime")


def aws_connection_region(conn_id: str) -> str | None:
    """The region the clients of the AWS connection ``conn_id`` use when given none: the connection's
    ``region_name``, else boto3's default (``AWS_DEFAULT_REGION``, the AWS config file). Sends nothing."""
    from airflow.providers.amazon.aws.hooks.base_aws import AwsGenericHook

    from nova_dpo.pipeline.run import environment_region

    return AwsGenericHook(aws_conn_id=conn_id).region_name or environment_region(conn_id)


@contextlib.contextmanager
def permanent_failures() -> Iterator[None]:
    """A store's failure that doing the step again cannot fix fails the task at once, without retries."""
    from nova_dpo.platforms.base import ModelStoreFailure

    try:
        yield
    except ModelStoreFailure as error:
        raise AirflowFailException(str(error)) from error


class _NovaShipOperator(BaseOperator):
    """The plan check, the run's model store and the AWS connection, shared by the steps."""

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

    def _checked_plan(self) -> RunPlan:
        from nova_dpo.pipeline.plan import RunPlan
        from nova_dpo.platforms.factory import PLATFORMS

        if not isinstance(self.plan, dict):
            raise TypeError(
                f"plan must be the dict that resolve_run returns, got {type(self.plan).__name__}: set "
                "render_template_as_native_obj=True on the DAG so that templated XCom stays a dict."
            )
        plan = RunPlan.from_dict(self.plan)
        if plan.platform not in PLATFORMS:
            raise ValueError(
                f"plan.platform must be {' or '.join(map(repr, PLATFORMS))}, got {plan.platform!r}."
            )
        return plan

    def aws_connection(self, plan: RunPlan, service: str) -> dict[str, str | None]:
        """The hook arguments (``aws_conn_id``, ``region_name``) of ``service``'s clients: the plan's Bedrock
        connection and region for Bedrock, this task's connection and region for the rest (SageMaker, S3).
        A plan that names no Bedrock connection (one resolved before plans had them) uses the task's."""
        if service in _BEDROCK_SERVICES and plan.ship.bedrock_conn_id:
            return {"aws_conn_id": plan.ship.bedrock_conn_id, "region_name": plan.ship.bedrock_region}
        return {"aws_conn_id": self.aws_conn_id, "region_name": self.region_name}

    def aws_clients(self, plan: RunPlan) -> Callable[[str], Any]:
        """``client(service)``: a boto3 client of ``service`` from the provider's hook for it, on the
        connection :meth:`aws_connection` names."""

        def client(service: str) -> Any:
            import importlib

            module, name = _HOOKS[service]
            hook_class = getattr(importlib.import_module(module), name)
            return hook_class(**self.aws_connection(plan, service)).conn

        return client

    def _paths(self, plan: RunPlan) -> Any:
        from nova_dpo_airflow.object_storage import path_factory

        return path_factory(plan.platform, self.aws_conn_id)

    def _store(self, plan: RunPlan) -> ModelStore:
        from nova_dpo.pipeline import steps

        return steps.model_store(
            plan, aws=self.aws_clients(plan), path_factory=self._paths(plan), log=self.log
        )


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
    Import the trained candidate into the run's model store (:func:`nova_dpo.pipeline.steps.import_model`).

    ``local``: the checkpoint (the merged weights of a LoRA job) is copied into the local model store, with
    the candidate's metrics from the gate verdict. ``sagemaker``: Bedrock ``CreateCustomModel`` from the
    training job's escrow checkpoint, tagged with the dataset and recipe digests and the training job; the task
    waits until the model is Active. Both are idempotent by ``plan.ship.model_name``.

    :param plan: The run plan from ``resolve_run``. (templated)
    :param dataset: The uploaded dataset (``upload``'s output). (templated)
    :param training: The training job's result, with ``outputs.checkpoint_uri``. (templated)
    :param verdict: The gate verdict; read from ``{run_uri}/verdict.json`` when not given. Used by a store that
        keeps metrics (local). (templated)
    :param waiter_delay: Seconds between status checks. (default: the Bedrock operator's, as the wait says)
    :param waiter_max_attempts: Maximum number of status checks. (default: the Bedrock operator's, as the
        wait says)
    :param deferrable: If True, wait in the triggerer instead of the worker.
        (default: the ``[operators] default_deferrable`` setting, else False)
    :param aws_conn_id: The Airflow connection of the storage root (sagemaker); Bedrock is called on the plan's
        Bedrock connection, in its region (``plan.ship``). (templated)
    :param region_name: AWS region_name of ``aws_conn_id``. If not specified then the connection's is used.
        (templated)
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

    def execute(self, context: Context) -> dict[str, Any]:
        from nova_dpo.pipeline import steps

        plan = self._checked_plan()
        store = self._store(plan)
        with permanent_failures():
            record = steps.import_model(
                plan, store, self.dataset, self.training, self.verdict, self._paths(plan)
            )
        if record.status.value == CREATING:
            from nova_dpo_airflow.operators.bedrock_custom_model import CUSTOM_MODEL_ACTIVE, wait_or_defer

            wait_or_defer(
                self,
                CUSTOM_MODEL_ACTIVE,
                record.model_id,
                _failure(store.import_failed),
                connection=self.aws_connection(plan, "bedrock"),
            )
        return self._result(plan, record.model_id, record.artifact_uri)

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        from nova_dpo.pipeline import steps
        from nova_dpo_airflow.operators.bedrock_custom_model import CUSTOM_MODEL_ACTIVE, completed_wait

        plan = self._checked_plan()
        store = self._store(plan)
        model_arn = completed_wait(self, CUSTOM_MODEL_ACTIVE, event, _failure_of(store.import_failure))
        return self._result(plan, model_arn, steps.import_source(self.training))

    @staticmethod
    def _result(plan: RunPlan, model_id: str, model_uri: str) -> dict[str, Any]:
        return {"model_name": plan.ship.model_name, "model_id": model_id, "model_uri": model_uri}


class NovaDeployModelOperator(_WaitingShipOperator):
    """
    Deploy the imported model for the smoke test, under ``plan.ship.deployment_name``
    (:func:`nova_dpo.pipeline.steps.deploy`).

    Nothing is deployed when ``plan.ship.deploy`` is false. ``local``: a deployment in the local model store.
    ``sagemaker``: a LoRA model is deployed on demand (``CreateCustomModelDeployment``); a full-rank one gets
    provisioned throughput of one model unit without commitment. Both wait until the deployment serves; a
    retry attaches to the deployment of that name instead of creating another.

    :param plan: The run plan from ``resolve_run``. (templated)
    :param imported: The import step's result (``model_id``: the local id or Bedrock model ARN). (templated)
    :param waiter_delay: Seconds between status checks. (default: the Bedrock operator's, as the wait says)
    :param waiter_max_attempts: Maximum number of status checks. (default: the Bedrock operator's, as the
        wait says)
    :param deferrable: If True, wait in the triggerer instead of the worker.
        (default: the ``[operators] default_deferrable`` setting, else False)
    :param aws_conn_id: The Airflow connection of the storage root (sagemaker); Bedrock is called on the plan's
        Bedrock connection, in its region (``plan.ship``). (templated)
    :param region_name: AWS region_name of ``aws_conn_id``. If not specified then the connection's is used.
        (templated)
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
        from nova_dpo.pipeline import steps

        plan = self._checked_plan()
        if not plan.ship.deploy:
            self.log.info("deploy is off for this run: nothing to deploy.")
            return {}
        store = self._store(plan)
        with permanent_failures():
            deployment = steps.deploy(plan, store, self.imported)
        if deployment.status.value == CREATING:
            from nova_dpo_airflow.operators.bedrock_custom_model import wait_or_defer

            wait, on_failure = self._wait(store)
            wait_or_defer(
                self,
                wait,
                deployment.deployment_id,
                on_failure and _failure(on_failure),
                connection=self.aws_connection(plan, "bedrock"),
            )
        return self._result(plan, deployment.deployment_id, deployment.serving)

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        from nova_dpo_airflow.operators.bedrock_custom_model import completed_wait

        plan = self._checked_plan()
        store = self._store(plan)
        wait, _ = self._wait(store)
        failure_of = None
        if store.serving != "provisioned":
            model_arn = self.imported["model_id"]
            failure_of = _failure_of(lambda arn: store.deployment_failure(arn, model_arn))
        return self._result(plan, completed_wait(self, wait, event, failure_of), store.serving)

    def _wait(self, store: Any) -> tuple[Any, Any]:
        """How a Bedrock deployment is waited for, and how a failed one is described (None: it is not)."""
        from nova_dpo_airflow.operators.bedrock_custom_model import DEPLOYMENT_ACTIVE, THROUGHPUT_IN_SERVICE

        if store.serving == "provisioned":
            return THROUGHPUT_IN_SERVICE, None
        model_arn = self.imported["model_id"]
        return DEPLOYMENT_ACTIVE, lambda description: store.deployment_failed(description, model_arn)

    @staticmethod
    def _result(plan: RunPlan, deployment_id: str, serving: str | None) -> dict[str, Any]:
        return {
            "deployment_name": plan.ship.deployment_name,
            "deployment_id": deployment_id,
            "kind": serving or "local",
            "status": "InService" if serving == "provisioned" else "Active",
        }


class NovaSmokeTestOperator(_NovaShipOperator):
    """
    Ask the deployed model a question that needs a tool; the answer must call it
    (:func:`nova_dpo.pipeline.steps.smoke_test`: one ``Converse``-shaped request for every store).

    Skipped when nothing was deployed.

    :param plan: The run plan from ``resolve_run``. (templated)
    :param deployment: The deploy step's result; ``{}`` when deploy is off. (templated)
    :param aws_conn_id: The Airflow connection of the storage root (sagemaker); Bedrock is called on the plan's
        Bedrock connection, in its region (``plan.ship``). (templated)
    :param region_name: AWS region_name of ``aws_conn_id``. If not specified then the connection's is used.
        (templated)
    :return: ``{"skipped": "deploy=false"}``, or ``{"passed": True, "answer": ..., "latency_ms": ...,
        "tool_calls": [...]}``; a model that does not answer with a tool call fails the task.
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
        from nova_dpo.evaluation.smoke_test import SmokeTestFailed
        from nova_dpo.pipeline import steps

        plan = self._checked_plan()
        if not self.deployment:
            self.log.info("Nothing was deployed (deploy is off): no smoke test.")
            return {"skipped": "deploy=false"}
        try:
            return steps.smoke_test(plan, self._store(plan), self.deployment, log=self.log)
        except SmokeTestFailed as error:
            raise AirflowException(str(error)) from error


class NovaTeardownOperator(_NovaShipOperator):
    """
    Leave nothing of the run behind that costs money: an Airflow teardown task, safe to run at any point.

    :func:`nova_dpo.pipeline.steps.teardown`, on the run's platform and model store:

    * stops each of ``job_names`` (and the retry attempts ``<name>-a2``, ... the platform submitted) that is
      still running;
    * deletes the run's ephemeral deployment: the one in ``deployment``, else the one of the deterministic
      name that a failed deploy may have left (on Bedrock: on-demand deployment or provisioned throughput);
    * deletes imported models of the family beyond ``plan.ship.keep_models``, never the champion.

    Whatever does not exist is skipped. Every action is attempted and logged; if any fails, the task fails
    afterwards, naming them.

    Then it reports the run's outcome: when a task of the run failed, the teardown fails too (after its
    cleanup), naming the tasks, so that with ``on_failure_fail_dagrun=True`` the run ends failed. Without this,
    a run marked failed in the UI ended *success*: Airflow marks the running task failed and the pending ones
    skipped, leaves the teardown to run, and then sees only skipped leaves.

    :param plan: The run plan from ``resolve_run``. (templated)
    :param job_names: Names of the run's training and evaluation jobs. (default: the plan's) (templated)
    :param deployment: The deploy step's result, if it got that far. (templated)
    :param aws_conn_id: The Airflow connection of the SageMaker jobs and the storage root (sagemaker); Bedrock
        is called on the plan's Bedrock connection, in its region (``plan.ship``). (templated)
    :param region_name: AWS region_name of ``aws_conn_id``. If not specified then the connection's is used.
        (templated)
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
        from nova_dpo.pipeline import steps

        plan = self._checked_plan()
        try:
            result = steps.teardown(
                plan,
                lambda: self._platform(plan),
                self._store(plan),
                self._job_names(plan),
                self.deployment or {},
            )
        except steps.TeardownIncomplete as error:
            raise AirflowException(str(error)) from error
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

    def _platform(self, plan: RunPlan) -> Platform:
        from nova_dpo.platforms.factory import build_platform

        return build_platform(plan.platform, root=plan.storage.root, aws=self.aws_clients(plan))


def _failure(describe: Any) -> Any:
    """A store's description of a failed resource, as the task's permanent failure."""

    def failed(description: dict[str, Any]) -> AirflowFailException:
        return AirflowFailException(str(describe(description)))

    return failed


def _failure_of(look: Any) -> Any:
    """A store's look at a resource after a broken wait: its permanent failure when it failed, else None."""

    def failure_of(identifier: str) -> AirflowFailException | None:
        failure = look(identifier)
        return AirflowFailException(str(failure)) if failure is not None else None

    return failure_of
