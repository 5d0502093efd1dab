"""The IAM policies in iam/: well-formed, least privilege, and enough for what the pipeline really does.

* Grammar: what IAM accepts (version, statements, alphanumeric unique Sids, Allow/Deny, actions, resources or
  principals), with no wildcard actions and ``"Resource": "*"`` only where AWS allows nothing narrower.
* Every action names a real operation: ``bedrock:CreateCustomModel`` must be ``CreateCustomModel`` in botocore's
  service model of ``bedrock`` (and so on), except the few IAM-only actions listed below.
* Sufficiency: every AWS call the code makes, found by scanning ``include/`` and ``plugins/`` (plus the calls the
  Amazon provider makes for us, listed by hand), is allowed by the Airflow role; and the S3 paths, job names and
  images of a real run plan fall inside the resources the roles grant.

The placeholders are ``111122223333`` (account), ``us-east-1`` (region), ``YOUR_BUCKET`` and the storage root
``s3://YOUR_BUCKET/nova-dpo``.
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

REPO = Path(__file__).resolve().parent.parent
IAM_DIR = REPO / "iam"
SOURCE_DIRS = (REPO / "include", REPO / "plugins")
DAG_ID = re.search(r'^DAG_ID = "([^"]+)"', (REPO / "dags" / "nova_dpo_pipeline.py").read_text(), re.M).group(
    1
)

ACCOUNT = "111122223333"
REGION = "us-east-1"
BUCKET = "YOUR_BUCKET"
STORAGE_ROOT = f"s3://{BUCKET}/nova-dpo"
SAGEMAKER_ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/NovaDpoSageMakerExecutionRole"
BEDROCK_IMPORT_ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/NovaDpoBedrockImportRole"
# Where SageMaker keeps a Nova training job's checkpoint (its manifest.json names it); Bedrock imports from it.
ESCROW_CHECKPOINT = f"s3://customer-escrow-{ACCOUNT}-smtj-0a1b2c3d/nova-dpo-run"

# The AWS accounts that own the Nova training and evaluation images (see nova_dpo.catalog).
NOVA_IMAGE_ACCOUNTS = {"708977205387", "176779409107", "878185805882"}

PERMISSION_POLICIES = {
    "sagemaker-execution-role-policy.json",
    "bedrock-import-role-policy.json",
    "airflow-role-policy.json",
}
TRUST_POLICIES = {
    "sagemaker-execution-role-trust.json": "sagemaker.amazonaws.com",
    "bedrock-import-role-trust.json": "bedrock.amazonaws.com",
}

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
    "bedrock:ListProvisionedModelThroughputs",
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
}
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


# ----------------------------------------------------------------------------------------------- helpers


@cache
def policy(name: str) -> dict[str, Any]:
    return json.loads((IAM_DIR / name).read_text())


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
    policy_name: str, action: str, resource: str = "*", context: Mapping[str, str] | None = None
) -> bool:
    """Whether an Allow statement of the policy grants ``action`` on ``resource`` in ``context``."""
    for statement in policy(policy_name)["Statement"]:
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


def s3_object_arn(uri: str) -> str:
    assert uri.startswith("s3://"), uri
    return f"arn:aws:s3:::{uri.removeprefix('s3://')}"


def s3_bucket_and_prefix(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return f"arn:aws:s3:::{bucket}", key


def statements() -> Iterator[tuple[str, dict[str, Any]]]:
    for name in sorted(PERMISSION_POLICIES | set(TRUST_POLICIES)):
        for statement in policy(name)["Statement"]:
            yield name, statement


def code_calls() -> set[tuple[str, str]]:
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
    return found


@pytest.fixture(scope="module")
def plan(monkeypatch_module):
    """A real run plan of the sagemaker platform with the placeholder storage root and role."""
    from nova_dpo.pipeline.params import default_params
    from nova_dpo.pipeline.run import resolve_run

    monkeypatch_module.setenv("NOVA_DPO_S3_ROOT", STORAGE_ROOT)
    monkeypatch_module.setenv("NOVA_DPO_ROLE_ARN", SAGEMAKER_ROLE_ARN)
    params = default_params()
    params["platform"] = "sagemaker"
    return resolve_run(
        params,
        dag_id=DAG_ID,
        run_id="scheduled__2026-01-05T00:00:00+00:00",
        logical_date=dt.datetime(2026, 1, 5, tzinfo=dt.UTC),
    )


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


@pytest.fixture(scope="module")
def dataset_files(plan) -> dict[str, str]:
    # The layout of nova_dpo.pipeline.steps.upload: {root}/datasets/{source}/{version}/{sha12}/<file>.
    folder = f"{plan.storage.root}/datasets/nvidia--When2Call/2026-01-05/0123456789ab"
    return {name: f"{folder}/{name}" for name in ("train.jsonl", "validation.jsonl", "gen_qa.jsonl")}


@pytest.fixture(scope="module")
def job_requests(plan, dataset_files) -> list[Any]:
    """The CreateTrainingJob requests of the run: training, the two gen_qa evaluations and the judge."""
    from nova_dpo.pipeline import steps
    from nova_dpo.platforms.sagemaker_requests import build_evaluation_request, build_training_request

    output_path = f"{plan.storage.run_uri}/jobs"
    requests = [
        build_training_request(
            job_name=plan.training.job_name,
            training_recipe=plan.training.recipe,
            recipe_overrides=plan.training.overrides,
            role=plan.training.role_arn,
            output_path=output_path,
            train_uri=dataset_files["train.jsonl"],
            validation_uri=dataset_files["validation.jsonl"],
        )
    ]
    eval_set = {"uri": plan.storage.under_root(f"eval-sets/{'0' * 16}/gen_qa.jsonl"), "sha256": "0" * 64}
    training = {"outputs": {"checkpoint_uri": ESCROW_CHECKPOINT}}
    targets = steps.evaluation_targets(plan, training, eval_set, {"uri": plan.training.base_model})
    for target in targets:
        model = target["model_uri"] if target["model_uri"].startswith("s3://") else None
        requests.append(
            build_evaluation_request(
                job_name=target["job_name"],
                training_recipe=plan.evaluation.gen_qa,
                role=plan.training.role_arn,
                output_path=target.get("output_path", output_path),
                data_uri=target["data_uri"],
                model_name_or_path=model,
            )
        )
    requests.append(
        build_evaluation_request(
            job_name=plan.evaluation.judge_job_name,
            training_recipe=plan.evaluation.llm_judge,
            role=plan.training.role_arn,
            output_path=output_path,
            data_uri=f"{plan.storage.run_uri}/eval/llm_judge.jsonl",
        )
    )
    return requests


# ----------------------------------------------------------------------------------------------- grammar


def test_every_policy_file_is_known():
    assert {path.name for path in IAM_DIR.glob("*.json")} == PERMISSION_POLICIES | set(TRUST_POLICIES)


@pytest.mark.parametrize("name", sorted(PERMISSION_POLICIES | set(TRUST_POLICIES)))
def test_policy_grammar(name):
    document = policy(name)
    assert set(document) == {"Version", "Statement"}
    assert document["Version"] == "2012-10-17"
    assert isinstance(document["Statement"], list)
    assert document["Statement"]
    sids = [statement.get("Sid") for statement in document["Statement"]]
    assert all(sids), f"{name}: every statement needs a Sid saying what it is for"
    assert len(set(sids)) == len(sids), f"{name}: Sids must be unique"
    for statement in document["Statement"]:
        assert re.fullmatch(r"[A-Za-z0-9]+", statement["Sid"]), "IAM allows only letters and digits in a Sid"
        assert statement["Effect"] in ("Allow", "Deny")
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
            assert listed(statement["Resource"]), f"{name} {statement['Sid']}: a statement needs resources"


@pytest.mark.parametrize(("name", "service_principal"), sorted(TRUST_POLICIES.items()))
def test_trust_policies(name, service_principal):
    (statement,) = policy(name)["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Principal"] == {"Service": service_principal}
    assert statement["Action"] == "sts:AssumeRole"


def test_bedrock_trusts_only_calls_from_this_account():
    """Confused-deputy protection: Bedrock may assume the role only on behalf of this account."""
    (statement,) = policy("bedrock-import-role-trust.json")["Statement"]
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}


@pytest.mark.parametrize(
    ("name", "statement"), list(statements()), ids=lambda v: v if isinstance(v, str) else v["Sid"]
)
def test_actions_are_real_operations(name, statement):
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
            f"{action} is no operation of botocore's {' or '.join(services)} service model; check the spelling "
            "against the API reference, or list a genuine IAM-only action in IAM_ONLY_ACTIONS"
        )


@pytest.mark.parametrize("name", sorted(PERMISSION_POLICIES))
def test_resources_are_narrow(name):
    for statement in policy(name)["Statement"]:
        resources = listed(statement["Resource"])
        if "*" in resources:
            assert resources == ["*"]
            assert set(listed(statement["Action"])) <= ACTIONS_WITHOUT_RESOURCES, (
                f"{name} {statement['Sid']}: only actions without resource-level permissions may use '*'"
            )
            continue
        for arn in resources:
            parts = arn.split(":", 5)
            assert parts[0] == "arn", arn
            assert parts[1] == "aws", arn
            service_name, region, account = parts[2], parts[3], parts[4]
            assert "*" not in service_name
            assert region in ("", REGION) or (service_name == "ecr" and "*" not in region), arn
            if service_name == "ecr":
                assert account in NOVA_IMAGE_ACCOUNTS, f"{arn}: images are pulled only from the Nova accounts"
            else:
                assert account in ("", ACCOUNT), f"{arn}: use the placeholder account {ACCOUNT}"
            assert parts[5] not in ("*", ""), f"{arn}: name the resource type and a name or prefix"


def test_no_deny_statements_hide_an_allow():
    """Everything is granted explicitly; a Deny would make the sufficiency checks below meaningless."""
    for _, statement in statements():
        assert statement["Effect"] == "Allow"


# ------------------------------------------------------------------------------------------ sufficiency


def test_the_code_scan_sees_the_code():
    missing = EXPECTED_CODE_CALLS - code_calls()
    assert not missing, f"the scan of include/ and plugins/ no longer finds {sorted(missing)}; fix _CALL"


def test_airflow_role_allows_every_call_the_code_makes():
    calls = code_calls() | PROVIDER_CALLS
    refused = sorted(
        iam_action(s, o) for s, o in calls if not _allowed_anywhere("airflow-role-policy.json", s, o)
    )
    assert not refused, f"the Airflow role lacks {refused}"


def _allowed_anywhere(policy_name: str, service_name: str, operation: str) -> bool:
    action = iam_action(service_name, operation)
    for statement in policy(policy_name)["Statement"]:
        if statement["Effect"] == "Allow" and any(
            _matches(pattern, action, case_sensitive=False) for pattern in listed(statement["Action"])
        ):
            return True
    return False


def test_airflow_role_grants_the_pipeline_s_bedrock_and_notification_actions():
    wanted = {
        "bedrock:CreateCustomModel",
        "bedrock:GetCustomModel",
        "bedrock:ListCustomModels",
        "bedrock:DeleteCustomModel",
        "bedrock:TagResource",
        "bedrock:ListTagsForResource",
        "bedrock:CreateCustomModelDeployment",
        "bedrock:GetCustomModelDeployment",
        "bedrock:ListCustomModelDeployments",
        "bedrock:DeleteCustomModelDeployment",
        "bedrock:CreateProvisionedModelThroughput",
        "bedrock:GetProvisionedModelThroughput",
        "bedrock:ListProvisionedModelThroughputs",
        "bedrock:DeleteProvisionedModelThroughput",
        "bedrock:InvokeModel",
        "sns:Publish",
        "logs:GetLogEvents",
    }
    granted = {
        action
        for statement in policy("airflow-role-policy.json")["Statement"]
        for action in listed(statement["Action"])
    }
    assert wanted <= granted, sorted(wanted - granted)


def test_airflow_role_covers_the_run_s_jobs(plan, job_requests):
    from nova_dpo.platforms.naming import attempt_job_name

    names = {request.request["TrainingJobName"] for request in job_requests} | set(plan.job_names)
    # A failed or stopped job is run again as <name>-a2, -a3, ...
    names |= {attempt_job_name(name, attempt) for name in set(names) for attempt in (2, 3)}
    for name in sorted(names):
        arn = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:training-job/{name.lower()}"
        for action in ("CreateTrainingJob", "DescribeTrainingJob", "StopTrainingJob", "AddTags"):
            assert allows("airflow-role-policy.json", f"sagemaker:{action}", arn), f"{action} on {arn}"
    other = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:training-job/someone-elses-job"
    assert not allows("airflow-role-policy.json", "sagemaker:StopTrainingJob", other)


def test_airflow_role_passes_each_role_only_to_its_service(plan):
    policy_name = "airflow-role-policy.json"
    sagemaker = {"iam:PassedToService": "sagemaker.amazonaws.com"}
    bedrock = {"iam:PassedToService": "bedrock.amazonaws.com"}
    assert allows(policy_name, "iam:PassRole", plan.training.role_arn, sagemaker)
    assert allows(policy_name, "iam:PassRole", BEDROCK_IMPORT_ROLE_ARN, bedrock)
    assert not allows(
        policy_name, "iam:PassRole", plan.training.role_arn, {"iam:PassedToService": "ec2.amazonaws.com"}
    )
    assert not allows(policy_name, "iam:PassRole", BEDROCK_IMPORT_ROLE_ARN, sagemaker)
    assert not allows(policy_name, "iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/Admin", sagemaker)


def test_airflow_role_reads_and_writes_the_storage_root(plan, dataset_files, job_requests):
    from nova_dpo.platforms.sagemaker_outputs import output_archive_uri

    policy_name = "airflow-role-policy.json"
    # The job output files the job tasks publish for the later tasks (nova_dpo.platforms.publish).
    job_results = plan.storage.job_results
    published = [
        f"{job_results['train']}/step_wise_training_metrics.csv",
        *(
            f"{job_results[role]}/nova-micro-byod-eval-job/eval_results/{name}"
            for role in ("candidate", "baseline")
            for name in ("results_2026-01-05T00-10-00.000000.json", "inference_output.jsonl")
        ),
        f"{job_results['judge']}/nova-micro-llm-judge-eval-job/eval_results/results_1.json",
    ]
    assert all(uri.startswith(plan.storage.run_uri + "/") for uri in published)
    written = [
        *dataset_files.values(),
        plan.storage.under_root(f"eval-sets/{'0' * 16}/gen_qa.jsonl"),
        f"{plan.storage.run_uri}/report/report.md",
        *published,
        *(request.upload.s3_uri for request in job_requests),
    ]
    for uri in written:
        for action in ("s3:PutObject", "s3:GetObject", "s3:DeleteObject"):
            assert allows(policy_name, action, s3_object_arn(uri)), f"{action} on {uri}"
    for request in job_requests:
        archive = output_archive_uri(
            request.request["OutputDataConfig"]["S3OutputPath"], request.request["TrainingJobName"]
        )
        assert allows(policy_name, "s3:GetObject", s3_object_arn(archive)), archive
    bucket, prefix = s3_bucket_and_prefix(plan.storage.run_uri + "/")
    assert allows(policy_name, "s3:ListBucket", bucket, {"s3:prefix": prefix})
    assert allows(policy_name, "s3:GetBucketLocation", bucket)
    assert not allows(policy_name, "s3:ListBucket", bucket, {"s3:prefix": "other-team/"})
    assert not allows(policy_name, "s3:GetObject", s3_object_arn(f"s3://{BUCKET}/other-team/secret.csv"))


def test_sagemaker_role_reads_the_job_inputs_and_writes_their_outputs(job_requests):
    from nova_dpo.platforms.sagemaker_outputs import output_archive_uri

    policy_name = "sagemaker-execution-role-policy.json"
    for request in job_requests:
        body = request.request
        for channel in body["InputDataConfig"]:
            uri = channel["DataSource"]["S3DataSource"]["S3Uri"]
            bucket, prefix = s3_bucket_and_prefix(uri)
            assert allows(policy_name, "s3:ListBucket", bucket, {"s3:prefix": prefix}), uri
            assert allows(policy_name, "s3:GetObject", s3_object_arn(uri.rstrip("/") + "/x")) or allows(
                policy_name, "s3:GetObject", s3_object_arn(uri)
            ), uri
        archive = output_archive_uri(body["OutputDataConfig"]["S3OutputPath"], body["TrainingJobName"])
        assert allows(policy_name, "s3:PutObject", s3_object_arn(archive)), archive
        checkpoint = body["HyperParameters"].get("base_model_location")
        if checkpoint:
            assert allows(policy_name, "s3:GetObject", s3_object_arn(checkpoint + "/model.safetensors"))
    # Nothing else in the bucket: job outputs only.
    assert not allows(policy_name, "s3:PutObject", s3_object_arn(f"{STORAGE_ROOT}/datasets/x/train.jsonl"))
    assert not allows(policy_name, "s3:DeleteObject", s3_object_arn(f"{STORAGE_ROOT}/runs/x/jobs/y/output/a"))


def test_sagemaker_role_pulls_every_nova_image():
    from nova_dpo.catalog import IMAGES, SUPPORTED_REGIONS, image_uri_for

    policy_name = "sagemaker-execution-role-policy.json"
    assert allows(policy_name, "ecr:GetAuthorizationToken")
    for image in [image_uri_for(*key, region) for key in IMAGES for region in SUPPORTED_REGIONS]:
        match = re.fullmatch(r"(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com/([^:@]+)[:@].+", image)
        assert match, image
        account, region, repository = match.groups()
        arn = f"arn:aws:ecr:{region}:{account}:repository/{repository}"
        for action in ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"):
            assert allows(policy_name, action, arn), f"{action} on {arn}"


def test_sagemaker_role_writes_training_logs():
    policy_name = "sagemaker-execution-role-policy.json"
    stream = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/sagemaker/TrainingJobs:log-stream:job/algo-1"
    for action in ("logs:CreateLogStream", "logs:PutLogEvents"):
        assert allows(policy_name, action, stream)


def test_bedrock_import_role_reads_the_escrow_checkpoint_only():
    policy_name = "bedrock-import-role-policy.json"
    bucket, _ = s3_bucket_and_prefix(ESCROW_CHECKPOINT)
    assert allows(policy_name, "s3:ListBucket", bucket)
    assert allows(policy_name, "s3:GetObject", s3_object_arn(ESCROW_CHECKPOINT + "/model.safetensors"))
    assert not allows(
        policy_name, "s3:GetObject", s3_object_arn("s3://customer-escrow-999999999999-smtj-x/m")
    )
    assert not allows(policy_name, "s3:GetObject", s3_object_arn(f"{STORAGE_ROOT}/datasets/x/train.jsonl"))
    assert not allows(policy_name, "s3:PutObject", s3_object_arn(ESCROW_CHECKPOINT + "/x"))
