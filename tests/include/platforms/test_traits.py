"""What the pipeline knows of each platform lives in the factory: every platform has its traits, and a run
plan follows them."""

from __future__ import annotations

import pytest

from nova_dpo.platforms.factory import PLATFORMS, TRAITS, platform_traits
from tests.include.pipeline.plans import plan_with


def test_every_platform_has_traits_and_an_unknown_one_is_refused():
    assert set(TRAITS) == set(PLATFORMS)
    with pytest.raises(ValueError, match="Unknown platform 'azure'"):
        platform_traits("azure")


@pytest.mark.parametrize("name", PLATFORMS)
def test_a_run_plan_follows_its_platforms_traits(name, monkeypatch):
    traits = platform_traits(name)
    monkeypatch.setenv("NOVA_DPO_ROLE_ARN", "arn:aws:iam::111122223333:role/Jobs")
    root = "s3://bucket/prefix" if traits.object_storage else "/data/nova-dpo"

    plan = plan_with(platform=name, storage_root=root)

    assert plan.storage.root == root
    assert (plan.storage.job_results["train"] is not None) == traits.publishes_job_outputs
    assert (plan.training.role_arn is not None) == traits.runs_as_roles
    assert (plan.evaluation.judge is not None) == traits.judges_locally
    expected_model = plan.training.recipe.config["run"]["model_name_or_path"]
    assert (plan.training.base_model == expected_model) == traits.trains_recipe_model


def test_a_platform_without_a_default_root_needs_one(monkeypatch):
    sagemaker = platform_traits("sagemaker")
    assert sagemaker.default_root is None
    monkeypatch.delenv(sagemaker.root_env, raising=False)
    from nova_dpo.pipeline.run import PlanError

    with pytest.raises(PlanError, match=f"env {sagemaker.root_env}"):
        plan_with(platform="sagemaker")
