"""The pipeline's parameters: JSON-schema definitions for Airflow's trigger form, and their reading.

Bounds on recipe fields come from the recipe range table (:func:`nova_dpo.recipes.param_bounds`), so the form
and the recipe validation cannot disagree. The form uses the bounds of the default recipe; the run then
validates the resolved recipe of the chosen model and instance exactly, before any job starts.
"""

from __future__ import annotations

import os
from typing import Any

from nova_dpo.gate_rules import GateRules
from nova_dpo.platforms.base import DEFAULT_MAX_RUN
from nova_dpo.platforms.factory import PLATFORMS

#: The pipeline DAG's id (the DAG file, the demo and the deployment tests name it from here).
PIPELINE_DAG_ID = "nova_dpo_pipeline"
FORM_RECIPE = "nova_micro_1_0_p5_p4d_gpu_lora_dpo"
#: The deployment's settings that scheduled runs (which take every default) train with.
PLATFORM_ENV = "NOVA_DPO_PLATFORM"
DATASET_SOURCE_ENV = "NOVA_DPO_DATASET_SOURCE"
DEFAULT_DATASET_SOURCE = "nvidia/When2Call"
FAMILIES = ("micro", "lite", "pro")
TECHNIQUES = ("lora", "full")

# Form field → recipe key. ``None`` in the form keeps the recipe's value.
RECIPE_OVERRIDE_PARAMS: dict[str, str] = {
    "beta": "training_config.model.dpo_cfg.beta",
    "learning_rate": "training_config.model.optim.lr",
    "max_epochs": "training_config.trainer.max_epochs",
    "global_batch_size": "training_config.global_batch_size",
    "max_length": "training_config.max_length",
    "lora_alpha": "training_config.model.peft.lora_tuning.alpha",
    "adapter_dropout": "training_config.model.peft.lora_tuning.adapter_dropout",
    "loraplus_lr_ratio": "training_config.model.peft.lora_tuning.loraplus_lr_ratio",
}

DEFAULT_GATE = {
    "min_relative_gain": {"tool_call_f1": 0.05},
    # Each behaviour, and the choice of tool, must not lose more than its tolerance beyond doubt (absolute: 0.05
    # is five points); aggregates can hide a lost category.
    "no_significant_loss": {
        "behaviour_accuracy_cannot_answer": 0.05,
        "behaviour_accuracy_request_for_info": 0.05,
        "tool_name_accuracy": 0.0,
    },
    "default_regression_tolerance": 0.10,
    "require_judge_win": False,
}

SECTION_RUN = "Platform and model"
SECTION_DATA = "Dataset"
SECTION_TRAINING = "Training job"
SECTION_RECIPE = "DPO recipe overrides (empty = the recipe's value)"
SECTION_EVAL = "Evaluation and gate"
SECTION_SHIP = "Import and deployment"
SECTION_LOCAL = "Local platform"
#: The trigger form's sections in pipeline order. Airflow shows a section where its first param comes, so
#: :func:`param_definitions` lists the params section by section in this order.
SECTIONS = (
    SECTION_RUN,
    SECTION_DATA,
    SECTION_TRAINING,
    SECTION_RECIPE,
    SECTION_EVAL,
    SECTION_SHIP,
    SECTION_LOCAL,
)
#: The label of a nullable select's empty choice (Airflow's form would show ``null``).
RECIPE_VALUE_LABEL = "(the recipe's value)"


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    kind = schema.get("type")
    if "enum" in schema:
        # ``values_display`` is read by the form only; its JSON key for None is "null".
        return {**schema, "enum": [None, *schema["enum"]], "values_display": {"null": RECIPE_VALUE_LABEL}}
    return {**schema, "type": ["null", kind] if kind else ["null", "number"]}


def _recipe_fields() -> dict[str, dict[str, Any]]:
    from nova_dpo.recipes import param_bounds

    bounds = param_bounds(FORM_RECIPE)
    fields = {}
    for name, key in RECIPE_OVERRIDE_PARAMS.items():
        schema = {k: v for k, v in bounds[key].items() if k != "description"}
        description = f"`{key}`: {bounds[key].get('description', '')}"
        fields[name] = {
            "default": None,
            **_nullable(schema),
            "description_md": description,
            "section": SECTION_RECIPE,
        }
    return fields


