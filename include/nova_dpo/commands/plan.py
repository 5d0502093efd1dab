"""``nova-dpo plan``: a dry run of a pipeline run, before anything is paid for.

``nova-dpo plan --platform sagemaker [--param NAME=VALUE ...] [--conf JSON] [--region R] [--json]``
    resolves the run plan from the params (as the DAG's ``resolve_run`` task does, with the deployment's
    environment), then prints every AWS request the run would send, in order, each validated against botocore's
    service model, with the worst-case cost of the training jobs. Nothing is sent, and no credentials are needed
    (:mod:`nova_dpo.pipeline.dry_run`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from typing import Any

from nova_dpo.pipeline.params import PIPELINE_DAG_ID
from nova_dpo.platforms.factory import PLATFORMS


def _param(text: str) -> tuple[str, Any]:
    from nova_dpo.recipes.yaml_io import parse_scalar

    name, sep, raw = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"param {text!r} must look like NAME=VALUE, e.g. beta=0.05")
    try:
        return name.strip(), parse_scalar(raw)
    except Exception as err:
        raise argparse.ArgumentTypeError(f"param {name}: value {raw!r} is not valid YAML ({err})") from err


def _conf(text: str) -> dict[str, Any]:
    try:
        conf = json.loads(text)
    except json.JSONDecodeError as err:
        raise argparse.ArgumentTypeError(f"--conf is not JSON: {err}") from err
    if not isinstance(conf, dict):
        raise argparse.ArgumentTypeError("--conf must be a JSON object of params")
    return conf


def _logical_date(text: str) -> dt.datetime:
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"not an ISO date or datetime: {text!r}") from err
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def plan_run(args: argparse.Namespace) -> int:
    from nova_dpo.pipeline.dry_run import dry_run
    from nova_dpo.pipeline.run import DEFAULT_AWS_CONN_ID, environment_region, resolve_run

    params = {**args.conf, **dict(args.param)}
    if args.platform:
        params["platform"] = args.platform
    region = args.region or environment_region(DEFAULT_AWS_CONN_ID)
    when = args.logical_date or dt.datetime.now(dt.UTC).replace(microsecond=0)
    plan = resolve_run(
        params,
        dag_id=PIPELINE_DAG_ID,
        run_id=args.run_id or f"manual__{when.isoformat()}",
        logical_date=when,
        # Outside Airflow the one connection known is the SageMaker jobs', in --region.
        connection_region=lambda conn_id: region if conn_id == DEFAULT_AWS_CONN_ID else None,
    )
    if not region:
        raise ValueError("give --region, the region of the SageMaker jobs (the aws_default connection's)")
    planned = dry_run(plan, region)
    if args.json:
        print(json.dumps(planned.to_dict(), indent=2))
    else:
        print(format_dry_run(planned, reads=args.reads))
    return 0


def format_dry_run(planned: Any, reads: bool = False) -> str:
    """The dry run for people: each request (operation, service, region, JSON), then the cost and notes."""
    from collections import Counter

    from nova_dpo.catalog import PRICE_REGION, PRICES_AS_OF

    plan = planned.plan
    shown = planned.requests if reads else planned.writes
    lines = [
        f"Dry run of {plan.dag_id} {plan.run_id} on {plan.platform}: SageMaker jobs in {planned.region}, Bedrock "
        f"in {plan.ship.bedrock_region} (connection {plan.ship.bedrock_conn_id}). Nothing was sent.",
        "",
    ]
    for number, request in enumerate(shown, start=1):
        cost = f"  (worst case ${request.worst_case_usd:,.2f})" if request.worst_case_usd is not None else ""
        lines.append(
            f"{number:>2}. {request.operation}  {request.service} {request.region}  [{request.step}]{cost}"
        )
        params = request.to_dict()["params"]
        body = params.get("Body")
        if isinstance(body, str):
            params["Body"] = f"<{len(body.encode())} bytes: the resolved recipe YAML; --json shows it>"
        lines.extend(f"    {line}" for line in json.dumps(params, indent=2).splitlines())
    lines.append("")
    lines.append(
        f"Worst-case cost of the training jobs: ${planned.worst_case_usd:,.2f} (each running until its "
        f"MaxRuntimeInSeconds; on-demand {PRICE_REGION} list prices as of {PRICES_AS_OF})."
    )
    if not reads:
        counts = Counter(request.operation for request in planned.requests if request.reads)
        listed = ", ".join(f"{operation} ×{count}" for operation, count in counts.items())
        lines.append(f"Reads and status checks, not listed (--reads lists them): {listed}.")
    lines.extend(planned.notes)
    return "\n".join(lines)


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "plan",
        help="dry run: every AWS request a run would send, validated, with its cost (nothing is sent)",
        description=(
            "Resolve the run plan of these params (env NOVA_DPO_S3_ROOT, NOVA_DPO_ROLE_ARN, "
            "NOVA_DPO_IMPORT_ROLE_ARN, NOVA_DPO_BEDROCK_REGION, ... as the workers have them) and print every "
            "AWS request the run would send, in order, each validated against botocore's service model, with the "
            "training jobs' worst-case cost. Nothing is sent; no credentials are needed."
        ),
    )
    parser.add_argument("--platform", choices=PLATFORMS, help="the platform param (default: the form's)")
    parser.add_argument(
        "--param",
        "-p",
        action="append",
        default=[],
        type=_param,
        metavar="NAME=VALUE",
        help="a run param, the value as YAML, e.g. model_family=lite, beta=0.05, deploy=false (repeatable)",
    )
    parser.add_argument(
        "--conf",
        type=_conf,
        default={},
        help="the run's params as a JSON object, as `airflow dags trigger --conf` takes them (--param wins)",
    )
    parser.add_argument(
        "--region", help="region of the SageMaker jobs (default: the environment's, AWS_DEFAULT_REGION)"
    )
    parser.add_argument("--run-id", help="the DAG run id, which names the jobs (default: manual__<now>)")
    parser.add_argument(
        "--logical-date", type=_logical_date, help="the run's logical date, ISO 8601 (default: now)"
    )
    parser.add_argument("--reads", action="store_true", help="list the reads and status checks too")
    parser.add_argument("--json", action="store_true", help="print the dry run as JSON (reads included)")
    parser.set_defaults(handler=plan_run)
