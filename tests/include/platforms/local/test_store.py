"""The local model store: imports, aliases, pruning, deployments and Converse-shaped chat."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nova_dpo.platforms.base import (
    CHAMPION,
    Deployment,
    ModelNotFoundError,
    ModelRecord,
    ModelStatus,
    ModelStore,
)
from nova_dpo.platforms.local.store import LocalModelStore

FAMILY = "when2call"
LINEAGE = {"dataset_version": "2026-01-01", "recipe_sha": "0123abcd", "job_name": "train-r1"}


@pytest.fixture
def artifact(tmp_path: Path) -> Path:
    """A model folder as a training job leaves it."""
    folder = tmp_path / "jobs" / "train-r1" / "output" / "merged"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text('{"model_type": "llama"}')
    (folder / "model.safetensors").write_bytes(b"\0" * 128)
    return folder


@pytest.fixture
def store(tmp_path: Path) -> LocalModelStore:
    return LocalModelStore(tmp_path / "platform")


def import_models(store: LocalModelStore, artifact: Path, names: list[str], family: str = FAMILY) -> list:
    return [store.import_model(name, artifact, family, "smollm2-135m-instruct") for name in names]


def test_import_copies_the_model_and_records_it(store, artifact):
    record = store.import_model(
        "dpo-r1", artifact.as_uri(), FAMILY, "smollm2-135m-instruct", LINEAGE, {"f1_score": 0.41}
    )

    assert record.name == "dpo-r1"
    assert record.status is ModelStatus.ACTIVE
    assert record.family == FAMILY
    assert record.lineage == LINEAGE
    assert record.metrics == {"f1_score": 0.41}
    assert record.source_uri == artifact.as_uri()
    stored = store.root / "models" / record.model_id
    assert record.artifact_uri == (stored / "artifact").as_uri()
    assert (stored / "artifact" / "config.json").read_text() == '{"model_type": "llama"}'
    assert not (stored / "artifact" / "model.safetensors").samefile(artifact / "model.safetensors")
    assert store.get_model("dpo-r1") == record
    assert store.get_model(record.model_id) == record
    assert store.list_models() == [record]
    assert ModelRecord.from_dict(json.loads((stored / "record.json").read_text())) == record


def test_import_is_idempotent_by_name(store, artifact):
    first = store.import_model("dpo-r1", artifact, FAMILY, "smollm2-135m-instruct", LINEAGE)

    again = store.import_model("dpo-r1", artifact.as_uri(), FAMILY, "smollm2-135m-instruct", LINEAGE)

    assert again == first
    assert len(store.list_models()) == 1
    with pytest.raises(ValueError, match="already exists"):
        store.import_model("dpo-r1", artifact.parent, FAMILY, "smollm2-135m-instruct")
    with pytest.raises(ValueError, match="already exists"):
        store.import_model("dpo-r1", artifact, "other-family", "smollm2-135m-instruct")


def test_import_refuses_what_it_cannot_read(store, tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing at"):
        store.import_model("m", tmp_path / "missing", FAMILY, "base")
    with pytest.raises(ValueError, match="file:// URIs"):
        store.import_model("m", "s3://bucket/checkpoint", FAMILY, "base")
    with pytest.raises(ValueError, match="model name"):
        store.import_model("bad name", tmp_path, FAMILY, "base")
    assert store.list_models() == []


def test_unknown_models_are_reported_as_such(store):
    with pytest.raises(ModelNotFoundError, match="list_models"):
        store.get_model("nobody")
    with pytest.raises(ModelNotFoundError):
        store.get_model("../etc")


def test_champion_alias_points_at_a_model_of_its_family(store, artifact):
    one, two = import_models(store, artifact, ["m1", "m2"])
    (stranger,) = import_models(store, artifact, ["other"], family="elsewhere")

    assert store.get_alias(FAMILY) is None
    store.set_alias(FAMILY, CHAMPION, one.model_id)
    assert store.get_alias(FAMILY, CHAMPION) == one.model_id
    store.set_alias(FAMILY, CHAMPION, "m2")  # by name too
    assert store.get_alias(FAMILY) == two.model_id
    assert store.aliases(FAMILY) == {CHAMPION: two.model_id}
    with pytest.raises(ValueError, match="belongs to family 'elsewhere'"):
        store.set_alias(FAMILY, CHAMPION, stranger.model_id)
    with pytest.raises(ModelNotFoundError):
        store.set_alias(FAMILY, CHAMPION, "nobody")


def test_the_champion_cannot_be_deleted(store, artifact):
    champion, other = import_models(store, artifact, ["m1", "m2"])
    store.set_alias(FAMILY, CHAMPION, champion.model_id)

    with pytest.raises(ValueError, match="'champion' of family 'when2call'"):
        store.delete_model("m1")

    store.set_alias(FAMILY, CHAMPION, other.model_id)
    store.delete_model("m1")
    with pytest.raises(ModelNotFoundError):
        store.get_model("m1")
    assert not (store.root / "models" / champion.model_id).exists()
    assert store.list_models() == [other]


def test_prune_deletes_the_oldest_beyond_keep_but_never_the_champion(store, artifact):
    models = import_models(store, artifact, ["m0", "m1", "m2", "m3", "m4"])
    (unrelated,) = import_models(store, artifact, ["other"], family="elsewhere")
    store.set_alias(FAMILY, CHAMPION, models[0].model_id)

    deleted = store.prune(FAMILY, keep=2)

    assert [record.name for record in deleted] == ["m1", "m2"]
    assert [record.name for record in store.list_models(FAMILY)] == ["m4", "m3", "m0"]
    assert store.get_model("other") == unrelated
    assert store.prune(FAMILY, keep=2) == []
    with pytest.raises(ValueError, match="keep"):
        store.prune(FAMILY, keep=-1)


def test_invoke_goes_through_the_runtime_in_converse_shape(tmp_path, artifact):
    calls = []

    def chat(model_dir, messages, **inference):
        calls.append((model_dir, messages, inference))
        return "<tool_call>get_weather</tool_call>"

    store = LocalModelStore(tmp_path / "platform", runtime=chat)
    record = store.import_model("dpo-r1", artifact, FAMILY, "smollm2-135m-instruct")
    deployment = store.deploy("dpo-r1", "dpo-r1-smoke")

    response = store.invoke(
        deployment.name,
        [{"role": "user", "content": [{"text": "Weather in Paris?"}]}],
        system=[{"text": "You may call tools."}],
        inference_config={"maxTokens": 16, "temperature": 0.0},
    )

    assert response["output"] == {
        "message": {"role": "assistant", "content": [{"text": "<tool_call>get_weather</tool_call>"}]}
    }
    assert response["stopReason"] == "end_turn"
    assert response["metrics"]["latencyMs"] >= 0
    model_dir, messages, inference = calls[0]
    assert model_dir == store.root / "models" / record.model_id / "artifact"
    assert (model_dir / "config.json").exists()
    assert messages == [
        {"role": "system", "content": "You may call tools."},
        {"role": "user", "content": "Weather in Paris?"},
    ]
    assert inference == {"max_new_tokens": 16, "temperature": 0.0}
    # A model can be chatted with by its name as well.
    assert store.invoke("dpo-r1", [{"role": "user", "content": [{"text": "hi"}]}])["output"]
    assert calls[1][1] == [{"role": "user", "content": "hi"}]


def test_invoke_refuses_what_a_local_model_cannot_do(tmp_path, artifact):
    store = LocalModelStore(tmp_path / "platform", runtime=lambda model_dir, messages, **inference: "ok")
    store.import_model("m", artifact, FAMILY, "base")

    with pytest.raises(ValueError, match="text only"):
        store.invoke("m", [{"role": "user", "content": [{"image": {"format": "png"}}]}])
    with pytest.raises(ValueError, match="topK"):
        store.invoke("m", [{"role": "user", "content": [{"text": "hi"}]}], inference_config={"topK": 5})
    with pytest.raises(ValueError, match="role"):
        store.invoke("m", [{"role": "system", "content": [{"text": "hi"}]}])
    with pytest.raises(ModelNotFoundError):
        store.invoke("nobody", [{"role": "user", "content": [{"text": "hi"}]}])


def test_invoke_without_a_runtime_says_how_to_get_one(store, artifact):
    store.import_model("m", artifact, FAMILY, "base")

    with pytest.raises(RuntimeError, match=r"runtime=\.\.\."):
        store.invoke("m", [{"role": "user", "content": [{"text": "hi"}]}])


def test_deployments_are_idempotent_and_block_deleting_their_model(store, artifact):
    _, two = import_models(store, artifact, ["m1", "m2"])

    deployment = store.deploy("m1", "serving")

    assert store.deploy("m1", "serving") == deployment
    assert store.get_deployment("serving") == deployment
    assert store.list_deployments() == [deployment]
    assert Deployment.from_dict(json.loads(json.dumps(deployment.to_dict()))) == deployment
    with pytest.raises(ValueError, match="already serves"):
        store.deploy("m2", "serving")
    with pytest.raises(ValueError, match="delete those deployments first"):
        store.delete_model("m1")
    assert store.prune(FAMILY, keep=0) == [two]  # the deployed model is kept

    store.delete_deployment("serving")
    store.delete_deployment("serving")  # teardown may run twice
    store.delete_model("m1")
    assert store.list_models() == []
    with pytest.raises(ModelNotFoundError):
        store.get_deployment("serving")


def test_the_local_store_is_a_model_store(store):
    assert isinstance(store, ModelStore)
