"""The local platform over the detached job runner: job specs, attempts, attaching, outputs.

Submissions that should run use a subclass that maps every job to the worker's ``sleep`` kind, so the
attempt and attach rules are exercised with real processes and no model; the training and evaluation specs
are checked as the runner stores them (``job.json``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from nova_dpo.platforms.base import (
    EvaluationJob,
    JobConflictError,
    JobNotFoundError,
    JobRef,
    JobStatus,
    Platform,
    TrainingJob,
)
from nova_dpo.platforms.factory import build_platform, local_root
from nova_dpo.platforms.local import worker
from nova_dpo.platforms.local.jobs import LocalJobRunner
from nova_dpo.platforms.local.model import DEFAULT_BASE_MODEL
from nova_dpo.platforms.local.platform import LocalPlatform, local_path
from nova_dpo.platforms.naming import AttemptsExhaustedError
from nova_dpo.recipes import load_recipe

LORA = "nova_micro_1_0_p5_p4d_gpu_lora_dpo"
GEN_QA = "nova_micro_1_0_p5_48xl_gpu_bring_your_own_dataset_eval"


class SleepPlatform(LocalPlatform):
    """Runs every job as the worker's ``sleep`` kind; ``job.local`` is the sleep job's spec."""

    def job_definition(self, job: TrainingJob | EvaluationJob) -> tuple[str, dict[str, Any]]:
        return "sleep", {"seconds": 0.2, **job.local}


@pytest.fixture
def runner_root(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def platform(runner: LocalJobRunner) -> LocalPlatform:
    return LocalPlatform(runner.root, runner=runner)


@pytest.fixture
def sleeper(runner: LocalJobRunner) -> SleepPlatform:
    return SleepPlatform(runner.root, runner=runner, max_attempts=3)


def training_job(name: str = "train-r1", **overrides: Any) -> TrainingJob:
    values: dict[str, Any] = {
        "name": name,
        "recipe": load_recipe(LORA),
        "train_uri": "/data/train.jsonl",
        "output_uri": "",
        "base_model": "",
    }
    return TrainingJob(**(values | overrides))


def evaluation_job(name: str = "gen-qa-r1", **overrides: Any) -> EvaluationJob:
    values: dict[str, Any] = {
        "name": name,
        "recipe": load_recipe(GEN_QA),
        "task": "gen_qa",
        "data_uri": "/data/gen_qa.jsonl",
        "model_uri": "tiny-random",
        "output_uri": "",
    }
    return EvaluationJob(**(values | overrides))


def stored_job(runner: LocalJobRunner, name: str) -> dict[str, Any]:
    return json.loads((runner.job_dir(name) / worker.JOB_FILE).read_text())


def completed_job(
    runner: LocalJobRunner,
    platform: LocalPlatform,
    job: TrainingJob | EvaluationJob,
    files: dict[str, str],
    result: dict[str, Any] | None = None,
) -> Path:
    """The folder of ``job`` as the worker leaves it completed: its definition, status, ``result`` and output
    ``files``."""
    kind, spec = platform.job_definition(job)
    name = job.name
    job_dir = runner.job_dir(name)
    output = job_dir / worker.OUTPUT_DIR
    output.mkdir(parents=True)
    worker.write_json_atomic(
        job_dir / worker.JOB_FILE,
        {"name": name, "kind": kind, "spec": spec, "max_run": 86_400, "submitted": worker.now_iso()},
    )
    worker.write_json_atomic(
        job_dir / worker.STATUS_FILE,
        {
            "status": "Completed",
            "started": "2026-01-01T00:00:00+00:00",
            "ended": "2026-01-01T00:01:40+00:00",
            "exit_code": 0,
        },
    )
    for relative, text in files.items():
        path = output / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    worker.write_json_atomic(job_dir / worker.RESULT_FILE, result or {})
    return output.resolve()


# ---------------------------------------------------------------------------------------------- contract


def test_the_platform_meets_the_protocol(platform):
    assert isinstance(platform, Platform)
    assert platform.name == "local"


def test_the_factory_builds_a_local_platform_under_nova_dpo_home(tmp_path, monkeypatch):
    monkeypatch.setenv("NOVA_DPO_HOME", str(tmp_path / "home"))

    built = build_platform("local")

    assert isinstance(built, LocalPlatform)
    assert built.root == tmp_path / "home"
    assert build_platform("local", root=tmp_path / "other").root == tmp_path / "other"


def test_the_local_root_defaults_to_a_folder_in_the_home_directory(monkeypatch):
    monkeypatch.delenv("NOVA_DPO_HOME", raising=False)

    assert local_root() == Path("~/.nova-dpo").expanduser()


def test_the_factory_refuses_an_unknown_platform():
    with pytest.raises(ValueError, match="Unknown platform 'azure'; use one of local, sagemaker"):
        build_platform("azure")


def test_the_factory_builds_a_sagemaker_platform_from_the_given_clients():
    import boto3

    sagemaker = boto3.client("sagemaker", region_name="eu-west-1")
    s3 = boto3.client("s3", region_name="eu-west-1")

    built = build_platform(
        "sagemaker",
        role_arn="arn:aws:iam::123456789012:role/R",
        output_path="s3://b/p",
        sagemaker_client=sagemaker,
        s3_client=s3,
    )

    assert built.name == "sagemaker"
    assert (built.sagemaker, built.s3, built.region, built.role_arn, built.output_path) == (
        sagemaker,
        s3,
        "eu-west-1",
        "arn:aws:iam::123456789012:role/R",
        "s3://b/p",
    )


# --------------------------------------------------------------------------------------------------- specs


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ("file:///data/when2call/train.jsonl", "/data/when2call/train.jsonl"),
        ("file:///data/with%20space/train.jsonl", "/data/with space/train.jsonl"),
        ("/data/train.jsonl", "/data/train.jsonl"),
    ],
)
def test_local_paths_from_uris_and_paths(location, expected):
    assert local_path(location) == expected


def test_a_relative_path_is_made_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    assert local_path("data/train.jsonl") == str(tmp_path / "data" / "train.jsonl")


def test_s3_data_is_refused_with_what_to_do(platform):
    with pytest.raises(ValueError, match=r"local files.*run the pipeline with platform 'sagemaker'"):
        platform.job_definition(training_job(train_uri="s3://bucket/train.jsonl"))


def test_a_training_job_is_stored_as_the_training_job_functions_spec(runner, platform, tmp_path):
    recipe = load_recipe(LORA)
    job = training_job(
        recipe=recipe,
        train_uri=(tmp_path / "train.jsonl").as_uri(),
        validation_uri=str(tmp_path / "validation.jsonl"),
        local={"max_steps": 3, "lora_rank": 4},
        max_run=600,
    )

    ref = platform.submit(job)
    runner.stop(ref)  # the spec is the point here, not training

    stored = stored_job(runner, job.name)
    assert ref == JobRef("local", job.name, str(runner.job_dir(job.name)))
    assert stored["kind"] == "training"
    assert stored["max_run"] == 600
    assert stored["spec"] == {
        "recipe": recipe,
        "local": {"max_steps": 3, "lora_rank": 4},
        "train_path": str(tmp_path / "train.jsonl"),
        "validation_path": str(tmp_path / "validation.jsonl"),
        "base_model": DEFAULT_BASE_MODEL,
    }


def test_an_evaluation_job_is_stored_as_the_evaluation_job_functions_spec(runner, platform, tmp_path):
    job = evaluation_job(
        data_uri=(tmp_path / "gen_qa.jsonl").as_uri(), local={"max_new_tokens": 16, "batch_size": 2}
    )

    platform.submit(job)
    runner.stop(runner.ref(job.name))

    stored = stored_job(runner, job.name)
    assert stored["kind"] == "evaluation"
    assert stored["spec"] == {
        "task": "gen_qa",
        "recipe": load_recipe(GEN_QA),
        "model": "tiny-random",
        "data_path": str(tmp_path / "gen_qa.jsonl"),
        "local": {"max_new_tokens": 16, "batch_size": 2},
    }


def test_a_training_job_names_its_base_model(platform):
    _, spec = platform.job_definition(training_job(base_model="tiny-random", validation_uri=None))

    assert spec["base_model"] == "tiny-random"
    assert spec["validation_path"] is None


@pytest.mark.parametrize(
    ("job", "message"),
    [
        (training_job(local={"lora_rnak": 4}), "Unknown local training option"),
        (training_job(local={"max_steps": 0}), "max_steps must be"),
        (evaluation_job(local={"batch_size": 0}), "batch_size must be at least 1"),
        (evaluation_job(local={"judge_modle": "x"}), "Unknown local evaluation option"),
    ],
    ids=["training-unknown", "training-range", "evaluation-range", "evaluation-unknown"],
)
def test_bad_local_options_fail_before_a_job_starts(runner, platform, job, message):
    with pytest.raises(ValueError, match=message):
        platform.submit(job)

    assert runner.list_jobs() == []


def test_a_checkpoint_uri_is_evaluated_as_a_local_folder(tmp_path):
    model = tmp_path / "my model"
    model.mkdir()
    (model / "config.json").write_text("{}")

    assert LocalPlatform.evaluated_model(model.as_uri()) == str(model)
    assert LocalPlatform.evaluated_model(str(model)) == str(model)


def test_a_lora_checkpoint_is_evaluated_as_its_merged_model(tmp_path):
    output = tmp_path / "jobs" / "train-r1" / "output"
    (output / "checkpoint").mkdir(parents=True)
    (output / "checkpoint" / "adapter_config.json").write_text("{}")
    (output / "merged").mkdir()
    (output / "merged" / "config.json").write_text("{}")
    (output / "manifest.json").write_text(
        json.dumps(
            {
                "checkpoint_s3_bucket": (output / "checkpoint").as_uri(),
                "merged_model_uri": (output / "merged").as_uri(),
            }
        )
    )

    assert LocalPlatform.evaluated_model((output / "checkpoint").as_uri()) == str(output / "merged")


@pytest.mark.parametrize("model", ["tiny-random", "smollm2-135m-instruct", "HuggingFaceTB/SmolLM2-135M"])
def test_a_model_name_is_evaluated_as_it_is(model):
    assert LocalPlatform.evaluated_model(model) == model


def test_a_job_of_another_type_is_refused(platform):
    with pytest.raises(TypeError, match="runs TrainingJob and EvaluationJob, not dict"):
        platform.job_definition({"name": "x"})


# ------------------------------------------------------------------------------------- attempts, attach


def test_a_running_job_is_attached_to(runner, sleeper):
    job = training_job(local={"seconds": 30})

    first = sleeper.submit(job)
    retried = sleeper.submit(job)

    assert first == retried == runner.ref(job.name)
    assert [ref.name for ref in runner.list_jobs()] == [job.name]
    assert sleeper.describe(first).status is JobStatus.IN_PROGRESS


def test_a_completed_job_is_reused(runner, sleeper):
    job = training_job(local={"seconds": 0.0})
    ref = sleeper.submit(job)
    runner.wait(ref, timeout=20)

    assert sleeper.submit(job) == ref
    assert sleeper.describe(ref).status is JobStatus.COMPLETED
    assert [ref.name for ref in runner.list_jobs()] == [job.name]


def test_a_failed_job_is_run_again_under_the_next_attempt_name(runner, sleeper):
    failing = training_job(local={"seconds": 0.0, "fail": True})
    first = sleeper.submit(failing)
    assert runner.wait(first, timeout=20).status is JobStatus.FAILED

    second = sleeper.submit(failing)

    assert second.name == f"{failing.name}-a2"
    assert [ref.name for ref in runner.list_jobs()] == [failing.name, f"{failing.name}-a2"]


def test_a_stopped_job_is_run_again_and_a_retry_attaches_to_the_new_attempt(runner, sleeper):
    job = training_job(local={"seconds": 30})
    sleeper.stop(sleeper.submit(job))

    second = sleeper.submit(job)
    third = sleeper.submit(job)

    assert second == third == runner.ref(f"{job.name}-a2")
    assert sleeper.describe(second).status is JobStatus.IN_PROGRESS


def test_when_every_attempt_failed_submit_says_so(runner, sleeper):
    failing = training_job(local={"seconds": 0.0, "fail": True})
    for _ in range(sleeper.max_attempts):
        runner.wait(sleeper.submit(failing), timeout=20)

    with pytest.raises(AttemptsExhaustedError, match=r"All 3 attempts of local job 'train-r1'.*train-r1-a3"):
        sleeper.submit(failing)


def test_the_same_name_with_another_definition_is_a_conflict(sleeper):
    sleeper.submit(training_job(local={"seconds": 30}))

    with pytest.raises(JobConflictError, match="different spec"):
        sleeper.submit(training_job(local={"seconds": 31}))


def test_stop_ends_a_running_job(sleeper):
    ref = sleeper.submit(training_job(local={"seconds": 30}))

    sleeper.stop(ref)

    assert sleeper.describe(ref).status is JobStatus.STOPPED


def test_describe_an_unknown_job(platform):
    with pytest.raises(JobNotFoundError):
        platform.describe(JobRef("local", "missing", "/nowhere"))


def test_a_ref_of_another_platform_is_refused(platform):
    with pytest.raises(ValueError, match="belongs to the 'sagemaker' platform"):
        platform.describe(JobRef("sagemaker", "train-r1", "arn:aws:sagemaker:..."))


# ------------------------------------------------------------------------------------------------ outputs

RESULTS = "nova-micro-byod-eval-job/eval_results/results_2026-01-01T00-00-00.json"
INFERENCE = "nova-micro-byod-eval-job/eval_results/inference_output.jsonl"


def completed_evaluation(runner: LocalJobRunner, platform: LocalPlatform) -> tuple[EvaluationJob, Path]:
    job = evaluation_job()
    output = runner.job_dir(job.name).resolve() / worker.OUTPUT_DIR
    result = {
        "task": "gen_qa",
        "results_path": str(output / RESULTS),
        "inference_output_path": str(output / INFERENCE),
        "num_examples": 1,
        "metrics": {"rouge1": 0.5},
    }
    files = {RESULTS: json.dumps({"results": {"all": {"rouge1": 0.5}}}), INFERENCE: '{"inference": ["a"]}\n'}
    return job, completed_job(runner, platform, job, files, result)


def test_outputs_of_a_completed_evaluation_are_file_uris_in_the_job_folder(runner, platform):
    job, output = completed_evaluation(runner, platform)

    outputs = platform.outputs(platform.submit(job))

    assert outputs.output_uri == output.as_uri()
    assert outputs.results_uri == (output / RESULTS).as_uri()
    assert outputs.inference_output_uri == (output / INFERENCE).as_uri()
    assert outputs.checkpoint_uri is None
    assert outputs.result["metrics"] == {"rouge1": 0.5}


def test_outputs_are_copied_into_a_local_dir_with_the_uris_of_the_copies(runner, platform, tmp_path):
    job, output = completed_evaluation(runner, platform)
    target = tmp_path / "results" / "candidate"

    outputs = platform.outputs(runner.ref(job.name), target)

    assert outputs.output_uri == output.as_uri()
    assert outputs.results_uri == (target / RESULTS).as_uri()
    assert outputs.inference_output_uri == (target / INFERENCE).as_uri()
    assert outputs.result["results_path"] == str(target / RESULTS)
    assert outputs.result["inference_output_path"] == str(target / INFERENCE)
    assert outputs.result["num_examples"] == 1
    assert json.loads((target / RESULTS).read_text()) == {"results": {"all": {"rouge1": 0.5}}}


def test_a_training_jobs_model_folders_are_not_copied(runner, platform, tmp_path):
    job = training_job()
    output = completed_job(
        runner,
        platform,
        job,
        {
            "checkpoint/adapter_model.safetensors": "weights",
            "merged/model.safetensors": "weights",
            "step_wise_training_metrics.csv": "step_number,training_loss\n1,0.69\n",
        },
    )
    manifest = {
        "checkpoint_s3_bucket": (output / "checkpoint").as_uri(),
        "merged_model_uri": (output / "merged").as_uri(),
        "base_model": "tiny-random",
        "peft_scheme": "lora",
    }
    (output / "manifest.json").write_text(json.dumps(manifest))

    outputs = platform.outputs(runner.ref(job.name), tmp_path / "copy")

    assert outputs.checkpoint_uri == (output / "checkpoint").as_uri()
    assert outputs.manifest == manifest
    assert outputs.metrics_uri == (tmp_path / "copy" / "step_wise_training_metrics.csv").as_uri()
    assert sorted(path.name for path in (tmp_path / "copy").iterdir()) == [
        "manifest.json",
        "step_wise_training_metrics.csv",
    ]


def test_outputs_of_a_job_that_did_not_complete(sleeper):
    ref = sleeper.submit(training_job(local={"seconds": 30}))

    with pytest.raises(ValueError, match="is InProgress; only a completed job has outputs"):
        sleeper.outputs(ref)
