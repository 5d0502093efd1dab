"""BedrockModelStore against botocore's Stubber (which validates every request against the service model): the
lookups, the champion alias in the registry, and pruning. The import, deploy, smoke-test and delete calls are
exercised through the operators (tests/plugins/test_ship_operators.py, test_bedrock_custom_model_operators.py).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from nova_dpo.platforms.base import CHAMPION, ModelNotFoundError, ModelStatus, ModelStore, ModelStoreFailure
from nova_dpo.platforms.bedrock_store import BedrockModelStore

MODEL_ARN = "arn:aws:bedrock:us-east-1:123456789012:custom-model/imported/abcdef123456"
CREATED = datetime(2026, 1, 1, tzinfo=UTC)


def custom_model(status: str, **extra) -> dict:
    return {
        "modelArn": MODEL_ARN,
        "modelName": "nova-dpo-1",
        "creationTime": CREATED,
        "modelStatus": status,
        **extra,
    }


@pytest.fixture
def client():
    return boto3.client("bedrock", region_name="us-east-1")


@pytest.fixture
def stubber(client):
    with Stubber(client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


@pytest.fixture
def registry_root(tmp_path: Path) -> Path:
    return tmp_path / "registry"


@pytest.fixture
def store(client, registry_root):
    return BedrockModelStore(
        client,
        registry=lambda family, alias: registry_root / family / f"{alias}.json",
        import_role_arn="arn:aws:iam::123456789012:role/BedrockImportRole",
    )


def test_the_bedrock_store_is_a_model_store(store):
    assert isinstance(store, ModelStore)
    assert store.keeps_metrics is False


def test_clients_are_made_when_first_needed(client):
    made = []
    store = BedrockModelStore(lambda: made.append("bedrock") or client)

    assert made == []
    assert store.bedrock is client
    assert store.bedrock is client
    assert made == ["bedrock"]


def test_get_model_of_a_missing_model_is_model_not_found(store, stubber):
    stubber.add_client_error("get_custom_model", "ResourceNotFoundException", http_status_code=404)

    with pytest.raises(ModelNotFoundError, match="nova-dpo-1"):
        store.get_model("nova-dpo-1")


def test_get_model_names_the_family_from_the_model_name(store, stubber):
    stubber.add_response(
        "get_custom_model",
        custom_model("Active", modelName="nova-dpo-micro-20260101"),
        {"modelIdentifier": MODEL_ARN},
    )

    record = store.get_model(MODEL_ARN)

    assert (record.status, record.family, record.model_id) == (ModelStatus.ACTIVE, "micro", MODEL_ARN)


def test_a_failed_import_is_a_store_failure_naming_the_reason(store):
    failure = store.import_failed(custom_model("Failed", failureMessage="Unsupported checkpoint format"))

    assert isinstance(failure, ModelStoreFailure)
    assert "Unsupported checkpoint format" in str(failure)


class TestAliases:
    def test_no_champion_yet(self, store):
        assert store.get_alias("micro") is None

    def test_set_alias_keeps_the_ledger_entry_of_the_same_model(self, store, registry_root):
        entry = registry_root / "micro" / f"{CHAMPION}.json"
        entry.parent.mkdir(parents=True)
        entry.write_text(
            json.dumps({"model_id": MODEL_ARN, "model_name": "nova-dpo-1", "dataset_sha256": "d" * 64})
        )

        store.set_alias("micro", CHAMPION, MODEL_ARN)

        record = json.loads(entry.read_text())
        assert record["dataset_sha256"] == "d" * 64
        assert record["model_id"] == MODEL_ARN
        assert record["updated"]
        assert store.get_alias("micro") == MODEL_ARN

    def test_set_alias_to_another_model_drops_the_old_entry(self, store, registry_root):
        store.set_alias("micro", CHAMPION, "arn:old")
        (registry_root / "micro" / f"{CHAMPION}.json").write_text(json.dumps({"model_id": "arn:old", "x": 1}))

        store.set_alias("micro", CHAMPION, MODEL_ARN)

        assert "x" not in json.loads((registry_root / "micro" / f"{CHAMPION}.json").read_text())

    def test_a_store_without_registry_keeps_no_alias(self, client):
        with pytest.raises(RuntimeError, match="no registry"):
            BedrockModelStore(client).get_alias("micro")


class TestPrune:
    REQUEST: ClassVar[dict[str, str]] = {
        "nameContains": "nova-dpo-micro-",
        "sortBy": "CreationTime",
        "sortOrder": "Descending",
    }

    @staticmethod
    def summary(day: int, **extra) -> dict:
        return {
            "modelArn": f"arn:aws:bedrock:us-east-1:123456789012:custom-model/imported/{str(day) * 12}",
            "modelName": f"nova-dpo-micro-2026010{day}",
            "creationTime": datetime(2026, 1, day, tzinfo=UTC),
            "baseModelArn": "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-micro-v1:0",
            "baseModelName": "Nova Micro",
            **extra,
        }

    def test_keeps_the_newest_the_champion_and_models_being_imported(self, store, stubber):
        models = {day: self.summary(day) for day in range(1, 6)}
        models[3] = self.summary(3, modelStatus="Creating")
        store.set_alias("micro", CHAMPION, models[2]["modelArn"])
        stubber.add_response(
            "list_custom_models", {"modelSummaries": [models[d] for d in (5, 4, 3, 2, 1)]}, self.REQUEST
        )
        stubber.add_response("delete_custom_model", {}, {"modelIdentifier": models[1]["modelArn"]})

        deleted = store.prune("micro", keep=2)

        assert [record.name for record in deleted] == [models[1]["modelName"]]

    def test_does_every_delete_then_names_the_failures(self, store, stubber):
        models = [self.summary(day) for day in (3, 2, 1)]
        stubber.add_response("list_custom_models", {"modelSummaries": models}, self.REQUEST)
        stubber.add_client_error("delete_custom_model", "ValidationException", "Model is in use")
        stubber.add_response("delete_custom_model", {}, {"modelIdentifier": models[2]["modelArn"]})

        with pytest.raises(RuntimeError, match=rf"deleted: \['{models[2]['modelName']}'\].*Model is in use"):
            store.prune("micro", keep=1)

    def test_only_the_familys_imported_models(self, store, stubber):
        other = {**self.summary(1), "modelName": "nova-dpo-microscope-1"}
        tuned = {**self.summary(2), "customizationType": "FINE_TUNING"}
        stubber.add_response("list_custom_models", {"modelSummaries": [tuned, other]}, self.REQUEST)

        assert store.prune("micro", keep=0) == []


def deployment_summary(name: str, suffix: str) -> dict:
    return {
        "customModelDeploymentArn": f"arn:aws:bedrock:us-east-1:123456789012:custom-model-deployment/{suffix}",
        "customModelDeploymentName": name,
        "modelArn": MODEL_ARN,
        "createdAt": CREATED,
        "status": "Active",
    }


class TestLookups:
    def test_get_custom_model(self, store, stubber):
        stubber.add_response("get_custom_model", custom_model("Active"), {"modelIdentifier": "nova-dpo-1"})

        assert store.describe_model("nova-dpo-1")["modelStatus"] == "Active"

    def test_get_custom_model_is_none_when_missing(self, store, stubber):
        stubber.add_client_error("get_custom_model", "ResourceNotFoundException", http_status_code=404)

        assert store.describe_model("nova-dpo-1") is None

    def test_get_custom_model_raises_other_errors(self, store, stubber):
        stubber.add_client_error("get_custom_model", "AccessDeniedException", http_status_code=403)

        with pytest.raises(ClientError, match="AccessDenied"):
            store.describe_model("nova-dpo-1")

    def test_find_deployment_matches_the_exact_name_across_pages(self, store, stubber):
        def summary(name: str, suffix: str) -> dict:
            return {
                "customModelDeploymentArn": f"arn:aws:bedrock:us-east-1:123456789012:custom-model-deployment/{suffix}",
                "customModelDeploymentName": name,
                "modelArn": MODEL_ARN,
                "createdAt": CREATED,
                "status": "Active",
            }

        stubber.add_response(
            "list_custom_model_deployments",
            {"modelDeploymentSummaries": [summary("nova-dpo-1-od-old", "aaaaaaaaaaaa")], "nextToken": "p2"},
            {"nameContains": "nova-dpo-1-od"},
        )
        stubber.add_response(
            "list_custom_model_deployments",
            {"modelDeploymentSummaries": [summary("nova-dpo-1-od", "bbbbbbbbbbbb")]},
            {"nameContains": "nova-dpo-1-od", "nextToken": "p2"},
        )

        found = store.find_deployment("nova-dpo-1-od")

        assert found["customModelDeploymentArn"].endswith("/bbbbbbbbbbbb")

    def test_find_deployment_is_none_without_exact_match(self, store, stubber):
        stubber.add_response("list_custom_model_deployments", {"modelDeploymentSummaries": []})

        assert store.find_deployment("nova-dpo-1-od") is None

    def test_list_custom_models_newest_first_across_pages(self, store, stubber):
        def summary(name: str, day: int) -> dict:
            return {
                "modelArn": f"arn:aws:bedrock:us-east-1:123456789012:custom-model/imported/{name[-1] * 12}",
                "modelName": name,
                "creationTime": datetime(2026, 1, day, tzinfo=UTC),
                "baseModelArn": "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-micro-v1:0",
                "baseModelName": "Nova Micro",
            }

        request = {"nameContains": "nova", "sortBy": "CreationTime", "sortOrder": "Descending"}
        stubber.add_response(
            "list_custom_models",
            {"modelSummaries": [summary("nova-3", 3), summary("nova-1", 1)], "nextToken": "p2"},
            request,
        )
        stubber.add_response(
            "list_custom_models", {"modelSummaries": [summary("nova-2", 2)]}, {**request, "nextToken": "p2"}
        )

        names = [model["modelName"] for model in store.imported_models("nova")]

        assert names == ["nova-3", "nova-2", "nova-1"]
