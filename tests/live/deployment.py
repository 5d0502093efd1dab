"""Airflow 3.3 as real processes on this machine: API server, scheduler, DAG processor, triggerer and Celery
workers, on the local PostgreSQL and Redis, configured from :mod:`tests.live.settings`.

The live tests start one per session (``tests/live/conftest.py``); ``make airflow`` starts one in the foreground
for a user who wants the UI without Docker::

    .venv/bin/python -m tests.live.deployment --home data/airflow --port 8080

Every process runs in a process group of its own with its output in ``{home}/logs/<process>.log``; stopping
sends SIGTERM to each group, then SIGKILL to what is left after a grace period.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.live import settings

AIRFLOW = str(Path(sys.executable).with_name("airflow"))
HEALTHY = "healthy"
# The components whose heartbeat the API server's health document reports.
HEARTBEATS = ("metadatabase", "scheduler", "triggerer", "dag_processor")
# The Celery queue Airflow sends tasks to and its workers take them from ([operators] default_queue).
AIRFLOW_QUEUE = "default"


class DeploymentError(RuntimeError):
    """A process of the deployment failed to start, died, or did not become ready in time."""


def free_port() -> int:
    """A TCP port nobody listens on at 127.0.0.1 now (the OS's pick)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def tail(path: Path, lines: int = 40) -> str:
    if not path.exists():
        return f"({path} does not exist)"
    text = path.read_text(errors="replace").splitlines()
    return "\n".join(text[-lines:])


def postgres_connect(server: str, database: str = "postgres"):
    """An autocommit psycopg2 connection to ``database`` on ``user@host:port``."""
    import psycopg2

    user, _, address = server.rpartition("@")
    host, _, port = address.partition(":")
    connection = psycopg2.connect(
        host=host, port=int(port or 5432), user=user or None, dbname=database, connect_timeout=5
    )
    connection.autocommit = True
    return connection


def create_database(server: str, database: str, *, exist_ok: bool = False) -> None:
    connection = postgres_connect(server)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
            if cursor.fetchone() and exist_ok:
                return
            cursor.execute(f'CREATE DATABASE "{database}"')
    finally:
        connection.close()


def drop_database(server: str, database: str) -> None:
    connection = postgres_connect(server)
    try:
        with connection.cursor() as cursor:
            # FORCE: a process killed mid-query may leave a session behind.
            cursor.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    finally:
        connection.close()


@dataclass
class Process:
    name: str
    command: list[str]
    env: dict[str, str]
    log: Path
    popen: subprocess.Popen | None = None

    def start(self, env: Mapping[str, str] | None = None) -> None:
        """Start the process, with ``env`` added to its settings for this start only."""
        with self.log.open("ab") as output:
            self.popen = subprocess.Popen(
                self.command,
                env={**self.env, **(env or {})},
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                # Its own process group: stopping it reaches the children Airflow and Celery fork.
                start_new_session=True,
            )

    def exit_code(self) -> int | None:
        return None if self.popen is None else self.popen.poll()

    def signal_group(self, signum: int) -> None:
        if self.popen is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signum)

    def stop(self, grace: float = 30.0) -> None:
        """SIGTERM to the group, then SIGKILL to what is left of it after ``grace`` seconds."""
        if self.popen is None:
            return
        self.signal_group(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=grace)
        self.signal_group(signal.SIGKILL)
        self.popen.wait()

    def kill(self) -> None:
        """SIGKILL every process of the process's session, as when it crashes with everything it runs.

        That is its group and the groups of their own its children start (Airflow puts each task process in
        one), but not a process that started a session of its own (a detached local job).
        """
        import psutil

        if self.popen is None:
            return
        self.signal_group(signal.SIGKILL)
        # Started with start_new_session, the process leads its session: the session's id is its pid.
        for process in psutil.process_iter():
            with contextlib.suppress(psutil.Error, OSError):
                if os.getsid(process.pid) == self.popen.pid:
                    process.kill()
        self.popen.wait()


