"""DAG integrity: every DAG in dags/ parses without import errors or secrets, cheaply, with the house settings.

Parsing happens in the scheduler's DAG processor over and over, so the DAG file must not import the heavy
libraries the tasks use (they are imported inside the tasks), and its trigger-form params must refuse a
value out of range before a run starts.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from tests.pipeline_tasks import PIPELINE_TASK_IDS

REPO = Path(__file__).resolve().parents[2]
DAGS_DIR = REPO / "dags"
PIPELINE_FILE = DAGS_DIR / "nova_dpo_pipeline.py"
PIPELINE_DAG_ID = "nova_dpo_pipeline"
# Libraries only tasks may import: each costs from tens of milliseconds to seconds on every parse.
FORBIDDEN_AT_PARSE = (
    "torch",
    "pandas",
    "boto3",
    "botocore",
    "numpy",
    "transformers",
    "datasets",
    "nltk",
    "rouge_score",
    "sacrebleu",
    "matplotlib",
    "pyarrow",
)
# Stand-ins for what a deployment keeps in its secrets backend, so parsing needs no real secret.
MOCK_ENV = {
    "AIRFLOW_CONN_AWS_DEFAULT": json.dumps({"conn_type": "aws", "extra": {"region_name": "us-east-1"}}),
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
}


@pytest.fixture(scope="module")
def dag_bag():
    # Airflow 3.3's DagBag has no include_examples: the example DAGs are a bundle of their own, so a DagBag
    # of dags/ holds this project's DAGs only.
    from airflow.dag_processing.dagbag import DagBag

    with pytest.MonkeyPatch.context() as patch:
        for name, value in MOCK_ENV.items():
            patch.setenv(name, value)
        yield DagBag(dag_folder=DAGS_DIR)


def test_no_import_errors(dag_bag):
    errors = "\n\n".join(f"{path}:\n{trace}" for path, trace in dag_bag.import_errors.items())
    if errors:
        print(errors)
    assert not dag_bag.import_errors, f"DAG import errors:\n{errors}"
    assert dag_bag.dags, f"no DAG found in {DAGS_DIR}"


def test_every_dag_has_tags_retries_and_no_catchup(dag_bag):
    problems = []
    for dag_id, dag in dag_bag.dags.items():
        if not dag.tags:
            problems.append(f"{dag_id} has no tags")
        retries = (dag.default_args or {}).get("retries", 0)
        if retries < 1:
            problems.append(f"{dag_id} sets retries={retries} in default_args; set at least 1")
        if dag.catchup:
            problems.append(f"{dag_id} has catchup=True; set catchup=False")
    assert not problems, "\n".join(problems)


def test_pipeline_has_the_expected_tasks(dag_bag):
    dag = dag_bag.dags.get(PIPELINE_DAG_ID)
    assert dag is not None, f"{PIPELINE_DAG_ID} not found in {sorted(dag_bag.dags)}"
    missing = sorted(PIPELINE_TASK_IDS - set(dag.task_ids))
    assert not missing, f"{PIPELINE_DAG_ID} lacks tasks {missing}; it has {sorted(dag.task_ids)}"


# Records, for each forbidden library, the project file (dags/, include/, plugins/; not the virtualenv) that
# imported it first, so that a failure names the import to move into a task.
_PARSE_SCRIPT = """
import json, runpy, sys, traceback

forbidden, repo, dag_file = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
first_importer = {}

class Recorder:
    def find_spec(self, name, path=None, target=None):
        top = name.partition(".")[0]
        if top in forbidden and top not in first_importer:
            frames = [
                f for f in traceback.extract_stack()
                if f.filename.startswith(repo) and not f.filename.startswith(sys.prefix)
            ]
            first_importer[top] = f"{frames[-1].filename[len(repo) + 1:]}:{frames[-1].lineno}" if frames else "?"
        return None

