"""A tuned model, its base model and the always-call policy answering one gen_qa set, compared
(:mod:`~nova_dpo.evaluation.policy_comparison`): what ``nova-dpo compare`` and the demo's out-of-distribution
check run."""

from __future__ import annotations

import json
from pathlib import Path

from nova_dpo.evaluation.policy_comparison import (
    ALWAYS_CALL,
    PolicyComparison,
    always_call_answer,
    compare_policies,
    inference_records,
)
from nova_dpo.platforms.base import INFERENCE_OUTPUT_FILE
from nova_dpo.platforms.local.generation import generate_inference_output, read_gen_qa
from nova_dpo.platforms.local.local_config import DEFAULT_BATCH_SIZE
from nova_dpo.platforms.local.text_generator import InferenceSettings, TextGenerator

COMPARISON_FILE = "comparison.json"


def compare_on_set(
    data: Path,
    model: str,
    baseline: str,
    out: Path,
    max_new_tokens: int = 128,
    batch_size: int = DEFAULT_BATCH_SIZE,
    dtype: str = "auto",
    threads: int = 0,
    max_rows: int | None = None,
) -> PolicyComparison:
    """Generate the two models' replies to ``data`` (each in ``out/<tuned|base>/inference_output.jsonl``), add
    the always-call policy's, compare them and write ``out/comparison.json``."""
    settings = InferenceSettings(max_new_tokens=max_new_tokens)
    rows = read_gen_qa(data, max_rows)
    records = {}
    for name, name_or_dir in (("tuned", model), ("base", baseline)):
        generator = TextGenerator.load(name_or_dir, dtype, torch_threads=threads)
        records[name] = generate_inference_output(
            generator, rows, settings, out / name / INFERENCE_OUTPUT_FILE, batch_size
        )
    records[ALWAYS_CALL] = inference_records(rows, [always_call_answer(row) for row in rows])
    comparison = compare_policies(records, candidate="tuned")
    (out / COMPARISON_FILE).write_text(json.dumps(comparison.to_dict(), indent=2, sort_keys=True))
    return comparison
