import json
import math

import pytest
import sacrebleu

from nova_dpo.data.nova_format import gen_qa_record, system_prompt
from nova_dpo.data.when2call import PreferenceRow
from nova_dpo.evaluation.gen_qa_metrics import (
    GEN_QA_METRICS,
    InferenceRecord,
    compute_gen_qa_metrics,
    parse_metadata,
    read_inference_output,
)
from nova_dpo.evaluation.stats import mean_stderr

WEATHER_CALL = json.dumps({"name": "get_weather", "parameters": {"city": "Paris"}})
LINES = [
    {
        "prompt": "Weather in Paris?",
        "inference": [WEATHER_CALL],
        "gold": WEATHER_CALL,
        "metadata": json.dumps(
            {
                "category": "tool_call",
                "expected_tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}],
            }
        ),
    },
    {"prompt": "Weather?", "inference": "Which city?", "gold": "Which city do you mean?", "metadata": ""},
    {
        "prompt": "Stock price?",
        "inference": ["I cannot help with that."],
        "gold": "Sorry, I cannot help with that.",
    },
    {"prompt": "Time?", "inference": [], "gold": "Which time zone?", "metadata": "free text, not JSON"},
]


@pytest.fixture
def inference_file(tmp_path):
    path = tmp_path / "inference_output.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in LINES) + "\n\n")
    return path


def test_read_inference_output_takes_first_generation(inference_file):
    records = read_inference_output(inference_file)
    assert [r.prediction for r in records] == [WEATHER_CALL, "Which city?", "I cannot help with that.", ""]
    assert records[0].metadata["category"] == "tool_call"
    assert [r.metadata for r in records[1:]] == [None, None, None]


def test_read_inference_output_names_the_bad_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(LINES[1]) + "\n{not json\n")
    with pytest.raises(ValueError, match=r"bad\.jsonl:2"):
        read_inference_output(path)


@pytest.mark.parametrize(
    ("value", "parsed"),
    [(None, None), ("", None), ("[1]", None), ("oops", None), ('{"category": "x"}', {"category": "x"})],
)
def test_parse_metadata(value, parsed):
    assert parse_metadata(value) == parsed


def test_aggregates_are_means_with_stderr(inference_file):
    scores = compute_gen_qa_metrics(read_inference_output(inference_file))
    assert [row["index"] for row in scores.per_example] == [0, 1, 2, 3]
    # Exact match: only the tool call is verbatim -> [1, 0, 0, 0].
    assert [row["exact_match"] for row in scores.per_example] == [1.0, 0.0, 0.0, 0.0]
    assert scores.metrics["exact_match"] == 0.25
    assert scores.metrics["exact_match_stderr"] == pytest.approx(math.sqrt(0.25 / 4))
    for name in GEN_QA_METRICS[:-1]:
        values = [row[name] for row in scores.per_example]
        assert scores.metrics[name] == pytest.approx(sum(values) / len(values))
        assert scores.metrics[f"{name}_stderr"] == pytest.approx(mean_stderr(values))
    assert set(GEN_QA_METRICS) <= set(scores.metrics)


def test_bleu_is_corpus_sacrebleu_with_seeded_bootstrap_stderr(inference_file):
    records = read_inference_output(inference_file)
    scores = compute_gen_qa_metrics(records)
    expected = sacrebleu.corpus_bleu([r.prediction for r in records], [[r.gold for r in records]]).score
    assert scores.metrics["bleu"] == pytest.approx(expected)
    assert scores.metrics["bleu_stderr"] > 0
    assert compute_gen_qa_metrics(records).metrics["bleu_stderr"] == scores.metrics["bleu_stderr"]
    assert compute_gen_qa_metrics(records, seed=1).metrics["bleu_stderr"] != scores.metrics["bleu_stderr"]


def test_tool_use_metrics_use_metadata_or_gold(inference_file):
    metrics = compute_gen_qa_metrics(read_inference_output(inference_file)).metrics
    assert metrics["tool_call_f1"] == 1.0
    assert metrics["tool_args_exact_match"] == 1.0
    # The empty answer to "Which time zone?" (a request for info, read off gold) is the one miss.
    assert metrics["behaviour_accuracy"] == 0.75
    assert metrics["behaviour_accuracy_request_for_info"] == 0.5


def test_single_example_and_empty_input():
    one = compute_gen_qa_metrics([InferenceRecord(prompt="p", prediction="yes", gold="yes")])
    assert one.metrics["exact_match"] == 1.0
    assert one.metrics["exact_match_stderr"] == 0.0
    assert one.metrics["bleu_stderr"] == 0.0
    with pytest.raises(ValueError, match="empty"):
        compute_gen_qa_metrics([])


def test_rows_written_by_the_data_stage_score_perfectly_against_themselves():
    chosen = [
        '<TOOLCALL>[{"name": "get_weather", "arguments": {"city": "Paris"}}]</TOOLCALL>',
        "Which city do you mean?",
        "None of the available tools can answer that.",
    ]
    rows = [PreferenceRow(tools=(), messages=(("user", "q"),), chosen=c, rejected="x") for c in chosen]
    records = []
    for index, row in enumerate(rows):
        line = gen_qa_record(row, system="s", prompt_id=str(index))
        records.append(
            InferenceRecord.from_json({"inference": [line["response"]], "gold": line["response"], **line})
        )
    metrics = compute_gen_qa_metrics(records).metrics
    for name in ("exact_match", "tool_call_f1", "tool_args_exact_match", "behaviour_accuracy"):
        assert metrics[name] == 1.0
    assert {name for name in metrics if name.startswith("behaviour_accuracy_") and "stderr" not in name} == {
        "behaviour_accuracy_tool_call",
        "behaviour_accuracy_request_for_info",
        "behaviour_accuracy_cannot_answer",
    }


def test_a_call_to_a_tool_the_system_prompt_does_not_list_is_hallucinated():
    system = system_prompt(({"name": "get_weather", "parameters": {}},))
    invented = json.dumps({"name": "book_flight", "parameters": {}})
    lines = [
        {"prompt": "Weather?", "inference": [WEATHER_CALL], "gold": WEATHER_CALL, "system": system},
        {"prompt": "Fly me?", "inference": [invented], "gold": "I can't.", "system": system},
        # Nova's lines carry no system prompt, but the prompt may hold it.
        {"prompt": f"{system}\nFly me?", "inference": [invented], "gold": "I can't."},
        {"prompt": "Fly me?", "inference": [invented], "gold": "I can't."},  # unknown tools: not judged
    ]
    records = [InferenceRecord.from_json(line) for line in lines]
    scores = compute_gen_qa_metrics(records)
    assert [row["hallucinated_call"] for row in scores.per_example] == [False, True, True, None]
    assert scores.metrics["tool_hallucination_rate"] == pytest.approx(2 / 3)
