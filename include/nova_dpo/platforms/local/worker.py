"""The process of one local job: ``python -m nova_dpo.platforms.local.worker JOB_DIR``.

:class:`~nova_dpo.platforms.local.jobs.LocalJobRunner` starts it detached, in its own session. The job folder:

- ``job.json`` (read here): ``{"name", "kind", "spec", "max_run", "submitted"}``, written by the runner;
- ``status.json``: ``status`` (a :class:`JobStatus` value), ``pid``, ``pgid``, ``process`` (see
  :func:`process_identity`), ``started``, ``ended``, ``failure_reason``, ``exit_code``; always replaced
  atomically, so a reader never sees half a file;
- ``progress.json``: the last dict the job reported, plus ``updated``;
- ``result.json``: what the job function returned, written before the status turns Completed;
- ``output/``: the job's output folder; ``train.log``: the process's stdout and stderr.

A job kind names a function ``fn(spec: dict, output_dir: Path, progress: Callable[[dict], None]) -> dict`` as
``"module:function"``. It is imported here, in the job's process, so whoever submits jobs never loads torch.
SIGTERM stops a job (status Stopped); so does running past ``max_run`` (Stopped, reason MaxRuntimeExceeded,
as on SageMaker).

Training and evaluation jobs each take a *compute slot* before they start: ``$NOVA_DPO_LOCAL_SLOTS`` of them
(default 1) per jobs folder, held as ``flock`` locks on ``{jobs}/.slots/N.lock`` for the life of the process, so
the kernel frees a slot whenever its job ends, however it ends. On a small machine two jobs sharing the cores
run far slower than one after the other (each framework thread pool spins for cores the other holds), so the
pipeline's parallel evaluation jobs queue here instead, like jobs waiting for capacity on SageMaker. A waiting
job is InProgress with ``{"phase": "waiting for a compute slot"}`` as its progress; ``max_run`` counts from the
moment it gets its slot.
"""

from __future__ import annotations

import fcntl
import importlib
import json
import logging
import os
import resource
import signal
import sys
import time
import traceback
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from nova_dpo.platforms.base import JobStatus

JOB_FILE = "job.json"
STATUS_FILE = "status.json"
PROGRESS_FILE = "progress.json"
RESULT_FILE = "result.json"
LOG_FILE = "train.log"
OUTPUT_DIR = "output"

JOB_KINDS: dict[str, str] = {
    "training": "nova_dpo.platforms.local.training:run_training_job",
    "evaluation": "nova_dpo.platforms.local.generation:run_evaluation_job",
    "sleep": "nova_dpo.platforms.local.worker:run_sleep_job",
}

# Kinds that need the machine's cores to themselves (see the module docstring).
COMPUTE_KINDS = frozenset({"training", "evaluation"})
SLOTS_ENV = "NOVA_DPO_LOCAL_SLOTS"
SLOTS_DIR = ".slots"
_SLOT_POLL_SECONDS = 0.5

ProgressFn = Callable[[dict[str, Any]], None]
JobFunction = Callable[[dict[str, Any], Path, ProgressFn], dict[str, Any]]

EXIT_FAILED = 1
EXIT_MAX_RUNTIME = 124  # what timeout(1) uses
EXIT_STOPPED = 128 + signal.SIGTERM

_SLEEP_PROGRESS_INTERVAL = 0.1

log = logging.getLogger(__name__)


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


def write_json_atomic(path: Path, data: dict[str, Any], *, durable: bool = True) -> None:
    """Replace ``path`` with ``data`` in one step; ``durable`` also survives a power cut (fsync)."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, default=_jsonable)
        if durable:
            handle.flush()
            os.fsync(handle.fileno())
    os.replace(tmp, path)


def read_json(path: Path) -> dict[str, Any] | None:
    """The JSON object in ``path``, or None when there is no such file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON ({err}); the job folder is damaged.") from err


