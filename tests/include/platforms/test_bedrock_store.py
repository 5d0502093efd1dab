"""BedrockModelStore against botocore's Stubber (which validates every request against the service model): the
lookups, the champion alias in the registry, and pruning. The import, deploy, smoke-test and delete calls are
exercised through the operators (tests/plugins/test_ship_operators.py, test_bedrock_custom_model_operators.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar

import pytest
from botocore.exceptions import ClientError

from nova_dpo.platforms.base import CHAMPION, ModelNotFoundError, ModelStatus, ModelStore, ModelStoreFailure
from nova_dpo.platforms.bedrock_store import BedrockModelStore
from tests.bedrock_fakes import (
    DEPLOYMENT_ARN,
    MODEL_ARN,
    custom_model,
    deployment_summary,
    model_summary,
    not_found,
)


@pytest.fixture
def registry_root(tmp_path: Path) -> Path:
    return tmp_path / "registry"


@pytest.fixture
def store(bedrock_client, registry_root):
    return BedrockModelStore(
        bedrock_client,
        registry=lambda family, alias: registry_root / family / f"{alias}.json",
        import_role_arn="arn:aws:iam::123456789012:role/BedrockImportRole",
    )


def test_the_bedrock_store_is_a_model_store(store):
    assert isinstance(store, ModelStore)
    assert store.keeps_metrics is False


def test_clients_are_made_when_first_needed(bedrock_client):
    made = []
    store = BedrockModelStore(lambda: made.append("bedrock") or bedrock_client)

    assert made == []
    assert store.bedrock is bedrock_client
    assert store.bedrock is bedrock_client
    assert made == ["bedrock"]


def test_get_model_of_a_missing_model_is_model_not_found(store, bedrock_stubber):
    not_found(bedrock_stubber, "get_custom_model")

    with pytest.raises(ModelNotFoundError, match="nova-dpo-1"):
        store.get_model("nova-dpo-1")


def test_get_model_names_the_family_from_the_model_name(store, bedrock_stubber):
    bedrock_stubber.add_response(
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

    def test_a_store_without_registry_keeps_no_alias(self, bedrock_client):
        with pytest.raises(RuntimeError, match="no registry"):
            BedrockModelStore(bedrock_client).get_alias("micro")


class TestPrune:
    REQUEST: ClassVar[dict[str, str]] = {
        "nameContains": "nova-dpo-micro-",
        "sortBy": "CreationTime",
        "sortOrder": "Descending",
    }

    @staticmethod
    def summary(day: int, **extra) -> dict:
        return model_summary(f"nova-dpo-micro-2026010{day}", day, **extra)

    def test_keeps_the_newest_the_champion_and_models_being_imported(self, store, bedrock_stubber):
        models = {day: self.summary(day) for day in range(1, 6)}
        models[3] = self.summary(3, modelStatus="Creating")
        store.set_alias("micro", CHAMPION, models[2]["modelArn"])
        bedrock_stubber.add_response(
            "list_custom_models", {"modelSummaries": [models[d] for d in (5, 4, 3, 2, 1)]}, self.REQUEST
        )
        bedrock_stubber.add_response("delete_custom_model", {}, {"modelIdentifier": models[1]["modelArn"]})

        deleted = store.prune("micro", keep=2)

        assert [record.name for record in deleted] == [models[1]["modelName"]]

    def test_does_every_delete_then_names_the_failures(self, store, bedrock_stubber):
        models = [self.summary(day) for day in (3, 2, 1)]
        bedrock_stubber.add_response("list_custom_models", {"modelSummaries": models}, self.REQUEST)
        bedrock_stubber.add_client_error("delete_custom_model", "ValidationException", "Model is in use")
        bedrock_stubber.add_response("delete_custom_model", {}, {"modelIdentifier": models[2]["modelArn"]})

        with pytest.raises(RuntimeError, match=rf"deleted: \['{models[2]['modelName']}'\].*Model is in use"):
            store.prune("micro", keep=1)

    def test_only_the_familys_imported_models(self, store, bedrock_stubber):
        other = {**self.summary(1), "modelName": "nova-dpo-microscope-1"}
        tuned = {**self.summary(2), "customizationType": "FINE_TUNING"}
        bedrock_stubber.add_response("list_custom_models", {"modelSummaries": [tuned, other]}, self.REQUEST)

        assert store.prune("micro", keep=0) == []


class TestLookups:
    def test_get_custom_model(self, store, bedrock_stubber):
        bedrock_stubber.add_response(
            "get_custom_model", custom_model("Active"), {"modelIdentifier": "nova-dpo-1"}
        )

        assert store.describe_model("nova-dpo-1")["modelStatus"] == "Active"

    def test_get_custom_model_is_none_when_missing(self, store, bedrock_stubber):
        not_found(bedrock_stubber, "get_custom_model")

        assert store.describe_model("nova-dpo-1") is None

    def test_get_custom_model_raises_other_errors(self, store, bedrock_stubber):
        bedrock_stubber.add_client_error("get_custom_model", "AccessDeniedException", http_status_code=403)

        with pytest.raises(ClientError, match="AccessDenied"):
            store.describe_model("nova-dpo-1")

    def test_find_deployment_matches_the_exact_name_across_pages(self, store, bedrock_stubber):
        older_arn = DEPLOYMENT_ARN.replace("abcdef123456", "aaaaaaaaaaaa")
        older = deployment_summary("nova-dpo-1-od-old", customModelDeploymentArn=older_arn)
        bedrock_stubber.add_response(
            "list_custom_model_deployments",
            {"modelDeploymentSummaries": [older], "nextToken": "p2"},
            {"nameContains": "nova-dpo-1-od"},
        )
        bedrock_stubber.add_response(
            "list_custom_model_deployments",
            {"modelDeploymentSummaries": [deployment_summary("nova-dpo-1-od")]},
            {"nameContains": "nova-dpo-1-od", "nextToken": "p2"},
        )

        found = store.find_deployment("nova-dpo-1-od")

        assert found["customModelDeploymentArn"] == DEPLOYMENT_ARN

    def test_find_deployment_is_none_without_exact_match(self, store, bedrock_stubber):
        bedrock_stubber.add_response("list_custom_model_deployments", {"modelDeploymentSummaries": []})

        assert store.find_deployment("nova-dpo-1-od") is None

    def test_list_custom_models_newest_first_across_pages(self, store, bedrock_stubber):
        request = {"nameContains": "nova", "sortBy": "CreationTime", "sortOrder": "Descending"}
        bedrock_stubber.add_response(
            "list_custom_models",
            {"modelSummaries": [model_summary("nova-3", 3), model_summary("nova-1", 1)], "nextToken": "p2"},
            request,
        )
        bedrock_stubber.add_response(
            "list_custom_models",
            {"modelSummaries": [model_summary("nova-2", 2)]},
            {**request, "nextToken": "p2"},
        )

        names = [model["modelName"] for model in store.imported_models("nova")]

        assert names == ["nova-3", "nova-2", "nova-1"]
