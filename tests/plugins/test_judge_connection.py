"""The endpoint judge of a local llm_judge job comes from an Airflow connection, and its key goes nowhere else.

A real llm_judge job runs detached against an OpenAI-compatible server on 127.0.0.1; the test then looks for
the key everywhere a run leaves text: the job's folder, the task's return value (XCom), the task log.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from types import SimpleNamespace
from unittest import mock

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException
from airflow.sdk import DAG

from nova_dpo.pipeline.run import evaluation_recipes
from nova_dpo.platforms.local.credentials import JUDGE_API_KEY_ENV
from nova_dpo.platforms.local.jobs import LocalJobRunner
from nova_dpo_airflow.hooks.judge_endpoint import JudgeEndpoint, endpoint_of
from nova_dpo_airflow.operators.nova_jobs import NovaEvaluationOperator

KEY = "sk-judge-0f5e1c-never-printed"
JUDGE_RECIPE = evaluation_recipes("micro")["llm_judge"]


def connection(**fields) -> SimpleNamespace:
    values = {"conn_id": "judge", "host": None, "schema": None, "port": None, "password": None, "extra": {}}
    values.update(fields)
    return SimpleNamespace(**values, extra_dejson=values["extra"])


@pytest.mark.parametrize(
    ("fields", "url"),
    [
        ({"host": "https://judge.example.com/v1/"}, "https://judge.example.com/v1"),
        ({"host": "judge.example.com", "port": 8443}, "https://judge.example.com:8443"),
        ({"host": "127.0.0.1", "schema": "http", "port": 8000}, "http://127.0.0.1:8000"),
        ({"host": "http://127.0.0.1:8000/v1", "port": 9}, "http://127.0.0.1:8000/v1"),
    ],
)
def test_the_endpoint_url_is_built_from_the_connection(fields, url):
    assert endpoint_of(connection(**fields)).url == url


def test_the_key_and_model_come_from_password_and_extra_and_the_key_is_not_shown():
    endpoint = endpoint_of(connection(host="https://j/v1", password=KEY, extra={"model": "judge-1"}))
    assert endpoint == JudgeEndpoint(url="https://j/v1", model="judge-1", api_key=KEY)
    assert KEY not in repr(endpoint)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({}, "has no host"),
        ({"host": "ftp://judge.example.com"}, "must be an http"),
        ({"host": "https://user:secret@judge.example.com"}, "credentials in its host URL"),
        ({"host": "https://j", "extra": {"model": 3}}, "extra.model must be a string"),
    ],
)
def test_a_connection_that_cannot_be_a_judge_is_refused(fields, message):
    with pytest.raises(ValueError, match=message):
        endpoint_of(connection(**fields))


def judge_operator(home: Path, data: Path, **kwargs) -> NovaEvaluationOperator:
    arguments = {
        "task_id": "llm_judge",
        "platform": "local",
        "local_root": str(home),
        "training_recipe": JUDGE_RECIPE,
        "task": "llm_judge",
        "data_uri": str(data),
        "model_uri": "judge",
        "job_name": "run-1-llm-judge",
        "local_options": {"max_rows": 2},
        "poll_interval": 0.05,
        "deferrable": False,
        **kwargs,
    }
    with DAG("judge_connection", schedule=None):
        return NovaEvaluationOperator(**arguments)


@pytest.fixture
def pairs_file(tmp_path: Path) -> Path:
    path = tmp_path / "llm_judge.jsonl"
    rows = [
        {
            "prompt": f"Question {i}",
            "response_A": f"baseline answer {i}",
            "response_B": f"candidate answer {i}",
        }
        for i in range(2)
    ]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def test_a_judge_connection_sends_its_key_to_its_host_only(
    judge_server, home, pairs_file, monkeypatch, caplog
):
    monkeypatch.setenv(
        "AIRFLOW_CONN_NOVA_DPO_JUDGE",
        json.dumps(
            {"conn_type": "http", "host": judge_server.url, "password": KEY, "extra": {"model": "judge-1"}}
        ),
    )
    # A key the worker itself happens to hold is not what the job sends.
    monkeypatch.setenv(JUDGE_API_KEY_ENV, "the-workers-own-value")
    context = {"ti": mock.MagicMock(map_index=-1), "run_id": "manual__1"}
    operator = judge_operator(home, pairs_file, judge_conn_id="nova_dpo_judge")

    with caplog.at_level(logging.DEBUG):
        result = operator.execute(context)

    assert result["status"] == "Completed"
    assert result["outputs"]["result"]["metrics"]["b_scores"] == 4
    assert {request["authorization"] for request in judge_server.requests} == {f"Bearer {KEY}"}
    assert {request["model"] for request in judge_server.requests} == {"judge-1"}
    pushed = [call.kwargs.get("value") for call in context["ti"].xcom_push.call_args_list]
    job_files = "".join(p.read_text(errors="replace") for p in home.rglob("*") if p.is_file())
    for where, text in {
        "return value": json.dumps(result),
        "xcom": json.dumps(pushed),
        "log": caplog.text,
        "job folder": job_files,
    }.items():
        assert KEY not in text, f"the judge's key is in the {where}"
        assert "the-workers-own-value" not in text


def test_without_a_connection_the_job_sends_no_key(judge_server, home, pairs_file, monkeypatch):
    monkeypatch.setenv(JUDGE_API_KEY_ENV, "the-workers-own-value")
    operator = judge_operator(
        home, pairs_file, local_options={"max_rows": 1, "judge": judge_server.url, "judge_model": "judge-1"}
    )

    operator.execute({"ti": mock.MagicMock(map_index=-1), "run_id": "manual__1"})

    assert {request["authorization"] for request in judge_server.requests} == {None}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"judge_conn_id": "no_such_connection"}, "no_such_connection"),
        (
            {"judge_conn_id": "nova_dpo_judge", "local_options": {"judge": "http://127.0.0.1:9/v1"}},
            "Both judge_conn_id and local_options",
        ),
        (
            {
                "judge_conn_id": "nova_dpo_judge",
                "training_recipe": evaluation_recipes("micro")["gen_qa"],
                "task": None,
            },
            "judge_conn_id names the judge of a local llm_judge job",
        ),
    ],
)
def test_a_judge_connection_that_cannot_be_used_fails_before_a_job_starts(
    home, pairs_file, monkeypatch, kwargs, message
):
    monkeypatch.setenv(
        "AIRFLOW_CONN_NOVA_DPO_JUDGE", json.dumps({"conn_type": "http", "host": "http://127.0.0.1:9"})
    )
    operator = judge_operator(home, pairs_file, **kwargs)

    with pytest.raises(AirflowFailException, match=message):
        operator.execute({"ti": mock.MagicMock(map_index=-1), "run_id": "manual__1"})

    assert LocalJobRunner(home).list_jobs() == []
