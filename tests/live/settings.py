"""The settings of an Airflow deployment of the pipeline on this machine, without Docker: one source for the live
tests (``tests/live/conftest.py``) and ``make airflow``.

They are docker-compose.yaml's ``x-airflow-common`` environment, as a machine runs it: every key Compose sets
takes the value Compose gives it when the shell sets nothing (``tests/live/test_settings.py`` holds that), except
the keys of :data:`MACHINE_SPECIFIC`, where a container's host names and paths become this machine's. Settings
Compose does not have (ports, the API server's address, the DAGs and plugins folders) are the machine's too.

Nothing here imports Airflow: the processes read these settings from their environment.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DAG_ID = "nova_dpo_pipeline"

# The admin user of the simple auth manager, as in Compose (``_AIRFLOW_WWW_USER_USERNAME``, default airflow).
ADMIN_USERNAME = "airflow"

# Key -> (the shell variable Compose reads, its default). Compose writes these as ``${VARIABLE:-default}``.
FROM_SHELL: dict[str, tuple[str, str]] = {
    "AIRFLOW__API_AUTH__JWT_SECRET": (
        "AIRFLOW_JWT_SECRET",
        "nova-dpo-development-jwt-secret-replace-me-with-at-least-64-random-bytes",
    ),
    "AIRFLOW__API__SECRET_KEY": ("AIRFLOW_API_SECRET_KEY", "nova-dpo-development-secret-key-replace-me"),
    "NOVA_DPO_PLATFORM": ("NOVA_DPO_PLATFORM", "local"),
    "NOVA_DPO_DATASET_SOURCE": ("NOVA_DPO_DATASET_SOURCE", ""),
    "NOVA_DPO_S3_ROOT": ("NOVA_DPO_S3_ROOT", ""),
    "NOVA_DPO_ROLE_ARN": ("NOVA_DPO_ROLE_ARN", ""),
    "NOVA_DPO_IMPORT_ROLE_ARN": ("NOVA_DPO_IMPORT_ROLE_ARN", ""),
    "NOVA_DPO_SNS_TOPIC_ARN": ("NOVA_DPO_SNS_TOPIC_ARN", ""),
    "AWS_DEFAULT_REGION": ("AWS_DEFAULT_REGION", "us-east-1"),
    "HF_HUB_OFFLINE": ("HF_HUB_OFFLINE", "1"),
    "HF_DATASETS_OFFLINE": ("HF_HUB_OFFLINE", "1"),
    "TRANSFORMERS_OFFLINE": ("HF_HUB_OFFLINE", "1"),
}

# Fixed values, the same in Compose.
FIXED: dict[str, str] = {
    "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
    "AIRFLOW__CORE__AUTH_MANAGER": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
    "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN_USERNAME}:admin",
    "AIRFLOW__CORE__FERNET_KEY": "",
    "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "true",
    "AIRFLOW__CORE__LOAD_EXAMPLES": "false",
    # The pipeline's operators wait for jobs in the triggerer.
    "AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE": "true",
    "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "true",
}

# Keys Compose sets to a container's host name or path; here they name this machine's (see `environment`).
MACHINE_SPECIFIC = frozenset(
    {
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
        "AIRFLOW__CELERY__RESULT_BACKEND",
        "AIRFLOW__CELERY__BROKER_URL",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE",
        "NOVA_DPO_HOME",
        "NOVA_DPO_CACHE",
        "HF_HOME",
        "PYTHONPATH",
    }
)

# The hostname callable of the live test's workers: two workers on one machine would otherwise both report its
# name in the task instances' `hostname`, and the test could not tell which ran what.
WORKER_NAME_VARIABLE = "NOVA_DPO_LIVE_WORKER_NAME"
WORKER_HOSTNAME_CALLABLE = "tests.live.settings.worker_hostname"


def worker_hostname() -> str:
    """This machine's name, prefixed with the worker's name when ``$NOVA_DPO_LIVE_WORKER_NAME`` is set."""
    name = socket.getfqdn()
    worker = os.environ.get(WORKER_NAME_VARIABLE)
    return f"{worker}.{name}" if worker else name


def postgres_urls(server: str, database: str) -> tuple[str, str]:
    """The metadata database's SQLAlchemy URL and the Celery result backend's, for ``user@host:port``."""
    # The result backend names its driver too: SQLAlchemy 2.1 reads a bare ``postgresql://`` as psycopg 3.
    return f"postgresql+psycopg2://{server}/{database}", f"db+postgresql+psycopg2://{server}/{database}"


def environment(
    home: Path,
    *,
    postgres_server: str,
    database: str,
    broker_url: str | None,
    api_port: int,
    scheduler_health_port: int,
    shell: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The settings every Airflow process of a deployment under ``home`` gets (added to its inherited environment).

    :param home: the deployment's folder: ``airflow/`` (AIRFLOW_HOME, logs, passwords file), ``nova-dpo/``
        (NOVA_DPO_HOME), ``cache/``
    :param postgres_server: ``user@host:port`` of the PostgreSQL server
    :param database: the metadata database on it (also the Celery result backend)
    :param broker_url: the Celery broker (``redis://host:port/db``); None runs the LocalExecutor instead
    :param api_port: the API server's port on 127.0.0.1
    :param scheduler_health_port: the scheduler's health check server's port on 127.0.0.1
    :param shell: where the ``FROM_SHELL`` variables are read (default: this process's environment)
    """
    shell = os.environ if shell is None else shell
    airflow_home = home / "airflow"
    sql_alchemy_conn, result_backend = postgres_urls(postgres_server, database)
    env = {key: shell.get(variable, default) for key, (variable, default) in FROM_SHELL.items()}
    env.update(FIXED)
    env.update(
        {
            "AIRFLOW_HOME": str(airflow_home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": sql_alchemy_conn,
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(api_port),
            "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{api_port}",
            # One API server process is plenty for one user, and leaves the cores to training.
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_HOST": "127.0.0.1",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": str(scheduler_health_port),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(
                airflow_home / "simple_auth_manager_passwords.json"
            ),
            "NOVA_DPO_HOME": str(home / "nova-dpo"),
            "NOVA_DPO_CACHE": str(home / "cache" / "nova-dpo"),
            "HF_HOME": str(home / "cache" / "huggingface"),
            # The repository root makes the live test's worker hostname callable importable.
            "PYTHONPATH": os.pathsep.join(str(REPO / folder) for folder in ("include", "plugins", ".")),
        }
    )
    if broker_url is None:
        env["AIRFLOW__CORE__EXECUTOR"] = "LocalExecutor"
    else:
        env["AIRFLOW__CELERY__BROKER_URL"] = broker_url
        env["AIRFLOW__CELERY__RESULT_BACKEND"] = result_backend
    return env
