"""A trigger that waits, in the triggerer, for a job of the local platform to end.

The triggerer must see the local platform's folder (``root``) at the same path as the workers: one machine,
or a shared volume, as in the project's docker-compose setup.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import Any

from airflow.sdk import TaskInstanceState
from airflow.triggers.base import BaseTrigger, TriggerEvent

from nova_dpo.platforms.base import JobNotFoundError, JobState, JobStatus
from nova_dpo.platforms.local.jobs import LocalJobRunner

#: The trigger event's ``status`` for each way a job ends (the words SageMakerTrigger uses).
EVENT_STATUS = {JobStatus.COMPLETED: "success", JobStatus.FAILED: "failed", JobStatus.STOPPED: "stopped"}
# The states of a task instance that has ended: no try of it waits for its job any more.
_ENDED = frozenset(
    {
        TaskInstanceState.SUCCESS,
        TaskInstanceState.FAILED,
        TaskInstanceState.SKIPPED,
        TaskInstanceState.UPSTREAM_FAILED,
        TaskInstanceState.REMOVED,
    }
)


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
    whose process died is reported Failed. When a user marks the waiting task failed or success,
    :meth:`on_kill` stops the job, as the operator's ``on_kill`` does for a task that waits in a worker.

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

    async def on_kill(self) -> None:
        """Stop the job when a user ended the waiting task: marked it failed or success.

        The triggerer calls this when a user acts on the deferred task (marks it failed or success, or clears
        it), never when it stops or restarts (the trigger runs again in the next triggerer) nor when the trigger
        times out. It also calls it when another triggerer took the trigger over while this one seemed dead.

        Only a task that has ended lets its job go. A cleared task runs again, and its next try attaches to the
        job by name, as a retried task does: Airflow does not cancel this trigger before that next try starts
        (it may already wait on the job), so stopping the job here would fail the try that attached to it. A
        trigger taken over by another triggerer leaves its task deferred, and the job running, too.
        """
        # A trigger run outside a triggerer has no task instance: whoever calls on_kill decides.
        if self.task_instance is not None:
            state = await self._task_state()
            if state not in _ENDED:
                self.log.info(
                    "The task is %s, not ended: local job %s keeps running for it.",
                    state or "cleared",
                    self.job_name,
                )
                return
            self.log.info("The task is %s: stopping local job %s.", state, self.job_name)
        runner = LocalJobRunner(self.root)
        try:
            await asyncio.to_thread(runner.stop, runner.ref(self.job_name))
        except JobNotFoundError:
            self.log.info("Local job %s does not exist: nothing to stop.", self.job_name)

    async def _task_state(self) -> str | None:
        """The state of the task instance that deferred to this trigger, now (None once it was cleared)."""
        from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance

        ti = self.task_instance
        states = await asyncio.to_thread(
            RuntimeTaskInstance.get_task_states,
            dag_id=ti.dag_id,
            task_ids=[ti.task_id],
            run_ids=[ti.run_id],
            map_index=ti.map_index,
        )
        # The execution API names a mapped task instance <task_id>_<map_index>.
        key = ti.task_id if ti.map_index < 0 else f"{ti.task_id}_{ti.map_index}"
        return states.get(ti.run_id, {}).get(key)

    def _message(self, state: JobState) -> str:
        if state.failure_reason:
            return state.failure_reason
        return f"Local job {self.job_name} is {state.status.value}."
