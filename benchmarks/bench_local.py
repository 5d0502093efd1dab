"""The local platform's DPO training and generation speed, against plain TRL and a plain generation loop.

(a) Training, optimizer steps per second on the same pairs, recipe values and batch shape. Baseline
(``plain TRL``): what a TRL user writes first — ``DPOTrainer`` with ``DPOConfig`` defaults on the CPU (float32,
TRL's activation checkpointing, TRL's forward), the same LoRA adapter, learning rate, beta, micro-batch and
accumulation. Candidates: this project's trainer (``nova_dpo.platforms.local.training.train``) with one technique
added at a time, up to the demo's settings (prompt sharing, bfloat16 autocast, no recomputation). Both adapters
use plain AdamW here (LoRA+ off), so the optimizer is the same. Each trained model is then scored on held-out
prompts (tool-call F1, f1_score) with a paired bootstrap against the plain TRL model: the speed must not cost
accuracy.

(b) Generation, new tokens per second on the same gen_qa prompts (greedy): a plain one-prompt-at-a-time
``model.generate`` loop in float32 against the project's generator in bfloat16 (continuous batching, prefix-shared
prefill: ``nova_dpo.platforms.local.decoding``), in batches of the project's default size. The rows between
separate the gains: the loop in bfloat16 (dtype alone), ``model.generate`` on left-padded batches in bfloat16
(what the generator did before continuous batching), and continuous batching in float32. Each process first
generates a few tokens for one prompt, untimed (kernel set-up, thread pool), in every row alike.

Every measurement runs in a fresh process, so its peak RSS is its own.

    .venv/bin/python benchmarks/bench_local.py                       # the real model, about 15 minutes
    .venv/bin/python benchmarks/bench_local.py --model tiny-random --train-rows 8 --steps 1 --eval-rows 4 \\
        --gen-prompts 4 --max-new-tokens 8                           # a smoke run in seconds

Targets: training ≥ 1.5x plain TRL's steps/s with the held-out metrics within noise of it; generation ≥ 5x the
loop's tokens/s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LORA_RANK, LORA_ALPHA = 8, 64
LEARNING_RATE, BETA = 1e-4, 0.1
MICRO_BATCH = 2
SEED = 42

# name -> LocalTrainingOptions for our trainer, or None for the plain TRL baseline.
TRAINING_VARIANTS: dict[str, dict | None] = {
    "plain TRL (fp32, checkpointing)": None,
    "ours: fp32, checkpointing, TRL forward": {"dtype": "float32", "shared_prompt": False},
    "ours: + prompt sharing": {"dtype": "float32", "shared_prompt": True},
    "ours: + bf16 autocast": {"dtype": "bfloat16", "shared_prompt": True},
    "ours: + no recomputation (demo)": {
        "dtype": "bfloat16",
        "shared_prompt": True,
        "gradient_checkpointing": False,
    },
}
BASELINE_TRAINING = "plain TRL (fp32, checkpointing)"
CANDIDATE_TRAINING = "ours: + no recomputation (demo)"

# name -> (decoder: "loop" or the generator's decoder, dtype)
GENERATION_VARIANTS = {
    "loop fp32 (one prompt at a time)": ("loop", "float32"),
    "loop bf16": ("loop", "bfloat16"),
    "padded batches bf16 (generate)": ("padded", "bfloat16"),
    "continuous batching fp32": ("continuous", "float32"),
    "continuous batching bf16 (ours)": ("continuous", "bfloat16"),
}
BASELINE_GENERATION = "loop fp32 (one prompt at a time)"
CANDIDATE_GENERATION = "continuous batching bf16 (ours)"
GENERATION_TARGET = 5.0


# ------------------------------------------------------------------------------------------- child processes


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def train_plain_trl(task: dict) -> dict:
    """The baseline: a plain TRL script, DPOConfig defaults apart from what makes the runs comparable."""
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from trl import DPOConfig, DPOTrainer

    from nova_dpo.platforms.local.local_config import LLAMA_LINEAR_MODULES
    from nova_dpo.platforms.local.model import load_model_and_tokenizer
    from nova_dpo.platforms.local.preference_data import read_preference_rows

    torch.manual_seed(SEED)
    model, tokenizer = load_model_and_tokenizer(task["model"], dtype="float32")
    args = DPOConfig(
        output_dir=task["out"],
        use_cpu=True,
        bf16=False,  # DPOConfig defaults to bf16=True, which a plain CPU script would turn off
        per_device_train_batch_size=MICRO_BATCH,
        gradient_accumulation_steps=task["accumulation"],
        learning_rate=LEARNING_RATE,
        beta=BETA,
        max_steps=task["steps"],
        logging_steps=1,
        report_to="none",
        save_strategy="no",
        seed=SEED,
    )
    lora = LoraConfig(
        r=LORA_RANK,
        lora_alpha=LORA_ALPHA,
        lora_dropout=0.0,
        target_modules=list(LLAMA_LINEAR_MODULES),
        task_type="CAUSAL_LM",
    )
    trainer = DPOTrainer(
        model=model,
        args=args,
        train_dataset=Dataset.from_list(read_preference_rows(task["train"], task["rows"])),
        processing_class=tokenizer,
        peft_config=lora,
    )
    started = time.perf_counter()
    result = trainer.train()
    seconds = time.perf_counter() - started
    merged = Path(task["out"]) / "merged"
    trainer.model.merge_and_unload().save_pretrained(merged)
    tokenizer.save_pretrained(merged)
    return {"steps": result.global_step, "seconds": seconds, "model_dir": str(merged)}


def train_ours(task: dict) -> dict:
    from nova_dpo.platforms.local.local_config import LocalTrainingOptions
    from nova_dpo.platforms.local.training import MERGED_DIR, train

    training_config = {
        "max_length": 4096,
        "global_batch_size": MICRO_BATCH * task["accumulation"],
        "trainer": {"max_epochs": 1},
        "model": {
            "optim": {"lr": LEARNING_RATE, "weight_decay": 0.0, "sched": {"warmup_steps": 0, "min_lr": 0.0}},
            "dpo_cfg": {"beta": BETA},
            "peft": {
                "peft_scheme": "lora",
                "lora_tuning": {"alpha": LORA_ALPHA, "adapter_dropout": 0.0, "loraplus_lr_ratio": 0.0},
            },
        },
    }
    options = LocalTrainingOptions(
        lora_rank=LORA_RANK,
        max_steps=task["steps"],
        max_rows=task["rows"],
        max_per_device_batch_size=MICRO_BATCH,
        seed=SEED,
        **task["options"],
    )
    summary = train(training_config, options, task["train"], None, task["model"], task["out"])
    # train_seconds covers trainer.train() and nothing else, as the baseline's timing does.
    return {
        "steps": summary["global_steps"],
        "seconds": summary["train_seconds"],
        "model_dir": str(Path(task["out"]) / MERGED_DIR),
    }


def evaluate(task: dict) -> dict:
    """gen_qa scores of a trained model on the held-out prompts (the same settings for every model)."""
    from nova_dpo.platforms.local.generation import run_gen_qa
    from nova_dpo.platforms.local.local_config import LocalEvaluationOptions

    options = LocalEvaluationOptions(
        max_rows=task["rows"], max_new_tokens=task["max_new_tokens"], dtype="float32"
    )
    summary = run_gen_qa(task["model"], Path(task["gen_qa"]), Path(task["out"]), {}, options)
    return {"results_path": summary["results_path"], "metrics": summary["metrics"]}


def generate(task: dict) -> dict:
    from nova_dpo.platforms.local.generation import gen_qa_messages, read_gen_qa
    from nova_dpo.platforms.local.text_generator import InferenceSettings, TextGenerator

    rows = read_gen_qa(task["gen_qa"], task["prompts"])
    chats = [gen_qa_messages(row) for row in rows]
    generator = TextGenerator.load(task["model"], dtype=task["dtype"])
    settings = InferenceSettings(max_new_tokens=task["max_new_tokens"])

    def run(chats: list, settings: InferenceSettings) -> int:
        if task["decoder"] == "loop":
            return sum(_plain_generate(generator, chat, settings.max_new_tokens) for chat in chats)
        replies = generator.generate(chats, settings, batch_size=task["batch_size"], decoder=task["decoder"])
        return sum(reply.new_tokens for reply in replies)

    run(chats[:1], InferenceSettings(max_new_tokens=4))  # untimed warm-up
    started = time.perf_counter()
    tokens = run(chats, settings)
    return {"tokens": tokens, "seconds": time.perf_counter() - started}


def _plain_generate(generator, chat: list[dict], max_new_tokens: int) -> int:
    """One prompt through ``model.generate`` as a plain script does; the new tokens up to and with EOS."""
    import torch

    ids = torch.tensor([generator.prompt_ids(chat)])
    with torch.inference_mode():
        output = generator.model.generate(
            ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=max_new_tokens,
            do_sample=False,
            pad_token_id=generator.pad_token_id,
            eos_token_id=generator.eos_token_ids,
        )
    return output.shape[1] - ids.shape[1]


CHILD_TASKS = {"plain_trl": train_plain_trl, "ours": train_ours, "evaluate": evaluate, "generate": generate}


def child(kind: str, task_json: str) -> None:
    result = CHILD_TASKS[kind](json.loads(task_json))
    print(json.dumps({**result, "peak_rss_mib": _peak_rss_mib()}))


def run_child(kind: str, task: dict) -> dict:
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "PYTHONPATH": os.pathsep.join(
            [str(REPO / "include"), str(REPO / "plugins"), os.environ.get("PYTHONPATH", "")]
        ),
    }
    command = [sys.executable, __file__, "--child", kind, json.dumps(task)]
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode:
        raise RuntimeError(f"{kind} failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------------------------------- parent


def prepare_data(folder: Path, rows: int) -> tuple[Path, Path]:
    """Synthetic When2Call pairs prepared as Nova DPO files: (train.jsonl, gen_qa.jsonl)."""
    sys.path[:0] = [str(REPO / "include")]
    from nova_dpo.data import storage
    from nova_dpo.data.prepare import prepare_dataset
    from nova_dpo.data.synthesize import write_synthetic

    write_synthetic(folder / "source", rows, 7, (dt.date(2026, 1, 5),))
    prepared = prepare_dataset(str(folder / "source"), folder / "store")
    root = storage.as_path(prepared.uri)
    return Path(root / "train.jsonl"), Path(root / "gen_qa.jsonl")


def held_out_comparison(candidate_results: str, baseline_results: str) -> dict:
    from nova_dpo.gate import compare_results
    from nova_dpo.gate_rules import GateRules

    table, examples, _ = compare_results(
        json.loads(Path(candidate_results).read_text()),
        json.loads(Path(baseline_results).read_text()),
        GateRules(),
    )
    return {
        "examples": examples,
        **{name: table[name] for name in ("tool_call_f1", "f1_score") if name in table},
    }


def _fmt_interval(row) -> str:
    if row is None or not row.has_interval:
        return "n/a"
    return f"{row.difference:+.3f} [{row.ci_low:+.3f}, {row.ci_high:+.3f}]"


def bench_training(args: argparse.Namespace, train_path: Path, gen_qa: Path, work: Path) -> bool:
    accumulation = args.global_batch // MICRO_BATCH
    print(
        f"\n(a) DPO training: {args.steps} optimizer steps of {args.global_batch} pairs "
        f"(micro-batch {MICRO_BATCH} x {accumulation}), model {args.model}; held-out: {args.eval_rows} prompts"
    )
    results = {}
    for name, options in TRAINING_VARIANTS.items():
        if (
            args.variants
            and name not in args.variants
            and name not in (BASELINE_TRAINING, CANDIDATE_TRAINING)
        ):
            continue
        out = work / f"train-{len(results)}"
        task = {
            "model": args.model,
            "train": str(train_path),
            "rows": args.global_batch * args.steps,
            "steps": args.steps,
            "accumulation": accumulation,
            "out": str(out),
        }
        kind = "plain_trl" if options is None else "ours"
        if options is not None:
            task["options"] = {"gradient_checkpointing": True, **options}
        measured = run_child(kind, task)
        if name in (BASELINE_TRAINING, CANDIDATE_TRAINING):
            scores = run_child(
                "evaluate",
                {
                    "model": measured["model_dir"],
                    "gen_qa": str(gen_qa),
                    "rows": args.eval_rows,
                    "max_new_tokens": args.max_new_tokens,
                    "out": str(out / "eval"),
                },
            )
            measured |= scores
        results[name] = measured

    base = results[BASELINE_TRAINING]
    base_rate = base["steps"] / base["seconds"]
    header = f"{'variant':<42} {'steps/s':>9} {'vs plain':>9} {'peak RSS':>10} {'tool_call_f1':>13} {'f1_score':>9}"
    print(header)
    print("-" * len(header))
    for name, row in results.items():
        rate = row["steps"] / row["seconds"]
        metrics = row.get("metrics", {})
        # tool_call_f1 is undefined (absent) when neither gold nor model calls a tool.
        f1s = (
            f"{metrics.get('tool_call_f1', float('nan')):>13.3f} {metrics.get('f1_score', float('nan')):>9.3f}"
            if metrics
            else f"{'':>13} {'':>9}"
        )
        print(f"{name:<42} {rate:>9.4f} {rate / base_rate:>8.2f}x {row['peak_rss_mib']:>7.0f} MiB {f1s}")
    comparison = held_out_comparison(results[CANDIDATE_TRAINING]["results_path"], base["results_path"])
    print(
        f"held-out, ours (demo) - plain TRL over {comparison['examples']} paired prompts, difference [95% CI]: "
        f"tool_call_f1 {_fmt_interval(comparison.get('tool_call_f1'))}, "
        f"f1_score {_fmt_interval(comparison.get('f1_score'))}"
    )
    speedup = (results[CANDIDATE_TRAINING]["steps"] / results[CANDIDATE_TRAINING]["seconds"]) / base_rate
    compared = [
        row
        for row in (comparison.get("tool_call_f1"), comparison.get("f1_score"))
        if row and row.has_interval
    ]
    if not compared:
        accuracy = "could not be compared (no per-example scores)"
    elif all(row.ci_low <= 0 <= row.ci_high for row in compared):
        accuracy = "within noise of the plain TRL model (every interval holds 0)"
    else:
        accuracy = "DIFFER from the plain TRL model (an interval excludes 0)"
    met = speedup >= 1.5
    print(
        f"target training >= 1.5x plain TRL: {'met' if met else 'NOT met'} ({speedup:.2f}x); held-out metrics {accuracy}"
    )
    return met


def bench_generation(args: argparse.Namespace, gen_qa: Path) -> bool:
    print(
        f"\n(b) generation: {args.gen_prompts} gen_qa prompts, greedy, up to {args.max_new_tokens} new tokens, "
        f"batches of {args.gen_batch}, model {args.model}"
    )
    results = {}
    for name, (decoder, dtype) in GENERATION_VARIANTS.items():
        task = {
            "model": args.model,
            "gen_qa": str(gen_qa),
            "prompts": args.gen_prompts,
            "batch_size": args.gen_batch,
            "decoder": decoder,
            "dtype": dtype,
            "max_new_tokens": args.max_new_tokens,
        }
        results[name] = run_child("generate", task)
    base_rate = results[BASELINE_GENERATION]["tokens"] / results[BASELINE_GENERATION]["seconds"]
    header = (
        f"{'variant':<34} {'new tokens':>10} {'seconds':>8} {'tokens/s':>9} {'vs loop':>8} {'peak RSS':>10}"
    )
    print(header)
    print("-" * len(header))
    for name, row in results.items():
        rate = row["tokens"] / row["seconds"]
        print(
            f"{name:<34} {row['tokens']:>10} {row['seconds']:>8.1f} {rate:>9.1f} {rate / base_rate:>7.2f}x "
            f"{row['peak_rss_mib']:>7.0f} MiB"
        )
    ours = results[CANDIDATE_GENERATION]
    speedup = ours["tokens"] / ours["seconds"] / base_rate
    met = speedup >= GENERATION_TARGET
    print(
        f"target generation >= {GENERATION_TARGET:.0f}x the loop: {'met' if met else 'NOT met'} ({speedup:.2f}x)"
    )
    return met


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3])
        return 0
    sys.path[:0] = [str(REPO / "include")]
    from nova_dpo.platforms.local.local_config import DEFAULT_BATCH_SIZE

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="smollm2-135m-instruct", help="model name or folder")
    parser.add_argument("--steps", type=int, default=2, help="optimizer steps per training variant")
    parser.add_argument("--global-batch", type=int, default=16, help="pairs per optimizer step")
    parser.add_argument("--eval-rows", type=int, default=48, help="held-out prompts scored per trained model")
    parser.add_argument("--gen-prompts", type=int, default=16, help="prompts of the generation benchmark")
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument(
        "--gen-batch",
        type=int,
        default=DEFAULT_BATCH_SIZE,
        help="rows decoded together (the project's default)",
    )
    parser.add_argument("--rows", type=int, default=1000, help="synthetic pairs to prepare")
    parser.add_argument(
        "--variants",
        nargs="*",
        help="training variants to run besides the baseline and the demo's (default: all)",
    )
    parser.add_argument("--skip", choices=("training", "generation"), help="leave one half out")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    with tempfile.TemporaryDirectory(prefix="bench-local-") as scratch:
        work = Path(scratch)
        train_path, gen_qa = prepare_data(work, args.rows)
        print(f"machine: {os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.2f} at the start")
        met = True
        if args.skip != "training":
            met &= bench_training(args, train_path, gen_qa, work)
        if args.skip != "generation":
            met &= bench_generation(args, gen_qa)
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