sys.meta_path.insert(0, Recorder())
runpy.run_path(dag_file)
print(json.dumps({m: first_importer.get(m, "?") for m in forbidden if m in sys.modules}))
"""


def test_parsing_imports_no_heavy_library(tmp_path):
    env = {
        **os.environ,
        **MOCK_ENV,
        "PYTHONPATH": os.pathsep.join([str(REPO / "include"), str(REPO / "plugins")]),
        "AIRFLOW_HOME": str(tmp_path),
    }
    result = subprocess.run(
        [sys.executable, "-c", _PARSE_SCRIPT, json.dumps(FORBIDDEN_AT_PARSE), str(REPO), str(PIPELINE_FILE)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, f"importing {PIPELINE_FILE.name} failed:\n{result.stderr[-4000:]}"
    imported = json.loads(result.stdout.strip().splitlines()[-1])
    assert not imported, "parsing the DAG file imports " + ", ".join(
        f"{module} (first from {where})" for module, where in imported.items()
    )


# ------------------------------------------------------------------------------------------- params


BOUND_KEYWORDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "enum", "multipleOf")


@cache
def _bounded_definitions() -> dict[str, dict[str, Any]]:
    from nova_dpo.pipeline.params import param_definitions

    return {
        name: definition
        for name, definition in param_definitions().items()
        if any(keyword in definition for keyword in BOUND_KEYWORDS)
    }


def _is_integer(definition: dict[str, Any]) -> bool:
    kind = definition.get("type", ())
    return "integer" in ([kind] if isinstance(kind, str) else kind)


def _outside_enum(choices: list[Any]) -> Any:
    values = [choice for choice in choices if choice is not None]
    if all(isinstance(value, int | float) and not isinstance(value, bool) for value in values):
        return max(values) + 1
    return "|".join(map(str, values))


def _edge_cases(definition: dict[str, Any]) -> Iterator[tuple[str, Any, Any]]:
    """(keyword, a value just inside the bound, a value just outside it) for each bound."""
    integer = _is_integer(definition)
    if "minimum" in definition:
        low = definition["minimum"]
        yield "minimum", low, low - 1 if integer else math.nextafter(low, -math.inf)
    if "maximum" in definition:
        high = definition["maximum"]
        yield "maximum", high, high + 1 if integer else math.nextafter(high, math.inf)
    if "exclusiveMinimum" in definition:
        low = definition["exclusiveMinimum"]
        yield "exclusiveMinimum", low + 1 if integer else math.nextafter(low, math.inf), low
    if "exclusiveMaximum" in definition:
        high = definition["exclusiveMaximum"]
        yield "exclusiveMaximum", high - 1 if integer else math.nextafter(high, -math.inf), high
    if "enum" in definition:
        choices = definition["enum"]
        yield "enum", choices[-1], _outside_enum(choices)
    if "multipleOf" in definition:
        step = definition["multipleOf"]
        base = definition.get("minimum", step)
        yield "multipleOf", base, base + step / 2 if not integer else base + step // 2


def _param_cases() -> list[Any]:
    return [
        pytest.param(name, keyword, inside, outside, id=f"{name}-{keyword}")
        for name, definition in _bounded_definitions().items()
        for keyword, inside, outside in _edge_cases(definition)
    ]


def test_some_params_are_bounded():
    assert _bounded_definitions(), "no param declares a JSON-schema bound"


@pytest.mark.parametrize(("name", "keyword", "inside", "outside"), _param_cases())
def test_param_refuses_a_value_just_outside_its_bound(name, keyword, inside, outside):
    from airflow.sdk import Param
    from airflow.sdk.exceptions import ParamValidationError

    definition = _bounded_definitions()[name]
    assert Param(**definition).resolve() == definition["default"]
    assert Param(**definition).resolve(value=inside) == inside
    with pytest.raises(ParamValidationError):
        Param(**definition).resolve(value=outside)


def test_the_teardown_fails_the_run_when_it_fails(dag_bag):
    """NovaTeardownOperator fails after its cleanup when a task of the run failed; this makes the run fail too
    (a run marked failed in the UI would otherwise end success: see the operator)."""
    teardown = dag_bag.dags["nova_dpo_pipeline"].get_task("teardown")
    assert teardown.is_teardown
    assert teardown.on_failure_fail_dagrun
