"""What waiting for long jobs costs a live deployment: worker slots, polls and the triggerer's CPU.

A live Airflow deployment (``tests/live/deployment.py``: API server, scheduler, DAG processor, triggerer and
Celery workers on the local PostgreSQL and Redis) runs ``--runs`` concurrent DAG runs whose one task submits a
long local job (the local platform's ``sleep`` job kind, a real detached process) and waits for it the way the
pipeline's job operators do:

* ``deferred`` (candidate): the task defers to :class:`~nova_dpo_airflow.triggers.local_job.LocalJobTrigger`
  and frees its worker slot; the triggerer looks at each job once per poll interval;
* ``in-worker`` (baseline): the same task with ``deferrable=False`` polls the job from the worker, holding a
  slot for as long as the job runs, so runs beyond the workers' slots queue.

Both modes run in the same deployment, one after the other, for the same window. Sampled every two seconds
through the REST API: the task instances holding a worker slot (``running``), waiting in the triggerer
(``deferred``), and waiting for a slot (``queued``/``scheduled``). Polls are counted from the status lines the
waits log ("Local job ... is InProgress"); the triggerer's CPU time is its process group's, from ``/proc``.

    .venv/bin/python benchmarks/bench_deferral.py --runs 50

Targets (exit status 1 otherwise): deferred, no run holds a worker slot once its job started and every waiting
run is deferred; no job is polled more than once per poll interval.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import secrets
import statistics
import sys
import tempfile
import textwrap
import time
from collections import Counter
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.live import deployment as live  # noqa: E402  (the repository root is on the path only now)
from tests.live import settings  # noqa: E402

MODES = {"deferred": True, "in-worker": False}
SAMPLE_SECONDS = 2.0
POLL_LINE = re.compile(r"Local job (bench-[\w-]+) is InProgress")

BENCH_DAG = '''
"""Benchmark DAGs of bench_deferral.py: one task that submits a long local sleep job and waits for it."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import time

from airflow.sdk import BaseOperator, dag

from nova_dpo.platforms.local.jobs import LocalJobRunner
from nova_dpo_airflow.triggers.local_job import LocalJobTrigger, describe_progress

ROOT = os.environ["NOVA_DPO_HOME"]
JOB_SECONDS = float(os.environ["BENCH_JOB_SECONDS"])
POLL_SECONDS = float(os.environ["BENCH_POLL_SECONDS"])


class WaitForSleepJob(BaseOperator):
    """Submit (or attach to) this run's sleep job, then wait for it: deferred, or polling in the worker."""

    def __init__(self, *, deferrable: bool, **kwargs) -> None:
        super().__init__(**kwargs)
        self.deferrable = deferrable

    def execute(self, context):
        runner = LocalJobRunner(ROOT)
        digest = hashlib.sha256(f"{self.dag_id}/{context['run_id']}".encode()).hexdigest()[:16]
        ref = runner.submit(f"bench-{digest}", "sleep", {"seconds": JOB_SECONDS})
        if self.deferrable:
            self.defer(
                trigger=LocalJobTrigger(root=ROOT, job_name=ref.name, poll_interval=POLL_SECONDS),
                method_name="execute_complete",
            )
        while not (state := runner.describe(ref)).is_terminal:
            self.log.info("Local job %s is %s: %s", ref.name, state.status.value, describe_progress(state.progress))
            time.sleep(POLL_SECONDS)
        return state.status.value

    def execute_complete(self, context, event=None):
        return event["status"]


for mode, deferrable in (("deferred", True), ("in_worker", False)):

    @dag(
        dag_id=f"bench_deferral_{mode}",
        schedule=None,
        start_date=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        max_active_runs=1000,
        max_active_tasks=1000,
        is_paused_upon_creation=False,
    )
    def bench():
        WaitForSleepJob(task_id="wait", deferrable=deferrable)

    bench()
