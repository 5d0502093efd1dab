"""The local model store: imported models, per-family aliases and deployments in a folder, shaped like Bedrock.

Layout under ``{root}/``:

- ``models/{model_id}/record.json``: the :class:`ModelRecord`, in the folder before it is renamed into place,
  so a model folder is always complete;
- ``models/{model_id}/artifact/``: the model's files, copied from where they were imported from;
- ``aliases/{family}/{alias}.json``: ``{"model_id", "updated"}``, one file per alias, replaced atomically;
- ``deployments/{name}.json``: a :class:`Deployment`.

Running a model needs a model runtime, which the store does not own: pass ``runtime``, a callable
``runtime(model_dir: Path, messages: list[{"role", "content"}], **inference) -> str`` taking chat messages in
the Hugging Face form and ``max_new_tokens``, ``temperature``, ``top_p``, ``stop_sequences``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from urllib.request import url2pathname

from nova_dpo.platforms.base import (
    CHAMPION,
    Deployment,
    ModelNotFoundError,
    ModelRecord,
    ModelStatus,
    validate_model_name,
)
from nova_dpo.platforms.local.worker import read_json, write_json_atomic

ChatRuntime = Callable[..., str]

RECORD_FILE = "record.json"
ARTIFACT_DIR = "artifact"

# Converse ``inferenceConfig`` keys and the runtime's names for them.
INFERENCE_KEYS = {
    "maxTokens": "max_new_tokens",
    "temperature": "temperature",
    "topP": "top_p",
    "stopSequences": "stop_sequences",
}
CONVERSE_ROLES = ("user", "assistant")


class LocalModelStore:
    """A :class:`~nova_dpo.platforms.base.ModelStore` in the folder ``root``.

    :param root: the local platform's folder (models go under ``models/``).
    :param runtime: runs a stored model (see the module docstring); without it, ``invoke`` is refused.
    """

    #: A model's record keeps its evaluation metrics, for the next run's gate.
    keeps_metrics = True

    def __init__(self, root: str | os.PathLike[str], *, runtime: ChatRuntime | None = None) -> None:
        self.root = Path(root).absolute()
        self.models_dir = self.root / "models"
        self.aliases_dir = self.root / "aliases"
        self.deployments_dir = self.root / "deployments"
        self.runtime = runtime

    # ----------------------------------------------------------------------------------------------- models

    def import_model(
        self,
        name: str,
        artifact_uri: str | os.PathLike[str],
        family: str,
        base_model: str,
        lineage: Mapping[str, Any] | None = None,
        metrics: Mapping[str, Any] | None = None,
    ) -> ModelRecord:
        """Copy the model at ``artifact_uri`` (a folder, a file or a ``file://`` URI) into the store.

        Importing a name that exists returns the existing record (a retried import is not a second model).

        :raises ValueError: the name exists, imported from elsewhere or into another family or base.
        :raises FileNotFoundError: there is nothing at ``artifact_uri``.
        """
        validate_model_name(name)
        validate_model_name(family, "family")
        source = _local_path(artifact_uri)
        existing = self._find(name)
        if existing is not None:
            return self._same_import(existing, source, family, base_model)
        if not source.exists():
            raise FileNotFoundError(f"Cannot import model {name!r}: there is nothing at {source}.")

        model_id = _model_id(name)
        final = self.models_dir / model_id
        self.models_dir.mkdir(parents=True, exist_ok=True)
        staging = self.models_dir / f".staging-{model_id}-{uuid.uuid4().hex}"
        try:
            # A copy, not a link: a later write into the job's folder must not change an imported model.
            if source.is_dir():
                shutil.copytree(source, staging / ARTIFACT_DIR)
            else:
                (staging / ARTIFACT_DIR).mkdir(parents=True)
                shutil.copy2(source, staging / ARTIFACT_DIR / source.name)
            record = ModelRecord(
                name=name,
                model_id=model_id,
                status=ModelStatus.ACTIVE,
                created=datetime.now(UTC),
                family=family,
                artifact_uri=(final / ARTIFACT_DIR).as_uri(),
                source_uri=source.as_uri(),
                base_model=base_model,
                lineage=dict(lineage or {}),
                metrics=dict(metrics or {}),
            )
            write_json_atomic(staging / RECORD_FILE, record.to_dict())
            staging.rename(final)
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)
            # Another process imported the same name at the same time: that import is this one.
            if (existing := self._find(name)) is not None:
                return self._same_import(existing, source, family, base_model)
            raise
        return record

    def _same_import(self, existing: ModelRecord, source: Path, family: str, base_model: str) -> ModelRecord:
        theirs = (existing.source_uri, existing.family, existing.base_model)
        if theirs != (source.as_uri(), family, base_model):
            raise ValueError(
                f"A model named {existing.name!r} ({existing.model_id}) already exists, imported from "
                f"{existing.source_uri} into family {existing.family!r} with base {existing.base_model!r}. "
                "A model name stands for one model: import under a new name, or delete the old model first."
            )
        return existing

    def get_model(self, name_or_id: str) -> ModelRecord:
        """The model of that name or id.

        :raises ModelNotFoundError: there is none.
        """
        record = self._load(name_or_id) or self._find(name_or_id)
        if record is None:
            raise ModelNotFoundError(
                f"There is no model {name_or_id!r} in the local model store at {self.root}; "
                "list_models() shows what is there."
            )
        return record

    def list_models(self, family: str | None = None) -> list[ModelRecord]:
        """The models (of one family), newest first."""
        if not self.models_dir.is_dir():
            return []
        records = [
            record
            for path in self.models_dir.iterdir()
            if not path.name.startswith(".") and (record := self._load(path.name)) is not None
        ]
        records = [record for record in records if family is None or record.family == family]
        return sorted(records, key=lambda record: (record.created, record.name), reverse=True)

    def delete_model(self, name_or_id: str) -> None:
        """Delete a model and its files.

        :raises ValueError: an alias (e.g. the family's champion) points at it, or it is deployed.
        """
        record = self.get_model(name_or_id)
        aliases = [
            alias for alias, model_id in self.aliases(record.family).items() if model_id == record.model_id
        ]
        if aliases:
            raise ValueError(
                f"Model {record.name!r} ({record.model_id}) is the {', '.join(map(repr, aliases))} of family "
                f"{record.family!r}, so it cannot be deleted: point the alias at another model first (set_alias)."
            )
        deployments = [d.name for d in self.list_deployments() if d.model_id == record.model_id]
        if deployments:
            raise ValueError(
                f"Model {record.name!r} ({record.model_id}) is deployed as {', '.join(deployments)}; "
                "delete those deployments first (delete_deployment)."
            )
        # Renamed away first, so no reader ever sees a half-deleted model.
        trash = self.models_dir / f".deleting-{record.model_id}-{uuid.uuid4().hex}"
        (self.models_dir / record.model_id).rename(trash)
        shutil.rmtree(trash)

    def prune(self, family: str, keep: int) -> list[ModelRecord]:
        """Delete the family's models beyond the newest ``keep``, oldest first; never one that an alias points at
        (the champion) or that is deployed. The deleted records."""
        if keep < 0:
            raise ValueError(f"keep must be 0 or more, not {keep}.")
        protected = set(self.aliases(family).values()) | {d.model_id for d in self.list_deployments()}
        deleted = []
        for record in reversed(self.list_models(family)[keep:]):
            if record.model_id not in protected:
                self.delete_model(record.model_id)
                deleted.append(record)
        return deleted

    def _load(self, model_id: str) -> ModelRecord | None:
        if not model_id or "/" in model_id or os.sep in model_id or model_id.startswith("."):
            return None
        data = read_json(self.models_dir / model_id / RECORD_FILE)
        return ModelRecord.from_dict(data) if data is not None else None

    def _find(self, name: str) -> ModelRecord | None:
        record = self._load(_model_id(name))
        return record if record is not None and record.name == name else None

    # ---------------------------------------------------------------------------------------------- aliases

    def set_alias(self, family: str, alias: str, model_id: str) -> None:
        """Point ``alias`` of ``family`` at a model (by id or name) of that family."""
        validate_model_name(family, "family")
        validate_model_name(alias, "alias")
        record = self.get_model(model_id)
        if record.family != family:
            raise ValueError(
                f"Model {record.name!r} belongs to family {record.family!r}, so it cannot be the {alias!r} of "
                f"family {family!r}."
            )
        path = self.aliases_dir / family / f"{alias}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(path, {"model_id": record.model_id, "updated": datetime.now(UTC).isoformat()})

    def get_alias(self, family: str, alias: str = CHAMPION) -> str | None:
        """The model id ``alias`` of ``family`` points at, or None."""
        validate_model_name(family, "family")
        validate_model_name(alias, "alias")
        data = read_json(self.aliases_dir / family / f"{alias}.json")
        return data["model_id"] if data is not None else None

    def aliases(self, family: str) -> dict[str, str]:
        """The aliases of ``family``: alias -> model id."""
        folder = self.aliases_dir / validate_model_name(family, "family")
        if not folder.is_dir():
            return {}
        return {
            path.stem: data["model_id"]
            for path in sorted(folder.glob("*.json"))
            if (data := read_json(path)) is not None
        }

    # ------------------------------------------------------------------------------------------ deployments

    def deploy(
        self, name_or_id: str, deployment_name: str | None = None, *, description: str | None = None
    ) -> Deployment:
        """Make a model invocable as ``deployment_name`` (default: the model's name). Deploying again under
        the same name returns the existing deployment. A local deployment keeps no ``description``."""
        record = self.get_model(name_or_id)
        if record.status is not ModelStatus.ACTIVE:
            raise ValueError(
                f"Model {record.name!r} is {record.status.value}; only an Active model can be deployed."
            )
        name = validate_model_name(deployment_name or record.name, "deployment name")
        existing = self._deployment(name)
        if existing is not None:
            if existing.model_id != record.model_id:
                raise ValueError(
                    f"Deployment {name!r} already serves model {existing.model_id}; delete it first "
                    f"(delete_deployment) or choose another name for {record.name!r}."
                )
            return existing
        deployment = Deployment(
            name=name,
            deployment_id=name,
            model_id=record.model_id,
            status=ModelStatus.ACTIVE,
            created=datetime.now(UTC),
        )
        self.deployments_dir.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.deployments_dir / f"{name}.json", deployment.to_dict())
        return deployment

    def get_deployment(self, name: str) -> Deployment:
        """The deployment of that name.

        :raises ModelNotFoundError: there is none.
        """
        deployment = self._deployment(name)
        if deployment is None:
            raise ModelNotFoundError(
                f"There is no deployment {name!r} in the local model store at {self.root}."
            )
        return deployment

    def list_deployments(self) -> list[Deployment]:
        if not self.deployments_dir.is_dir():
            return []
        return [
            Deployment.from_dict(data)
            for path in sorted(self.deployments_dir.glob("*.json"))
            if (data := read_json(path)) is not None
        ]

    def delete_deployment(self, name: str) -> bool:
        """Delete a deployment; False (and nothing done) when there is none."""
        path = self.deployments_dir / f"{validate_model_name(name, 'deployment name')}.json"
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        return True

    def _deployment(self, name: str) -> Deployment | None:
        if not name or "/" in name or os.sep in name or name.startswith("."):
            return None
        data = read_json(self.deployments_dir / f"{name}.json")
        return Deployment.from_dict(data) if data is not None else None

    # -------------------------------------------------------------------------------------------------- chat

    def invoke(
        self,
        target: str,
        messages: list[dict[str, Any]],
        *,
        system: list[dict[str, Any]] | None = None,
        inference_config: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Chat with a deployment (or a model, by name or id), in Bedrock Converse's shapes.

        :param target: a deployment name, or a model's name or id.
        :param messages: ``[{"role": "user", "content": [{"text": ...}]}, ...]``.
        :param system: ``[{"text": ...}, ...]``.
        :param inference_config: Converse's ``maxTokens``, ``temperature``, ``topP``, ``stopSequences``.
        :returns: ``{"output": {"message": {"role": "assistant", "content": [{"text": ...}]}},
            "stopReason": "end_turn", "metrics": {"latencyMs": ...}}``.
        """
        if self.runtime is None:
            raise RuntimeError(
                "This LocalModelStore has no model runtime, so it cannot run models: create it with "
                "LocalModelStore(root, runtime=...) to deploy and invoke."
            )
        deployment = self._deployment(target)
        record = self.get_model(deployment.model_id if deployment is not None else target)
        chat = converse_to_chat(messages, system)
        inference = converse_inference(inference_config)
        started = time.monotonic()
        text = self.runtime(_local_path(record.artifact_uri), chat, **inference)
        return {
            "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
            # The runtime returns text only, so it cannot say whether it stopped at the token limit.
            "stopReason": "end_turn",
            "metrics": {"latencyMs": round((time.monotonic() - started) * 1000)},
        }


def converse_to_chat(
    messages: list[dict[str, Any]], system: list[dict[str, Any]] | None = None
) -> list[dict[str, str]]:
    """Converse messages (and system blocks) as Hugging Face chat messages; text blocks only."""
    if not messages:
        raise ValueError("A conversation needs at least one message.")
    chat = []
    if system:
        chat.append({"role": "system", "content": "\n".join(_block_text(block) for block in system)})
    for message in messages:
        role = message.get("role")
        if role not in CONVERSE_ROLES:
            raise ValueError(f"A Converse message's role is 'user' or 'assistant', not {role!r}.")
        # A message's text blocks are joined as the runtime joins them when it is given blocks itself.
        text = "".join(_block_text(block) for block in message.get("content", []))
        chat.append({"role": role, "content": text})
    return chat


def converse_inference(config: Mapping[str, Any] | None) -> dict[str, Any]:
    """Converse ``inferenceConfig`` as the runtime's keyword arguments."""
    unknown = sorted(set(config or {}) - set(INFERENCE_KEYS))
    if unknown:
        raise ValueError(
            f"Unknown inferenceConfig keys {unknown}; the local runtime takes {sorted(INFERENCE_KEYS)}."
        )
    return {INFERENCE_KEYS[key]: value for key, value in (config or {}).items()}


def _block_text(block: Mapping[str, Any]) -> str:
    if "text" not in block:
        raise ValueError(f"Local models read text only; got a content block with {sorted(block)}.")
    return block["text"]


def _model_id(name: str) -> str:
    # Derived from the name, so concurrent imports of one name meet at one folder.
    return "lm-" + hashlib.sha256(name.encode()).hexdigest()[:16]


def _local_path(location: str | os.PathLike[str]) -> Path:
    text = os.fspath(location)
    if text.startswith("file://"):
        return Path(url2pathname(urlparse(text).path))
    if "://" in text:
        raise ValueError(f"The local model store reads local folders and file:// URIs, not {text!r}.")
    return Path(text).expanduser().absolute()
