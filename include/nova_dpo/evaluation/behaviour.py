"""What an answer does: When2Call's four answer kinds, and the malformed call.

When2Call sorts an answer into four kinds: a tool call, a request for information (a follow-up question), a
statement that the offered tools cannot answer, and a direct answer (which When2Call counts as a
hallucination: it answers what only a tool could know). A model being tuned meets a fifth outcome: it tries to
call a tool and writes something no caller can parse. That is wrong for every kind, and reading it as one of
the four would reward it (a broken call read as a refusal scores on cannot_answer prompts). So would reading
whatever is not a call as a refusal, or whatever ends in "?" as a question: junk must land in ``direct``.

:func:`classify_answer` applies these rules in order; the first that matches decides.

1. ``tool_call``: :func:`~nova_dpo.toolcalls.parse_nova_toolcalls` finds a call (a JSON object with a string
   ``name``). A call to a tool the prompt did not offer is still a call, flagged as hallucinated.
2. ``malformed_call``: no call parses, yet the answer tries to make one: a tool-call tag (``<TOOLCALL>``,
   ``<tool_call>``, ``<function_call>``, ``[TOOL_CALLS]``); JSON-ish text with a quoted ``name`` key and a
   quoted ``parameters``/``arguments`` key, or an object opening with a ``name``/``tool``/``function`` key
   (cut short, single-quoted, unquoted values, NaN...); a line that is a call of an offered tool written as
   code (``get_weather(city="Paris")``, ``w = functions.get_weather(...)``); or a code block, or a whole
   answer, made of nothing but function calls (``print`` aside: printing is not calling a tool).
3. ``request_for_info``: a sentence asks the user for something: it ends in "?" and holds an interrogative
   (what, which, where, when, who, whom, whose, how, why, and the commonest French, German, Spanish, Italian
   and Portuguese ones) or opens with an auxiliary verb (can, could, would, do, is, should, ...); or it asks
   in so many words ("please provide / specify / tell", "let me know", "could you share"). A courtesy is no
   request: "anything else?", "can I help you with ...?", "would you like me to ...?". A question comes
   before a refusal: "I can't look that up without a city. Which city?" asks.
4. ``cannot_answer``: the answer declines in so many words: an inability ("I can't", "I am unable to",
   "I won't be able to"), a missing tool or access ("no suitable tool", "none of the functions", "the
   available tools do not", "I don't have access to"), or a refusal ("beyond my capabilities", "not possible
   for me", "I must decline"); in English, and a few of the commonest phrases in the languages above.
5. ``direct``: anything else: an answer that states what it could not know, code, junk, an empty answer.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field

from nova_dpo.data.when2call import CANNOT_ANSWER, DIRECT, REQUEST_FOR_INFO, TOOL_CALL
from nova_dpo.toolcalls import ToolCall, parse_nova_toolcalls

MALFORMED_CALL = "malformed_call"
#: Every outcome an answer can have: When2Call's four kinds, then the malformed call.
OUTCOMES = (TOOL_CALL, REQUEST_FOR_INFO, CANNOT_ANSWER, DIRECT, MALFORMED_CALL)

# ----------------------------------------------------------------------------------- call attempts

_CALL_TAG = re.compile(r"<\s*/?\s*(?:tool_?calls?|function_?calls?|tool_use)\b|\[TOOL_CALLS\]", re.IGNORECASE)
_NAME_KEY = re.compile(r"""["']name["']\s*:""")
_ARGUMENTS_KEY = re.compile(r"""["'](?:parameters|arguments)["']\s*:""")
_OBJECT_OPENING_A_CALL = re.compile(r"""\{\s*["'](?:name|tool|tool_name|function)["']\s*:""")
# A fenced block; one left open (an answer cut short) runs to the end.
_CODE_BLOCK = re.compile(r"```[^\n`]*\n?(.*?)(?:```|\Z)", re.DOTALL)
# A line that is one function call, optionally assigned and followed by a comment.
_CALL_LINE = re.compile(r"(?:[A-Za-z_][\w.]*\s*=\s*)?(?P<function>[A-Za-z_][\w.]*)\s*\(.*\)\s*;?\s*(?:#.*)?")
_PROMPT_MARK = re.compile(r"^(?:>>>|\$)\s*")

# -------------------------------------------------------------------------------------- questions

_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+|\n+")
_INTERROGATIVE = re.compile(
    r"\b(?:what|which|where|when|who|whom|whose|how|why"
    # The commonest in French, German, Spanish, Italian and Portuguese (none that is also an English word).
    r"|quel|quelle|quels|quelles|où|quand|qui|comment|pourquoi|combien"
    r"|wie|welche|welcher|welches|welchen|wo|wann|wer|wen|wem|warum|wieso"
    r"|qué|cuál|cuáles|dónde|cuándo|quién|quiénes|cómo|cuánto|cuánta|cuántos|cuántas"
    r"|quale|quali|dove|quando|chi|perché|quanto|quanti|qual|quais|onde|quem|como|quantos)\b"
)
_AUXILIARY_OPENING = re.compile(
    r"^\W*(?:can|could|would|will|do|does|did|is|are|was|were|should|shall|may|might|have|has)\b"
)
_SUPPLY = r"(?:provide|specify|tell|share|give|send|confirm|clarify|indicate|enter|supply)"
_ASK = re.compile(
    rf"\b(?:please|kindly) {_SUPPLY}\b|\blet me know\b|\b(?:could|can|would) you (?:please )?{_SUPPLY}\b"
)
_COURTESY = re.compile(
    r"\b(?:anything|something) else\b|\b(?:help|assist) you with\b|\bfurther (?:help|assistance|questions?)\b"
    r"|\bother questions?\b|\b(?:can|may) i (?:help|assist)\b|^\W*(?:would|do) you (?:like|want) me to\b"
)

# -------------------------------------------------------------------------------------- refusals

_TOOL = r"(?:tools?|functions?)"
_NEGATION = (
    r"(?:can't|cannot|can not|don't|do not|doesn't|does not|isn't|is not|aren't|are not|won't|will not)"
)
_DECLINE = re.compile(
    "|".join(
        (
            # Inability.
            r"\b(?:i|we)(?:'m|'re| am| are)? (?:\w+ )?"
            r"(?:unable|not able|not capable|not equipped|not designed) to\b",
            r"\b(?:i|we) (?:can't|cannot|can not|couldn't|could not)\b"
            r"(?! (?:believe|wait|stress|emphasize|imagine|help but))",
            r"\b(?:won't|will not) be able to\b",
            r"\bcan(?:'t|not| not) be "
            r"(?:done|answered|fulfilled|completed|handled|performed|processed|retrieved)\b",
            # No tool, no access.
            rf"\b(?:i|we) (?:don't|do not) have (?:access|real-time|live"
            rf"|the (?:ability|capability|means|{_TOOL})|any (?:way|means|access|{_TOOL})|a (?:way|tool|function))\b",
            rf"\b(?:i|we) have no (?:way|means|access|ability|{_TOOL})\b",
            rf"\b(?:no|none of the|none of my|not any)\s+(?:[\w-]+\s+){{0,2}}?{_TOOL}\b",
            r"\bnone of (?:them|these|those) "
            r"(?:can|could|is|are|lets?|allows?|supports?|covers?|handles?|provides?|does|do)\b",
            rf"\b{_TOOL}(?: (?:available|provided|given|offered|i have(?: available)?|at my disposal"
            rf"|(?:available |provided )?to me))?\s+{_NEGATION}\b",
            rf"\b(?:lack|lacks|lacking) (?:the |any )?"
            rf"(?:{_TOOL}|ability|access|capability|capabilities|means)\b",
            r"\bno (?:way|means) (?:to|of|for)\b",
            # Refusal.
            r"\b(?:beyond|outside(?: of)?) "
            r"(?:my (?:capabilities|capability|abilities|scope|reach)|the scope|what i can)\b",
            r"\bnot possible (?:for me|with|using)\b|\bnot something i can\b|\bnot within my\b",
            r"\b(?:must|have to|need to) (?:decline|refuse)\b|\bi (?:decline|refuse)\b",
            # The commonest in French, German, Spanish, Italian and Portuguese.
            r"\bje ne (?:peux|suis pas en mesure)\b|\baucun (?:outil|moyen)\b|\bich kann (?:\w+ ){0,2}nicht\b"
            r"|\bkeine? (?:\w+ )?(?:werkzeug|tool|funktion)|\bno puedo\b|\bninguna herramienta\b"
            r"|\bnon posso\b|\bnessuno strumento\b|\bnão posso\b|\bnenhuma ferramenta\b",
        )
    )
)


@dataclass(frozen=True)
class AnswerBehaviour:
    """What one answer does.

    :param outcome: one of :data:`OUTCOMES`.
    :param calls: the calls it makes (``{"name", "arguments"}``), empty unless the outcome is ``tool_call``.
    :param hallucinated: whether it calls a tool that was not offered; None when the offered tools are
        unknown.
    """

    outcome: str
    calls: list[ToolCall] = field(default_factory=list)
    hallucinated: bool | None = None


def classify_answer(text: str, offered: Collection[str] | None = None) -> AnswerBehaviour:
    """The behaviour of an answer, by the rules of this module's docstring.

    :param offered: the names of the tools the prompt offered; None when unknown (then no call is judged
        hallucinated, and a call written as code is recognized only by its shape).
    """
    calls = parse_nova_toolcalls(text)
    if calls:
        hallucinated = None if offered is None else any(call["name"] not in offered for call in calls)
        return AnswerBehaviour(TOOL_CALL, calls, hallucinated)
    if attempts_call(text, offered or ()):
        outcome = MALFORMED_CALL
    elif asks_for_information(text):
        outcome = REQUEST_FOR_INFO
    elif declines(text):
        outcome = CANNOT_ANSWER
    else:
        outcome = DIRECT
    return AnswerBehaviour(outcome, [], None if offered is None else False)


def behaviour_of(text: str, offered: Collection[str] | None = None) -> str:
    """The outcome of an answer (one of :data:`OUTCOMES`)."""
    return classify_answer(text, offered).outcome


def attempts_call(text: str, offered: Collection[str] = ()) -> bool:
    """Whether text that holds no parseable call tries to make one (rule 2)."""
    if _CALL_TAG.search(text) or _OBJECT_OPENING_A_CALL.search(text):
        return True
    if _NAME_KEY.search(text) and _ARGUMENTS_KEY.search(text):
        return True
    functions = [_called_function(line) for line in text.splitlines()]
    if any(function is not None and function.rsplit(".", 1)[-1] in offered for function in functions):
        return True
    return any(_only_calls(block) for block in (text, *_CODE_BLOCK.findall(text)))


def _called_function(line: str) -> str | None:
    """The function a line of code calls, when the whole line is one call."""
    match = _CALL_LINE.fullmatch(_PROMPT_MARK.sub("", line.strip()))
    return match["function"] if match else None


def _only_calls(code: str) -> bool:
    lines = [line for line in code.splitlines() if line.strip() and not line.strip().startswith(("#", "//"))]
    functions = [_called_function(line) for line in lines]
    return bool(functions) and all(function not in (None, "print") for function in functions)


def asks_for_information(text: str) -> bool:
    """Whether a sentence of the answer asks the user for something (rule 3)."""
    for sentence in _sentences(text):
        if _COURTESY.search(sentence):
            continue
        question = sentence.rstrip("\"')]*_ ").endswith("?")
        if question and (_INTERROGATIVE.search(sentence) or _AUXILIARY_OPENING.search(sentence)):
            return True
        if _ASK.search(sentence):
            return True
    return False


def declines(text: str) -> bool:
    """Whether the answer says it cannot answer, or that no offered tool can (rule 4)."""
    return _DECLINE.search(_normalized(text)) is not None


def _sentences(text: str) -> list[str]:
    return [sentence.strip() for sentence in _SENTENCE_BREAK.split(_normalized(text)) if sentence.strip()]


def _normalized(text: str) -> str:
    """Lower case, typographic apostrophes as plain ones, runs of spaces as one."""
    return re.sub(r"[ \t]+", " ", text.lower().replace("\u2019", "'"))
