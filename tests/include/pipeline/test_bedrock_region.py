"""The Bedrock calls have a region (and an AWS connection) of their own, checked in ``resolve_run`` against the
regions where Amazon Bedrock imports, and deploys on demand, SageMaker-trained Nova models."""

from __future__ import annotations

import datetime as dt

import boto3
import pytest

from nova_dpo import catalog
from nova_dpo.pipeline import run
from nova_dpo.pipeline.params import default_params
from nova_dpo.pipeline.plan import RunPlan
from nova_dpo.pipeline.run import PlanError, environment_region, resolve_run

ROLE = "arn:aws:iam::111122223333:role/Jobs"


@pytest.fixture(autouse=True)
def deployment(monkeypatch):
    """A SageMaker deployment with no Bedrock settings of its own."""
    monkeypatch.setenv("NOVA_DPO_S3_ROOT", "s3://bucket/prefix")
    monkeypatch.setenv("NOVA_DPO_ROLE_ARN", ROLE)
    monkeypatch.delenv("NOVA_DPO_BEDROCK_REGION", raising=False)
    monkeypatch.delenv("NOVA_DPO_BEDROCK_CONN_ID", raising=False)


class Connections:
    """``connection_region`` of a deployment whose Airflow connections have these regions; it records what it
    was asked."""

    def __init__(self, **regions: str | None) -> None:
        self.regions = regions
        self.asked: list[str] = []

    def __call__(self, conn_id: str) -> str | None:
        self.asked.append(conn_id)
        return self.regions.get(conn_id)


def plan(connections: Connections | None = None, **changes) -> RunPlan:
    params = {**default_params(), "platform": "sagemaker", **changes}
    return resolve_run(
        params,
        dag_id="nova_dpo_pipeline",
        run_id="manual__1",
        logical_date=dt.datetime(2026, 3, 1, tzinfo=dt.UTC),
        connection_region=connections,
    )


def test_the_region_tables_are_what_aws_documents():
    # Bedrock user guide, "Import a SageMaker AI-trained Amazon Nova model": by API, in US East (N. Virginia)
    # only (reference notes, nova-facts.md §5). "Deploy a custom model for on-demand inference": "You can
    # deploy a custom model for on-demand inference in the following Regions: US East (N. Virginia)".
    assert catalog.BEDROCK_IMPORT_REGIONS == ("us-east-1",)
    assert catalog.BEDROCK_ON_DEMAND_REGIONS == ("us-east-1",)
    # Every region of the tables is one that botocore has a Bedrock endpoint for.
    bedrock_regions = boto3.session.Session().get_available_regions("bedrock")
    assert set(catalog.BEDROCK_IMPORT_REGIONS) | set(catalog.BEDROCK_ON_DEMAND_REGIONS) <= set(
        bedrock_regions
    )


def test_by_default_bedrock_is_called_on_the_sagemaker_connection_in_its_region():
    connections = Connections(aws_default="us-east-1")

    ship = plan(connections).ship

    assert (ship.bedrock_conn_id, ship.bedrock_region) == ("aws_default", "us-east-1")
    assert connections.asked == ["aws_default"]


def test_training_where_bedrock_imports_no_nova_model_is_refused_naming_the_setting():
    with pytest.raises(PlanError) as refused:
        plan(Connections(aws_default="ap-northeast-1"))

    message = str(refused.value)
    assert "ap-northeast-1" in message
    assert "connection aws_default" in message
    assert "CreateCustomModel" in message
    assert "set env NOVA_DPO_BEDROCK_REGION to a region that does: us-east-1" in message


def test_the_bedrock_region_setting_lets_a_run_train_elsewhere(monkeypatch):
    monkeypatch.setenv("NOVA_DPO_BEDROCK_REGION", "us-east-1")
    connections = Connections(aws_default="ap-northeast-1")

    ship = plan(connections).ship

    assert (ship.bedrock_conn_id, ship.bedrock_region) == ("aws_default", "us-east-1")
    assert connections.asked == []


def test_a_bedrock_connection_of_its_own_gives_its_region(monkeypatch):
    monkeypatch.setenv("NOVA_DPO_BEDROCK_CONN_ID", "bedrock_east")
    connections = Connections(aws_default="ap-northeast-1", bedrock_east="us-east-1")

    ship = plan(connections).ship

    assert (ship.bedrock_conn_id, ship.bedrock_region) == ("bedrock_east", "us-east-1")
    assert connections.asked == ["bedrock_east"]


@pytest.mark.parametrize("region", ["eu-west-1", "us-west-2", "ap-northeast-1"])
def test_a_bedrock_region_setting_without_nova_import_is_refused(monkeypatch, region):
    monkeypatch.setenv("NOVA_DPO_BEDROCK_REGION", region)

    with pytest.raises(PlanError, match=rf"Bedrock region {region} \(env NOVA_DPO_BEDROCK_REGION\)"):
        plan(Connections(aws_default="us-east-1"))


def test_no_region_anywhere_names_both_settings():
    with pytest.raises(
        PlanError, match=r"set env NOVA_DPO_BEDROCK_REGION .*give connection aws_default a region"
    ):
        plan(Connections())


@pytest.mark.parametrize(
    ("changes", "refused"),
    [
        ({"technique": "lora"}, True),
        ({"technique": "lora", "deploy": False}, False),
        ({"technique": "full"}, False),
    ],
)
def test_a_lora_model_to_deploy_needs_on_demand_deployment(monkeypatch, changes, refused):
    """A region that imports but does not deploy on demand serves only what needs no on-demand deployment."""
    monkeypatch.setattr(run, "BEDROCK_ON_DEMAND_REGIONS", ("us-west-2",))
    connections = Connections(aws_default="us-east-1")

    if refused:
        with pytest.raises(PlanError, match=r"on-demand deployment .*one of us-west-2, or the param deploy"):
            plan(connections, **changes)
    else:
        assert plan(connections, **changes).ship.bedrock_region == "us-east-1"


def test_the_local_platform_asks_for_no_aws_region():
    def no_aws(conn_id: str) -> str:
        raise AssertionError(f"asked for the region of {conn_id}")

    ship = plan(no_aws, platform="local", storage_root="/data/nova-dpo").ship

    assert (ship.bedrock_conn_id, ship.bedrock_region) == (None, None)


def test_the_bedrock_settings_cross_xcom_and_an_older_plan_has_none():
    resolved = plan(Connections(aws_default="us-east-1"))
    data = resolved.to_dict()

    assert RunPlan.from_dict(data) == resolved
    older = {**data, "ship": {k: v for k, v in data["ship"].items() if not k.startswith("bedrock_")}}
    assert RunPlan.from_dict(older).ship.bedrock_conn_id is None


def test_without_airflow_the_region_is_the_environments(monkeypatch, tmp_path):
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    assert environment_region("aws_default") == "us-west-2"

    monkeypatch.delenv("AWS_DEFAULT_REGION")
    assert environment_region("aws_default") is None
    with pytest.raises(PlanError, match="the Bedrock calls have no region"):
        plan()
