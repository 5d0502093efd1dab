"""Commands for recipes and the SageMaker requests built from them; nothing here calls AWS.

``nova-dpo show-recipe NAME [--override KEY=VALUE ...]``
    prints the resolved recipe YAML on stdout (exactly the bytes a job receives) and its sha256 on stderr.
``nova-dpo render-training-request --recipe ... --job-name ... --role-arn ... --train-uri ... --output-uri ...``
    prints the CreateTrainingJob request JSON that the pipeline would send.
"""

from __future__ import annotations

import argparse
import json
import sys

from nova_dpo.platforms.base import DEFAULT_MAX_RUN
from nova_dpo.platforms.sagemaker_requests import DEFAULT_REGION, build_training_request
from nova_dpo.recipes.resolve import resolve_recipe
from nova_dpo.recipes.validation import param_bounds


def _add_recipe_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--override",
        "-o",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="set a recipe key, e.g. training_config.model.dpo_cfg.beta=0.05 (repeatable; later wins)",
    )
    parser.add_argument(
        "--relaxed",
        action="store_true",
        help="accept values only the wider of two disagreeing AWS sources allows (with a warning)",
    )
    parser.add_argument(
        "--instance-type", help="also check the ranges of this instance type (e.g. ml.p4d.24xlarge)"
    )


def _tag(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"tag {text!r} must look like KEY=VALUE")
    return key, value


def show_recipe(args: argparse.Namespace) -> int:
    if args.bounds:
        bounds = param_bounds(args.recipe, relaxed=args.relaxed, instance_type=args.instance_type)
        print(json.dumps(bounds, indent=2, ensure_ascii=False))
        return 0
    recipe = resolve_recipe(args.recipe, args.override, args.relaxed, instance_type=args.instance_type)
    sys.stdout.write(recipe.to_yaml())
    print(f"sha256 {recipe.sha256}  {recipe.name} (rules of {recipe.base_recipe})", file=sys.stderr)
    return 0


def render_training_request(args: argparse.Namespace) -> int:
    built = build_training_request(
        job_name=args.job_name,
        training_recipe=args.recipe,
        recipe_overrides=args.override,
        role=args.role_arn,
        output_path=args.output_uri,
        train_uri=args.train_uri,
        validation_uri=args.validation_uri,
        instance_type=args.instance_type,
        instance_count=args.instance_count,
        image_uri=args.image_uri,
        region=args.region,
        max_run=args.max_run,
        output_kms_key=args.kms_key_id,
        subnets=args.subnet or None,
        security_group_ids=args.security_group_id or None,
        tags=dict(args.tag) or None,
        relaxed=args.relaxed,
    )
    print(json.dumps(built.request, indent=2))
    print(
        f"recipe {built.recipe.name} (sha256 {built.recipe.sha256}) would be uploaded to {built.upload.s3_uri}",
        file=sys.stderr,
    )
    return 0


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    show = subparsers.add_parser(
        "show-recipe",
        help="print a recipe resolved with overrides (YAML on stdout, sha256 on stderr)",
        description="Resolve and validate a recipe; print its YAML and sha256, or its allowed values.",
    )
    show.add_argument(
        "recipe", help="shipped recipe name, aws/sagemaker-hyperpod-recipes v1 name, or YAML path"
    )
    _add_recipe_options(show)
    show.add_argument(
        "--bounds", action="store_true", help="print the allowed value of each key as JSON schema"
    )
    show.set_defaults(handler=show_recipe)

    render = subparsers.add_parser(
        "render-training-request",
        help="print the SageMaker CreateTrainingJob request for a DPO recipe (nothing is sent)",
        description="Build the CreateTrainingJob request the pipeline would send, and print it as JSON.",
    )
    render.add_argument("--recipe", required=True, help="shipped DPO recipe name, v1 name, or YAML path")
    _add_recipe_options(render)
    render.add_argument("--job-name", required=True, help="training job name (1-63 letters, digits, hyphens)")
    render.add_argument("--role-arn", required=True, help="IAM role the job runs as")
    render.add_argument("--train-uri", required=True, help="s3:// URI of the training JSONL")
    render.add_argument("--validation-uri", help="s3:// URI of the validation JSONL")
    render.add_argument("--output-uri", required=True, help="s3:// prefix for the job's output")
    render.add_argument(
        "--region", default=DEFAULT_REGION, help=f"region of the job (default {DEFAULT_REGION})"
    )
    render.add_argument("--instance-count", type=int, help="default: the recipe's run.replicas")
    render.add_argument("--image-uri", help="default: the Nova DPO image of the region")
    render.add_argument("--max-run", type=int, default=DEFAULT_MAX_RUN, help="maximum runtime in seconds")
    render.add_argument("--kms-key-id", help="KMS key for the job output")
    render.add_argument("--subnet", action="append", default=[], help="VPC subnet id (repeatable)")
    render.add_argument(
        "--security-group-id", action="append", default=[], help="VPC security group (repeatable)"
    )
    render.add_argument("--tag", action="append", default=[], type=_tag, metavar="KEY=VALUE", help="job tag")
    render.set_defaults(handler=render_training_request)
