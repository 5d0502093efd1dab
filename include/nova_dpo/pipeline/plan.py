"""The run plan: what a pipeline run does, decided and validated once by ``resolve_run``.

A :class:`RunPlan` is a tree of frozen dataclasses: storage, training, evaluation, dataset, gate and ship. It
crosses XCom as JSON (:meth:`RunPlan.to_dict`) and every task reads it back with :meth:`RunPlan.from_dict`.
The recipes in it are resolved: a job carries its recipe and sha256 from here, and nothing resolves it again
(:meth:`ResolvedRecipe.from_dict` only checks the fingerprint).

Defaults live in :mod:`nova_dpo.pipeline.params` (the trigger form) and nowhere else; building a plan
(:func:`nova_dpo.pipeline.run.resolve_run`) is where bad params are refused.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from nova_dpo.gate_rules import GateRules
from nova_dpo.recipes.resolve import ResolvedRecipe

#: The roles of the job outputs that later tasks read, placed under the run's folder (see
#: :func:`nova_dpo.pipeline.run.job_results`).
RESULT_ROLES = ("train", "candidate", "baseline", "judge")


@dataclass(frozen=True)
class StoragePlan:
    """Where the run's files live.

    :param root: the storage root: a local folder, or ``s3://bucket/prefix`` on SageMaker.
    :param run_uri: the run's folder under the root (``{root}/runs/{run_key}``).
    :param job_results: role (:data:`RESULT_ROLES`) -> the folder a job operator places its outputs in
        (its ``results_dir``); None where the platform's own place is shared already.
    """

    root: str
    run_uri: str
    job_results: dict[str, str | None]

    def under_root(self, *parts: str) -> str:
        """A URI under the storage root."""
        return "/".join([self.root.rstrip("/"), *parts])

    def under_run(self, *parts: str) -> str:
        """A URI under the run's folder."""
        return "/".join([self.run_uri.rstrip("/"), *parts])


@dataclass(frozen=True)
class TrainingPlan:
    """The DPO training job.

    :param recipe: the resolved training recipe (config and sha256).
    :param overrides: the recipe overrides the params asked for (form fields, then ``recipe_overrides``).
    :param relaxed: whether values only the wider of two AWS sources allows were accepted.
    :param instance_type: SageMaker instance type; None for the recipe's default.
    :param instance_count: SageMaker instance count.
    :param max_run: seconds after which the job is stopped.
    :param job_name: the job's deterministic name (a retry re-attaches to it).
    :param base_model: the model trained from (a Nova model, or a local model name or folder).
    :param local_options: options only the local platform reads (checked by :class:`LocalTrainingOptions`).
    :param role_arn: the IAM role SageMaker jobs run as (sagemaker only).
    """

    recipe: ResolvedRecipe
    overrides: dict[str, Any]
    relaxed: bool
    instance_type: str | None
    instance_count: int
    max_run: int
    job_name: str
    base_model: str
    local_options: dict[str, Any]
    role_arn: str | None = None


@dataclass(frozen=True)
class EvaluationPlan:
    """The evaluation jobs: gen_qa on candidate and baseline, then llm_judge on their answers.

    :param gen_qa: the resolved gen_qa recipe, ``inference.max_new_tokens`` applied.
    :param llm_judge: the resolved llm_judge recipe.
    :param max_new_tokens: the gen_qa generation limit.
    :param max_eval_rows: test prompts evaluated at most; None for all.
    :param candidate_job_name: the candidate's gen_qa job.
    :param judge_job_name: the llm_judge job.
    :param judge: what judges on the local platform: ``local`` or the judge connection's id (None on
        SageMaker, whose llm_judge job judges with Nova's own model).
    :param judge_conn_id: the Airflow connection of a local run's endpoint judge, if any.
    :param local_options: options only the local platform reads (checked by
        :class:`LocalEvaluationOptions`).
    """

    gen_qa: ResolvedRecipe
    llm_judge: ResolvedRecipe
    max_new_tokens: int
    max_eval_rows: int | None
    candidate_job_name: str
    judge_job_name: str
    judge: str | None
    judge_conn_id: str | None
    local_options: dict[str, Any]


@dataclass(frozen=True)
class DatasetPlan:
    """The dataset version to read and how to prepare it.

    :param source: a Hub id, a local folder or file, or an ``s3://`` URI in the When2Call schema.
    :param revision: a Hub revision or snapshot name; None for the newest at or before the logical date.
    :param ratios: train, validation and test shares (they sum to 1).
    :param min_valid_fraction: the smallest share of valid rows the data stage accepts.
    :param max_length: the recipe's ``training_config.max_length``; longer records are quarantined.
    """

    source: str
    revision: str | None
    ratios: tuple[float, float, float]
    min_valid_fraction: float
    max_length: int


