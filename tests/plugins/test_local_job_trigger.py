"""LocalJobTrigger: serialization, and run() against real detached ``sleep`` jobs."""

from __future__ import annotations

import asyncio
import importlib
import json
import re

import pytest
from airflow.triggers.base import TriggerEvent

from nova_dpo.platforms.base import JobStatus
from nova_dpo_airflow.triggers.local_job import LocalJobTrigger, describe_progress


async def all_events(trigger: LocalJobTrigger, timeout: float = 30) -> list[TriggerEvent]:
    async def collect() -> list[TriggerEvent]:
        return [event async for event in trigger.run()]

    return await asyncio.wait_for(collect(), timeout)


def test_serialize_round_trip(tmp_path):
    trigger = LocalJobTrigger(root=str(tmp_path), job_name="train-r1", poll_interval=3)

    classpath, kwargs = trigger.serialize()
    json.dumps(kwargs)
    module_name, class_name = classpath.rsplit(".", 1)
    rebuilt = getattr(importlib.import_module(module_name), class_name)(**kwargs)

    assert classpath == "nova_dpo_airflow.triggers.local_job.LocalJobTrigger"
    assert kwargs == {"root": str(tmp_path), "job_name": "train-r1", "poll_interval": 3}
    assert rebuilt.serialize() == (classpath, kwargs)


def test_a_completed_job_yields_one_success_event(runner):
    ref = runner.submit("train-r1", "sleep", {"seconds": 0.3})
    trigger = LocalJobTrigger(root=str(runner.root), job_name=ref.name, poll_interval=0.05)

    events = asyncio.run(all_events(trigger))

    assert events == [
        TriggerEvent(
            {"status": "success", "job_name": "train-r1", "message": "Local job train-r1 is Completed."}
        )
    ]


def test_a_failed_job_yields_a_failed_event_with_the_reason(runner):
    ref = runner.submit("train-r1", "sleep", {"seconds": 0.1, "fail": True, "message": "out of memory"})
    trigger = LocalJobTrigger(root=str(runner.root), job_name=ref.name, poll_interval=0.05)

    (event,) = asyncio.run(all_events(trigger))

    assert event.payload["status"] == "failed"
    assert event.payload["job_name"] == "train-r1"
    assert event.payload["message"].startswith("RuntimeError: out of memory")
    assert "Last lines of" in event.payload["message"]


def test_a_job_stopped_at_its_max_run_yields_a_stopped_event(runner):
    ref = runner.submit("train-r1", "sleep", {"seconds": 30}, max_run=0.3)
    trigger = LocalJobTrigger(root=str(runner.root), job_name=ref.name, poll_interval=0.05)

    (event,) = asyncio.run(all_events(trigger))

    assert event.payload["status"] == "stopped"
    assert event.payload["message"].startswith("MaxRuntimeExceeded")


def test_a_job_stopped_while_waited_for_yields_a_stopped_event(runner):
    ref = runner.submit("train-r1", "sleep", {"seconds": 30})
    trigger = LocalJobTrigger(root=str(runner.root), job_name=ref.name, poll_interval=0.05)

    async def stop_soon() -> list[TriggerEvent]:
        waiting = asyncio.create_task(all_events(trigger))
        await asyncio.sleep(0.2)
        await asyncio.to_thread(runner.stop, ref)
        return await waiting

    (event,) = asyncio.run(stop_soon())

    assert event.payload == {
        "status": "stopped",
        "job_name": "train-r1",
        "message": "Local job train-r1 is Stopped.",
    }


def test_on_kill_stops_the_job(runner):
    """What the triggerer calls when a user marks the waiting task failed (here without a task instance to
    ask, as outside a triggerer; tests/live/test_live_faults.py covers the task's states)."""
    ref = runner.submit("train-r1", "sleep", {"seconds": 30})
    trigger = LocalJobTrigger(root=str(runner.root), job_name=ref.name, poll_interval=0.05)

    asyncio.run(trigger.on_kill())

    assert runner.describe(ref).status is JobStatus.STOPPED


def test_on_kill_leaves_an_ended_job_and_a_missing_one_alone(runner):
    ref = runner.submit("train-r1", "sleep", {"seconds": 0.1})
    runner.wait(ref, timeout=20)

    asyncio.run(LocalJobTrigger(root=str(runner.root), job_name=ref.name).on_kill())
    asyncio.run(LocalJobTrigger(root=str(runner.root), job_name="missing").on_kill())

    assert runner.describe(ref).status is JobStatus.COMPLETED


def test_an_unknown_job_yields_a_failed_event(tmp_path):
    trigger = LocalJobTrigger(root=str(tmp_path), job_name="missing", poll_interval=0.05)

    (event,) = asyncio.run(all_events(trigger))

    assert event.payload["status"] == "failed"
    assert "There is no local job named 'missing'" in event.payload["message"]


def test_progress_is_logged_while_the_job_runs(runner, capsys):
    ref = runner.submit("train-r1", "sleep", {"seconds": 1.0})
    trigger = LocalJobTrigger(root=str(runner.root), job_name=ref.name, poll_interval=0.2)

    asyncio.run(all_events(trigger))

    assert re.search(r"Local job train-r1 is InProgress: \d+% done", capsys.readouterr().out)


def test_the_trigger_only_reads_the_job_folder(runner):
    """It may run more than once (triggerer restarts): running it again changes nothing and says the same."""
    ref = runner.submit("train-r1", "sleep", {"seconds": 0.1})
    runner.wait(ref, timeout=20)
    files = {path: path.read_bytes() for path in runner.job_dir(ref.name).rglob("*") if path.is_file()}
    trigger = LocalJobTrigger(root=str(runner.root), job_name=ref.name, poll_interval=0.05)

    first = asyncio.run(all_events(trigger))
    second = asyncio.run(all_events(trigger))

    assert first == second
    assert {
        path: path.read_bytes() for path in runner.job_dir(ref.name).rglob("*") if path.is_file()
    } == files


@pytest.mark.parametrize(
    ("progress", "line"),
    [
        (
            {"step": 3, "total_steps": 10, "loss": 0.6931, "eta_seconds": 75.0},
            "step 3/10, loss 0.6931, ETA 1m15s",
        ),
        (
            {"stage": "generate", "rows_done": 8, "rows_total": 32, "eta_seconds": 3700},
            "generate 8/32, ETA 1h01m40s",
        ),
        (
            {
                "secondary_status": "Training",
                "message": "Training image download completed.",
                "estimated_cost_usd": 12.5,
            },
            "Training, Training image download completed., ~$12.50 so far",
        ),
        ({"elapsed_seconds": 0.4, "fraction": 0.4}, "40% done"),
        ({}, "no progress reported yet"),
    ],
    ids=["training", "generation", "sagemaker", "fraction", "nothing"],
)
def test_describe_progress(progress, line):
    assert describe_progress(progress) == line
