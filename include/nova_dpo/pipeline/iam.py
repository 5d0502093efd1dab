"""The IAM policies of a deployment on AWS, for its account, regions, bucket and prefix, and KMS key.

Three roles (README "IAM"): the Airflow role (behind ``aws_default``), which runs the pipeline's AWS calls; the
SageMaker execution role (``NOVA_DPO_ROLE_ARN``), which the training and evaluation jobs run as; and the Bedrock
import role (``NOVA_DPO_IMPORT_ROLE_ARN``), which Bedrock assumes to read a trained checkpoint. Each gets a
permission policy, the last two a trust policy as well. Every grant is one the pipeline uses (``tests/
test_iam_policies.py`` holds the Airflow role to the calls the code makes), and every regional ARN is given for
each region the deployment runs in. ``iam/*.json`` is this rendering with example values (``nova-dpo iam``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from nova_dpo.catalog import IMAGE_REGISTRIES, IMAGES, SUPPORTED_REGIONS

SAGEMAKER_ROLE = "NovaDpoSageMakerExecutionRole"
BEDROCK_IMPORT_ROLE = "NovaDpoBedrockImportRole"
SNS_TOPIC = "nova-dpo-notifications"
# Every job name starts with the DAG id, nova_dpo_pipeline (nova_dpo.platforms.naming.job_name).
JOB_NAMES = "nova-dpo-*"
# Where SageMaker keeps a Nova training job's checkpoint: s3://customer-escrow-<account>-smtj-<id>/<run>.
ESCROW_BUCKETS = "customer-escrow-{account}-*"
# The folders of the storage root the jobs read (nova_dpo.data.prepare, nova_dpo.pipeline.steps and run).
JOB_INPUTS = ("datasets", "eval-sets", "runs", "baselines")
# ... and those they write: a run's jobs, and the baseline evaluations shared by runs.
JOB_OUTPUTS = ("runs/*/jobs", "baselines/jobs")
DEFAULT_PREFIX = "nova-dpo"

_ACCOUNT = re.compile(r"\d{12}")
# The characters and length S3 allows in a general purpose bucket name.
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
# Folders of letters, digits and - _ . (no IAM wildcard * or ?, which would widen every grant under it).
_PREFIX = re.compile(r"[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*")
_KMS_KEY = re.compile(r"arn:aws:kms:[a-z]{2}(-[a-z]+)+-\d:\d{12}:key/[A-Za-z0-9-]+")


@dataclass(frozen=True)
class Deployment:
    """Where the pipeline runs: what its policies name.

    :param account: the 12-digit AWS account of the roles, the jobs and the bucket.
    :param regions: the regions the jobs and the Bedrock models live in (each must host the Nova images).
    :param bucket: the bucket of the storage root ``s3://<bucket>/<prefix>``.
    :param prefix: the storage root's folder in the bucket; empty for the whole bucket.
    :param kms_key: the ARN of the KMS key that encrypts the bucket, if it is a customer managed key.
    """

    account: str
    regions: tuple[str, ...]
    bucket: str
    prefix: str = DEFAULT_PREFIX
    kms_key: str | None = None

    @classmethod
    def checked(
        cls,
        account: str,
        regions: Sequence[str],
        bucket: str,
        prefix: str = DEFAULT_PREFIX,
        kms_key: str | None = None,
    ) -> Deployment:
        """A deployment from user input: each value checked, regions without repeats, the prefix without
        the slashes at its ends."""
        if not _ACCOUNT.fullmatch(account):
            raise ValueError(f"account {account!r} must be the 12 digits of an AWS account id")
        if not regions:
            raise ValueError("give at least one region")
        for region in regions:
            if region not in SUPPORTED_REGIONS:
                raise ValueError(
                    f"region {region!r} has no Nova training-job images; use one of {', '.join(SUPPORTED_REGIONS)}"
                )
        if not _BUCKET.fullmatch(bucket) or ".." in bucket:
            raise ValueError(
                f"bucket {bucket!r} must be an S3 bucket name: 3-63 lowercase letters, digits, '.' and '-', "
                "starting and ending with a letter or digit"
            )
        prefix = prefix.strip("/")
        if prefix and (not _PREFIX.fullmatch(prefix) or {".", ".."} & set(prefix.split("/"))):
            raise ValueError(
                f"prefix {prefix!r} must be folders of letters, digits, '-', '_' and '.' (not '.' or '..'), "
                "separated by '/'"
            )
        if kms_key is not None and not _KMS_KEY.fullmatch(kms_key):
            raise ValueError(
                f"KMS key {kms_key!r} must be a key ARN, arn:aws:kms:<region>:<account>:key/<key id> (not an alias)"
            )
        return cls(account, tuple(dict.fromkeys(regions)), bucket, prefix, kms_key)

    @property
    def storage_root(self) -> str:
        """``NOVA_DPO_S3_ROOT`` for this deployment."""
        return f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"

    def role_arn(self, name: str) -> str:
        return f"arn:aws:iam::{self.account}:role/{name}"

    def regional(self, service: str, resource: str) -> list[str]:
        """The ARN of ``resource`` of ``service`` in this account, in each region."""
        return [f"arn:aws:{service}:{region}:{self.account}:{resource}" for region in self.regions]

    def objects(self, folder: str = "") -> str:
        """The ARN of the objects under ``folder`` of the storage root."""
        path = "/".join(part for part in (self.bucket, self.prefix, folder) if part)
        return f"arn:aws:s3:::{path}/*"

    def key_prefixes(self, folder: str = "") -> list[str]:
        """The ``s3:prefix`` values of listings under ``folder`` of the storage root, or of the root itself and
        under it when ``folder`` is empty; none when that is the whole bucket."""
        if folder:
            return ["/".join(part for part in (self.prefix, folder, "*") if part)]
        return [self.prefix, f"{self.prefix}/*"] if self.prefix else []


def _statement(
    sid: str, actions: Sequence[str], resources: Sequence[str], **condition: Any
) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Sid": sid,
        "Effect": "Allow",
        "Action": actions[0] if len(actions) == 1 else sorted(actions),
        "Resource": resources[0] if len(resources) == 1 else list(resources),
    }
    if condition:
        statement["Condition"] = condition
    return statement


def _document(*statements: dict[str, Any] | None) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [s for s in statements if s is not None]}


def _kms(deployment: Deployment) -> dict[str, Any] | None:
    if deployment.kms_key is None:
        return None
    return _statement(
        "UseTheStorageBucketKmsKey", ["kms:Decrypt", "kms:GenerateDataKey"], [deployment.kms_key]
    )


def _bucket_listing(sid: str, deployment: Deployment, prefixes: list[str]) -> dict[str, Any]:
    """``s3:ListBucket`` of the storage bucket, limited to ``prefixes`` (unlimited when there are none)."""
    bucket = f"arn:aws:s3:::{deployment.bucket}"
    if not prefixes:
        return _statement(sid, ["s3:ListBucket"], [bucket])
    return _statement(sid, ["s3:ListBucket"], [bucket], StringLike={"s3:prefix": prefixes})


def _pass_role(sid: str, deployment: Deployment, role: str, service: str) -> dict[str, Any]:
    return _statement(
        sid, ["iam:PassRole"], [deployment.role_arn(role)], StringEquals={"iam:PassedToService": service}
    )


def _escrow_reads(deployment: Deployment) -> dict[str, Any]:
    buckets = ESCROW_BUCKETS.format(account=deployment.account)
    return _statement(
        "ReadOwnNovaEscrowCheckpoints",
        ["s3:GetObject", "s3:ListBucket"],
        [f"arn:aws:s3:::{buckets}", f"arn:aws:s3:::{buckets}/*"],
    )


def airflow_role_policy(deployment: Deployment) -> dict[str, Any]:
    """What the Airflow tasks call: training jobs, the storage root, Bedrock import, deployment, deletion and
    the Converse smoke test, and the SNS notifications.

    Two actions authorize no call of their own: ``sagemaker:AddTags`` lets CreateTrainingJob carry Tags, and
    ``bedrock:TagResource`` lets CreateCustomModel and CreateCustomModelDeployment carry theirs.
    """
    bedrock_models = [
        arn
        for kind in ("custom-model", "custom-model-deployment", "provisioned-model")
        for arn in deployment.regional("bedrock", f"{kind}/*")
    ]
    return _document(
        _statement(
            "RunNovaTrainingAndEvaluationJobs",
            [
                "sagemaker:CreateTrainingJob",
                "sagemaker:DescribeTrainingJob",
                "sagemaker:StopTrainingJob",
                "sagemaker:AddTags",
            ],
            deployment.regional("sagemaker", f"training-job/{JOB_NAMES}"),
        ),
        _pass_role("PassSageMakerExecutionRole", deployment, SAGEMAKER_ROLE, "sagemaker.amazonaws.com"),
        _pass_role("PassBedrockImportRole", deployment, BEDROCK_IMPORT_ROLE, "bedrock.amazonaws.com"),
        _statement("LocateStorageBucket", ["s3:GetBucketLocation"], [f"arn:aws:s3:::{deployment.bucket}"]),
        _bucket_listing("ListStorageRoot", deployment, deployment.key_prefixes()),
        _statement(
            "ReadAndWriteStorageRoot",
            ["s3:AbortMultipartUpload", "s3:DeleteObject", "s3:GetObject", "s3:PutObject"],
            [deployment.objects()],
        ),
        _statement(
            "ImportDeployAndDeleteCustomModels",
            [
                "bedrock:CreateCustomModel",
                "bedrock:CreateCustomModelDeployment",
                "bedrock:CreateProvisionedModelThroughput",
                "bedrock:DeleteCustomModel",
                "bedrock:DeleteCustomModelDeployment",
                "bedrock:DeleteProvisionedModelThroughput",
                "bedrock:GetCustomModel",
                "bedrock:GetCustomModelDeployment",
                "bedrock:GetProvisionedModelThroughput",
                "bedrock:ListTagsForResource",
                "bedrock:TagResource",
            ],
            bedrock_models,
        ),
        _statement(
            "ListCustomModelsAndDeployments",
            ["bedrock:ListCustomModelDeployments", "bedrock:ListCustomModels"],
            ["*"],
        ),
        _statement("SmokeTestDeployedModelsWithConverse", ["bedrock:InvokeModel"], bedrock_models),
        _statement("NotifyRunOutcomes", ["sns:Publish"], deployment.regional("sns", SNS_TOPIC)),
        _kms(deployment),
    )


def sagemaker_execution_role_policy(deployment: Deployment) -> dict[str, Any]:
    """What a Nova training or evaluation job needs: its inputs, its outputs, the escrow checkpoint it
    evaluates, the Nova images, and its logs and metrics."""
    repositories = sorted({image.split(":")[0] for image in IMAGES.values()})
    images = [
        f"arn:aws:ecr:{region}:{IMAGE_REGISTRIES[region].split('.')[0]}:repository/{repository}"
        for region in deployment.regions
        for repository in repositories
    ]
    return _document(
        _statement(
            "ReadDatasetsRecipesAndEvaluationSets",
            ["s3:GetObject"],
            [deployment.objects(folder) for folder in JOB_INPUTS],
        ),
        _bucket_listing(
            "ListDatasetAndRunPrefixes",
            deployment,
            [prefix for folder in JOB_INPUTS for prefix in deployment.key_prefixes(folder)],
        ),
        _statement(
            "WriteJobOutputs",
            ["s3:AbortMultipartUpload", "s3:PutObject"],
            [deployment.objects(folder) for folder in JOB_OUTPUTS],
        ),
        _escrow_reads(deployment),
        _statement(
            "PullNovaTrainingAndEvaluationImages",
            ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
            images,
        ),
        _statement("GetEcrAuthorizationToken", ["ecr:GetAuthorizationToken"], ["*"]),
        _statement(
            "WriteTrainingJobLogs",
            ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"],
            deployment.regional("logs", "log-group:/aws/sagemaker/TrainingJobs*"),
        ),
        _statement(
            "PublishTrainingJobMetrics",
            ["cloudwatch:PutMetricData"],
            ["*"],
            StringLike={"cloudwatch:namespace": "/aws/sagemaker/*"},
        ),
        _kms(deployment),
    )


def _trust(sid: str, service: str, **condition: Any) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sts:AssumeRole",
    }
    if condition:
        statement["Condition"] = condition
    return _document(statement)


def render(deployment: Deployment) -> dict[str, dict[str, Any]]:
    """Every policy document of ``deployment``, by the file name it has in ``iam/``."""
    return {
        "airflow-role-policy.json": airflow_role_policy(deployment),
        "sagemaker-execution-role-policy.json": sagemaker_execution_role_policy(deployment),
        "sagemaker-execution-role-trust.json": _trust(
            "SageMakerRunsTrainingJobsAsThisRole", "sagemaker.amazonaws.com"
        ),
        "bedrock-import-role-policy.json": _document(_escrow_reads(deployment)),
        # Confused-deputy protection: Bedrock may assume the role only on behalf of this account.
        "bedrock-import-role-trust.json": _trust(
            "BedrockImportsModelsAsThisRole",
            "bedrock.amazonaws.com",
            StringEquals={"aws:SourceAccount": deployment.account},
        ),
    }


def to_json(document: dict[str, Any]) -> str:
    """A policy document as it is written to a file."""
    return json.dumps(document, indent=2) + "\n"
