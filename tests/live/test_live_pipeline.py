"""One run of the pipeline on the live deployment, triggered through the REST API as a user would: the local
platform with the tiny random model, the CeleryExecutor with two workers, the job tasks waiting in the triggerer.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import defaultdict

import httpx
import pytest

from nova_dpo.data.synthesize import write_synthetic
from tests.e2e.test_local_pipeline import SNAPSHOTS, conf
from tests.live import settings
from tests.pipeline_tasks import SHIPPING_TASK_IDS, SKIPPED_WHEN_SHIPPING

pytestmark = [pytest.mark.slow, pytest.mark.live]
log = logging.getLogger(__name__)
# Two requests a second while the run goes: httpx's line per request would drown the task states.
logging.getLogger("httpx").setLevel(logging.WARNING)

LOGICAL_DATE = dt.datetime(2026, 1, 13, tzinfo=dt.UTC)  # after the last snapshot
PARSE_TIMEOUT_S = 180
RUN_TIMEOUT_S = 600
# The tasks that wait for a detached local job in the triggerer.
JOB_TASKS = ("train_dpo", "evaluate.generate", "evaluate.llm_judge")
FINISHED = {"success", "failed"}


@pytest.fixture(scope="module")
def api(airflow_deployment):
    """An httpx client of the deployment's API server, holding the admin's JWT token."""
    token = httpx.post(
        f"{airflow_deployment.api_url}/auth/token",
        json={"username": settings.ADMIN_USERNAME, "password": airflow_deployment.admin_password},
        timeout=30,
    )
    assert token.status_code in (200, 201), token.text
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    with httpx.Client(base_url=f"{airflow_deployment.api_url}/api/v2", headers=headers, timeout=30) as client:
        yield client


def wait_until_parsed(api: httpx.Client, dag_id: str) -> None:
    deadline = time.monotonic() + PARSE_TIMEOUT_S
    while (response := api.get(f"/dags/{dag_id}")).status_code == 404:
        assert time.monotonic() < deadline, f"{dag_id} not parsed after {PARSE_TIMEOUT_S} s"
        time.sleep(2)
    response.raise_for_status()


def task_key(ti: dict) -> str:
    return ti["task_id"] if ti["map_index"] < 0 else f"{ti['task_id']}[{ti['map_index']}]"


def watch_run(api: httpx.Client, dag_id: str, run_id: str) -> tuple[dict, list[dict], dict[str, set[str]]]:
    """Poll the run until it ends, logging task states as they change.

    :return: the run, its task instances, and per task the trigger classpaths seen while it was deferred
    """
    deadline = time.monotonic() + RUN_TIMEOUT_S
    seen: dict[str, str | None] = {}
    deferred: dict[str, set[str]] = defaultdict(set)
    while True:
        run = api.get(f"/dags/{dag_id}/dagRuns/{run_id}").raise_for_status().json()
        instances = (
            api.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"limit": 100})
            .raise_for_status()
            .json()["task_instances"]
        )
        for ti in instances:
            key = task_key(ti)
            if seen.get(key) != ti["state"]:
                log.info("%s: %s -> %s (%s)", key, seen.get(key), ti["state"], ti["hostname"])
                seen[key] = ti["state"]
            if ti["state"] == "deferred" and ti["trigger"]:
                if ti["trigger"]["classpath"] not in deferred[ti["task_id"]]:
                    log.info("%s: waits on %s", key, ti["trigger"]["classpath"])
                deferred[ti["task_id"]].add(ti["trigger"]["classpath"])
        if run["state"] in FINISHED:
            return run, instances, deferred
        assert time.monotonic() < deadline, (
            f"run {run_id} still {run['state']} after {RUN_TIMEOUT_S} s: {seen}"
        )
        time.sleep(0.5)


# Starting the deployment (up to 5 min), parsing, the run, and stopping it all count.
@pytest.mark.timeout(1800)
def test_a_run_triggered_through_the_rest_api_succeeds_on_both_workers(airflow_deployment, api, tmp_path):
    dag_id = settings.DAG_ID
    wait_until_parsed(api, dag_id)
    api.patch(f"/dags/{dag_id}", json={"is_paused": False}).raise_for_status()
    write_synthetic(tmp_path / "source", 160, seed=3, snapshots=SNAPSHOTS)
    # The storage root the deployment's teardown looks in for jobs left running.
    run_conf = conf(tmp_path, storage_root=str(airflow_deployment.nova_dpo_home), gate={})

    created = api.post(
        f"/dags/{dag_id}/dagRuns",
        json={
            "dag_run_id": "live-test",
            "logical_date": LOGICAL_DATE.isoformat(),
            "conf": run_conf,
        },
    )
    assert created.status_code in (200, 201), created.text
    run, instances, deferred = watch_run(api, dag_id, created.json()["dag_run_id"])

    states = {task_key(ti): ti["state"] for ti in instances}
    assert run["state"] == "success", states
    by_task = defaultdict(list)
    for ti in instances:
        by_task[ti["task_id"]].append(ti)
    for task_id in SHIPPING_TASK_IDS:
        assert by_task[task_id], f"{task_id} has no task instance: {states}"
    assert len(by_task["evaluate.generate"]) == 2, "generate is mapped over candidate and baseline"
    not_succeeded = {key: state for key, state in states.items() if state != "success"}
    assert not_succeeded == dict.fromkeys(SKIPPED_WHEN_SHIPPING, "skipped"), states

    # A worker's tasks carry the hostname `<worker>.<this machine>` (settings.worker_hostname).
    ran = {ti["hostname"] for ti in instances if ti["state"] == "success"}
    assert {host.partition(".")[0] for host in ran} == set(airflow_deployment.workers), sorted(ran)

    for task_id in JOB_TASKS:
        assert any(path.endswith("LocalJobTrigger") for path in deferred[task_id]), (
            f"{task_id} was never seen deferred on LocalJobTrigger: {dict(deferred)}"
        )
