"""Faults on the live deployment, each brought on as it happens to a deployment, each run triggered through the
REST API as a user would: a worker killed mid-training, the triggerer restarted, a waiting task marked failed or
cleared by a user, a job that fails, and a run approved through the human-in-the-loop API.

The tests share the session's deployment and leave it as they found it: every process up, both workers taking
tasks. Each run reads a dataset of its own (another seed), so no run is skipped as already shipped.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from pathlib import Path

import pytest

from nova_dpo.data.synthesize import write_synthetic
from nova_dpo.platforms.base import JobStatus
from nova_dpo.platforms.local.jobs import LocalJobRunner
from nova_dpo.platforms.local.worker import PROGRESS_FILE, STATUS_FILE, process_identity
from nova_dpo.platforms.naming import DEFAULT_MAX_ATTEMPTS, attempt_job_name, job_name
from tests.e2e.test_local_pipeline import SNAPSHOTS, conf
from tests.live import deployment as live
from tests.live.api import (
    DAG_ID,
    TASK_DONE,
    end_run,
    task_instance,
    task_log,
    task_states,
    trigger_run,
    wait_for_task,
    watch_run,
)

pytestmark = [pytest.mark.slow, pytest.mark.live]
log = logging.getLogger(__name__)

READY_TIMEOUT_S = 180
# How long a job may take to start training on two busy cores.
JOB_TIMEOUT_S = 300
# How long a user's action may take to reach a job: the triggerer's loop, the stop's grace period.
STOP_TIMEOUT_S = 120
TRAIN = "train_dpo"
# Training long enough to be caught mid-way, and to outlive a triggerer's restart or a retry's wait (20 s
# without a heartbeat, up to 5 s before the retry): each step takes 3 to 10 s on two busy cores.
MID_TRAINING_STEPS = 10
# Training that is stopped long before it would end.
ENDLESS_STEPS = 500


@pytest.fixture
def deployment(airflow_deployment):
    """The session's deployment, every process up and answering before the test starts."""
    airflow_deployment.check_alive()
    airflow_deployment.wait_until_ready(READY_TIMEOUT_S)
    return airflow_deployment


@pytest.fixture
def trigger(deployment, api):
    """``trigger(run_id, day, conf)`` triggers a run on its own logical date; one the test leaves going is marked
    failed when the test ends, so that its teardown stops its jobs and the next run (one at a time) can start."""
    triggered: list[str] = []

    def trigger_one(run_id: str, day: int, conf: dict) -> str:
        when = dt.datetime(2026, 1, 13, tzinfo=dt.UTC) + dt.timedelta(days=day)  # after the last snapshot
        triggered.append(trigger_run(api, run_id, when, conf))
        return run_id

    yield trigger_one
    for run_id in triggered:
        end_run(api, run_id)


def run_conf(deployment: live.Deployment, folder: Path, seed: int, *, steps: int = 1, **overrides) -> dict:
    """A run of the tiny model on a dataset of its own (``seed``), training ``steps`` optimizer steps."""
    write_synthetic(folder / "source", 160, seed=seed, snapshots=SNAPSHOTS)
    local_options = {"max_steps": steps, "max_rows": 16, "lora_rank": 4, "max_per_device_batch_size": 4}
    return conf(
        folder,
        # The storage root where the deployment's jobs are (its NOVA_DPO_HOME), which teardown looks in.
        storage_root=str(deployment.nova_dpo_home),
        gate={},
        local_options={**local_options, **overrides.pop("local_options", {})},
        **overrides,
    )


def first_training_job(run_id: str) -> str:
    """The name of the run's training job (as ``resolve_run`` names it), its first attempt's."""
    return job_name(DAG_ID, run_id, "train")


def training_jobs(deployment: live.Deployment, run_id: str) -> list[str]:
    """The run's training jobs on the local platform: its attempts that exist (``<name>``, ``<name>-a2``, ...)."""
    runner = LocalJobRunner(deployment.nova_dpo_home)
    name = first_training_job(run_id)
    attempts = [attempt_job_name(name, attempt) for attempt in range(1, DEFAULT_MAX_ATTEMPTS + 1)]
    listed = {ref.name for ref in runner.list_jobs()}
    return [attempt for attempt in attempts if attempt in listed]


def job_status(deployment: live.Deployment, name: str) -> JobStatus:
    runner = LocalJobRunner(deployment.nova_dpo_home)
    return runner.describe(runner.ref(name)).status


