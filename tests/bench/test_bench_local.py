"""benchmarks/bench_local.py end to end on the tiny random model: every row is measured and printed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def test_bench_local_prints_both_tables_with_ratios_and_verdicts(tmp_path: Path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "NOVA_DPO_CACHE": str(tmp_path / "cache")}
    command = [
        sys.executable,
        str(REPO / "benchmarks" / "bench_local.py"),
        "--model", "tiny-random",
        "--steps", "1",
        "--global-batch", "4",
        "--eval-rows", "4",
        "--gen-prompts", "4",
        "--max-new-tokens", "8",
        "--rows", "200",
        "--variants", "ours: + prompt sharing",
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600, check=False)
    assert done.returncode in (0, 1), done.stderr[-3000:]  # 1: a target missed, which a random model may do
    out = done.stdout
    for row in (
        "plain TRL (fp32, checkpointing)",
        "ours: + prompt sharing",
        "ours: + no recomputation (demo)",
        "loop fp32 (one prompt at a time)",
        "padded batches bf16 (generate)",
        "continuous batching bf16 (ours)",
    ):
        assert row in out, out
    assert "ours: + bf16 autocast" not in out  # not asked for
    assert "1.00x" in out
    assert "target training >= 1.5x plain TRL:" in out
    assert "target generation >= 5x the loop:" in out
