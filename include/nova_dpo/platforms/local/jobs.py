"""Detached local jobs: what SageMaker training jobs are to the production platform.

Each job runs in its own process (:mod:`nova_dpo.platforms.local.worker`) in a new session, so it has its own
process group and outlives the Airflow worker that started it: a worker restart does not kill training, and a
retried task finds the job by name and attaches to it. (A container stop, or a systemd unit with
``KillMode=control-group``, still ends every process in it, jobs included.)

A job is the folder ``{root}/jobs/{name}/`` (its files are described in the worker module). All of a job's
state lives there, so any process (an operator, the triggerer, the CLI) can describe or stop a job that
another process started.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nova_dpo
from nova_dpo.platforms.base import (
    INFERENCE_OUTPUT_FILE,
    MANIFEST_CHECKPOINT_KEY,
    MANIFEST_FILE,
    RESULTS_FILE_GLOB,
    TRAINING_METRICS_FILE,
    VALIDATION_METRICS_FILE,
    JobConflictError,
    JobNotFoundError,
    JobOutputs,
    JobRef,
    JobState,
    JobStatus,
    parse_time,
    validate_job_name,
)
from nova_dpo.platforms.local.credentials import CREDENTIAL_ENVS, check_credentials
from nova_dpo.platforms.local.worker import (
    JOB_FILE,
    JOB_KINDS,
    LOG_FILE,
    OUTPUT_DIR,
    PROGRESS_FILE,
    RESULT_FILE,
    STATUS_FILE,
    now_iso,
    process_identity,
    read_json,
    write_json_atomic,
)

PLATFORM = "local"
WORKER_MODULE = "nova_dpo.platforms.local.worker"
LOG_TAIL_LINES = 20

_POLL_SECONDS = 0.05
_KILL_WAIT_SECONDS = 5.0
_REAP_WAIT_SECONDS = 2.0
_LOG_TAIL_BYTES = 64 * 1024


class LocalJobRunner:
    """Starts, describes and stops detached jobs under ``{root}/jobs/``.

    :param root: the local platform's folder.
    :param stop_grace_seconds: how long ``stop`` waits after SIGTERM before it sends SIGKILL.
    :param start_timeout_seconds: how long a job's process may take to report that it started.
    :param credentials: values the jobs this runner starts find in their environment, under the names of
        :data:`~nova_dpo.platforms.local.credentials.CREDENTIAL_ENVS` (never written to the job's folder).
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        stop_grace_seconds: float = 10.0,
        start_timeout_seconds: float = 30.0,
        credentials: Mapping[str, str] | None = None,
    ) -> None:
        self.root = Path(root).absolute()
        self._credentials = check_credentials(credentials)
        self.jobs_dir = self.root / "jobs"
        self.stop_grace_seconds = stop_grace_seconds
        self.start_timeout_seconds = start_timeout_seconds
        # Processes this runner started: their exit codes, and waiting on them so they leave no zombies.
        self._children: dict[str, subprocess.Popen[bytes]] = {}

    def job_dir(self, name: str) -> Path:
        return self.jobs_dir / validate_job_name(name)

    def ref(self, name: str) -> JobRef:
        return JobRef(platform=PLATFORM, name=name, handle=str(self.job_dir(name)))

    # ---------------------------------------------------------------------------------------------- submit

    def submit(
        self, name: str, kind: str, spec: Mapping[str, Any], *, max_run: float | None = None
    ) -> JobRef:
        """Start job ``name``, or attach to it if it exists.

        :param name: the job's name (SageMaker's rule: letters, digits, hyphens, at most 63).
        :param kind: what the job runs, a key of the worker's ``JOB_KINDS``.
        :param spec: the job function's input; must be JSON-serializable.
        :param max_run: seconds after which the job is stopped; None for no limit.
        :raises JobConflictError: a job of that name exists with another kind, spec or max_run.
        """
        job_dir = self.job_dir(name)
        if kind not in JOB_KINDS:
            raise ValueError(
                f"Unknown job kind {kind!r}; the local platform runs {', '.join(sorted(JOB_KINDS))}."
            )
        if max_run is not None and max_run <= 0:
            raise ValueError(f"max_run must be a positive number of seconds, not {max_run}.")
        definition = {"kind": kind, "spec": _plain_json(spec), "max_run": max_run}
        if not job_dir.exists() and self._create(
            job_dir, {"name": name, **definition, "submitted": now_iso()}
        ):
            self._start(name, job_dir)
        else:
            self._check_same_definition(name, definition)
        return self.ref(name)

    def _create(self, job_dir: Path, job: dict[str, Any]) -> bool:
        """Create the job folder with its job.json; False when another process created it first."""
        self.jobs_dir.mkdir(parents=True, exist_ok=True)
        staging = self.jobs_dir / f".staging-{job_dir.name}-{uuid.uuid4().hex}"
        staging.mkdir()
        write_json_atomic(staging / JOB_FILE, job)
        try:
            # A folder appears whole, job.json included, or not at all: two submits racing for one name
            # cannot both start a process.
            staging.rename(job_dir)
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)
            if not (job_dir / JOB_FILE).exists():
                raise
            return False
        return True

    def _check_same_definition(self, name: str, definition: dict[str, Any]) -> None:
        existing = read_json(self.job_dir(name) / JOB_FILE) or {}
        differences = _differences({key: existing.get(key) for key in definition}, definition)
        if differences:
            raise JobConflictError(
                f"A local job named {name!r} already exists with a different {', '.join(differences)}. A job "
                f"name stands for one job: submit under a new name, or delete {self.job_dir(name)} to reuse it."
            )

    def _start(self, name: str, job_dir: Path) -> None:
        with (job_dir / LOG_FILE).open("ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", WORKER_MODULE, str(job_dir.resolve())],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own session and process group: it outlives us
                env=_worker_environment(self._credentials),
            )
        self._children[name] = process
        threading.Thread(target=process.wait, name=f"wait-job-{name}", daemon=True).start()
        self._wait_until_started(job_dir, process)

    def _wait_until_started(self, job_dir: Path, process: subprocess.Popen[bytes]) -> None:
        """Wait for the worker's first status, so a job that cannot start is Failed when submit returns."""
        deadline = time.monotonic() + self.start_timeout_seconds
        while not (job_dir / STATUS_FILE).exists():
            if process.poll() is not None:
                if (job_dir / STATUS_FILE).exists():  # it started, and ended, in between
                    return
                self._record_end(
                    job_dir,
                    JobStatus.FAILED,
                    f"The job process exited with code {process.returncode} before it started the job.",
                    exit_code=process.returncode,
                )
                return
            if time.monotonic() > deadline:
                _signal_group(process.pid, signal.SIGKILL)
                self._record_end(
                    job_dir,
                    JobStatus.FAILED,
                    f"The job process did not start within {self.start_timeout_seconds:g} s and was killed.",
                )
                return
            time.sleep(_POLL_SECONDS / 2)

    # -------------------------------------------------------------------------------------------- describe

    def describe(self, ref: JobRef) -> JobState:
        """The job's state. A job whose process is gone without having reported an end (killed, out of
        memory, machine restarted) is marked Failed, with the end of its log as the reason."""
        job_dir = self._existing_job_dir(ref)
        status = read_json(job_dir / STATUS_FILE)
        if status is None:
            status = self._status_before_start(job_dir)
        elif not JobStatus(status["status"]).is_terminal and not _is_running(status):
            status = self._mark_vanished(ref.name, job_dir)
        return self._state(job_dir, status)

    def _status_before_start(self, job_dir: Path) -> dict[str, Any]:
        job = read_json(job_dir / JOB_FILE) or {}
        submitted = parse_time(job.get("submitted")) or datetime.fromtimestamp(job_dir.stat().st_mtime, UTC)
        if (datetime.now(UTC) - submitted).total_seconds() <= self.start_timeout_seconds:
            return {"status": JobStatus.IN_PROGRESS.value}
        # The process that submitted the job stopped between creating its folder and starting it.
        return self._record_end(
            job_dir, JobStatus.FAILED, "The job was never started: the process submitting it stopped first."
        )

    def _mark_vanished(self, name: str, job_dir: Path) -> dict[str, Any]:
        # Read again: the worker writes its final status just before it exits, so this read is after it.
        status = read_json(job_dir / STATUS_FILE) or {"status": JobStatus.IN_PROGRESS.value}
        if JobStatus(status["status"]).is_terminal:
            return status
        exit_code = self._exit_code(name)
        process = f"The job process (pid {status.get('pid')})"
        if exit_code is None:
            reason = (
                f"{process} is gone without having reported a result: it was killed (SIGKILL, the "
                "out-of-memory killer) or the machine restarted."
            )
        elif exit_code < 0:
            reason = (
                f"{process} was killed by {signal.Signals(-exit_code).name} before it reported a result "
                "(by hand, or by the out-of-memory killer)."
            )
        else:
            reason = f"{process} exited with code {exit_code} without reporting a result."
        return self._record_end(
            job_dir, JobStatus.FAILED, reason, exit_code=exit_code, ended=_last_activity(job_dir)
        )

    def _exit_code(self, name: str) -> int | None:
        """The exit code of a job process this runner started, once the process is gone; None otherwise.

        A thread of this runner waits on every child; ``poll`` returns None while that thread holds the
        process's wait lock, even after the process died, so this waits (briefly) for the thread to reap it.
        """
        child = self._children.get(name)
        if child is None:
            return None
        try:
            return child.wait(timeout=_REAP_WAIT_SECONDS)
        except subprocess.TimeoutExpired:
            return None

    def _record_end(
        self,
        job_dir: Path,
        outcome: JobStatus,
        reason: str | None,
        *,
        exit_code: int | None = None,
        ended: str | None = None,
    ) -> dict[str, Any]:
        """Write the final status of a job whose process cannot write it any more."""
        status = read_json(job_dir / STATUS_FILE) or {}
        status.update(
            status=outcome.value, failure_reason=reason, exit_code=exit_code, ended=ended or now_iso()
        )
        write_json_atomic(job_dir / STATUS_FILE, status)
        return status

    def _state(self, job_dir: Path, status: dict[str, Any]) -> JobState:
        job_status = JobStatus(status["status"])
        started = parse_time(status.get("started"))
        ended = parse_time(status.get("ended"))
        billable = None
        if started is not None:
            billable = max(0, round(((ended or datetime.now(UTC)) - started).total_seconds()))
        reason = status.get("failure_reason")
        if job_status is JobStatus.FAILED:
            reason = (
                f"{reason or 'The job failed.'}\n\nLast lines of {job_dir / LOG_FILE}:\n{_log_tail(job_dir)}"
            )
        return JobState(
            status=job_status,
            failure_reason=reason,
            progress=read_json(job_dir / PROGRESS_FILE) or {},
            billable_seconds=billable,
            started=started,
            ended=ended,
        )

    def log_tail(self, ref: JobRef, lines: int = LOG_TAIL_LINES) -> str:
        """The last ``lines`` lines of the job's log."""
        return _log_tail(self._existing_job_dir(ref), lines)

    def wait(self, ref: JobRef, *, timeout: float | None = None, poll_seconds: float = 0.2) -> JobState:
        """Block until the job ends; its final state.

        :raises TimeoutError: it still runs after ``timeout`` seconds.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while not (state := self.describe(ref)).is_terminal:
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(
                    f"Local job {ref.name!r} still runs after {timeout:g} s ({state.progress})."
                )
            time.sleep(poll_seconds)
        return state

    def list_jobs(self, prefix: str = "") -> list[JobRef]:
        """The jobs whose names start with ``prefix``, by name."""
        if not self.jobs_dir.is_dir():
            return []
        return [
            self.ref(path.name)
            for path in sorted(self.jobs_dir.iterdir())
            if path.name.startswith(prefix) and not path.name.startswith(".") and (path / JOB_FILE).exists()
        ]

    # ------------------------------------------------------------------------------------------------ stop

    def stop(self, ref: JobRef) -> None:
        """Stop the job: SIGTERM to its process group, SIGKILL after the grace period. Status Stopped, unless
        the job ended by itself first. A no-op for a job that already ended."""
        job_dir = self._existing_job_dir(ref)
        status = self._wait_for_status(job_dir)
        if status is None:
            self._record_end(job_dir, JobStatus.STOPPED, None)
            return
        if JobStatus(status["status"]).is_terminal:
            return
        if not _is_running(status):
            self._mark_vanished(ref.name, job_dir)
            return
        pgid = status["pgid"]
        _signal_group(pgid, signal.SIGTERM)
        if not _wait_until_gone(status, self.stop_grace_seconds):
            _signal_group(pgid, signal.SIGKILL)
            _wait_until_gone(status, _KILL_WAIT_SECONDS)
        # Whatever the job started in its group (data loader workers, ...) goes with it.
        _signal_group(pgid, signal.SIGKILL)
        child = self._children.get(ref.name)
        if child is not None:
            child.wait(timeout=_KILL_WAIT_SECONDS)
        if not JobStatus((read_json(job_dir / STATUS_FILE) or status)["status"]).is_terminal:
            self._record_end(
                job_dir, JobStatus.STOPPED, None, exit_code=child.returncode if child is not None else None
            )

    def _wait_for_status(self, job_dir: Path) -> dict[str, Any] | None:
        """The job's status, waiting for a job that is still starting; None if it never starts."""
        deadline = time.monotonic() + self.start_timeout_seconds
        while (status := read_json(job_dir / STATUS_FILE)) is None and time.monotonic() < deadline:
            time.sleep(_POLL_SECONDS)
        return status

    # --------------------------------------------------------------------------------------------- outputs

    def outputs(self, ref: JobRef) -> JobOutputs:
        """Where a Completed job's results are, found by Nova's output file names.

        :raises ValueError: the job has not completed.
        """
        state = self.describe(ref)
        if state.status is not JobStatus.COMPLETED:
            raise ValueError(
                f"Local job {ref.name!r} is {state.status.value}; only a completed job has outputs."
                + (f" {state.failure_reason}" if state.failure_reason else "")
            )
        job_dir = self._existing_job_dir(ref)
        output = job_dir / OUTPUT_DIR
        manifest = read_json(output / MANIFEST_FILE)
        return JobOutputs(
            output_uri=output.resolve().as_uri(),
            checkpoint_uri=manifest.get(MANIFEST_CHECKPOINT_KEY) if manifest else None,
            metrics_uri=_uri_if_exists(output / TRAINING_METRICS_FILE),
            validation_metrics_uri=_uri_if_exists(output / VALIDATION_METRICS_FILE),
            manifest=manifest,
            results_uri=_newest(output, RESULTS_FILE_GLOB),
            inference_output_uri=_newest(output, INFERENCE_OUTPUT_FILE),
            result=read_json(job_dir / RESULT_FILE) or {},
        )

    def _existing_job_dir(self, ref: JobRef) -> Path:
        job_dir = self.job_dir(ref.check_platform(PLATFORM))
        if not (job_dir / JOB_FILE).exists():
            raise JobNotFoundError(f"There is no local job named {ref.name!r} under {self.jobs_dir}.")
        return job_dir


