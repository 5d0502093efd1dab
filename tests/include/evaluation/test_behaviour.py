"""The answer classifier, on hand-written answers of every outcome, and on anything at all."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nova_dpo.data.synthesize import synthesize_examples
from nova_dpo.evaluation.behaviour import OUTCOMES, classify_answer

OFFERED = frozenset({"get_weather", "get_time", "convert_currency", "get_stock_price"})


def call(name: str, **arguments: object) -> str:
    return json.dumps({"name": name, "parameters": arguments})


TOOL_CALLS = [
    call("get_weather", city="Paris"),
    "```json\n" + call("get_weather", city="Paris") + "\n```",
    call("get_weather", city="Paris") + "\n" + call("get_time", city="Tokyo"),
    "Sure, let me check that for you.\n" + call("get_stock_price", ticker="AAPL"),
    '<TOOLCALL>[{"name": "get_weather", "arguments": {"city": "Paris"}}]</TOOLCALL>',
    '<tool_call>{"name": "get_time", "arguments": {"city": "Bangkok"}}</tool_call>',
    '{"name": "get_time"}',
    call("convert_currency", amount=100, **{"from": "USD", "to": "EUR"}),
    call("get_weather", city="São Paulo", unit="celsius"),
    '{"name": "get_weather", "arguments": {"city": "Oslo"}}',
    call("get_stock_price", tickers=["AAPL", "MSFT"], exchange={"name": "NASDAQ"}),
    '{\n  "name": "get_weather",\n  "parameters": {\n    "city": "Lima"\n  }\n}',
    call("get_weather", city="Rome") + "\nThis returns the current conditions in Rome.",
    "I cannot guarantee it is live data, but here is the call: " + call("get_weather", city="Nice"),
    call("get_time", city="Sydney") + "\nAnything else?",
    '[{"name": "get_weather", "parameters": {"city": "Bern"}}, {"name": "get_time", "parameters": {}}]',
    call("get_weather", city="Paris", detailed=True),
    call("get_stock_price"),
    '{"name": "search_web", "parameters": {"query": "{braces} in a string"}}',
    "Which city? Never mind, I'll assume Paris: " + call("get_weather", city="Paris"),
    "  \n" + call("get_weather", city="Quito") + "  \n",
]

REQUESTS_FOR_INFO = [
    "Which city would you like the weather for?",
    "What is the ticker symbol of the company?",
    "Could you tell me your account number?",
    "Can you provide the departure date?",
    "To convert the amount, I need the target currency. Which currency should I use?",
    "Where are you flying from?",
    "When would you like the meeting scheduled?",
    "Who should I send the email to?",
    "How many guests will there be?",
    "Please provide the order ID so I can look it up.",
    "Please specify the unit: Celsius or Fahrenheit.",
    "Do you have a preferred airline?",
    "Would you prefer Celsius or Fahrenheit?",
    "I can look that up for you. What’s the name of the restaurant?",
    "Sure! Could you please share the zip code?",
    "Let me know which date you mean, please.",
    "Is the meeting in the morning or the afternoon?",
    "Whose calendar should I check?",
    "I can't proceed without the city name. Which city do you mean?",
    "Kindly provide your employee ID.",
    "What would you like me to remind you about?",
    "Wie viele Minuten soll Zone 3 laufen?",
]

CANNOT_ANSWER = [
    "I'm sorry, but I can't help with that using the tools I have.",
    "None of the provided tools can look up flight prices.",
    "I am unable to book flights; the available functions only cover weather.",
    "Unfortunately, I don't have access to real-time traffic data.",
    "There is no tool available for translating text.",
    "The available tools do not support sending emails.",
    "That request is beyond my capabilities with these functions.",
    "I cannot answer this question with the tools provided.",
    "I'm not able to retrieve your bank balance.",
    "Sorry, no suitable function exists for sending emails.",
    "This cannot be done with the functions I was given.",
    "I must decline: none of my tools handle medical records.",
    "I lack the tools needed to check flight status.",
    "I’m afraid I can’t do that.",
    "It is not possible for me to access your calendar.",
    "I have no way to look up that information.",
    "I'm not equipped to process payments.",
    "The get_time tool does not return time zones in the past, so I cannot answer that.",
    "I won't be able to fetch live sports scores.",
    "I do not have the ability to browse the internet.",
    "Regrettably, the functions at my disposal can't translate documents.",
    "I CANNOT DO THAT.",
    "Désolé, je ne peux pas : aucun outil ne m'est proposé ici.",
]

DIRECT = [
    "It is currently raining in Seoul and 12°C.",
    "Bangkok is currently 12:30 AM.",
    "```python\nimport requests\n\nresponse = requests.get('https://api.example.com/weather?city=Paris')\n"
    "print(response.json())\n```",
    "```python\ndef get_weather(city):\n    return 'sunny'\n```",
    "The stock price of AAPL is $189.23.",
    "",
    "asdf qwerty zxcv",
    "??????",
    "Sure?",
    "The weather in Paris is sunny. Is there anything else I can help you with?",
    "1 USD is 0.92 EUR. Anything else?",
    "Here's how you could do it in JavaScript: `fetch('/api/weather?city=Paris')`.",
    "Temperature: 20°C\nHumidity: 60%\nWind: 5 km/h",
    "Great question! The answer is 42.",
    "Your order #12345 has shipped and will arrive on Friday.",
    "I have booked your table for two at 7 PM.",
    '{"temperature": 20, "unit": "celsius"}',
    "I can't believe how sunny it is in Paris today: 25°C!",
    "```bash\ncurl https://wttr.in/Paris\n```",
    "The weather will be nice. Would you like me to check tomorrow as well?",
    "Paris is the capital of France, and it is 18°C there right now.",
    "```python\nfor city in ['Paris', 'Rome']:\n    print(city)\n```",
]

MALFORMED_CALLS = [
    '{"name": "get_weather", "parameters": {"city": "Paris"}',
    "{'name': 'get_weather', 'parameters': {'city': 'Paris'}}",
    '{"name": "get_weather", "parameters": {city: "Paris"}}',
    '<TOOLCALL>[{"name": "get_weather", "arguments": {"city": "Paris"}]</TOOLCALL>',
    "<TOOLCALL></TOOLCALL>",
    "<tool_call>get_weather(city='Paris')</tool_call>",
    '```python\nget_weather(city="Paris")\n```',
    'get_weather(city="Paris")',
    '{"name": get_weather, "parameters": {"city": "Paris"}}',
    '{"name": "get_weather", "parameters": {"city": "Paris",}}',
    '{"name": "get_weather", "parameters": {"temperature": NaN}}',
    '{"tool": "get_weather", "args": {"city": "Paris"}}',
    '{"function": "get_weather", "parameters": {"city": "Paris"}}',
    '[TOOL_CALLS] get_weather {"city": "Paris"}',
    '<function_call>{"name": "get_weather", "parameters": {"city": "Paris"}</function_call>',
    '{"type": "function", "function": {"name": "get_weather", "arguments": "{\\"city\\": \\"Paris\\"}"}}',
    'I will call the weather tool now: {"name": "get_weather", "parameters": ',
    '```json\n{\n  "name": "get_weather",\n  "parameters": {\n    "city": "Paris"\n',
    'Calling the tool.\nweather = get_weather(city="Paris")',
    '<tool_call>\n{"name": "get_weather" "parameters": {"city": "Paris"}}\n</tool_call>',
    'functions.get_weather({"city": "Paris"})',
    ">>> get_time(city='Tokyo')",
]

TABLE = [
    *((answer, "tool_call") for answer in TOOL_CALLS),
    *((answer, "request_for_info") for answer in REQUESTS_FOR_INFO),
    *((answer, "cannot_answer") for answer in CANNOT_ANSWER),
    *((answer, "direct") for answer in DIRECT),
    *((answer, "malformed_call") for answer in MALFORMED_CALLS),
]


def test_the_table_holds_at_least_twenty_answers_of_every_outcome():
    counts = Counter(outcome for _, outcome in TABLE)
    assert set(counts) == set(OUTCOMES)
    assert min(counts.values()) >= 20, counts


@pytest.mark.parametrize(("answer", "outcome"), TABLE)
def test_hand_written_answers(answer, outcome):
    assert classify_answer(answer, OFFERED).outcome == outcome


@pytest.mark.parametrize(
    "answer",
    [
        'get_weather(city="Paris")',
        '```python\nget_weather(city="Paris")\n```',
        '{"name": "get_weather", "parameters": {"city": "Paris"}',
    ],
)
def test_a_call_written_as_code_or_cut_short_is_malformed_without_knowing_the_tools(answer):
    assert classify_answer(answer).outcome == "malformed_call"


def test_a_line_calling_an_offered_tool_is_an_attempt_even_amid_other_code():
    answer = "```python\nimport json\nweather = get_weather(city='Paris')\nprint(weather)\n```"
    assert classify_answer(answer, OFFERED).outcome == "malformed_call"
    # The same program calling no offered tool is code.
    assert classify_answer(answer, {"get_time"}).outcome == "direct"


def test_a_call_to_a_tool_not_offered_is_a_call_and_hallucinated():
    invented = classify_answer(call("book_flight", to="Oslo"), OFFERED)
    assert (invented.outcome, invented.hallucinated) == ("tool_call", True)
    assert invented.calls == [{"name": "book_flight", "arguments": {"to": "Oslo"}}]
    mixed = classify_answer(call("get_weather", city="Oslo") + "\n" + call("book_flight"), OFFERED)
    assert mixed.hallucinated
    # When2Call's own case: no tool offered at all, so every call is hallucinated.
    assert classify_answer(call("get_weather", city="Oslo"), set()).hallucinated


def test_hallucination_is_known_only_where_the_offered_tools_are():
    assert classify_answer(call("get_weather", city="Oslo"), OFFERED).hallucinated is False
    assert classify_answer(call("get_weather", city="Oslo")).hallucinated is None
    assert classify_answer("Which city?", OFFERED).hallucinated is False
    assert classify_answer("Which city?").hallucinated is None


def test_every_synthetic_answer_has_the_behaviour_it_was_written_for():
    """The synthetic data labels its chosen and rejected answers (direct ones included): the classifier agrees."""
    disagreements = []
    for example in synthesize_examples(400, seed=11):
        tools = [json.loads(tool) if isinstance(tool, str) else tool for tool in example.row["tools"]]
        offered = {tool["name"] for tool in tools}
        for answer, label in (
            (example.row["chosen_response"]["content"], example.category),
            (example.row["rejected_response"]["content"], example.rejected_category),
        ):
            if classify_answer(answer, offered).outcome != label:
                disagreements.append((label, answer))
    assert disagreements == []


# Fragments that the rules look for, so that drawn text often comes near a rule's edge.
FRAGMENTS = st.sampled_from(
    [
        "{",
        "}",
        '"name": ',
        '"parameters": ',
        "<TOOLCALL>",
        "</TOOLCALL>",
        "```",
        "\n",
        "get_weather(",
        ")",
        "?",
        "which ",
        "I can't ",
        "no tool ",
        "anything else",
        "NaN",
        "[",
        "]",
        "'",
        ">>> ",
        "=",
        ".",
    ]
)
ANSWERS = st.one_of(st.text(), st.lists(st.one_of(FRAGMENTS, st.text(max_size=5)), max_size=40).map("".join))


@settings(max_examples=300, deadline=None)
@given(answer=ANSWERS, offered=st.one_of(st.none(), st.frozensets(st.sampled_from(sorted(OFFERED)))))
def test_any_text_gets_one_of_the_five_outcomes(answer, offered):
    behaviour = classify_answer(answer, offered)
    assert behaviour.outcome in OUTCOMES
    assert bool(behaviour.calls) == (behaviour.outcome == "tool_call")
    assert (behaviour.hallucinated is None) == (offered is None)
