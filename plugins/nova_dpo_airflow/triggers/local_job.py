"""A trigger that waits, in the triggerer, for a job of the local platform to end.

The triggerer must see the local platform's folder (``root``) at the same path as the workers: one machine,
or a shared volume, as in the project's docker-compose setup.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from nova_dpo.platforms.base import JobNotFoundError, JobState, JobStatus
from nova_dpo.platforms.local.jobs import LocalJobRunner

#: The trigger event's ``status`` for each way a job ends (the words SageMakerTrigger uses).
EVENT_STATUS = {JobStatus.COMPLETED: "success", JobStatus.FAILED: "failed", JobStatus.STOPPED: "stopped"}


def _duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


def describe_progress(progress: Mapping[str, Any]) -> str:
    """One line for people from a job's progress: step and loss, rows done, SageMaker's status, and ETA.

    Reads what the platforms report: the local trainer (``step``, ``total_steps``, ``loss``, ``eta_seconds``),
    local generation (``stage``, ``rows_done``, ``rows_total``), other local jobs (``fraction``), and
    SageMaker (``secondary_status``, ``message``, ``estimated_cost_usd``).
    """
    parts: list[str] = []
    if progress.get("secondary_status"):
        parts.append(str(progress["secondary_status"]))
    if progress.get("message"):
        parts.append(str(progress["message"]))
    if progress.get("step") is not None:
        total = progress.get("total_steps")
        parts.append(f"step {progress['step']}/{total}" if total else f"step {progress['step']}")
    if isinstance(progress.get("loss"), int | float):
        parts.append(f"loss {progress['loss']:.4f}")
    if isinstance(progress.get("eval_loss"), int | float):
        parts.append(f"validation loss {progress['eval_loss']:.4f}")
    if progress.get("rows_done") is not None:
        parts.append(f"{progress.get('stage', 'rows')} {progress['rows_done']}/{progress.get('rows_total')}")
    elif progress.get("step") is None and isinstance(progress.get("fraction"), int | float):
        parts.append(f"{progress['fraction']:.0%} done")
    if isinstance(progress.get("eta_seconds"), int | float):
        parts.append(f"ETA {_duration(progress['eta_seconds'])}")
    if isinstance(progress.get("estimated_cost_usd"), int | float):
        parts.append(f"~${progress['estimated_cost_usd']:.2f} so far")
    return ", ".join(parts) or "no progress reported yet"


class LocalJobTrigger(BaseTrigger):
    """
    Trigger when a local platform job has ended: Completed, Failed or Stopped.

    It only reads the job's folder (``describe``), so it may run more than once, or be moved to another
    triggerer, without harm. A job never runs forever: its process stops it at its ``max_run``, and a job
    whose process died is reported Failed.

    :param root: The local platform's folder (absolute).
    :param job_name: The name of the job to wait for.
    :param poll_interval: Seconds between two looks at the job. (default: 10)
    :return: one event ``{"status": "success" | "failed" | "stopped", "job_name": ..., "message": ...}``;
        the message is the failure reason of a job that did not complete.
    """

    def __init__(self, root: str, job_name: str, poll_interval: float = 10) -> None:
        super().__init__()
        self.root = root
        self.job_name = job_name
        self.poll_interval = poll_interval

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{self.__class__.__module__}.{self.__class__.__qualname__}",
            {"root": self.root, "job_name": self.job_name, "poll_interval": self.poll_interval},
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        runner = LocalJobRunner(self.root)
        try:
            ref = runner.ref(self.job_name)
            while not (state := await asyncio.to_thread(runner.describe, ref)).is_terminal:
                self.log.info(
                    "Local job %s is %s: %s",
                    self.job_name,
                    state.status.value,
                    describe_progress(state.progress),
                )
                await asyncio.sleep(self.poll_interval)
        except (JobNotFoundError, ValueError) as error:
            yield TriggerEvent({"status": "failed", "job_name": self.job_name, "message": str(error)})
            return
        yield TriggerEvent(
            {"status": EVENT_STATUS[state.status], "job_name": self.job_name, "message": self._message(state)}
        )

    def _message(self, state: JobState) -> str:
        if state.failure_reason:
            return state.failure_reason
        return f"Local job {self.job_name} is {state.status.value}."
