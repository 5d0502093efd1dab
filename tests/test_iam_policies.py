"""The IAM policies ``nova-dpo iam`` renders (nova_dpo.pipeline.iam): well-formed, least privilege, and enough
for what the pipeline really does, for any account, regions, bucket, prefix and KMS key.

* ``iam/*.json`` is the rendering with the example values of EXAMPLE_ARGS, byte for byte.
* Grammar: what IAM accepts (version, statements, alphanumeric unique Sids, Allow only, actions, resources or
  principals), with no wildcard actions and ``"Resource": "*"`` only where AWS allows nothing narrower.
* Every action names a real operation: ``bedrock:CreateCustomModel`` must be ``CreateCustomModel`` in botocore's
  service model of ``bedrock`` (and so on), except the few IAM-only actions listed below.
* The Airflow role grants exactly what the code calls: every AWS call found by scanning ``include/`` and
  ``plugins/`` (plus the calls the Amazon provider makes for us, listed by hand) is allowed, and every action it
  grants is one of those calls or listed in IMPLIED_ACTIONS with the code that needs it.
* The S3 paths, job names, roles and images of a real run plan fall inside the resources the roles grant, in
  every region of the deployment, and nothing outside its account, regions, bucket and prefix does.

The example (EXAMPLE_ARGS) is checked test by test; ``test_any_deployment`` runs every check on deployments
Hypothesis draws.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore import xform_name
from hypothesis import given, settings
from hypothesis import strategies as st

from nova_dpo import cli
from nova_dpo.catalog import SUPPORTED_REGIONS, image_uri_for
from nova_dpo.pipeline.iam import BEDROCK_IMPORT_ROLE, SAGEMAKER_ROLE, SNS_TOPIC, Deployment, render

REPO = Path(__file__).resolve().parent.parent
IAM_DIR = REPO / "iam"
SOURCE_DIRS = (REPO / "include", REPO / "plugins")
DAG_ID = re.search(r'^DAG_ID = "([^"]+)"', (REPO / "dags" / "nova_dpo_pipeline.py").read_text(), re.M).group(
    1
)

# The values iam/*.json is rendered with: AWS's documentation placeholders (account, bucket, key).
EXAMPLE_ARGS = [
    "--account",
    "111122223333",
    "--region",
    "us-east-1",
    "--bucket",
    "amzn-s3-demo-bucket",
    "--prefix",
    "nova-dpo",
    "--kms-key",
    "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
]
_example = cli.build_parser().parse_args(["iam", *EXAMPLE_ARGS])
EXAMPLE = Deployment.checked(
    _example.account, _example.region, _example.bucket, _example.prefix, _example.kms_key
)

# The AWS accounts that own the Nova training and evaluation images (see nova_dpo.catalog).
NOVA_IMAGE_ACCOUNTS = {"708977205387", "176779409107", "878185805882"}

PERMISSION_POLICIES = (
    "airflow-role-policy.json",
    "sagemaker-execution-role-policy.json",
    "bedrock-import-role-policy.json",
)
TRUST_POLICIES = {
    "sagemaker-execution-role-trust.json": "sagemaker.amazonaws.com",
    "bedrock-import-role-trust.json": "bedrock.amazonaws.com",
}
AIRFLOW = "airflow-role-policy.json"
SAGEMAKER = "sagemaker-execution-role-policy.json"
BEDROCK_IMPORT = "bedrock-import-role-policy.json"

# IAM action prefix -> the botocore services whose operations it authorizes.
SERVICES_OF_PREFIX = {
    "sagemaker": ("sagemaker",),
    "bedrock": ("bedrock", "bedrock-runtime"),
    "s3": ("s3",),
    "logs": ("logs",),
    "cloudwatch": ("cloudwatch",),
    "ecr": ("ecr",),
    "kms": ("kms",),
    "sns": ("sns",),
    "iam": ("iam",),
}
# Actions that exist only in IAM, with no API operation of the same name, and what they authorize.
IAM_ONLY_ACTIONS = {
    "iam:PassRole": "handing a role to a service (CreateTrainingJob's RoleArn, CreateCustomModel's roleArn)",
    "s3:ListBucket": "ListObjects, ListObjectsV2 and HeadBucket",
}
# Actions that support no resource narrower than "*" (AWS Service Authorization Reference).
ACTIONS_WITHOUT_RESOURCES = {
    "ecr:GetAuthorizationToken",
    "cloudwatch:PutMetricData",
    "bedrock:ListCustomModels",
    "bedrock:ListCustomModelDeployments",
}
# API operations authorized by an action of another name: (botocore service, operation) -> IAM action.
ACTION_OF_OPERATION = {
    ("bedrock-runtime", "Converse"): "bedrock:InvokeModel",
    ("bedrock-runtime", "ConverseStream"): "bedrock:InvokeModelWithResponseStream",
    ("s3", "ListObjectsV2"): "s3:ListBucket",
    ("s3", "ListObjects"): "s3:ListBucket",
    ("s3", "HeadBucket"): "s3:ListBucket",
    ("s3", "HeadObject"): "s3:GetObject",
    ("s3", "DeleteObjects"): "s3:DeleteObject",
    ("s3", "CreateMultipartUpload"): "s3:PutObject",
    ("s3", "UploadPart"): "s3:PutObject",
    ("s3", "CompleteMultipartUpload"): "s3:PutObject",
}
IAM_PREFIX_OF_SERVICE = {"bedrock-runtime": "bedrock"}

# The botocore services the code calls, and the names its clients go by in the source.
CALLED_SERVICES = ("sagemaker", "s3", "bedrock", "bedrock-runtime")
_CALL = re.compile(
    r"\b(?:conn|client|sagemaker|s3|s3_client|sagemaker_client|bedrock|bedrock_client|runtime)\.([a-z][a-z0-9_]*)\("
)
_PAGINATOR = re.compile(r"get_paginator\(\s*[\"']([a-z0-9_]+)[\"']")
# An API operation named as data, for a generic caller (the Bedrock delete waits: delete_call="...").
_NAMED_CALL = re.compile(r"\b[a-z_]*_call\s*=\s*[\"']([a-z0-9_]+)[\"']")
# Calls made for us by code outside this project, which a scan of include/ and plugins/ cannot see.
PROVIDER_CALLS = {
    # SageMakerTrigger waits with the provider's TrainingJobComplete waiter.
    ("sagemaker", "DescribeTrainingJob"),
    # BedrockCreateProvisionedModelThroughputOperator (deploy of a full-rank model) and its waiter.
    ("bedrock", "CreateProvisionedModelThroughput"),
    ("bedrock", "GetProvisionedModelThroughput"),
    # ObjectStoragePath (s3fs) reading and writing the storage root: stat, read, write, list, delete, and the
    # bucket check of mkdir(parents=True), which falls back to GetBucketLocation.
    ("s3", "HeadObject"),
    ("s3", "GetObject"),
    ("s3", "PutObject"),
    ("s3", "ListObjectsV2"),
    ("s3", "DeleteObjects"),
    ("s3", "GetBucketLocation"),
    ("s3", "CreateMultipartUpload"),
    ("s3", "UploadPart"),
    ("s3", "CompleteMultipartUpload"),
    ("s3", "AbortMultipartUpload"),
    # SnsNotifier (nova_dpo_airflow.notifications) publishes failures and gate verdicts.
    ("sns", "Publish"),
}
# Actions the Airflow role needs that authorize no call of their own name, with the text of the code in
# include/ or plugins/ that needs each, so a grant cannot outlive its use.
IMPLIED_ACTIONS = {
    # CreateTrainingJob's RoleArn and CreateCustomModel's roleArn.
    "iam:PassRole": '"RoleArn": role',
    # Tag-on-create: CreateTrainingJob with Tags needs sagemaker:AddTags as well ...
    "sagemaker:AddTags": 'request["Tags"]',
    # ... and CreateCustomModel with modelTags (or a deployment with tags) bedrock:TagResource.
    "bedrock:TagResource": '"modelTags"',
}
# With a KMS key, reading and writing the objects it encrypts (the storage root) needs these.
KMS_ACTIONS = {"kms:Decrypt", "kms:GenerateDataKey"}
# What the scan must find at least; a scan that finds less has stopped seeing the code.
EXPECTED_CODE_CALLS = {
    ("sagemaker", "CreateTrainingJob"),
    ("sagemaker", "DescribeTrainingJob"),
    ("sagemaker", "StopTrainingJob"),
    ("s3", "PutObject"),
    ("s3", "GetObject"),
    ("bedrock", "CreateCustomModel"),
    ("bedrock", "GetCustomModel"),
    ("bedrock", "ListCustomModels"),
    ("bedrock", "DeleteCustomModel"),
    ("bedrock", "CreateCustomModelDeployment"),
    ("bedrock", "GetCustomModelDeployment"),
    ("bedrock", "ListCustomModelDeployments"),
    ("bedrock", "DeleteCustomModelDeployment"),
    ("bedrock", "DeleteProvisionedModelThroughput"),
    ("bedrock", "ListTagsForResource"),
    ("bedrock-runtime", "Converse"),
}

Policies = Mapping[str, dict[str, Any]]


# ----------------------------------------------------------------------------------------------- helpers


def listed(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


@cache
def operations(service: str) -> frozenset[str]:
    return frozenset(botocore.session.get_session().get_service_model(service).operation_names)


def iam_action(service: str, operation: str) -> str:
    default = f"{IAM_PREFIX_OF_SERVICE.get(service, service)}:{operation}"
    return ACTION_OF_OPERATION.get((service, operation), default)


def _matches(pattern: str, value: str, *, case_sensitive: bool = True) -> bool:
    # IAM wildcards: * is any run of characters, ? one character. Nothing else is special.
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, 0 if case_sensitive else re.IGNORECASE) is not None


def _condition_holds(condition: Mapping[str, Mapping[str, Any]], context: Mapping[str, str]) -> bool:
    for operator, clauses in condition.items():
        for key, expected in clauses.items():
            if key not in context:
                return False
            values = listed(expected)
            if operator == "StringEquals":
                ok = context[key] in values
            elif operator == "StringLike":
                ok = any(_matches(value, context[key]) for value in values)
            else:
                raise AssertionError(
                    f"the test does not evaluate the condition operator {operator}; teach it"
                )
            if not ok:
                return False
    return True


def allows(
    document: dict[str, Any], action: str, resource: str = "*", context: Mapping[str, str] | None = None
) -> bool:
    """Whether an Allow statement of the policy grants ``action`` on ``resource`` in ``context``."""
    for statement in document["Statement"]:
        if statement["Effect"] != "Allow":
            continue
        if not any(
            _matches(pattern, action, case_sensitive=False) for pattern in listed(statement["Action"])
        ):
            continue
        if not any(_matches(pattern, resource) for pattern in listed(statement["Resource"])):
            continue
        if _condition_holds(statement.get("Condition", {}), context or {}):
            return True
    return False


def granted(document: dict[str, Any]) -> set[str]:
    return {action for statement in document["Statement"] for action in listed(statement["Action"])}


def s3_object_arn(uri: str) -> str:
    assert uri.startswith("s3://"), uri
    return f"arn:aws:s3:::{uri.removeprefix('s3://')}"


def s3_bucket_and_prefix(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return f"arn:aws:s3:::{bucket}", key


def statements(policies: Policies) -> Iterator[tuple[str, dict[str, Any]]]:
    for name in sorted(policies):
        for statement in policies[name]["Statement"]:
            yield name, statement


@cache
def code_calls() -> frozenset[tuple[str, str]]:
    """(botocore service, operation) of every AWS call in include/ and plugins/ and their waiter files.

    A method name that several of ``CALLED_SERVICES`` share counts for each of them, so the check errs on the
    side of asking for a grant.
    """
    snake_to_ops: dict[str, set[tuple[str, str]]] = {}
    for service_name in CALLED_SERVICES:
        for operation in operations(service_name):
            snake_to_ops.setdefault(xform_name(operation), set()).add((service_name, operation))
    found: set[tuple[str, str]] = set()
    for folder in SOURCE_DIRS:
        for path in folder.rglob("*.py"):
            text = path.read_text()
            for name in [*_CALL.findall(text), *_PAGINATOR.findall(text), *_NAMED_CALL.findall(text)]:
                # A name that is no API operation (close, request, ...) is a method of another kind of client.
                found |= snake_to_ops.get(name, set())
        for path in folder.rglob("waiters/*.json"):
            for waiter in json.loads(path.read_text())["waiters"].values():
                found |= snake_to_ops[xform_name(waiter["operation"])]
    return frozenset(found)


class Run:
    """A real run plan of the sagemaker platform for ``deployment``, and the CreateTrainingJob requests of its
    jobs: training, the two gen_qa evaluations and the judge."""

    def __init__(self, deployment: Deployment):
        from nova_dpo.pipeline import steps
        from nova_dpo.pipeline.params import default_params
        from nova_dpo.pipeline.run import resolve_run
        from nova_dpo.platforms.sagemaker_requests import build_evaluation_request, build_training_request

        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("NOVA_DPO_S3_ROOT", deployment.storage_root)
            patch.setenv("NOVA_DPO_ROLE_ARN", deployment.role_arn(SAGEMAKER_ROLE))
            params = default_params()
            params["platform"] = "sagemaker"
            self.plan = plan = resolve_run(
                params,
                dag_id=DAG_ID,
                run_id="scheduled__2026-01-05T00:00:00+00:00",
                logical_date=dt.datetime(2026, 1, 5, tzinfo=dt.UTC),
            )
        # The layout of nova_dpo.pipeline.steps.upload: {root}/datasets/{source}/{version}/{sha12}/<file>.
        folder = f"{plan.storage.root}/datasets/nvidia--When2Call/2026-01-05/0123456789ab"
        self.dataset_files = {
            name: f"{folder}/{name}" for name in ("train.jsonl", "validation.jsonl", "gen_qa.jsonl")
        }
        # Where SageMaker keeps a Nova training job's checkpoint (its manifest.json names it).
        self.escrow_checkpoint = f"s3://customer-escrow-{deployment.account}-smtj-0a1b2c3d/nova-dpo-run"

        output_path = f"{plan.storage.run_uri}/jobs"
        self.requests = [
            build_training_request(
                job_name=plan.training.job_name,
                training_recipe=plan.training.recipe,
                recipe_overrides=plan.training.overrides,
                role=plan.training.role_arn,
                output_path=output_path,
                train_uri=self.dataset_files["train.jsonl"],
                validation_uri=self.dataset_files["validation.jsonl"],
            )
        ]
        eval_set = {"uri": plan.storage.under_root(f"eval-sets/{'0' * 16}/gen_qa.jsonl"), "sha256": "0" * 64}
        training = {"outputs": {"checkpoint_uri": self.escrow_checkpoint}}
        for target in steps.evaluation_targets(plan, training, eval_set, {"uri": plan.training.base_model}):
            model = target["model_uri"] if target["model_uri"].startswith("s3://") else None
            self.requests.append(
                build_evaluation_request(
                    job_name=target["job_name"],
                    training_recipe=plan.evaluation.gen_qa,
                    role=plan.training.role_arn,
                    output_path=target.get("output_path", output_path),
                    data_uri=target["data_uri"],
                    model_name_or_path=model,
                )
            )
        self.requests.append(
            build_evaluation_request(
                job_name=plan.evaluation.judge_job_name,
                training_recipe=plan.evaluation.llm_judge,
                role=plan.training.role_arn,
                output_path=output_path,
                data_uri=f"{plan.storage.run_uri}/eval/llm_judge.jsonl",
            )
        )


@cache
def example_run() -> Run:
    return Run(EXAMPLE)


# ------------------------------------------------------------------------------------------------ checks


def check_grammar(policies: Policies) -> None:
    assert set(policies) == set(PERMISSION_POLICIES) | set(TRUST_POLICIES)
    for name, document in policies.items():
        assert set(document) == {"Version", "Statement"}
        assert document["Version"] == "2012-10-17"
        assert isinstance(document["Statement"], list)
        assert document["Statement"]
        sids = [statement.get("Sid") for statement in document["Statement"]]
        assert all(sids), f"{name}: every statement needs a Sid saying what it is for"
        assert len(set(sids)) == len(sids), f"{name}: Sids must be unique"
        for statement in document["Statement"]:
            assert re.fullmatch(r"[A-Za-z0-9]+", statement["Sid"]), (
                "IAM allows only letters and digits in a Sid"
            )
            # Everything is granted explicitly; a Deny would make the sufficiency checks meaningless.
            assert statement["Effect"] == "Allow"
            actions = listed(statement["Action"])
            assert actions
            assert all(re.fullmatch(r"[a-z0-9-]+:[A-Za-z0-9]+", action) for action in actions), (
                f"{name} {statement['Sid']}: name each action in full, without wildcards"
            )
            assert len(set(actions)) == len(actions)
            allowed_keys = {"Sid", "Effect", "Action", "Condition"}
            if name in TRUST_POLICIES:
                assert set(statement) <= allowed_keys | {"Principal"}
                assert "Principal" in statement
            else:
                assert set(statement) <= allowed_keys | {"Resource"}
                assert listed(statement["Resource"]), (
                    f"{name} {statement['Sid']}: a statement needs resources"
                )


def check_trust(policies: Policies, deployment: Deployment) -> None:
    for name, service_principal in TRUST_POLICIES.items():
        (statement,) = policies[name]["Statement"]
        assert statement["Principal"] == {"Service": service_principal}
        assert statement["Action"] == "sts:AssumeRole"
    # Confused-deputy protection: Bedrock may assume the role only on behalf of this account.
    (statement,) = policies["bedrock-import-role-trust.json"]["Statement"]
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": deployment.account}}


def check_actions_are_real_operations(policies: Policies) -> None:
    for name, statement in statements(policies):
        for action in listed(statement["Action"]):
            prefix, _, operation = action.partition(":")
            if name in TRUST_POLICIES:
                assert action == "sts:AssumeRole"
                continue
            if action in IAM_ONLY_ACTIONS:
                continue
            assert prefix in SERVICES_OF_PREFIX, f"{action}: add its service to SERVICES_OF_PREFIX"
            services = SERVICES_OF_PREFIX[prefix]
            assert any(operation in operations(service) for service in services), (
                f"{action} is no operation of botocore's {' or '.join(services)} service model; check the "
                "spelling against the API reference, or list a genuine IAM-only action in IAM_ONLY_ACTIONS"
            )


def check_resources_are_narrow(policies: Policies, deployment: Deployment) -> None:
    """Every ARN is of this deployment: its account, regions and bucket (the Nova images and the KMS key
    excepted), and names a resource type and a name or prefix."""
    for name in PERMISSION_POLICIES:
        for statement in policies[name]["Statement"]:
            resources = listed(statement["Resource"])
            if "*" in resources:
                assert resources == ["*"]
                assert set(listed(statement["Action"])) <= ACTIONS_WITHOUT_RESOURCES, (
                    f"{name} {statement['Sid']}: only actions without resource-level permissions may use '*'"
                )
                continue
            for arn in resources:
                if arn == deployment.kms_key:
                    assert set(listed(statement["Action"])) == KMS_ACTIONS
                    continue
                parts = arn.split(":", 5)
                assert parts[:2] == ["arn", "aws"], arn
                service_name, region, account = parts[2], parts[3], parts[4]
                assert "*" not in service_name
                assert region == "" or region in deployment.regions, arn
                if service_name == "ecr":
                    assert account in NOVA_IMAGE_ACCOUNTS, (
                        f"{arn}: images are pulled only from the Nova accounts"
                    )
                else:
                    assert account in ("", deployment.account), arn
                if service_name == "s3":
                    bucket = parts[5].split("/")[0]
                    assert bucket == deployment.bucket or bucket.startswith(
                        f"customer-escrow-{deployment.account}-"
                    ), arn
                assert parts[5] not in ("*", ""), f"{arn}: name the resource type and a name or prefix"


def check_airflow_role_grants_exactly_what_the_code_calls(policies: Policies, deployment: Deployment) -> None:
    document = policies[AIRFLOW]
    needed = {iam_action(s, o) for s, o in code_calls() | PROVIDER_CALLS}
    refused = sorted(action for action in needed if not any(_matches(a, action) for a in granted(document)))
    assert not refused, f"the Airflow role lacks {refused}"
    kms = KMS_ACTIONS if deployment.kms_key else set()
    unused = sorted(granted(document) - needed - set(IMPLIED_ACTIONS) - kms)
    assert not unused, f"the Airflow role grants {unused}, which no code calls; remove them"


def check_kms(policies: Policies, deployment: Deployment) -> None:
    for name in PERMISSION_POLICIES:
        key_grants = granted(policies[name]) & KMS_ACTIONS
        if deployment.kms_key is None or name == BEDROCK_IMPORT:
            assert not key_grants, f"{name} grants {key_grants} without a KMS key to use"
            continue
        for action in KMS_ACTIONS:
            assert allows(policies[name], action, deployment.kms_key), f"{name}: {action}"
        other_key = deployment.kms_key[:-1] + ("0" if deployment.kms_key[-1] != "0" else "1")
        assert not allows(policies[name], "kms:Decrypt", other_key)


def check_airflow_role_covers_the_run_s_jobs(policies: Policies, deployment: Deployment, run: Run) -> None:
    from nova_dpo.platforms.naming import attempt_job_name

    document = policies[AIRFLOW]
    names = {request.request["TrainingJobName"] for request in run.requests} | set(run.plan.job_names)
    # A failed or stopped job is run again as <name>-a2, -a3, ...
    names |= {attempt_job_name(name, attempt) for name in set(names) for attempt in (2, 3)}
    for region in deployment.regions:
        for name in sorted(names):
            arn = f"arn:aws:sagemaker:{region}:{deployment.account}:training-job/{name.lower()}"
            for action in ("CreateTrainingJob", "DescribeTrainingJob", "StopTrainingJob", "AddTags"):
                assert allows(document, f"sagemaker:{action}", arn), f"{action} on {arn}"
        for kind in ("custom-model/imported/abc123", "custom-model-deployment/x1", "provisioned-model/p1"):
            arn = f"arn:aws:bedrock:{region}:{deployment.account}:{kind}"
            assert allows(document, "bedrock:InvokeModel", arn), arn
            assert allows(document, "bedrock:ListTagsForResource", arn), arn
        topic = f"arn:aws:sns:{region}:{deployment.account}:{SNS_TOPIC}"
        assert allows(document, "sns:Publish", topic)
    other = f"arn:aws:sagemaker:{deployment.regions[0]}:{deployment.account}:training-job/someone-elses-job"
    assert not allows(document, "sagemaker:StopTrainingJob", other)
    elsewhere = f"arn:aws:sagemaker:eu-west-1:{deployment.account}:training-job/{run.plan.training.job_name}"
    assert not allows(document, "sagemaker:CreateTrainingJob", elsewhere)


def check_airflow_role_passes_each_role_only_to_its_service(
    policies: Policies, deployment: Deployment, run: Run
) -> None:
    document = policies[AIRFLOW]
    sagemaker = {"iam:PassedToService": "sagemaker.amazonaws.com"}
    bedrock = {"iam:PassedToService": "bedrock.amazonaws.com"}
    import_role = deployment.role_arn(BEDROCK_IMPORT_ROLE)
    assert run.plan.training.role_arn == deployment.role_arn(SAGEMAKER_ROLE)
    assert allows(document, "iam:PassRole", run.plan.training.role_arn, sagemaker)
    assert allows(document, "iam:PassRole", import_role, bedrock)
    assert not allows(
        document, "iam:PassRole", run.plan.training.role_arn, {"iam:PassedToService": "ec2.amazonaws.com"}
    )
    assert not allows(document, "iam:PassRole", import_role, sagemaker)
    assert not allows(document, "iam:PassRole", deployment.role_arn("Admin"), sagemaker)


def check_airflow_role_reads_and_writes_the_storage_root(
    policies: Policies, deployment: Deployment, run: Run
) -> None:
    from nova_dpo.platforms.sagemaker_outputs import output_archive_uri

    document = policies[AIRFLOW]
    storage = run.plan.storage
    # The job output files the job tasks publish for the later tasks (nova_dpo.platforms.publish).
    published = [
        f"{storage.job_results['train']}/step_wise_training_metrics.csv",
        *(
            f"{storage.job_results[role]}/nova-micro-byod-eval-job/eval_results/{name}"
            for role in ("candidate", "baseline")
            for name in ("results_2026-01-05T00-10-00.000000.json", "inference_output.jsonl")
        ),
        f"{storage.job_results['judge']}/nova-micro-llm-judge-eval-job/eval_results/results_1.json",
    ]
    assert all(uri.startswith(storage.run_uri + "/") for uri in published)
    written = [
        *run.dataset_files.values(),
        storage.under_root(f"eval-sets/{'0' * 16}/gen_qa.jsonl"),
        f"{storage.run_uri}/report/report.md",
        *published,
        *(request.upload.s3_uri for request in run.requests),
    ]
    for uri in written:
        for action in ("s3:PutObject", "s3:GetObject", "s3:DeleteObject"):
            assert allows(document, action, s3_object_arn(uri)), f"{action} on {uri}"
    for request in run.requests:
        archive = output_archive_uri(
            request.request["OutputDataConfig"]["S3OutputPath"], request.request["TrainingJobName"]
        )
        assert allows(document, "s3:GetObject", s3_object_arn(archive)), archive
    bucket, prefix = s3_bucket_and_prefix(storage.run_uri + "/")
    assert allows(document, "s3:ListBucket", bucket, {"s3:prefix": prefix})
    assert allows(document, "s3:GetBucketLocation", bucket)
    assert not allows(document, "s3:GetObject", s3_object_arn(f"s3://{deployment.bucket}-other/x.csv"))
    if deployment.prefix:
        assert not allows(document, "s3:ListBucket", bucket, {"s3:prefix": "other-team/"})
        assert not allows(
            document, "s3:GetObject", s3_object_arn(f"s3://{deployment.bucket}/other-team/x.csv")
        )


def check_sagemaker_role_reads_the_job_inputs_and_writes_their_outputs(
    policies: Policies, deployment: Deployment, run: Run
) -> None:
    from nova_dpo.platforms.sagemaker_outputs import output_archive_uri

    document = policies[SAGEMAKER]
    for request in run.requests:
        body = request.request
        for channel in body["InputDataConfig"]:
            uri = channel["DataSource"]["S3DataSource"]["S3Uri"]
            bucket, prefix = s3_bucket_and_prefix(uri)
            assert allows(document, "s3:ListBucket", bucket, {"s3:prefix": prefix}), uri
            assert allows(document, "s3:GetObject", s3_object_arn(uri.rstrip("/") + "/x")) or allows(
                document, "s3:GetObject", s3_object_arn(uri)
            ), uri
        archive = output_archive_uri(body["OutputDataConfig"]["S3OutputPath"], body["TrainingJobName"])
        assert allows(document, "s3:PutObject", s3_object_arn(archive)), archive
        checkpoint = body["HyperParameters"].get("base_model_location")
        if checkpoint:
            assert allows(document, "s3:GetObject", s3_object_arn(checkpoint + "/model.safetensors"))
    # Nothing else in the bucket: job outputs only.
    root = run.plan.storage.root
    assert not allows(document, "s3:PutObject", s3_object_arn(f"{root}/datasets/x/train.jsonl"))
    assert not allows(document, "s3:DeleteObject", s3_object_arn(f"{root}/runs/x/jobs/y/output/a"))


def check_sagemaker_role_pulls_the_images_and_writes_logs(
    policies: Policies, deployment: Deployment, run: Run
) -> None:
    document = policies[SAGEMAKER]
    assert allows(document, "ecr:GetAuthorizationToken")
    for region in deployment.regions:
        for request in run.requests:
            image = image_uri_for(request.recipe.spec.task, request.recipe.spec.generation, region)
            match = re.fullmatch(r"(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com/([^:@]+)[:@].+", image)
            assert match, image
            account, image_region, repository = match.groups()
            assert image_region == region
            arn = f"arn:aws:ecr:{region}:{account}:repository/{repository}"
            for action in (
                "ecr:BatchGetImage",
                "ecr:GetDownloadUrlForLayer",
                "ecr:BatchCheckLayerAvailability",
            ):
                assert allows(document, action, arn), f"{action} on {arn}"
        group = f"arn:aws:logs:{region}:{deployment.account}:log-group:/aws/sagemaker/TrainingJobs"
        for action in ("logs:CreateLogStream", "logs:PutLogEvents"):
            assert allows(document, action, f"{group}:log-stream:job/algo-1")


def check_bedrock_import_role_reads_the_escrow_checkpoint_only(
    policies: Policies, deployment: Deployment, run: Run
) -> None:
    document = policies[BEDROCK_IMPORT]
    bucket, _ = s3_bucket_and_prefix(run.escrow_checkpoint)
    assert allows(document, "s3:ListBucket", bucket)
    assert allows(document, "s3:GetObject", s3_object_arn(run.escrow_checkpoint + "/model.safetensors"))
    other_account = "999999999999" if deployment.account != "999999999999" else "888888888888"
    assert not allows(
        document, "s3:GetObject", s3_object_arn(f"s3://customer-escrow-{other_account}-smtj-x/m")
    )
    assert not allows(
        document, "s3:GetObject", s3_object_arn(f"{run.plan.storage.root}/datasets/x/train.jsonl")
    )
    assert not allows(document, "s3:PutObject", s3_object_arn(run.escrow_checkpoint + "/x"))


RUN_CHECKS = (
    check_airflow_role_covers_the_run_s_jobs,
    check_airflow_role_passes_each_role_only_to_its_service,
    check_airflow_role_reads_and_writes_the_storage_root,
    check_sagemaker_role_reads_the_job_inputs_and_writes_their_outputs,
    check_sagemaker_role_pulls_the_images_and_writes_logs,
    check_bedrock_import_role_reads_the_escrow_checkpoint_only,
)


# ------------------------------------------------------------------------------------ the shipped example


def test_the_shipped_policies_are_the_example_rendering(tmp_path):
    assert cli.main(["iam", *EXAMPLE_ARGS, "--out", str(tmp_path)]) == 0
    rendered = {path.name: path.read_text() for path in tmp_path.iterdir()}
    assert rendered == {path.name: path.read_text() for path in IAM_DIR.glob("*.json")}, (
        f"iam/ is not the rendering of the example; run: nova-dpo iam {' '.join(EXAMPLE_ARGS)} --out iam"
    )
    assert {name: json.loads(text) for name, text in rendered.items()} == render(EXAMPLE)


def test_example_grammar():
    check_grammar(render(EXAMPLE))
    check_trust(render(EXAMPLE), EXAMPLE)


def test_example_actions_are_real_operations():
    check_actions_are_real_operations(render(EXAMPLE))


def test_example_resources_are_narrow():
    check_resources_are_narrow(render(EXAMPLE), EXAMPLE)


def test_the_code_scan_sees_the_code():
    missing = EXPECTED_CODE_CALLS - code_calls()
    assert not missing, f"the scan of include/ and plugins/ no longer finds {sorted(missing)}; fix _CALL"


@pytest.mark.parametrize("action", sorted(IMPLIED_ACTIONS))
def test_each_implied_action_is_still_needed(action):
    text = IMPLIED_ACTIONS[action]
    sources = [path.read_text() for folder in SOURCE_DIRS for path in folder.rglob("*.py")]
    assert any(text in source for source in sources), f"{action} was granted for {text}, which the code lost"


def test_example_airflow_role_grants_exactly_what_the_code_calls():
    check_airflow_role_grants_exactly_what_the_code_calls(render(EXAMPLE), EXAMPLE)


def test_example_kms_key_is_used_by_the_airflow_and_execution_roles():
    check_kms(render(EXAMPLE), EXAMPLE)


@pytest.mark.parametrize("check", RUN_CHECKS, ids=lambda check: check.__name__.removeprefix("check_"))
def test_example_covers_a_run(check):
    check(render(EXAMPLE), EXAMPLE, example_run())


# ------------------------------------------------------------------------------------- any deployment

accounts = st.from_regex(r"\d{12}", fullmatch=True)
buckets = st.from_regex(r"[a-z0-9][a-z0-9.-]{1,20}[a-z0-9]", fullmatch=True).filter(lambda b: ".." not in b)
_folder = st.from_regex(r"[A-Za-z0-9_.-]{1,10}", fullmatch=True).filter(lambda f: f not in (".", ".."))
prefixes = st.one_of(st.just(""), st.lists(_folder, min_size=1, max_size=3).map("/".join))
kms_key_ids = st.one_of(st.uuids().map(str), st.uuids().map(lambda u: f"mrk-{u.hex}"))


@st.composite
def deployments(draw) -> Deployment:
    account = draw(accounts)
    regions = draw(st.lists(st.sampled_from(SUPPORTED_REGIONS), min_size=1, max_size=4))
    kms_key = draw(
        st.one_of(
            st.none(),
            st.builds(
                lambda region, key_account, key: f"arn:aws:kms:{region}:{key_account}:key/{key}",
                st.sampled_from(regions),
                st.one_of(st.just(account), accounts),
                kms_key_ids,
            ),
        )
    )
    return Deployment.checked(account, regions, draw(buckets), draw(prefixes), kms_key)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(deployments())
def test_any_deployment(deployment):
    policies = render(deployment)
    check_grammar(policies)
    check_trust(policies, deployment)
    check_actions_are_real_operations(policies)
    check_resources_are_narrow(policies, deployment)
    check_airflow_role_grants_exactly_what_the_code_calls(policies, deployment)
    check_kms(policies, deployment)
    run = Run(deployment)
    for check in RUN_CHECKS:
        check(policies, deployment, run)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"account": "12345678901"}, "12 digits"),
        ({"regions": []}, "at least one region"),
        ({"regions": ["us-east-1", "eu-west-1"]}, "no Nova training-job images"),
        ({"bucket": "My_Bucket"}, "S3 bucket name"),
        ({"bucket": "a..b"}, "S3 bucket name"),
        ({"prefix": "team/*"}, "folders of letters"),
        ({"prefix": "team/../other"}, "folders of letters"),
        ({"kms_key": "arn:aws:kms:us-east-1:111122223333:alias/nova"}, "key ARN"),
    ],
)
def test_deployment_refuses_values_that_would_widen_or_break_the_policies(arguments, message):
    values = {
        "account": "111122223333",
        "regions": ["us-east-1"],
        "bucket": "amzn-s3-demo-bucket",
    } | arguments
    with pytest.raises(ValueError, match=re.escape(message)):
        Deployment.checked(**values)


def test_deployment_repeats_no_region_and_trims_the_prefix():
    deployment = Deployment.checked(
        "111122223333", ["us-west-2", "us-east-1", "us-west-2"], "b-1", "/team/nova/"
    )
    assert deployment.regions == ("us-west-2", "us-east-1")
    assert deployment.storage_root == "s3://b-1/team/nova"


def test_the_command_prints_the_policies_without_out(capsys):
    assert (
        cli.main(["iam", "--account", "123456789012", "--region", "us-west-2", "--bucket", "nova-data"]) == 0
    )
    printed = json.loads(capsys.readouterr().out)
    assert printed == render(Deployment.checked("123456789012", ["us-west-2"], "nova-data"))
    assert "kms:Decrypt" not in json.dumps(printed)