def job_file(deployment: live.Deployment, name: str, file: str) -> dict:
    path = deployment.nova_dpo_home / "jobs" / name / file
    return json.loads(path.read_text()) if path.exists() else {}


def job_process_runs(deployment: live.Deployment, name: str) -> bool:
    status = job_file(deployment, name, STATUS_FILE)
    return status.get("pid") is not None and process_identity(status["pid"]) == status.get("process")


def wait_until_training(deployment: live.Deployment, name: str, step: int = 1) -> int:
    """Wait until job ``name`` reports optimizer step ``step`` or later and still runs; the step it reports."""
    deadline = time.monotonic() + JOB_TIMEOUT_S
    while True:
        reached = job_file(deployment, name, PROGRESS_FILE).get("step") or 0
        if reached >= step:
            assert job_status(deployment, name) is JobStatus.IN_PROGRESS, (
                f"{name} ended before it could be caught mid-training; give it more steps"
            )
            return reached
        assert time.monotonic() < deadline, f"{name} did not reach step {step} in {JOB_TIMEOUT_S} s"
        time.sleep(0.2)


def wait_until_stopped(deployment: live.Deployment, name: str) -> None:
    """Wait until job ``name`` is Stopped and its process gone (it records Stopped, then exits)."""
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while (now := job_status(deployment, name)) is not JobStatus.STOPPED or job_process_runs(
        deployment, name
    ):
        assert time.monotonic() < deadline, (
            f"{name} is still {now.value} (or exiting) after {STOP_TIMEOUT_S} s"
        )
        time.sleep(0.5)


def deferred_on_its_job(ti: dict) -> bool:
    return ti["state"] == "deferred" and (ti["trigger"] or {}).get("classpath", "").endswith(
        "LocalJobTrigger"
    )


def wait_until_waiting_on_its_job(deployment, api, run_id: str) -> str:
    """Wait until ``train_dpo`` is deferred and its trigger runs in the triggerer, looking at the training job,
    whose process runs; the job's name."""
    wait_for_task(api, run_id, TRAIN, deferred_on_its_job, "deferred on LocalJobTrigger")
    name = first_training_job(run_id)
    deadline = time.monotonic() + JOB_TIMEOUT_S
    # The trigger's first look at the job, in the task's log: the trigger row alone may not run anywhere yet.
    while f"Local job {name} is InProgress" not in task_log(api, run_id, TRAIN, 1):
        assert time.monotonic() < deadline, f"no trigger looked at {name} in {JOB_TIMEOUT_S} s"
        time.sleep(1)
    while not job_process_runs(deployment, name):
        assert job_status(deployment, name) is JobStatus.IN_PROGRESS, job_file(deployment, name, STATUS_FILE)
        assert time.monotonic() < deadline, f"{name} did not start in {JOB_TIMEOUT_S} s"
        time.sleep(0.2)
    return name


def set_paused(api, *, paused: bool) -> None:
    api.patch(f"/dags/{DAG_ID}", json={"is_paused": paused}).raise_for_status()


def mark(api, run_id: str, task_id: str, state: str) -> None:
    """Mark a task instance ``state`` as a user does in the UI (``PATCH .../taskInstances/{task_id}``)."""
    api.patch(
        f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{task_id}", json={"new_state": state}
    ).raise_for_status()


def assert_ran(ti: dict) -> None:
    """``ti`` ran to its end: teardown succeeds, or fails naming the run's failed tasks after cleaning up."""
    assert ti["start_date"], ti
    assert ti["state"] in ("success", "failed"), ti