def _jsonable(value: Any) -> Any:
    # Jobs report numpy / torch scalars as progress; they are numbers to the reader.
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def process_identity(pid: int) -> str | None:
    """A token naming the process ``pid`` for its whole life, or None when no such process runs.

    The token changes when the pid is reused by a later process (or after a reboot), so comparing it with
    the token a job recorded tells whether the job's process still runs. An exited process that its parent
    has not reaped yet (a zombie) counts as gone.
    """
    return _proc_identity(pid) if sys.platform.startswith("linux") else _psutil_identity(pid)


def _proc_identity(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # Fields after the command name, which is in parentheses and may itself hold spaces or parentheses:
    # field 3 is the state, field 22 the start time in clock ticks since boot (exact, unlike psutil's
    # create_time, which adds a boot time that can drift by a second between readers).
    after_command = stat[stat.rindex(")") + 2 :].split()
    if after_command[0] in ("Z", "X"):
        return None
    return f"{_boot_id()}:{after_command[19]}"


def _psutil_identity(pid: int) -> str | None:
    import psutil  # for systems without /proc (macOS); Airflow depends on psutil

    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return None
        return f"{process.create_time():.6f}"
    except psutil.NoSuchProcess:
        return None


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return "unknown-boot"


def load_job_function(kind: str) -> JobFunction:
    """The function that runs jobs of ``kind``, imported from :data:`JOB_KINDS`."""
    try:
        target = JOB_KINDS[kind]
    except KeyError:
        raise ValueError(
            f"Unknown job kind {kind!r}; the local platform runs {', '.join(sorted(JOB_KINDS))}."
        ) from None
    module_name, _, function_name = target.partition(":")
    return getattr(importlib.import_module(module_name), function_name)


def run_sleep_job(spec: dict[str, Any], output_dir: Path, progress: ProgressFn) -> dict[str, Any]:
    """Sleep, reporting progress every 0.1 s, then succeed or fail: a smoke test of the job machinery.

    :param spec: ``{"seconds": float (default 1), "fail": bool (default False), "message": str}``. The message
        goes to the log; a failing job raises RuntimeError(message), a succeeding one writes it to
        ``output/message.txt``.
    """
    unknown = sorted(set(spec) - {"seconds", "fail", "message"})
    if unknown:
        raise ValueError(f"Unknown keys {unknown} in a sleep job's spec; it takes seconds, fail and message.")
    seconds = float(spec.get("seconds", 1.0))
    if seconds < 0:
        raise ValueError(f"A sleep job cannot sleep {seconds} seconds.")
    message = str(spec.get("message", "slept"))
    started = time.monotonic()
    deadline = started + seconds
    while (now := time.monotonic()) < deadline:
        progress(
            {"elapsed_seconds": round(now - started, 3), "fraction": round((now - started) / seconds, 3)}
        )
        time.sleep(min(_SLEEP_PROGRESS_INTERVAL, deadline - now))
    progress({"elapsed_seconds": round(seconds, 3), "fraction": 1.0})
    print(message, flush=True)
    if spec.get("fail"):
        raise RuntimeError(message)
    (output_dir / "message.txt").write_text(message + "\n", encoding="utf-8")
    return {"message": message, "seconds": seconds}


class _Interrupted(BaseException):
    """Raised in the job by SIGTERM or the max-run timer. A BaseException, so job code that catches
    Exception does not swallow a stop."""

    def __init__(self, reason: str | None, exit_code: int) -> None:
        super().__init__(reason or "stopped")
        self.reason = reason
        self.exit_code = exit_code


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise _Interrupted(None, EXIT_STOPPED)


def _max_run_handler(max_run: float) -> Callable[[int, FrameType | None], None]:
    def handler(signum: int, frame: FrameType | None) -> None:
        raise _Interrupted(
            f"MaxRuntimeExceeded: the job ran longer than its max_run of {max_run:g} s.", EXIT_MAX_RUNTIME
        )

    return handler


def _ignore_interrupts() -> None:
    # Once the outcome is known, a late stop or timer must not overwrite it.
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGALRM, signal.SIG_IGN)


def _progress_writer(path: Path) -> ProgressFn:
    def progress(values: dict[str, Any]) -> None:
        # Frequent and only informative: not worth an fsync each time.
        write_json_atomic(path, {**values, "updated": now_iso()}, durable=False)

    return progress


