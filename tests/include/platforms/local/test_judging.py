"""Judges for the llm_judge protocol: an OpenAI-compatible endpoint (a real HTTP server on 127.0.0.1 started
here) and the bundled local model (the tiny random model stands in for it)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nova_dpo.cli import main
from nova_dpo.evaluation.judge_stats import PairOutcome
from nova_dpo.evaluation.results import LLM_JUDGE_TASK, read_results
from nova_dpo.platforms.local import judging
from nova_dpo.platforms.local.credentials import JUDGE_API_KEY_ENV
from nova_dpo.platforms.local.generation import LocalEvaluationOptions, TextGenerator, run_evaluation_job
from nova_dpo.platforms.local.judging import (
    SMALL_JUDGE_WARNING,
    EndpointJudge,
    JudgeRequestError,
    LocalJudge,
    chat_completions_url,
    judge_results,
    judge_with,
    make_judge,
    url_without_credentials,
)
from tests.judge_server import JudgeServer

JUDGE_RECIPE = {
    "run": {"name": "tiny-llm-judge-eval"},
    "evaluation": {"task": "llm_judge", "strategy": "judge", "metric": "all"},
    "inference": {"top_k": 50, "top_p": 1.0, "temperature": 0, "top_logprobs": 0},
}


def pairs(count: int, broken: int | None = None) -> list[dict[str, str]]:
    return [
        {
            "prompt": f"Question {index}{' BROKEN' if index == broken else ''}",
            "response_A": f"baseline answer {index}",
            "response_B": f"candidate answer {index}",
        }
        for index in range(count)
    ]


def test_chat_completions_url():
    assert chat_completions_url("http://h:8000/v1") == "http://h:8000/v1/chat/completions"
    assert chat_completions_url("http://h:11434/") == "http://h:11434/v1/chat/completions"
    assert chat_completions_url("https://h/api/chat/completions") == "https://h/api/chat/completions"
    assert url_without_credentials("https://user:secret@h:8443/v1") == "https://h:8443/v1"
    with pytest.raises(ValueError, match="http"):
        chat_completions_url("h:8000")


def test_endpoint_judge_candidate_wins_both_orders(judge_server: JudgeServer):
    judge = EndpointJudge(judge_server.url, model="judge-1", retry_backoff_s=0)
    document = judge_results(judge, pairs(3))
    judge.close()

    metrics = document["results"][LLM_JUDGE_TASK]
    assert (metrics["a_scores"], metrics["b_scores"], metrics["ties"], metrics["inference_error"]) == (
        0,
        6,
        0,
        0,
    )
    assert metrics["score"] == 6
    assert metrics["winrate"] == metrics["lower_rate"] == metrics["upper_rate"] == 1.0
    assert [row["forward"] for row in document["per_example"]] == ["B"] * 3
    assert [row["backward"] for row in document["per_example"]] == ["A"] * 3
    assert len(judge_server.requests) == 6
    request = judge_server.requests[0]
    assert (request["model"], request["temperature"], request["max_tokens"]) == ("judge-1", 0.0, 512)
    assert request["authorization"] is None
    assert document["config_general"]["judge"] == f"{judge_server.url}/chat/completions"
    assert "judge_warning" not in document["config_general"]


def test_server_errors_are_counted_as_inference_errors_after_retries(judge_server: JudgeServer):
    judge = EndpointJudge(judge_server.url, model="judge-1", retries=1, retry_backoff_s=0)
    outcomes = judge_with(judge, pairs(3, broken=1))
    judge.close()

    assert [(o.forward, o.backward) for o in outcomes] == [("B", "A"), ("error", "error"), ("B", "A")]
    assert "500" in outcomes[1].forward_output
    broken = [r for r in judge_server.requests if "BROKEN" in r["messages"][0]["content"]]
    assert len(broken) == 4, "two passes, each tried twice"


def test_a_busy_server_is_retried_after_the_wait_it_asks_for(judge_server: JudgeServer, monkeypatch):
    busy = [{"prompt": "BUSY question", "response_A": "baseline answer", "response_B": "candidate answer"}]
    waits: list[float] = []
    # The judge's waits between tries, recorded instead of slept (time.sleep of the whole process; nothing
    # else in this test sleeps).
    monkeypatch.setattr(judging.time, "sleep", waits.append)
    # A backoff of 10 s that the server's Retry-After: 0 overrides.
    judge = EndpointJudge(judge_server.url, model="judge-1", retries=1, retry_backoff_s=10)
    [outcome] = judge_with(judge, busy)
    judge.close()

    assert (outcome.forward, outcome.backward) == ("B", "A")
    assert len(judge_server.requests) == 4, "each pass tried twice"
    assert waits == [0.0, 0.0], "one wait per pass, as long as Retry-After asked"


def test_a_judge_that_never_answers_fails_the_run():
    # Nothing listens on port 9 (discard) of 127.0.0.1 here: every call fails to connect.
    judge = EndpointJudge("http://127.0.0.1:9/v1", model="m", retries=0, timeout_s=2)
    with pytest.raises(JudgeRequestError, match="ConnectError"):
        judge_with(judge, pairs(1))
    judge.close()


def test_make_judge_sends_the_key_it_is_given_and_finds_the_model(judge_server: JudgeServer):
    options = LocalEvaluationOptions(judge=judge_server.url)
    judge = make_judge(options, JUDGE_RECIPE["inference"], api_key="sk-test")
    assert isinstance(judge, EndpointJudge)
    assert judge.model == "judge-1"
    assert judge("[[A]] or [[B]]? baseline answer / candidate answer") == "B is more helpful. [[B]]"
    judge.close()
    assert judge_server.requests[-1]["authorization"] == "Bearer sk-test"
    assert "sk-test" not in json.dumps(judge.describe())


def test_no_option_names_a_variable_to_send():
    """A job's options come from a run's params: none of them may name where a secret is read from."""
    with pytest.raises(ValueError, match="Unknown local evaluation option"):
        LocalEvaluationOptions.from_dict({"judge": "http://127.0.0.1:9/v1", "judge_api_key_env": "HOME"})


def _judge_job_spec(data: Path, url: str) -> dict:
    return {
        "task": "llm_judge",
        "recipe": JUDGE_RECIPE,
        "data_path": str(data),
        "local": {"judge": url, "judge_model": "judge-1", "max_rows": 1},
    }


def test_llm_judge_job_sends_only_the_key_of_its_credential_variable(
    judge_server: JudgeServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    data = tmp_path / "llm_judge.jsonl"
    data.write_text(json.dumps(pairs(1)[0]) + "\n", encoding="utf-8")

    monkeypatch.delenv(JUDGE_API_KEY_ENV, raising=False)
    run_evaluation_job(_judge_job_spec(data, judge_server.url), tmp_path / "anonymous", lambda _: None)
    assert {request["authorization"] for request in judge_server.requests} == {None}

    monkeypatch.setenv(JUDGE_API_KEY_ENV, "sk-judge")
    run_evaluation_job(_judge_job_spec(data, judge_server.url), tmp_path / "keyed", lambda _: None)
    assert judge_server.requests[-1]["authorization"] == "Bearer sk-judge"
    written = "".join(path.read_text(errors="replace") for path in tmp_path.rglob("*") if path.is_file())
    assert "sk-judge" not in written


def test_llm_judge_job_writes_novas_layout(judge_server: JudgeServer, tmp_path: Path):
    data = tmp_path / "llm_judge.jsonl"
    data.write_text("".join(json.dumps(pair) + "\n" for pair in pairs(4)), encoding="utf-8")
    spec = {
        "task": "llm_judge",
        "recipe": JUDGE_RECIPE,
        "data_path": str(data),
        "local": {"judge": judge_server.url, "judge_model": "judge-1", "max_rows": 3},
    }

    reports: list[dict] = []
    result = run_evaluation_job(spec, tmp_path / "out", reports.append)

    eval_results = tmp_path / "out" / "tiny-llm-judge-eval" / "eval_results"
    parsed = read_results(eval_results)
    assert Path(result["results_path"]).parent == eval_results
    assert parsed.task == LLM_JUDGE_TASK
    assert parsed.metrics["b_scores"] == 6
    assert parsed.metrics["winrate"] == 1.0
    assert len(parsed.per_example) == 3
    assert reports[-1]["rows_done"] == reports[-1]["rows_total"] == 6, "3 pairs, 2 orders each"


def test_judge_command_round_trip(
    judge_server: JudgeServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    data = tmp_path / "llm_judge.jsonl"
    data.write_text("".join(json.dumps(pair) + "\n" for pair in pairs(2, broken=0)), encoding="utf-8")
    out = tmp_path / "judge.json"

    code = main(
        ["judge", "--pairs", str(data), "--out", str(out), "--judge", judge_server.url, "--retries", "0"]
    )

    assert code == 0
    printed = capsys.readouterr().out
    assert "winrate" in printed
    assert {request["authorization"] for request in judge_server.requests} == {None}
    assert "2 pairs judged by judge-1" in printed
    metrics = read_results(out).metrics
    assert (metrics["b_scores"], metrics["inference_error"]) == (2, 2)


def test_judge_command_reads_the_key_from_the_variable_its_user_names(
    judge_server: JudgeServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    data = tmp_path / "llm_judge.jsonl"
    data.write_text(json.dumps(pairs(1)[0]) + "\n", encoding="utf-8")
    command = [
        "judge",
        "--pairs",
        str(data),
        "--out",
        str(tmp_path / "judge.json"),
        "--judge",
        judge_server.url,
    ]

    with pytest.raises(SystemExit, match=r"\$CLI_JUDGE_KEY, which is not set"):
        main([*command, "--api-key-env", "CLI_JUDGE_KEY"])
    monkeypatch.setenv("CLI_JUDGE_KEY", "sk-cli")
    assert main([*command, "--api-key-env", "CLI_JUDGE_KEY"]) == 0
    assert judge_server.requests[-1]["authorization"] == "Bearer sk-cli"


def test_local_judge_answers_in_verdict_brackets_and_says_it_is_weak(tiny_model_dir: Path):
    judge = LocalJudge(TextGenerator.load(tiny_model_dir, dtype="float32"), batch_size=4)
    document = judge_results(judge, pairs(2))

    rows = document["per_example"]
    assert all(row["forward_output"].startswith("[[") for row in rows)
    assert all(row["backward_output"].startswith("[[") for row in rows)
    counts = document["results"][LLM_JUDGE_TASK]
    assert counts["a_scores"] + counts["b_scores"] + counts["ties"] + counts["inference_error"] == 4
    assert document["config_general"]["judge_warning"] == SMALL_JUDGE_WARNING
    assert "135M" in SMALL_JUDGE_WARNING


# ------------------------------------------------------------------------------- calibration and references

TOOLS = (
    '<tools>{"tools": [{"toolSpec": {"name": "get_weather"}}, {"toolSpec": {"name": "book_taxi"}}]}</tools>'
)


def referenced_pairs(count: int) -> list[dict[str, str]]:
    """Pairs as a local run writes them: each with the test set's reference, system prompt and behaviour."""
    return [
        {
            **pair,
            "reference": json.dumps({"name": "get_weather", "parameters": {"city": f"City {index}"}}),
            "system": TOOLS,
            "category": "tool_call",
        }
        for index, pair in enumerate(pairs(count))
    ]


