"""Every param a run can be given is checked in resolve_run: a bad value fails there, naming the param.

A run triggered through the REST API or the CLI skips the form's checks, and a run that fails after
training has been paid for is the expensive way to learn of a typo. ``BAD`` holds a bad value for every
param of the trigger form; the test that it covers them all makes a new param come with its check.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nova_dpo.pipeline.param_checks import check_split_ratios, check_storage_root
from nova_dpo.pipeline.params import param_definitions
from nova_dpo.pipeline.run import PlanError
from tests.include.pipeline.plans import plan_with

#: param -> (a bad value, what the error says besides the param's name).
BAD: dict[str, tuple[object, str]] = {
    "platform": ("azure", "is not one of"),
    "storage_root": ("relative/folder", "must be an absolute folder"),
    "model_family": ("nano", "is not one of"),
    "technique": ("qlora", "is not one of"),
    "instance_type": ("p5.48xlarge", "does not match"),
    "instance_count": (0, "less than the minimum"),
    "max_run": (10, "less than the minimum"),
    "training_recipe": ("no_such_recipe", "no_such_recipe"),
    "beta": (0.5, "greater than the maximum"),
    "learning_rate": (0, "less than or equal to the minimum"),
    "max_epochs": (9, "greater than the maximum"),
    "global_batch_size": (12, "is not one of"),
    "max_length": (1000, "less than the minimum"),
    "lora_alpha": (48, "is not one of"),
    "adapter_dropout": (1.5, "greater than the maximum"),
    "loraplus_lr_ratio": (0.5, "less than the minimum"),
    "recipe_overrides": ({"training_config.model.optim.no_such_key": 1}, "no_such_key"),
    "relaxed_recipe": ("yes", "is not of type 'boolean'"),
    "dataset_source": ("", "should be non-empty"),
    "dataset_revision": (20260101, "is not of type"),
    "split_ratios": ([0.5, 0.3, 0.1], "must sum to 1"),
    "min_valid_fraction": (1.5, "greater than the maximum"),
    "max_eval_rows": (0, "less than the minimum"),
    "max_new_tokens": (0, "less than the minimum"),
    "judge_conn_id": ("http://judge/v1", "does not match"),
    "judge_model": (7, "is not of type"),
    "eval_local_options": ({"batch_sise": 4}, "Unknown local evaluation option"),
    "gate": ({"min_relative_gain": {"tool_call_f2": 0.05}}, "tool_call_f2"),
    "approval_required": ("no", "is not of type 'boolean'"),
    "deploy": (1, "is not of type 'boolean'"),
    "keep_models": (0, "less than the minimum"),
    "budget_usd": (-5, "less than the minimum"),
    "base_model": ("../models/mine", "absolute path"),
    "local_options": ({"lora_rnak": 8}, "Unknown local training option"),
}


def test_every_param_has_a_bad_value_here():
    assert set(BAD) == set(param_definitions())


def test_the_defaults_make_a_run():
    assert plan_with().platform == "local"


@pytest.mark.parametrize("name", sorted(BAD))
def test_a_bad_value_of_any_param_is_refused_naming_it(name):
    value, message = BAD[name]

    with pytest.raises(PlanError) as refused:
        plan_with(**{name: value})

    assert name in str(refused.value)
    assert message in str(refused.value)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"learning_rat": 1e-4}, "unknown param(s) learning_rat"),
        ({"split_ratios": [0.9, 0.1, 0.0]}, "training (first) and test (last)"),
        ({"split_ratios": [0.8, 0.1]}, "split_ratios"),
        ({"storage_root": "/data/../etc"}, "must not contain '..'"),
        ({"storage_root": "s3://bucket/prefix"}, "must be a local folder"),
        ({"storage_root": "/tmp/x", "platform": "sagemaker"}, "s3://bucket/prefix"),
        ({"storage_root": "s3://bucket/a/../b", "platform": "sagemaker"}, "must not contain '..'"),
        ({"gate": {"watched_metrics": ["rouge1", "rouge9"]}}, "rouge9"),
        ({"gate": {"no_significant_loss": {"behaviour_accuracy_maybe": 0.05}}}, "behaviour_accuracy_maybe"),
        ({"gate": {"min_relative_gan": {"rouge1": 0.1}}}, "'min_relative_gan' was unexpected"),
        ({"gate": {"confidence": 1.0}}, "param gate"),
        ({"eval_local_options": {"judge": "http://attacker/v1"}}, "judge_conn_id"),
        ({"local_options": {"lora_rank": 0}}, "param local_options"),
        ({"platform": "sagemaker", "storage_root": "s3://b/p", "budget_usd": 1}, "budget_usd"),
    ],
)
def test_rules_a_schema_cannot_say_are_checked_too(changes, message):
    with pytest.raises(PlanError) as refused:
        plan_with(**changes)

    assert message in str(refused.value)


def test_the_gate_may_name_per_behaviour_metrics():
    plan = plan_with(gate={"max_relative_regression": {"behaviour_accuracy_cannot_answer": 0.1}})
    assert plan.gate.max_relative_regression == {"behaviour_accuracy_cannot_answer": 0.1}


def test_the_gate_may_name_the_tool_error_rates():
    plan = plan_with(
        gate={"no_significant_loss": {"tool_hallucination_rate": 0.0, "malformed_call_rate": 0.02}}
    )
    assert plan.gate.no_significant_loss == {"tool_hallucination_rate": 0.0, "malformed_call_rate": 0.02}


@pytest.mark.parametrize("home", ["s3://not/a/folder", "relative/home"])
def test_a_local_root_from_the_environment_is_checked(monkeypatch, home):
    monkeypatch.setenv("NOVA_DPO_HOME", home)
    with pytest.raises(PlanError, match="env NOVA_DPO_HOME"):
        plan_with()


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.lists(st.floats(min_value=0, max_value=1), min_size=3, max_size=3))
def test_split_ratios_are_accepted_exactly_when_they_can_split(ratios):
    train, _, test = ratios
    usable = abs(sum(ratios) - 1) <= 1e-6 and train > 0 and test > 0
    if usable:
        assert check_split_ratios(ratios) == tuple(ratios)
    else:
        with pytest.raises(PlanError, match="split_ratios"):
            check_split_ratios(ratios)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.lists(st.sampled_from(["data", "..", ".", "", "nova-dpo", "x y"]), min_size=1, max_size=5))
def test_a_local_storage_root_is_absolute_and_never_climbs(parts):
    root = "/" + "/".join(parts)
    if ".." in parts:
        with pytest.raises(PlanError, match=r"\.\."):
            check_storage_root("local", root)
    else:
        checked = check_storage_root("local", root)
        assert checked.startswith("/")
        assert ".." not in checked.split("/")
