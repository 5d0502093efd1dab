"""Synthetic When2Call ``train_pref`` data, so the pipeline can run and be tested offline.

Rows have the exact schema of ``nvidia/When2Call`` config ``train_pref`` and teach *when* to call a tool:

* ``tool_call``: the question states every required argument of an offered tool; the chosen answer calls it
  with the arguments copied from the question.
* ``request_for_info``: the question names an offered tool's intent but leaves out one required argument; the
  chosen answer is a short question asking for exactly that argument.
* ``cannot_answer``: the question's intent belongs to a tool that is not offered; the chosen answer is a
  polite refusal.

The rejected answer comes, uniformly, from one of the other behaviours or from ``direct`` (a confident,
hallucinated answer given without calling a tool), as in When2Call's own preference data.

Questions come from a catalogue of tools across many domains, several phrasings per intent and large value
pools, so the prompts of a held-out split are new combinations rather than repeats. The stream is a pure
function of ``(rows, seed)``: the same call writes the same bytes, and a longer stream starts with a shorter.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import random
import re
import string
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from nova_dpo.data.when2call import CANNOT_ANSWER, REQUEST_FOR_INFO, TOOL_CALL
from nova_dpo.toolcalls import format_when2call_toolcalls

log = logging.getLogger(__name__)

FILE_NAME = "train_pref.jsonl"
# The fourth When2Call behaviour: never chosen, only rejected (answering without the tool it needs).
DIRECT = "direct"
BEHAVIOURS = (TOOL_CALL, REQUEST_FOR_INFO, CANNOT_ANSWER, DIRECT)

# Shares of the chosen behaviours: half tool calls, a quarter each of the two ways of not calling.
TOOL_CALL_SHARE = 0.5
REQUEST_FOR_INFO_SHARE = 0.25
# Share of rows whose tools are plain dicts rather than JSON strings (the loader must accept both).
DICT_TOOLS_SHARE = 0.25
# Chance that a question mentions a given optional argument (it then appears in the call too).
OPTIONAL_MENTION_SHARE = 0.3

Sampler = Callable[[random.Random, Mapping[str, Any]], Any]

# --------------------------------------------------------------------------------------------------------
# Templates: "{name}" is a placeholder; a "[...]" segment is kept only when all its placeholders have values.
# Every argument placeholder sits in such a segment, so one phrasing serves a question that states all the
# arguments and the same question with one left out.
# --------------------------------------------------------------------------------------------------------

_SEGMENT = re.compile(r"\[([^\[\]]*)\]")
_FORMATTER = string.Formatter()


def _fields(text: str) -> tuple[str, ...]:
    return tuple(name for _, name, _, _ in _FORMATTER.parse(text) if name)


@dataclass(frozen=True, slots=True)
class _Part:
    text: str
    fields: tuple[str, ...]
    optional: bool


@dataclass(frozen=True, slots=True)
class Template:
    """A phrasing compiled once: literal text, always-filled parts and droppable ``[...]`` segments."""

    source: str
    parts: tuple[_Part, ...]
    fields: tuple[str, ...]
    optional_fields: frozenset[str]
    last_segment: int

    @classmethod
    def compile(cls, source: str) -> Template:
        parts: list[_Part] = []
        position = 0
        for match in _SEGMENT.finditer(source):
            if match.start() > position:
                literal = source[position : match.start()]
                parts.append(_Part(literal, _fields(literal), optional=False))
            parts.append(_Part(match.group(1), _fields(match.group(1)), optional=True))
            position = match.end()
        if position < len(source):
            parts.append(_Part(source[position:], _fields(source[position:]), optional=False))
        fields = tuple(name for part in parts for name in part.fields)
        optional = frozenset(name for part in parts if part.optional for name in part.fields)
        last_segment = max(
            (index for index, part in enumerate(parts) if part.optional), default=len(parts) - 1
        )
        return cls(source, tuple(parts), fields, optional, last_segment)

    def render(self, values: Mapping[str, str], tail: str = "") -> str:
        """The text with ``values`` filled in, and ``tail`` right after the last ``[...]`` segment's place."""
        pieces = []
        for index, part in enumerate(self.parts):
            if not part.fields:
                pieces.append(part.text)
            elif not part.optional or all(name in values for name in part.fields):
                pieces.append(part.text.format_map(values))
            if index == self.last_segment:
                pieces.append(tail)
        return "".join(pieces)


# --------------------------------------------------------------------------------------------------------
# Value pools. Strings are copied verbatim into questions and calls, so none holds a reserved Nova string.
# --------------------------------------------------------------------------------------------------------