def tries(api, run_id: str, task_id: str) -> list[dict]:
    return (
        api.get(f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{task_id}/tries")
        .raise_for_status()
        .json()["task_instances"]
    )


# ---------------------------------------------------------------------------------------------------- the tests


@pytest.mark.timeout(1200)
def test_a_worker_killed_mid_training_leaves_the_job_running_and_the_retry_attaches_to_it(
    deployment, api, trigger, tmp_path
):
    # As deployed, train_dpo holds a worker only for the moment it submits its job, then waits in the triggerer.
    # A worker that waits in the task (default_deferrable=false, a deployment without a triggerer) holds it for
    # the whole training: worker1 is made one, and is the only one taking tasks until it is killed.
    killed = False
    deployment.take_tasks("worker2", take=False)
    try:
        deployment.restart("worker1", env={"AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE": "false"})
        deployment.wait_until_ready(READY_TIMEOUT_S)
        run_id = trigger("worker-killed", 1, run_conf(deployment, tmp_path, 11, steps=MID_TRAINING_STEPS))
        running = wait_for_task(api, run_id, TRAIN, lambda ti: ti["state"] == "running", "running")
        name = first_training_job(run_id)
        step = wait_until_training(deployment, name)
        assert task_instance(api, run_id, TRAIN)["state"] == "running", "train_dpo must wait in the worker"

        # The task instance names the worker that runs it: <worker>.<host>.
        worker = running["hostname"].partition(".")[0]
        log.info("SIGKILL to %s at step %s of %s", worker, step, name)
        # Killed with the task it runs, then started again as deployed (waiting in the triggerer), as a service
        # manager restarts a worker that crashed.
        deployment.restart(worker, kill=True)
        killed = True
    finally:
        if not killed:
            deployment.restart("worker1")
        deployment.take_tasks("worker2", take=True)

    # The job has a session of its own, which the kill did not reach: it trains on.
    deadline = time.monotonic() + JOB_TIMEOUT_S
    while (job_file(deployment, name, PROGRESS_FILE).get("step") or 0) <= step:
        assert job_process_runs(deployment, name) or job_status(deployment, name) is JobStatus.COMPLETED, (
            f"{name} died with the worker: {job_file(deployment, name, STATUS_FILE)}"
        )
        assert time.monotonic() < deadline, f"{name} made no progress in {JOB_TIMEOUT_S} s after the kill"
        time.sleep(0.5)

    run, _, _ = watch_run(api, run_id)

    assert run["state"] == "success", task_states(api, run_id)
    assert training_jobs(deployment, run_id) == [name], "the retry started a second training job"
    assert job_status(deployment, name) is JobStatus.COMPLETED
    first, *retries = tries(api, run_id, TRAIN)
    ended = job_file(deployment, name, STATUS_FILE)["ended"]
    log.info(
        "the retry started at %s; %s ended at %s", retries[0]["start_date"] if retries else None, name, ended
    )
    assert first["hostname"] == running["hostname"]
    assert first["state"] == "failed", first  # by the scheduler, for want of a heartbeat
    assert [ti["state"] for ti in retries] == ["success"], retries


@pytest.mark.timeout(900)
def test_a_triggerer_restarted_while_train_dpo_waits_resumes_the_wait(deployment, api, trigger, tmp_path):
    run_id = trigger("triggerer-restarted", 2, run_conf(deployment, tmp_path, 12, steps=MID_TRAINING_STEPS))
    name = wait_until_waiting_on_its_job(deployment, api, run_id)

    deployment.restart("triggerer")
    # The old triggerer has exited: it cancelled the trigger, and left the job alone.
    assert job_status(deployment, name) in (JobStatus.IN_PROGRESS, JobStatus.COMPLETED), job_file(
        deployment, name, STATUS_FILE
    )
    run, _, _ = watch_run(api, run_id)

    assert run["state"] == "success", task_states(api, run_id)
    assert training_jobs(deployment, run_id) == [name]
    assert job_status(deployment, name) is JobStatus.COMPLETED
    assert [ti["state"] for ti in tries(api, run_id, TRAIN)] == ["success"], "the wait did not resume"


@pytest.mark.timeout(900)
def test_a_waiting_task_marked_failed_stops_its_job_and_teardown_runs(deployment, api, trigger, tmp_path):
    run_id = trigger("marked-failed", 3, run_conf(deployment, tmp_path, 13, steps=ENDLESS_STEPS))
    name = wait_until_waiting_on_its_job(deployment, api, run_id)

    # Paused, the run schedules no task, teardown included: only the user's action itself can stop the job.
    set_paused(api, paused=True)
    try:
        mark(api, run_id, TRAIN, "failed")
        wait_until_stopped(deployment, name)
        assert task_instance(api, run_id, "teardown")["start_date"] is None
    finally:
        set_paused(api, paused=False)
    run, instances, _ = watch_run(api, run_id)

    assert run["state"] == "failed"
    assert_ran(next(ti for ti in instances if ti["task_id"] == "teardown"))
    assert training_jobs(deployment, run_id) == [name]


@pytest.mark.timeout(900)
def test_a_waiting_task_cleared_attaches_again_and_a_run_marked_failed_stops_its_job(
    deployment, api, trigger, tmp_path
):
    """A cleared task runs again, and its next try attaches to the job it waited for, as a retry does: the job
    keeps running (Airflow may start that try before it cancels the old trigger; see LocalJobTrigger.on_kill).
    A run marked failed fails its waiting task, whose trigger stops the job, and leaves its teardown to run."""
    run_id = trigger("cleared", 4, run_conf(deployment, tmp_path, 14, steps=ENDLESS_STEPS))
    name = wait_until_waiting_on_its_job(deployment, api, run_id)

    api.post(
        f"/dags/{DAG_ID}/clearTaskInstances",
        json={"dry_run": False, "dag_run_id": run_id, "task_ids": [TRAIN], "only_failed": False},
    ).raise_for_status()
    wait_for_task(
        api, run_id, TRAIN, lambda ti: ti["try_number"] == 2 and deferred_on_its_job(ti), "waiting again"
    )
    # The triggerer cancels the first try's trigger and calls its on_kill, which leaves the job alone.
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while "trigger completed" not in (first_try := task_log(api, run_id, TRAIN, 1)):
        assert time.monotonic() < deadline, f"the first try's trigger still runs after {STOP_TIMEOUT_S} s"
        time.sleep(1)
    assert "invoking on_kill" in first_try
    assert job_status(deployment, name) is JobStatus.IN_PROGRESS
    assert training_jobs(deployment, run_id) == [name]

    api.patch(f"/dags/{DAG_ID}/dagRuns/{run_id}", json={"state": "failed"}).raise_for_status()
    run, instances, _ = watch_run(api, run_id)

    assert run["state"] == "failed"
    assert_ran(next(ti for ti in instances if ti["task_id"] == "teardown"))
    assert job_status(deployment, name) is JobStatus.STOPPED
    assert not job_process_runs(deployment, name)


@pytest.mark.timeout(900)
def test_a_job_that_fails_puts_its_reason_in_the_task_log_and_teardown_runs(
    deployment, api, trigger, tmp_path
):
    # A typo in a module name passes every check before the job (a non-empty list of names) and fails in it,
    # when PEFT looks for the modules in the model.
    run_id = trigger(
        "job-fails", 5, run_conf(deployment, tmp_path, 15, local_options={"lora_target_modules": ["q_projj"]})
    )
    run, instances, _ = watch_run(api, run_id)

    states = {ti["task_id"]: ti for ti in instances}
    assert run["state"] == "failed"
    assert states[TRAIN]["state"] == "failed"
    assert_ran(states["teardown"])
    names = training_jobs(deployment, run_id)
    assert names, "no training job was started"
    assert {name: job_status(deployment, name) for name in names} == dict.fromkeys(names, JobStatus.FAILED)
    # Each try's log holds the reason its job gave (the first line of it; then the end of the job's log).
    runner = LocalJobRunner(deployment.nova_dpo_home)
    for try_number, name in enumerate(names, start=1):
        reason = runner.describe(runner.ref(name)).failure_reason.splitlines()[0]
        assert "q_projj" in reason, reason
        assert reason in task_log(api, run_id, TRAIN, try_number), f"try {try_number} does not say: {reason}"


@pytest.mark.timeout(900)
def test_a_run_approved_through_the_hitl_api_ships(deployment, api, trigger, tmp_path):
    run_id = trigger("approved", 6, run_conf(deployment, tmp_path, 16, approval_required=True))
    hitl = f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/approval/-1/hitlDetails"

    def waits_for_an_answer(ti: dict) -> bool:
        return ti["state"] not in TASK_DONE and api.get(hitl).status_code == 200

    wait_for_task(api, run_id, "approval", waits_for_an_answer, "waiting for an answer")
    detail = api.get(hitl).raise_for_status().json()
    assert detail["options"] == ["Approve", "Reject"], detail
    assert detail["response_received"] is False, detail
    api.patch(hitl, json={"chosen_options": ["Approve"]}).raise_for_status()
    run, instances, _ = watch_run(api, run_id)

    states = {ti["task_id"]: ti["state"] for ti in instances}
    assert run["state"] == "success", states
    assert states["approval"] == "success"
    assert states["import_model"] == "success"
    assert states["publish"] == "success"
    assert states["reject"] == "skipped"
