"""A backfill over three dataset versions on the SageMaker path: each version is trained once and shipped, and
the same backfill again submits no job. AWS is faked as in :mod:`tests.e2e.test_sagemaker_pipeline` (S3 and
SageMaker on a moto server, Bedrock under botocore's Stubber); the backfill is Airflow's own
(:mod:`tests.e2e.test_backfill`)."""

from __future__ import annotations

import pytest

from nova_dpo.data.synthesize import write_synthetic
from tests.e2e import test_sagemaker_pipeline as sagemaker_e2e
from tests.e2e.test_backfill import SNAPSHOTS, backfill, execute
from tests.e2e.test_sagemaker_pipeline import conf, expect_rejection, expect_shipping

aws = sagemaker_e2e.aws  # the fixture: S3 and SageMaker on moto, Bedrock stubbed
pytestmark = pytest.mark.slow


def test_a_sagemaker_backfill_trains_each_version_once_and_again_submits_nothing(pipeline, aws):
    fake, bedrock, runtime = aws["fake"], aws["bedrock"], aws["runtime"]
    # Three weekly snapshots; the older two are byte-identical to what the fixture wrote.
    write_synthetic(aws["source"], 240, seed=3, snapshots=SNAPSHOTS)
    run_conf = conf(aws, gate={})

    for _ in SNAPSHOTS:
        expect_shipping(bedrock, runtime, fake)
    created, runs = backfill(pipeline, run_conf, reprocess="none")
    first = execute(pipeline, created, runs)

    assert [outcome["publish"] for outcome in first] == ["success"] * 3, first
    bedrock.assert_no_pending_responses()
    runtime.assert_no_pending_responses()
    trainings = [name for name, task in fake.jobs.items() if task == "dpo"]
    assert len(trainings) == 3
    # Each run evaluated against the champion the one before shipped: three baselines, one per run.
    assert sorted(fake.jobs.values()) == ["dpo"] * 3 + ["gen_qa"] * 6 + ["llm_judge"] * 3

    for _ in SNAPSHOTS:
        expect_rejection(bedrock)
    created, runs = backfill(pipeline, run_conf, reprocess="completed")
    again = execute(pipeline, created, runs)

    assert [outcome["train_dpo"] for outcome in again] == ["skipped"] * 3, again
    assert [outcome["teardown"] for outcome in again] == ["success"] * 3
    bedrock.assert_no_pending_responses()
    assert len(fake.jobs) == 12, "no job submitted the second time"
