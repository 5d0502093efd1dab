"""The pipeline DAG for the end-to-end tests, as the DAG processor would leave it in the metadata database."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def pipeline():
    """The DAG on a fresh metadata database, serialized there (``dag.test`` and backfills read it from there)."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db
    from airflow.utils import db
    from airflow.utils.session import create_session

    db.resetdb()
    bag = DagBag(str(REPO / "dags"))
    assert not bag.import_errors, bag.import_errors
    with create_session() as session:
        DagBundlesManager().sync_bundles_to_db(session=session)
    sync_bag_to_db(bag, "dags-folder", None)
    return bag.get_dag("nova_dpo_pipeline")
