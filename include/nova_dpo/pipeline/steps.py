"""The pipeline's steps as plain functions: each Airflow task calls one of these with the run plan.

Storage goes through path objects (a local folder, or ``s3://`` with the caller's credentials), so the steps
read and write the same layout on both platforms. Every URI a step reads comes from the plan or from an
earlier task's XCom and names the storage root, never a file on the worker that ran that task: a step may run
on any worker.

* ``{root}/datasets/{source}/{version}/{sha12}/`` — prepared datasets (content-addressed);
* ``{root}/runs/{run_key}/`` — this run's evaluation sets, results, verdict and report, and the job output
  files the later tasks read (``train/``, ``generate/{candidate,baseline}/``, ``judge/``: see
  :func:`nova_dpo.pipeline.run.job_results`);
* ``{root}/ledger/{family}/{dataset_sha12}-{recipe_sha12}.json`` — what has already been shipped.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nova_dpo.data import storage

if TYPE_CHECKING:
    from nova_dpo.pipeline.plan import RunPlan

log = logging.getLogger(__name__)


CANDIDATE = "candidate"
BASELINE = "baseline"


# The factory is for object storage (sagemaker: s3://); the local platform's URIs are paths or file://.
_path = storage.path_for


def _read_results(uri: str, path_factory: Any = None) -> Any:
    """A Nova results document (``results_<timestamp>.json``) at ``uri``, on any storage."""
    from nova_dpo.evaluation.results import parse_results

    return parse_results(json.loads(_path(uri, path_factory).read_text()))


def _write_json(path: Any, payload: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n")


def _read_jsonl(path: Any) -> list[dict[str, Any]]:
    with path.open("r", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _sha256(path: Any) -> str:
    return storage.sha256_file(path)


# --- data -------------------------------------------------------------------------------------------------


def prepare(plan: RunPlan, workspace: str, logical_date: dt.datetime | None) -> dict[str, Any]:
    """Prepare the run's dataset version in ``workspace`` (a local folder on the worker)."""
    from nova_dpo.data.prepare import PrepareParams, prepare_dataset
    from nova_dpo.data.splits import SplitRatios
    from nova_dpo.data.validation import Thresholds

    data = plan.dataset
    params = PrepareParams(
        ratios=SplitRatios(*data.ratios),
        max_length=data.max_length,
        thresholds=Thresholds(min_valid_fraction=data.min_valid_fraction),
    )
    prepared = prepare_dataset(
        data.source, workspace, logical_date=logical_date, revision=data.revision, params=params
    )
    manifest = prepared.manifest
    log.info("dataset %s: %s", prepared.uri, json.dumps(manifest["counts"]))
    return {
        "local_uri": prepared.uri,
        "version": manifest["source"],
        "content_sha256": manifest["content_sha256"],
        "counts": manifest["counts"],
    }


def upload(plan: RunPlan, dataset: dict[str, Any], path_factory: Any = None) -> dict[str, Any]:
    """Publish the prepared folder under the platform's storage root; skipped when the content is there."""
    local = storage.as_path(dataset["local_uri"])
    relative = "/".join(local.parts[-4:])  # datasets/{source}/{version}/{sha12}
    destination_uri = plan.storage.under_root(relative)
    destination = _path(destination_uri, path_factory)
    if storage.is_local(destination) and Path(destination).resolve() == Path(local).resolve():
        uploaded = False
    else:
        uploaded = storage.publish_directory(local, destination)
    log.info("%s %s", "uploaded to" if uploaded else "already at", destination_uri)
    return {
        **dataset,
        "uri": destination_uri,
        "uploaded": uploaded,
        "files": {
            name: f"{destination_uri}/{name}" for name in ("train.jsonl", "validation.jsonl", "gen_qa.jsonl")
        },
    }


# --- skip_if_done -----------------------------------------------------------------------------------------


def ledger_uri(plan: RunPlan, dataset: dict[str, Any]) -> str:
    key = f"{dataset['content_sha256'][:12]}-{plan.training.recipe.sha256[:12]}"
    return plan.storage.under_root(f"ledger/{plan.family}/{key}.json")


