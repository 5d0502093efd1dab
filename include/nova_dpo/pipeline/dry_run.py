"""A dry run of a run plan: every AWS request the run would send, in order, and none sent.

The requests are built by the code that sends them in a run: the SageMaker platform submits each job
(:meth:`~nova_dpo.platforms.sagemaker.SageMakerPlatform.submit`: the recipe upload, then ``CreateTrainingJob``),
and the pipeline's steps import, deploy, smoke-test and tear down through the Bedrock model store
(:func:`nova_dpo.pipeline.steps.import_model`, ``deploy``, ``smoke_test``, ``teardown``). Only their boto3
clients differ: :class:`RecordingAws` makes them with dummy credentials and hooks botocore's events, so every
request is validated against the service model as botocore validates it before sending, recorded, and answered
as AWS answers a run that goes well (nothing exists until the run creates it; each job completes; each model
and deployment is Active). A request that reached botocore's sending stage would raise :class:`RefusedToSend`.

What the run learns on the way (the dataset version and digest, the escrow checkpoint, the evaluation set) is
shown as ``<...>`` placeholders. S3 reads and writes of the storage root through ``ObjectStoragePath`` (the
dataset upload, results, the report, the champion record) are not listed: they are the storage root's, not
requests this module can build.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nova_dpo.pipeline.plan import RunPlan
from nova_dpo.pipeline.run import DEFAULT_AWS_CONN_ID, IMPORT_ROLE_ENV, ROLE_ENV
from nova_dpo.platforms.base import DEFAULT_MAX_RUN, EvaluationJob, TrainingJob

#: Operations that read or wait: recorded, but listed apart from what creates, deletes or invokes.
READ_PREFIXES = ("Describe", "Get", "List", "Head")
_CLIENT_PARAMS = "nova_dpo_dry_run_params"


class RefusedToSend(RuntimeError):
    """A dry run's client was about to send a request."""


@dataclass(frozen=True)
class AwsRequest:
    """One request of the run, as botocore validated it.

    :param step: the pipeline task that sends it (``train_dpo``, ``generate[candidate]``, ...).
    :param service: the botocore service (``sagemaker``, ``s3``, ``bedrock``, ``bedrock-runtime``).
    :param region: the region it is sent to.
    :param operation: the API operation (``CreateTrainingJob``, ...).
    :param params: its parameters.
    :param worst_case_usd: a training job's cost if it runs until ``MaxRuntimeInSeconds`` (on-demand list
        price, :func:`nova_dpo.catalog.estimate_cost_usd`); None for other requests or an unpriced instance.
    """

    step: str
    service: str
    region: str
    operation: str
    params: dict[str, Any]
    worst_case_usd: float | None = None

    @property
    def reads(self) -> bool:
        return self.operation.startswith(READ_PREFIXES)

    def to_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "service": self.service,
            "region": self.region,
            "operation": self.operation,
            "reads": self.reads,
            "params": _json_ready(self.params),
            "worst_case_usd": self.worst_case_usd,
        }


@dataclass(frozen=True)
class DryRun:
    """The requests of a run plan, in the order the run sends them (reads included)."""

    plan: RunPlan
    region: str
    requests: list[AwsRequest]
    notes: list[str] = field(default_factory=list)

    @property
    def writes(self) -> list[AwsRequest]:
        """The requests that create, upload, invoke, stop or delete."""
        return [request for request in self.requests if not request.reads]

    @property
    def worst_case_usd(self) -> float:
        """The training jobs' cost if each runs until its time limit."""
        return sum(request.worst_case_usd or 0.0 for request in self.requests)

    def to_dict(self) -> dict[str, Any]:
        from nova_dpo.catalog import PRICE_REGION, PRICES_AS_OF

        return {
            "platform": self.plan.platform,
            "dag_id": self.plan.dag_id,
            "run_id": self.plan.run_id,
            "sagemaker": {"region": self.region, "conn_id": DEFAULT_AWS_CONN_ID},
            "bedrock": {"region": self.plan.ship.bedrock_region, "conn_id": self.plan.ship.bedrock_conn_id},
            "requests": [request.to_dict() for request in self.requests],
            "worst_case_usd": round(self.worst_case_usd, 2),
            "price_basis": f"on-demand {PRICE_REGION} list prices as of {PRICES_AS_OF}",
            "notes": self.notes,
        }