# ------------------------------------------------------------------------------------------------- helpers


def _plain_json(spec: Mapping[str, Any]) -> dict[str, Any]:
    """``spec`` as it reads back from JSON, so a spec compares equal to its stored copy."""
    try:
        return json.loads(json.dumps(dict(spec)))
    except TypeError as err:
        raise ValueError(f"A local job's spec must be JSON-serializable: {err}") from err


def _differences(old: Any, new: Any, prefix: str = "") -> list[str]:
    """The dotted keys where two JSON values differ."""
    if isinstance(old, dict) and isinstance(new, dict):
        found: list[str] = []
        for key in sorted(set(old) | set(new)):
            found += _differences(old.get(key), new.get(key), f"{prefix}{key}.")
        return found
    return [] if old == new else [prefix.rstrip(".")]


def _worker_environment(credentials: Mapping[str, str]) -> dict[str, str]:
    # A credential variable the worker happens to have is not inherited: a job sees only what it was given.
    env = {name: value for name, value in os.environ.items() if name not in CREDENTIAL_ENVS}
    env.update(credentials)
    # The job must import this same nova_dpo, which Airflow may have on sys.path without it being installed.
    package_parent = str(Path(nova_dpo.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_parent, env.get("PYTHONPATH")]))
    # The log is read while the job runs.
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _is_running(status: Mapping[str, Any]) -> bool:
    """Whether the process a status names still runs: the same pid and the same process (pids are reused)."""
    pid = status.get("pid")
    return (
        pid is not None and status.get("process") is not None and process_identity(pid) == status["process"]
    )


