"""A backfill over dated dataset snapshots trains each version once; the same backfill again trains nothing.

The backfill is created with Airflow's own machinery (``_create_backfill``, what ``airflow backfill create`` and
the API call): it must lay out one run per schedule interval with the backfill's conf. There is no scheduler in
the tests to execute those runs, so each is executed in-process by ``dag.test`` at the backfill run's logical
date and with its conf (``dag.test`` replaces the queued run at that date with its own), and the backfill is
then marked complete, as the scheduler does once its runs are done.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from nova_dpo.data.synthesize import write_synthetic
from tests.e2e.test_local_pipeline import conf, states

# The DAG runs @weekly (Sundays, 00:00 UTC); a snapshot is taken every Monday. Each backfill run reads the newest
# snapshot at or before its logical date: Sunday the 11th reads the 5th, the 18th the 12th, the 25th the 19th.
SNAPSHOTS = (dt.date(2026, 1, 5), dt.date(2026, 1, 12), dt.date(2026, 1, 19))
FROM, TO = dt.datetime(2026, 1, 5, tzinfo=dt.UTC), dt.datetime(2026, 1, 25, tzinfo=dt.UTC)
pytestmark = pytest.mark.slow


@pytest.fixture
def home(tmp_path, monkeypatch, tmp_path_factory):
    monkeypatch.setenv("NOVA_DPO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("NOVA_DPO_CACHE", str(tmp_path_factory.getbasetemp() / "model-cache"))
    write_synthetic(tmp_path / "source", 160, seed=3, snapshots=SNAPSHOTS)
    return tmp_path


def backfill(pipeline, run_conf: dict, reprocess: str) -> list:
    """Create a backfill over [FROM, TO] as ``airflow backfill create`` does; its runs, by logical date."""
    from airflow.models.backfill import ReprocessBehavior, _create_backfill
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    created = _create_backfill(
        dag_id=pipeline.dag_id,
        from_date=FROM,
        to_date=TO,
        max_active_runs=1,
        reverse=False,
        dag_run_conf=run_conf,
        triggering_user_name="test",
        reprocess_behavior=ReprocessBehavior(reprocess),
    )
    with create_session() as session:
        runs = session.scalars(
            select(DagRun).where(DagRun.backfill_id == created.id).order_by(DagRun.logical_date)
        ).all()
        session.expunge_all()
    return created, runs


def execute(pipeline, created, runs) -> list[dict[str, str]]:
    """Run each backfill run in-process, then close the backfill as the scheduler would."""
    from airflow.models.backfill import Backfill
    from airflow.utils.session import create_session

    outcomes = [states(pipeline.test(logical_date=run.logical_date, run_conf=run.conf)) for run in runs]
    with create_session() as session:
        session.get(Backfill, created.id).completed_at = dt.datetime.now(dt.UTC)
    return outcomes


def trainings(home: Path) -> list[Path]:
    """The training jobs the local platform ran (one folder each)."""
    return sorted(path for path in (home / "home" / "jobs").glob("*-train-*") if (path / "job.json").exists())


def trained_versions(home: Path) -> set[str]:
    import json

    versions = set()
    for job in trainings(home):
        spec = json.loads((job / "job.json").read_text())["spec"]
        versions.add(Path(spec["train_path"]).parent.parent.name)  # .../datasets/{source}/{version}/{sha12}/
    return versions


def test_a_backfill_trains_each_snapshot_once_and_again_trains_nothing(pipeline, home):
    run_conf = conf(home, gate={})
    created, runs = backfill(pipeline, run_conf, reprocess="none")
    assert [run.logical_date.date() for run in runs] == [
        dt.date(2026, 1, 11),
        dt.date(2026, 1, 18),
        dt.date(2026, 1, 25),
    ]
    assert all(run.conf == run_conf for run in runs)

    first = execute(pipeline, created, runs)
    assert [outcome["train_dpo"] for outcome in first] == ["success"] * 3
    assert len(trainings(home)) == 3
    assert trained_versions(home) == {day.isoformat() for day in SNAPSHOTS}

    # The same range again: every date already ran, so reprocess them; each version has already shipped.
    created, runs = backfill(pipeline, run_conf, reprocess="completed")
    assert len(runs) == 3
    again = execute(pipeline, created, runs)
    assert [outcome["skip_if_done"] for outcome in again] == ["success"] * 3
    assert [outcome["train_dpo"] for outcome in again] == ["skipped"] * 3
    assert [outcome["teardown"] for outcome in again] == ["success"] * 3
    assert len(trainings(home)) == 3
