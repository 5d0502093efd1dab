"""Suite-wide settings: nothing reaches a network, and AWS credentials are fake."""

import os
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# Airflow reads its settings once, at first import: point it at a scratch home before any test imports it.
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="nova-dpo-airflow-home-"))
os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(REPO / "dags"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("NOVA_DPO_POLL_SECONDS", "1")

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")


@pytest.fixture(scope="session")
def moto_server():
    """A moto server on 127.0.0.1 for clients that moto's in-process mock cannot patch (s3fs/aiobotocore)."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws_default_connection(moto_server, monkeypatch):
    """Airflow's ``aws_default`` connection pointing at the moto server (as the DAG's tasks reach AWS); the
    keyword arguments of a boto3 client for the same account and region."""
    import json

    region = "us-east-1"
    connection = {
        "conn_type": "aws",
        "login": "testing",
        "password": "testing",
        "extra": {"endpoint_url": moto_server, "region_name": region},
    }
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps(connection))
    return {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": region}


@pytest.fixture
def s3_root(moto_server):
    """An empty bucket on the moto server, as a universal-pathlib path (what ObjectStoragePath also is)."""
    import uuid

    import boto3
    from upath import UPath

    bucket = f"nova-dpo-test-{uuid.uuid4().hex[:8]}"
    boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1").create_bucket(Bucket=bucket)
    return UPath(f"s3://{bucket}/root", client_kwargs={"endpoint_url": moto_server})


@pytest.fixture(scope="module")
def moto_clients():
    """moto in-process, with one SageMaker and one S3 client for the whole module (building clients is the
    slow part): ``(mock, sagemaker, s3)``; a module's own fixture calls ``mock.reset()`` for every test."""
    import boto3
    from moto import mock_aws

    with mock_aws() as mock:
        yield (
            mock,
            boto3.client("sagemaker", region_name="us-east-1"),
            boto3.client("s3", region_name="us-east-1"),
        )


@pytest.fixture
def runner_root(tmp_path):
    """Where the ``runner`` fixture keeps its jobs; a module overrides it to put them elsewhere."""
    return tmp_path


@pytest.fixture
def runner(runner_root):
    """A local job runner; every job a test started ends with it, whichever process started it."""
    from nova_dpo.platforms.local.jobs import LocalJobRunner

    runner = LocalJobRunner(runner_root, stop_grace_seconds=2.0)
    yield runner
    for ref in runner.list_jobs():
        runner.stop(ref)


@pytest.fixture
def judge_server():
    """An OpenAI-compatible judge endpoint on 127.0.0.1 (see :mod:`tests.judge_server`)."""
    from tests.judge_server import serving

    with serving() as server:
        yield server


@pytest.fixture
def bedrock_client():
    """A Bedrock control-plane client for botocore's Stubber (see ``bedrock_stubber``)."""
    import boto3

    return boto3.client("bedrock", region_name="us-east-1")


@pytest.fixture
def bedrock_stubber(bedrock_client):
    """``bedrock_client``'s Stubber: it checks every request against the service model and the expected
    parameters, refuses calls that were not queued, and every queued response must be used by the end."""
    from botocore.stub import Stubber

    with Stubber(bedrock_client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()