def _json_ready(value: Any) -> Any:
    """``value`` as JSON holds it: bytes as text, datetimes in ISO 8601."""
    if isinstance(value, Mapping):
        return {str(key): _json_ready(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(item) for item in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _worst_case_usd(operation: str, params: Mapping[str, Any]) -> float | None:
    if operation != "CreateTrainingJob":
        return None
    from nova_dpo.catalog import estimate_cost_usd

    resources = params["ResourceConfig"]
    seconds = params["StoppingCondition"]["MaxRuntimeInSeconds"]
    try:
        return estimate_cost_usd(resources["InstanceType"], resources["InstanceCount"], seconds)
    except ValueError:
        return None


class RecordingAws:
    """boto3 clients that validate and record every request, answer it from a simulated account, and send none.

    :param account: the account id in the ARNs of the answers.
    """

    def __init__(self, account: str) -> None:
        self.account = account
        self.requests: list[AwsRequest] = []
        self.step = ""
        self._clients: dict[tuple[str, str], Any] = {}
        self._account = _Account(account)

    def clients(self, region: str) -> Callable[[str], Any]:
        """``client(service)`` in ``region``: what :func:`~nova_dpo.platforms.factory.build_platform` and
        :func:`~nova_dpo.pipeline.steps.model_store` take as ``aws``."""
        return lambda service: self.client(service, region)

    def client(self, service: str, region: str) -> Any:
        key = (service, region)
        if key not in self._clients:
            import boto3
            from botocore.config import Config

            session = boto3.session.Session(
                aws_access_key_id="dry-run", aws_secret_access_key="dry-run", region_name=region
            )
            client = session.client(
                service, config=Config(parameter_validation=True, retries={"total_max_attempts": 1})
            )
            events = client.meta.events
            events.register_first("provide-client-params", _keep_params)
            events.register_last("before-call", self._answer)
            events.register_first("before-send", _refuse)
            self._clients[key] = client
        return self._clients[key]

    def _answer(self, model: Any, context: dict[str, Any], **_: Any) -> tuple[Any, dict[str, Any]] | None:
        from botocore.awsrequest import AWSResponse

        service = model.service_model.service_name
        params = context[_CLIENT_PARAMS]
        self.requests.append(
            AwsRequest(
                self.step,
                service,
                context["client_region"],
                model.name,
                params,
                _worst_case_usd(model.name, params),
            )
        )
        answer = self._account.answer(service, model.name, params, context["client_region"])
        if answer is None:
            return None  # botocore goes on to send it, and "before-send" refuses
        status, parsed = answer
        return AWSResponse(None, status, {}, None), {**parsed, "ResponseMetadata": {"HTTPStatusCode": status}}

    @contextlib.contextmanager
    def in_step(self, step: str) -> Iterator[None]:
        """Label the requests sent inside as the pipeline task ``step``'s."""
        self.step = step
        try:
            yield
        finally:
            self.step = ""


def _keep_params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    # The parameters as the caller gave them, before botocore's handlers adapt them for the wire (S3 wraps a
    # Body in a file object); botocore validates them before "before-call", where they are recorded.
    # Returning None keeps them as they are.
    context[_CLIENT_PARAMS] = copy.deepcopy(params)


def _refuse(request: Any, **_: Any) -> None:
    raise RefusedToSend(f"a dry run sends nothing, and was about to send {request.method} {request.url}")


class _Account:
    """What AWS answers a run that goes well: nothing exists until the run creates it, then it is done
    (Completed, Active, InService). Only what the pipeline's code reads of an answer is given; an operation
    without an answer here gets an empty one."""

    def __init__(self, account: str) -> None:
        self.account = account
        self.jobs: dict[str, dict[str, Any]] = {}
        self.models: dict[str, dict[str, Any]] = {}
        self.deployments: dict[str, dict[str, Any]] = {}
        self.throughputs: dict[str, dict[str, Any]] = {}
        self.tags: dict[str, list[dict[str, str]]] = {}
        self.answers: dict[tuple[str, str], Callable[[dict[str, Any], str], tuple[int, dict[str, Any]]]] = {
            ("sagemaker", "DescribeTrainingJob"): self.describe_job,
            ("sagemaker", "CreateTrainingJob"): self.create_job,
            ("bedrock", "GetCustomModel"): self.get_model,
            ("bedrock", "CreateCustomModel"): self.create_model,
            ("bedrock", "ListCustomModels"): self.list_models,
            ("bedrock", "ListTagsForResource"): self.list_tags,
            ("bedrock", "ListCustomModelDeployments"): self.list_deployments,
            ("bedrock", "CreateCustomModelDeployment"): self.create_deployment,
            ("bedrock", "GetProvisionedModelThroughput"): self.get_throughput,
            ("bedrock", "CreateProvisionedModelThroughput"): self.create_throughput,
            ("bedrock-runtime", "Converse"): self.converse,
            # What the run uploads, stops or deletes: AWS answers with no more than its status.
            **dict.fromkeys(
                [
                    ("s3", "PutObject"),
                    ("sagemaker", "StopTrainingJob"),
                    ("bedrock", "DeleteCustomModel"),
                    ("bedrock", "DeleteCustomModelDeployment"),
                    ("bedrock", "DeleteProvisionedModelThroughput"),
                ],
                self.done,
            ),
        }

    def answer(
        self, service: str, operation: str, params: dict[str, Any], region: str
    ) -> tuple[int, dict[str, Any]] | None:
        """The status and parsed answer of a request; None for a request this account does not know."""
        answer = self.answers.get((service, operation))
        return answer(params, region) if answer else None

    def done(self, params: dict[str, Any], region: str) -> tuple[int, dict[str, Any]]:
        return 200, {}

    def arn(self, service: str, region: str, resource: str) -> str:
        return f"arn:aws:{service}:{region}:{self.account}:{resource}"

    @staticmethod
    def found(resource: dict[str, Any] | None, code: str, message: str) -> tuple[int, dict[str, Any]]:
        return (200, resource) if resource else (400, {"Error": {"Code": code, "Message": message}})

    @staticmethod
    def named(resources: dict[str, dict[str, Any]], identifier: str, arn_key: str) -> dict[str, Any] | None:
        """The resource of that name or ARN."""
        return resources.get(identifier) or next(
            (item for item in resources.values() if item[arn_key] == identifier), None
        )

    def describe_job(self, params: dict[str, Any], region: str) -> tuple[int, dict[str, Any]]:
        job = self.jobs.get(params["TrainingJobName"])
        # SageMaker's answer for a job that does not exist.
        return self.found(job, "ValidationException", "Requested resource not found.")

    def create_job(self, params: dict[str, Any], region: str) -> tuple[int, dict[str, Any]]:
        name = params["TrainingJobName"]
        arn = self.arn("sagemaker", region, f"training-job/{name}")
        self.jobs[name] = {
            "TrainingJobName": name,
            "TrainingJobArn": arn,
            "TrainingJobStatus": "Completed",
            "SecondaryStatus": "Completed",
            "AlgorithmSpecification": params["AlgorithmSpecification"],
            "ResourceConfig": params["ResourceConfig"],
            "StoppingCondition": params["StoppingCondition"],
            "CreationTime": datetime.now(UTC),
        }
        return 200, {"TrainingJobArn": arn}

    def get_model(self, params: dict[str, Any], region: str) -> tuple[int, dict[str, Any]]:
        model = self.named(self.models, params["modelIdentifier"], "modelArn")
        return self.found(model, "ResourceNotFoundException", "Model not found.")

    def create_model(self, params: dict[str, Any], region: str) -> tuple[int, dict[str, Any]]:
        name = params["modelName"]
        arn = self.arn("bedrock", region, "custom-model/imported/<model id>")
        self.models[name] = {
            "modelArn": arn,
            "modelName": name,
            "modelStatus": "Active",
            "customizationType": "IMPORTED",
            "creationTime": datetime.now(UTC),
        }
        self.tags[arn] = params.get("modelTags", [])
        return 202, {"modelArn": arn}

    def list_models(self, params: dict[str, Any], region: str) -> tuple[int, dict[str, Any]]:
        part = params.get("nameContains", "")
        return 200, {"modelSummaries": [m for m in self.models.values() if part in m["modelName"]]}

    def list_tags(self, params: dict[str, Any], region: str) -> tuple[int, dict[str, Any]]:
        return 200, {"tags": self.tags.get(params["resourceARN"], [])}

    def list_deployments(self, params: dict[str, Any], region: str) -> tuple[int, dict[str, Any]]:
        part = params.get("nameContains", "")
        found = [d for d in self.deployments.values() if part in d["customModelDeploymentName"]]
        return 200, {"modelDeploymentSummaries": found}

    def create_deployment(self, params: dict[str, Any], region: str) -> tuple[int, dict[str, Any]]:
        name = params["modelDeploymentName"]
        arn = self.arn("bedrock", region, "custom-model-deployment/<deployment id>")
        self.deployments[name] = {
            "customModelDeploymentArn": arn,
            "customModelDeploymentName": name,
            "modelArn": params["modelArn"],
            "status": "Active",
            "createdAt": datetime.now(UTC),
        }
        return 202, {"customModelDeploymentArn": arn}

    def get_throughput(self, params: dict[str, Any], region: str) -> tuple[int, dict[str, Any]]:
        found = self.named(self.throughputs, params["provisionedModelId"], "provisionedModelArn")
        return self.found(found, "ResourceNotFoundException", "Provisioned throughput not found.")

    def create_throughput(self, params: dict[str, Any], region: str) -> tuple[int, dict[str, Any]]:
        name = params["provisionedModelName"]
        arn = self.arn("bedrock", region, "provisioned-model/<throughput id>")
        self.throughputs[name] = {
            "provisionedModelArn": arn,
            "provisionedModelName": name,
            "modelArn": params["modelId"],
            "status": "InService",
        }
        return 201, {"provisionedModelArn": arn}

    def converse(self, params: dict[str, Any], region: str) -> tuple[int, dict[str, Any]]:
        # No model answers a dry run: the reply is empty, and the smoke test's verdict is not the dry run's.
        return 200, {
            "output": {"message": {"role": "assistant", "content": []}},
            "stopReason": "end_turn",
            "usage": {"inputTokens": 0, "outputTokens": 0, "totalTokens": 0},
            "metrics": {"latencyMs": 0},
        }


# ------------------------------------------------------------------------------------------------ the run


@dataclass(frozen=True)
class Upstream:
    """What the tasks before the AWS steps hand them, as in a run; ``<...>`` where the run learns it on the way.

    :param dataset: ``upload``'s result: the dataset version, its digest and files.
    :param training: the training task's result: its job and the escrow checkpoint.
    :param eval_set: ``evaluation_set``'s result: the content-addressed gen_qa set.
    :param judge_pairs: ``judge_pairs``'s result: the run's ``llm_judge.jsonl``.
    """

    dataset: dict[str, Any]
    training: dict[str, Any]
    eval_set: dict[str, Any]
    judge_pairs: str

    @classmethod
    def of(cls, plan: RunPlan, account: str) -> Upstream:
        from nova_dpo.pipeline import steps

        folder = plan.storage.under_root("datasets/<source>/<version>/<sha12>")
        return cls(
            dataset={
                "version": {"source": plan.dataset.source, "version": "<version>"},
                "content_sha256": "<sha256 of the dataset>",
                "files": {name: f"{folder}/{name}" for name in ("train.jsonl", "validation.jsonl")},
            },
            training={
                "job_name": plan.training.job_name,
                "outputs": {
                    "checkpoint_uri": f"s3://customer-escrow-{account}-smtj-<id>/{plan.training.job_name}"
                },
            },
            eval_set={
                "uri": plan.storage.under_root("eval-sets/<sha16>/gen_qa.jsonl"),
                "sha256": "<sha256 of the evaluation set>",
            },
            judge_pairs=steps.judge_pairs_uri(plan),
        )


def training_job(plan: RunPlan, upstream: Upstream) -> TrainingJob:
    """The ``train_dpo`` task's job (``NovaDpoTrainingOperator`` with the plan and ``upload``'s files)."""
    training = plan.training
    files = upstream.dataset["files"]
    return TrainingJob(
        name=training.job_name,
        recipe=training.recipe.config,
        output_uri=plan.storage.under_run("jobs"),
        local=dict(training.local_options),
        instance_type=training.instance_type,
        instance_count=training.instance_count,
        max_run=training.max_run,
        train_uri=files["train.jsonl"],
        validation_uri=files["validation.jsonl"],
        base_model=training.base_model,
    )


def evaluation_jobs(
    plan: RunPlan, upstream: Upstream, baseline: Mapping[str, str]
) -> dict[str, EvaluationJob]:
    """The evaluation tasks' jobs by task (``generate[candidate]``, ``generate[baseline]``, ``llm_judge``):
    ``NovaEvaluationOperator`` with the plan and what ``evaluation_targets`` and ``judge_pairs`` give it."""
    from nova_dpo.pipeline import steps

    evaluation = plan.evaluation
    targets = steps.evaluation_targets(plan, upstream.training, upstream.eval_set, baseline)
    judge_model = evaluation.judge or evaluation.llm_judge.config["run"]["model_name_or_path"]
    arguments = [
        *[
            (f"generate[{role}]", evaluation.gen_qa, target)
            for role, target in zip((steps.CANDIDATE, steps.BASELINE), targets, strict=True)
        ],
        (
            "llm_judge",
            evaluation.llm_judge,
            {
                "job_name": evaluation.judge_job_name,
                "model_uri": judge_model,
                "data_uri": upstream.judge_pairs,
            },
        ),
    ]
    return {
        step: EvaluationJob(
            name=target["job_name"],
            recipe=recipe.config,
            output_uri=target.get("output_path") or plan.storage.under_run("jobs"),
            local=dict(evaluation.local_options),
            max_run=DEFAULT_MAX_RUN,
            task=recipe.spec.task,
            data_uri=target["data_uri"],
            model_uri=target["model_uri"],
        )
        for step, recipe, target in arguments
    }


def dry_run(plan: RunPlan, region: str) -> DryRun:
    """Every AWS request of ``plan``'s run, in order, built by the pipeline's own code and sent nowhere.

    :param region: the region of the SageMaker jobs (the ``aws_default`` connection's); Bedrock's is the plan's.
    :raises ValueError: the platform sends no AWS request, or a setting every run needs is missing.
    """
    from nova_dpo.evaluation.smoke_test import SmokeTestFailed
    from nova_dpo.pipeline import steps
    from nova_dpo.platforms.factory import build_platform, platform_traits

    if not platform_traits(plan.platform).bills:
        raise ValueError(
            f"the {plan.platform} platform sends no AWS request and bills nothing: nothing to dry-run"
        )
    role = plan.training.role_arn
    if not role:
        raise ValueError(f"set env {ROLE_ENV} to the IAM role the SageMaker jobs run as: every job needs it")
    if not plan.ship.import_role_arn:
        raise ValueError(f"set env {IMPORT_ROLE_ENV} to the IAM role Bedrock imports the trained model with")
    account = role.split(":")[4] if role.count(":") >= 5 else "<account>"
    aws = RecordingAws(account)
    upstream = Upstream.of(plan, account)

    def submit(step: str, job: TrainingJob | EvaluationJob, relaxed: bool = False) -> None:
        # As the job operators build it: the plan's role, the job's output folder, the connection's region.
        platform = build_platform(
            plan.platform, role_arn=role, output_path=job.output_uri, relaxed=relaxed, aws=aws.clients(region)
        )
        with aws.in_step(step):
            platform.submit(job)

    with _quiet_pipeline_logs(), tempfile.TemporaryDirectory(prefix="nova-dpo-dry-run-") as nothing:
        # The run registry (the champion) is read from storage in a run; a dry run reads an empty folder.
        def registry(uri: str) -> Path:
            return Path(nothing) / uri.partition("://")[2]

        submit("train_dpo", training_job(plan, upstream), relaxed=plan.training.relaxed)
        baseline = steps.baseline_model(plan, registry)
        for step, job in evaluation_jobs(plan, upstream, baseline).items():
            submit(step, job)
        store = steps.model_store(
            plan, aws=aws.clients(plan.ship.bedrock_region), path_factory=registry, log=_SILENT
        )
        with aws.in_step("import_model"):
            imported = steps.import_model(plan, store, upstream.dataset, upstream.training)
        deployment: dict[str, str] = {}
        if plan.ship.deploy:
            with aws.in_step("deploy"):
                deployed = steps.deploy(plan, store, {"model_id": imported.model_id})
            deployment = {"deployment_name": deployed.name, "deployment_id": deployed.deployment_id}
            with aws.in_step("smoke_test"), contextlib.suppress(SmokeTestFailed):
                steps.smoke_test(plan, store, deployment, log=_SILENT)
        with aws.in_step("teardown"):
            steps.teardown(
                plan,
                lambda: build_platform(plan.platform, aws=aws.clients(region)),
                store,
                plan.job_names,
                deployment,
            )
    return DryRun(plan, region, aws.requests, _notes(plan, baseline))


def _notes(plan: RunPlan, baseline: Mapping[str, str]) -> list[str]:
    return [
        "Values in <angle brackets> are learned by the run on the way: the dataset version and digest, the escrow "
        "checkpoint the training job's manifest.json names, the evaluation set's digest (which also names the "
        "baseline's job), the ids in the ARNs Bedrock returns.",
        f"The baseline is {baseline['name']} ({baseline['kind']}): the family's champion when the run registry "
        "has one, which a dry run does not read.",
        f"teardown also deletes the family's imported models beyond keep_models={plan.ship.keep_models} (never "
        "the champion); a dry run knows of none but the one this run imports.",
        "The smoke test's Converse request is listed; no model answers a dry run.",
        "Bedrock bills the import, the deployment and Converse at its own prices, which are not estimated here.",
    ]


@contextlib.contextmanager
def _quiet_pipeline_logs() -> Iterator[None]:
    """The pipeline's own log lines say "Created job ..." and "imported ...": not true of a dry run."""
    logger = logging.getLogger("nova_dpo")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


# A logger that says nothing, for the steps that take one.
_SILENT = logging.Logger("nova_dpo.dry_run.silent", level=logging.CRITICAL + 1)
