"""A scheduled run takes every param's default: what it trains on comes from the deployment's settings, and
when those name data that cannot be read the run fails once, with the reason, instead of retrying."""

from __future__ import annotations

import datetime as dt
import logging

import pytest

from nova_dpo.pipeline import params

pytestmark = pytest.mark.slow


def test_the_deployment_names_what_scheduled_runs_train_on(monkeypatch, tmp_path):
    monkeypatch.setenv("NOVA_DPO_PLATFORM", "sagemaker")
    monkeypatch.setenv("NOVA_DPO_DATASET_SOURCE", "s3://team-bucket/when2call/")

    defaults = {name: definition["default"] for name, definition in params.param_definitions().items()}

    assert defaults["platform"] == "sagemaker"
    assert defaults["dataset_source"] == "s3://team-bucket/when2call/"
    monkeypatch.delenv("NOVA_DPO_DATASET_SOURCE")
    assert params.param_definitions()["dataset_source"]["default"] == "nvidia/When2Call"


def test_an_unreadable_default_source_fails_the_run_once_and_tears_down(
    pipeline, tmp_path, monkeypatch, caplog
):
    """The default source is the Hub, which an offline deployment cannot reach: the data stage fails at its
    first try (data and config errors are final), the run ends failed, teardown runs."""
    monkeypatch.setenv("NOVA_DPO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    with caplog.at_level(logging.ERROR):
        run = pipeline.test(logical_date=dt.datetime(2026, 1, 18, tzinfo=dt.UTC))

    tries = {ti.task_id: (str(ti.state), ti.try_number) for ti in run.get_task_instances()}
    assert str(run.state) == "failed", tries
    assert tries["resolve_run"] == ("success", 1)
    assert tries["prepare_dataset"] == ("failed", 1), "a data error is not retried"
    assert tries["teardown"][0] == "failed", "it cleans up, then reports the run's failure"
    assert pipeline.get_task("prepare_dataset").retries == 2, "other errors still are"
    assert "cannot list the commits of nvidia/When2Call" in caplog.text


def test_a_run_whose_training_fails_ends_failed_with_the_reason_and_tears_down(
    pipeline, tmp_path, monkeypatch, caplog
):
    from nova_dpo.data.synthesize import write_synthetic

    monkeypatch.setenv("NOVA_DPO_HOME", str(tmp_path / "home"))
    write_synthetic(tmp_path / "source", 48, seed=5, snapshots=(dt.date(2026, 1, 5),))
    missing_model = str(tmp_path / "no-such-model")
    conf = {
        "platform": "local",
        "storage_root": str(tmp_path / "home"),
        "dataset_source": str(tmp_path / "source"),
        "base_model": missing_model,
        "global_batch_size": 16,
        "local_options": {"max_steps": 1, "max_rows": 16, "lora_rank": 4},
    }
    train = pipeline.get_task("train_dpo")
    monkeypatch.setattr(train, "retries", 0)

    with caplog.at_level(logging.ERROR):
        run = pipeline.test(logical_date=dt.datetime(2026, 1, 6, tzinfo=dt.UTC), run_conf=conf)

    tries = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    assert str(run.state) == "failed", tries
    assert tries["train_dpo"] == "failed"
    for task_id in ("metric_gate", "publish", "reject"):
        assert tries[task_id] == "upstream_failed", (task_id, tries)
    assert tries["teardown"] == "failed", "it cleans up, then reports the run's failure"
    assert "Cleanup done" in caplog.text
    assert "train_dpo" in caplog.text.split("Cleanup done", 1)[1]
    assert f"Base model folder {missing_model} does not exist" in caplog.text, "the job's reason in the log"
