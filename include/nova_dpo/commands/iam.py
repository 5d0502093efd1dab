"""``nova-dpo iam``: the IAM policies of a deployment, for its account, regions, bucket and KMS key.

``nova-dpo iam --account ID --region R [--region R2 ...] --bucket B [--prefix P] [--kms-key ARN] [--out DIR]``
    writes the five policy documents of ``iam/`` into DIR, or prints them as one JSON object by file name.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from nova_dpo.catalog import SUPPORTED_REGIONS
from nova_dpo.pipeline.iam import DEFAULT_PREFIX


def render_iam(args: argparse.Namespace) -> int:
    from nova_dpo.pipeline.iam import Deployment, render, to_json

    deployment = Deployment.checked(args.account, args.region, args.bucket, args.prefix, args.kms_key)
    documents = render(deployment)
    if args.out is None:
        print(json.dumps(documents, indent=2))
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    for name, document in documents.items():
        (args.out / name).write_text(to_json(document))
    print(
        f"wrote {', '.join(documents)} to {args.out} for storage root {deployment.storage_root} "
        f"in {', '.join(deployment.regions)}",
        file=sys.stderr,
    )
    return 0


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    iam = subparsers.add_parser(
        "iam",
        help="write the IAM policies of the Airflow, SageMaker execution and Bedrock import roles",
        description=(
            "Render the IAM policies (and trust policies) of the three roles for an account, its regions, the "
            "storage root's bucket and prefix, and the bucket's KMS key. Nothing is sent to AWS."
        ),
    )
    iam.add_argument("--account", required=True, help="the 12-digit AWS account id")
    iam.add_argument(
        "--region",
        action="append",
        required=True,
        choices=SUPPORTED_REGIONS,
        help="a region the jobs and models run in (repeatable; the regions of the Nova images)",
    )
    iam.add_argument("--bucket", required=True, help="the bucket of the storage root (NOVA_DPO_S3_ROOT)")
    iam.add_argument(
        "--prefix",
        default=DEFAULT_PREFIX,
        help=f"the storage root's folder in the bucket (default {DEFAULT_PREFIX}; '' for the whole bucket)",
    )
    iam.add_argument("--kms-key", help="ARN of the customer managed KMS key that encrypts the bucket")
    iam.add_argument("--out", type=Path, help="folder to write the policy files to (default: print them)")
    iam.set_defaults(handler=render_iam)
