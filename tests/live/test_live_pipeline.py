"""One run of the pipeline on the live deployment, triggered through the REST API as a user would: the local
platform with the tiny random model, the CeleryExecutor with two workers, the job tasks waiting in the triggerer.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import pytest

from nova_dpo.data.synthesize import write_synthetic
from tests.e2e.test_local_pipeline import SNAPSHOTS, conf
from tests.live.api import task_key, trigger_run, watch_run
from tests.pipeline_tasks import SHIPPING_TASK_IDS, SKIPPED_WHEN_SHIPPING

pytestmark = [pytest.mark.slow, pytest.mark.live]

LOGICAL_DATE = dt.datetime(2026, 1, 13, tzinfo=dt.UTC)  # after the last snapshot
# The tasks that wait for a detached local job in the triggerer.
JOB_TASKS = ("train_dpo", "evaluate.generate", "evaluate.llm_judge")


# Starting the deployment (up to 5 min), parsing, the run, and stopping it all count.
@pytest.mark.timeout(1800)
def test_a_run_triggered_through_the_rest_api_succeeds_on_both_workers(airflow_deployment, api, tmp_path):
    write_synthetic(tmp_path / "source", 160, seed=3, snapshots=SNAPSHOTS)
    # The storage root the deployment's teardown looks in for jobs left running.
    run_conf = conf(tmp_path, storage_root=str(airflow_deployment.nova_dpo_home), gate={})

    run_id = trigger_run(api, "live-test", LOGICAL_DATE, run_conf)
    run, instances, deferred = watch_run(api, run_id)

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
