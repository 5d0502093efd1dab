"""The demo's configuration is a valid run: strict recipe ranges, known local options, the form's bounds."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import jsonschema
import pytest

from nova_dpo.demo import DEMO_CONF, DEMO_SNAPSHOTS
from nova_dpo.pipeline.params import default_params, param_definitions
from nova_dpo.pipeline.run import resolve_run
from nova_dpo.platforms.local.local_config import LocalTrainingOptions


@pytest.fixture
def demo_params(tmp_path: Path) -> dict:
    params = default_params()
    params.update(DEMO_CONF, dataset_source=str(tmp_path / "source"), storage_root=str(tmp_path / "home"))
    return params


def test_the_demo_conf_passes_the_trigger_forms_bounds(demo_params: dict):
    definitions = param_definitions()
    for name, value in DEMO_CONF.items():
        schema = {key: v for key, v in definitions[name].items() if key not in ("default", "description")}
        jsonschema.validate(value, schema)


def test_the_demo_conf_resolves_with_strict_recipe_validation(demo_params: dict):
    assert not demo_params.get("relaxed_recipe")
    plan = resolve_run(
        demo_params,
        dag_id="nova_dpo_pipeline",
        run_id="manual__demo",
        logical_date=dt.datetime.combine(DEMO_SNAPSHOTS[-1], dt.time(), tzinfo=dt.UTC),
    )
    assert plan.platform == "local"
    assert plan.training.relaxed is False
    overrides = plan.training.overrides
    assert overrides["training_config.model.optim.lr"] == DEMO_CONF["learning_rate"]
    assert overrides["training_config.model.peft.lora_tuning.adapter_dropout"] == 0.0
    assert plan.training.local_options == DEMO_CONF["local_options"]


def test_the_demo_local_options_are_known_trainer_options():
    options = LocalTrainingOptions.from_dict(DEMO_CONF["local_options"])
    assert options.shared_prompt
    assert options.dtype == "bfloat16"


def test_the_demo_finds_the_out_of_distribution_set_it_reports():
    from nova_dpo.demo import out_of_distribution_set

    found = out_of_distribution_set()
    assert found == Path(__file__).resolve().parents[1] / "data" / "ood" / "gen_qa.jsonl"
    assert len(found.read_text().splitlines()) >= 60