_CITIES = (
    "Paris", "Lisbon", "Tokyo", "Nairobi", "Toronto", "Buenos Aires", "Sydney", "Oslo", "Cairo", "Mumbai",
    "Seoul", "Mexico City", "Chicago", "Berlin", "Madrid", "Rome", "Dublin", "Vienna", "Prague", "Istanbul",
    "Bangkok", "Singapore", "Hanoi", "Lima", "Bogota", "Santiago", "Cape Town", "Lagos", "Accra",
    "Casablanca", "Reykjavik", "Helsinki", "Stockholm", "Copenhagen", "Warsaw", "Budapest", "Athens",
    "Zurich", "Amsterdam",
    "Brussels", "Edinburgh", "Manchester", "Boston", "Seattle", "Denver", "Austin", "Miami", "Vancouver",
    "Montreal", "Auckland", "Melbourne", "Osaka", "Taipei", "Manila", "Jakarta", "Kuala Lumpur", "Dubai",
    "Doha", "Marrakesh", "Porto", "Krakow", "Tallinn", "Riga", "Valencia", "Lyon", "Munich", "Hamburg",
    "Milan", "Naples", "Florence", "Geneva", "San Francisco", "Los Angeles", "New York", "Atlanta", "Quito",
)  # fmt: skip
_FIRST_NAMES = (
    "Maria", "Kenji", "Aisha", "Lucas", "Priya", "Tomas", "Chloe", "Omar", "Ingrid", "Mateo", "Yuki",
    "Fatima", "Noah", "Elena", "Kwame", "Sofia", "Arjun", "Hannah", "Diego", "Mei", "Liam", "Zara", "Felix",
    "Amara",
)  # fmt: skip
_LAST_NAMES = (
    "Lopez", "Tanaka", "Bello", "Martin", "Sharma", "Novak", "Dubois", "Haddad", "Larsen", "Rossi", "Kim",
    "Okafor", "Schmidt", "Silva", "Mensah", "Nguyen", "Cohen", "Walsh", "Petrov", "Costa", "Ali", "Berg",
)  # fmt: skip
_PEOPLE = tuple(f"{first} {last}" for first in _FIRST_NAMES for last in _LAST_NAMES)
_EMAIL_DOMAINS = ("example.com", "example.org", "mail.example.net")
_EMAILS = tuple(
    f"{person.split()[0].lower()}.{person.split()[1].lower()}@{_EMAIL_DOMAINS[i % len(_EMAIL_DOMAINS)]}"
    for i, person in enumerate(_PEOPLE)
)
_DATES = tuple((dt.date(2026, 1, 1) + dt.timedelta(days=offset)).isoformat() for offset in range(365))
_DATE_INDEX = {date: index for index, date in enumerate(_DATES)}
_TIMES = tuple(f"{hour:02d}:{minute:02d}" for hour in range(7, 22) for minute in (0, 15, 30, 45))
_TICKERS = (
    "AAPL", "MSFT", "GOOGL", "AMZN", "NVDA", "TSLA", "META", "NFLX", "INTC", "AMD", "IBM", "ORCL", "CRM",
    "ADBE", "PYPL", "UBER", "SHOP", "SNOW", "DIS", "KO", "PEP", "NKE", "SBUX", "JPM", "BAC", "WMT", "COST",
    "XOM", "CVX", "PFE", "MRK", "JNJ", "BA", "CAT", "GE", "GM", "VZ", "SONY", "ASML", "SAP", "TM", "BABA",
)  # fmt: skip
_CURRENCIES = (
    "USD", "EUR", "GBP", "JPY", "CHF", "CAD", "AUD", "NZD", "SEK", "NOK", "DKK", "PLN", "CZK", "HUF", "INR",
    "CNY", "SGD", "HKD", "KRW", "BRL", "MXN", "ZAR", "TRY", "AED",
)  # fmt: skip
_CRYPTO = ("BTC", "ETH", "SOL", "ADA", "DOT", "XRP", "LTC", "DOGE", "AVAX", "LINK", "ATOM", "XLM")
_AIRLINES = ("BA", "LH", "AF", "KL", "UA", "DL", "AA", "QF", "EK", "SQ", "TP", "IB", "NH", "AC", "LX")
_EVENT_TITLES = (
    "Team standup", "Budget review", "Dentist appointment", "Lunch with Sam", "Project kickoff",
    "Quarterly planning", "Yoga class", "Parent-teacher meeting", "Design review", "Client call",
    "Book club", "Car service", "Guitar lesson", "One-on-one with my manager", "Sprint retrospective",
    "Vet appointment", "Board meeting", "Coffee with Alex", "Interview with a candidate", "Piano recital",
)  # fmt: skip
_LOCATIONS = (
    "Conference Room B", "the main office", "the downtown studio", "Room 4.12", "the community center",
    "the cafe on Main Street", "the north building", "the library meeting room",
)  # fmt: skip
_SUBJECTS = (
    "Quarterly budget review", "Team offsite plan", "Invoice 4471", "Lunch on Friday",
    "Project Atlas kickoff",
    "Updated contract draft", "Holiday schedule", "Onboarding checklist", "Marketing launch timeline",
    "Server maintenance window", "Book club picks", "Conference travel", "Design review notes",
    "Weekly status update", "Birthday surprise for Sam", "Rent receipt", "Volunteer sign-up", "Hiring plan",
    "Roadmap feedback", "Expense report",
)  # fmt: skip
_EMAIL_BODIES = (
    "I will be ten minutes late", "Please find the numbers attached", "Can we move this to next week",
    "Thanks for your help today", "The draft is ready for review", "Let me know if you have questions",
    "I am out of office until Monday", "Great work on the launch",
)  # fmt: skip
_MAIL_QUERIES = (
    "boarding pass", "invoice", "receipt", "password reset", "meeting notes", "newsletter", "offer letter",
    "lease agreement", "tax documents", "shipping confirmation", "project proposal", "dentist appointment",
    "insurance renewal", "concert tickets", "school trip",
)  # fmt: skip
_PRODUCTS = (
    "wireless earbuds", "standing desk", "espresso machine", "running shoes", "mechanical keyboard",
    "air purifier", "yoga mat", "electric toothbrush", "noise-cancelling headphones", "cast iron skillet",
    "robot vacuum", "hiking backpack", "smart watch", "office chair", "water bottle", "desk lamp",
    "portable charger", "rice cooker", "winter jacket", "bluetooth speaker", "camping tent", "blender",
    "e-reader", "gaming mouse", "baby stroller", "electric kettle", "road bike helmet", "USB-C hub",
    "4K monitor", "coffee grinder", "sleeping bag", "air fryer", "digital camera", "fitness tracker",
)  # fmt: skip
_SPECIALTIES = (
    "dermatology", "cardiology", "pediatrics", "orthopedics", "neurology", "ophthalmology", "psychiatry",
    "gynecology", "dentistry", "physiotherapy", "allergy care", "sports medicine", "endocrinology",
)  # fmt: skip
_INSURERS = ("Aetna", "Cigna", "Blue Cross", "Allianz", "AXA", "Bupa", "UnitedHealthcare", "Humana")
_ACTIVITIES = (
    "running", "cycling", "swimming", "yoga", "rowing", "weightlifting", "hiking", "pilates", "boxing",
    "tennis", "climbing", "dancing", "spinning", "walking",
)  # fmt: skip
_TEAMS = (
    "Arsenal", "Real Madrid", "Boston Celtics", "Bayern Munich", "Juventus", "Chicago Bulls", "Ajax",
    "Liverpool", "Barcelona", "New York Yankees", "Toronto Raptors", "Paris Saint-Germain", "Benfica",
    "Inter Milan", "Los Angeles Lakers", "Celtic", "Golden State Warriors", "Borussia Dortmund", "Porto FC",
    "Seattle Sounders", "Manchester City", "Green Bay Packers", "Montreal Canadiens", "Napoli",
)  # fmt: skip
_LEAGUES = (
    "Premier League", "La Liga", "NBA", "Serie A", "Bundesliga", "MLS", "NHL", "NFL", "Ligue 1", "Eredivisie",
    "Primeira Liga", "WNBA",
)  # fmt: skip
_SEASONS = ("2021-22", "2022-23", "2023-24", "2024-25", "2025-26")
_SONGS = {
    "Bohemian Rhapsody": "Queen", "Clair de Lune": "Debussy", "Hotel California": "Eagles",
    "Rolling in the Deep": "Adele", "Blinding Lights": "The Weeknd", "Superstition": "Stevie Wonder",
    "Take Five": "Dave Brubeck", "Dancing Queen": "ABBA", "Yesterday": "The Beatles",
    "Purple Rain": "Prince", "Viva la Vida": "Coldplay", "Redemption Song": "Bob Marley",
    "Wonderwall": "Oasis", "Respect": "Aretha Franklin", "So What": "Miles Davis",
    "Shape of You": "Ed Sheeran", "Smells Like Teen Spirit": "Nirvana", "Imagine": "John Lennon",
    "Hallelujah": "Leonard Cohen", "Bad Guy": "Billie Eilish", "Levitating": "Dua Lipa",
    "Fly Me to the Moon": "Frank Sinatra", "Africa": "Toto", "Halo": "Beyonce",
}  # fmt: skip
_PLAYLIST_NAMES = (
    "Sunday Morning", "Road Trip", "Focus Mode", "Workout Mix", "Rainy Day", "Dinner Party", "Late Night",
    "Summer Vibes", "Study Session", "Throwbacks", "Chill Evening", "Morning Run",
)  # fmt: skip
_GENRES = (
    "jazz", "lo-fi", "classical", "rock", "hip hop", "indie folk", "reggae", "house", "soul", "bossa nova",
    "blues", "country", "synthwave", "k-pop",
)  # fmt: skip
_PLACE_TYPES = (
    "pharmacy", "gas station", "ATM", "supermarket", "car wash", "gym", "post office", "bookstore",
    "laundromat", "hardware store", "park", "pet store", "bike repair shop", "florist",
)  # fmt: skip
_LANGUAGES = (
    "Spanish", "French", "German", "Japanese", "Portuguese", "Italian", "Korean", "Arabic", "Hindi", "Dutch",
    "Swedish", "Turkish", "Polish", "Greek", "Mandarin Chinese", "Vietnamese", "Indonesian", "Swahili",
)  # fmt: skip
_PHRASES = (
    "Where is the nearest train station", "How much does this cost", "I would like a table for two",
    "Thank you for your hospitality", "Could you call a taxi for me", "What time does the museum open",
    "I am allergic to peanuts", "Nice to meet you", "The meeting has been moved to Thursday",
    "Happy birthday, my friend", "Is breakfast included", "Please send me the invoice",
    "Where can I buy a bus ticket", "The weather is lovely today", "I lost my passport",
)  # fmt: skip
_FOREIGN_PHRASES = (
    "Bom dia, tudo bem", "Wo ist der Bahnhof", "Je voudrais un cafe", "Muchas gracias por todo",
    "Dove si trova la farmacia", "Hoe laat is het", "Tack for maten", "Nasilsin bugun",
    "Dziekuje bardzo", "Selamat pagi", "Habari za asubuhi", "Hyvaa huomenta",
)  # fmt: skip
_UNIT_GROUPS = (
    ("meters", "feet", "inches", "centimeters", "miles", "kilometers", "yards"),
    ("kilograms", "pounds", "ounces", "grams", "stones"),
    ("liters", "gallons", "cups", "milliliters", "pints"),
)
_UNITS = tuple(unit for group in _UNIT_GROUPS for unit in group)
_UNIT_GROUP = {unit: group for group in _UNIT_GROUPS for unit in group}
_NEWS_TOPICS = (
    "technology", "climate", "sports", "science", "business", "health", "politics", "space exploration",
    "education", "entertainment", "artificial intelligence", "energy", "travel", "the economy",
)  # fmt: skip
_NEWS_QUERIES = (
    "electric vehicles", "Mars mission", "interest rates", "heat wave", "chip shortage", "Olympic Games",
    "housing market", "renewable energy", "vaccine trial", "trade agreement", "wildfire season",
    "quantum computing", "minimum wage", "high-speed rail",
)  # fmt: skip
_COUNTRIES = (
    "Germany", "Japan", "Brazil", "Canada", "India", "Kenya", "Australia", "Mexico", "France", "Spain",
    "South Korea", "Nigeria", "Norway", "Argentina",
)  # fmt: skip
_CUISINES = (
    "Thai", "Italian", "Mexican", "Japanese", "Indian", "Ethiopian", "Lebanese", "Vietnamese", "Greek",
    "Korean", "Peruvian", "Moroccan", "Spanish", "Turkish", "French", "Georgian",
)  # fmt: skip
_RESTAURANTS = (
    "Luna Bistro", "The Olive Tree", "Sakura House", "Casa Mia", "The Golden Spoon", "Spice Route",
    "Harbor Grill", "Le Petit Jardin", "Blue Door Kitchen", "Noodle Bar 88", "The Copper Pot", "Verde",
    "Saffron Lounge", "Fig and Thistle", "The Salt Cellar", "Mama Rosa",
)  # fmt: skip
_ROOMS = ("living room", "bedroom", "kitchen", "office", "nursery", "basement", "hallway", "dining room")
_DOORS = ("front", "back", "garage", "side", "patio")
_ACCOUNTS = ("checking", "savings", "credit card", "brokerage")
_TRANSFER_ACCOUNTS = ("checking", "savings", "brokerage", "joint")
_MEMOS = ("rent share", "vacation fund", "birthday gift", "emergency fund", "car repair", "tuition")
_LEAVE_NOTES = ("family wedding", "medical appointment", "moving house", "school holidays")
_MOVIES = (
    "The Last Lighthouse", "Midnight Orbit", "Paper Tigers", "The Silent Harbor", "Northern Lights",
    "A Year in Kyoto", "Glass Mountain", "The Long Summer", "Echoes of Tomorrow", "River of Stars",
    "The Clockmaker", "Desert Bloom",
)  # fmt: skip
_INGREDIENTS = (
    "chickpeas", "salmon", "spinach", "tofu", "chicken thighs", "sweet potatoes", "mushrooms", "lentils",
    "eggplant", "shrimp", "quinoa", "zucchini", "ground beef", "cauliflower", "black beans", "halloumi",
)  # fmt: skip
_WORDS = (
    "ephemeral", "serendipity", "ubiquitous", "melancholy", "pragmatic", "eloquent", "resilient",
    "ambiguous", "meticulous", "quintessential", "gregarious", "laconic", "sonder", "petrichor",
)  # fmt: skip
_LANDMARKS = (
    "Central Station", "the airport", "City Hall", "Riverside Mall", "the Grand Hotel", "Union Square",
    "the convention center", "Lakeside Park", "Memorial Hospital", "the university campus", "Harbor Pier",
    "the stadium", "Westfield Library", "Oak Street Market", "the art museum", "the ferry terminal",
)  # fmt: skip
_JOB_TITLES = (
    "data analyst", "nurse", "software engineer", "accountant", "graphic designer", "project manager",
    "electrician", "teacher", "product manager", "pharmacist", "UX researcher", "marketing manager",
    "civil engineer", "chef",
)  # fmt: skip
_TASKS = (
    "call the dentist", "pick up the dry cleaning", "water the plants", "pay the electricity bill",
    "renew my passport", "take my medication", "book the car service", "send mom a birthday card",
    "submit the expense report", "buy groceries", "back up my laptop", "return the library books",
)  # fmt: skip


def _pick(rng: random.Random, values: Sequence[Any]) -> Any:
    # One float per draw: several times faster than Random.choice, which counts at a million rows.
    return values[int(rng.random() * len(values))]


def _between(rng: random.Random, low: int, high: int) -> int:
    """A whole number from ``low`` to ``high``, both included."""
    return low + int(rng.random() * (high - low + 1))


