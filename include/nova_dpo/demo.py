"""``nova-dpo demo``: the README's first command, end to end on the embedded local platform.

It synthesizes When2Call-schema data with dated snapshots (so the run resolves a dataset version from its
date as a scheduled run would), prepares and validates it, and prints where every artifact is.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
from pathlib import Path

log = logging.getLogger(__name__)

DEMO_SNAPSHOTS = (dt.date(2026, 1, 5), dt.date(2026, 1, 12), dt.date(2026, 1, 19))


def run_demo(out: Path, rows: int, seed: int) -> Path:
    """Run the demo under ``out``; return the prepared dataset folder."""
    from nova_dpo.data.prepare import prepare_dataset
    from nova_dpo.data.storage import as_path
    from nova_dpo.data.synthesize import write_synthetic
    from nova_dpo.data.validation import validate_file

    source = out / "source"
    write_synthetic(source, rows, seed, DEMO_SNAPSHOTS)
    prepared = prepare_dataset(str(source), out / "store", logical_date=DEMO_SNAPSHOTS[-1])
    folder = as_path(prepared.uri)
    for name in ("train.jsonl", "validation.jsonl"):
        report = validate_file(folder / name, out / f"{name}.quarantine.jsonl")
        log.info("%s: %d rows, all valid: %s", name, report.rows, report.valid == report.rows)
    return folder


def demo(args: argparse.Namespace) -> int:
    folder = run_demo(Path(args.out), args.rows, args.seed)
    print(f"prepared dataset: {folder}")
    print(f"manifest:         {folder / 'manifest.json'}")
    return 0


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("demo", help="run the pipeline end to end on the local platform")
    parser.add_argument("--out", default="data/demo", help="folder for everything the demo writes")
    parser.add_argument("--rows", type=int, default=600, help="synthetic preference pairs")
    parser.add_argument("--seed", type=int, default=7, help="random seed")
    parser.set_defaults(handler=demo)
