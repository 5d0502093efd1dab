"""Throughput and peak memory of the data stage, against the AWS sample's way of converting When2Call.

Baseline (``pandas-apply``): what the AWS Nova DPO notebook does — load the whole file into a DataFrame,
convert row by row with ``DataFrame.apply`` (tools → toolSpec system prompt, ``<TOOLCALL>`` → JSON), and
write JSONL with ``to_json``. Candidate (``prepare``): ``nova_dpo.data.prepare.prepare_dataset``, which also
validates, splits, hashes and publishes. Each measurement runs in a fresh process, so peak RSS is its own.

    .venv/bin/python benchmarks/bench_data.py --rows 100000 1000000

Targets: ≥ 3× the baseline's rows/s, ≥ 20,000 rows/s on one core, peak RSS ≤ 1 GiB at 1M rows.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SAMPLE_SYSTEM = (
    "You may call one or more functions to assist with the user query.\n\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n{tools}\n</tools>\n\n"
    "For each function call, return a json object with function name and parameters:\n"
    '{{"name": function name, "parameters": dictionary of argument name and its value}}'
)
TOOLCALL = re.compile(r"<TOOLCALL>(.*?)</TOOLCALL>", re.DOTALL)


def _sample_answer(text: str) -> str:
    match = TOOLCALL.search(text)
    if not match:
        return text
    calls = json.loads(match.group(1))
    return "".join(json.dumps({"name": c["name"], "parameters": c["arguments"]}) for c in calls)


def _sample_row(row) -> dict:
    tools = [json.loads(t) if isinstance(t, str) else t for t in row["tools"]]
    specs = [
        {
            "toolSpec": {
                "name": t["name"],
                "description": t["description"],
                "inputSchema": {"json": t["parameters"]},
            }
        }
        for t in tools
    ]
    return {
        "system": [{"text": SAMPLE_SYSTEM.format(tools=json.dumps({"tools": specs}))}],
        "messages": [
            *({"role": m["role"], "content": [{"text": m["content"]}]} for m in row["messages"]),
            {
                "role": "assistant",
                "candidates": [
                    {
                        "content": [{"text": _sample_answer(row["chosen_response"]["content"])}],
                        "preferenceLabel": "preferred",
                    },
                    {
                        "content": [{"text": _sample_answer(row["rejected_response"]["content"])}],
                        "preferenceLabel": "non-preferred",
                    },
                ],
            },
        ],
    }


def run_baseline(source: Path, out: Path) -> int:
    import pandas as pd

    frame = pd.read_json(source, lines=True)
    converted = frame.apply(_sample_row, axis=1, result_type="reduce")
    pd.DataFrame({"record": converted}).record.to_json(out / "train.jsonl", orient="records", lines=True)
    return len(frame)


def run_prepare(source: Path, out: Path) -> int:
    from nova_dpo.data.prepare import prepare_dataset

    result = prepare_dataset(str(source), out)
    return result.manifest["counts"]["rows"]


WORKERS = {"pandas-apply": run_baseline, "prepare": run_prepare}


def worker(name: str, source: Path) -> None:
    """Run one measurement in this process and print it as JSON."""
    with tempfile.TemporaryDirectory(prefix="bench-data-") as out:
        started = time.perf_counter()
        rows = WORKERS[name](source, Path(out))
        seconds = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"rows": rows, "seconds": seconds, "peak_rss_mib": peak_kib / 1024}))


def measure(name: str, source: Path) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1")
    command = [sys.executable, __file__, "--worker", name, "--source", str(source)]
    done = subprocess.run(command, check=False, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        # The baseline holds the whole dataset in a DataFrame; at 1M rows it can run out of memory.
        reason = "killed: out of memory?" if done.returncode < 0 else done.stderr.strip().splitlines()[-1]
        return {"failed": reason}
    return json.loads(done.stdout.strip().splitlines()[-1])


def synthesize(rows: int, folder: Path) -> Path:
    from nova_dpo.data.synthesize import write_synthetic

    (path,) = write_synthetic(folder / f"rows-{rows}", rows, seed=1)
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    parser.add_argument("--source", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.source)
        return 0
    header = f"{'rows':>9} | {'method':<13} | {'seconds':>8} | {'rows/s':>8} | {'peak RSS MiB':>12} | {'× baseline':>10}"
    print(header)
    print("-" * len(header))
    failures = []
    with tempfile.TemporaryDirectory(prefix="bench-data-src-") as folder:
        for rows in args.rows:
            source = synthesize(rows, Path(folder))
            results = {name: measure(name, source) for name in ("pandas-apply", "prepare")}
            baseline = results["pandas-apply"]
            base = baseline["rows"] / baseline["seconds"] if "failed" not in baseline else float("nan")
            for name, result in results.items():
                if "failed" in result:
                    print(f"{rows:>9,} | {name:<13} | failed: {result['failed']}")
                    continue
                rate = result["rows"] / result["seconds"]
                print(
                    f"{rows:>9,} | {name:<13} | {result['seconds']:>8.1f} | {rate:>8,.0f} | "
                    f"{result['peak_rss_mib']:>12,.0f} | {rate / base:>9.2f}×"
                )
            prepared = results["prepare"]
            if "failed" in prepared:
                failures.append(f"{rows:,} rows: prepare failed: {prepared['failed']}")
                continue
            rate = prepared["rows"] / prepared["seconds"]
            if "failed" in baseline:
                failures.append(f"{rows:,} rows: no baseline to compare with ({baseline['failed']})")
            elif rate < 3 * base:
                failures.append(f"{rows:,} rows: prepare is {rate / base:.2f}× the baseline, target ≥ 3×")
            if rate < 20_000:
                failures.append(f"{rows:,} rows: prepare runs {rate:,.0f} rows/s, target ≥ 20,000")
            if rows >= 1_000_000 and prepared["peak_rss_mib"] > 1024:
                failures.append(
                    f"{rows:,} rows: prepare peaks at {prepared['peak_rss_mib']:,.0f} MiB, target ≤ 1 GiB"
                )
    print()
    print("targets met" if not failures else "targets missed:\n  " + "\n  ".join(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
