"""``nova-dpo metrics``: Nova gen_qa metrics of an ``inference_output.jsonl``, as a Nova results file."""

from __future__ import annotations

import argparse
from pathlib import Path

from nova_dpo.evaluation.names import DEFAULT_SEED


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "metrics",
        help="compute gen_qa metrics from an inference_output.jsonl",
        description=__doc__.splitlines()[0],
    )
    parser.add_argument(
        "--inference",
        required=True,
        type=Path,
        help="inference_output.jsonl (prompt, inference, gold, metadata)",
    )
    parser.add_argument(
        "--out", required=True, type=Path, help="results JSON to write (Nova's shape plus per-example scores)"
    )
    parser.add_argument("--model-name", default="", help="model name recorded in config_general")
    parser.add_argument(
        "--seed",
        type=int,
        default=DEFAULT_SEED,
        help="seed of the bootstrap behind bleu_stderr and tool_call_f1_stderr",
    )
    parser.set_defaults(handler=run_metrics)


def run_metrics(args: argparse.Namespace) -> int:
    from nova_dpo.evaluation.gen_qa_metrics import compute_gen_qa_metrics, read_inference_output
    from nova_dpo.evaluation.results import GEN_QA_TASK, build_results, format_metrics_table, write_results

    records = read_inference_output(args.inference)
    scores = compute_gen_qa_metrics(records, seed=args.seed)
    config = {
        "model_name": args.model_name,
        "task": "gen_qa",
        "inference_output": str(args.inference),
        "num_examples": len(records),
        "bootstrap_seed": args.seed,
    }
    write_results(args.out, build_results(GEN_QA_TASK, scores.metrics, config, scores.per_example))
    print(format_metrics_table(scores.metrics))
    print(f"\n{len(records)} examples; results written to {args.out}")
    return 0
