"""The live tests' side of the REST API (``/api/v2``): trigger a run as a user would, watch it, read its tasks."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import defaultdict
from collections.abc import Callable

import httpx

from tests.live import settings

log = logging.getLogger(__name__)
# Two requests a second while a run goes: httpx's line per request would drown the task states.
logging.getLogger("httpx").setLevel(logging.WARNING)

DAG_ID = settings.DAG_ID
PARSE_TIMEOUT_S = 180
RUN_TIMEOUT_S = 600
FINISHED = {"success", "failed"}
# Task states after which a task instance does not run again unless someone clears it.
TASK_DONE = {"success", "failed", "skipped", "upstream_failed", "removed"}


def client(api_url: str, password: str) -> httpx.Client:
    """An httpx client of ``{api_url}/api/v2`` holding the admin's JWT token."""
    token = httpx.post(
        f"{api_url}/auth/token",
        json={"username": settings.ADMIN_USERNAME, "password": password},
        timeout=30,
    )
    assert token.status_code in (200, 201), token.text
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    return httpx.Client(base_url=f"{api_url}/api/v2", headers=headers, timeout=30)


def wait_until_parsed(api: httpx.Client, dag_id: str = DAG_ID) -> None:
    deadline = time.monotonic() + PARSE_TIMEOUT_S
    while (response := api.get(f"/dags/{dag_id}")).status_code == 404:
        assert time.monotonic() < deadline, f"{dag_id} not parsed after {PARSE_TIMEOUT_S} s"
        time.sleep(2)
    response.raise_for_status()


def trigger_run(api: httpx.Client, run_id: str, logical_date: dt.datetime, conf: dict) -> str:
    """Unpause the pipeline (once parsed) and trigger a run of it; its run id."""
    wait_until_parsed(api)
    api.patch(f"/dags/{DAG_ID}", json={"is_paused": False}).raise_for_status()
    created = api.post(
        f"/dags/{DAG_ID}/dagRuns",
        json={"dag_run_id": run_id, "logical_date": logical_date.isoformat(), "conf": conf},
    )
    assert created.status_code in (200, 201), created.text
    return created.json()["dag_run_id"]


def end_run(api: httpx.Client, run_id: str) -> None:
    """Mark the run failed if it still goes, as a user does, and wait until its teardown has run and it ended."""
    run = api.get(f"/dags/{DAG_ID}/dagRuns/{run_id}").raise_for_status().json()
    if run["state"] in FINISHED:
        return
    api.patch(f"/dags/{DAG_ID}", json={"is_paused": False}).raise_for_status()
    api.patch(f"/dags/{DAG_ID}/dagRuns/{run_id}", json={"state": "failed"}).raise_for_status()
    watch_run(api, run_id)


def task_key(ti: dict) -> str:
    return ti["task_id"] if ti["map_index"] < 0 else f"{ti['task_id']}[{ti['map_index']}]"


def task_instances(api: httpx.Client, run_id: str) -> list[dict]:
    return (
        api.get(f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances", params={"limit": 100})
        .raise_for_status()
        .json()["task_instances"]
    )


def task_instance(api: httpx.Client, run_id: str, task_id: str) -> dict:
    return api.get(f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{task_id}").raise_for_status().json()


def wait_for_task(
    api: httpx.Client,
    run_id: str,
    task_id: str,
    until: Callable[[dict], bool],
    what: str,
    timeout: float = RUN_TIMEOUT_S,
) -> dict:
    """Poll task ``task_id`` of the run until ``until(task instance)`` holds; that task instance.

    :param what: what is waited for, for the failure message
    """
    deadline = time.monotonic() + timeout
    while True:
        ti = task_instance(api, run_id, task_id)
        if until(ti):
            return ti
        run = api.get(f"/dags/{DAG_ID}/dagRuns/{run_id}").raise_for_status().json()
        assert run["state"] not in FINISHED, (
            f"run {run_id} ended {run['state']} before {task_id} {what}: {task_states(api, run_id)}"
        )
        assert time.monotonic() < deadline, f"{task_id} not {what} after {timeout:.0f} s: {ti['state']}"
        time.sleep(0.5)


def task_states(api: httpx.Client, run_id: str) -> dict[str, str | None]:
    return {task_key(ti): ti["state"] for ti in task_instances(api, run_id)}


def task_log(api: httpx.Client, run_id: str, task_id: str, try_number: int) -> str:
    """The text of one try's log, as the UI shows it (the worker's part and the triggerer's)."""
    response = api.get(
        f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}",
        params={"full_content": True},
        headers={"Accept": "application/json"},
    ).raise_for_status()
    lines = []
    for entry in response.json()["content"]:
        if isinstance(entry, str):
            lines.append(entry)
        else:
            lines.append(
                " ".join(str(entry.get(key, "")) for key in ("event", "error_detail") if entry.get(key))
            )
    return "\n".join(lines)


def watch_run(api: httpx.Client, run_id: str) -> tuple[dict, list[dict], dict[str, set[str]]]:
    """Poll the run until it ends, logging task states as they change.

    :return: the run, its task instances, and per task the trigger classpaths seen while it was deferred
    """
    deadline = time.monotonic() + RUN_TIMEOUT_S
    seen: dict[str, str | None] = {}
    deferred: dict[str, set[str]] = defaultdict(set)
    while True:
        run = api.get(f"/dags/{DAG_ID}/dagRuns/{run_id}").raise_for_status().json()
        instances = task_instances(api, run_id)
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
