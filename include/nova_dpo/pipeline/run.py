"""``resolve_run``: everything a pipeline run needs, decided and validated before any job starts.

It builds the :class:`~nova_dpo.pipeline.plan.RunPlan`: the platform and storage root, the resolved training
and evaluation recipes (with their sha256), the dataset to read, gate rules and shipping options. Bad params
fail here (:mod:`nova_dpo.pipeline.param_checks`), with a message that names the param, before any compute is
paid for.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from collections.abc import Callable
from typing import Any

from nova_dpo.catalog import BEDROCK_IMPORT_REGIONS, BEDROCK_ON_DEMAND_REGIONS
from nova_dpo.gate_rules import GateRules
from nova_dpo.pipeline import param_checks
from nova_dpo.pipeline.param_checks import PlanError
from nova_dpo.pipeline.params import RECIPE_OVERRIDE_PARAMS, recipe_overrides
from nova_dpo.pipeline.plan import (
    DatasetPlan,
    EvaluationPlan,
    RunPlan,
    ShipPlan,
    StoragePlan,
    TrainingPlan,
)
from nova_dpo.platforms.factory import PlatformTraits, platform_traits

ROLE_ENV = "NOVA_DPO_ROLE_ARN"
IMPORT_ROLE_ENV = "NOVA_DPO_IMPORT_ROLE_ARN"
#: The deployment's Bedrock settings: the region of the Bedrock calls (default: the region of their connection)
#: and their Airflow AWS connection (default: the one SageMaker jobs and storage use).
BEDROCK_REGION_ENV = "NOVA_DPO_BEDROCK_REGION"
BEDROCK_CONN_ENV = "NOVA_DPO_BEDROCK_CONN_ID"
DEFAULT_AWS_CONN_ID = "aws_default"
MODEL_NAME_PREFIX = "nova-dpo"

#: ``connection_region(conn_id)``: the region an AWS connection's clients use when given none; None if unknown.
ConnectionRegion = Callable[[str], str | None]


def select_training_recipe(family: str, technique: str, instance_type: str | None) -> str:
    """The shipped DPO recipe for a model family, technique and (optional) instance type."""
    from nova_dpo.catalog import RECIPES

    candidates = [
        spec
        for spec in RECIPES.values()
        if spec.task == "dpo" and spec.model == family and spec.method == technique
    ]
    if instance_type:
        candidates = [spec for spec in candidates if instance_type in spec.instance_types]
    if not candidates:
        raise PlanError(
            f"no shipped {technique} DPO recipe for Nova {family}"
            + (f" on {instance_type}" if instance_type else "")
            + "; choose another instance_type or pass training_recipe"
        )
    return candidates[0].name


def evaluation_recipes(family: str) -> dict[str, str]:
    from nova_dpo.catalog import RECIPES

    return {
        spec.task: spec.name
        for spec in RECIPES.values()
        if spec.model == family and spec.task in ("gen_qa", "llm_judge")
    }


def storage_root(platform: str, explicit: str | None) -> str:
    """The storage root: the ``storage_root`` param, else the deployment's setting (env ``NOVA_DPO_S3_ROOT``
    on SageMaker, ``NOVA_DPO_HOME`` locally: the platform's ``root_env``), checked for the platform.

    :raises PlanError: when there is none (SageMaker) or it cannot serve the platform.
    """
    if explicit:
        return param_checks.check_storage_root(platform, explicit)
    traits = platform_traits(platform)
    # As it is set, not made absolute against this worker's current folder, which other workers do not share.
    root = os.environ.get(traits.root_env) or traits.default_root
    if not root:
        example = "an s3://bucket/prefix" if traits.object_storage else "a folder"
        raise PlanError(f"set the storage_root param or env {traits.root_env} to {example}")
    return param_checks.check_storage_root(
        platform, os.path.expanduser(root), source=f"env {traits.root_env}"
    )


def job_results(platform: str, run_uri: str) -> dict[str, str | None]:
    """Where each job's output files that later tasks read are placed: the operators' ``results_dir``.

    A task's return value reaches the next tasks through XCom, and with the CeleryExecutor (or any executor
    with more than one worker) the next task may run on another machine. So every location is under the run's
    folder in the storage root, which every worker reads, never on the worker that waited for the job:

    * ``sagemaker``: a job leaves an ``output.tar.gz`` in S3. The task that waited for the job extracts it in
      a scratch folder on its worker and publishes the files later tasks read to these ``s3://`` prefixes
      (``train``: the training metrics for the report; ``candidate``/``baseline``: results and
      ``inference_output.jsonl`` for gen_qa scoring and the judge pairs; ``judge``: the judge's results for
      the gate and the report), then deletes the scratch folder.
    * ``local``: jobs run in the storage root itself (``NOVA_DPO_HOME``, a folder every worker and the
      triggerer share: a volume in docker-compose.yaml), so their outputs already are where every task reads
      them. The training job's output is read in its job folder (``train`` is None: its checkpoints and
      merged model are not copied); evaluation results are copied next to the run, as the baseline's job is
      shared by every run that evaluates the same baseline on the same set.

    Either way the tasks that follow read the URIs the operators return, through the same path factory.
    """
    return {
        "train": f"{run_uri}/train" if platform_traits(platform).publishes_job_outputs else None,
        "candidate": f"{run_uri}/generate/candidate",
        "baseline": f"{run_uri}/generate/baseline",
        "judge": f"{run_uri}/judge",
    }


def run_key(logical_date: dt.datetime, run_id: str) -> str:
    """A short, sortable, unique folder name for a run."""
    digest = hashlib.sha256(run_id.encode()).hexdigest()[:8]
    return f"{logical_date:%Y%m%dT%H%M%S}-{digest}"


def resolve_run(
    params: dict[str, Any],
    *,
    dag_id: str,
    run_id: str,
    logical_date: dt.datetime,
    connection_region: ConnectionRegion | None = None,
) -> RunPlan:
    """Validate the params of a run and decide everything that does not need the data.

    :param params: the run's params (missing ones take the trigger form's defaults).
    :param connection_region: the region of an AWS connection (Airflow: the connection's ``region_name``, else
        boto3's default), asked for the Bedrock connection's when env ``NOVA_DPO_BEDROCK_REGION`` is unset, on
        a platform that ships to Bedrock only. Default: :func:`environment_region`.
    :raises PlanError: when a param is invalid (a recipe value out of range, an unknown gate metric, ...);
        the message names it; or when a deployment setting cannot serve the run (a Bedrock region without
        Nova import).
    """
    from nova_dpo.platforms.naming import job_name
    from nova_dpo.recipes import RecipeOverrideError, RecipeValidationError, resolve_recipe

    params = param_checks.checked_params(params)
    platform, family, technique = params["platform"], params["model_family"], params["technique"]
    instance_type = params["instance_type"] or None
    recipe_name = params["training_recipe"] or select_training_recipe(family, technique, instance_type)
    overrides = recipe_overrides(params)
    relaxed = params["relaxed_recipe"]
    max_new_tokens = params["max_new_tokens"]
    recipes = evaluation_recipes(family)
    try:
        recipe = resolve_recipe(recipe_name, overrides, relaxed=relaxed, instance_type=instance_type)
    except RecipeOverrideError as err:
        raise PlanError(f"param recipe_overrides: {err}") from err
    except RecipeValidationError as err:
        given = [name for name in RECIPE_OVERRIDE_PARAMS if params[name] is not None]
        raise PlanError(
            f"recipe {recipe_name} with the overrides of params {', '.join([*given, 'recipe_overrides'])}: {err}"
        ) from err
    except (FileNotFoundError, ValueError) as err:
        raise PlanError(f"param training_recipe={recipe_name!r}: {err}") from err
    try:
        gen_qa = resolve_recipe(recipes["gen_qa"], {"inference.max_new_tokens": max_new_tokens})
    except (RecipeValidationError, ValueError) as err:
        raise PlanError(f"param max_new_tokens={max_new_tokens}: {err}") from err
    llm_judge = resolve_recipe(recipes["llm_judge"])
    try:
        gate = GateRules.from_dict(params["gate"])
    except (TypeError, ValueError) as err:
        raise PlanError(f"param gate: {err}") from err
    param_checks.check_gate_metrics(gate)
    ratios = param_checks.check_split_ratios(params["split_ratios"])
    local_options = param_checks.check_local_training_options(params["local_options"])
    traits = platform_traits(platform)
    judge_conn_id = _judge_conn_id(traits, params["judge_conn_id"])
    eval_options = param_checks.check_evaluation_options(params["eval_local_options"], params["judge_model"])
    base_model = (
        recipe.config["run"]["model_name_or_path"]
        if traits.trains_recipe_model
        else param_checks.check_base_model(params["base_model"])
    )
    instance_count = params["instance_count"] or recipe.config["run"].get("replicas", 1)
    max_run = params["max_run"]
    root = storage_root(platform, params["storage_root"])
    _check_budget(traits, recipe.name, instance_type, instance_count, max_run, params["budget_usd"])
    key = run_key(logical_date, run_id)
    run_uri = f"{root}/runs/{key}"
    model_name = f"{MODEL_NAME_PREFIX}-{family}-{key}".replace("T", "t")
    roles = traits.runs_as_roles
    bedrock_conn_id, bedrock_region, region_source = _bedrock_connection(
        traits, connection_region or environment_region
    )
    plan = RunPlan(
        run_key=key,
        dag_id=dag_id,
        run_id=run_id,
        logical_date=logical_date.isoformat(),
        platform=platform,
        family=family,
        technique=technique,
        storage=StoragePlan(root=root, run_uri=run_uri, job_results=job_results(platform, run_uri)),
        training=TrainingPlan(
            recipe=recipe,
            overrides=overrides,
            relaxed=relaxed,
            instance_type=instance_type,
            instance_count=instance_count,
            max_run=max_run,
            job_name=job_name(dag_id, run_id, "train"),
            base_model=base_model,
            local_options=local_options,
            role_arn=os.environ.get(ROLE_ENV) if roles else None,
        ),
        evaluation=EvaluationPlan(
            gen_qa=gen_qa,
            llm_judge=llm_judge,
            max_new_tokens=max_new_tokens,
            max_eval_rows=params["max_eval_rows"],
            candidate_job_name=job_name(dag_id, run_id, "gen-qa-candidate"),
            judge_job_name=job_name(dag_id, run_id, "llm-judge"),
            # The judge the local platform runs; Nova's llm_judge job judges with its own model.
            judge=(judge_conn_id or "local") if traits.judges_locally else None,
            judge_conn_id=judge_conn_id,
            local_options=eval_options,
        ),
        dataset=DatasetPlan(
            source=params["dataset_source"],
            revision=params["dataset_revision"],
            ratios=ratios,
            min_valid_fraction=params["min_valid_fraction"],
            max_length=int(recipe.config["training_config"]["max_length"]),
        ),
        gate=gate,
        ship=ShipPlan(
            approval_required=params["approval_required"],
            deploy=params["deploy"],
            keep_models=params["keep_models"],
            model_name=model_name,
            # The ephemeral deployment that the smoke test calls and teardown removes.
            deployment_name=f"{model_name}-smoke",
            # Bedrock reads the escrow checkpoint with a role of its own (it cannot assume SageMaker's).
            import_role_arn=os.environ.get(IMPORT_ROLE_ENV) if roles else None,
            bedrock_region=bedrock_region,
            bedrock_conn_id=bedrock_conn_id,
        ),
    )
    if bedrock_region is not None:
        _check_bedrock_region(plan, region_source)
    return plan


def environment_region(conn_id: str) -> str | None:
    """The region boto3 picks from the environment (``AWS_DEFAULT_REGION``, the AWS config file), which a
    connection that names none uses; None when there is none. ``conn_id`` is not read: outside Airflow there
    are no connections."""
    import botocore.session

    return botocore.session.Session().get_config_variable("region")


def _bedrock_connection(
    traits: PlatformTraits, connection_region: ConnectionRegion
) -> tuple[str | None, str | None, str]:
    """The Airflow connection and the region of the run's Bedrock calls (None off Bedrock), and where the
    region came from."""
    if not traits.ships_to_bedrock:
        return None, None, ""
    conn_id = os.environ.get(BEDROCK_CONN_ENV) or DEFAULT_AWS_CONN_ID
    if os.environ.get(BEDROCK_REGION_ENV):
        return conn_id, os.environ[BEDROCK_REGION_ENV], f"env {BEDROCK_REGION_ENV}"
    region = connection_region(conn_id)
    if not region:
        raise PlanError(
            f"the Bedrock calls have no region: set env {BEDROCK_REGION_ENV} (Nova import is offered in "
            f"{', '.join(BEDROCK_IMPORT_REGIONS)}), or give connection {conn_id} a region_name"
        )
    return conn_id, region, f"the region of connection {conn_id}, as env {BEDROCK_REGION_ENV} is unset"


def _check_bedrock_region(plan: RunPlan, source: str) -> None:
    """Refuse a Bedrock region where the run's model cannot be imported or, a LoRA model to deploy, not be
    deployed on demand (:data:`~nova_dpo.catalog.BEDROCK_IMPORT_REGIONS`, ``BEDROCK_ON_DEMAND_REGIONS``).

    :param source: where the region came from, for the message.
    :raises PlanError: naming the setting and the regions that work.
    """
    region = plan.ship.bedrock_region
    if region not in BEDROCK_IMPORT_REGIONS:
        raise PlanError(
            f"Bedrock region {region} ({source}) does not offer the import of SageMaker-trained Nova models "
            f"(CreateCustomModel); set env {BEDROCK_REGION_ENV} to a region that does: "
            f"{', '.join(BEDROCK_IMPORT_REGIONS)}"
        )
    if plan.ship.deploy and not plan.full_rank and region not in BEDROCK_ON_DEMAND_REGIONS:
        raise PlanError(
            f"Bedrock region {region} ({source}) does not offer on-demand deployment of custom Nova models "
            f"(CreateCustomModelDeployment), which the smoke test of a LoRA model needs; set env "
            f"{BEDROCK_REGION_ENV} to one of {', '.join(BEDROCK_ON_DEMAND_REGIONS)}, or the param deploy to false"
        )


def _judge_conn_id(traits: PlatformTraits, conn_id: str | None) -> str | None:
    """The judge connection of a local run. Its endpoint and key are read by the worker from the connection,
    so a run can pick a judge an administrator set up, never point one at a host of its own."""
    if not conn_id:
        return None
    if not traits.judges_locally:
        raise PlanError(
            f"param judge_conn_id applies to the local platform only: on {traits.name}, Nova's llm_judge "
            "judges with its own model"
        )
    return conn_id


def _check_budget(
    traits: PlatformTraits,
    recipe: str,
    instance_type: str | None,
    count: int,
    max_run: int,
    budget: float | None,
) -> None:
    if not traits.bills or budget is None:
        return
    from nova_dpo.catalog import estimate_cost_usd, recipe_spec

    instance = instance_type or recipe_spec(recipe).default_instance_type
    worst = estimate_cost_usd(instance, count, max_run)
    if worst > budget:
        raise PlanError(
            f"the worst-case training cost is ${worst:,.0f} ({count} × {instance} for max_run={max_run} s), "
            f"over budget_usd={budget:,.0f}; lower max_run or instance_count, or raise the budget"
        )
