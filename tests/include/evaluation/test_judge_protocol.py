import pytest

from nova_dpo.evaluation.judge_protocol import (
    build_judge_prompts,
    judge_pairs,
    outcome_from_replies,
    parse_verdict,
)
from nova_dpo.evaluation.judge_stats import judge_statistics

PAIR = {"prompt": "What is 2+2? {not a placeholder}", "response_A": "It is 5.", "response_B": "It is 4."}


def shown_as_a(prompt_text):
    start = prompt_text.index("[The Start of Assistant A's Answer]\n") + len(
        "[The Start of Assistant A's Answer]\n"
    )
    return prompt_text[start : prompt_text.index("\n[The End of Assistant A's Answer]")]


def test_backward_prompt_swaps_the_responses():
    forward, backward = build_judge_prompts(PAIR)
    assert shown_as_a(forward) == "It is 5."
    assert shown_as_a(backward) == "It is 4."
    assert "{not a placeholder}" in forward


def test_pair_fields_are_required():
    with pytest.raises(ValueError, match="response_B"):
        build_judge_prompts({"prompt": "p", "response_A": "a"})


@pytest.mark.parametrize(
    ("reply", "verdict"),
    [
        ("A is wrong, B is right. [[B]]", "B"),
        ("At first [[A]] seemed better, but on reflection: [[C]]", "tie"),
        ("My final verdict is [[A>>B]].", "A"),
        ("[[b>a]]", "B"),
        ("[[A=B]]", "tie"),
        (" B.", "B"),
        ("Tie", "tie"),
        ("I cannot decide.", "error"),
        ("", "error"),
    ],
)
def test_parse_verdict(reply, verdict):
    assert parse_verdict(reply) == verdict


def test_fair_judge_prefers_the_right_answer_in_both_positions():
    def judge(prompt_text):
        return "[[A]]" if shown_as_a(prompt_text) == "It is 4." else "[[B]]"

    outcomes = judge_pairs([PAIR, PAIR], judge)
    assert [(o.forward, o.backward, o.backward_unswapped) for o in outcomes] == [("B", "A", "B")] * 2
    stats = judge_statistics(outcomes)
    assert (stats["b_scores"], stats["winrate"]) == (4, 1.0)


def test_position_biased_judge_cancels_out():
    outcomes = judge_pairs([PAIR] * 3, lambda _: "[[A]]")
    stats = judge_statistics(outcomes)
    assert (stats["a_scores"], stats["b_scores"], stats["winrate"]) == (3, 3, 0.5)


def test_failed_calls_count_as_inference_errors():
    replies = iter(["[[B]]", "boom", "[[A]]", "[[A]]"])

    def judge(_):
        reply = next(replies)
        if reply == "boom":
            raise TimeoutError("judge endpoint timed out")
        return reply

    outcomes = judge_pairs([PAIR, PAIR], judge)
    assert outcomes[0].backward == "error"
    assert "TimeoutError" in outcomes[0].backward_output
    assert judge_statistics(outcomes)["inference_error"] == 1


def test_a_judge_that_never_answers_raises():
    def judge(_):
        raise ConnectionError("no judge endpoint")

    with pytest.raises(ConnectionError):
        judge_pairs([PAIR], judge)


def test_outcome_from_replies_for_batched_judges():
    outcome = outcome_from_replies("Verdict: [[B]]", "[[B]]")
    assert (outcome.forward, outcome.backward_unswapped) == ("B", "A")
    assert outcome.forward_output == "Verdict: [[B]]"