def already_shipped(plan: RunPlan, dataset: dict[str, Any], path_factory: Any = None) -> dict | None:
    """The ledger entry when this dataset content and recipe already produced an imported model."""
    entry = _path(ledger_uri(plan, dataset), path_factory)
    if entry.exists():
        return json.loads(entry.read_text())
    return None


# --- evaluation -------------------------------------------------------------------------------------------


def evaluation_set(plan: RunPlan, dataset: dict[str, Any], path_factory: Any = None) -> dict[str, Any]:
    """The run's gen_qa set (the test split, capped at ``max_eval_rows``) and its hash.

    The file is content-addressed (``{root}/eval-sets/{sha16}/gen_qa.jsonl``), written once and never
    changed: every run that evaluates on the same prompts names the same file, so a baseline job that read it
    for an earlier run is the job this run would submit (see :func:`evaluation_targets`).
    """
    rows = _read_jsonl(_path(dataset["files"]["gen_qa.jsonl"], path_factory))
    limit = plan.evaluation.max_eval_rows
    if limit:
        rows = rows[:limit]
    if not rows:
        raise ValueError("the test split is empty: raise the test share of split_ratios or add data")
    body = "".join(json.dumps(row, sort_keys=True) + "\n" for row in rows)
    sha = hashlib.sha256(body.encode()).hexdigest()
    uri = plan.storage.under_root(f"eval-sets/{sha[:16]}/gen_qa.jsonl")
    target = _path(uri, path_factory)
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(body)
    return {"uri": uri, "sha256": sha, "rows": len(rows)}


def evaluation_targets(
    plan: RunPlan, training: dict[str, Any], eval_set: dict[str, Any], baseline_model: dict[str, str]
) -> list[dict[str, Any]]:
    """Keyword arguments of the two mapped ``generate`` jobs: the candidate and the baseline.

    Each job's ``results_dir`` is the plan's ``job_results`` for it, under the run's folder in the storage
    root, where the operator places (on SageMaker: publishes) the results the ``gen_qa`` and ``judge_pairs``
    tasks read.

    The baseline's job is the same for every run that evaluates the same baseline on the same set with the
    same recipe and options: its name is derived from those only, and so are its data (the content-addressed
    evaluation set) and its output location (``{root}/baselines/jobs``, not the run's folder). A later run
    (a retrain after a reject, say) attaches to the finished job instead of paying again, and a new champion
    is a new baseline, evaluated anew.
    """
    settings = json.dumps(
        [
            baseline_model["uri"],
            eval_set["sha256"],
            plan.evaluation.gen_qa.sha256,
            plan.evaluation.local_options,
        ],
        sort_keys=True,
    )
    baseline_key = hashlib.sha256(settings.encode()).hexdigest()[:16]
    candidate_uri = training["outputs"]["checkpoint_uri"]
    return [
        {
            "job_name": plan.evaluation.candidate_job_name,
            "model_uri": candidate_uri,
            "data_uri": eval_set["uri"],
            "results_dir": plan.storage.job_results[CANDIDATE],
        },
        {
            "job_name": f"nova-dpo-baseline-{plan.family}-{baseline_key}",
            "model_uri": baseline_model["uri"],
            "data_uri": eval_set["uri"],
            "results_dir": plan.storage.job_results[BASELINE],
            "output_path": plan.storage.under_root("baselines/jobs"),
        },
    ]


def _inference_rows(result: dict[str, Any], path_factory: Any = None) -> list[dict[str, Any]]:
    """The ``inference_output.jsonl`` rows of a ``generate`` task's result, read where its operator put them."""
    uri = result["outputs"]["inference_output_uri"]
    if not uri:
        raise ValueError(f"evaluation job {result['job_name']} produced no inference_output.jsonl")
    return _read_jsonl(_path(uri, path_factory))