class Deployment:
    """One Airflow deployment under ``home``; :meth:`start` migrates the database and starts every process.

    :param home: the deployment's folder (see :func:`tests.live.settings.environment`)
    :param postgres_server: ``user@host:port`` of the PostgreSQL server
    :param database: the metadata database; it must exist
    :param broker_url: the Celery broker, or None for the LocalExecutor and no worker
    :param workers: the Celery workers' names (each started as ``airflow celery worker -H <name>@%h``)
    :param worker_concurrency: task slots of each worker
    :param admin_password: the password of the admin user (``settings.ADMIN_USERNAME``)
    :param api_port: the API server's port on 127.0.0.1 (default: a free one)
    :param extra_env: settings added to every process's (e.g. ``NOVA_DPO_POLL_SECONDS``)
    :param distinct_worker_hostnames: give each worker the hostname ``<worker>.<this machine>`` in the task
        instances it runs (``settings.worker_hostname``)
    :param shell: where the settings Compose reads from the shell are read (default: this environment)
    """

    def __init__(
        self,
        home: Path,
        *,
        postgres_server: str,
        database: str,
        broker_url: str | None,
        workers: tuple[str, ...] = ("worker1",),
        worker_concurrency: int = 2,
        admin_password: str,
        api_port: int | None = None,
        extra_env: Mapping[str, str] | None = None,
        distinct_worker_hostnames: bool = False,
        shell: Mapping[str, str] | None = None,
    ) -> None:
        self.home = home
        self.database = database
        self.broker_url = broker_url
        self.workers = workers if broker_url is not None else ()
        self.admin_password = admin_password
        self.api_port = api_port or free_port()
        self.logs = home / "logs"
        self.settings = settings.environment(
            home,
            postgres_server=postgres_server,
            database=database,
            broker_url=broker_url,
            api_port=self.api_port,
            scheduler_health_port=free_port(),
            shell=shell,
        )
        self.settings.update(extra_env or {})
        inherited = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("AIRFLOW__") and key != "AIRFLOW_HOME"
        }
        self.env = {**inherited, **self.settings}
        self.processes = [
            self._process("api-server", "api-server"),
            self._process("scheduler", "scheduler"),
            self._process("dag-processor", "dag-processor"),
            # Task logs are files under AIRFLOW_HOME, which the API server reads: no log server needed (it would
            # listen on every interface).
            self._process("triggerer", "triggerer", "--skip-serve-logs"),
        ]
        for worker in self.workers:
            worker_env = {}
            if distinct_worker_hostnames:
                worker_env = {
                    "AIRFLOW__CORE__HOSTNAME_CALLABLE": settings.WORKER_HOSTNAME_CALLABLE,
                    settings.WORKER_NAME_VARIABLE: worker,
                }
            self.processes.append(
                self._process(
                    worker,
                    "celery",
                    "worker",
                    "--celery-hostname",
                    f"{worker}@%h",
                    "--concurrency",
                    str(worker_concurrency),
                    "--skip-serve-logs",
                    env=worker_env,
                )
            )

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def nova_dpo_home(self) -> Path:
        return Path(self.settings["NOVA_DPO_HOME"])

    def _process(self, name: str, *arguments: str, env: Mapping[str, str] | None = None) -> Process:
        return Process(name, [AIRFLOW, *arguments], {**self.env, **(env or {})}, self.logs / f"{name}.log")

    def process(self, name: str) -> Process:
        """The process called ``name`` (``scheduler``, ``triggerer``, ``worker1``, ...)."""
        for process in self.processes:
            if process.name == name:
                return process
        raise KeyError(f"no process {name!r}; there are {', '.join(p.name for p in self.processes)}")

    # ------------------------------------------------------------------------------------------ life cycle

    def prepare(self) -> None:
        """Create the folders, write the admin's password where the simple auth manager reads it, migrate."""
        for folder in (self.logs, Path(self.settings["AIRFLOW_HOME"]), self.nova_dpo_home):
            folder.mkdir(parents=True, exist_ok=True)
        passwords = Path(self.settings["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"])
        passwords.write_text(json.dumps({settings.ADMIN_USERNAME: self.admin_password}))
        passwords.chmod(0o600)
        log = self.logs / "db-migrate.log"
        with log.open("ab") as output:
            done = subprocess.run(
                [AIRFLOW, "db", "migrate"],
                env=self.env,
                stdout=output,
                stderr=subprocess.STDOUT,
                timeout=600,
                check=False,
            )
        if done.returncode:
            raise DeploymentError(f"`airflow db migrate` failed (exit {done.returncode}):\n{tail(log)}")

    def start(self) -> None:
        for process in self.processes:
            process.start()

    def wait_until_ready(self, timeout: float = 300.0) -> None:
        """Poll until the health document reports every heartbeat healthy and each worker answers a ping."""
        deadline = time.monotonic() + timeout
        waiting_for = {process.name for process in self.processes}
        while waiting_for:
            self.check_alive()
            waiting_for -= self._ready_components(waiting_for)
            if not waiting_for:
                return
            if time.monotonic() > deadline:
                details = "\n\n".join(self.log_tail(name) for name in sorted(waiting_for))
                raise DeploymentError(
                    f"not ready after {timeout:.0f} s: {', '.join(sorted(waiting_for))}\n\n{details}"
                )
            time.sleep(2)

    def _ready_components(self, waiting_for: set[str]) -> set[str]:
        ready = set()
        health = self.health()
        if health is not None:
            ready.add("api-server")
            statuses = {name: (health.get(name) or {}).get("status") for name in HEARTBEATS}
            for name, key in (
                ("scheduler", "scheduler"),
                ("dag-processor", "dag_processor"),
                ("triggerer", "triggerer"),
            ):
                if statuses["metadatabase"] == HEALTHY and statuses[key] == HEALTHY:
                    ready.add(name)
        if set(self.workers) & waiting_for:
            ready |= self._workers_answering()
        return ready

    def health(self) -> dict | None:
        """The API server's health document, or None while it does not answer."""
        try:
            with urllib.request.urlopen(f"{self.api_url}/api/v2/monitor/health", timeout=5) as response:
                return json.load(response)
        except (OSError, ValueError):
            return None

    @contextlib.contextmanager
    def _celery(self) -> Iterator[Any]:
        """A Celery app on the deployment's broker, to ping and command the workers."""
        from celery import Celery

        app = Celery(broker=self.broker_url)
        try:
            yield app
        finally:
            app.close()

    def _workers_answering(self) -> set[str]:
        with self._celery() as app:
            try:
                replies = app.control.ping(timeout=1.0)
            except Exception:  # the broker refused or timed out: not ready yet
                return set()
        nodes = {node for reply in replies for node in reply}
        return {worker for worker in self.workers if any(node.startswith(f"{worker}@") for node in nodes)}

    def take_tasks(self, worker: str, *, take: bool) -> None:
        """Let Celery worker ``worker`` take the pipeline's tasks, or stop it taking new ones (it keeps running,
        and finishes the ones it has): Celery's ``add_consumer`` / ``cancel_consumer`` of Airflow's queue."""
        with self._celery() as app:
            nodes = [node for reply in app.control.ping(timeout=5.0) for node in reply]
            destination = [node for node in nodes if node.startswith(f"{worker}@")]
            if not destination:
                raise DeploymentError(f"{worker} does not answer; the workers answering are {nodes}")
            command = app.control.add_consumer if take else app.control.cancel_consumer
            replies = command(AIRFLOW_QUEUE, destination=destination, reply=True, timeout=5.0)
        if not replies:
            raise DeploymentError(f"{worker} did not answer the {command.__name__} of {AIRFLOW_QUEUE!r}")

    def restart(self, name: str, *, kill: bool = False, env: Mapping[str, str] | None = None) -> None:
        """Stop process ``name`` (SIGTERM, SIGKILL after a grace period), or kill it (:meth:`Process.kill`), and
        start it again, its settings updated with ``env`` for this start only; :meth:`wait_until_ready` waits
        until it answers."""
        process = self.process(name)
        if kill:
            process.kill()
        else:
            process.stop()
        process.start(env)

    def check_alive(self) -> None:
        for process in self.processes:
            code = process.exit_code()
            if code is not None:
                raise DeploymentError(f"{process.name} exited with {code}\n\n{self.log_tail(process.name)}")

    def stop(self, grace: float = 30.0) -> None:
        """SIGTERM every process group, then SIGKILL the groups still there after ``grace`` seconds."""
        started = [process for process in self.processes if process.popen is not None]
        for process in started:
            process.signal_group(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for process in started:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
        for process in started:
            # Also the children a leader that exited may have left in its group.
            process.signal_group(signal.SIGKILL)
            process.popen.wait()

    # ------------------------------------------------------------------------------------------------- logs

    def log_tail(self, name: str, lines: int = 40) -> str:
        path = self.logs / f"{name}.log"
        return f"--- {name} ({path}), last {lines} lines ---\n{tail(path, lines)}"

    def log_tails(self, lines: int = 40) -> str:
        names = ["db-migrate", *(process.name for process in self.processes)]
        return "\n\n".join(self.log_tail(name, lines) for name in names)


# ------------------------------------------------------------------------------------------------ make airflow


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="make airflow", description="Airflow with the pipeline on this machine, in the foreground"
    )
    parser.add_argument("--home", type=Path, default=Path("data/airflow"), help="the deployment's folder")
    parser.add_argument(
        "--port", type=int, default=8080, help="the API server's (and UI's) port on 127.0.0.1"
    )
    parser.add_argument("--postgres", default="postgres@127.0.0.1:5432", help="PostgreSQL as user@host:port")
    parser.add_argument("--database", default="nova_dpo_airflow", help="the metadata database (kept)")
    parser.add_argument(
        "--broker",
        default="redis://127.0.0.1:6379/0",
        help="the Celery broker; 'none' runs the LocalExecutor and no worker",
    )
    parser.add_argument("--workers", type=int, default=1, help="Celery workers")
    args = parser.parse_args(argv)

    # SIGTERM (a service manager, `kill`) stops the processes as Ctrl-C does.
    signal.signal(signal.SIGTERM, _interrupt)
    password = os.environ.get("_AIRFLOW_WWW_USER_PASSWORD", "airflow")
    deployment = Deployment(
        args.home.absolute(),
        postgres_server=args.postgres,
        database=args.database,
        broker_url=None if args.broker == "none" else args.broker,
        workers=tuple(f"worker{number}" for number in range(1, args.workers + 1)),
        admin_password=password,
        api_port=args.port,
    )
    create_database(args.postgres, args.database, exist_ok=True)
    deployment.prepare()
    try:
        deployment.start()
        deployment.wait_until_ready()
        print(f"Airflow is up: {deployment.api_url} ({settings.ADMIN_USERNAME} / {password})")
        print(f"logs: {deployment.logs}; NOVA_DPO_HOME: {deployment.nova_dpo_home}; Ctrl-C stops it")
        while True:
            deployment.check_alive()
            time.sleep(2)
    except KeyboardInterrupt:
        print("stopping")
    except DeploymentError as err:
        print(err, file=sys.stderr)
        return 1
    finally:
        deployment.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
