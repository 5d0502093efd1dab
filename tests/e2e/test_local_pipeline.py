"""The whole DAG on the local platform, for real, with the tiny random model: every step runs."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from nova_dpo.data.synthesize import write_synthetic
from tests.pipeline_tasks import SHIPPING_TASK_IDS, SKIPPED_WHEN_SHIPPING

SNAPSHOTS = (dt.date(2026, 1, 5), dt.date(2026, 1, 12))
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def model_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("model-cache")


@pytest.fixture
def home(tmp_path, monkeypatch, model_cache):
    monkeypatch.setenv("NOVA_DPO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("NOVA_DPO_CACHE", str(model_cache))
    source = tmp_path / "source"
    write_synthetic(source, 160, seed=3, snapshots=SNAPSHOTS)
    return tmp_path


def conf(home: Path, **overrides) -> dict:
    return {
        "platform": "local",
        "storage_root": str(home / "home"),
        "dataset_source": str(home / "source"),
        "base_model": "tiny-random",
        "global_batch_size": 16,
        "local_options": {"max_steps": 1, "max_rows": 16, "lora_rank": 4, "max_per_device_batch_size": 4},
        "max_eval_rows": 6,
        "max_new_tokens": 12,
        "judge_model": "tiny-random",
        "eval_local_options": {"batch_size": 6, "dtype": "float32"},
        "deploy": False,
        **overrides,
    }


def states(run) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in run.get_task_instances()}


def test_a_run_that_passes_the_gate_ships_and_one_that_fails_is_rejected(pipeline, home):
    passed = pipeline.test(logical_date=dt.datetime(2026, 1, 13, tzinfo=dt.UTC), run_conf=conf(home, gate={}))
    first = states(passed)
    assert str(passed.state) == "success", first
    for task_id in SHIPPING_TASK_IDS:
        assert first[task_id] == "success", (task_id, first)
    for task_id in SKIPPED_WHEN_SHIPPING:
        assert first[task_id] == "skipped", (task_id, first)
    root = home / "home"
    champion = json.loads(next((root / "registry").glob("*/champion.json")).read_text())
    assert champion["dataset_version"] == "2026-01-12"
    report = next((root / "runs").glob("*/report/report.md"))
    assert "pass" in report.read_text().lower()
    assert (report.parent / "report.png").stat().st_size > 10_000

    strict = {"min_relative_gain": {"f1_score": 5.0}}
    rejected = pipeline.test(
        logical_date=dt.datetime(2026, 1, 20, tzinfo=dt.UTC),
        run_conf=conf(home, gate=strict, learning_rate=2e-5),
    )
    second = states(rejected)
    assert second["reject"] == "success", second
    assert second["import_model"] == "skipped"
    assert second["teardown"] == "success"

    from nova_dpo.platforms.local.jobs import LocalJobRunner

    runner = LocalJobRunner(root)
    assert all(runner.describe(ref).is_terminal for ref in runner.list_jobs())
    assert not list((home / "home").rglob("*.tmp"))


def test_the_same_dataset_version_and_recipe_are_not_trained_twice(pipeline, home):
    when = dt.datetime(2026, 1, 6, tzinfo=dt.UTC)
    first = states(pipeline.test(logical_date=when, run_conf=conf(home, gate={})))
    assert first["train_dpo"] == "success"
    again = states(pipeline.test(logical_date=when + dt.timedelta(hours=1), run_conf=conf(home, gate={})))
    assert again["skip_if_done"] == "success"
    assert again["train_dpo"] == "skipped"
    assert again["teardown"] == "success"
