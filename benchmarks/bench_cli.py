"""Start-up cost of the command line, and a whole ``nova-dpo prepare`` against the AWS sample's conversion.

Every measurement is one process timed from the outside, start-up and imports included, since that is
what a user (or an Airflow task that shells out) waits for:

* ``nova-dpo --help``: building the parser of every command; the median of ``--repeats`` runs after one
  untimed run that warms the bytecode and file caches.
* baseline ``pandas-apply``: ``bench_data.py``'s row-by-row ``DataFrame.apply`` conversion of the same file
  (the AWS Nova DPO notebook's way), run as its own process.
* ``nova-dpo prepare``: the console script on ``--rows`` synthetic rows (which also validates, splits, hashes
  and publishes).

The baseline and ``prepare`` alternate, so that drift on a shared machine hits both alike.

    .venv/bin/python benchmarks/bench_cli.py --rows 200000

Targets: ``--help`` in at most 0.5 s; ``prepare`` at least 3x the baseline's rows/s (exit status 1 otherwise).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench_data import synthesize

REPO = Path(__file__).resolve().parents[1]
BENCH_DATA = Path(__file__).with_name("bench_data.py")
MAX_HELP_SECONDS = 0.5
MIN_PREPARE_RATIO = 3.0


def nova_dpo() -> list[str]:
    """The console script next to this interpreter, as a user runs it; ``python -m nova_dpo`` without one."""
    script = Path(sys.executable).with_name("nova-dpo")
    return [str(script)] if script.exists() else [sys.executable, "-m", "nova_dpo"]


def wall_seconds(command: Sequence[str]) -> float:
    """Run ``command`` to completion and return its wall time; a failure stops the benchmark."""
    env = dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1", PYTHONPATH=str(REPO / "include"))
    started = time.perf_counter()
    done = subprocess.run(command, check=False, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr.strip()}")
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000, help="synthetic rows to prepare")
    parser.add_argument("--repeats", type=int, default=1, help="runs of the baseline and of prepare (median)")
    parser.add_argument("--help-repeats", type=int, default=7, help="runs of --help (median)")
    args = parser.parse_args()

    wall_seconds([*nova_dpo(), "--help"])
    help_seconds = statistics.median(wall_seconds([*nova_dpo(), "--help"]) for _ in range(args.help_repeats))
    baseline_runs, prepare_runs = [], []
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as folder:
        source = synthesize(args.rows, Path(folder))
        for attempt in range(args.repeats):
            baseline_runs.append(
                wall_seconds(
                    [sys.executable, str(BENCH_DATA), "--worker", "pandas-apply", "--source", str(source)]
                )
            )
            out = Path(folder) / f"prepared-{attempt}"
            prepare_runs.append(
                wall_seconds([*nova_dpo(), "prepare", "--source", str(source), "--out", str(out)])
            )
    baseline, prepare = statistics.median(baseline_runs), statistics.median(prepare_runs)

    ratio = baseline / prepare
    rows = [
        ("nova-dpo --help", f"{help_seconds:.2f}", "", "", f"≤ {MAX_HELP_SECONDS} s"),
        *(
            (name, f"{seconds:.2f}", f"{args.rows / seconds:,.0f}", f"{baseline / seconds:.2f}×", target)
            for name, seconds, target in (
                (f"pandas-apply, {args.rows:,} rows (baseline)", baseline, ""),
                (f"nova-dpo prepare, {args.rows:,} rows", prepare, f"≥ {MIN_PREPARE_RATIO:g}×"),
            )
        ),
    ]
    width = max(len(row[0]) for row in rows)
    header = f"{'whole process':<{width}} | {'seconds':>8} | {'rows/s':>8} | {'× baseline':>10} | target"
    print(header)
    print("-" * len(header))
    for name, seconds, rate, times, target in rows:
        print(f"{name:<{width}} | {seconds:>8} | {rate:>8} | {times:>10} | {target}".rstrip())
    failures = []
    if help_seconds > MAX_HELP_SECONDS:
        failures.append(f"--help takes {help_seconds:.2f} s, target ≤ {MAX_HELP_SECONDS} s")
    if ratio < MIN_PREPARE_RATIO:
        failures.append(f"prepare is {ratio:.2f}× the baseline, target ≥ {MIN_PREPARE_RATIO:g}×")
    print()
    print("targets met" if not failures else "targets missed:\n  " + "\n  ".join(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
