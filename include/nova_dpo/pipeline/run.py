"""``resolve_run``: everything a pipeline run needs, decided and validated before any job starts.

A run plan is a JSON-serializable dict: the platform and storage root, the resolved training recipe (with its
sha256), evaluation recipes, the dataset version read at the run's logical date, gate rules and shipping
options. Bad params fail here, with a message that names the field, before any compute is paid for.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
from typing import Any

from nova_dpo.gate import GateRules
from nova_dpo.pipeline.params import FAMILIES, PLATFORMS, TECHNIQUES, recipe_overrides

S3_ROOT_ENV = "NOVA_DPO_S3_ROOT"
ROLE_ENV = "NOVA_DPO_ROLE_ARN"
IMPORT_ROLE_ENV = "NOVA_DPO_IMPORT_ROLE_ARN"
DEFAULT_MAX_RUN = 86_400
MODEL_NAME_PREFIX = "nova-dpo"


class PlanError(ValueError):
    """The params cannot make a run; the message says which field to fix."""


def select_training_recipe(family: str, technique: str, instance_type: str | None) -> str:
    """The shipped DPO recipe for a model family, technique and (optional) instance type."""
    from nova_dpo.platforms.aws_catalog import RECIPES

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
    from nova_dpo.platforms.aws_catalog import RECIPES

    return {
        spec.task: spec.name
        for spec in RECIPES.values()
        if spec.model == family and spec.task in ("gen_qa", "llm_judge")
    }


def storage_root(platform: str, explicit: str | None) -> str:
    if explicit:
        return explicit
    if platform == "sagemaker":
        root = os.environ.get(S3_ROOT_ENV)
        if not root:
            raise PlanError(f"set the storage_root param or env {S3_ROOT_ENV} to an s3://bucket/prefix")
        return root
    from nova_dpo.platforms.factory import local_root

    return str(local_root())


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
        "train": f"{run_uri}/train" if platform == "sagemaker" else None,
        "candidate": f"{run_uri}/generate/candidate",
        "baseline": f"{run_uri}/generate/baseline",
        "judge": f"{run_uri}/judge",
    }


def run_key(logical_date: dt.datetime, run_id: str) -> str:
    """A short, sortable, unique folder name for a run."""
    digest = hashlib.sha256(run_id.encode()).hexdigest()[:8]
    return f"{logical_date:%Y%m%dT%H%M%S}-{digest}"


def _check_choice(params: dict[str, Any], name: str, choices: tuple[str, ...]) -> str:
    value = params.get(name)
    if value not in choices:
        raise PlanError(f"param {name}={value!r} must be one of {', '.join(choices)}")
    return value


def resolve_run(
    params: dict[str, Any], *, dag_id: str, run_id: str, logical_date: dt.datetime
) -> dict[str, Any]:
    """Validate the params of a run and decide everything that does not need the data.

    :raises PlanError: when a param is invalid (a recipe value out of range, an unknown gate rule, ...).
    """
    from nova_dpo.platforms.sagemaker_requests import job_name
    from nova_dpo.recipes import RecipeOverrideError, RecipeValidationError, resolve_recipe

    platform = _check_choice(params, "platform", PLATFORMS)
    family = _check_choice(params, "model_family", FAMILIES)
    technique = _check_choice(params, "technique", TECHNIQUES)
    instance_type = params.get("instance_type") or None
    recipe_name = params.get("training_recipe") or select_training_recipe(family, technique, instance_type)
    overrides = recipe_overrides(params)
    try:
        recipe = resolve_recipe(
            recipe_name, overrides, relaxed=bool(params.get("relaxed_recipe")), instance_type=instance_type
        )
        gate = GateRules.from_dict(params.get("gate"))
    except (RecipeOverrideError, RecipeValidationError, ValueError) as err:
        raise PlanError(str(err)) from err
    judge_conn_id = _judge_conn_id(platform, params.get("judge_conn_id"))
    eval_options = _evaluation_options(params.get("eval_local_options"), params.get("judge_model"))
    instance_count = params.get("instance_count") or recipe.config["run"].get("replicas", 1)
    max_run = int(params.get("max_run") or DEFAULT_MAX_RUN)
    root = storage_root(platform, params.get("storage_root"))
    _check_budget(platform, recipe.name, instance_type, instance_count, max_run, params.get("budget_usd"))
    ratios = params.get("split_ratios") or [0.8, 0.1, 0.1]
    key = run_key(logical_date, run_id)
    train_job = job_name(dag_id, run_id, "train")
    candidate_job = job_name(dag_id, run_id, "gen-qa-candidate")
    judge_job = job_name(dag_id, run_id, "llm-judge")
    model_name = f"{MODEL_NAME_PREFIX}-{family}-{key}".replace("T", "t")
    return {
        "run_key": key,
        "dag_id": dag_id,
        "run_id": run_id,
        "logical_date": logical_date.isoformat(),
        "platform": platform,
        "family": family,
        "technique": technique,
        "root": root,
        "run_uri": f"{root.rstrip('/')}/runs/{key}",
        # Where the operators place the job output files that later tasks read (their results_dir).
        "job_results": job_results(platform, f"{root.rstrip('/')}/runs/{key}"),
        "job_names": [train_job, candidate_job, judge_job],
        "role_arn": os.environ.get(ROLE_ENV) if platform == "sagemaker" else None,
        # Bedrock reads the escrow checkpoint with a role of its own (it cannot assume SageMaker's).
        "import_role_arn": os.environ.get(IMPORT_ROLE_ENV) if platform == "sagemaker" else None,
        "training": {
            "recipe": recipe_name,
            "overrides": overrides,
            "recipe_sha256": recipe.sha256,
            "relaxed": bool(params.get("relaxed_recipe")),
            "instance_type": instance_type,
            "instance_count": instance_count,
            "max_run": max_run,
            "job_name": train_job,
            "base_model": params.get("base_model")
            if platform == "local"
            else recipe.config["run"]["model_name_or_path"],
            "local_options": params.get("local_options") or {},
        },
        "evaluation": {
            "recipes": evaluation_recipes(family),
            "max_new_tokens": int(params.get("max_new_tokens") or 512),
            "gen_qa_overrides": {"inference.max_new_tokens": int(params.get("max_new_tokens") or 512)},
            "max_eval_rows": params.get("max_eval_rows"),
            # The judge the local platform runs; Nova's llm_judge job judges with its own model.
            "judge": (judge_conn_id or "local") if platform == "local" else None,
            "judge_conn_id": judge_conn_id,
            "judge_job_name": judge_job,
            "local_options": eval_options,
        },
        "dataset": {
            "source": params["dataset_source"],
            "revision": params.get("dataset_revision"),
            "ratios": list(ratios),
            "min_valid_fraction": float(params.get("min_valid_fraction", 0.9)),
            "max_length": int(recipe.config["training_config"]["max_length"]),
        },
        "gate": gate.to_dict(),
        "ship": {
            "approval_required": bool(params.get("approval_required")),
            "deploy": bool(params.get("deploy", True)),
            "keep_models": int(params.get("keep_models", 3)),
            "model_name": model_name,
            # The ephemeral deployment that the smoke test calls and teardown removes.
            "deployment_name": f"{model_name}-smoke",
        },
    }


def _judge_conn_id(platform: str, conn_id: Any) -> str | None:
    """The judge connection of a local run. Its endpoint and key are read by the worker from the connection,
    so a run can pick a judge an administrator set up, never point one at a host of its own."""
    if conn_id in (None, ""):
        return None
    if not isinstance(conn_id, str) or not re.fullmatch(r"[A-Za-z0-9_.-]{1,250}", conn_id):
        raise PlanError(f"param judge_conn_id={conn_id!r} must be an Airflow connection id")
    if platform != "local":
        raise PlanError(
            "param judge_conn_id applies to the local platform only: Nova's llm_judge judges with its own model"
        )
    return conn_id


def _evaluation_options(options: Any, judge_model: Any) -> dict[str, Any]:
    """``eval_local_options`` checked as the local platform will read them, with ``judge_model``.

    The judge is not among them: an endpoint comes only from ``judge_conn_id``.
    """
    from nova_dpo.platforms.local.generation import LocalEvaluationOptions

    if options is None:
        options = {}
    if not isinstance(options, dict):
        raise PlanError(f"param eval_local_options must be an object, got {options!r}")
    if "judge" in options:
        raise PlanError(
            "param eval_local_options: 'judge' cannot be set in a run; a judge endpoint is an Airflow "
            "connection named by judge_conn_id"
        )
    if judge_model not in (None, "") and not isinstance(judge_model, str):
        raise PlanError(f"param judge_model={judge_model!r} must be a model name or folder")
    chosen = {**options, **({"judge_model": judge_model} if judge_model else {})}
    try:
        LocalEvaluationOptions.from_dict(chosen)
    except (TypeError, ValueError) as err:
        raise PlanError(f"param eval_local_options: {err}") from err
    return chosen


def _check_budget(
    platform: str, recipe: str, instance_type: str | None, count: int, max_run: int, budget: float | None
) -> None:
    if platform != "sagemaker" or budget is None:
        return
    from nova_dpo.platforms.aws_catalog import estimate_cost_usd, recipe_spec

    instance = instance_type or recipe_spec(recipe).default_instance_type
    worst = estimate_cost_usd(instance, count, max_run)
    if worst > budget:
        raise PlanError(
            f"the worst-case training cost is ${worst:,.0f} ({count} × {instance} for max_run={max_run} s), "
            f"over budget_usd={budget:,.0f}; lower max_run or instance_count, or raise the budget"
        )
