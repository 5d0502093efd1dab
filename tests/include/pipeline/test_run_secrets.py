"""A run's params cannot point a worker at a host of their choosing with a secret of the worker's.

A user who may trigger runs sets the params; the judge endpoint and its key are an administrator's, in an
Airflow connection the params can only name (``judge_conn_id``).
"""

from __future__ import annotations

import pytest

from nova_dpo.pipeline.params import param_definitions
from nova_dpo.pipeline.run import PlanError
from tests.include.pipeline.plans import plan_with


def test_no_param_takes_a_judge_url():
    assert "judge" not in param_definitions()
    assert param_definitions()["judge_conn_id"]["default"] is None


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"judge": "http://attacker.example/v1"}, "a judge endpoint is an Airflow connection"),
        ({"judge_api_key_env": "AWS_SECRET_ACCESS_KEY"}, "Unknown local evaluation option"),
        ({"batch_size": 0}, "batch_size must be at least 1"),
        ({"batch_size": "many"}, "eval_local_options"),
        ("batch_size=4", "is not of type .object."),
    ],
)
def test_evaluation_options_that_could_leak_or_fail_later_are_refused(options, message):
    with pytest.raises(PlanError, match=message):
        plan_with(eval_local_options=options)


def test_a_judge_connection_is_named_not_described():
    evaluation = plan_with(judge_conn_id="nova_dpo_judge", judge_model="judge-1").evaluation

    assert evaluation.judge_conn_id == "nova_dpo_judge"
    assert "judge" not in evaluation.local_options
    assert evaluation.local_options["judge_model"] == "judge-1"
    assert plan_with().evaluation.judge_conn_id is None


@pytest.mark.parametrize("conn_id", ["http://host/v1", "a b", 3])
def test_a_judge_conn_id_must_be_a_connection_id(conn_id):
    with pytest.raises(PlanError, match="judge_conn_id"):
        plan_with(judge_conn_id=conn_id)


def test_a_judge_connection_on_sagemaker_is_refused(monkeypatch):
    monkeypatch.setenv("NOVA_DPO_S3_ROOT", "s3://bucket/prefix")
    with pytest.raises(PlanError, match="local platform only"):
        plan_with(platform="sagemaker", judge_conn_id="nova_dpo_judge")


def test_a_plan_whose_recipe_was_changed_after_resolve_run_is_refused():
    """A job carries its recipe from the plan without resolving it again; its fingerprint must still hold."""
    from nova_dpo.pipeline.plan import RunPlan

    data = plan_with().to_dict()
    data["training"]["recipe"]["config"]["training_config"]["model"]["dpo_cfg"]["beta"] = 5.0

    with pytest.raises(ValueError, match="changed after it was resolved"):
        RunPlan.from_dict(data)
