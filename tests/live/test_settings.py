"""The live deployment's settings (tests/live/settings.py) agree with docker-compose.yaml's ``x-airflow-common``."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from tests.live import settings

COMPOSE_FILE = settings.REPO / "docker-compose.yaml"
HOME = Path("/srv/nova-dpo-deployment")
API_PORT = 8080
# ${NAME}, ${NAME-default} or ${NAME:-default} anywhere in a value.
_VARIABLE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::?-(?P<default>[^}]*))?\}")


@cache
def compose_environment() -> dict[str, str | None]:
    return yaml.safe_load(COMPOSE_FILE.read_text())["x-airflow-common"]["environment"]


def compose_default(value: str) -> str:
    """What Compose makes of a value when the shell sets none of the variables it names."""
    return _VARIABLE.sub(lambda match: match.group("default") or "", value)


def live_environment(shell: dict[str, str] | None = None) -> dict[str, str]:
    return settings.environment(
        HOME,
        postgres_server="airflow:airflow@127.0.0.1:5432",
        database="airflow",
        broker_url="redis://127.0.0.1:6379/0",
        api_port=API_PORT,
        scheduler_health_port=8974,
        shell=shell or {},
    )


def test_every_setting_compose_gives_a_value_has_the_same_value_here():
    live = live_environment()
    for key, value in compose_environment().items():
        if value is None:
            continue  # Compose passes it through from the shell; the processes here inherit it
        assert key in live, f"docker-compose.yaml sets {key}; tests/live/settings.py does not"
        if key not in settings.MACHINE_SPECIFIC:
            assert live[key] == compose_default(value), key


def test_the_settings_source_names_only_keys_compose_has():
    compose = set(compose_environment())
    for group in (settings.FIXED, settings.FROM_SHELL, settings.MACHINE_SPECIFIC):
        assert set(group) <= compose, set(group) - compose


@pytest.mark.parametrize(("key", "variable"), [(k, v) for k, (v, _) in settings.FROM_SHELL.items()])
def test_settings_compose_reads_from_the_shell_are_read_from_it_here(key, variable):
    assert _VARIABLE.fullmatch(compose_environment()[key]).group("name") == variable
    assert live_environment({variable: "from-the-shell"})[key] == "from-the-shell"


def test_machine_specific_settings_mean_what_compose_means():
    compose, live = compose_environment(), live_environment()

    def database(url: str) -> tuple[str, str]:
        parts = urlsplit(compose_default(url))
        # The dialect, not the driver: the result backend names psycopg2 here (see settings.postgres_urls).
        return ("+".join(parts.scheme.split("+")[:2]), parts.path)

    for key in ("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "AIRFLOW__CELERY__RESULT_BACKEND"):
        assert database(live[key]) == database(compose[key]), key
    assert urlsplit(live["AIRFLOW__CELERY__BROKER_URL"]).scheme == "redis"
    execution = urlsplit(live["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"])
    assert (execution.hostname, execution.port) == ("127.0.0.1", API_PORT)
    assert execution.path == urlsplit(compose["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"]).path
    for key in ("NOVA_DPO_HOME", "NOVA_DPO_CACHE", "HF_HOME"):
        assert Path(live[key]).is_relative_to(HOME), key
    passwords = Path(live["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"])
    assert passwords.is_relative_to(live["AIRFLOW_HOME"])
    assert str(settings.REPO / "include") in live["PYTHONPATH"].split(":")


def test_without_a_broker_the_deployment_runs_the_local_executor():
    live = settings.environment(
        HOME,
        postgres_server="postgres@127.0.0.1:5432",
        database="airflow",
        broker_url=None,
        api_port=API_PORT,
        scheduler_health_port=8974,
        shell={},
    )
    assert live["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    assert "AIRFLOW__CELERY__BROKER_URL" not in live