def score_gen_qa(plan: RunPlan, generated: list[dict[str, Any]], path_factory: Any = None) -> dict[str, str]:
    """gen_qa metrics (Nova's, plus tool-call metrics and per-example scores) for candidate and baseline."""
    from nova_dpo.evaluation.gen_qa_metrics import InferenceRecord, compute_gen_qa_metrics
    from nova_dpo.evaluation.results import GEN_QA_TASK, build_results

    written = {}
    for role, result in zip((CANDIDATE, BASELINE), generated, strict=True):
        records = [InferenceRecord.from_json(row) for row in _inference_rows(result, path_factory)]
        scores = compute_gen_qa_metrics(records)
        doc = build_results(
            GEN_QA_TASK, scores.metrics, {"model": role, "job_name": result["job_name"]}, scores.per_example
        )
        uri = plan.storage.under_run(f"gen_qa/{role}.json")
        _write_json(_path(uri, path_factory), doc)
        log.info(
            "%s gen_qa: %s", role, {k: round(v, 4) for k, v in scores.metrics.items() if "stderr" not in k}
        )
        written[role] = uri
    return written


def judge_pairs(plan: RunPlan, generated: list[dict[str, Any]], path_factory: Any = None) -> str:
    """``llm_judge.jsonl``: each test prompt with the baseline's answer as A and the candidate's as B."""
    candidate, baseline = (_inference_rows(result, path_factory) for result in generated)
    by_prompt = {row["prompt"]: row for row in baseline}
    lines = []
    for row in candidate:
        other = by_prompt.get(row["prompt"])
        if other is None:
            continue
        lines.append(
            {
                "prompt": row["prompt"],
                "response_A": _first(other["inference"]),
                "response_B": _first(row["inference"]),
            }
        )
    if not lines:
        raise ValueError("candidate and baseline answered no common prompt: nothing to judge")
    uri = plan.storage.under_run("eval/llm_judge.jsonl")
    target = _path(uri, path_factory)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return uri


def _first(value: Any) -> str:
    return value[0] if isinstance(value, list) else str(value)


# --- gate -------------------------------------------------------------------------------------------------


def gate(
    plan: RunPlan, gen_qa: dict[str, str], judge: dict[str, Any] | None, path_factory: Any = None
) -> dict[str, Any]:
    """The verdict of the metric gate, stored with the run."""
    from nova_dpo.gate import evaluate_gate

    candidate = json.loads(_path(gen_qa[CANDIDATE], path_factory).read_text())
    baseline = json.loads(_path(gen_qa[BASELINE], path_factory).read_text())
    judge_doc = None
    if judge and judge.get("outputs", {}).get("results_uri"):
        judge_doc = _read_results(judge["outputs"]["results_uri"], path_factory).metrics
    verdict = evaluate_gate(candidate, baseline, judge_doc, plan.gate)
    for reason in verdict.reasons:
        log.info("gate: %s", reason)
    log.info("gate verdict: %s", verdict.summary())
    _write_json(_path(plan.storage.under_run("verdict.json"), path_factory), verdict.to_dict())
    return verdict.to_dict()


def read_verdict(plan: RunPlan, path_factory: Any = None) -> dict[str, Any]:
    """The gate verdict stored with the run by :func:`gate`."""
    return json.loads(_path(plan.storage.under_run("verdict.json"), path_factory).read_text())


# --- baseline, import, deploy, smoke test (local model store) ----------------------------------------------


def local_store(plan: RunPlan) -> Any:
    from nova_dpo.platforms.local.runtime import LocalRuntime
    from nova_dpo.platforms.local.store import LocalModelStore

    return LocalModelStore(Path(plan.storage.root), runtime=LocalRuntime())


def baseline_model(plan: RunPlan, path_factory: Any = None) -> dict[str, str]:
    """The model to beat: the family's champion when there is one, else the base model."""
    if plan.platform == "local":
        store = local_store(plan)
        champion = store.get_alias(plan.family)
        if champion:
            record = store.get_model(champion)
            return {"kind": "champion", "name": record.name, "uri": record.artifact_uri}
        return {"kind": "base", "name": plan.training.base_model, "uri": plan.training.base_model}
    champion = read_champion(plan, path_factory)
    if champion:
        return {"kind": "champion", "name": champion["model_name"], "uri": champion["checkpoint_uri"]}
    base = plan.training.base_model
    return {"kind": "base", "name": base, "uri": base}