def compute_slots() -> int:
    """How many compute jobs may run at once: ``$NOVA_DPO_LOCAL_SLOTS``, default 1."""
    value = os.environ.get(SLOTS_ENV, "1")
    try:
        slots = int(value)
    except ValueError:
        slots = 0
    if slots < 1:
        raise ValueError(f"{SLOTS_ENV} must be a positive number of concurrent jobs, got {value!r}.")
    return slots


def acquire_compute_slot(jobs_root: Path, progress: ProgressFn) -> int:
    """Block until one of the compute slots under ``jobs_root`` is free; hold it until this process exits.

    :returns: the file descriptor of the held lock (closing it frees the slot early).
    """
    slots_dir = jobs_root / SLOTS_DIR
    slots_dir.mkdir(parents=True, exist_ok=True)
    waiting_since = time.monotonic()
    announced = False
    while True:
        for index in range(compute_slots()):
            fd = os.open(slots_dir / f"{index}.lock", os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            if announced:
                log.info("Got compute slot %d after %.0f s", index, time.monotonic() - waiting_since)
            return fd
        if not announced:
            log.info(
                "Waiting for a compute slot (%s=%d): another local job is running", SLOTS_ENV, compute_slots()
            )
            progress({"phase": "waiting for a compute slot"})
            announced = True
        time.sleep(_SLOT_POLL_SECONDS)


def run(job_dir: Path) -> int:
    """Run the job in ``job_dir`` to its end and record how it ended; the process's exit code."""
    # Before anything else, so that a stop arriving during start-up is recorded as Stopped too.
    signal.signal(signal.SIGTERM, _on_sigterm)
    status: dict[str, Any] = {
        "status": JobStatus.IN_PROGRESS.value,
        "pid": os.getpid(),
        "pgid": os.getpgid(0),
        "process": process_identity(os.getpid()),
        "started": now_iso(),
        "ended": None,
        "failure_reason": None,
        "exit_code": None,
    }
    write_json_atomic(job_dir / STATUS_FILE, status)
    try:
        job = read_json(job_dir / JOB_FILE)
        if job is None:
            raise FileNotFoundError(f"{job_dir / JOB_FILE} is missing; the job folder is damaged.")
        log.info("Job %s (%s) started, pid %d", job.get("name"), job["kind"], os.getpid())
        if job["kind"] in COMPUTE_KINDS:
            acquire_compute_slot(job_dir.parent, _progress_writer(job_dir / PROGRESS_FILE))
        if job.get("max_run"):
            signal.signal(signal.SIGALRM, _max_run_handler(float(job["max_run"])))
            signal.setitimer(signal.ITIMER_REAL, float(job["max_run"]))
        function = load_job_function(job["kind"])
        output_dir = job_dir / OUTPUT_DIR
        output_dir.mkdir(exist_ok=True)
        result = function(job["spec"], output_dir, _progress_writer(job_dir / PROGRESS_FILE))
        _ignore_interrupts()
        # ru_maxrss is in KiB on Linux: the job's peak memory, for sizing workers.
        peak_rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        write_json_atomic(job_dir / RESULT_FILE, dict(result or {}))
        status.update(status=JobStatus.COMPLETED.value, exit_code=0, peak_rss_mib=round(peak_rss_mib))
        log.info("Job completed (peak RSS %.0f MiB)", peak_rss_mib)
    except _Interrupted as stop:
        _ignore_interrupts()
        log.warning("Job stopped: %s", stop.reason or "SIGTERM")
        status.update(status=JobStatus.STOPPED.value, failure_reason=stop.reason, exit_code=stop.exit_code)
    except BaseException as err:  # SystemExit from job code is a failure too: the job did not return
        _ignore_interrupts()
        traceback.print_exc()
        status.update(
            status=JobStatus.FAILED.value,
            failure_reason=f"{type(err).__name__}: {err}",
            exit_code=EXIT_FAILED,
        )
    status["ended"] = now_iso()
    write_json_atomic(job_dir / STATUS_FILE, status)
    return status["exit_code"]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m nova_dpo.platforms.local.worker JOB_DIR", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    return run(Path(args[0]).resolve())


if __name__ == "__main__":
    sys.exit(main())