def param_definitions() -> dict[str, dict[str, Any]]:
    """Every param as keyword arguments for ``airflow.sdk.Param``: ``default`` plus JSON-schema keywords, and
    the form's own: ``section``, ``description_md`` (markdown the form renders; a plain ``description`` shows
    its backticks) and ``values_display`` (a select's labels)."""
    default_platform = os.environ.get(PLATFORM_ENV, "local")
    return {
        "platform": {
            "default": default_platform if default_platform in PLATFORMS else "local",
            "enum": list(PLATFORMS),
            "description_md": "`local` trains a small open model on the worker; `sagemaker` trains Amazon "
            "Nova.",
            "section": SECTION_RUN,
        },
        "storage_root": {
            "default": None,
            "type": ["null", "string"],
            "description_md": "Where datasets, runs, jobs and models live: a folder, or `s3://bucket/prefix` "
            "for `sagemaker`. Empty = env `NOVA_DPO_HOME` (local) or `NOVA_DPO_S3_ROOT` (sagemaker).",
            "section": SECTION_RUN,
        },
        "model_family": {
            "default": "micro",
            "enum": list(FAMILIES),
            "description_md": "Amazon Nova Micro, Lite or Pro (on `local`: the name of the model family in "
            "the store).",
            "section": SECTION_RUN,
        },
        "technique": {
            "default": "lora",
            "enum": list(TECHNIQUES),
            "description_md": "LoRA (deployable on demand in Bedrock) or full-rank DPO (provisioned "
            "throughput).",
            "section": SECTION_RUN,
        },
        "dataset_source": {
            "default": os.environ.get(DATASET_SOURCE_ENV) or DEFAULT_DATASET_SOURCE,
            "type": "string",
            "minLength": 1,
            "description_md": "Hugging Face Hub id, local folder/file, or `s3://` URI in the When2Call "
            f"`train_pref` schema. Default: env `{DATASET_SOURCE_ENV}`, else `{DEFAULT_DATASET_SOURCE}`.",
            "section": SECTION_DATA,
        },
        "dataset_revision": {
            "default": None,
            "type": ["null", "string"],
            "description_md": "Hub commit/branch/tag or snapshot name; empty = newest at or before the "
            "logical date.",
            "section": SECTION_DATA,
        },
        "split_ratios": {
            "default": [0.8, 0.1, 0.1],
            "type": "array",
            "items": {"type": "number", "minimum": 0, "maximum": 1},
            "minItems": 3,
            "maxItems": 3,
            "description_md": "train, validation, test shares (test prompts become the evaluation set).",
            "section": SECTION_DATA,
        },
        "min_valid_fraction": {
            "default": 0.9,
            "type": "number",
            "minimum": 0,
            "maximum": 1,
            "description_md": "Fail the data stage when a smaller share of rows is valid.",
            "section": SECTION_DATA,
        },
        "training_recipe": {
            "default": None,
            "type": ["null", "string"],
            "description_md": "A shipped recipe name or a YAML path, instead of the one chosen from family "
            "and technique.",
            "section": SECTION_TRAINING,
        },
        "instance_type": {
            "default": None,
            "type": ["null", "string"],
            "pattern": r"^ml\.[a-z0-9]+\.[a-z0-9]+$",
            "description_md": "SageMaker training instance type; empty = the recipe's default.",
            "section": SECTION_TRAINING,
        },
        "instance_count": {
            "default": None,
            "type": ["null", "integer"],
            "minimum": 1,
            "maximum": 24,
            "description_md": "Instances for training; empty = the recipe's `run.replicas`.",
            "section": SECTION_TRAINING,
        },
        "max_run": {
            "default": DEFAULT_MAX_RUN,
            "type": "integer",
            "minimum": 600,
            "maximum": 2_419_200,
            "description_md": "Training job time limit in seconds (SageMaker `MaxRuntimeInSeconds`).",
            "section": SECTION_TRAINING,
        },
        "budget_usd": {
            "default": None,
            "type": ["null", "number"],
            "minimum": 0,
            "description_md": "Refuse to start when the worst-case training cost (`max_run` × price) "
            "exceeds this.",
            "section": SECTION_TRAINING,
        },
        **_recipe_fields(),
        "recipe_overrides": {
            "default": {},
            "type": "object",
            "description_md": "Any other recipe keys, dotted (`training_config.model.optim.weight_decay`) "
            "or nested.",
            "section": SECTION_RECIPE,
        },
        "relaxed_recipe": {
            "default": False,
            "type": "boolean",
            "description_md": "Validate to the wider of two conflicting AWS ranges (logged as a warning).",
            "section": SECTION_RECIPE,
        },
        "max_eval_rows": {
            "default": None,
            "type": ["null", "integer"],
            "minimum": 1,
            "description_md": "Evaluate on at most this many test prompts (empty = all).",
            "section": SECTION_EVAL,
        },
        "max_new_tokens": {
            "default": 512,
            "type": "integer",
            "minimum": 1,
            "maximum": 8196,
            "description_md": "Generation limit for `gen_qa` (recipe `inference.max_new_tokens`).",
            "section": SECTION_EVAL,
        },
        "judge_conn_id": {
            "default": None,
            "type": ["null", "string"],
            "pattern": r"^[A-Za-z0-9_.-]{1,250}$",
            "description_md": "Local platform judge: the Airflow connection of an OpenAI-compatible endpoint "
            "(its host, API key as password, `extra.model`); empty = the bundled small model (weak).",
            "section": SECTION_EVAL,
        },
        "judge_model": {
            "default": None,
            "type": ["null", "string"],
            "description_md": "Local judge model name or folder, or the endpoint's model name (empty = the "
            "default).",
            "section": SECTION_EVAL,
        },
        "gate": {
            "default": DEFAULT_GATE,
            **GateRules.json_schema(),
            "description_md": "Gate rules: minimum relative gains, regression tolerance, judge win "
            "requirement.",
            "section": SECTION_EVAL,
        },
        "approval_required": {
            "default": False,
            "type": "boolean",
            "description_md": "Wait for a human to approve in the Airflow UI before importing.",
            "section": SECTION_SHIP,
        },
        "deploy": {
            "default": True,
            "type": "boolean",
            "description_md": "Deploy the imported model and smoke-test it (ephemeral deployments are torn "
            "down).",
            "section": SECTION_SHIP,
        },
        "keep_models": {
            "default": 3,
            "type": "integer",
            "minimum": 1,
            "maximum": 50,
            "description_md": "Imported models kept per family (the champion is never deleted).",
            "section": SECTION_SHIP,
        },
        "base_model": {
            "default": "smollm2-135m-instruct",
            "type": "string",
            "description_md": "Local base model: `smollm2-135m-instruct` (bundled), `tiny-random`, or a "
            "model folder.",
            "section": SECTION_LOCAL,
        },
        "local_options": {
            "default": {"max_rows": 256, "max_steps": -1, "lora_rank": 8},
            "type": "object",
            "description_md": "Local trainer knobs (`lora_rank`, `max_steps`, `max_rows`, `dtype`, "
            "`torch_threads`, ...).",
            "section": SECTION_LOCAL,
        },
        "eval_local_options": {
            "default": {"batch_size": 16},
            "type": "object",
            "description_md": "Local generation knobs (`batch_size`, `dtype`, `torch_threads`, `max_rows`, "
            "...).",
            "section": SECTION_LOCAL,
        },
    }


def default_params() -> dict[str, Any]:
    """Every param at its trigger-form default: what a scheduled run gets."""
    return {name: definition.get("default") for name, definition in param_definitions().items()}


def recipe_overrides(params: dict[str, Any]) -> dict[str, Any]:
    """The recipe overrides a run's params ask for (form fields first, then the free-form dict)."""
    overrides = {
        key: params[name] for name, key in RECIPE_OVERRIDE_PARAMS.items() if params.get(name) is not None
    }
    overrides.update(params.get("recipe_overrides") or {})
    return overrides