def champion_uri(plan: RunPlan) -> str:
    return plan.storage.under_root(f"registry/{plan.family}/champion.json")


def read_champion(plan: RunPlan, path_factory: Any = None) -> dict[str, Any] | None:
    entry = _path(champion_uri(plan), path_factory)
    return json.loads(entry.read_text()) if entry.exists() else None


def lineage(plan: RunPlan, dataset: dict[str, Any], training: dict[str, Any]) -> dict[str, Any]:
    return {
        "dag_id": plan.dag_id,
        "run_id": plan.run_id,
        "dataset_source": dataset["version"]["source"],
        "dataset_version": dataset["version"]["version"],
        "dataset_sha256": dataset["content_sha256"],
        "recipe": plan.training.recipe.name,
        "recipe_sha256": plan.training.recipe.sha256,
        "training_job": training["job_name"],
    }


def import_local(
    plan: RunPlan, dataset: dict[str, Any], training: dict[str, Any], verdict: dict[str, Any]
) -> dict[str, Any]:
    """Import the candidate into the local model store (idempotent by name)."""
    from nova_dpo.platforms.local.platform import MERGED_MODEL_KEY

    # The store serves models: take the merged weights when the checkpoint is a LoRA adapter.
    outputs = training["outputs"]
    artifact = (outputs.get("manifest") or {}).get(MERGED_MODEL_KEY) or outputs["checkpoint_uri"]
    record = local_store(plan).import_model(
        plan.ship.model_name,
        artifact,
        family=plan.family,
        base_model=plan.training.base_model,
        lineage=lineage(plan, dataset, training),
        metrics={name: row["candidate"] for name, row in verdict.get("metrics", {}).items()},
    )
    log.info("imported %s as %s (%s)", record.name, record.model_id, record.status)
    return {"model_name": record.name, "model_id": record.model_id, "model_uri": record.artifact_uri}


def deploy_local(plan: RunPlan, imported: dict[str, Any]) -> dict[str, Any]:
    deployment = local_store(plan).deploy(imported["model_id"], plan.ship.deployment_name)
    return {"deployment_name": deployment.name, "status": str(deployment.status)}


def smoke_test_local(plan: RunPlan, deployment: dict[str, Any]) -> dict[str, Any]:
    """The smoke test Bedrock deployments get (:mod:`nova_dpo.evaluation.smoke_test`), asked of the local
    deployment: the answer must call the offered tool."""
    from nova_dpo.evaluation.smoke_test import (
        SmokeTestFailed,
        answer_text,
        check_tool_call,
        smoke_test_request,
    )

    name = deployment["deployment_name"]
    request = smoke_test_request()
    response = local_store(plan).invoke(
        name, request["messages"], system=request["system"], inference_config=request["inferenceConfig"]
    )
    answer = answer_text(response)
    try:
        calls = check_tool_call(response, request, name)
    except SmokeTestFailed:
        log.error("smoke test FAILED: %r", answer)
        raise
    log.info("smoke test passed: %r", answer)
    return {"passed": True, "answer": answer, "tool_calls": calls}


# --- publish / reject / teardown --------------------------------------------------------------------------


def _local_copy(uri: str | None, path_factory: Any, folder: Path) -> Path | None:
    """A local file with the content at ``uri``: the file itself when it is local, else a copy in ``folder``."""
    if not uri:
        return None
    source = _path(uri, path_factory)
    if storage.is_local(source):
        return Path(source)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / source.name
    target.write_bytes(source.read_bytes())
    return target