def test_answer_log_probs_are_the_mean_log_probability_of_a_full_forward(tiny_model_dir: Path):
    import torch

    generator = TextGenerator.load(tiny_model_dir, dtype="float32")
    chat = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Weather in Oslo?"}]
    answers = ["Sunny.", '{"name": "get_weather", "parameters": {"city": "Oslo"}}', "Sunny."]

    scores = generator.answer_log_probs(chat, answers)

    prompt = generator.prompt_ids(chat)
    for answer, score in zip(answers, scores, strict=True):
        scored = (
            generator.tokenizer(answer, add_special_tokens=False)["input_ids"] + generator.eos_token_ids[:1]
        )
        with torch.no_grad():
            logits = generator.model(input_ids=torch.tensor([prompt + scored])).logits[0].float()
        expected = (
            logits[len(prompt) - 1 : -1].log_softmax(-1).gather(-1, torch.tensor(scored)[:, None]).mean()
        )
        assert score == pytest.approx(float(expected), abs=1e-4)
    assert scores[0] == pytest.approx(scores[2], abs=1e-6), "the cache is cut back between answers"


def test_the_reference_guided_judge_scores_each_answer_alone_so_both_orders_agree(tiny_model_dir: Path):
    judge = judging.ReferenceGuidedJudge(TextGenerator.load(tiny_model_dir, dtype="float32"))
    same = {**referenced_pairs(1)[0], "response_B": referenced_pairs(1)[0]["response_A"]}

    document = judge_results(judge, [*referenced_pairs(3), same])

    rows = document["per_example"]
    assert all(PairOutcome.from_row(row).backward_unswapped == row["forward"] for row in rows)
    assert rows[-1]["forward"] == "tie"
    assert all("given the reference" in row["forward_output"] for row in rows)
    general = document["config_general"]
    assert general["judge"] == judging.REFERENCE_JUDGE
    assert "judge_warning" not in general
    calibration = general["judge_calibration"]
    # Four references, three corruptions of each call.
    assert calibration["pairs"] == 12
    assert set(calibration["per_kind"]) == {"wrong_tool", "wrong_argument", "question_instead_of_call"}


