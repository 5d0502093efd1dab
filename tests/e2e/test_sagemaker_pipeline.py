"""The whole DAG on the ``sagemaker`` platform, end to end, with AWS faked on this machine.

* S3 and SageMaker are a moto server: the DAG's ``ObjectStoragePath`` reaches it through the ``aws_default``
  connection, the hooks' boto3 clients through their ``conn``. moto's training jobs complete at once and
  write nothing, so :class:`NovaJobsFake` hooks ``CreateTrainingJob`` on the SageMaker client (after botocore
  has validated the request) and writes the ``output.tar.gz`` a Nova job leaves: ``manifest.json`` with the
  escrow checkpoint and the training metrics for DPO; results and ``inference_output.jsonl`` for gen_qa;
  the judge's results for llm_judge.
* Bedrock and Bedrock runtime (which moto lacks) are real boto3 clients under botocore's Stubber: every
  request is validated against the service model and the expected parameters, in the order the DAG makes
  them, and every response against the output shape.
* Every task runs "on another worker": whatever a task that waited for a SageMaker job extracted on its
  machine is deleted before the next task runs (:func:`other_worker`), so the run passes only if the tasks
  hand each other storage-root URIs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import math
import shutil
import tarfile
from pathlib import Path
from typing import Any
from unittest import mock

import boto3
import pytest
import yaml
from botocore.stub import ANY, Stubber

from nova_dpo.data.synthesize import write_synthetic
from nova_dpo.pipeline.params import DEFAULT_GATE
from tests.bedrock_fakes import converse_response, not_found
from tests.pipeline_tasks import SHIPPING_TASK_IDS, SKIPPED_WHEN_SHIPPING

REPO = Path(__file__).resolve().parents[2]
SNAPSHOTS = (dt.date(2026, 1, 5), dt.date(2026, 1, 12))
REGION = "us-east-1"
ACCOUNT = "123456789012"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/NovaDpoSageMaker"
IMPORT_ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/NovaDpoBedrockImport"
MODEL_ARN = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:custom-model/imported/nv0dp0m0de11"
DEPLOYMENT_ARN = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:custom-model-deployment/nv0dp0dep10y"
BASE_MODEL = "nova-micro/prod"
CREATED = dt.datetime(2026, 1, 13, tzinfo=dt.UTC)
WORSE_ANSWER = "I'm sorry, I can't help with that."
SMOKE_ANSWER = json.dumps({"name": "get_current_weather", "parameters": {"city": "Paris"}})
pytestmark = pytest.mark.slow


class Like:
    """An expected Stubber parameter that matches any value for which ``predicate`` holds."""

    def __init__(self, predicate, description: str) -> None:
        self.predicate = predicate
        self.description = description

    def __eq__(self, other: object) -> bool:
        return bool(self.predicate(other))

    def __repr__(self) -> str:
        return f"<{self.description}>"


def _tar_gz(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = int(CREATED.timestamp())
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _split(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def _jsonl(rows: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(row) + "\n" for row in rows).encode()


class NovaJobsFake:
    """What a Nova training or evaluation job leaves in S3, written when the job is created.

    A model evaluated from an escrow checkpoint (``base_model_location``) answers every gen_qa prompt with
    its gold response; the base model answers two prompts in three with :data:`WORSE_ANSWER`. The judge
    prefers any answer to :data:`WORSE_ANSWER` and calls the rest ties.
    """

    def __init__(self, s3_client: Any) -> None:
        self.s3 = s3_client
        self.jobs: dict[str, str] = {}
        self.checkpoints: set[str] = set()

    def install(self, sagemaker_client: Any) -> None:
        # before-call fires after botocore validated the request against the service model.
        sagemaker_client.meta.events.register("before-call.sagemaker.CreateTrainingJob", self._created)

    def _get(self, uri: str) -> bytes:
        bucket, key = _split(uri)
        return self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()

    def _created(self, params: dict[str, Any], **_: Any) -> None:
        request = json.loads(params["body"])
        name = request["TrainingJobName"]
        channels = {
            channel["ChannelName"]: channel["DataSource"]["S3DataSource"]
            for channel in request["InputDataConfig"]
        }
        recipe_file = Path(request["HyperParameters"]["sagemaker_recipe_local_path"]).name
        recipe = yaml.safe_load(self._get(channels["recipe"]["S3Uri"].rstrip("/") + "/" + recipe_file))
        if "evaluation" in recipe:
            task = recipe["evaluation"]["task"]
            data = [json.loads(line) for line in self._get(channels["train"]["S3Uri"]).splitlines() if line]
            trained = "base_model_location" in request["HyperParameters"]
            files = self._gen_qa(recipe, data, trained) if task == "gen_qa" else self._judge(recipe, data)
        else:
            task = "dpo"
            assert channels["train"]["S3DataType"] == "Converse", channels
            files = self._training(name)
        archive = f"{request['OutputDataConfig']['S3OutputPath'].rstrip('/')}/{name}/output/output.tar.gz"
        bucket, key = _split(archive)
        self.s3.put_object(Bucket=bucket, Key=key, Body=_tar_gz(files))
        self.jobs[name] = task

    def _training(self, name: str) -> dict[str, bytes]:
        unique = hashlib.sha256(name.encode()).hexdigest()[:12]
        checkpoint = f"s3://customer-escrow-{ACCOUNT}-smtj-{unique}/{name}"
        self.checkpoints.add(checkpoint)
        curve = "step_number,training_loss\n" + "".join(
            f"{step},{0.69 * math.exp(-step / 8):.4f}\n" for step in range(1, 17)
        )
        return {
            "manifest.json": json.dumps({"checkpoint_s3_bucket": checkpoint}).encode(),
            "step_wise_training_metrics.csv": curve.encode(),
        }

    @staticmethod
    def _results(task_key: str, metrics: dict[str, float]) -> bytes:
        document = {
            "config_general": {"model_name": "nova", "job_start_time": CREATED.isoformat()},
            "results": {task_key: metrics, "all": metrics},
            "versions": {task_key: 0},
        }
        return json.dumps(document).encode()

    def _gen_qa(self, recipe: dict, rows: list[dict], trained: bool) -> dict[str, bytes]:
        answers = [
            row["response"] if trained or index % 3 == 0 else WORSE_ANSWER for index, row in enumerate(rows)
        ]
        exact = sum(answer == row["response"] for answer, row in zip(answers, rows, strict=True)) / len(rows)
        stderr = math.sqrt(exact * (1 - exact) / len(rows))
        metrics = {}
        for metric in ("rouge1", "rouge2", "rougeL", "exact_match", "quasi_exact_match", "f1_score"):
            metrics |= {metric: exact, f"{metric}_stderr": stderr}
        metrics |= {"bleu": 100 * exact, "bleu_stderr": 100 * stderr}
        folder = f"{recipe['run']['name']}/eval_results"
        inference = [
            {
                "prompt": row["query"],
                "inference": [answer],
                "gold": row["response"],
                "metadata": row["metadata"],
            }
            for answer, row in zip(answers, rows, strict=True)
        ]
        return {
            f"{folder}/results_2026-01-13T00-10-00.000000.json": self._results(
                "custom|gen_qa_gen_qa|0", metrics
            ),
            f"{folder}/inference_output.jsonl": _jsonl(inference),
        }

    def _judge(self, recipe: dict, pairs: list[dict]) -> dict[str, bytes]:
        a_wins = sum(p["response_B"] == WORSE_ANSWER != p["response_A"] for p in pairs)
        b_wins = sum(p["response_A"] == WORSE_ANSWER != p["response_B"] for p in pairs)
        ties = len(pairs) - a_wins - b_wins
        winrate = (b_wins + ties / 2) / len(pairs)
        spread = 1.96 * math.sqrt(max(winrate * (1 - winrate), 0.01) / len(pairs))
        metrics = {
            "a_scores": 2.0 * a_wins,
            "a_scores_stderr": 0.0,
            "b_scores": 2.0 * b_wins,
            "b_scores_stderr": 0.0,
            "ties": 2.0 * ties,
            "ties_stderr": 0.0,
            "inference_error": 0.0,
            "inference_error_stderr": 0.0,
            "score": 2.0 * b_wins,
            "score_stderr": 0.0,
            "winrate": winrate,
            "lower_rate": max(0.0, winrate - spread),
            "upper_rate": min(1.0, winrate + spread),
        }
        folder = f"{recipe['run']['name']}/eval_results"
        return {
            f"{folder}/results_2026-01-13T00-20-00.000000.json": self._results(
                "custom|llm_judge_judge|0", metrics
            )
        }


# ------------------------------------------------------------------------------------------------ Bedrock


def _model_name() -> Like:
    return Like(lambda name: isinstance(name, str) and name.startswith("nova-dpo-micro-"), "model name")


def expect_shipping(bedrock: Stubber, runtime: Stubber, fake: NovaJobsFake) -> None:
    """The Bedrock calls of a run whose candidate passes the gate: import, deploy, smoke test, teardown."""
    model = {"modelArn": MODEL_ARN, "modelName": "nova-dpo-micro-imported", "creationTime": CREATED}
    not_found(bedrock, "get_custom_model", modelIdentifier=_model_name())
    bedrock.add_response(
        "create_custom_model",
        {"modelArn": MODEL_ARN},
        {
            "modelName": _model_name(),
            "modelSourceConfig": {
                "s3DataSource": {"s3Uri": Like(fake.checkpoints.__contains__, "an escrow checkpoint")}
            },
            "roleArn": IMPORT_ROLE_ARN,
            "modelTags": ANY,
            "clientRequestToken": ANY,
        },
    )
    bedrock.add_response(
        "get_custom_model",
        {**model, "modelStatus": "Active", "customizationType": "IMPORTED"},
        {"modelIdentifier": MODEL_ARN},
    )
    deployment_name = Like(
        lambda name: name.startswith("nova-dpo-micro-") and name.endswith("-smoke"), "name"
    )
    bedrock.add_response(
        "list_custom_model_deployments", {"modelDeploymentSummaries": []}, {"nameContains": deployment_name}
    )
    bedrock.add_response(
        "create_custom_model_deployment",
        {"customModelDeploymentArn": DEPLOYMENT_ARN},
        {
            "modelDeploymentName": deployment_name,
            "modelArn": MODEL_ARN,
            "description": ANY,
            "clientRequestToken": ANY,
        },
    )
    bedrock.add_response(
        "get_custom_model_deployment",
        {
            "customModelDeploymentArn": DEPLOYMENT_ARN,
            "modelDeploymentName": "nova-dpo-micro-imported-smoke",
            "modelArn": MODEL_ARN,
            "createdAt": CREATED,
            "status": "Active",
        },
        {"customModelDeploymentIdentifier": DEPLOYMENT_ARN},
    )
    runtime.add_response(
        "converse",
        converse_response({"text": SMOKE_ANSWER}),
        {"modelId": DEPLOYMENT_ARN, "messages": ANY, "system": ANY, "inferenceConfig": ANY},
    )
    # teardown: the smoke deployment goes; the only model of the family is kept.
    bedrock.add_response(
        "delete_custom_model_deployment", {}, {"customModelDeploymentIdentifier": DEPLOYMENT_ARN}
    )
    expect_listing(bedrock, model)


def expect_rejection(bedrock: Stubber) -> None:
    """The Bedrock calls of a rejected run: teardown looks for the deployment a deploy would have made."""
    model = {"modelArn": MODEL_ARN, "modelName": "nova-dpo-micro-imported", "creationTime": CREATED}
    deployment_name = Like(
        lambda name: name.startswith("nova-dpo-micro-") and name.endswith("-smoke"), "name"
    )
    not_found(bedrock, "delete_custom_model_deployment", customModelDeploymentIdentifier=deployment_name)
    expect_listing(bedrock, model)


def expect_listing(bedrock: Stubber, model: dict[str, Any]) -> None:
    bedrock.add_response(
        "list_custom_models",
        {
            "modelSummaries": [
                {
                    **model,
                    "baseModelArn": f"arn:aws:bedrock:{REGION}::foundation-model/amazon.nova-micro-v1:0:128k",
                    "baseModelName": "Nova Micro",
                    "customizationType": "IMPORTED",
                    "modelStatus": "Active",
                }
            ]
        },
        {"nameContains": "nova-dpo-micro-", "sortBy": "CreationTime", "sortOrder": "Descending"},
    )


# ----------------------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def pipeline():
    """The pipeline DAG as the scheduler would load it, on a fresh metadata database, without retries (a
    failed task fails the run at once instead of waiting for its retry delay)."""
    from airflow.dag_processing.dagbag import DagBag
    from airflow.utils import db

    db.resetdb()
    bag = DagBag(str(REPO / "dags"))
    assert not bag.import_errors, bag.import_errors
    dag = bag.get_dag("nova_dpo_pipeline")
    for task in dag.tasks:
        task.retries = 0
    return dag


@pytest.fixture
def aws(moto_server, aws_default_connection, tmp_path, monkeypatch):
    """S3 and SageMaker on the moto server, Bedrock stubbed, and the hooks and connection pointing there."""
    import uuid

    from airflow.providers.amazon.aws.hooks.bedrock import BedrockHook, BedrockRuntimeHook
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook
    from airflow.providers.amazon.aws.hooks.sagemaker import SageMakerHook

    keys = aws_default_connection
    s3 = boto3.client("s3", endpoint_url=moto_server, **keys)
    sagemaker = boto3.client("sagemaker", endpoint_url=moto_server, **keys)
    bucket = f"nova-dpo-e2e-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    fake = NovaJobsFake(boto3.client("s3", endpoint_url=moto_server, **keys))
    fake.install(sagemaker)

    monkeypatch.setenv("NOVA_DPO_S3_ROOT", f"s3://{bucket}/root")
    monkeypatch.setenv("NOVA_DPO_ROLE_ARN", ROLE_ARN)
    monkeypatch.setenv("NOVA_DPO_IMPORT_ROLE_ARN", IMPORT_ROLE_ARN)
    # The data stage and the extracted job outputs live on the worker.
    monkeypatch.setenv("NOVA_DPO_HOME", str(tmp_path / "worker"))
    write_synthetic(tmp_path / "source", 160, seed=3, snapshots=SNAPSHOTS)

    bedrock = boto3.client("bedrock", **keys)
    runtime = boto3.client("bedrock-runtime", **keys)
    with (
        Stubber(bedrock) as bedrock_stub,
        Stubber(runtime) as runtime_stub,
        mock.patch.object(SageMakerHook, "conn", new_callable=mock.PropertyMock, return_value=sagemaker),
        mock.patch.object(S3Hook, "conn", new_callable=mock.PropertyMock, return_value=s3),
        mock.patch.object(BedrockHook, "conn", new_callable=mock.PropertyMock, return_value=bedrock),
        mock.patch.object(BedrockRuntimeHook, "conn", new_callable=mock.PropertyMock, return_value=runtime),
    ):
        yield {
            "bucket": bucket,
            "s3": s3,
            "sagemaker": sagemaker,
            "fake": fake,
            "bedrock": bedrock_stub,
            "runtime": runtime_stub,
            "source": tmp_path / "source",
        }


@pytest.fixture
def other_worker(monkeypatch):
    """Each task as if it ran on a worker of its own: every folder ``SageMakerPlatform.outputs`` extracted a
    job's ``output.tar.gz`` into is deleted when the operator's ``job_outputs`` returns, before any later task
    runs. Returns those folders."""
    from nova_dpo.platforms.sagemaker import SageMakerPlatform
    from nova_dpo_airflow.operators.nova_jobs import NovaJobBaseOperator

    extracted: list[Path] = []
    outputs, job_outputs = SageMakerPlatform.outputs, NovaJobBaseOperator.job_outputs

    def recording_outputs(self, ref, local_dir=None):
        extracted.append(Path(local_dir) if local_dir is not None else self.download_dir / ref.name)
        return outputs(self, ref, local_dir)

    def forgetting_job_outputs(self, platform, ref):
        result = job_outputs(self, platform, ref)
        for folder in extracted:
            shutil.rmtree(folder, ignore_errors=True)
        return result

    monkeypatch.setattr(SageMakerPlatform, "outputs", recording_outputs)
    monkeypatch.setattr(NovaJobBaseOperator, "job_outputs", forgetting_job_outputs)
    return extracted


def job_xcoms(run) -> dict[str, Any]:
    """What the job tasks handed to the next ones: train_dpo, each generate map index, llm_judge."""
    values = {}
    for ti in run.get_task_instances():
        if ti.task_id in ("train_dpo", "evaluate.generate", "evaluate.llm_judge"):
            key = ti.task_id if ti.map_index < 0 else f"{ti.task_id}[{ti.map_index}]"
            values[key] = ti.xcom_pull(task_ids=ti.task_id, map_indexes=ti.map_index)
    return values


def conf(aws: dict, **overrides) -> dict:
    return {
        "platform": "sagemaker",
        "dataset_source": str(aws["source"]),
        "model_family": "micro",
        "technique": "lora",
        "max_eval_rows": 40,
        "max_new_tokens": 256,
        **overrides,
    }


def states(run) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in run.get_task_instances()}


def read_json(aws: dict, key: str) -> Any:
    return json.loads(aws["s3"].get_object(Bucket=aws["bucket"], Key=key)["Body"].read())


def keys_under(aws: dict, prefix: str) -> list[str]:
    pages = aws["s3"].get_paginator("list_objects_v2").paginate(Bucket=aws["bucket"], Prefix=prefix)
    return [item["Key"] for page in pages for item in page.get("Contents", [])]


# ------------------------------------------------------------------------------------------------- tests


def test_a_run_that_passes_the_gate_ships_to_bedrock_and_one_that_fails_is_rejected(
    pipeline, aws, other_worker, tmp_path
):
    fake, bedrock, runtime = aws["fake"], aws["bedrock"], aws["runtime"]

    expect_shipping(bedrock, runtime, fake)
    passed = pipeline.test(logical_date=CREATED, run_conf=conf(aws))
    first = states(passed)
    assert str(passed.state) == "success", first
    # The SageMaker evaluation also maps over its targets and pairs in tasks of their own.
    for task_id in (*SHIPPING_TASK_IDS, "evaluate.evaluation_targets", "evaluate.judge_pairs"):
        assert first[task_id] == "success", (task_id, first)
    for task_id in SKIPPED_WHEN_SHIPPING:
        assert first[task_id] == "skipped", (task_id, first)
    bedrock.assert_no_pending_responses()
    runtime.assert_no_pending_responses()
    # A training job, gen_qa of the candidate and of the base model, and the judge.
    assert sorted(fake.jobs.values()) == ["dpo", "gen_qa", "gen_qa", "llm_judge"]

    plan = passed.get_task_instance("resolve_run").xcom_pull(task_ids="resolve_run")
    root = plan["storage"]["root"].removeprefix(f"s3://{aws['bucket']}/")
    champion = read_json(aws, f"{root}/registry/micro/champion.json")
    assert champion["model_id"] == MODEL_ARN
    assert champion["checkpoint_uri"] in fake.checkpoints
    assert champion["dataset_version"] == "2026-01-12"
    assert read_json(aws, f"{root}/runs/{plan['run_key']}/verdict.json")["passed"] is True
    report = set(keys_under(aws, f"{root}/runs/{plan['run_key']}/report/"))
    assert {f"{root}/runs/{plan['run_key']}/report/{name}" for name in ("report.md", "report.png")} <= report
    assert keys_under(aws, f"{root}/ledger/micro/")

    # The job outputs the next tasks read were published under the run; nothing on a worker was handed on.
    run_uri = plan["storage"]["run_uri"]
    assert run_uri.startswith(f"s3://{aws['bucket']}/")
    assert len(other_worker) == 4  # train, the candidate's and the baseline's gen_qa, the judge
    assert not any(folder.exists() for folder in other_worker)
    handed = job_xcoms(passed)
    assert sorted(handed) == [
        "evaluate.generate[0]",
        "evaluate.generate[1]",
        "evaluate.llm_judge",
        "train_dpo",
    ]
    assert "file://" not in json.dumps(handed)
    assert str(tmp_path) not in json.dumps(handed)
    train = handed["train_dpo"]["outputs"]
    assert train["metrics_uri"] == f"{run_uri}/train/step_wise_training_metrics.csv"
    assert train["checkpoint_uri"] in fake.checkpoints
    for index, role in enumerate(("candidate", "baseline")):
        generated = handed[f"evaluate.generate[{index}]"]
        folder = f"{run_uri}/generate/{role}/nova-micro-byod-eval-job/eval_results"
        assert generated["results_dir"] == folder
        assert generated["outputs"]["inference_output_uri"] == f"{folder}/inference_output.jsonl"
        assert generated["outputs"]["results_uri"].startswith(f"{folder}/results_")
    judge = handed["evaluate.llm_judge"]["outputs"]["results_uri"]
    assert judge.startswith(f"{run_uri}/judge/")
    assert judge.endswith(".json")
    published = set(keys_under(aws, f"{root}/runs/{plan['run_key']}/"))
    for uri in (
        train["metrics_uri"],
        judge,
        *(handed[f"evaluate.generate[{i}]"]["outputs"]["inference_output_uri"] for i in (0, 1)),
    ):
        assert uri.removeprefix(f"s3://{aws['bucket']}/") in published, uri

    expect_rejection(bedrock)
    strict = {"min_relative_gain": {"f1_score": 5.0}}
    rejected = pipeline.test(
        logical_date=CREATED + dt.timedelta(days=7), run_conf=conf(aws, gate=strict, learning_rate=2e-5)
    )
    second = states(rejected)
    assert str(rejected.state) == "success", second
    for task_id in ("train_dpo", "evaluate.generate", "evaluate.llm_judge", "metric_gate", "reject"):
        assert second[task_id] == "success", (task_id, second)
    for task_id in ("approval", "import_model", "deploy", "smoke_test", "publish"):
        assert second[task_id] == "skipped", (task_id, second)
    assert second["teardown"] == "success"
    bedrock.assert_no_pending_responses()
    # The champion is still the first run's model.
    assert read_json(aws, f"{root}/registry/micro/champion.json") == champion
    assert len(fake.jobs) == 8
    assert len(other_worker) == 8
    assert "file://" not in json.dumps(job_xcoms(rejected))

    jobs = aws["sagemaker"].list_training_jobs(MaxResults=100)["TrainingJobSummaries"]
    ours = [job for job in jobs if job["TrainingJobName"] in fake.jobs]
    assert len(ours) == 8
    assert all(job["TrainingJobStatus"] != "InProgress" for job in ours), ours

    # A retrain after the reject, with another recipe: the champion's evaluation on the same prompts is the
    # job the rejected run left (same name, data and output), so it is reused, not submitted again, and not
    # refused as a conflict.
    baseline_jobs = {name for name, task in fake.jobs.items() if "baseline" in name}
    expect_rejection(bedrock)
    retrained = pipeline.test(
        logical_date=CREATED + dt.timedelta(days=8), run_conf=conf(aws, gate=strict, learning_rate=3e-5)
    )
    third = states(retrained)
    assert str(retrained.state) == "success", third
    assert third["reject"] == "success", third
    bedrock.assert_no_pending_responses()
    assert len(fake.jobs) == 11, "train, the candidate's gen_qa and the judge; the baseline's is reused"
    assert {name for name in fake.jobs if "baseline" in name} == baseline_jobs
    assert handed_baseline(rejected) == handed_baseline(retrained)

    # A week later, the same data and the first run's recipe: already shipped, nothing runs. (The params the
    # earlier runs changed are given again: in-process dag.test leaves a run's conf in the DAG's Param
    # objects, which a scheduler's fresh task processes never see.)
    expect_rejection(bedrock)
    first_conf = conf(aws, learning_rate=None, gate=DEFAULT_GATE)
    again = pipeline.test(logical_date=CREATED + dt.timedelta(days=14), run_conf=first_conf)
    fourth = states(again)
    assert str(again.state) == "success", fourth
    assert fourth["skip_if_done"] == "success"
    for task_id in ("train_dpo", "evaluate.generate", "metric_gate", "import_model", "publish", "reject"):
        assert fourth[task_id] == "skipped", (task_id, fourth)
    assert fourth["teardown"] == "success"
    bedrock.assert_no_pending_responses()
    assert len(fake.jobs) == 11


def handed_baseline(run) -> str:
    """The name of the baseline's gen_qa job a run's generate task attached to."""
    return job_xcoms(run)["evaluate.generate[1]"]["job_name"]
