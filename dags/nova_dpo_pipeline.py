"""
# Nova DPO customization pipeline

Turns a preference dataset (`nvidia/When2Call` `train_pref`, or any data in its schema) into a better,
deployed model:

`resolve_run` → `prepare_dataset` → `upload` → `skip_if_done` → `train_dpo` →
`evaluate` (`generate` candidate ∥ baseline → `gen_qa` ∥ `llm_judge`) → `metric_gate` →
(`approval`) → `import_model` → `deploy` → `smoke_test` → `publish`, or `reject`; `teardown` always runs.

The `platform` param picks `sagemaker` (Amazon Nova: SageMaker training jobs from Nova recipes, Bedrock
import) or `local` (a small open model trained, evaluated and stored on the worker). Each run reads the dataset
version of its logical date, so `airflow backfill create` trains each version once; a version already shipped
with the same recipe is skipped. Reports land in `{storage_root}/runs/{run_key}/report/`.

Tasks hand each other storage-root URIs only, so any worker may run any task: the job output files later tasks
read are published to `{storage_root}/runs/{run_key}/` (`train/`, `generate/`, `judge/`) by the task that
waited for the job.
"""

from __future__ import annotations

import datetime as dt
import os

from airflow.sdk import Asset, Param, dag, task, task_group

from nova_dpo.pipeline.params import param_definitions
from nova_dpo_airflow.notifications import notify_failure
from nova_dpo_airflow.operators.nova_jobs import NovaDpoTrainingOperator, NovaEvaluationOperator
from nova_dpo_airflow.operators.ship import (
    NovaDeployModelOperator,
    NovaImportModelOperator,
    NovaSmokeTestOperator,
    NovaTeardownOperator,
)

DAG_ID = "nova_dpo_pipeline"
# Seconds between two looks at a running job (SageMaker describe calls, or a local job's status file).
POLL_SECONDS = int(os.environ.get("NOVA_DPO_POLL_SECONDS", "30"))
SCHEDULE = "@weekly"
PLAN = "{{ ti.xcom_pull(task_ids='resolve_run') }}"
DATASET_ASSET = Asset(name="nova_dpo_dataset_version", uri="x-nova-dpo://datasets")
MODEL_ASSET = Asset(name="nova_dpo_champion", uri="x-nova-dpo://models/champion")


def _xcom(task_id: str, path: str = "") -> str:
    return "{{ ti.xcom_pull(task_ids='" + task_id + "')" + path + " }}"


