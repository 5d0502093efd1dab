"""A live Airflow 3.3 deployment for the session: real processes on the machine's PostgreSQL and Redis.

The database (``nova_dpo_live_<random>``) is created at start and dropped at the end; the Celery broker is a Redis
database number nobody uses, flushed at the end. When PostgreSQL or Redis cannot be reached, every test that
needs the deployment is skipped, saying which.
"""

from __future__ import annotations

import os
import secrets

import pytest

from tests.live import deployment as live
from tests.live.api import client

POSTGRES_SERVER = os.environ.get("NOVA_DPO_LIVE_POSTGRES", "postgres@127.0.0.1:5432")
REDIS_SERVER = os.environ.get("NOVA_DPO_LIVE_REDIS", "127.0.0.1:6379")
STARTUP_TIMEOUT_S = 300
HEARTBEAT_TIMEOUT_S = 20


def _redis(db: int = 0):
    import redis

    host, _, port = REDIS_SERVER.partition(":")
    return redis.Redis(host=host, port=int(port or 6379), db=db, socket_connect_timeout=5)


def _unused_redis_db() -> int:
    """A random database number other than 0 (Compose's) that held no key, claimed with a key of its own so that a
    session starting at the same moment takes another."""
    databases = int(_redis().config_get("databases")["databases"])
    numbers = list(range(1, databases))
    secrets.SystemRandom().shuffle(numbers)
    for number in numbers:
        if _redis(number).dbsize() == 0 and _redis(number).set(
            "nova-dpo-live-deployment", "claimed", nx=True
        ):
            return number
    pytest.fail(f"every Redis database on {REDIS_SERVER} holds keys: none is free for the live deployment")


def _backends_reachable() -> str | None:
    """Why the live deployment cannot run here, or None."""
    import psycopg2
    import redis

    try:
        live.postgres_connect(POSTGRES_SERVER).close()
    except psycopg2.OperationalError as err:
        return f"PostgreSQL at {POSTGRES_SERVER} is not reachable ({err}); set NOVA_DPO_LIVE_POSTGRES=user@host:port"
    try:
        _redis().ping()
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as err:
        return f"Redis at {REDIS_SERVER} is not reachable ({err}); set NOVA_DPO_LIVE_REDIS=host:port"
    return None


@pytest.fixture(scope="session")
def airflow_deployment(tmp_path_factory):
    """Airflow with the CeleryExecutor and two workers (``worker1``, ``worker2``, concurrency 2 each), ready."""
    reason = _backends_reachable()
    if reason:
        pytest.skip(f"live Airflow deployment: {reason}")
    home = tmp_path_factory.mktemp("live-airflow")
    database = f"nova_dpo_live_{secrets.token_hex(4)}"
    redis_db = _unused_redis_db()
    host, _, port = REDIS_SERVER.partition(":")
    shell = {
        **os.environ,
        # Secrets of this deployment alone, the same for every process.
        "AIRFLOW_JWT_SECRET": secrets.token_urlsafe(32),
        "AIRFLOW_API_SECRET_KEY": secrets.token_urlsafe(32),
    }
    deployment = live.Deployment(
        home,
        postgres_server=POSTGRES_SERVER,
        database=database,
        broker_url=f"redis://{host}:{port or 6379}/{redis_db}",
        workers=("worker1", "worker2"),
        worker_concurrency=2,
        admin_password=secrets.token_urlsafe(16),
        extra_env={
            "NOVA_DPO_POLL_SECONDS": "1",
            # Only the runs the test triggers: unpausing would otherwise start a scheduled run at once, which
            # (with max_active_runs=1) the test's run would queue behind.
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "false",
            # A task whose worker died is failed (and retried) after 20 s without a heartbeat, not 5 minutes;
            # its supervisor beats every 5 s.
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": str(HEARTBEAT_TIMEOUT_S),
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
            # The DAG's first retry waits 1-2 minutes (exponential backoff from 1 minute); here at most 5 s.
            "AIRFLOW__CORE__MAX_TASK_RETRY_DELAY": "5",
        },
        distinct_worker_hostnames=True,
        shell=shell,
    )
    live.create_database(POSTGRES_SERVER, database)
    try:
        deployment.prepare()
        deployment.start()
        deployment.wait_until_ready(STARTUP_TIMEOUT_S)
        yield deployment
    finally:
        try:
            deployment.stop()
            _stop_local_jobs(deployment)
        finally:
            live.drop_database(POSTGRES_SERVER, database)
            _redis(redis_db).flushdb()


@pytest.fixture(scope="session")
def api(airflow_deployment):
    """An httpx client of the deployment's ``/api/v2``, holding the admin's JWT token."""
    with client(airflow_deployment.api_url, airflow_deployment.admin_password) as session:
        yield session


def _stop_local_jobs(deployment: live.Deployment) -> None:
    """Detached local jobs run in sessions of their own: a failed test may leave one running."""
    if not deployment.nova_dpo_home.exists():
        return
    from nova_dpo.platforms.local.jobs import LocalJobRunner

    runner = LocalJobRunner(deployment.nova_dpo_home)
    for ref in runner.list_jobs():
        runner.stop(ref)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test that used the deployment reports the tail of every process's log."""
    report = yield
    deployment = item.funcargs.get("airflow_deployment") if hasattr(item, "funcargs") else None
    if report.failed and isinstance(deployment, live.Deployment):
        report.sections.append(("live Airflow deployment logs", deployment.log_tails()))
    return report
