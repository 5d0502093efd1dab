"""Parse cost of the pipeline's DAG file, against a trivial TaskFlow DAG.

The DAG processor imports every DAG file again and again, so what a DAG file imports at top level is paid
on every parse. Baseline (``trivial``): a one-task ``@dag``/``@task`` file, i.e. the cost of Airflow's own
``airflow.sdk`` import. Candidate: ``dags/nova_dpo_pipeline.py``. Each measurement imports one file with
``runpy.run_path`` in a fresh interpreter (same interpreter, ``PYTHONPATH=include:plugins``, ``AIRFLOW_HOME``
in a temporary folder) and times the import alone, not the interpreter's start; one untimed run of each
warms the bytecode and file caches, then the two alternate so that drift hits both alike.

    .venv/bin/python benchmarks/bench_dag_parse.py --repeats 7

Target: the median import of the DAG file costs at most 1.5x the trivial DAG's (exit status 1 otherwise, 2
when a file does not import).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PIPELINE_FILE = REPO / "dags" / "nova_dpo_pipeline.py"
MAX_RATIO = 1.5
BASELINE = "trivial TaskFlow DAG"

TRIVIAL_DAG = """
import datetime as dt

from airflow.sdk import dag, task


@dag(schedule=None, start_date=dt.datetime(2026, 1, 1, tzinfo=dt.UTC), catchup=False, tags=["bench"])
def trivial():
    @task
    def hello() -> int:
        return 1

    hello()


trivial()
"""

# Runs in the child: import one DAG file and print the seconds it took.
_IMPORT_ONE = """
import runpy, sys, time

start = time.perf_counter()
runpy.run_path(sys.argv[1])
print(time.perf_counter() - start)
"""


class ImportFailed(RuntimeError):
    """The DAG file did not import."""


def time_import(dag_file: Path, env: dict[str, str]) -> float:
    """Seconds to import ``dag_file`` in a fresh interpreter."""
    result = subprocess.run(
        [sys.executable, "-c", _IMPORT_ONE, str(dag_file)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise ImportFailed(f"importing {dag_file} failed:\n{result.stderr[-3000:]}")
    return float(result.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="timed imports of each file (default 7)")
    parser.add_argument("--dag", type=Path, default=PIPELINE_FILE, help="the DAG file to measure")
    parser.add_argument("--max-ratio", type=float, default=MAX_RATIO, help="target (default 1.5)")
    args = parser.parse_args()
    dag_name = os.path.relpath(args.dag.resolve(), REPO)

    with tempfile.TemporaryDirectory(prefix="bench-dag-parse-") as tmp:
        trivial = Path(tmp) / "trivial_dag.py"
        trivial.write_text(TRIVIAL_DAG)
        airflow_home = Path(tmp) / "airflow"
        airflow_home.mkdir()
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(REPO / "include"), str(REPO / "plugins")]),
            "AIRFLOW_HOME": str(airflow_home),
        }
        files = {BASELINE: trivial, dag_name: args.dag}
        samples: dict[str, list[float]] = {name: [] for name in files}
        try:
            for path in files.values():
                time_import(path, env)
            for _ in range(args.repeats):
                for name, path in files.items():
                    samples[name].append(time_import(path, env))
        except ImportFailed as err:
            print(err, file=sys.stderr)
            return 2

    medians = {name: statistics.median(values) for name, values in samples.items()}
    baseline = medians[BASELINE]
    width = max(map(len, samples))
    header = f"{'file':<{width}} {'median s':>9} {'min s':>7} {'max s':>7} {'ratio':>6}"
    print(f"{args.repeats} fresh-interpreter imports each, {sys.executable}")
    print(header)
    print("-" * len(header))
    for name, values in samples.items():
        print(
            f"{name:<{width}} {medians[name]:>9.3f} {min(values):>7.3f} {max(values):>7.3f} "
            f"{medians[name] / baseline:>6.2f}"
        )
    ratio = medians[dag_name] / baseline
    print()
    if ratio > args.max_ratio:
        print(f"target missed: the DAG file costs {ratio:.2f}x the trivial DAG (target ≤ {args.max_ratio}x)")
        return 1
    print(f"target met: {ratio:.2f}x the trivial DAG (target ≤ {args.max_ratio}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
