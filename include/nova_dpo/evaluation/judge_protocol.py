"""The pairwise judging protocol, independent of which model judges.

A pair is a record of Nova's ``llm_judge.jsonl`` (``prompt``, ``response_A``, ``response_B``). Each pair
is judged forward and with the responses swapped; replies are parsed into a :data:`Verdict`. The model
is plugged in as a callable ``judge(prompt_text) -> reply_text``, so the local model, an
OpenAI-compatible endpoint and the tests all run the same protocol.
"""

from __future__ import annotations

import logging
import re
import string
from collections.abc import Callable, Iterable, Mapping

from nova_dpo.evaluation.judge_stats import PairOutcome, Verdict

log = logging.getLogger(__name__)

JudgeFn = Callable[[str], str]

JUDGE_TEMPLATE = """\
Please act as an impartial judge and evaluate the responses of two AI assistants to the user prompt \
below. Choose the assistant whose response follows the user's instructions and answers the prompt \
better, considering helpfulness, correctness and relevance. When the prompt offers tools, the best \
response may be a correct tool call, a question asking for missing information, or an honest statement \
that the tools cannot help. Do not let the order of the responses or their length influence you.

[User Prompt]
{prompt}

[The Start of Assistant A's Answer]
{first}
[The End of Assistant A's Answer]

[The Start of Assistant B's Answer]
{second}
[The End of Assistant B's Answer]

After a short explanation, output your final verdict in exactly this format: "[[A]]" if assistant A \
is better, "[[B]]" if assistant B is better, "[[C]]" for a tie."""

# Bracketed verdicts in MT-Bench form ([[A]], [[C]] = tie) and Arena-Hard form ([[A>B]], [[A=B]]).
_BRACKETED = re.compile(r"\[\[\s*(A>>B|A>B|B>>A|B>A|A=B|B=A|A|B|C|TIE)\s*\]\]", re.IGNORECASE)
_LABELS: dict[str, Verdict] = {
    "A": "A",
    "A>B": "A",
    "A>>B": "A",
    "B": "B",
    "B>A": "B",
    "B>>A": "B",
    "C": "tie",
    "TIE": "tie",
    "A=B": "tie",
    "B=A": "tie",
}


def build_judge_prompt(prompt: str, first: str, second: str) -> str:
    """The judge's input with ``first`` shown as assistant A and ``second`` as assistant B."""
    return JUDGE_TEMPLATE.format(prompt=prompt, first=first, second=second)


def build_judge_prompts(pair: Mapping[str, str]) -> tuple[str, str]:
    """The forward and the position-swapped backward prompt of one ``llm_judge.jsonl`` record.

    :raises ValueError: when a field is missing or is not a string.
    """
    fields = []
    for name in ("prompt", "response_A", "response_B"):
        value = pair.get(name)
        if not isinstance(value, str):
            raise ValueError(f"judge pair field {name!r} must be a string, got {value!r}")
        fields.append(value)
    prompt, response_a, response_b = fields
    forward = build_judge_prompt(prompt, response_a, response_b)
    backward = build_judge_prompt(prompt, response_b, response_a)
    return forward, backward


def parse_verdict(reply: str) -> Verdict:
    """The verdict in a judge's reply, as shown to it (A = the first response); "error" when there is none.

    The last bracketed verdict wins, since judges reason before concluding. A reply that is only a label
    ("B", "tie.") is accepted too: small local judges often answer that way.
    """
    matches = _BRACKETED.findall(reply)
    if matches:
        return _LABELS[matches[-1].upper()]
    bare = reply.strip().strip(string.punctuation + string.whitespace).upper()
    return _LABELS.get(bare, "error")


def outcome_from_replies(forward_reply: str, backward_reply: str) -> PairOutcome:
    """The outcome of one pair from the judge's replies to its forward and backward prompts."""
    return PairOutcome(
        forward=parse_verdict(forward_reply),
        backward=parse_verdict(backward_reply),
        forward_output=forward_reply,
        backward_output=backward_reply,
    )


def judge_pairs(pairs: Iterable[Mapping[str, str]], judge: JudgeFn) -> list[PairOutcome]:
    """Judge every pair forward and backward with ``judge``.

    A call that raises counts as an inference error for that pass, as Nova counts ``inference_error``
    rather than failing the job; if every call raises, the last error is raised, because a judge that
    never answers is a broken setup, not a result.
    """
    outcomes: list[PairOutcome] = []
    errors: list[Exception] = []
    calls = 0
    for pair in pairs:
        (forward_reply, forward), (backward_reply, backward) = (
            _ask(judge, prompt_text, errors) for prompt_text in build_judge_prompts(pair)
        )
        calls += 2
        outcomes.append(PairOutcome(forward, backward, forward_reply, backward_reply))
    if calls and len(errors) == calls:
        raise errors[-1]
    return outcomes


def _ask(judge: JudgeFn, prompt_text: str, errors: list[Exception]) -> tuple[str, Verdict]:
    try:
        reply = judge(prompt_text)
    except Exception as err:
        log.warning("judge call failed, counted as an inference error: %s", err)
        errors.append(err)
        return f"{type(err).__name__}: {err}", "error"
    return reply, parse_verdict(reply)