@dag(
    dag_id=DAG_ID,
    schedule=SCHEDULE,
    start_date=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    tags=["nova", "dpo", "llm", "customization"],
    params={name: Param(**definition) for name, definition in param_definitions().items()},
    render_template_as_native_obj=True,
    default_args={
        "retries": 2,
        "retry_delay": dt.timedelta(minutes=1),
        "retry_exponential_backoff": True,
        "on_failure_callback": notify_failure,
    },
)
def nova_dpo_pipeline() -> None:
    @task
    def resolve_run(params: dict, dag_run=None, logical_date=None) -> dict:
        """Validate the params and decide recipe, dataset version and names; bad params fail here."""
        from airflow.sdk.exceptions import AirflowFailException

        from nova_dpo.pipeline.run import PlanError, resolve_run
        from nova_dpo_airflow.operators.ship import aws_connection_region

        when = logical_date or dag_run.run_after
        try:
            plan = resolve_run(
                dict(params),
                dag_id=DAG_ID,
                run_id=dag_run.run_id,
                logical_date=when,
                connection_region=aws_connection_region,
            )
        except PlanError as err:
            raise AirflowFailException(f"invalid params: {err}") from err
        return plan.to_dict()

    @task(outlets=[DATASET_ASSET])
    def prepare_dataset(plan: dict, logical_date=None, dag_run=None, outlet_events=None) -> dict:
        """Load, convert, validate and split the dataset version of this run's logical date."""
        from airflow.sdk.exceptions import AirflowFailException

        from nova_dpo.data.validation import DataQualityError
        from nova_dpo.pipeline import steps
        from nova_dpo.pipeline.run import storage_root

        workspace = storage_root("local", None)
        try:
            dataset = steps.prepare(_plan(plan), workspace, logical_date or dag_run.run_after)
        except (DataQualityError, FileNotFoundError, ValueError) as err:
            # Bad or missing data, an unreachable source: a retry would hold the run's only slot for nothing.
            raise AirflowFailException(str(err)) from err
        outlet_events[DATASET_ASSET].extra = {
            "version": dataset["version"],
            "sha256": dataset["content_sha256"],
        }
        return dataset

    @task
    def upload(plan: dict, dataset: dict) -> dict:
        """Publish the prepared files under the platform's storage root (skipped when already there)."""
        from airflow.sdk.exceptions import AirflowFailException

        from nova_dpo.data.validation import DataQualityError
        from nova_dpo.pipeline import steps

        try:
            return steps.upload(_plan(plan), dataset, _path_factory(plan))
        except DataQualityError as err:
            # Missing credentials, access denied, a read-only or full storage root: say so once, not thrice.
            raise AirflowFailException(str(err)) from err

    @task.short_circuit(ignore_downstream_trigger_rules=False)
    def skip_if_done(plan: dict, dataset: dict) -> bool:
        """Stop here when this dataset content and recipe already produced an imported model."""
        import logging

        from nova_dpo.pipeline import steps

        shipped = steps.already_shipped(_plan(plan), dataset, _path_factory(plan))
        if shipped:
            logging.getLogger(__name__).info(
                "skipping: dataset %s with recipe %s already shipped as %s in run %s",
                dataset["content_sha256"][:12],
                _plan(plan).training.recipe.sha256[:12],
                shipped["model_name"],
                shipped["run_id"],
            )
        return shipped is None

    plan = resolve_run()
    dataset = upload(plan, prepare_dataset(plan))
    proceed = skip_if_done(plan, dataset)

    train = NovaDpoTrainingOperator(
        task_id="train_dpo",
        plan=PLAN,
        train_uri=_xcom("upload", "['files']['train.jsonl']"),
        validation_uri=_xcom("upload", "['files']['validation.jsonl']"),
        poll_interval=POLL_SECONDS,
    )
    proceed >> train

    @task_group
    def evaluate() -> dict:
        @task
        def evaluation_targets(plan: dict, dataset: dict, training: dict) -> list[dict]:
            """The candidate and the baseline (the champion, else the base model) on the test prompts."""
            from nova_dpo.pipeline import steps

            run, factory = _plan(plan), _path_factory(plan)
            eval_set = steps.evaluation_set(run, dataset, factory)
            return steps.evaluation_targets(run, training, eval_set, steps.baseline_model(run, factory))

        targets = evaluation_targets(plan, dataset, train.output)
        generate = NovaEvaluationOperator.partial(
            task_id="generate", plan=PLAN, task="gen_qa", poll_interval=POLL_SECONDS
        ).expand_kwargs(targets)

        @task
        def gen_qa(plan: dict, generated: list) -> dict:
            """Nova's gen_qa metrics plus tool-call metrics, per example, for both models."""
            from nova_dpo.pipeline import steps

            return steps.score_gen_qa(_plan(plan), list(generated), _path_factory(plan))

        @task
        def judge_pairs(plan: dict, generated: list) -> str:
            from nova_dpo.pipeline import steps

            return steps.judge_pairs(_plan(plan), list(generated), _path_factory(plan))

        judge = NovaEvaluationOperator(
            task_id="llm_judge",
            plan=PLAN,
            task="llm_judge",
            data_uri=_xcom("evaluate.judge_pairs"),
            poll_interval=POLL_SECONDS,
        )
        judge_pairs(plan, generate.output) >> judge
        return {"gen_qa": gen_qa(plan, generate.output), "judge": judge.output}

    evaluation = evaluate()

    @task.branch
    def metric_gate(plan: dict, evaluation: dict) -> str:
        """Compare candidate and baseline with paired bootstrap intervals; pass → ship, fail → reject."""
        from nova_dpo.pipeline import steps
        from nova_dpo_airflow.notifications import notify_verdict

        verdict = steps.gate(_plan(plan), evaluation["gen_qa"], evaluation["judge"], _path_factory(plan))
        notify_verdict(_plan(plan), verdict)
        if not verdict["passed"]:
            return "reject"
        return "approval" if _plan(plan).ship.approval_required else "import_model"

    gate = metric_gate(plan, evaluation)

    imported = NovaImportModelOperator(
        task_id="import_model",
        plan=PLAN,
        dataset=_xcom("upload"),
        training=_xcom("train_dpo"),
        trigger_rule="none_failed_min_one_success",
    )
    deployment = NovaDeployModelOperator(task_id="deploy", plan=PLAN, imported=_xcom("import_model"))
    smoke = NovaSmokeTestOperator(task_id="smoke_test", plan=PLAN, deployment=_xcom("deploy"))
    imported >> deployment >> smoke

    @task(outlets=[MODEL_ASSET])
    def publish(
        plan: dict,
        dataset: dict,
        training: dict,
        evaluation: dict,
        imported: dict,
        smoke: dict,
        outlet_events=None,
    ) -> dict:
        """Move the champion alias, record lineage, write the report."""
        from nova_dpo.pipeline import steps

        run, factory = _plan(plan), _path_factory(plan)
        store = steps.model_store(run, path_factory=factory)
        published = steps.publish(run, store, dataset, training, imported, factory)
        verdict = steps.read_verdict(run, factory)
        report = steps.write_report(
            run, dataset, training, evaluation["gen_qa"], evaluation["judge"], verdict, factory, "shipped"
        )
        outlet_events[MODEL_ASSET].extra = {"model": imported["model_name"], "report": report}
        return {**published, "report": report}

    @task
    def reject(plan: dict, dataset: dict, training: dict, evaluation: dict) -> dict:
        """Report why the candidate was not shipped."""
        from nova_dpo.pipeline import steps

        run, factory = _plan(plan), _path_factory(plan)
        verdict = steps.read_verdict(run, factory)
        report = steps.write_report(
            run, dataset, training, evaluation["gen_qa"], evaluation["judge"], verdict, factory, "rejected"
        )
        return {"report": report, "reasons": verdict["reasons"]}

    approval = _approval_task()
    shipped = publish(plan, dataset, train.output, evaluation, imported.output, smoke.output)
    rejected = reject(plan, dataset, train.output, evaluation)
    gate >> [approval, imported, rejected]
    approval >> imported

    cleanup = NovaTeardownOperator(
        task_id="teardown",
        plan=PLAN,
        deployment=_xcom("deploy"),
    ).as_teardown(setups=[plan], on_failure_fail_dagrun=True)
    [shipped, rejected] >> cleanup


def _approval_task():
    from airflow.providers.standard.operators.hitl import ApprovalOperator

    return ApprovalOperator(
        task_id="approval",
        subject="Ship the DPO-tuned model?",
        body="The metric gate passed. The report is in the run's folder (see the metric_gate log).",
        defaults="Reject",
        response_timeout=dt.timedelta(days=3),
    )


def _plan(plan: dict):
    """The typed run plan of ``resolve_run``'s XCom."""
    from nova_dpo.pipeline.plan import RunPlan

    return RunPlan.from_dict(plan)


def _path_factory(plan: dict):
    """Object-storage paths with the AWS connection's credentials (sagemaker); plain paths locally."""
    from nova_dpo_airflow.object_storage import path_factory

    return path_factory(plan["platform"])


nova_dpo_pipeline()