'''


def dag_id(mode: str) -> str:
    return f"bench_deferral_{mode.replace('-', '_')}"


def api_client(deployment: live.Deployment) -> httpx.Client:
    token = httpx.post(
        f"{deployment.api_url}/auth/token",
        json={"username": settings.ADMIN_USERNAME, "password": deployment.admin_password},
        timeout=30,
    ).raise_for_status()
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    return httpx.Client(base_url=f"{deployment.api_url}/api/v2", headers=headers, timeout=60)


def wait_until_parsed(api: httpx.Client, dag_ids: list[str], timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    for name in dag_ids:
        while api.get(f"/dags/{name}").status_code == 404:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name} was not parsed in {timeout:.0f} s")
            time.sleep(2)


def task_states(api: httpx.Client, name: str) -> Counter[str]:
    instances = api.get(f"/dags/{name}/dagRuns/~/taskInstances", params={"limit": 1000}).raise_for_status()
    return Counter(str(ti["state"]) for ti in instances.json()["task_instances"])


def group_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of every process in ``pid``'s process group, from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rpartition(")")[2].split()
            # After the command: state, ppid, pgrp, ..., utime (field 14), stime (15), counted from 3.
            if int(fields[2]) == pid:
                total += int(fields[11]) + int(fields[12])
    return total / ticks


def count_polls(logs: Path, since: float) -> Counter[str]:
    """Status lines per job in the deployment's logs (task logs and the triggerer's) written after ``since``."""
    polls: Counter[str] = Counter()
    for path in logs.rglob("*.log"):
        if path.stat().st_mtime < since:
            continue
        for line in path.read_text(errors="replace").splitlines():
            match = POLL_LINE.search(line)
            if match and _line_time(line, since):
                polls[match.group(1)] += 1
    return polls


def _line_time(line: str, since: float) -> bool:
    """Whether a log line is from after ``since`` (lines without a readable time count)."""
    match = re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:?\d\d)?", line)
    if not match:
        return True
    from datetime import datetime

    with contextlib.suppress(ValueError):
        return datetime.fromisoformat(match.group().replace("Z", "+00:00")).timestamp() >= since
    return True


def measure(deployment: live.Deployment, api: httpx.Client, mode: str, runs: int, window: float) -> dict:
    name = dag_id(mode)
    triggerer = next(process for process in deployment.processes if process.name == "triggerer")
    started = time.time()
    for number in range(runs):
        api.post(f"/dags/{name}/dagRuns", json={"dag_run_id": f"{mode}-{number}", "logical_date": None})
    cpu_before = group_cpu_seconds(triggerer.popen.pid)
    samples: list[Counter[str]] = []
    # The window starts once every run has been triggered; the first samples include the runs starting.
    deadline = time.monotonic() + window
    while time.monotonic() < deadline:
        samples.append(task_states(api, name))
        time.sleep(SAMPLE_SECONDS)
    cpu = group_cpu_seconds(triggerer.popen.pid) - cpu_before
    elapsed = time.time() - started
    polls = count_polls(deployment.home, started)
    # Settled: the last half of the window, when every run that can start has started.
    settled = samples[len(samples) // 2 :]
    waiting = [s["running"] + s["deferred"] for s in settled]
    return {
        "mode": mode,
        "runs": runs,
        "window_s": elapsed,
        "slots_max": max(s["running"] for s in samples),
        "slots_settled": statistics.mean(s["running"] for s in settled),
        "deferred_settled": statistics.mean(s["deferred"] for s in settled),
        "queued_settled": statistics.mean(s["queued"] + s["scheduled"] + s["None"] for s in settled),
        "waiting_settled": statistics.mean(waiting),
        "jobs_polled": len(polls),
        "polls_per_min_max": max(polls.values(), default=0) / (elapsed / 60),
        "polls_per_min_mean": (sum(polls.values()) / len(polls) / (elapsed / 60)) if polls else 0.0,
        "triggerer_cpu_s": cpu,
        "triggerer_cpu_pct": 100 * cpu / elapsed,
    }


def stop_runs(deployment: live.Deployment, api: httpx.Client, mode: str, runs: int) -> None:
    """End the mode's runs and jobs, so the next mode has the deployment to itself."""
    from nova_dpo.platforms.local.jobs import LocalJobRunner

    name = dag_id(mode)
    api.patch(f"/dags/{name}", json={"is_paused": True})
    for number in range(runs):
        api.patch(f"/dags/{name}/dagRuns/{mode}-{number}", json={"state": "failed"})
    runner = LocalJobRunner(deployment.nova_dpo_home)
    for ref in runner.list_jobs():
        runner.stop(ref)
    time.sleep(10)


def table(results: list[dict], poll: float, slots: int) -> str:
    rows = [
        "| mode | runs | window (s) | worker slots held, max / settled | deferred (settled) | waiting for a slot "
        "(settled) | jobs polled | polls/min per job, max / mean | triggerer CPU s (% of one core) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        rows.append(
            f"| {r['mode']} | {r['runs']} | {r['window_s']:.0f} | {r['slots_max']} / {r['slots_settled']:.1f} | "
            f"{r['deferred_settled']:.1f} | {r['queued_settled']:.1f} | {r['jobs_polled']} | "
            f"{r['polls_per_min_max']:.1f} / {r['polls_per_min_mean']:.1f} | "
            f"{r['triggerer_cpu_s']:.1f} ({r['triggerer_cpu_pct']:.1f}%) |"
        )
    rows.append(
        f"\nworker slots in the deployment: {slots}; poll interval {poll:g} s, so at most "
        f"{60 / poll:.1f} polls/min per job"
    )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=50, help="concurrent DAG runs per mode")
    parser.add_argument("--window", type=float, default=120.0, help="seconds each mode is measured")
    parser.add_argument("--poll", type=float, default=10.0, help="seconds between two looks at a job")
    parser.add_argument("--workers", type=int, default=2, help="Celery workers")
    parser.add_argument("--concurrency", type=int, default=4, help="task slots per worker")
    parser.add_argument("--postgres", default="postgres@127.0.0.1:5432", help="PostgreSQL as user@host:port")
    parser.add_argument("--redis", default="127.0.0.1:6379", help="Redis as host:port")
    parser.add_argument(
        "--redis-db", type=int, default=15, help="the Celery broker's Redis database (flushed at the end)"
    )
    args = parser.parse_args(argv)
    # Each job outlives the window, so every run is still waiting when it ends.
    job_seconds = args.window * 3 + 120

    with tempfile.TemporaryDirectory(prefix="bench-deferral-") as folder:
        home = Path(folder)
        dags = home / "dags"
        dags.mkdir()
        (dags / "bench_deferral.py").write_text(textwrap.dedent(BENCH_DAG))
        database = f"nova_dpo_bench_{secrets.token_hex(4)}"
        redis_db = args.redis_db
        deployment = live.Deployment(
            home / "deployment",
            postgres_server=args.postgres,
            database=database,
            broker_url=f"redis://{args.redis}/{redis_db}",
            workers=tuple(f"worker{n}" for n in range(1, args.workers + 1)),
            worker_concurrency=args.concurrency,
            admin_password=secrets.token_urlsafe(16),
            extra_env={
                "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
                "AIRFLOW__CORE__PARALLELISM": str(args.runs * 2),
                "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": str(args.runs * 2),
                "AIRFLOW__CORE__MAX_ACTIVE_RUNS_PER_DAG": str(args.runs * 2),
                "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "false",
                "AIRFLOW__TRIGGERER__CAPACITY": str(args.runs * 2),
                "BENCH_JOB_SECONDS": str(job_seconds),
                "BENCH_POLL_SECONDS": str(args.poll),
            },
            # Secrets of this deployment alone, the same for every process.
            shell={
                **os.environ,
                "AIRFLOW_JWT_SECRET": secrets.token_urlsafe(48),
                "AIRFLOW_API_SECRET_KEY": secrets.token_urlsafe(32),
            },
        )
        live.create_database(args.postgres, database)
        results = []
        try:
            deployment.prepare()
            deployment.start()
            deployment.wait_until_ready()
            with api_client(deployment) as api:
                wait_until_parsed(api, [dag_id(mode) for mode in MODES])
                for mode in MODES:
                    print(f"measuring {mode}: {args.runs} runs for {args.window:.0f} s", flush=True)
                    results.append(measure(deployment, api, mode, args.runs, args.window))
                    stop_runs(deployment, api, mode, args.runs)
        finally:
            deployment.stop()
            with contextlib.suppress(Exception):
                from nova_dpo.platforms.local.jobs import LocalJobRunner

                runner = LocalJobRunner(deployment.nova_dpo_home)
                for ref in runner.list_jobs():
                    runner.stop(ref)
            live.drop_database(args.postgres, database)
            import redis

            host, _, port = args.redis.partition(":")
            redis.Redis(host=host, port=int(port or 6379), db=redis_db).flushdb()

    print()
    print(table(results, args.poll, args.workers * args.concurrency))
    deferred = next(r for r in results if r["mode"] == "deferred")
    failures = []
    if deferred["slots_settled"] > 0:
        failures.append(f"deferred runs held {deferred['slots_settled']:.1f} worker slots once started")
    if deferred["deferred_settled"] < args.runs:
        failures.append(f"only {deferred['deferred_settled']:.1f} of {args.runs} runs were deferred")
    if deferred["polls_per_min_max"] > 60 / args.poll * 1.1:
        failures.append(f"a job was polled {deferred['polls_per_min_max']:.1f} times a minute")
    for failure in failures:
        print(f"TARGET MISSED: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
