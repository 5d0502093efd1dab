"""Detached local jobs, exercised with the worker's ``sleep`` kind: real processes, no model."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

import nova_dpo
from nova_dpo.platforms.base import JobConflictError, JobNotFoundError, JobRef, JobStatus
from nova_dpo.platforms.local import jobs, worker
from nova_dpo.platforms.local.jobs import LocalJobRunner

LONG = {"seconds": 60.0, "message": "never printed"}


def status_file(runner: LocalJobRunner, name: str) -> dict:
    return json.loads((runner.job_dir(name) / worker.STATUS_FILE).read_text())


def wait_for(predicate, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)
    return value


def wait_until_running(runner: LocalJobRunner, ref: JobRef) -> None:
    """Until the job reports progress: its process has started the job function."""
    wait_for(lambda: runner.describe(ref).progress)


def processes_running(job_dir: Path) -> list[int]:
    """The pids of live processes whose command line names ``job_dir``."""
    pids = []
    for process in psutil.process_iter(["cmdline", "status"]):
        if (
            str(job_dir.resolve()) in (process.info["cmdline"] or [])
            and process.info["status"] != psutil.STATUS_ZOMBIE
        ):
            pids.append(process.pid)
    return pids


def group_is_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


def test_a_job_runs_to_completion_and_reports_progress(runner):
    ref = runner.submit("sleeper", "sleep", {"seconds": 1.5, "message": "good night"})

    assert ref == JobRef(platform="local", name="sleeper", handle=str(runner.job_dir("sleeper")))
    running = wait_for(lambda: (state := runner.describe(ref)).progress.get("fraction", 0) > 0 and state)
    assert running.status is JobStatus.IN_PROGRESS
    assert running.started is not None
    assert running.ended is None
    state = runner.wait(ref, timeout=15)
    assert state.status is JobStatus.COMPLETED
    assert state.failure_reason is None
    assert state.progress["fraction"] == 1.0
    assert state.billable_seconds >= 1
    assert state.ended > state.started
    assert status_file(runner, "sleeper")["exit_code"] == 0
    outputs = runner.outputs(ref)
    assert outputs.result == {"message": "good night", "seconds": 1.5}
    assert outputs.output_uri == (runner.job_dir("sleeper") / "output").as_uri()
    assert (runner.job_dir("sleeper") / "output" / "message.txt").read_text() == "good night\n"
    assert "good night" in runner.log_tail(ref)


def test_a_job_outlives_its_parent_and_is_reattached_by_name(runner, tmp_path):
    spec = {"seconds": 3.0}
    parent = (
        "import sys\n"
        "from nova_dpo.platforms.local.jobs import LocalJobRunner\n"
        "LocalJobRunner(sys.argv[1]).submit('survivor', 'sleep', {'seconds': 3.0})\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(nova_dpo.__file__).parent.parent)}
    subprocess.run([sys.executable, "-c", parent, str(tmp_path)], env=env, check=True, timeout=30)

    job_dir = runner.job_dir("survivor")
    first = status_file(runner, "survivor")
    assert worker.process_identity(first["pid"]) == first["process"], "the job died with its parent"
    job_file = job_dir / worker.JOB_FILE
    before = (job_file.read_bytes(), job_file.stat().st_mtime_ns)

    ref = runner.submit("survivor", "sleep", spec)

    assert runner.describe(ref).status is JobStatus.IN_PROGRESS
    assert processes_running(job_dir) == [first["pid"]]
    assert (job_file.read_bytes(), job_file.stat().st_mtime_ns) == before
    assert runner.wait(ref, timeout=15).status is JobStatus.COMPLETED
    assert status_file(runner, "survivor")["pid"] == first["pid"]


def test_a_killed_job_is_failed_with_its_log_tail(runner, tmp_path):
    ref = runner.submit("doomed", "sleep", LONG)
    wait_until_running(runner, ref)

    os.killpg(status_file(runner, "doomed")["pgid"], signal.SIGKILL)

    # A runner in another process (the triggerer, a retried task) knows only the job folder.
    observer = LocalJobRunner(tmp_path)
    state = wait_for(lambda: (state := observer.describe(ref)).is_terminal and state)
    assert state.status is JobStatus.FAILED
    assert "without having reported a result" in state.failure_reason
    assert "Job doomed (sleep) started" in state.failure_reason  # the log's tail
    assert status_file(runner, "doomed")["status"] == "Failed"  # recorded, not only reported
    assert runner.describe(ref).status is JobStatus.FAILED


def test_a_killed_job_started_here_names_the_signal(runner):
    ref = runner.submit("doomed-here", "sleep", LONG)
    wait_until_running(runner, ref)

    pgid = status_file(runner, "doomed-here")["pgid"]
    os.killpg(pgid, signal.SIGKILL)
    wait_for(lambda: group_is_gone(pgid))  # reaped by the runner, which so learns how it ended

    state = runner.describe(ref)
    assert state.status is JobStatus.FAILED
    assert "was killed by SIGKILL" in state.failure_reason


def test_a_job_that_raises_is_failed_with_the_message(runner):
    ref = runner.submit("faulty", "sleep", {"seconds": 0.1, "fail": True, "message": "the sky fell"})

    state = runner.wait(ref, timeout=15)

    assert state.status is JobStatus.FAILED
    assert state.failure_reason.startswith("RuntimeError: the sky fell")
    assert "Traceback" in state.failure_reason
    assert status_file(runner, "faulty")["exit_code"] == worker.EXIT_FAILED
    with pytest.raises(ValueError, match="only a completed job has outputs"):
        runner.outputs(ref)


def test_an_unknown_spec_key_fails_the_job(runner):
    state = runner.wait(runner.submit("typo", "sleep", {"secs": 1}), timeout=15)

    assert state.status is JobStatus.FAILED
    assert "secs" in state.failure_reason


def test_stop_ends_the_job_and_its_process_group(runner):
    ref = runner.submit("stoppable", "sleep", LONG)
    wait_until_running(runner, ref)
    pgid = status_file(runner, "stoppable")["pgid"]

    runner.stop(ref)

    state = runner.describe(ref)
    assert state.status is JobStatus.STOPPED
    assert state.failure_reason is None
    assert status_file(runner, "stoppable")["exit_code"] == worker.EXIT_STOPPED  # the worker's own record
    assert wait_for(lambda: group_is_gone(pgid), timeout=5)
    runner.stop(ref)  # a no-op once stopped
    assert runner.describe(ref).status is JobStatus.STOPPED


def test_stop_kills_a_job_that_ignores_sigterm(tmp_path):
    runner = LocalJobRunner(tmp_path, stop_grace_seconds=0.3)
    ref = runner.submit("stubborn", "sleep", LONG)
    wait_until_running(runner, ref)
    pgid = status_file(runner, "stubborn")["pgid"]
    os.killpg(pgid, signal.SIGSTOP)  # a stopped process cannot handle SIGTERM; SIGKILL still works

    runner.stop(ref)

    assert runner.describe(ref).status is JobStatus.STOPPED
    assert wait_for(lambda: group_is_gone(pgid), timeout=5)


def test_max_run_stops_the_job(runner):
    state = runner.wait(runner.submit("slow", "sleep", LONG, max_run=0.3), timeout=15)

    assert state.status is JobStatus.STOPPED
    assert state.failure_reason.startswith("MaxRuntimeExceeded")


def test_resubmitting_with_another_definition_is_refused(runner):
    runner.submit("once", "sleep", {"seconds": 0.1})

    with pytest.raises(JobConflictError, match=r"spec\.seconds"):
        runner.submit("once", "sleep", {"seconds": 0.2})
    with pytest.raises(JobConflictError, match="max_run"):
        runner.submit("once", "sleep", {"seconds": 0.1}, max_run=5)
    assert runner.submit("once", "sleep", {"seconds": 0.1}).name == "once"


@pytest.mark.parametrize(
    ("name", "kind", "spec", "error"),
    [
        ("bad_name", "sleep", {}, "job name"),
        ("x" * 64, "sleep", {}, "job name"),
        ("ok", "juggling", {}, "Unknown job kind"),
        ("ok", "sleep", {"when": object()}, "JSON-serializable"),
    ],
)
def test_bad_submissions_are_refused_before_anything_starts(runner, name, kind, spec, error):
    with pytest.raises(ValueError, match=error):
        runner.submit(name, kind, spec)
    assert runner.list_jobs() == []


def test_unknown_jobs_and_foreign_refs_are_refused(runner):
    with pytest.raises(JobNotFoundError):
        runner.describe(runner.ref("nobody"))
    with pytest.raises(ValueError, match="sagemaker"):
        runner.describe(JobRef(platform="sagemaker", name="x", handle="arn:aws:sagemaker:..."))


def test_outputs_are_found_by_nova_file_names(runner):
    # A completed training-and-evaluation-like job folder, written as the worker would leave it.
    job_dir = runner.job_dir("finished")
    output = job_dir / "output"
    (output / "checkpoint").mkdir(parents=True)
    (output / "run" / "eval_results").mkdir(parents=True)
    (job_dir / "job.json").write_text(json.dumps({"name": "finished", "kind": "sleep", "spec": {}}))
    (job_dir / "status.json").write_text(json.dumps({"status": "Completed", "started": None}))
    (job_dir / "result.json").write_text(json.dumps({"train_loss": 0.4}))
    checkpoint = (output / "checkpoint").as_uri()
    (output / "manifest.json").write_text(json.dumps({"checkpoint_s3_bucket": checkpoint}))
    (output / "step_wise_training_metrics.csv").write_text("step_number,training_loss\n1,0.7\n")
    for stamp in ("2026-01-01T10-00-00.000001", "2026-01-02T10-00-00.000001"):
        (output / "run" / "eval_results" / f"results_{stamp}.json").write_text("{}")
    (output / "run" / "eval_results" / "inference_output.jsonl").write_text("")

    outputs = runner.outputs(runner.ref("finished"))

    assert outputs.checkpoint_uri == checkpoint
    assert outputs.manifest == {"checkpoint_s3_bucket": checkpoint}
    assert outputs.metrics_uri.endswith("/output/step_wise_training_metrics.csv")
    assert outputs.validation_metrics_uri is None
    assert outputs.results_uri.endswith("/eval_results/results_2026-01-02T10-00-00.000001.json")
    assert outputs.inference_output_uri.endswith("/eval_results/inference_output.jsonl")
    assert outputs.result == {"train_loss": 0.4}


@pytest.mark.parametrize("identity", [worker._proc_identity, worker._psutil_identity], ids=["proc", "psutil"])
def test_process_identity_tells_live_processes_from_gone_ones(identity):
    if identity is worker._proc_identity and not sys.platform.startswith("linux"):
        pytest.skip("/proc is Linux's")
    assert identity(os.getpid()) is not None
    assert identity(os.getpid()) == identity(os.getpid())

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)  # exited, not reaped: a zombie
    try:
        assert identity(child.pid) is None
    finally:
        child.wait()
    assert identity(child.pid) is None


@pytest.mark.parametrize("kind", sorted(worker.JOB_KINDS))
def test_every_job_kind_names_a_function(kind):
    assert callable(worker.load_job_function(kind))


def test_an_unknown_job_kind_is_named_in_the_error():
    with pytest.raises(ValueError, match=r"'juggling'.*evaluation, sleep, training"):
        worker.load_job_function("juggling")


def test_a_job_whose_process_cannot_start_is_failed_when_submit_returns(runner, monkeypatch):
    monkeypatch.setattr(jobs, "WORKER_MODULE", "nova_dpo.no_such_worker")

    state = runner.describe(runner.submit("stillborn", "sleep", {}))

    assert state.status is JobStatus.FAILED
    assert "exited with code 1 before it started the job" in state.failure_reason
    assert "No module named" in state.failure_reason


# ---------------------------------------------------------------------------------------------- compute slots


def _slot_holder(jobs_root: Path, hold_seconds: float) -> subprocess.Popen[bytes]:
    """Another process that takes a compute slot, says so on stdout, and holds it for ``hold_seconds``."""
    code = (
        "import sys, time; from pathlib import Path; from nova_dpo.platforms.local import worker; "
        f"worker.acquire_compute_slot(Path({str(jobs_root)!r}), lambda _: None); "
        f"print('held', flush=True); time.sleep({hold_seconds})"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, env=os.environ.copy())
    assert holder.stdout.readline().strip() == b"held"
    return holder


def _end_holder_at_wait(
    monkeypatch: pytest.MonkeyPatch, holder: subprocess.Popen[bytes], wait: int, events: list[str]
) -> None:
    """Record each wait of the slot poll instead of sleeping; at the ``wait``-th, kill ``holder``."""

    def poll_wait(_seconds: float) -> None:
        events.append("wait")
        if events.count("wait") == wait:
            holder.kill()
            holder.wait()
            events.append("holder ended")
        elif events.count("wait") > wait + 100:
            raise AssertionError("no slot 100 tries after its holder ended")

    # time.sleep of the whole process; only the slot poll sleeps while it is patched.
    monkeypatch.setattr(worker.time, "sleep", poll_wait)


def test_a_compute_job_waits_for_the_slot_another_process_holds(tmp_path: Path, monkeypatch):
    holder = _slot_holder(tmp_path, hold_seconds=60)
    events: list[str] = []
    _end_holder_at_wait(monkeypatch, holder, wait=3, events=events)
    try:
        fd = worker.acquire_compute_slot(tmp_path, lambda progress: events.append(progress["phase"]))
    finally:
        holder.kill()
        holder.wait()
    os.close(fd)

    # While the holder lives, every try fails and the waiter keeps waiting, saying so once; a killed holder
    # frees its slot (the kernel drops the lock with the process) and the next try takes it.
    assert events == ["waiting for a compute slot", "wait", "wait", "wait", "holder ended"]


def test_more_slots_let_compute_jobs_run_side_by_side(tmp_path: Path, monkeypatch):
    monkeypatch.setenv(worker.SLOTS_ENV, "2")
    holder = _slot_holder(tmp_path, hold_seconds=60)
    try:
        fd = worker.acquire_compute_slot(tmp_path, lambda _: pytest.fail("must not wait"))
        os.close(fd)
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.parametrize("value", ["0", "-1", "two"])
def test_a_bad_slot_count_is_refused_by_name(monkeypatch, value):
    monkeypatch.setenv(worker.SLOTS_ENV, value)
    with pytest.raises(ValueError, match=worker.SLOTS_ENV):
        worker.compute_slots()


@pytest.mark.parametrize(("kind", "waits"), [("training", True), ("evaluation", True), ("sleep", False)])
def test_compute_jobs_queue_for_a_slot_and_others_do_not(tmp_path: Path, monkeypatch, kind, waits):
    job_dir = tmp_path / "jobs" / "queued"
    job_dir.mkdir(parents=True)
    (job_dir / worker.JOB_FILE).write_text(json.dumps({"name": "queued", "kind": kind, "spec": {}}))
    events: list[str] = []
    monkeypatch.setattr(worker, "load_job_function", lambda _kind: lambda *_: events.append("job ran") or {})
    holder = _slot_holder(tmp_path / "jobs", hold_seconds=60)
    _end_holder_at_wait(monkeypatch, holder, wait=1, events=events)
    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGALRM)}
    try:
        assert worker.run(job_dir) == 0  # in this process: run() installs the job's signal handlers here
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
        holder.kill()
        holder.wait()

    # A compute job runs only once the slot's holder has ended; any other job runs at once.
    assert events == (["wait", "holder ended", "job ran"] if waits else ["job ran"])
    assert status_file(LocalJobRunner(tmp_path), "queued")["status"] == JobStatus.COMPLETED.value


def _job_environment(runner: LocalJobRunner, ref: JobRef) -> dict[str, str]:
    pid = status_file(runner, ref.name)["pid"]
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(entry.split("=", 1) for entry in raw.decode().split("\0") if "=" in entry)


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="reads a job's environment in /proc")
def test_a_job_sees_only_the_credentials_given_to_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from nova_dpo.platforms.local.credentials import JUDGE_API_KEY_ENV

    monkeypatch.setenv(JUDGE_API_KEY_ENV, "inherited-from-the-worker")
    plain = LocalJobRunner(tmp_path / "plain", stop_grace_seconds=2.0)
    given = LocalJobRunner(
        tmp_path / "given", stop_grace_seconds=2.0, credentials={JUDGE_API_KEY_ENV: "sk-1"}
    )
    try:
        for runner in (plain, given):
            ref = runner.submit("job", "sleep", LONG)
            wait_until_running(runner, ref)
        assert JUDGE_API_KEY_ENV not in _job_environment(plain, plain.ref("job"))
        assert _job_environment(given, given.ref("job"))[JUDGE_API_KEY_ENV] == "sk-1"
        job_files = "".join(p.read_text(errors="replace") for p in tmp_path.rglob("*") if p.is_file())
        assert "sk-1" not in job_files
    finally:
        plain.stop(plain.ref("job"))
        given.stop(given.ref("job"))

    with pytest.raises(ValueError, match="Unknown job credential"):
        LocalJobRunner(tmp_path, credentials={"AWS_SECRET_ACCESS_KEY": "x"})