def write_report(
    plan: RunPlan,
    dataset: dict[str, Any],
    training: dict[str, Any],
    gen_qa: dict[str, str],
    judge: dict[str, Any] | None,
    verdict: dict[str, Any],
    path_factory: Any = None,
    outcome: str = "",
) -> str:
    """The run report (markdown + PNG) beside the run; returns its URI."""
    import tempfile

    from nova_dpo import report
    from nova_dpo.platforms.factory import platform_traits

    run_uri = plan.storage.run_uri
    with tempfile.TemporaryDirectory(prefix="nova-dpo-report-") as scratch:
        work = Path(scratch)
        candidate = json.loads(_path(gen_qa[CANDIDATE], path_factory).read_text())
        baseline = json.loads(_path(gen_qa[BASELINE], path_factory).read_text())
        judge_metrics = None
        if judge and judge.get("outputs", {}).get("results_uri"):
            judge_metrics = _read_results(judge["outputs"]["results_uri"], path_factory).metrics
        curve = _local_copy(training["outputs"].get("metrics_uri"), path_factory, work / "training")
        cost = {
            key: training.get(key) for key in ("billable_seconds", "estimated_cost_usd") if training.get(key)
        }
        if platform_traits(plan.platform).bills:
            cost.update(
                instance_type=plan.training.instance_type,
                instance_count=plan.training.instance_count,
            )
        run = {
            "run_id": plan.run_id,
            "run_key": plan.run_key,
            "platform": plan.platform,
            "model_family": plan.family,
            "logical_date": plan.logical_date,
            "dataset_version": f"{dataset['version']['source']}@{dataset['version']['version']}",
            "dataset_sha256": dataset["content_sha256"],
            "recipe": plan.training.recipe.name,
            "recipe_sha": plan.training.recipe.sha256,
            "training_job": training["job_name"],
            "outcome": outcome,
        }
        folder = work / "report"
        report.write_report(
            folder,
            run=run,
            verdict=verdict,
            candidate=candidate,
            baseline=baseline,
            judge=judge_metrics,
            training_metrics_csv=curve,
            cost=cost or None,
        )
        destination = _path(f"{run_uri}/report", path_factory)
        destination.mkdir(parents=True, exist_ok=True)
        for path in folder.iterdir():
            (destination / path.name).write_bytes(path.read_bytes())
    uri = f"{run_uri}/report/report.md"
    log.info("run report: %s", uri)
    return uri


def publish(
    plan: RunPlan,
    dataset: dict[str, Any],
    training: dict[str, Any],
    imported: dict[str, Any],
    path_factory: Any = None,
) -> dict[str, Any]:
    """Record the shipped model: ledger entry, champion alias (the gate passed), retention."""
    entry = {
        **lineage(plan, dataset, training),
        "model_name": imported["model_name"],
        "model_id": imported.get("model_id") or imported.get("model_arn"),
        "checkpoint_uri": training["outputs"]["checkpoint_uri"],
        "published": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    _write_json(_path(ledger_uri(plan, dataset), path_factory), entry)
    _write_json(_path(champion_uri(plan), path_factory), entry)
    pruned: list[str] = []
    if plan.platform == "local":
        store = local_store(plan)
        store.set_alias(plan.family, "champion", imported["model_id"])
        pruned = [record.name for record in store.prune(plan.family, plan.ship.keep_models)]
    log.info("champion of %s is now %s; pruned %s", plan.family, imported["model_name"], pruned or "nothing")
    return {"champion": imported["model_name"], "pruned": pruned}


def teardown(plan: RunPlan, job_names: list[str]) -> dict[str, Any]:
    """Stop this run's unfinished local jobs and delete its ephemeral deployment."""
    stopped, deleted = [], []
    if plan.platform == "local":
        from nova_dpo.platforms.local.jobs import LocalJobRunner
        from nova_dpo.platforms.naming import DEFAULT_MAX_ATTEMPTS, attempt_job_name

        runner = LocalJobRunner(Path(plan.storage.root))
        # A failed job is retried under the next attempt name; any attempt may still be running.
        attempts = [
            attempt_job_name(name, n) for name in job_names for n in range(1, DEFAULT_MAX_ATTEMPTS + 1)
        ]
        for name in attempts:
            if not runner.job_dir(name).exists():
                continue
            ref = runner.ref(name)
            if not runner.describe(ref).is_terminal:
                runner.stop(ref)
                stopped.append(name)
        store = local_store(plan)
        for deployment in store.list_deployments():
            if deployment.name == plan.ship.deployment_name:
                store.delete_deployment(deployment.name)
                deleted.append(deployment.name)
    log.info("teardown: stopped %s, deleted deployments %s", stopped or "none", deleted or "none")
    return {"stopped": stopped, "deleted_deployments": deleted}
