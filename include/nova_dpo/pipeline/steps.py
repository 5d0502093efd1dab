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
from nova_dpo.platforms.base import CHAMPION

if TYPE_CHECKING:
    from collections.abc import Callable

    from nova_dpo.pipeline.plan import RunPlan
    from nova_dpo.platforms.base import Deployment, ModelRecord, ModelStore, Platform

log = logging.getLogger(__name__)


CANDIDATE = "candidate"
BASELINE = "baseline"


# The factory is for object storage (sagemaker: s3://); the local platform's URIs are paths or file://.
_path = storage.path_for


def _judge_document(judge: dict[str, Any] | None, path_factory: Any = None) -> dict[str, Any] | None:
    """The llm_judge task's results document, whole (its ``config_general`` holds the judge's calibration);
    None when no judge ran."""
    if not judge or not judge.get("outputs", {}).get("results_uri"):
        return None
    return json.loads(_path(judge["outputs"]["results_uri"], path_factory).read_text())


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
    """``llm_judge.jsonl``: each test prompt with the baseline's answer as A and the candidate's as B.

    Nova's judge reads these three fields only. Where the run chooses the judge (the local platform), each line
    also carries the test set's ``reference`` answer, ``system`` prompt and expected behaviour (``category``):
    the judge is calibrated on them before its verdicts count, and the local model judges guided by them.
    """
    from nova_dpo.evaluation.gen_qa_metrics import parse_metadata
    from nova_dpo.platforms.factory import platform_traits

    with_references = platform_traits(plan.platform).judges_locally
    candidate, baseline = (_inference_rows(result, path_factory) for result in generated)
    by_prompt = {row["prompt"]: row for row in baseline}
    lines = []
    for row in candidate:
        other = by_prompt.get(row["prompt"])
        if other is None:
            continue
        line = {
            "prompt": row["prompt"],
            "response_A": _first(other["inference"]),
            "response_B": _first(row["inference"]),
        }
        if with_references:
            line.update(
                reference=_first(row.get("gold", "")),
                system=row.get("system") if isinstance(row.get("system"), str) else "",
                category=(parse_metadata(row.get("metadata")) or {}).get("category") or "",
            )
        lines.append(line)
    if not lines:
        raise ValueError("candidate and baseline answered no common prompt: nothing to judge")
    uri = judge_pairs_uri(plan)
    target = _path(uri, path_factory)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return uri


def judge_pairs_uri(plan: RunPlan) -> str:
    """Where :func:`judge_pairs` writes the run's ``llm_judge.jsonl``."""
    return plan.storage.under_run("eval/llm_judge.jsonl")


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
    verdict = evaluate_gate(candidate, baseline, _judge_document(judge, path_factory), plan.gate)
    for reason in verdict.reasons:
        log.info("gate: %s", reason)
    log.info("gate verdict: %s", verdict.summary())
    _write_json(_path(plan.storage.under_run("verdict.json"), path_factory), verdict.to_dict())
    return verdict.to_dict()


def read_verdict(plan: RunPlan, path_factory: Any = None) -> dict[str, Any]:
    """The gate verdict stored with the run by :func:`gate`."""
    return json.loads(_path(plan.storage.under_run("verdict.json"), path_factory).read_text())


# --- the model store: baseline, import, deploy, smoke test -----------------------------------------------


def model_store(plan: RunPlan, aws: Any = None, path_factory: Any = None, log: Any = None) -> ModelStore:
    """The run's model store: the local one under the storage root, or Amazon Bedrock (``aws(service)`` gives
    its clients; the champion record lives in the run registry, ``{root}/registry/{family}/``)."""
    from nova_dpo.pipeline.run import MODEL_NAME_PREFIX
    from nova_dpo.platforms.factory import build_model_store

    def registry(family: str, alias: str) -> Any:
        return _path(plan.storage.under_root(f"registry/{family}/{alias}.json"), path_factory)

    return build_model_store(
        plan.platform,
        root=plan.storage.root,
        aws=aws,
        registry=registry,
        import_role_arn=plan.ship.import_role_arn,
        full_rank=plan.full_rank,
        name_prefix=MODEL_NAME_PREFIX,
        log=log,
    )


