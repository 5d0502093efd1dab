"""``nova-dpo synthesize | prepare | validate``: the data stage on the command line."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nova_dpo.data.validation import Thresholds


def _dates(text: str) -> list[dt.date]:
    try:
        return sorted(dt.date.fromisoformat(part.strip()) for part in text.split(",") if part.strip())
    except ValueError as err:
        raise argparse.ArgumentTypeError(
            f"snapshots must be dates like 2026-01-05,2026-01-12: {err}"
        ) from err


def _logical_date(text: str) -> dt.datetime:
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"not an ISO date or datetime: {text!r}") from err


def _add_thresholds(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--max-length", type=int, default=4096, help="token limit of a record (recipe max_length)"
    )
    parser.add_argument(
        "--min-valid-fraction", type=float, default=0.9, help="fail when a smaller share of rows is valid"
    )
    parser.add_argument("--min-valid-rows", type=int, default=1, help="fail when fewer rows are valid")


def _thresholds(args: argparse.Namespace) -> Thresholds:
    from nova_dpo.data.validation import Thresholds

    return Thresholds(min_valid_fraction=args.min_valid_fraction, min_valid_rows=args.min_valid_rows)


def synthesize(args: argparse.Namespace) -> int:
    from nova_dpo.data.synthesize import write_synthetic

    for path in write_synthetic(Path(args.out), args.rows, args.seed, args.snapshots):
        print(path)
    return 0


def prepare(args: argparse.Namespace) -> int:
    from nova_dpo.data.prepare import PrepareParams, prepare_dataset
    from nova_dpo.data.splits import SplitRatios
    from nova_dpo.data.validation import DataQualityError

    params = PrepareParams(
        ratios=SplitRatios.parse(args.splits),
        max_length=args.max_length,
        thresholds=_thresholds(args),
        hub_config=args.hub_config,
    )
    try:
        result = prepare_dataset(
            args.source, args.out, logical_date=args.logical_date, revision=args.revision, params=params
        )
    except DataQualityError as err:
        print(f"error: {err}")
        return 1
    counts = result.manifest["counts"]
    state = "published" if result.published else "already published (unchanged content)"
    print(f"{result.uri} {state}")
    print(json.dumps({"version": result.manifest["source"]["version"], **counts}, indent=2))
    return 0


def validate(args: argparse.Namespace) -> int:
    from nova_dpo.data.storage import as_path
    from nova_dpo.data.validation import DataQualityError, validate_file

    path = as_path(args.file)
    quarantine = as_path(args.quarantine or f"{args.file}.quarantine.jsonl")
    try:
        report = validate_file(path, quarantine, max_length=args.max_length, thresholds=_thresholds(args))
    except DataQualityError as err:
        print(f"error: {err}")
        return 1
    print(json.dumps(report.to_dict(), indent=2))
    if report.quarantined_total:
        print(f"quarantined rows and their reasons: {quarantine}")
    return 0


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("synthesize", help="generate When2Call-schema preference data offline")
    parser.add_argument("--rows", type=int, required=True, help="rows to generate (the last snapshot's size)")
    parser.add_argument("--seed", type=int, default=0, help="random seed; the same seed gives the same bytes")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument(
        "--snapshots",
        type=_dates,
        default=None,
        help="comma-separated dates: one growing snapshot folder each",
    )
    parser.set_defaults(handler=synthesize)

    parser = subparsers.add_parser("prepare", help="When2Call-schema data → Nova DPO splits + gen_qa set")
    parser.add_argument("--source", required=True, help="Hub dataset id, local folder/file, or s3:// URI")
    parser.add_argument("--out", required=True, help="storage root (local folder or s3:// URI)")
    parser.add_argument(
        "--revision", help="Hub commit/branch/tag, or snapshot name; wins over --logical-date"
    )
    parser.add_argument(
        "--logical-date", type=_logical_date, help="read the newest version at or before this date"
    )
    parser.add_argument("--splits", default="0.8,0.1,0.1", help="train,validation,test ratios")
    parser.add_argument("--hub-config", default="train_pref", help="Hub dataset config")
    _add_thresholds(parser)
    parser.set_defaults(handler=prepare)

    parser = subparsers.add_parser("validate", help="check a Nova DPO JSONL file; quarantine bad rows")
    parser.add_argument("file", help="the JSONL file (local or s3://)")
    parser.add_argument("--quarantine", help="where bad rows go (default FILE.quarantine.jsonl)")
    _add_thresholds(parser)
    parser.set_defaults(handler=validate)
