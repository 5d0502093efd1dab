"""The model store on Amazon Bedrock: imported custom models, their deployments, and ``Converse``.

A :class:`~nova_dpo.platforms.base.ModelStore` over a boto3 ``bedrock`` client (Airflow:
``BedrockCustomModelHook().conn``) and, to chat, a ``bedrock-runtime`` one:

- ``import_model``: ``CreateCustomModel`` from a training job's checkpoint (the escrow S3 URI in its
  ``manifest.json``), tagged with a digest of that URI and the model's lineage;
- ``deploy``: an on-demand deployment (``CreateCustomModelDeployment``, LoRA models) or provisioned throughput
  of one model unit without commitment (full-rank models);
- ``invoke``: one ``Converse`` call; ``prune``/``delete_*``: the deletes;
- aliases (the champion): a JSON record per alias in the run registry (``{root}/registry/{family}/``), read and
  written through ``registry(family, alias)``, since Bedrock has no aliases of its own.

Every create is idempotent across task retries: the store first looks for the resource by its name and attaches
to it, and the create call carries a client request token derived from the request, so a retry after a lost
response cannot create a second model or deployment. Bedrock works asynchronously: a record returned while the
resource is still ``Creating`` is waited for by the caller (the Airflow operators wait in the worker or defer to
a trigger); a resource that failed raises :class:`~nova_dpo.platforms.base.ModelStoreFailure`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from nova_dpo.platforms.base import (
    CHAMPION,
    Deployment,
    ModelNotFoundError,
    ModelRecord,
    ModelStatus,
    ModelStoreFailure,
    validate_model_name,
)

# Bedrock's pattern for idempotency tokens (botocore service model, "bedrock").
_CLIENT_REQUEST_TOKEN = re.compile(r"[a-zA-Z0-9]([-a-zA-Z0-9]{0,254}[a-zA-Z0-9])?")

#: Tag recording which checkpoint a model was imported from, so a retry never adopts a namesake.
SOURCE_TAG_KEY = "nova-dpo:source-sha256"
#: Tags naming what an imported model was trained from, and the lineage keys they come from.
DATASET_TAG_KEY = "nova-dpo:dataset-sha256"
RECIPE_TAG_KEY = "nova-dpo:recipe-sha256"
TRAINING_JOB_TAG_KEY = "nova-dpo:training-job"
LINEAGE_TAGS = {
    "dataset_sha256": DATASET_TAG_KEY,
    "recipe_sha256": RECIPE_TAG_KEY,
    "training_job": TRAINING_JOB_TAG_KEY,
}
#: How a deployment serves: LoRA models on demand, full-rank ones on provisioned throughput.
ON_DEMAND = "on_demand"
PROVISIONED = "provisioned"
# Provisioned throughput's statuses, as the store's.
_THROUGHPUT_STATUS = {
    "Creating": ModelStatus.CREATING,
    "Updating": ModelStatus.CREATING,
    "InService": ModelStatus.ACTIVE,
    "Failed": ModelStatus.FAILED,
}

Tags = Mapping[str, str] | Sequence[Mapping[str, str]] | None


def client_request_token(kind: str, *parts: str) -> str:
    """A Bedrock ``clientRequestToken`` that is the same for the same request, so a retried create is a no-op."""
    digest = hashlib.sha256("\n".join(parts).encode()).hexdigest()
    return f"{kind}-{digest}"


def validate_token(token: str) -> None:
    if not _CLIENT_REQUEST_TOKEN.fullmatch(token):
        raise ValueError(
            f"client_request_token={token!r} is not valid: use 1-256 letters, digits and inner hyphens."
        )


def tag_list(tags: Tags) -> list[dict[str, str]]:
    """Tags as Bedrock takes them (``[{"key": ..., "value": ...}]``), from that form or a plain mapping."""
    if tags is None:
        return []
    if isinstance(tags, Mapping):
        return [{"key": str(key), "value": str(value)} for key, value in tags.items()]
    return [dict(tag) for tag in tags]


def is_not_found(error: ClientError) -> bool:
    """Whether a Bedrock call failed because the resource it names does not exist."""
    return error.response.get("Error", {}).get("Code") == "ResourceNotFoundException"


def _error_code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "")


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def failure_detail(description: Mapping[str, Any] | None) -> str:
    return (description or {}).get("failureMessage") or "Bedrock gave no failure message"


def _client(client_or_factory: Any) -> Any:
    """A boto3 client, given one or a callable that makes one (called once, when first needed)."""
    return client_or_factory if hasattr(client_or_factory, "meta") else client_or_factory()


class BedrockModelStore:
    """A :class:`~nova_dpo.platforms.base.ModelStore` on Amazon Bedrock.

    :param bedrock: a boto3 ``bedrock`` client, or a callable returning one when first needed.
    :param runtime: a boto3 ``bedrock-runtime`` client (or such a callable), for ``invoke``.
    :param registry: ``registry(family, alias)`` is the path-like object (``read_text``, ``write_text``,
        ``exists``) of the alias's JSON record; without it, aliases are refused.
    :param import_role_arn: the IAM role Bedrock assumes to read a checkpoint (needed to import).
    :param model_kms_key_arn: the KMS key imported models are encrypted with (default: AWS's).
    :param serving: how ``deploy`` serves a model: ``on_demand`` (LoRA models) or ``provisioned`` throughput
        of one model unit without commitment (full-rank models).
    :param name_prefix: imported models of family ``f`` are named ``{name_prefix}-{f}-...``; ``prune`` deletes
        only those.
    :param log: where the store says what it does (default: this module's logger).
    """

    #: Bedrock keeps no evaluation metrics with a model: the run's records do.
    keeps_metrics = False

    def __init__(
        self,
        bedrock: Any,
        runtime: Any = None,
        *,
        registry: Callable[[str, str], Any] | None = None,
        import_role_arn: str | None = None,
        model_kms_key_arn: str | None = None,
        serving: str = ON_DEMAND,
        name_prefix: str = "nova-dpo",
        log: logging.Logger | logging.LoggerAdapter | None = None,
    ) -> None:
        self._bedrock = bedrock
        self._runtime = runtime
        self.registry = registry
        self.import_role_arn = import_role_arn
        self.model_kms_key_arn = model_kms_key_arn
        if serving not in (ON_DEMAND, PROVISIONED):
            raise ValueError(f"serving must be {ON_DEMAND!r} or {PROVISIONED!r}, got {serving!r}.")
        self.serving = serving
        self.name_prefix = name_prefix
        self.log = log or logging.getLogger(__name__)

    @property
    def bedrock(self) -> Any:
        self._bedrock = _client(self._bedrock)
        return self._bedrock

    @property
    def runtime(self) -> Any:
        if self._runtime is None:
            raise RuntimeError("This BedrockModelStore has no bedrock-runtime client, so it cannot invoke.")
        self._runtime = _client(self._runtime)
        return self._runtime

    # ----------------------------------------------------------------------------------------------- models

    def import_model(
        self,
        name: str,
        artifact_uri: str,
        family: str,
        base_model: str,
        lineage: Mapping[str, Any] | None = None,
        metrics: Mapping[str, Any] | None = None,
        *,
        tags: Tags = None,
        client_request_token: str | None = None,
    ) -> ModelRecord:
        """``CreateCustomModel`` from the checkpoint at ``artifact_uri``, or the model of that name imported from
        it before (Creating, or Active).

        The model is tagged with a digest of ``artifact_uri``, the lineage's dataset and recipe digests and
        training job, and ``tags``. ``metrics`` stay with the run's records: Bedrock keeps none.

        :raises ModelStoreFailure: the model failed, or a namesake was imported from another checkpoint.
        """
        validate_model_name(name, "model_name")
        if not isinstance(artifact_uri, str) or not artifact_uri.startswith("s3://"):
            raise ValueError(f"model_source_uri must be an s3:// URI, got {artifact_uri!r}.")
        if not self.import_role_arn:
            raise ValueError("role_arn is required: the IAM role Bedrock assumes to read the checkpoint.")
        if client_request_token is not None:
            validate_token(client_request_token)
        model = self.describe_model(name)
        if model is None:
            all_tags = {
                tag["key"]: tag["value"]
                for tag in tag_list(
                    {LINEAGE_TAGS[key]: v for key, v in (lineage or {}).items() if key in LINEAGE_TAGS}
                )
                + tag_list(tags)
            }
            model = self._create_model(name, artifact_uri, all_tags, client_request_token)
        else:
            self.log.info(
                "Custom model %s already exists (%s): attaching to it.",
                model["modelArn"],
                model["modelStatus"],
            )
            self._check_source(name, model["modelArn"], artifact_uri)
        if model["modelStatus"] == "Failed":
            raise self.import_failed(model)
        return self._model_record(model, family, artifact_uri, base_model, lineage)

    def import_failed(self, model: Mapping[str, Any]) -> ModelStoreFailure:
        """The error of an import that failed, from the model's description."""
        return ModelStoreFailure(
            f"Bedrock could not import custom model {model.get('modelArn', model.get('modelName'))}: "
            f"{failure_detail(model)}. A failed model keeps its name: delete it (DeleteCustomModel) or choose "
            "another model_name before running this task again."
        )

    def import_failure(self, model_arn: str) -> ModelStoreFailure | None:
        """The error of the import of ``model_arn`` when it failed, else None."""
        model = self.describe_model(model_arn)
        if model is not None and model.get("modelStatus") == "Failed":
            return self.import_failed(model)
        return None

    def get_model(self, name_or_id: str) -> ModelRecord:
        model = self.describe_model(name_or_id)
        if model is None:
            raise ModelNotFoundError(f"There is no Bedrock custom model {name_or_id!r}.")
        return self._model_record(model)

    def list_models(self, family: str | None = None) -> list[ModelRecord]:
        """The imported models (of one family, by name prefix), newest first."""
        prefix = self._family_prefix(family) if family else self.name_prefix
        return [self._model_record(summary, family) for summary in self.imported_models(prefix)]

    def delete_model(self, name_or_id: str) -> None:
        self.bedrock.delete_custom_model(modelIdentifier=name_or_id)

    def prune(self, family: str, keep: int, protect: Sequence[str] = ()) -> list[ModelRecord]:
        """Delete the family's imported models beyond the newest ``keep``; never the family's champion, one in
        ``protect`` (names or ARNs), or one still being imported. The records deleted.
        """
        protected = set(protect)
        champion = self.alias_record(family, CHAMPION) if self.registry else None
        protected |= {champion[key] for key in ("model_name", "model_id") if champion and champion.get(key)}
        deleted = self.prune_named(self._family_prefix(family), keep, protected)
        return [self._model_record(model, family) for model in deleted]

    def prune_named(
        self, prefix: str, keep: int | str, protect: Sequence[str] | str = ()
    ) -> list[dict[str, Any]]:
        """Delete the imported models named ``prefix...`` beyond the newest ``keep``, except those in ``protect``
        (names or ARNs) and those still being imported; the summaries of the deleted ones, newest first.

        Every model is tried; the failures are raised together afterwards (RuntimeError).
        """
        count = int(keep)
        if count < 0:
            raise ValueError(f"keep must be 0 or more, got {keep!r}.")
        protected = {protect} if isinstance(protect, str) else set(protect or ())
        deleted: list[dict[str, Any]] = []
        failures: list[str] = []
        for model in self.imported_models(prefix)[count:]:
            name, arn = model["modelName"], model["modelArn"]
            if name in protected or arn in protected:
                self.log.info("Keeping protected model %s.", name)
                continue
            if model.get("modelStatus") == "Creating":
                self.log.info("Keeping model %s: it is still being imported.", name)
                continue
            try:
                self.delete_model(arn)
            except ClientError as error:
                if not is_not_found(error):
                    failures.append(f"{name}: {error}")
                continue
            self.log.info("Deleted model %s (%s).", name, arn)
            deleted.append(model)
        if failures:
            names = [model["modelName"] for model in deleted]
            raise RuntimeError(
                f"Could not delete {len(failures)} model(s) (deleted: {names}): " + "; ".join(failures)
            )
        return deleted

    def _family_prefix(self, family: str) -> str:
        return f"{self.name_prefix}-{family}-"

    def imported_models(self, prefix: str) -> list[dict[str, Any]]:
        """Summaries of the imported models named ``prefix...``, newest first."""
        if not isinstance(prefix, str) or not prefix:
            raise ValueError("name_prefix is required: an empty prefix would match every custom model.")
        paginator = self.bedrock.get_paginator("list_custom_models")
        summaries = [
            summary
            for page in paginator.paginate(nameContains=prefix, sortBy="CreationTime", sortOrder="Descending")
            for summary in page.get("modelSummaries", [])
            if summary["modelName"].startswith(prefix)
            and summary.get("customizationType", "IMPORTED") == "IMPORTED"
        ]
        # The service sorts each page; sorting again keeps the order right across pages too.
        return sorted(summaries, key=lambda summary: summary["creationTime"], reverse=True)

    def describe_model(self, name_or_arn: str) -> dict[str, Any] | None:
        """``GetCustomModel`` of a model by name or ARN; None when there is no such model."""
        try:
            return self.bedrock.get_custom_model(modelIdentifier=name_or_arn)
        except ClientError as error:
            if is_not_found(error):
                return None
            raise

    def _create_model(
        self, name: str, source_uri: str, tags: Mapping[str, str], token: str | None
    ) -> dict[str, Any]:
        """Create the model; the model as far as known (ARN, name, status) is returned."""
        request: dict[str, Any] = {
            "modelName": name,
            "modelSourceConfig": {"s3DataSource": {"s3Uri": source_uri}},
            "roleArn": self.import_role_arn,
            "modelTags": [*tag_list(tags), {"key": SOURCE_TAG_KEY, "value": _sha256(source_uri)}],
            "clientRequestToken": token or client_request_token("import", name, source_uri),
        }
        if self.model_kms_key_arn:
            request["modelKmsKeyArn"] = self.model_kms_key_arn
        self.log.info("Importing %s as custom model %s.", source_uri, name)
        try:
            model_arn = self.bedrock.create_custom_model(**request)["modelArn"]
        except ClientError as error:
            # Another attempt created it between our lookup and this call.
            if _error_code(error) != "ConflictException":
                raise
            model = self.describe_model(name)
            if model is None:
                raise
            self._check_source(name, model["modelArn"], source_uri)
            return model
        return {"modelArn": model_arn, "modelName": name, "modelStatus": "Creating"}

    def _check_source(self, name: str, model_arn: str, source_uri: str) -> None:
        try:
            tags = self.bedrock.list_tags_for_resource(resourceARN=model_arn).get("tags", [])
        except ClientError as error:
            if _error_code(error) != "AccessDeniedException":
                raise
            self.log.warning("Cannot read the tags of %s (%s); not checking its source.", model_arn, error)
            return
        recorded = next((tag["value"] for tag in tags if tag["key"] == SOURCE_TAG_KEY), None)
        if recorded is None:
            self.log.warning(
                "Custom model %s has no %s tag; cannot confirm its source.", model_arn, SOURCE_TAG_KEY
            )
        elif recorded != _sha256(source_uri):
            raise ModelStoreFailure(
                f"A custom model named {name!r} ({model_arn}) already exists but was imported from "
                f"another checkpoint than {source_uri}. Choose another model_name, or delete that "
                "model if it is no longer needed."
            )

    def _model_record(
        self,
        model: Mapping[str, Any],
        family: str | None = None,
        source_uri: str | None = None,
        base_model: str | None = None,
        lineage: Mapping[str, Any] | None = None,
    ) -> ModelRecord:
        name = model["modelName"]
        family = family or name.removeprefix(f"{self.name_prefix}-").partition("-")[0]
        # GetCustomModel does not say where an imported model came from: only the import that made it knows.
        source = source_uri or ""
        return ModelRecord(
            name=name,
            model_id=model["modelArn"],
            status=ModelStatus(model.get("modelStatus") or "Active"),
            created=model.get("creationTime") or datetime.now(UTC),
            family=family,
            # Bedrock keeps the model's files itself; evaluations read the checkpoint it was imported from.
            artifact_uri=source,
            source_uri=source,
            base_model=base_model or model.get("baseModelArn") or model.get("baseModelName") or "",
            lineage=dict(lineage or {}),
            failure_reason=model.get("failureMessage"),
        )

    # ---------------------------------------------------------------------------------------------- aliases

    def alias_record(self, family: str, alias: str = CHAMPION) -> dict[str, Any] | None:
        """The JSON record of ``alias`` of ``family`` in the registry, or None."""
        if self.registry is None:
            raise RuntimeError("This BedrockModelStore has no registry, so it keeps no aliases.")
        path = self.registry(validate_model_name(family, "family"), validate_model_name(alias, "alias"))
        return json.loads(path.read_text()) if path.exists() else None

    def get_alias(self, family: str, alias: str = CHAMPION) -> str | None:
        record = self.alias_record(family, alias)
        return record.get("model_id") if record else None

    def set_alias(self, family: str, alias: str, model_id: str) -> None:
        """Point ``alias`` of ``family`` at ``model_id``; what the record says of that model already (the
        run's ledger entry) is kept."""
        existing = self.alias_record(family, alias) or {}
        entry = {
            **(existing if existing.get("model_id") == model_id else {}),
            "model_id": model_id,
            "updated": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        path = self.registry(family, alias)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(entry, indent=2, sort_keys=True))

    # ------------------------------------------------------------------------------------------ deployments

    def deploy(
        self,
        name_or_id: str,
        deployment_name: str | None = None,
        *,
        description: str | None = None,
        tags: Tags = None,
        client_request_token: str | None = None,
    ) -> Deployment:
        """Deploy the model ``name_or_id`` (an ARN) as ``deployment_name``, or attach to the deployment of that
        name serving it, the store's way (``serving``).

        :raises ModelStoreFailure: the deployment of that name serves another model, or failed.
        """
        name = validate_model_name(deployment_name or "", "deployment_name")
        if not isinstance(name_or_id, str) or not name_or_id.startswith("arn:"):
            raise ValueError(f"model_arn must be a custom model ARN, got {name_or_id!r}.")
        if client_request_token is not None:
            validate_token(client_request_token)
        if self.serving == PROVISIONED:
            return self._provision(name, name_or_id)
        existing = self.find_deployment(name)
        if existing is None:
            arn = self._create_deployment(name, name_or_id, description, tags, client_request_token)
            return self._deployment(name, arn, name_or_id, "Creating", ON_DEMAND)
        arn, status = existing["customModelDeploymentArn"], existing["status"]
        self.log.info("Deployment %s already exists (%s): attaching to it.", arn, status)
        if existing["modelArn"] != name_or_id:
            raise ModelStoreFailure(
                f"Deployment {name!r} already serves {existing['modelArn']}, not "
                f"{name_or_id}. Delete it or choose another deployment_name."
            )
        if status == "Failed":
            raise self.deployment_failed(existing, name_or_id)
        return self._deployment(name, arn, name_or_id, status, ON_DEMAND)

    def deployment_failed(self, deployment: Mapping[str, Any], model_arn: str) -> ModelStoreFailure:
        arn = deployment.get("customModelDeploymentArn", deployment.get("customModelDeploymentName"))
        return ModelStoreFailure(
            f"Bedrock could not deploy {model_arn} as {arn}: {failure_detail(deployment)}. "
            "Delete the failed deployment or choose another deployment_name before running this task again."
        )

    def deployment_failure(self, deployment_arn: str, model_arn: str) -> ModelStoreFailure | None:
        """The error of the on-demand deployment ``deployment_arn`` when it failed, else None."""
        try:
            deployment = self.bedrock.get_custom_model_deployment(
                customModelDeploymentIdentifier=deployment_arn
            )
        except ClientError as error:
            if is_not_found(error):
                return None
            raise
        if deployment.get("status") == "Failed":
            return self.deployment_failed(deployment, model_arn)
        return None

    def find_deployment(self, name: str) -> dict[str, Any] | None:
        """The summary of the on-demand deployment named exactly ``name``, or ``None``."""
        paginator = self.bedrock.get_paginator("list_custom_model_deployments")
        for page in paginator.paginate(nameContains=name):
            for summary in page.get("modelDeploymentSummaries", []):
                if summary["customModelDeploymentName"] == name:
                    return summary
        return None

    def _create_deployment(
        self, name: str, model_arn: str, description: str | None, tags: Tags, token: str | None
    ) -> str:
        request: dict[str, Any] = {
            "modelDeploymentName": name,
            "modelArn": model_arn,
            "clientRequestToken": token or client_request_token("deploy", name, model_arn),
        }
        if description:
            request["description"] = description
        if tags:
            request["tags"] = tag_list(tags)
        self.log.info("Deploying %s on demand as %s.", model_arn, name)
        return self.bedrock.create_custom_model_deployment(**request)["customModelDeploymentArn"]

    def _provision(self, name: str, model_arn: str) -> Deployment:
        """Provision throughput of one model unit, or attach to the one of that name a previous try created."""
        try:
            existing = self.bedrock.get_provisioned_model_throughput(provisionedModelId=name)
        except ClientError as error:
            if not is_not_found(error):
                raise
            self.log.info("Provisioning throughput %s for %s.", name, model_arn)
            arn = self.bedrock.create_provisioned_model_throughput(
                modelUnits=1,
                provisionedModelName=name,
                modelId=model_arn,
                # No commitmentDuration: hourly, no term, so teardown can delete it after the smoke test.
                clientRequestToken=client_request_token("provision", name, model_arn),
            )["provisionedModelArn"]
            return self._deployment(name, arn, model_arn, "Creating", PROVISIONED)
        arn, status = existing["provisionedModelArn"], existing["status"]
        self.log.info("Provisioned throughput %s already exists (%s): attaching to it.", arn, status)
        if model_arn not in (existing.get("modelArn"), existing.get("desiredModelArn")):
            raise ModelStoreFailure(
                f"Provisioned throughput {name!r} already serves {existing.get('modelArn')}, not "
                f"{model_arn}. Delete it (DeleteProvisionedModelThroughput) and run this task again."
            )
        if status == "Failed":
            raise ModelStoreFailure(
                f"Provisioned throughput {arn} failed: {existing.get('failureMessage') or 'no reason given'}. "
                "Delete it (DeleteProvisionedModelThroughput) and run this task again."
            )
        return self._deployment(name, arn, model_arn, status, PROVISIONED)

    @staticmethod
    def _deployment(name: str, arn: str, model_arn: str, status: str, serving: str) -> Deployment:
        return Deployment(
            name=name,
            deployment_id=arn,
            model_id=model_arn,
            status=_THROUGHPUT_STATUS[status] if serving == PROVISIONED else ModelStatus(status),
            created=datetime.now(UTC),
            serving=serving,
        )

    def delete_deployment(self, name: str) -> bool:
        """Start deleting the deployment (name or ARN), served the store's way; False when there is none.

        It is not waited for: deletion stops the billing at once.
        """
        if self.serving == PROVISIONED:
            call, argument, resource = (
                self.bedrock.delete_provisioned_model_throughput,
                "provisionedModelId",
                "provisioned throughput",
            )
        else:
            call, argument, resource = (
                self.bedrock.delete_custom_model_deployment,
                "customModelDeploymentIdentifier",
                "deployment",
            )
        try:
            call(**{argument: name})
        except ClientError as error:
            if is_not_found(error):
                self.log.info("%s %s does not exist: nothing to delete.", resource.capitalize(), name)
                return False
            raise
        self.log.info("Deleting %s %s.", resource, name)
        return True

    # -------------------------------------------------------------------------------------------------- chat

    def invoke(
        self,
        target: str,
        messages: list[dict[str, Any]],
        *,
        system: list[dict[str, Any]] | None = None,
        inference_config: Mapping[str, Any] | None = None,
        tool_config: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """One ``Converse`` call to a deployment or provisioned throughput ARN; its response, with
        ``metrics.latencyMs`` measured here when Bedrock gives none."""
        if not target:
            raise ValueError("model_id is required: the deployment or provisioned throughput ARN to call.")
        request: dict[str, Any] = {"modelId": target, "messages": messages}
        if system is not None:
            request["system"] = system
        if inference_config is not None:
            request["inferenceConfig"] = dict(inference_config)
        if tool_config:
            request["toolConfig"] = dict(tool_config)
        started = time.monotonic()
        response = self.runtime.converse(**request)
        if not (response.get("metrics") or {}).get("latencyMs"):
            response = {**response, "metrics": {"latencyMs": round((time.monotonic() - started) * 1000)}}
        return response