def baseline_model(plan: RunPlan, path_factory: Any = None) -> dict[str, str]:
    """The model to beat: the family's champion when there is one, else the base model."""
    champion = read_champion(plan, path_factory)
    if champion:
        # model_uri: what the store serves (a local store's copy); records before it had the checkpoint only.
        uri = champion.get("model_uri") or champion["checkpoint_uri"]
        return {"kind": "champion", "name": champion["model_name"], "uri": uri}
    base = plan.training.base_model
    return {"kind": "base", "name": base, "uri": base}


def champion_uri(plan: RunPlan) -> str:
    return plan.storage.under_root(f"registry/{plan.family}/{CHAMPION}.json")


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


def import_source(training: dict[str, Any]) -> str:
    """What the store imports from a training job: its merged weights when it made them (a local LoRA job), else
    its checkpoint (on SageMaker, the escrow URI of the job's manifest)."""
    from nova_dpo.platforms.local.platform import MERGED_MODEL_KEY

    outputs = (training or {}).get("outputs") or {}
    uri = (outputs.get("manifest") or {}).get(MERGED_MODEL_KEY) or outputs.get("checkpoint_uri")
    if not uri:
        raise ValueError(
            "training has no outputs.checkpoint_uri: pass the training task's result, whose outputs name "
            "the checkpoint to import (the escrow URI from the job's manifest.json)."
        )
    return uri


def import_model(
    plan: RunPlan,
    store: ModelStore,
    dataset: dict[str, Any],
    training: dict[str, Any],
    verdict: dict[str, Any] | None = None,
    path_factory: Any = None,
) -> ModelRecord:
    """Import the candidate into the store under ``plan.ship.model_name`` (idempotent by name), with its
    lineage and, where the store keeps them, its metrics from the gate verdict (read from the run when not
    given). A Bedrock import may still be Creating: the caller waits for it."""
    from nova_dpo.pipeline.run import IMPORT_ROLE_ENV
    from nova_dpo.platforms.factory import platform_traits

    if platform_traits(plan.platform).runs_as_roles and not plan.ship.import_role_arn:
        raise ValueError(
            f"The plan has no import_role_arn for Bedrock to read the checkpoint with: set env "
            f"{IMPORT_ROLE_ENV} on the workers to an IAM role that Bedrock can assume and that can read the "
            "training job's escrow checkpoint (iam/bedrock-import-role-policy.json)."
        )
    metrics: dict[str, Any] = {}
    if store.keeps_metrics:
        verdict = verdict if verdict is not None else read_verdict(plan, path_factory)
        metrics = {name: row["candidate"] for name, row in verdict.get("metrics", {}).items()}
    record = store.import_model(
        plan.ship.model_name,
        import_source(training),
        family=plan.family,
        base_model=plan.training.base_model,
        lineage=lineage(plan, dataset, training),
        metrics=metrics,
    )
    log.info("imported %s as %s (%s)", record.name, record.model_id, record.status.value)
    return record


def deploy(plan: RunPlan, store: ModelStore, imported: dict[str, Any]) -> Deployment:
    """Deploy the imported model under ``plan.ship.deployment_name``, or find the deployment a previous try
    made. A Bedrock deployment may still be Creating: the caller waits for it."""
    model_id = (imported or {}).get("model_id")
    if not model_id:
        raise ValueError("imported has no model_id: pass the import step's result.")
    return store.deploy(
        model_id,
        plan.ship.deployment_name,
        description=f"Smoke test of {plan.ship.model_name} ({plan.dag_id} {plan.run_id})",
    )