def _wait_until_gone(status: Mapping[str, Any], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _is_running(status):
        if time.monotonic() > deadline:
            return False
        time.sleep(_POLL_SECONDS)
    return True


def _signal_group(pgid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):  # the group is already gone
        os.killpg(pgid, signum)


def _last_activity(job_dir: Path) -> str:
    """When a job that died unseen was last heard from: the newest of its log and progress."""
    times = [path.stat().st_mtime for path in (job_dir / LOG_FILE, job_dir / PROGRESS_FILE) if path.exists()]
    return datetime.fromtimestamp(max(times), UTC).isoformat() if times else now_iso()


def _log_tail(job_dir: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        with (job_dir / LOG_FILE).open("rb") as handle:
            handle.seek(max(0, handle.seek(0, os.SEEK_END) - _LOG_TAIL_BYTES))
            data = handle.read()
    except FileNotFoundError:
        return "(no log)"
    return "\n".join(data.decode("utf-8", errors="replace").splitlines()[-lines:])


def _uri_if_exists(path: Path) -> str | None:
    return path.resolve().as_uri() if path.exists() else None


def _newest(folder: Path, pattern: str) -> str | None:
    """The last match of ``pattern`` anywhere under ``folder``, by name (Nova's result names are timestamps)."""
    matches = sorted(folder.rglob(pattern), key=lambda path: path.name)
    return matches[-1].resolve().as_uri() if matches else None
