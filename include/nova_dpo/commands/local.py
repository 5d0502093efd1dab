"""``nova-dpo train | generate | judge | chat``: the local model on the command line.

- ``train``: a local DPO training job in the foreground, from a Nova recipe with overrides (the same code the
  ``NovaDpoTrainingOperator`` runs in a detached job);

- ``generate``: replies to a ``gen_qa.jsonl`` as Nova's ``inference_output.jsonl`` (score it with
  ``nova-dpo metrics``);
- ``judge``: Nova's llm_judge statistics of an ``llm_judge.jsonl``, with the bundled model or an
  OpenAI-compatible endpoint as the judge;
- ``chat``: talk to a local model, one line per turn, or once with ``--prompt``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

# Only constants: generation and training import torch and the metrics, so each handler imports them itself.
from nova_dpo.platforms.local.local_config import DTYPE_CHOICES
from nova_dpo.platforms.local.model import DEFAULT_BASE_MODEL


def _add_machine_options(parser: argparse.ArgumentParser, batch: bool = True) -> None:
    if batch:
        parser.add_argument(
            "--batch-size", type=int, default=8, help="prompts generated together (default 8)"
        )
    parser.add_argument(
        "--dtype",
        choices=DTYPE_CHOICES,
        default="auto",
        help="auto: bfloat16 where the CPU/GPU computes it natively, else float32",
    )
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads; 0 = torch's default")


def train(args: argparse.Namespace) -> int:
    import json

    from nova_dpo.platforms.local.training import train_from_files
    from nova_dpo.recipes import resolve_recipe
    from nova_dpo.recipes.overrides import parse_override

    recipe = resolve_recipe(args.recipe, args.override, relaxed=args.relaxed)
    local: dict = {}
    for item in args.local:
        local.update(parse_override(item))
    summary = train_from_files(recipe.config, local, args.train, args.validation, args.base_model, args.out)
    print(json.dumps(summary, indent=2, default=str))
    return 0


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("train", help="DPO-train a local model from a Nova recipe (foreground)")
    parser.add_argument("--recipe", required=True, help="shipped recipe name or YAML path")
    parser.add_argument(
        "--override", action="append", default=[], metavar="KEY=VALUE", help="recipe override (repeatable)"
    )
    parser.add_argument("--relaxed", action="store_true", help="validate to the wider of conflicting ranges")
    parser.add_argument("--train", required=True, type=Path, help="Nova DPO train.jsonl")
    parser.add_argument("--validation", type=Path, help="Nova DPO validation.jsonl")
    parser.add_argument("--out", required=True, type=Path, help="job output folder")
    parser.add_argument("--base-model", default=DEFAULT_BASE_MODEL, help="model name or folder")
    parser.add_argument(
        "--local",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="local trainer option, e.g. max_steps=20, max_rows=96, dtype=bfloat16 (repeatable)",
    )
    parser.set_defaults(handler=train)

    parser = subparsers.add_parser(
        "generate", help="generate replies to a gen_qa.jsonl (writes inference_output.jsonl)"
    )
    parser.add_argument(
        "--model", default=DEFAULT_BASE_MODEL, help=f"model name or folder (default {DEFAULT_BASE_MODEL})"
    )
    parser.add_argument(
        "--data", required=True, type=Path, help="gen_qa.jsonl (query, response, system, metadata)"
    )
    parser.add_argument("--out", required=True, type=Path, help="folder for inference_output.jsonl")
    parser.add_argument(
        "--max-new-tokens", type=int, default=256, help="longest reply in tokens (default 256)"
    )
    parser.add_argument("--temperature", type=float, default=0.0, help="0 (default) decodes greedily")
    parser.add_argument("--max-rows", type=int, default=None, help="only the first N rows")
    _add_machine_options(parser)
    parser.set_defaults(handler=run_generate)

    parser = subparsers.add_parser(
        "compare",
        help="a tuned model against its base model and the always-call policy on one gen_qa set",
        description="Generate with the tuned and the base model, answer with the always-call policy, score all "
        "three with the gen_qa metrics, and check that the tuned model beats both in behaviour accuracy with a "
        "decision precision of at least 0.5 (exit status 1 otherwise). E.g. the hand-made out-of-distribution "
        "set: --data tests/data/ood/gen_qa.jsonl",
    )
    parser.add_argument(
        "--model", required=True, help="the tuned model (a folder, e.g. a stored model's artifact)"
    )
    parser.add_argument(
        "--baseline",
        default=DEFAULT_BASE_MODEL,
        help=f"the model it was tuned from (default {DEFAULT_BASE_MODEL})",
    )
    parser.add_argument(
        "--data", required=True, type=Path, help="gen_qa.jsonl (query, response, system, metadata)"
    )
    parser.add_argument(
        "--out", required=True, type=Path, help="folder for each policy's replies and comparison.json"
    )
    parser.add_argument(
        "--max-new-tokens", type=int, default=128, help="longest reply in tokens (default 128)"
    )
    parser.add_argument("--max-rows", type=int, default=None, help="only the first N rows")
    _add_machine_options(parser)
    parser.set_defaults(handler=run_compare)

    parser = subparsers.add_parser("judge", help="judge llm_judge.jsonl pairs (Nova's llm_judge statistics)")
    parser.add_argument(
        "--pairs",
        required=True,
        type=Path,
        help="llm_judge.jsonl: prompt, response_A (baseline), response_B; where each line also carries "
        "reference (and system, category), as a local run's do, the judge is calibrated first and the local "
        "one judges guided by the references",
    )
    parser.add_argument("--out", required=True, type=Path, help="results JSON to write (Nova's shape)")
    parser.add_argument(
        "--judge",
        default="local",
        help="'local' (the bundled 135M model: guided by references where the pairs carry them, else weak, "
        "a smoke test) or an OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1",
    )
    parser.add_argument(
        "--judge-model",
        default=None,
        help="local judge model, or the endpoint's model name (default: its only one)",
    )
    parser.add_argument(
        "--api-key-env",
        default=None,
        help="environment variable holding the endpoint's API key, if it needs one",
    )
    parser.add_argument(
        "--max-new-tokens", type=int, default=None, help="judge reply length (default per judge)"
    )
    parser.add_argument(
        "--timeout", type=float, default=120.0, help="seconds per endpoint request (default 120)"
    )
    parser.add_argument(
        "--retries", type=int, default=2, help="retries of a failed endpoint request (default 2)"
    )
    parser.add_argument("--max-rows", type=int, default=None, help="only the first N pairs")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed of lower_rate / upper_rate")
    _add_machine_options(parser)
    parser.set_defaults(handler=run_judge)

    parser = subparsers.add_parser("chat", help="chat with a local model (stdin lines, or --prompt once)")
    parser.add_argument(
        "--model", default=DEFAULT_BASE_MODEL, help=f"model name or folder (default {DEFAULT_BASE_MODEL})"
    )
    parser.add_argument("--system", default=None, help="system prompt")
    parser.add_argument("--prompt", default=None, help="ask once, print the reply and exit")
    parser.add_argument(
        "--max-new-tokens", type=int, default=256, help="longest reply in tokens (default 256)"
    )
    parser.add_argument("--temperature", type=float, default=0.0, help="0 (default) decodes greedily")
    _add_machine_options(parser, batch=False)
    parser.set_defaults(handler=run_chat)


def run_generate(args: argparse.Namespace) -> int:
    from nova_dpo.platforms.base import INFERENCE_OUTPUT_FILE
    from nova_dpo.platforms.local.generation import generate_inference_output, read_gen_qa
    from nova_dpo.platforms.local.text_generator import InferenceSettings, TextGenerator

    settings = InferenceSettings(max_new_tokens=args.max_new_tokens, temperature=args.temperature)
    rows = read_gen_qa(args.data, args.max_rows)
    generator = TextGenerator.load(args.model, args.dtype, torch_threads=args.threads)
    out = args.out / INFERENCE_OUTPUT_FILE
    generate_inference_output(generator, rows, settings, out, args.batch_size)
    print(f"{len(rows)} replies written to {out}")
    print(f"score them with: nova-dpo metrics --inference {out} --out {args.out / 'results.json'}")
    return 0


def run_compare(args: argparse.Namespace) -> int:
    from nova_dpo.platforms.local.comparison import compare_on_set

    comparison = compare_on_set(
        args.data,
        args.model,
        args.baseline,
        args.out,
        args.max_new_tokens,
        args.batch_size,
        args.dtype,
        args.threads,
        args.max_rows,
    )
    print(f"{comparison.prompts} prompts of {args.data}\n")
    print(comparison.summary())
    print(f"\nreplies and comparison.json in {args.out}")
    return 0 if comparison.passed else 1


def run_judge(args: argparse.Namespace) -> int:
    from nova_dpo.evaluation.results import LLM_JUDGE_TASK, format_metrics_table, write_results
    from nova_dpo.platforms.local.judging import (
        EndpointJudge,
        carry_references,
        judge_results,
        make_judge,
        read_judge_pairs,
    )
    from nova_dpo.platforms.local.local_config import LocalEvaluationOptions

    options = LocalEvaluationOptions(
        batch_size=args.batch_size,
        dtype=args.dtype,
        torch_threads=args.threads,
        seed=args.seed,
        judge=args.judge,
        judge_model=args.judge_model,
        judge_max_new_tokens=args.max_new_tokens,
        judge_timeout_s=args.timeout,
        judge_retries=args.retries,
    )
    api_key = None
    if args.api_key_env:
        api_key = os.environ.get(args.api_key_env)
        if not api_key:
            raise SystemExit(
                f"The judge's API key is read from ${args.api_key_env}, which is not set; export it."
            )
    pairs = read_judge_pairs(args.pairs, args.max_rows)
    judge = make_judge(options, api_key=api_key, guided=carry_references(pairs))
    try:
        document = judge_results(judge, pairs, {"pairs": str(args.pairs)}, seed=args.seed)
    finally:
        if isinstance(judge, EndpointJudge):
            judge.close()
    write_results(args.out, document)
    print(format_metrics_table(document["results"][LLM_JUDGE_TASK]))
    print(
        f"\n{len(pairs)} pairs judged by {document['config_general']['judge_model']}; "
        f"results written to {args.out}"
    )
    return 0


def run_chat(args: argparse.Namespace) -> int:
    from nova_dpo.platforms.local.runtime import LocalRuntime

    runtime = LocalRuntime(dtype=args.dtype, torch_threads=args.threads)
    history = [{"role": "system", "content": args.system}] if args.system else []
    inference = {"max_new_tokens": args.max_new_tokens, "temperature": args.temperature}
    if args.prompt is not None:
        print(runtime.chat(args.model, [*history, {"role": "user", "content": args.prompt}], **inference))
        return 0
    interactive = sys.stdin.isatty()
    if interactive:
        print(f"Chatting with {args.model}; an empty line is skipped, Ctrl-D ends.", file=sys.stderr)
    while True:
        if interactive:
            print("> ", end="", file=sys.stderr, flush=True)
        line = sys.stdin.readline()
        if not line:
            return 0
        if not line.strip():
            continue
        history.append({"role": "user", "content": line.rstrip("\n")})
        reply = runtime.chat(args.model, history, **inference)
        history.append({"role": "assistant", "content": reply})
        print(reply, flush=True)