def smoke_test(
    plan: RunPlan, store: ModelStore, deployment: dict[str, Any], log: Any = log
) -> dict[str, Any]:
    """The smoke test (:mod:`nova_dpo.evaluation.smoke_test`, one definition for every store) asked of the
    deployment: the answer must call the offered tool.

    :raises SmokeTestFailed: it did not.
    """
    from nova_dpo.evaluation.smoke_test import SmokeTestFailed, run_smoke_test

    try:
        result = run_smoke_test(store.invoke, deployment["deployment_id"], log=log)
    except SmokeTestFailed as error:
        log.error("smoke test FAILED: %s", error)
        raise
    log.info("smoke test passed: %r", result["answer"])
    return result


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
            judge=_judge_document(judge, path_factory),
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
    store: ModelStore,
    dataset: dict[str, Any],
    training: dict[str, Any],
    imported: dict[str, Any],
    path_factory: Any = None,
) -> dict[str, Any]:
    """Record the shipped model (the gate passed): its ledger entry and the champion record, then move the
    store's champion alias to it."""
    entry = {
        **lineage(plan, dataset, training),
        "model_name": imported["model_name"],
        "model_id": imported.get("model_id") or imported.get("model_arn"),
        "model_uri": imported.get("model_uri"),
        "checkpoint_uri": training["outputs"]["checkpoint_uri"],
        "published": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    _write_json(_path(ledger_uri(plan, dataset), path_factory), entry)
    _write_json(_path(champion_uri(plan), path_factory), entry)
    store.set_alias(plan.family, CHAMPION, entry["model_id"])
    log.info("champion of %s is now %s", plan.family, imported["model_name"])
    return {"champion": imported["model_name"]}


class TeardownIncomplete(RuntimeError):
    """Teardown did all it could, and some of it failed: the message names what."""


def teardown(
    plan: RunPlan,
    platform: Callable[[], Platform],
    store: ModelStore,
    job_names: list[str],
    deployment: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Leave nothing of the run behind that costs money or space, whatever state the run is in:

    * stop each of ``job_names`` whose last attempt (``<name>``, ``<name>-a2``, ...) still runs;
    * delete the run's deployment: the one in ``deployment`` (the deploy step's result), else the one of the
      plan's name that a failed deploy may have left;
    * prune the family's models beyond ``plan.ship.keep_models``, never the champion or a deployed one.

    Every action is attempted and logged.

    :param platform: makes the run's platform, for the jobs (called only when there are jobs to look at).
    :raises TeardownIncomplete: after everything was tried, naming what failed.
    """
    result: dict[str, list[str]] = {"stopped": [], "deleted_deployments": [], "pruned_models": []}
    failures: list[str] = []
    jobs = None
    try:
        jobs = platform() if job_names else None
    except Exception as error:
        log.exception("Could not reach the platform to stop the jobs %s.", job_names)
        failures.append(f"stop jobs {job_names}: {error}")
    for name in job_names if jobs is not None else ():
        try:
            result["stopped"] += stop_job(jobs, name)
        except Exception as error:
            log.exception("Could not stop job %s.", name)
            failures.append(f"stop job {name}: {error}")
    try:
        result["deleted_deployments"] += _delete_deployment(plan, store, deployment or {})
    except Exception as error:
        log.exception("Could not delete the run's deployment.")
        failures.append(f"delete deployment: {error}")
    try:
        result["pruned_models"] += [record.name for record in store.prune(plan.family, plan.ship.keep_models)]
    except Exception as error:
        log.exception("Could not prune the imported models.")
        failures.append(f"prune models: {error}")
    log.info(
        "Teardown: stopped %s; deleted deployments %s; pruned models %s.",
        result["stopped"] or "none",
        result["deleted_deployments"] or "none",
        result["pruned_models"] or "none",
    )
    if failures:
        raise TeardownIncomplete(f"Teardown left {len(failures)} thing(s) undone: " + "; ".join(failures))
    return result


def stop_job(platform: Platform, name: str) -> list[str]:
    """Stop the attempt of job ``name`` that still runs; the names of the jobs stopped.

    The platforms retry a Failed or Stopped job as ``<name>-a2``, ``-a3``, ...: only the last attempt may run.
    """
    from nova_dpo.platforms.base import JobNotFoundError, JobStatus
    from nova_dpo.platforms.naming import DEFAULT_MAX_ATTEMPTS, attempt_job_name

    for attempt in range(1, DEFAULT_MAX_ATTEMPTS + 1):
        ref = platform.ref(attempt_job_name(name, attempt))
        try:
            state = platform.describe(ref)
        except JobNotFoundError:
            if attempt == 1:
                log.info("Job %s does not exist: nothing to stop.", ref.name)
            break
        if state.status in (JobStatus.FAILED, JobStatus.STOPPED):
            log.info("Job %s is %s.", ref.name, state.status.value)
            continue
        if not state.is_terminal:
            platform.stop(ref)
            log.info("Stopped job %s.", ref.name)
            return [ref.name]
        log.info("Job %s is %s: nothing to stop.", ref.name, state.status.value)
        break
    return []


def _delete_deployment(plan: RunPlan, store: ModelStore, deployment: dict[str, Any]) -> list[str]:
    if not deployment and not plan.ship.deploy:
        log.info("deploy is off for this run: no deployment to delete.")
        return []
    # Without the deploy step's result (it failed or was skipped), look for the name it would have used.
    name = deployment.get("deployment_name") or plan.ship.deployment_name
    return [name] if store.delete_deployment(deployment.get("deployment_id") or name) else []