@dataclass(frozen=True)
class ShipPlan:
    """Import, deployment and retention.

    :param approval_required: wait for a human approval before importing.
    :param deploy: deploy the imported model and smoke-test it.
    :param keep_models: imported models kept per family (the champion is never deleted).
    :param model_name: the imported model's name (import is idempotent by it).
    :param deployment_name: the ephemeral deployment the smoke test calls and teardown removes.
    :param import_role_arn: the role Bedrock reads the checkpoint with (sagemaker only).
    :param bedrock_region: the region of every Bedrock call (import, deployment, ``Converse``, deletes), checked
        to offer the import (sagemaker only).
    :param bedrock_conn_id: the Airflow AWS connection of the Bedrock calls (sagemaker only).
    """

    approval_required: bool
    deploy: bool
    keep_models: int
    model_name: str
    deployment_name: str
    import_role_arn: str | None = None
    bedrock_region: str | None = None
    bedrock_conn_id: str | None = None


@dataclass(frozen=True)
class RunPlan:
    """Everything a run does that does not depend on its data.

    :param run_key: a short, sortable, unique folder name for the run.
    :param dag_id: the DAG of the run.
    :param run_id: the DAG run's id.
    :param logical_date: the run's logical date, ISO 8601 (it picks the dataset version).
    :param platform: ``local`` or ``sagemaker``.
    :param family: the model family (micro, lite, pro).
    :param technique: ``lora`` or ``full``.
    """

    run_key: str
    dag_id: str
    run_id: str
    logical_date: str
    platform: str
    family: str
    technique: str
    storage: StoragePlan
    training: TrainingPlan
    evaluation: EvaluationPlan
    dataset: DatasetPlan
    gate: GateRules
    ship: ShipPlan

    @property
    def full_rank(self) -> bool:
        """The candidate is a full-rank model, served on provisioned throughput (a LoRA one is deployed on
        demand)."""
        return self.technique != "lora"

    @property
    def job_names(self) -> list[str]:
        """The jobs this run owns (teardown stops the unfinished ones); the shared baseline job is not one."""
        return [self.training.job_name, self.evaluation.candidate_job_name, self.evaluation.judge_job_name]

    def to_dict(self) -> dict[str, Any]:
        """JSON-serializable; :meth:`from_dict` reads it back."""
        data = {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}
        data["storage"] = dataclasses.asdict(self.storage)
        data["training"] = _section_dict(self.training)
        data["evaluation"] = _section_dict(self.evaluation)
        data["dataset"] = {**dataclasses.asdict(self.dataset), "ratios": list(self.dataset.ratios)}
        data["gate"] = self.gate.to_dict()
        data["ship"] = dataclasses.asdict(self.ship)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | RunPlan) -> RunPlan:
        """The plan :meth:`to_dict` wrote (a plan is returned as it is).

        :raises ValueError: when ``data`` is not a run plan (the message names what is missing).
        """
        if isinstance(data, RunPlan):
            return data
        if not isinstance(data, Mapping):
            raise ValueError(f"a run plan is the dict resolve_run returns, got {type(data).__name__}")
        try:
            return cls(
                **{name: data[name] for name in _SCALARS},
                storage=StoragePlan(**data["storage"]),
                training=_section(TrainingPlan, data["training"]),
                evaluation=_section(EvaluationPlan, data["evaluation"]),
                dataset=DatasetPlan(**{**data["dataset"], "ratios": tuple(data["dataset"]["ratios"])}),
                gate=GateRules.from_dict(data["gate"]),
                ship=ShipPlan(**data["ship"]),
            )
        except (KeyError, TypeError) as error:
            raise ValueError(f"not a run plan from resolve_run ({type(error).__name__}: {error})") from error


_SCALARS = ("run_key", "dag_id", "run_id", "logical_date", "platform", "family", "technique")


def _section_dict(section: Any) -> dict[str, Any]:
    """A section as a dict, its resolved recipes as :meth:`ResolvedRecipe.to_dict`."""
    data = {}
    for field in dataclasses.fields(section):
        value = getattr(section, field.name)
        data[field.name] = value.to_dict() if isinstance(value, ResolvedRecipe) else value
    return data


def _section(kind: type, data: Mapping[str, Any]) -> Any:
    """The section ``kind`` of :func:`_section_dict`'s dict."""
    values = dict(data)
    for field in dataclasses.fields(kind):
        if field.type in ("ResolvedRecipe", ResolvedRecipe) and field.name in values:
            values[field.name] = ResolvedRecipe.from_dict(values[field.name])
    return kind(**values)
