"""The local deployment gets the smoke test Bedrock deployments get, through the local model store."""

from __future__ import annotations

from pathlib import Path

import pytest

from nova_dpo.evaluation.smoke_test import SmokeTestFailed
from nova_dpo.pipeline import steps
from nova_dpo.platforms.local.runtime import LocalRuntime
from nova_dpo.platforms.local.store import LocalModelStore
from tests.include.pipeline.plans import plan_with


def test_a_model_that_does_not_call_the_tool_fails_the_local_smoke_test(tiny_model_dir: Path, tmp_path: Path):
    plan = plan_with(storage_root=str(tmp_path / "home"), base_model="tiny-random")
    store = LocalModelStore(tmp_path / "home", runtime=LocalRuntime(dtype="float32"))
    record = store.import_model(
        "nova-dpo-micro-smoke", tiny_model_dir, family="micro", base_model="tiny-random"
    )
    store.deploy(record.model_id, "nova-dpo-micro-smoke-dep")

    with pytest.raises(SmokeTestFailed, match=r"nova-dpo-micro-smoke-dep.*get_current_weather"):
        steps.smoke_test(plan, store, {"deployment_id": "nova-dpo-micro-smoke-dep"})
