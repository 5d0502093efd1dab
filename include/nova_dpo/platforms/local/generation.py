"""The local platform's evaluation job (Nova's gen_qa and llm_judge), and gen_qa generation.

A gen_qa job generates a reply to every row with the local model (:mod:`~nova_dpo.platforms.local.text_generator`)
and scores them with Nova's gen_qa metrics; an llm_judge job judges precomputed pairs
(:mod:`~nova_dpo.platforms.local.judging`). :func:`run_evaluation_job` is what the local job runner calls for an
evaluation job. Its output folder gets the layout of an extracted Nova evaluation ``output.tar.gz``::

    <run.name>/eval_results/inference_output.jsonl   (gen_qa: prompt, inference [one string], gold, metadata)
    <run.name>/eval_results/results_<timestamp>.json (Nova's results shape, plus per-example scores)
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from nova_dpo.evaluation.gen_qa_metrics import compute_gen_qa_metrics, inference_line, read_inference_output
from nova_dpo.evaluation.jsonl import read_jsonl_objects
from nova_dpo.evaluation.results import GEN_QA_TASK, build_results, results_filename, write_results
from nova_dpo.platforms.base import EVALUATION_TASKS, INFERENCE_OUTPUT_FILE
from nova_dpo.platforms.local.judging import run_llm_judge
from nova_dpo.platforms.local.local_config import DEFAULT_BATCH_SIZE, LocalEvaluationOptions
from nova_dpo.platforms.local.text_generator import (
    InferenceSettings,
    ProgressFn,
    TextGenerator,
)

log = logging.getLogger(__name__)

SPEC_KEYS = ("task", "recipe", "model", "data_path", "local")
EVAL_RESULTS_DIR = "eval_results"

# Turn markers of multi-turn gen_qa queries, as the AWS sample writes them ("##User: ...\n##Assistant: ...").
_TURN_MARKER = re.compile(r"(?:^|\n)##(User|Assistant): ?")
_ROLES = {"User": "user", "Assistant": "assistant"}


# ------------------------------------------------------------------------------------------------- prompts


def split_turns(query: str) -> list[dict[str, str]]:
    """The chat turns of a gen_qa ``query``: one user turn, or the turns of a ``##User:``/``##Assistant:``
    conversation (the AWS sample's markup for multi-turn prompts)."""
    if not query.startswith("##User:"):
        return [{"role": "user", "content": query}]
    # [role, text, role, text, ...] once the empty text before the first marker is dropped.
    parts = _TURN_MARKER.split(query)[1:]
    return [
        {"role": _ROLES[role], "content": text} for role, text in zip(parts[::2], parts[1::2], strict=True)
    ]


def gen_qa_messages(row: Mapping[str, Any]) -> list[dict[str, str]]:
    """The chat of one gen_qa row: its ``system`` (when not empty), then the turns of its ``query``."""
    system = row.get("system") or ""
    head = [{"role": "system", "content": system}] if system else []
    return head + split_turns(row["query"])


# -------------------------------------------------------------------------------------------- gen_qa files


def read_gen_qa(path: str | os.PathLike[str], max_rows: int | None = None) -> list[dict[str, Any]]:
    """The rows of a ``gen_qa.jsonl``: ``query``, ``response``, and optionally ``system`` and ``metadata``.

    ``images`` are dropped with a warning: the local models read text only.
    """
    rows = read_jsonl_objects(path, "gen_qa")[:max_rows]
    with_images = 0
    for number, row in enumerate(rows, start=1):
        for name in ("query", "response"):
            if not isinstance(row.get(name), str):
                raise ValueError(f"{path}: row {number} needs a string {name!r} (Nova's gen_qa format).")
        if not isinstance(row.get("system") or "", str):
            raise ValueError(f"{path}: row {number}: 'system' must be a string.")
        with_images += bool(row.get("images"))
    if with_images:
        log.warning(
            "%d gen_qa row(s) carry images; the local model reads text only, so they are ignored.",
            with_images,
        )
    if not rows:
        raise ValueError(f"{path} holds no gen_qa rows.")
    return rows


def write_jsonl(path: str | os.PathLike[str], records: Iterable[Mapping[str, Any]]) -> Path:
    """Write records as JSON lines, through a temporary file, so a reader never sees half a file."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = target.with_name(f".{target.name}.tmp")
    with scratch.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    os.replace(scratch, target)
    return target


def generate_inference_output(
    generator: TextGenerator,
    rows: Sequence[Mapping[str, Any]],
    settings: InferenceSettings,
    out_path: str | os.PathLike[str],
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: ProgressFn | None = None,
    seed: int = 0,
    decoder: str = "auto",
) -> list[dict[str, Any]]:
    """Generate a reply for every gen_qa row and write ``inference_output.jsonl``; returns its records."""
    replies = generator.generate(
        [gen_qa_messages(row) for row in rows],
        settings,
        batch_size,
        progress=progress,
        what="gen_qa",
        seed=seed,
        decoder=decoder,
    )
    unfinished = sum(not reply.finished for reply in replies)
    if unfinished:
        log.info(
            "%d of %d replies stopped at max_new_tokens=%d", unfinished, len(replies), settings.max_new_tokens
        )
    records = [inference_line(row, reply.text) for row, reply in zip(rows, replies, strict=True)]
    write_jsonl(out_path, records)
    return records


# ----------------------------------------------------------------------------------------------- the job


def eval_results_dir(output_dir: str | os.PathLike[str], recipe: Mapping[str, Any]) -> Path:
    """``<output_dir>/<run.name>/eval_results``, where Nova's evaluation output puts its files."""
    run = recipe.get("run") if isinstance(recipe.get("run"), Mapping) else {}
    name = run.get("name")
    if not isinstance(name, str) or not name or "/" in name or name in (".", ".."):
        raise ValueError(f"The evaluation recipe needs run.name (a plain folder name), got {name!r}.")
    return Path(output_dir) / name / EVAL_RESULTS_DIR


def _check_spec(spec: Mapping[str, Any]) -> str:
    unknown = sorted(set(spec) - set(SPEC_KEYS))
    if unknown:
        raise ValueError(
            f"Unknown key(s) {unknown} in an evaluation job's spec; it takes {', '.join(SPEC_KEYS)}."
        )
    task = spec.get("task")
    if task not in EVALUATION_TASKS:
        raise ValueError(f"Evaluation job task must be one of {', '.join(EVALUATION_TASKS)}, got {task!r}.")
    recipe_task = (spec.get("recipe") or {}).get("evaluation", {}).get("task")
    if recipe_task not in (None, task):
        raise ValueError(f"The job's task is {task!r} but its recipe's evaluation.task is {recipe_task!r}.")
    if not spec.get("data_path"):
        raise ValueError(f"An evaluation job needs data_path (the {task}.jsonl file).")
    if task == "gen_qa" and not spec.get("model"):
        raise ValueError("A gen_qa job needs model (a model name or folder).")
    return task


def _data_path(value: str) -> Path:
    # The runner may hand over a file:// URI (the local storage's URIs) as well as a plain path.
    return Path(value.removeprefix("file://")) if isinstance(value, str) else Path(value)


def run_evaluation_job(spec: dict[str, Any], output_dir: Path, progress: ProgressFn) -> dict[str, Any]:
    """Run a local evaluation job; the local job runner's entry point.

    :param spec: ``{"task": "gen_qa" | "llm_judge", "recipe": <evaluation recipe>, "model": <name or folder>,
        "data_path": <gen_qa.jsonl or llm_judge.jsonl>, "local": <LocalEvaluationOptions as a dict>}``.
        An llm_judge job judges precomputed pairs, so its ``model`` is only recorded.
    :return: ``task``, ``results_path``, ``inference_output_path`` (gen_qa), ``num_examples`` and the metrics.
    """
    task = _check_spec(spec)
    recipe = spec.get("recipe") or {}
    options = LocalEvaluationOptions.from_dict(spec.get("local"))
    results_dir = eval_results_dir(output_dir, recipe)
    data_path = _data_path(spec["data_path"])
    if task == "llm_judge":
        return run_llm_judge(data_path, results_dir, recipe, options, progress, model=spec.get("model"))
    return run_gen_qa(spec["model"], data_path, results_dir, recipe, options, progress)


def run_gen_qa(
    model: str,
    data_path: Path,
    results_dir: Path,
    recipe: Mapping[str, Any],
    options: LocalEvaluationOptions,
    progress: ProgressFn | None = None,
) -> dict[str, Any]:
    """Generate for every row of ``gen_qa.jsonl``, score with Nova's gen_qa metrics, write both files."""
    settings = InferenceSettings.from_recipe(recipe.get("inference"), options.max_new_tokens)
    rows = read_gen_qa(data_path, options.max_rows)
    generator = TextGenerator.load(model, options.dtype, options.device, options.torch_threads)
    started = time.monotonic()
    inference_path = results_dir / INFERENCE_OUTPUT_FILE
    generate_inference_output(
        generator, rows, settings, inference_path, options.batch_size, progress, options.seed, options.decoder
    )
    seconds = time.monotonic() - started
    scores = compute_gen_qa_metrics(read_inference_output(inference_path), seed=options.seed)
    config = {
        "model_name": str(model),
        "task": "gen_qa",
        "platform": "local",
        "num_examples": len(rows),
        "inference": dataclasses.asdict(settings),
        "dtype": generator.dtype,
        "device": generator.device,
        "batch_size": options.batch_size,
        "decoder": options.decoder,
        "generation_seconds": round(seconds, 1),
        "bootstrap_seed": options.seed,
    }
    results_path = write_results(
        results_dir / results_filename(),
        build_results(GEN_QA_TASK, scores.metrics, config, scores.per_example),
    )
    log.info("gen_qa results written to %s", results_path)
    return {
        "task": "gen_qa",
        "results_path": str(results_path),
        "inference_output_path": str(inference_path),
        "num_examples": len(rows),
        "metrics": scores.metrics,
    }