class PositionJudge:
    """Answers "[[B]]" to every judge prompt: the position bias of a weak judge, in its purest form."""

    def replies(self, prompts):
        return ["[[B]]" for _ in prompts]

    def describe(self):
        return {"judge": "position"}


def test_a_judge_that_picks_by_position_is_reported_uncalibrated():
    document = judge_results(PositionJudge(), referenced_pairs(4))
    calibration = document["config_general"]["judge_calibration"]
    assert (calibration["reference_second"], calibration["reference_first"]) == (1.0, 0.0)
    assert calibration["calibrated"] is False
    # Without references nothing is calibrated, and nothing says it was.
    assert "judge_calibration" not in judge_results(PositionJudge(), pairs(4))["config_general"]


def test_the_llm_judge_job_judges_guided_by_references_when_the_pairs_carry_them(
    tiny_model_dir: Path, tmp_path: Path
):
    data = tmp_path / "llm_judge.jsonl"
    data.write_text("".join(json.dumps(pair) + "\n" for pair in referenced_pairs(2)))
    spec = {
        "task": "llm_judge",
        "recipe": JUDGE_RECIPE,
        "data_path": str(data),
        "local": {"judge": "local", "judge_model": str(tiny_model_dir), "dtype": "float32"},
    }
    result = run_evaluation_job(spec, tmp_path / "job", lambda _: None)
    general = read_results(result["results_path"]).config
    assert general["judge"] == judging.REFERENCE_JUDGE
    assert general["judge_calibration"]["pairs"] == 6


def test_the_judge_command_calibrates_and_judges_guided_by_references(tiny_model_dir: Path, tmp_path: Path):
    data = tmp_path / "llm_judge.jsonl"
    data.write_text("".join(json.dumps(pair) + "\n" for pair in referenced_pairs(2)))
    out = tmp_path / "results.json"
    command = ["judge", "--pairs", str(data), "--out", str(out), "--judge-model", str(tiny_model_dir)]
    assert main([*command, "--dtype", "float32"]) == 0
    general = read_results(out).config
    assert general["judge"] == judging.REFERENCE_JUDGE
    assert general["judge_calibration"]["pairs"] == 6
