"""Batched generation and the local evaluation job, on the tiny random model."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from nova_dpo.cli import main
from nova_dpo.evaluation.gen_qa_metrics import GEN_QA_METRICS, read_inference_output
from nova_dpo.evaluation.results import GEN_QA_TASK, read_results
from nova_dpo.platforms.local.generation import (
    gen_qa_messages,
    generate_inference_output,
    run_evaluation_job,
    split_turns,
)
from nova_dpo.platforms.local.local_config import LocalEvaluationOptions
from nova_dpo.platforms.local.model import TINY_RANDOM_MODEL
from nova_dpo.platforms.local.text_generator import InferenceSettings, TextGenerator

PROMPTS = (
    "Hi",
    "What is the weather in Paris today? Please answer in one short sentence.",
    "Oslo?",
    "List three colours, then three animals, then three cities in Europe.",
    "Hello there",
)
GEN_QA_RECIPE = {
    "run": {"name": "tiny-gen-qa-eval"},
    "evaluation": {"task": "gen_qa", "strategy": "gen_qa", "metric": "all"},
    "inference": {"max_new_tokens": 8196, "top_k": -1, "top_p": 1.0, "temperature": 0, "top_logprobs": 0},
}


def gen_qa_rows() -> list[dict]:
    return [
        {
            "system": "You may call tools.",
            "query": prompt if index % 2 else f"##User: Hi\n##Assistant: Hello!\n##User: {prompt}",
            "response": f"answer {index}",
            "metadata": json.dumps({"prompt_id": f"p{index}"}),
        }
        for index, prompt in enumerate(PROMPTS)
    ]


def test_split_turns_reads_the_samples_multi_turn_markup():
    assert split_turns("What now?") == [{"role": "user", "content": "What now?"}]
    assert split_turns("##User: Hi\nthere\n##Assistant: Hello!\n##User: Weather?") == [
        {"role": "user", "content": "Hi\nthere"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "Weather?"},
    ]
    assert gen_qa_messages({"query": "Q", "system": ""}) == [{"role": "user", "content": "Q"}]
    assert gen_qa_messages({"query": "Q", "system": "S"})[0] == {"role": "system", "content": "S"}


def test_inference_settings_follow_the_recipe(caplog: pytest.LogCaptureFixture):
    settings = InferenceSettings.from_recipe(GEN_QA_RECIPE["inference"])
    assert settings == InferenceSettings(max_new_tokens=8196, temperature=0.0, top_k=-1, top_p=1.0)
    assert settings.greedy
    config = settings.generation_config(64, pad_token_id=2, eos_token_ids=[2])
    assert (config.do_sample, config.max_new_tokens) == (False, 64)

    with caplog.at_level(logging.INFO):
        capped = InferenceSettings.from_recipe({"max_new_tokens": 100, "top_logprobs": 5}, max_new_tokens=16)
    assert capped.max_new_tokens == 16
    assert "top_logprobs=5 is ignored" in caplog.text
    sampling = InferenceSettings.from_recipe({"temperature": 0.7, "top_k": -1, "top_p": 0.9})
    config = sampling.generation_config(8, pad_token_id=2, eos_token_ids=[2])
    assert (config.do_sample, config.temperature, config.top_k, config.top_p) == (True, 0.7, 0, 0.9)
    with pytest.raises(ValueError, match="Unknown key"):
        InferenceSettings.from_recipe({"max_tokens": 5})
    with pytest.raises(ValueError, match="top_p"):
        InferenceSettings(top_p=0)


def test_left_padded_batches_match_one_at_a_time_and_keep_input_order(generator: TextGenerator):
    chats = [[{"role": "user", "content": prompt}] for prompt in PROMPTS]
    settings = InferenceSettings(max_new_tokens=10)
    lengths = [len(generator.prompt_ids(chat)) for chat in chats]
    assert lengths != sorted(lengths, reverse=True), "the batches must reorder the prompts"

    batched = generator.generate(chats, settings, batch_size=3)
    alone = [generator.generate([chat], settings, batch_size=1)[0] for chat in chats]

    assert len({reply.text for reply in alone}) == len(chats), "replies must differ to prove the order"
    assert batched == alone


def test_inference_output_has_novas_fields(generator: TextGenerator, tmp_path: Path):
    rows = gen_qa_rows()
    out = tmp_path / "inference_output.jsonl"
    records = generate_inference_output(
        generator, rows, InferenceSettings(max_new_tokens=4), out, batch_size=2
    )

    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert lines == records
    for row, line in zip(rows, lines, strict=True):
        assert set(line) == {"prompt", "inference", "gold", "metadata", "system"}
        assert line["system"] == row.get("system")
        assert line["prompt"] == row["query"]
        assert line["gold"] == row["response"]
        assert line["metadata"] == row["metadata"]
        assert isinstance(line["inference"], list)
        assert len(line["inference"]) == 1
    assert [record.gold for record in read_inference_output(out)] == [row["response"] for row in rows]


def test_sampling_is_seeded(generator: TextGenerator):
    chats = [[{"role": "user", "content": prompt}] for prompt in PROMPTS[:2]]
    settings = InferenceSettings(max_new_tokens=6, temperature=1.0, top_k=20)
    assert generator.generate(chats, settings, seed=3) == generator.generate(chats, settings, seed=3)


def test_eval_job_writes_novas_layout(tmp_path: Path, tiny_model_dir: Path):
    data = tmp_path / "gen_qa.jsonl"
    data.write_text("".join(json.dumps(row) + "\n" for row in gen_qa_rows()), encoding="utf-8")
    reports: list[dict] = []
    spec = {
        "task": "gen_qa",
        "recipe": GEN_QA_RECIPE,
        "model": TINY_RANDOM_MODEL,
        "data_path": data.as_uri(),
        "local": {"max_new_tokens": 4, "batch_size": 2, "dtype": "float32", "max_rows": 4},
    }

    result = run_evaluation_job(spec, tmp_path / "out", reports.append)

    eval_results = tmp_path / "out" / "tiny-gen-qa-eval" / "eval_results"
    assert Path(result["inference_output_path"]) == eval_results / "inference_output.jsonl"
    assert len(read_inference_output(eval_results / "inference_output.jsonl")) == 4
    [results_file] = eval_results.glob("results_*.json")
    assert Path(result["results_path"]) == results_file
    parsed = read_results(eval_results)
    assert parsed.task == GEN_QA_TASK
    assert set(GEN_QA_METRICS) <= set(parsed.metrics)
    assert parsed.config["inference"]["max_new_tokens"] == 4
    assert parsed.config["dtype"] == "float32"
    assert len(parsed.per_example) == 4
    assert reports[-1]["rows_done"] == reports[-1]["rows_total"] == 4
    assert {"tokens_per_second", "eta_seconds"} <= set(reports[-1])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"extra": 1}, "Unknown key"),
        ({"task": "mcq"}, "task must be one of"),
        ({"task": "llm_judge"}, "evaluation.task is 'gen_qa'"),
        ({"local": {"batch": 2}}, "Unknown local evaluation option"),
        ({"recipe": {"inference": {}}}, "run.name"),
    ],
)
def test_eval_job_spec_errors_say_what_to_fix(tmp_path: Path, change: dict, message: str):
    spec = {"task": "gen_qa", "recipe": GEN_QA_RECIPE, "model": TINY_RANDOM_MODEL, "data_path": "x.jsonl"}
    with pytest.raises(ValueError, match=message):
        run_evaluation_job({**spec, **change}, tmp_path, lambda _: None)


def test_options_reject_bad_values():
    with pytest.raises(ValueError, match="dtype must be one of auto"):
        LocalEvaluationOptions(dtype="float16")
    with pytest.raises(ValueError, match="batch_size"):
        LocalEvaluationOptions.from_dict({"batch_size": 0})


def test_generate_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    data = tmp_path / "gen_qa.jsonl"
    data.write_text("".join(json.dumps(row) + "\n" for row in gen_qa_rows()[:2]), encoding="utf-8")
    argv = ["generate", "--model", TINY_RANDOM_MODEL, "--data", str(data), "--out", str(tmp_path / "gen")]
    assert main([*argv, "--max-new-tokens", "3", "--batch-size", "2", "--dtype", "float32"]) == 0
    assert "2 replies written" in capsys.readouterr().out
    assert len(read_inference_output(tmp_path / "gen" / "inference_output.jsonl")) == 2