# Made-up facts for hallucinated direct answers, drawn only for the placeholders a template uses.
_FAKES: dict[str, Callable[[random.Random], str]] = {
    "x_temp": lambda rng: str(_between(rng, -5, 36)),
    "x_sky": lambda rng: _pick(rng, ("sunny", "partly cloudy", "overcast", "drizzly", "clear", "windy")),
    "x_price": lambda rng: f"{rng.uniform(3, 2000):.2f}",
    "x_pct": lambda rng: f"{rng.uniform(0.2, 9.8):.1f}",
    "x_clock": lambda rng: _pick(rng, _TIMES),
    "x_small": lambda rng: str(_between(rng, 2, 9)),
    "x_num": lambda rng: str(_between(rng, 12, 95)),
    "x_code": lambda rng: "".join(_pick(rng, "ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(6)),
    "x_name": lambda rng: _pick(rng, _PEOPLE),
    "x_phrase": lambda rng: _pick(rng, _FOREIGN_PHRASES),
    "x_lang": lambda rng: _pick(rng, _LANGUAGES),
}

# --------------------------------------------------------------------------------------------------------
# Samplers: ``(rng, arguments drawn so far) -> value``; the second argument lets one value depend on another.
# --------------------------------------------------------------------------------------------------------


def _one_of(values: Sequence[Any]) -> Sampler:
    values = tuple(values)
    return lambda rng, _args: _pick(rng, values)


def _other_than(values: Sequence[Any], other: str) -> Sampler:
    """A value from ``values`` that differs from argument ``other`` (a trip needs two different ends)."""
    values = tuple(values)

    def sample(rng: random.Random, args: Mapping[str, Any]) -> Any:
        while True:
            value = _pick(rng, values)
            if value != args.get(other):
                return value

    return sample


def _integer(low: int, high: int) -> Sampler:
    return lambda rng, _args: _between(rng, low, high)


def _decimal(low: float, high: float, places: int) -> Sampler:
    """Numbers on a grid, so str(value) has at most ``places`` decimals, the way a person writes them."""
    if places == 0:
        return lambda rng, _args: _between(rng, int(low), int(high))
    scale = 10**places
    return lambda rng, _args: _between(rng, round(low * scale), round(high * scale)) / scale


_DIGITS = "0123456789"


def _code(prefix: str, alphabet: str, length: int) -> Sampler:
    return lambda rng, _args: prefix + "".join(_pick(rng, alphabet) for _ in range(length))


def _flight_number(rng: random.Random, _args: Mapping[str, Any]) -> str:
    return f"{_pick(rng, _AIRLINES)}{_between(rng, 10, 9999)}"


def _days_after(other: str, low: int, high: int) -> Sampler:
    def sample(rng: random.Random, args: Mapping[str, Any]) -> str:
        start = _DATE_INDEX[args[other]]
        return _DATES[min(start + _between(rng, low, high), len(_DATES) - 1)]

    return sample


def _same_group_unit(rng: random.Random, args: Mapping[str, Any]) -> str:
    return _pick(rng, [unit for unit in _UNIT_GROUP[args["from_unit"]] if unit != args["from_unit"]])


def _artist_of_song(_rng: random.Random, args: Mapping[str, Any]) -> str:
    return _SONGS[args["song"]]


# --------------------------------------------------------------------------------------------------------
# The tool catalogue.
# --------------------------------------------------------------------------------------------------------

# The Python types a value of each schema type may have (a JSON "number" may be whole).
_PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
}


@dataclass(frozen=True, slots=True)
class Param:
    """An argument of a tool: its schema, how values are drawn, and how questions and answers refer to it.

    :param ask: the question that asks for it when a request leaves it out (required arguments).
    :param phrase: how a question mentions it when the phrasing has no slot for it (optional arguments).
    """

    name: str
    type: str
    description: str
    sample: Sampler
    required: bool
    ask: str = ""
    phrase: Template | None = None
    enum: tuple[str, ...] | None = None
    default: Any = None

    def schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": self.type, "description": self.description}
        if self.enum is not None:
            schema["enum"] = list(self.enum)
        if self.default is not None:
            schema["default"] = self.default
        return schema


def _required(name: str, type_: str, description: str, sample: Sampler, ask: str) -> Param:
    return Param(name, type_, description, sample, required=True, ask=ask)


def _required_choice(name: str, description: str, enum: tuple[str, ...], ask: str) -> Param:
    return Param(name, "string", description, _one_of(enum), required=True, ask=ask, enum=enum)


def _optional(
    name: str,
    type_: str,
    description: str,
    sample: Sampler,
    phrase: str,
    *,
    enum: tuple[str, ...] | None = None,
    default: Any = None,
) -> Param:
    return Param(
        name,
        type_,
        description,
        sample,
        required=False,
        phrase=Template.compile(phrase),
        enum=enum,
        default=default,
    )


def _optional_choice(
    name: str, description: str, enum: tuple[str, ...], phrase: str, default: str | None = None
) -> Param:
    return _optional(name, "string", description, _one_of(enum), phrase, enum=enum, default=default)


def _flag(name: str, description: str, phrase: str) -> Param:
    """An optional boolean that a question only ever switches on."""
    return _optional(name, "boolean", description, lambda _rng, _args: True, phrase, default=False)


@dataclass(frozen=True, slots=True, eq=False)  # catalogue entries: identity is equality
class ToolSpec:
    """A tool of the catalogue: its When2Call definition plus what the generator needs to ask about it.

    :param domain: tools of one domain overlap in intent, so distractors, and the tools offered instead of
        a missing one, always come from unrelated domains.
    :param topic: a short noun phrase naming what the tool covers ("flight search").
    :param action: what it does, as an infinitive phrase ("search for flights").
    """

    name: str
    domain: str
    topic: str
    action: str
    description: str
    params: tuple[Param, ...]
    required: tuple[Param, ...]
    questions: tuple[Template, ...]
    answers: tuple[Template, ...]
    definition: dict[str, Any]
    definition_json: str


def _check_tool(
    name: str, params: tuple[Param, ...], questions: tuple[Template, ...], answers: tuple[Template, ...]
) -> None:
    """Catch catalogue mistakes at import: every rule here is one the generated rows rely on."""
    names = {param.name for param in params}
    required = {param.name for param in params if param.required}
    if not required:
        raise ValueError(f"tool {name}: needs a required argument (request_for_info rows leave one out)")
    if len(questions) < 4:
        raise ValueError(f"tool {name}: needs at least 4 question phrasings")
    for template in questions + answers:
        if any(part.optional and not part.fields for part in template.parts):
            raise ValueError(f"tool {name}: a [...] segment without a placeholder in {template.source!r}")
        unknown = set(template.fields) - names - _FAKES.keys()
        if unknown:
            raise ValueError(f"tool {name}: unknown placeholders {sorted(unknown)} in {template.source!r}")
        if not (set(template.fields) & names) <= template.optional_fields:
            raise ValueError(f"tool {name}: argument placeholders must sit in [...] in {template.source!r}")
    for template in questions:
        if not required <= set(template.fields):
            raise ValueError(f"tool {name}: {template.source!r} leaves out a required argument")
    for template in answers:
        if template.source.rstrip()[-1:] not in ".!":
            raise ValueError(f"tool {name}: a direct answer must be a statement: {template.source!r}")
    for param in params:
        if param.required and not param.ask.endswith("?"):
            raise ValueError(f"tool {name}: argument {param.name} needs an `ask` question ending in '?'")
        if not param.required and param.phrase is None:
            raise ValueError(f"tool {name}: optional argument {param.name} needs a phrase")
        if param.type not in _PYTHON_TYPES:
            raise ValueError(f"tool {name}: argument {param.name} has unknown type {param.type!r}")


def _tool(
    name: str,
    domain: str,
    topic: str,
    action: str,
    description: str,
    params: tuple[Param, ...],
    questions: tuple[str, ...],
    answers: tuple[str, ...],
) -> ToolSpec:
    compiled_questions = tuple(Template.compile(text) for text in questions)
    compiled_answers = tuple(Template.compile(text) for text in answers)
    _check_tool(name, params, compiled_questions, compiled_answers)
    definition = {
        "name": name,
        "description": description,
        "parameters": {
            "type": "dict",
            "properties": {param.name: param.schema() for param in params},
            "required": [param.name for param in params if param.required],
        },
    }
    return ToolSpec(
        name=name,
        domain=domain,
        topic=topic,
        action=action,
        description=description,
        params=params,
        required=tuple(param for param in params if param.required),
        questions=compiled_questions,
        answers=compiled_answers,
        definition=definition,
        definition_json=json.dumps(definition),
    )


_UNITS_PARAM = _optional_choice(
    "units", "Temperature units.", ("celsius", "fahrenheit"), "in {units}", default="celsius"
)

# The catalogue is a table: one tool per block, laid out by hand for reading, so the formatter leaves it be.
# fmt: off
TOOLS: tuple[ToolSpec, ...] = (
    _tool(
        "get_current_weather", "weather", "current weather", "check the current weather",
        "Get the current weather conditions for a city.",
        (
            _required("city", "string", "City name, e.g. Paris.", _one_of(_CITIES),
                      "Which city would you like the current weather for?"),
            _UNITS_PARAM,
        ),
        (
            "What's the weather like[ in {city}] right now?",
            "weather now[ {city}]",
            "Could you tell me the current weather conditions[ in {city}], please?",
            "I'm about to go for a walk. Is it raining[ in {city}] at the moment?",
            "How warm is it[ in {city}] right now[ in {units}]?",
        ),
        (
            "It is {x_temp} degrees and {x_sky}[ in {city}] right now.",
            "Right now it's {x_sky}[ in {city}] with a temperature of {x_temp} degrees and light winds.",
        ),
    ),
    _tool(
        "get_weather_forecast", "weather", "weather forecasts", "get a weather forecast",
        "Get the weather forecast for a city on a given date.",
        (
            _required("city", "string", "City name.", _one_of(_CITIES),
                      "Which city should I get the forecast for?"),
            _required("date", "string", "Date in YYYY-MM-DD format.", _one_of(_DATES),
                      "Which date would you like the forecast for?"),
            _UNITS_PARAM,
        ),
        (
            "What's the forecast[ for {city}][ on {date}]?",
            "forecast[ {city}][ {date}]",
            "Will it rain[ in {city}][ on {date}]? I need to decide whether to pack an umbrella.",
            "Could you please check the weather forecast[ in {city}][ for {date}]?",
            "We're planning an outdoor party[ in {city}][ on {date}]. What will the weather be like?",
        ),
        ("The forecast[ for {city}][ on {date}] is {x_sky} with a high of {x_temp} degrees.",),
    ),
    _tool(
        "get_stock_price", "finance", "stock quotes", "look up stock prices",
        "Get the latest trading price of a stock.",
        (
            _required("ticker", "string", "Stock ticker symbol, e.g. AAPL.", _one_of(_TICKERS),
                      "Which stock ticker would you like the price for?"),
            _flag("include_after_hours", "Include after-hours trading.", "including after-hours trading"),
        ),
        (
            "What's the latest stock price[ for {ticker}]?",
            "quote[ {ticker}]",
            "Could you look up the current share price[ of {ticker}] for me?",
            "I'm thinking about selling some shares. How is the stock[ {ticker}] doing today?",
            "Please get me a real-time stock quote[ for {ticker}].",
        ),
        ("The stock[ ({ticker})] is trading at {x_price} dollars, up {x_pct}% on the day.",),
    ),
    _tool(
        "get_crypto_price", "finance", "cryptocurrency prices", "check cryptocurrency prices",
        "Get the current market price of a cryptocurrency.",
        (
            _required("symbol", "string", "Coin symbol, e.g. BTC.", _one_of(_CRYPTO),
                      "Which cryptocurrency would you like the price of?"),
            _optional("currency", "string", "Quote currency code.", _one_of(_CURRENCIES), "in {currency}",
                      default="USD"),
        ),
        (
            "What's the current price[ of {symbol}]?",
            "crypto price[ {symbol}]",
            "Could you check the latest market price[ for {symbol}], please?",
            "I bought some crypto last year. What is the price[ of {symbol}] today?",
        ),
        ("The price[ of {symbol}] is currently {x_price}, down {x_pct}% over the last 24 hours.",),
    ),
    _tool(
        "convert_currency", "currency", "currency conversion", "convert between currencies",
        "Convert an amount of money from one currency to another at the current rate.",
        (
            _required("amount", "number", "Amount to convert.", _decimal(5, 5000, 2),
                      "How much money would you like to convert?"),
            _required("from_currency", "string", "ISO code of the source currency.", _one_of(_CURRENCIES),
                      "Which currency are you converting from?"),
            _required("to_currency", "string", "ISO code of the target currency.",
                      _other_than(_CURRENCIES, "from_currency"),
                      "Which currency would you like to convert to?"),
        ),
        (
            "Convert[ {amount}][ {from_currency}][ to {to_currency}].",
            "How much is[ {amount}][ {from_currency}][ in {to_currency}]?",
            "I'm traveling soon and need to exchange[ {amount}][ {from_currency}][ into {to_currency}]. "
            "What would I get?",
            "Could you please convert[ {amount}][ {from_currency}][ to {to_currency}] at today's rate?",
            "fx[ {amount}][ {from_currency}][ to {to_currency}]",
        ),
        ("That comes to {x_price}[ {to_currency}] at today's rate.",),
    ),
    _tool(
        "search_flights", "travel", "flight search", "search for flights",
        "Search for available flights between two cities on a date.",
        (
            _required("origin", "string", "Departure city.", _one_of(_CITIES),
                      "Which city will you be flying from?"),
            _required("destination", "string", "Arrival city.", _other_than(_CITIES, "origin"),
                      "Where would you like to fly to?"),
            _required("departure_date", "string", "Date in YYYY-MM-DD format.", _one_of(_DATES),
                      "What date would you like to depart?"),
            _optional_choice("cabin_class", "Cabin class.", ("economy", "premium", "business", "first"),
                             "in {cabin_class} class", default="economy"),
            _optional("passengers", "integer", "Number of passengers.", _integer(2, 6),
                      "for {passengers} passengers", default=1),
        ),
        (
            "Find flights[ from {origin}][ to {destination}][ on {departure_date}].",
            "flights[ {origin}][ to {destination}][ {departure_date}]",
            "Could you please look for flights[ from {origin}][ to {destination}]"
            "[ departing {departure_date}]?",
            "I need to get to a conference[ in {destination}]. Are there any flights[ out of {origin}]"
            "[ on {departure_date}][ in {cabin_class} class]?",
            "What flights are available[ from {origin}][ to {destination}][ on {departure_date}]"
            "[ for {passengers} passengers]?",
        ),
        (
            "There's a nonstop flight[ from {origin}][ to {destination}] leaving at {x_clock} "
            "for {x_price} dollars.",
        ),
    ),
    _tool(
        "search_hotels", "travel", "hotel search", "search for hotels",
        "Search for hotel rooms in a city for a stay.",
        (
            _required("city", "string", "City to stay in.", _one_of(_CITIES),
                      "Which city are you looking for a hotel in?"),
            _required("check_in", "string", "Check-in date, YYYY-MM-DD.", _one_of(_DATES),
                      "What's your check-in date?"),
            _required("nights", "integer", "Number of nights.", _integer(2, 14),
                      "How many nights will you be staying?"),
            _optional("guests", "integer", "Number of guests.", _integer(2, 5), "for {guests} guests",
                      default=1),
            _optional("max_price", "number", "Highest nightly price.", _decimal(60, 600, 0),
                      "under {max_price} per night"),
        ),
        (
            "Find me a hotel[ in {city}][ from {check_in}][ for {nights} nights].",
            "hotel[ {city}][ {check_in}][ {nights} nights]",
            "Could you search for hotels[ in {city}][ checking in on {check_in}][ for {nights} nights]"
            ", please?",
            "I'm visiting family[ in {city}]. Can you find somewhere to stay[ starting {check_in}]"
            "[ for {nights} nights][ under {max_price} per night]?",
        ),
        ("The Grand Central Hotel[ in {city}] has a room available for {x_price} dollars per night.",),
    ),
    _tool(
        "get_flight_status", "travel", "flight status", "check flight status",
        "Get the live status of a flight.",
        (
            _required("flight_number", "string", "Airline code and number, e.g. BA117.", _flight_number,
                      "What's the flight number?"),
            _optional("date", "string", "Date of the flight, YYYY-MM-DD.", _one_of(_DATES), "on {date}"),
        ),
        (
            "Is my flight[ {flight_number}] on time?",
            "flight status[ {flight_number}]",
            "Could you check whether my flight[ {flight_number}] has been delayed?",
            "I'm picking my sister up at the airport. Has her flight[ {flight_number}] landed yet?",
            "What's the current status of the flight[ {flight_number}][ on {date}]?",
        ),
        ("Flight[ {flight_number}] is on time and scheduled to land at {x_clock}.",),
    ),
    _tool(
        "create_calendar_event", "calendar", "calendar events", "add events to a calendar",
        "Create an event in the user's calendar.",
        (
            _required("title", "string", "Event title.", _one_of(_EVENT_TITLES),
                      "What should the event be called?"),
            _required("date", "string", "Date, YYYY-MM-DD.", _one_of(_DATES),
                      "Which date should I put the event on?"),
            _required("start_time", "string", "Start time, HH:MM (24h).", _one_of(_TIMES),
                      "What time should the event start?"),
            _optional("duration_minutes", "integer", "Length in minutes.", _one_of((15, 30, 45, 60, 90, 120)),
                      "for {duration_minutes} minutes", default=60),
            _optional("location", "string", "Where it takes place.", _one_of(_LOCATIONS), "in {location}"),
        ),
        (
            'Add an event[ "{title}"] to my calendar[ on {date}][ at {start_time}].',
            'new event[ "{title}"][ {date}][ {start_time}]',
            'Could you please schedule an event[ called "{title}"][ for {date}][ at {start_time}]?',
            'I keep forgetting things. Put an event[ named "{title}"] in my calendar[ on {date}]'
            "[ starting at {start_time}][ for {duration_minutes} minutes].",
        ),
        ("Done! I've added the event to your calendar[ on {date}][ at {start_time}].",),
    ),
    _tool(
        "list_calendar_events", "calendar", "calendar lookups", "look up your calendar events",
        "List the events in the user's calendar on a day.",
        (
            _required("date", "string", "Date, YYYY-MM-DD.", _one_of(_DATES),
                      "Which day would you like to see your schedule for?"),
            _optional_choice("calendar", "Which calendar.", ("work", "personal", "family"),
                             "on my {calendar} calendar", default="work"),
        ),
        (
            "What's on my calendar[ for {date}]?",
            "agenda[ {date}]",
            "Could you list my meetings[ on {date}], please?",
            "I'm trying to plan a dentist visit. Am I free[ on {date}]?",
            "Show me everything scheduled[ for {date}][ on my {calendar} calendar].",
        ),
        ("You have {x_small} events[ on {date}]; the first one starts at {x_clock}.",),
    ),
    _tool(
        "set_reminder", "calendar", "reminders", "set reminders",
        "Set a reminder that notifies the user at a given date and time.",
        (
            _required("task", "string", "What to be reminded about.", _one_of(_TASKS),
                      "What would you like me to remind you about?"),
            _required("date", "string", "Date, YYYY-MM-DD.", _one_of(_DATES),
                      "Which day should I remind you?"),
            _required("time", "string", "Time, HH:MM (24h).", _one_of(_TIMES),
                      "What time should the reminder go off?"),
        ),
        (
            "Remind me[ to {task}][ on {date}][ at {time}].",
            "reminder[ {task}][ {date}][ {time}]",
            "Could you set a reminder[ to {task}][ for {date}][ at {time}]?",
            "I always forget these things. Please ping me[ on {date}][ at {time}][ to {task}].",
        ),
        ("Reminder set[ for {date}]! I'll make sure you don't forget.",),
    ),
    _tool(
        "send_email", "email", "sending email", "send emails",
        "Send an email from the user's account.",
        (
            _required("recipient", "string", "Recipient email address.", _one_of(_EMAILS),
                      "Who should I send the email to?"),
            _required("subject", "string", "Subject line.", _one_of(_SUBJECTS),
                      "What should the subject line be?"),
            _optional("body", "string", "Message text.", _one_of(_EMAIL_BODIES), 'saying "{body}"'),
        ),
        (
            'Send an email[ to {recipient}][ with the subject "{subject}"].',
            'email[ {recipient}][ re "{subject}"]',
            'Could you please write an email[ to {recipient}][ about "{subject}"]?',
            "I need to follow up with a colleague. Send a message[ to {recipient}]"
            '[ titled "{subject}"][ saying "{body}"].',
        ),
        ("I've sent the email[ to {recipient}] and it was delivered successfully.",),
    ),
    _tool(
        "search_emails", "email", "mailbox search", "search your mailbox",
        "Search the user's mailbox for messages.",
        (
            _required("query", "string", "Words to search for.", _one_of(_MAIL_QUERIES),
                      "What should I search your inbox for?"),
            _optional("sender", "string", "Only messages from this address.", _one_of(_EMAILS),
                      "from {sender}"),
            _flag("unread_only", "Only unread messages.", "that are still unread"),
        ),
        (
            'Search my inbox[ for "{query}"].',
            'find emails[ "{query}"]',
            'Could you look through my email[ for anything about "{query}"]?',
            'I can\'t find an important message. Can you search my mail[ for "{query}"][ from {sender}]?',
        ),
        ('I found {x_small} emails[ about "{query}"]; the latest arrived yesterday at {x_clock}.',),
    ),
    _tool(
        "search_products", "shopping", "product search", "search an online store",
        "Search an online store's catalogue.",
        (
            _required("query", "string", "What to search for.", _one_of(_PRODUCTS),
                      "What product are you looking for?"),
            _optional("max_price", "number", "Highest price.", _decimal(20, 900, 0),
                      "under {max_price} dollars"),
            _optional_choice("sort_by", "Result order.", ("price", "rating", "newest"), "sorted by {sort_by}",
                             default="rating"),
        ),
        (
            "Search the store[ for {query}].",
            "shop[ {query}]",
            "Could you find some options[ for {query}] I could buy?",
            "My old one just broke. Can you find deals[ on {query}][ under {max_price} dollars]?",
            "Show me the best-rated products[ matching {query}].",
        ),
        ("The top result is the ProMax[ {query}] for {x_price} dollars, rated 4.8 stars.",),
    ),
    _tool(
        "add_to_cart", "shopping", "shopping cart", "add items to a shopping cart",
        "Add a product to the user's shopping cart.",
        (
            _required("product_name", "string", "Product to add.", _one_of(_PRODUCTS),
                      "Which product would you like to add to your cart?"),
            _required("quantity", "integer", "How many.", _integer(1, 10), "How many would you like to add?"),
        ),
        (
            "Add[ {quantity}][ {product_name}] to my cart.",
            "cart add[ {product_name}][ x{quantity}]",
            "Could you put[ {product_name}] in my shopping cart[, quantity {quantity}]?",
            "I'm restocking the office. Please add[ {product_name}] to the cart[ ({quantity} units)].",
        ),
        ("Added! Your cart now has[ {quantity}][ {product_name}] and comes to {x_price} dollars.",),
    ),
    _tool(
        "track_order", "logistics", "order tracking", "track online orders",
        "Get the delivery status of an online order.",
        (
            _required("order_id", "string", "Order number, e.g. ORD-123456.", _code("ORD-", _DIGITS, 6),
                      "What's your order number?"),
        ),
        (
            "Where is my order[ {order_id}]?",
            "track order[ {order_id}]",
            "Could you check the delivery status of my order[ {order_id}], please?",
            "I ordered a gift last week and it still hasn't arrived. Can you check on my order[ {order_id}]?",
        ),
        ("Your order[ {order_id}] shipped yesterday and will arrive by {x_clock} tomorrow.",),
    ),
    _tool(
        "track_shipment", "logistics", "shipment tracking", "track parcels",
        "Track a parcel by its carrier tracking number.",
        (
            _required("tracking_number", "string", "Carrier tracking number.",
                      _code("1Z", "0123456789ABCDEFGHJKLMNPRSTVWXYZ", 12), "What's the tracking number?"),
            _optional_choice("carrier", "Shipping carrier.", ("UPS", "FedEx", "DHL", "USPS"),
                             "with {carrier}", default="UPS"),
        ),
        (
            "Where is my package[ {tracking_number}]?",
            "track parcel[ {tracking_number}]",
            "Could you check the delivery status[ of tracking number {tracking_number}][ with {carrier}]?",
            "I'm expecting an important delivery today. Has the parcel[ {tracking_number}] left the depot"
            " yet?",
        ),
        ("Your package[ {tracking_number}] is out for delivery and should arrive by {x_clock}.",),
    ),
    _tool(
        "estimate_shipping_cost", "logistics", "shipping quotes", "estimate shipping costs",
        "Estimate the cost of shipping a parcel between two cities.",
        (
            _required("origin_city", "string", "City it ships from.", _one_of(_CITIES),
                      "Which city is the package shipping from?"),
            _required("destination_city", "string", "City it ships to.", _other_than(_CITIES, "origin_city"),
                      "Where is the package going?"),
            _required("weight_kg", "number", "Parcel weight in kilograms.", _decimal(0.2, 30, 1),
                      "How much does the package weigh in kilograms?"),
            _optional_choice("service", "Service level.", ("standard", "express", "overnight"),
                             "using {service} service", default="standard"),
        ),
        (
            "How much to ship a package[ from {origin_city}][ to {destination_city}]"
            "[ weighing {weight_kg} kg]?",
            "shipping quote[ {origin_city}][ to {destination_city}][ {weight_kg}kg]",
            "Could you estimate the postage[ for a {weight_kg} kg parcel][ from {origin_city}]"
            "[ to {destination_city}][ using {service} service]?",
            "I'm sending a birthday present to my nephew. What would it cost[ to send {weight_kg} kg]"
            "[ from {origin_city}][ to {destination_city}]?",
        ),
        ("Shipping will cost {x_price} dollars[ to {destination_city}] and take {x_small} business days.",),
    ),
    _tool(
        "find_doctor", "health", "doctor search", "find doctors",
        "Find doctors of a specialty in a city.",
        (
            _required("specialty", "string", "Medical specialty.", _one_of(_SPECIALTIES),
                      "What kind of specialist are you looking for?"),
            _required("city", "string", "City to search in.", _one_of(_CITIES),
                      "Which city should I search for doctors in?"),
            _optional("insurance", "string", "Insurance the doctor must accept.", _one_of(_INSURERS),
                      "who accepts {insurance}"),
        ),
        (
            "Find a doctor[ specializing in {specialty}][ in {city}].",
            "doctor[ {specialty}][ {city}]",
            "Could you recommend a doctor[ who does {specialty}][ near {city}]?",
            "My knee has been hurting for weeks. Can you find a specialist[ in {specialty}][ in {city}]"
            "[ who accepts {insurance}]?",
        ),
        ("Dr. {x_name}[ in {city}] has openings next week and is highly rated by patients.",),
    ),
    _tool(
        "calculate_bmi", "health", "BMI calculation", "calculate body mass index",
        "Calculate body mass index from weight and height.",
        (
            _required("weight_kg", "number", "Weight in kilograms.", _decimal(45, 130, 1),
                      "What's your weight in kilograms?"),
            _required("height_cm", "number", "Height in centimeters.", _decimal(145, 205, 1),
                      "How tall are you in centimeters?"),
        ),
        (
            "Calculate my BMI[: {weight_kg} kg][, {height_cm} cm].",
            "bmi[ {weight_kg}kg][ {height_cm}cm]",
            "[I weigh {weight_kg} kg. ][I am {height_cm} cm tall. ]Could you work out my body mass index?",
            "My doctor mentioned BMI at my checkup. What's mine[ at {weight_kg} kg]"
            "[ with a height of {height_cm} cm]?",
        ),
        ("Your BMI works out to about 2{x_small}.4, which is in the healthy range.",),
    ),
    _tool(
        "log_workout", "fitness", "workout logging", "log workouts",
        "Record a workout in the user's fitness log.",
        (
            _required("activity", "string", "Type of exercise.", _one_of(_ACTIVITIES),
                      "What kind of workout did you do?"),
            _required("duration_minutes", "integer", "Length in minutes.", _integer(10, 120),
                      "How many minutes did the workout last?"),
            _optional("calories", "integer", "Calories burned.", _integer(80, 900),
                      "burning {calories} calories"),
        ),
        (
            "Log a workout[: {activity}][ for {duration_minutes} minutes].",
            "log[ {activity}][ {duration_minutes} min]",
            "Could you record my[ {activity}] session[ of {duration_minutes} minutes]?",
            "Just got back from the gym! Please track[ {duration_minutes} minutes of] exercise[ ({activity})]"
            "[ burning {calories} calories].",
        ),
        ("Nice work! Your[ {activity}] session is logged and you burned about {x_num}0 calories.",),
    ),
    _tool(
        "get_match_score", "sports", "sports scores", "look up sports scores",
        "Get the result of a team's most recent match.",
        (
            _required("team", "string", "Team name.", _one_of(_TEAMS), "Which team's score would you like?"),
            _optional("date", "string", "Match date, YYYY-MM-DD.", _one_of(_DATES), "on {date}"),
        ),
        (
            "What was the score of the[ {team}] game?",
            "score[ {team}]",
            "Could you tell me the result of the last match[ for {team}]?",
            "I missed it last night. Who won the match[ involving {team}][ on {date}]?",
        ),
        ("The match ended 3-1[ to {team}], with the decisive goal after {x_num} minutes.",),
    ),
    _tool(
        "get_league_standings", "sports", "league standings", "look up league standings",
        "Get the current table of a sports league.",
        (
            _required("league", "string", "League name.", _one_of(_LEAGUES),
                      "Which league would you like the standings for?"),
            _optional("season", "string", "Season, e.g. 2024-25.", _one_of(_SEASONS),
                      "for the {season} season"),
        ),
        (
            "Show me the[ {league}] standings.",
            "standings[ {league}]",
            "Could you pull up the current league table[ for the {league}]?",
            "My friends and I have a bet. Who is top of the table[ in the {league}]"
            "[ for the {season} season]?",
        ),
        ("Right now the leader[ of the {league}] is ahead by {x_small} points with {x_small} games left.",),
    ),
    _tool(
        "play_song", "music", "music playback", "play music",
        "Play a song on the user's speakers.",
        (
            _required("song", "string", "Song title.", _one_of(tuple(_SONGS)),
                      "Which song would you like me to play?"),
            _optional("artist", "string", "Artist, to tell songs apart.", _artist_of_song, "by {artist}"),
        ),
        (
            'Play a song[: "{song}"].',
            "play song[ {song}]",
            'Could you put on some music[, specifically "{song}"][ by {artist}]?',
            'I\'m cooking dinner and want some music. Please play the track[ "{song}"].',
        ),
        ('Now playing[ "{song}"]. Enjoy the music!',),
    ),
    _tool(
        "create_playlist", "music", "playlist creation", "create playlists",
        "Create a playlist of a genre.",
        (
            _required("name", "string", "Playlist name.", _one_of(_PLAYLIST_NAMES),
                      "What would you like to name the playlist?"),
            _required("genre", "string", "Music genre.", _one_of(_GENRES),
                      "What genre should the playlist be?"),
            _optional("track_count", "integer", "Number of tracks.", _integer(10, 50),
                      "with {track_count} tracks", default=25),
        ),
        (
            'Create a playlist[ called "{name}"][ with {genre} music].',
            'new playlist[ "{name}"][ {genre}]',
            'Could you make me a[ {genre}] playlist[ named "{name}"]?',
            "I have a long drive on Saturday. Please build a playlist[ of {genre}]"
            '[ titled "{name}"][ with {track_count} tracks].',
        ),
        ('Your playlist[ "{name}"] is ready with {x_num} songs.',),
    ),
    _tool(
        "get_directions", "maps", "directions", "get directions",
        "Get a route between two places.",
        (
            _required("origin", "string", "Starting point.", _one_of(_CITIES),
                      "Where will you be starting from?"),
            _required("destination", "string", "Where to go.", _other_than(_CITIES, "origin"),
                      "Where would you like to go?"),
            _optional_choice("mode", "Travel mode.", ("car", "foot", "transit", "bike"), "by {mode}",
                             default="car"),
        ),
        (
            "How do I get[ from {origin}][ to {destination}]?",
            "directions[ {origin}][ to {destination}]",
            "Could you give me directions[ from {origin}][ to {destination}][ by {mode}], please?",
            "We're road-tripping this summer. What's the best route[ from {origin}][ to {destination}]?",
        ),
        (
            "Take the main highway[ from {origin}] and follow the signs[ to {destination}]; "
            "it takes about {x_small} hours.",
        ),
    ),
    _tool(
        "find_nearby_places", "maps", "nearby places", "find nearby places",
        "Find places of a type in an area.",
        (
            _required("place_type", "string", "Kind of place.", _one_of(_PLACE_TYPES),
                      "What kind of place are you looking for?"),
            _required("city", "string", "City or area.", _one_of(_CITIES),
                      "Which city or area should I search in?"),
            _optional("radius_km", "number", "Search radius in km.", _decimal(0.5, 10, 1),
                      "within {radius_km} km", default=2.0),
        ),
        (
            "Search nearby[ for a {place_type}][ in {city}].",
            "nearby[ {place_type}][ {city}]",
            "Could you find the closest options[ for a {place_type}][ in {city}][ within {radius_km} km]?",
            "I just arrived[ in {city}] and I'm looking for something nearby[: a {place_type}]."
            " Any suggestions?",
        ),
        ("There's a great spot only {x_small}00 meters away[ in {city}][ ({place_type})].",),
    ),
    _tool(
        "translate_text", "translation", "translation", "translate text",
        "Translate text into another language.",
        (
            _required("text", "string", "Text to translate.", _one_of(_PHRASES),
                      "What text would you like me to translate?"),
            _required("target_language", "string", "Language to translate into.", _one_of(_LANGUAGES),
                      "Which language should I translate it into?"),
            _optional("source_language", "string", "Language of the text.", _one_of(_LANGUAGES),
                      "from {source_language}"),
        ),
        (
            'Translate[ "{text}"][ into {target_language}].',
            'translate[ "{text}"][ to {target_language}]',
            'Could you help me translate something[: "{text}"][ into {target_language}]?',
            "I'm writing to a pen pal. Please translate this message[ into {target_language}]"
            '[ from {source_language}][: "{text}"].',
        ),
        ('Here you go: "{x_phrase}"[ (in {target_language})].',),
    ),
    _tool(
        "detect_language", "translation", "language detection", "identify the language of a text",
        "Identify which language a text is written in.",
        (
            _required("text", "string", "Text to identify.", _one_of(_FOREIGN_PHRASES),
                      "What text would you like me to identify the language of?"),
        ),
        (
            'What language is this[: "{text}"]?',
            'detect language[ "{text}"]',
            'Could you tell me which language this sentence is written in[: "{text}"]?',
            "My friend sent me a message and I can't read it[: \"{text}\"]. What language is it?",
        ),
        ("That text is written in {x_lang}.",),
    ),
    _tool(
        "convert_units", "units", "unit conversion", "convert units of measurement",
        "Convert a quantity between units of length, mass or volume.",
        (
            _required("value", "number", "Quantity to convert.", _decimal(1, 500, 1),
                      "What value would you like to convert?"),
            _required("from_unit", "string", "Unit of the value.", _one_of(_UNITS),
                      "Which unit are you converting from?"),
            _required("to_unit", "string", "Unit to convert to.", _same_group_unit,
                      "Which unit should I convert to?"),
        ),
        (
            "Convert[ {value}][ {from_unit}][ to {to_unit}].",
            "how much is[ {value}][ {from_unit}][ in {to_unit}]",
            "Could you convert[ {value}][ {from_unit}][ into {to_unit}] for me?",
            "I'm following a recipe from abroad. What is[ {value}][ {from_unit}][ in {to_unit}]?",
        ),
        ("That's {x_price}[ {to_unit}].",),
    ),
    _tool(
        "calculate_tip", "math", "tip calculation", "calculate tips",
        "Calculate the tip on a bill, optionally split between people.",
        (
            _required("bill_amount", "number", "Bill total.", _decimal(8, 600, 2), "How much was the bill?"),
            _required("tip_percent", "integer", "Tip percentage.", _one_of((10, 12, 15, 18, 20, 22, 25)),
                      "What tip percentage would you like to leave?"),
            _optional("split_between", "integer", "Number of people paying.", _integer(2, 8),
                      "split between {split_between} people", default=1),
        ),
        (
            "Calculate a tip[ of {tip_percent}%][ on {bill_amount}].",
            "tip[ {tip_percent}%][ on {bill_amount}]",
            "Could you work out the tip[ for a bill of {bill_amount}][ at {tip_percent} percent]?",
            "We just finished dinner. How much should we tip[ on {bill_amount}][ at {tip_percent}%]"
            "[ split between {split_between} people]?",
        ),
        ("You should leave {x_price} as the tip[ on {bill_amount}].",),
    ),
    _tool(
        "calculate_loan_payment", "loans", "loan payment calculation", "calculate loan payments",
        "Calculate the monthly payment of a fixed-rate loan.",
        (
            _required("principal", "number", "Amount borrowed.", _decimal(1000, 500000, 0),
                      "How much do you want to borrow?"),
            _required("annual_rate", "number", "Annual interest rate in percent.", _decimal(1, 12, 2),
                      "What's the annual interest rate?"),
            _required("years", "integer", "Loan term in years.", _integer(1, 30),
                      "Over how many years will you repay the loan?"),
        ),
        (
            "What would my monthly payment be[ on a {principal} loan][ at {annual_rate}%]"
            "[ over {years} years]?",
            "loan payment[ {principal}][ {annual_rate}%][ {years} years]",
            "Could you calculate the monthly installment[ for borrowing {principal}]"
            "[ at {annual_rate} percent interest][ for {years} years]?",
            "We're looking at buying a house. If we borrow[ {principal}][ at a rate of {annual_rate}%]"
            "[ for {years} years], what would we pay each month?",
        ),
        ("Your monthly payment would be about {x_price}.",),
    ),
    _tool(
        "get_news_headlines", "news", "news headlines", "fetch news headlines",
        "Get the top news headlines on a topic.",
        (
            _required("topic", "string", "News topic.", _one_of(_NEWS_TOPICS),
                      "Which topic would you like headlines about?"),
            _optional("country", "string", "Country of the news.", _one_of(_COUNTRIES), "in {country}"),
            _optional("limit", "integer", "Number of headlines.", _integer(3, 10), "(top {limit})",
                      default=5),
        ),
        (
            "What are the latest headlines[ about {topic}]?",
            "news[ {topic}]",
            "Could you give me today's top stories[ on {topic}][ in {country}]?",
            "I've been offline all week. What's been happening[ in {topic}] lately?",
        ),
        ("The big story today[ in {topic}] is that a major agreement was announced this morning.",),
    ),
    _tool(
        "search_news", "news", "news search", "search news articles",
        "Search recent news articles.",
        (
            _required("query", "string", "Search terms.", _one_of(_NEWS_QUERIES),
                      "What should I search the news for?"),
            _optional("from_date", "string", "Earliest date, YYYY-MM-DD.", _one_of(_DATES),
                      "since {from_date}"),
        ),
        (
            'Search the news[ for "{query}"].',
            'news search[ "{query}"]',
            'Could you find recent articles[ about "{query}"][ since {from_date}]?',
            'My professor mentioned something in class. Are there any news reports[ on "{query}"]?',
        ),
        ('There were {x_small} major articles[ about "{query}"] this week, mostly positive.',),
    ),
    _tool(
        "search_restaurants", "restaurants", "restaurant search", "search for restaurants",
        "Find restaurants by cuisine in a city.",
        (
            _required("cuisine", "string", "Type of food.", _one_of(_CUISINES),
                      "What type of cuisine are you in the mood for?"),
            _required("city", "string", "City to search in.", _one_of(_CITIES),
                      "Which city should I look for restaurants in?"),
            _optional_choice("price_range", "Price level.", ("$", "$$", "$$$"),
                             "in the {price_range} price range", default="$$"),
            _flag("vegetarian_friendly", "Only places with vegetarian options.", "with vegetarian options"),
        ),
        (
            "Find a[ {cuisine}] restaurant[ in {city}].",
            "restaurants[ {cuisine}][ {city}]",
            "Could you recommend somewhere to eat[ {cuisine} food][ in {city}]?",
            "It's my anniversary next week. What are some good[ {cuisine}] places[ in {city}]"
            "[ in the {price_range} price range]?",
        ),
        ("You'll love Luna Bistro[ in {city}]; it's the best[ {cuisine}] spot around and rarely busy.",),
    ),
    _tool(
        "book_table", "restaurants", "table reservations", "reserve restaurant tables",
        "Reserve a table at a restaurant.",
        (
            _required("restaurant", "string", "Restaurant name.", _one_of(_RESTAURANTS),
                      "Which restaurant would you like to book?"),
            _required("date", "string", "Date, YYYY-MM-DD.", _one_of(_DATES),
                      "What date should the reservation be for?"),
            _required("time", "string", "Time, HH:MM (24h).", _one_of(_TIMES),
                      "What time would you like the table?"),
            _required("party_size", "integer", "Number of diners.", _integer(2, 10),
                      "How many people will be dining?"),
        ),
        (
            "Book a table[ at {restaurant}][ on {date}][ at {time}][ for {party_size}].",
            "reserve[ {restaurant}][ {date}][ {time}][ {party_size} people]",
            "Could you please make a reservation[ at {restaurant}][ for {party_size} people][ on {date}]"
            "[ at {time}]?",
            "My parents are visiting. Can you get us a table[ at {restaurant}][ for {party_size}][ on {date}]"
            "[ around {time}]?",
        ),
        ("Your table[ at {restaurant}] is confirmed, reference {x_code}.",),
    ),
    _tool(
        "get_account_balance", "banking", "account balances", "check account balances",
        "Get the current balance of one of the user's bank accounts.",
        (
            _required_choice("account_type", "Which account.", _ACCOUNTS,
                             "Which account would you like the balance for?"),
        ),
        (
            "What's the balance[ in my {account_type} account]?",
            "balance[ {account_type}]",
            "Could you check how much money I have[ in my {account_type} account]?",
            "Rent is due tomorrow. Can you tell me my current balance[ for {account_type}]?",
        ),
        ("Your[ {account_type}] balance is {x_price} dollars.",),
    ),
    _tool(
        "transfer_funds", "banking", "money transfers", "transfer money between accounts",
        "Move money between two of the user's accounts.",
        (
            _required("amount", "number", "Amount to move.", _decimal(5, 5000, 2),
                      "How much would you like to transfer?"),
            _required("from_account", "string", "Account to take the money from.",
                      _one_of(_TRANSFER_ACCOUNTS), "Which account should the money come from?"),
            _required("to_account", "string", "Account to put the money in.",
                      _other_than(_TRANSFER_ACCOUNTS, "from_account"),
                      "Which account should receive the money?"),
            _optional("memo", "string", "Note on the transfer.", _one_of(_MEMOS), 'with the note "{memo}"'),
        ),
        (
            "Transfer[ {amount}][ from {from_account}][ to {to_account}].",
            "move[ {amount}][ {from_account}][ to {to_account}]",
            "Could you please move[ {amount} dollars][ from my {from_account} account]"
            "[ into my {to_account} account]?",
            "I want to save more this month. Send[ {amount}][ from {from_account}][ over to {to_account}]"
            '[ with the note "{memo}"].',
        ),
        ("Done! I transferred the money[ to your {to_account} account]; confirmation {x_code}.",),
    ),
    _tool(
        "list_transactions", "banking", "transaction history", "list bank transactions",
        "List the transactions of an account since a date.",
        (
            _required_choice("account_type", "Which account.", _ACCOUNTS,
                             "Which account's transactions would you like to see?"),
            _required("start_date", "string", "First date, YYYY-MM-DD.", _one_of(_DATES),
                      "From what date should I list transactions?"),
            _optional("min_amount", "number", "Only transactions above this amount.", _decimal(10, 500, 0),
                      "over {min_amount}"),
        ),
        (
            "Show my transactions[ in {account_type}][ since {start_date}].",
            "transactions[ {account_type}][ since {start_date}]",
            "Could you list the payments[ on my {account_type} account][ from {start_date} onwards]?",
            "Something looks off in my budget. What did I spend[ on my {account_type} account]"
            "[ after {start_date}][ over {min_amount}]?",
        ),
        ("You made {x_small} purchases[ since {start_date}], the largest being {x_price} dollars.",),
    ),
    _tool(
        "set_thermostat", "smart_home", "thermostat control", "control the thermostat",
        "Set the target temperature of a room's thermostat.",
        (
            _required("room", "string", "Room name.", _one_of(_ROOMS),
                      "Which room's thermostat should I adjust?"),
            _required("temperature", "integer", "Target temperature in degrees.", _integer(16, 28),
                      "What temperature would you like to set?"),
            _optional_choice("mode", "Thermostat mode.", ("heat", "cool", "auto"), "in {mode} mode",
                             default="auto"),
        ),
        (
            "Set the thermostat[ in the {room}][ to {temperature} degrees].",
            "thermostat[ {room}][ {temperature}]",
            "Could you make it warmer[ in the {room}][, around {temperature} degrees]?",
            "It's freezing in here. Please change the temperature[ in the {room}][ to {temperature}]"
            "[ in {mode} mode].",
        ),
        ("The[ {room}] thermostat is now set and the room will reach the target in {x_small}0 minutes.",),
    ),
    _tool(
        "control_lights", "smart_home", "lighting control", "control the lights",
        "Switch a room's lights on or off.",
        (
            _required("room", "string", "Room name.", _one_of(_ROOMS),
                      "Which room's lights should I change?"),
            _required_choice("state", "On or off.", ("on", "off"), "Should I turn the lights on or off?"),
            _optional("brightness", "integer", "Brightness percentage.", _integer(10, 100),
                      "at {brightness}% brightness", default=100),
        ),
        (
            "Turn[ {state}] the lights[ in the {room}].",
            "lights[ {state}][ {room}]",
            "Could you switch the lights[ {state}][ in the {room}], please?",
            "I'm heading to bed soon. Please turn[ {state}] the[ {room}] lights"
            "[ at {brightness}% brightness].",
        ),
        ("The lights[ in the {room}] have been updated.",),
    ),
    _tool(
        "lock_door", "smart_home", "door locks", "lock doors",
        "Lock one of the home's smart door locks.",
        (_required_choice("door", "Which door.", _DOORS, "Which door would you like me to lock?"),),
        (
            "Lock the[ {door}] door.",
            "lock[ {door}] door",
            "Could you make sure the[ {door}] door is locked?",
            "I think I forgot to lock up before leaving. Please lock the[ {door}] door for me.",
        ),
        ("The[ {door}] door is locked and the alarm is armed.",),
    ),
    _tool(
        "request_time_off", "hr", "time-off requests", "submit time-off requests",
        "Submit a leave request to the HR system.",
        (
            _required("start_date", "string", "First day off, YYYY-MM-DD.", _one_of(_DATES[:330]),
                      "What's the first day of your time off?"),
            _required("end_date", "string", "Last day off, YYYY-MM-DD.", _days_after("start_date", 0, 14),
                      "What's the last day of your time off?"),
            _required_choice("leave_type", "Kind of leave.", ("vacation", "sick", "personal", "parental"),
                             "What type of leave is this?"),
            _optional("note", "string", "Note for the approver.", _one_of(_LEAVE_NOTES),
                      'with the note "{note}"'),
        ),
        (
            "Request[ {leave_type}] leave[ from {start_date}][ to {end_date}].",
            "time off[ {leave_type}][ {start_date}][ to {end_date}]",
            "Could you submit a time-off request[ for {leave_type} leave][ from {start_date}]"
            "[ until {end_date}]?",
            "My sister is getting married. Please book[ {leave_type}] time off[ starting {start_date}]"
            "[ and ending {end_date}].",
        ),
        ("Your time off[ from {start_date}] has been approved by your manager.",),
    ),
    _tool(
        "lookup_employee", "hr", "employee directory", "look up employees in the company directory",
        "Look up a colleague in the company directory.",
        (
            _required("name", "string", "Full name.", _one_of(_PEOPLE),
                      "Which employee would you like to look up?"),
            _optional_choice("field", "Only this detail.", ("email", "phone", "department", "manager"),
                             "(just their {field})", default="email"),
        ),
        (
            "Look up[ {name}] in the company directory.",
            "directory[ {name}]",
            "Could you pull up the employee record[ for {name}][ (just their {field})]?",
            "I need to reach a colleague in another team. Can you look them up in the directory[: {name}]?",
        ),
        ("That colleague[, {name},] works in Finance; you can reach them at extension {x_num}{x_small}.",),
    ),
    _tool(
        "find_showtimes", "movies", "movie showtimes", "find movie showtimes",
        "Find cinema showtimes for a movie in a city.",
        (
            _required("movie", "string", "Movie title.", _one_of(_MOVIES),
                      "Which movie would you like showtimes for?"),
            _required("city", "string", "City to search in.", _one_of(_CITIES),
                      "Which city should I check showtimes in?"),
            _optional("date", "string", "Date, YYYY-MM-DD.", _one_of(_DATES), "on {date}"),
        ),
        (
            "What are the showtimes[ for {movie}][ in {city}]?",
            "showtimes[ {movie}][ {city}]",
            'Could you check when the movie[ "{movie}"] is on[ in {city}][ on {date}]?',
            'We want a movie night out. Which cinemas are showing the film[ "{movie}"][ in {city}]?',
        ),
        ("The film is showing[ in {city}] at {x_clock} and again later tonight.",),
    ),
    _tool(
        "find_recipe", "cooking", "recipe search", "find recipes",
        "Find recipes that use an ingredient.",
        (
            _required("ingredient", "string", "Main ingredient.", _one_of(_INGREDIENTS),
                      "Which ingredient would you like the recipe to use?"),
            _optional_choice("diet", "Dietary restriction.", ("vegetarian", "vegan", "gluten-free", "keto"),
                             "that is {diet}"),
            _optional("max_minutes", "integer", "Longest cooking time.", _integer(10, 90),
                      "in under {max_minutes} minutes"),
        ),
        (
            "Find a recipe[ with {ingredient}].",
            "recipe[ {ingredient}]",
            "Could you suggest something to cook[ using {ingredient}][ in under {max_minutes} minutes]?",
            "I have a fridge full of leftovers. What can I make[ with {ingredient}][ that is {diet}]?",
        ),
        (
            "Try a quick stir-fry[ with {ingredient}]: cook everything with garlic and soy sauce for "
            "{x_small} minutes.",
        ),
    ),
    _tool(
        "search_rentals", "real_estate", "rental listings", "search rental listings",
        "Search apartments for long-term rent.",
        (
            _required("city", "string", "City to rent in.", _one_of(_CITIES),
                      "Which city are you looking to rent in?"),
            _required("bedrooms", "integer", "Number of bedrooms.", _integer(2, 5),
                      "How many bedrooms do you need?"),
            _optional("max_rent", "number", "Highest monthly rent.", _decimal(500, 5000, 0),
                      "under {max_rent} a month"),
        ),
        (
            "Find apartments for rent[ in {city}][ with {bedrooms} bedrooms].",
            "rentals[ {city}][ {bedrooms}br]",
            "Could you look for rental listings[ in {city}][ that have {bedrooms} bedrooms]"
            "[ under {max_rent} a month]?",
            "I'm relocating for a new job. What apartments are available[ in {city}]"
            "[ with {bedrooms} bedrooms]?",
        ),
        ("There's a bright apartment available[ in {city}] for {x_price} a month, close to transit.",),
    ),
    _tool(
        "define_word", "dictionary", "dictionary lookups", "look up word definitions",
        "Get the dictionary definition of a word.",
        (
            _required("word", "string", "The word.", _one_of(_WORDS), "Which word would you like defined?"),
            _optional("language", "string", "Language of the definition.", _one_of(_LANGUAGES),
                      "in {language}", default="English"),
        ),
        (
            'Give me the definition[ of "{word}"].',
            "define[ {word}]",
            'Could you tell me what the word[ "{word}"] means?',
            'I came across an unfamiliar word in a book[: "{word}"]. What does it mean?',
        ),
        ('That word[, "{word}",] means a feeling of quiet contentment and is mostly used in formal'
         " writing.",),
    ),
    _tool(
        "get_local_time", "time", "world clock", "check the local time",
        "Get the current local time in a city.",
        (
            _required("city", "string", "City name.", _one_of(_CITIES),
                      "Which city would you like the local time for?"),
        ),
        (
            "What time is it[ in {city}]?",
            "local time[ {city}]",
            "Could you tell me the current local time[ in {city}]?",
            "I need to call a client overseas. Is it too late to ring them[ in {city}] right now?",
        ),
        ("It's currently {x_clock}[ in {city}].",),
    ),
    _tool(
        "convert_timezone", "time", "time zone conversion", "convert times between time zones",
        "Convert a clock time from one city's time zone to another's.",
        (
            _required("time", "string", "Time, HH:MM (24h).", _one_of(_TIMES),
                      "What time would you like to convert?"),
            _required("from_city", "string", "City the time is given in.", _one_of(_CITIES),
                      "Which city's time zone is that time in?"),
            _required("to_city", "string", "City to convert to.", _other_than(_CITIES, "from_city"),
                      "Which city's time zone should I convert it to?"),
        ),
        (
            "Convert[ {time}][ {from_city} time][ to {to_city} time].",
            "tz[ {time}][ {from_city}][ to {to_city}]",
            "Could you convert a meeting time[ of {time}][ in {from_city}][ to {to_city} time]?",
            "I'm scheduling a video call with colleagues abroad. What would[ {time}][ {from_city} time] be"
            "[ in {to_city}]?",
        ),
        ("That would be {x_clock}[ in {to_city}].",),
    ),
    _tool(
        "book_ride", "rides", "ride booking", "book rides",
        "Book a car to take the user from one place to another.",
        (
            _required("pickup", "string", "Pickup location.", _one_of(_LANDMARKS),
                      "Where should the driver pick you up?"),
            _required("dropoff", "string", "Drop-off location.", _other_than(_LANDMARKS, "pickup"),
                      "Where would you like the ride to take you?"),
            _optional_choice("ride_type", "Kind of car.", ("standard", "xl", "premium"),
                             "as a {ride_type} ride", default="standard"),
        ),
        (
            "Book a ride[ from {pickup}][ to {dropoff}].",
            "ride[ {pickup}][ to {dropoff}]",
            "Could you get me a car[ from {pickup}][ to {dropoff}][ as a {ride_type} ride]?",
            "I'm running late for a meeting. Please order a taxi[ to pick me up at {pickup}]"
            "[ and take me to {dropoff}].",
        ),
        ("Your driver is on the way[ to {pickup}] and will arrive in {x_small} minutes.",),
    ),
    _tool(
        "search_jobs", "jobs", "job search", "search job listings",
        "Search job listings by title and city.",
        (
            _required("title", "string", "Job title.", _one_of(_JOB_TITLES),
                      "What kind of job are you looking for?"),
            _required("city", "string", "City to work in.", _one_of(_CITIES),
                      "Which city should I search for jobs in?"),
            _flag("remote_only", "Only fully remote jobs.", "that are fully remote"),
        ),
        (
            "Find[ {title}] jobs[ in {city}].",
            "jobs[ {title}][ {city}]",
            "Could you search for openings[ for {title} roles][ in {city}]?",
            "I'm ready for a career change. What positions are open[ for {title} roles][ in {city}]?",
        ),
        ("There are {x_num} open[ {title}] positions[ in {city}], most paying above the market average.",),
    ),
)
# fmt: on

# Domains whose tools could stand in for each other's (a free-text place search finds restaurants, a news
# search finds match results): a cannot_answer row must not offer one for the other, or it would be wrong.
_RELATED_DOMAINS = (
    ("restaurants", "maps"),
    ("sports", "news"),
    ("finance", "news"),
    ("finance", "currency"),
    ("banking", "loans"),
    ("health", "fitness"),
    ("translation", "dictionary"),
    ("maps", "rides"),
    ("calendar", "hr"),
    ("travel", "real_estate"),
)


def _unrelated(domain: str, other: str) -> bool:
    return (
        domain != other
        and (domain, other) not in _RELATED_DOMAINS
        and (other, domain) not in _RELATED_DOMAINS
    )


# For each domain, the tools of the unrelated domains, in catalogue order (so draws are stable).
_UNRELATED_TOOLS: dict[str, tuple[ToolSpec, ...]] = {
    tool.domain: tuple(other for other in TOOLS if _unrelated(tool.domain, other.domain)) for tool in TOOLS
}

# --------------------------------------------------------------------------------------------------------
# Wording of the answers.
# --------------------------------------------------------------------------------------------------------

_OPENERS = ("",) * 10 + (
    "Hi! ", "Hello. ", "Hey there. ", "Good morning! ", "Quick question. ", "Hi, I need some help. ",
    "Excuse me. ", "Hello, hope you're well. ",
)  # fmt: skip
_CLOSERS = ("",) * 10 + (" Thanks!", " Thank you.", " Thanks in advance.", " Appreciate it!")
_ASK_PREFIXES = ("",) * 4 + ("Sure. ", "Happy to help. ", "I can help with that. ", "Of course! ", "Got it. ")
_REFUSALS = (
    "I'm sorry, but I can't {action} with the tools I have available.",
    "Unfortunately, none of the tools available to me can {action}, so I'm unable to help with this request.",
    "I'm afraid I can't help with that. None of my available tools lets me {action}.",
    "Sorry, I don't have a tool that can {action}, so I can't answer this one.",
)
# Refusals that also name what the offered tools do: only for the chosen answer, where that is true.
_REFUSALS_NAMING_TOOLS = (
    "I don't have access to a tool that can {action}. The tools I have only cover {topics}.",
    "Sorry, that's outside what I can do here: my tools handle {topics}, and none of them can {action}.",
    "I'm unable to {action} because the available tools only support {topics}. A dedicated service "
    "should be able to help with that.",
)


def _join(words: Sequence[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def _display(values: Mapping[str, Any]) -> dict[str, str]:
    """Argument values as the text a question shows: ``str`` of the value the call holds, verbatim."""
    return {name: str(value) for name, value in values.items()}


def _sample_arguments(rng: random.Random, tool: ToolSpec, *, optional_share: float) -> dict[str, Any]:
    """All required arguments and, each with ``optional_share``, the optional ones, in definition order."""
    args: dict[str, Any] = {}
    for param in tool.params:
        if param.required or rng.random() < optional_share:
            args[param.name] = param.sample(rng, args)
    return args


def _question(rng: random.Random, tool: ToolSpec, stated: Mapping[str, Any]) -> str:
    values = _display(stated)
    template = _pick(rng, tool.questions)
    # Optional arguments the phrasing has no slot for follow the arguments it has ("... in Oslo in celsius").
    extras = "".join(
        " " + param.phrase.render(values)
        for param in tool.params
        if param.phrase is not None and param.name in values and param.name not in template.optional_fields
    )
    text = template.render(values, extras)
    opener = _pick(rng, _OPENERS)
    if opener and text[0].isupper():
        text = opener + text
    closer = _pick(rng, _CLOSERS)
    if closer and text[-1] in ".?!":
        text += closer
    return text


def _ask(rng: random.Random, param: Param) -> str:
    return _pick(rng, _ASK_PREFIXES) + param.ask


def _refusal(rng: random.Random, tool: ToolSpec, offered: Sequence[ToolSpec] = ()) -> str:
    templates = _REFUSALS + _REFUSALS_NAMING_TOOLS if offered else _REFUSALS
    topics = _join([other.topic for other in offered]) if offered else ""
    return _pick(rng, templates).format(action=tool.action, topics=topics)


def _direct(rng: random.Random, tool: ToolSpec, stated: Mapping[str, Any]) -> str:
    template = _pick(rng, tool.answers)
    values = _display(stated)
    for name in template.fields:
        if name in _FAKES and name not in values:
            values[name] = _FAKES[name](rng)
    return template.render(values)


def _call(tool: ToolSpec, arguments: dict[str, Any]) -> str:
    return format_when2call_toolcalls([{"name": tool.name, "arguments": arguments}])


def _invented_call(rng: random.Random, tool: ToolSpec, question_args: Mapping[str, Any]) -> str:
    """A call to ``tool`` that fits the question badly: values reused where names match, the rest made up."""
    args: dict[str, Any] = {}
    for param in tool.required:
        value = question_args.get(param.name)
        fits = type(value) in _PYTHON_TYPES[param.type] and (param.enum is None or value in param.enum)
        args[param.name] = value if fits else param.sample(rng, args)
    return _call(tool, args)


def _offer(rng: random.Random, tool: ToolSpec, *, include: bool) -> list[ToolSpec]:
    """1-3 tools of domains unrelated to ``tool``'s, plus ``tool`` itself if ``include``, in random order."""
    candidates = _UNRELATED_TOOLS[tool.domain]
    count = _between(rng, 1, 3)
    offered: list[ToolSpec] = []
    while len(offered) < count:
        candidate = _pick(rng, candidates)
        if candidate not in offered:
            offered.append(candidate)
    if include:
        offered.insert(_between(rng, 0, len(offered)), tool)
    return offered


# --------------------------------------------------------------------------------------------------------
# Examples.
# --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SyntheticExample:
    """A generated When2Call row and what it was built to teach.

    :param row: the ``train_pref`` row.
    :param category: the behaviour of the chosen answer: ``tool_call``, ``request_for_info`` or
        ``cannot_answer``.
    :param rejected_category: the behaviour of the rejected answer (one of the others, or ``direct``).
    :param tool: the tool the question is about (offered unless ``category`` is ``cannot_answer``).
    :param arguments: the arguments the question states, as the call holds them.
    :param missing_argument: the required argument left out (``request_for_info`` only).
    """

    row: dict[str, Any]
    category: str
    rejected_category: str
    tool: str
    arguments: dict[str, Any]
    missing_argument: str | None = None


def _row(
    rng: random.Random, offered: Sequence[ToolSpec], question: str, chosen: str, rejected: str
) -> dict[str, Any]:
    if rng.random() < DICT_TOOLS_SHARE:
        # A fresh copy per row, so a caller that edits a row cannot change the catalogue.
        tools: list[Any] = [json.loads(tool.definition_json) for tool in offered]
    else:
        tools = [tool.definition_json for tool in offered]
    return {
        "tools": tools,
        "messages": [{"role": "user", "content": question}],
        "chosen_response": {"role": "assistant", "content": chosen},
        "rejected_response": {"role": "assistant", "content": rejected},
        "chosen_reward": 1.0,
        "rejected_reward": 0.0,
    }


def _tool_call_example(rng: random.Random) -> SyntheticExample:
    tool = _pick(rng, TOOLS)
    args = _sample_arguments(rng, tool, optional_share=OPTIONAL_MENTION_SHARE)
    question = _question(rng, tool, args)
    offered = _offer(rng, tool, include=True)
    rejected_category = _pick(rng, (REQUEST_FOR_INFO, CANNOT_ANSWER, DIRECT))
    if rejected_category == REQUEST_FOR_INFO:  # asks for something the question already gave
        rejected = _ask(rng, _pick(rng, tool.required))
    elif rejected_category == CANNOT_ANSWER:  # refuses although the tool is right there
        rejected = _refusal(rng, tool)
    else:
        rejected = _direct(rng, tool, args)
    row = _row(rng, offered, question, _call(tool, args), rejected)
    return SyntheticExample(row, TOOL_CALL, rejected_category, tool.name, args)


def _request_for_info_example(rng: random.Random) -> SyntheticExample:
    tool = _pick(rng, TOOLS)
    args = _sample_arguments(rng, tool, optional_share=OPTIONAL_MENTION_SHARE)
    missing = _pick(rng, tool.required)
    stated = {name: value for name, value in args.items() if name != missing.name}
    question = _question(rng, tool, stated)
    offered = _offer(rng, tool, include=True)
    rejected_category = _pick(rng, (TOOL_CALL, CANNOT_ANSWER, DIRECT))
    if rejected_category == TOOL_CALL:  # fills the gap with a guess (the value drawn but never stated)
        rejected = _call(tool, args)
    elif rejected_category == CANNOT_ANSWER:
        rejected = _refusal(rng, tool)
    else:
        rejected = _direct(rng, tool, stated)
    row = _row(rng, offered, question, _ask(rng, missing), rejected)
    return SyntheticExample(row, REQUEST_FOR_INFO, rejected_category, tool.name, stated, missing.name)


def _cannot_answer_example(rng: random.Random) -> SyntheticExample:
    intent = _pick(rng, TOOLS)
    args = _sample_arguments(rng, intent, optional_share=OPTIONAL_MENTION_SHARE)
    question = _question(rng, intent, args)
    offered = _offer(rng, intent, include=False)
    rejected_category = _pick(rng, (TOOL_CALL, REQUEST_FOR_INFO, DIRECT))
    if rejected_category == TOOL_CALL:  # forces an unrelated offered tool onto the question
        rejected = _invented_call(rng, _pick(rng, offered), args)
    elif rejected_category == REQUEST_FOR_INFO:  # asks a follow-up although no tool could use the answer
        rejected = _ask(rng, _pick(rng, intent.required))
    else:
        rejected = _direct(rng, intent, args)
    row = _row(rng, offered, question, _refusal(rng, intent, offered), rejected)
    return SyntheticExample(row, CANNOT_ANSWER, rejected_category, intent.name, args)


def synthesize_examples(rows: int, seed: int) -> Iterator[SyntheticExample]:
    """``rows`` generated examples; the same ``(rows, seed)`` always gives the same examples, and a shorter
    stream is a prefix of a longer one with the same seed."""
    if rows < 0:
        raise ValueError(f"rows must be 0 or more, got {rows}")
    rng = random.Random(seed)
    for _ in range(rows):
        draw = rng.random()
        if draw < TOOL_CALL_SHARE:
            yield _tool_call_example(rng)
        elif draw < TOOL_CALL_SHARE + REQUEST_FOR_INFO_SHARE:
            yield _request_for_info_example(rng)
        else:
            yield _cannot_answer_example(rng)


def synthesize_rows(rows: int, seed: int) -> Iterator[dict[str, Any]]:
    """The When2Call ``train_pref`` rows of :func:`synthesize_examples`."""
    for example in synthesize_examples(rows, seed):
        yield example.row


# --------------------------------------------------------------------------------------------------------
# Files.
# --------------------------------------------------------------------------------------------------------


# Each catalogue tool's JSON string as it appears inside a row's JSON (quoted and escaped), made once: the
# long tool definitions are most of a line, and re-escaping them for every row would dominate the run time.
_ENCODED_TOOLS = {tool.definition_json: json.dumps(tool.definition_json) for tool in TOOLS}


def _encode_row(row: Mapping[str, Any]) -> str:
    """``json.dumps(row)`` for a row of this module's shape, reusing the pre-encoded tool definitions."""
    tools = ", ".join(
        _ENCODED_TOOLS.get(tool) or json.dumps(tool) if isinstance(tool, str) else json.dumps(tool)
        for tool in row["tools"]
    )
    rest = json.dumps({key: value for key, value in row.items() if key != "tools"})
    return f'{{"tools": [{tools}], {rest[1:]}'


def _snapshot_sizes(rows: int, snapshots: Sequence[dt.date]) -> list[tuple[dt.date, int]]:
    dates = sorted(snapshots)
    if len(set(dates)) != len(dates):
        raise ValueError(f"snapshot dates must be distinct, got {[d.isoformat() for d in dates]}")
    if rows < len(dates):
        raise ValueError(
            f"{rows} rows cannot fill {len(dates)} snapshots: ask for at least one row per snapshot"
        )
    return [(date, round(rows * (index + 1) / len(dates))) for index, date in enumerate(dates)]


def _open_temp(path: Path, stack: ExitStack) -> tuple[TextIO, Path]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    temp = Path(name)
    stack.callback(temp.unlink, missing_ok=True)  # a no-op once the file has been moved into place
    handle = stack.enter_context(os.fdopen(fd, "w", encoding="utf-8", newline="\n"))
    return handle, temp


def write_synthetic(
    out_dir: Path, rows: int, seed: int, snapshots: Sequence[dt.date] | None = None
) -> list[Path]:
    """Write synthetic ``train_pref`` data and return the files written.

    Without ``snapshots`` it writes ``out_dir/train_pref.jsonl`` with ``rows`` rows. With snapshot dates it
    writes ``out_dir/YYYY-MM-DD/train_pref.jsonl`` per date: the i-th date (in date order) holds the first
    ``round(rows * (i + 1) / len(snapshots))`` rows of the same stream, so the dataset grows over time and
    every older row stays byte-identical. Files appear atomically: a reader never sees a partial file.

    :param out_dir: the output folder (created if missing).
    :param rows: rows of the full stream (the last snapshot's size).
    :param seed: random seed; the same seed writes the same bytes.
    :param snapshots: dates of the dataset versions to write, or None for a single file.
    """
    out_dir = Path(out_dir)
    if snapshots:
        targets = [
            (out_dir / date.isoformat() / FILE_NAME, size) for date, size in _snapshot_sizes(rows, snapshots)
        ]
    else:
        if rows < 0:
            raise ValueError(f"rows must be 0 or more, got {rows}")
        targets = [(out_dir / FILE_NAME, rows)]
    with ExitStack() as stack:
        opened = [(*_open_temp(path, stack), size) for path, size in targets]
        # One pass over the stream feeds every snapshot: row i goes to each file that is still filling.
        first_open = 0
        for index, row in enumerate(synthesize_rows(rows, seed)):
            while opened[first_open][2] <= index:
                first_open += 1
            line = _encode_row(row) + "\n"
            for handle, _, _ in opened[first_open:]:
                handle.write(line)
        for (handle, temp, _), (path, size) in zip(opened, targets, strict=True):
            handle.flush()
            os.fsync(handle.fileno())
            os.replace(temp, path)
            log.info("wrote %d synthetic rows (seed %d) to %s", size, seed, path)
    return [path for path, _ in targets]
