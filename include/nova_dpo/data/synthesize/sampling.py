"""Random draws: samplers of argument values and the made-up facts of hallucinated answers.

A sampler is ``(rng, arguments drawn so far) -> value``; the second argument lets one value depend on
another (a return date after the departure, a unit of the same kind). Every draw goes through one
``random.Random``, so the stream is a pure function of the seed.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from nova_dpo.data.synthesize.vocabulary import (
    AIRLINES,
    DATE_INDEX,
    DATES,
    FOREIGN_PHRASES,
    LANGUAGES,
    PEOPLE,
    SONGS,
    TIMES,
    UNIT_GROUP,
)

Sampler = Callable[[random.Random, Mapping[str, Any]], Any]


def pick(rng: random.Random, values: Sequence[Any]) -> Any:
    # One float per draw: several times faster than Random.choice, which counts at a million rows.
    return values[int(rng.random() * len(values))]


def between(rng: random.Random, low: int, high: int) -> int:
    """A whole number from ``low`` to ``high``, both included."""
    return low + int(rng.random() * (high - low + 1))


# Made-up facts for hallucinated direct answers, drawn only for the placeholders a template uses.
FAKES: dict[str, Callable[[random.Random], str]] = {
    "x_temp": lambda rng: str(between(rng, -5, 36)),
    "x_sky": lambda rng: pick(rng, ("sunny", "partly cloudy", "overcast", "drizzly", "clear", "windy")),
    "x_price": lambda rng: f"{rng.uniform(3, 2000):.2f}",
    "x_pct": lambda rng: f"{rng.uniform(0.2, 9.8):.1f}",
    "x_clock": lambda rng: pick(rng, TIMES),
    "x_small": lambda rng: str(between(rng, 2, 9)),
    "x_num": lambda rng: str(between(rng, 12, 95)),
    "x_code": lambda rng: "".join(pick(rng, "ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(6)),
    "x_name": lambda rng: pick(rng, PEOPLE),
    "x_phrase": lambda rng: pick(rng, FOREIGN_PHRASES),
    "x_lang": lambda rng: pick(rng, LANGUAGES),
}


def one_of(values: Sequence[Any]) -> Sampler:
    values = tuple(values)
    return lambda rng, _args: pick(rng, values)


def other_than(values: Sequence[Any], other: str) -> Sampler:
    """A value from ``values`` that differs from argument ``other`` (a trip needs two different ends)."""
    values = tuple(values)

    def sample(rng: random.Random, args: Mapping[str, Any]) -> Any:
        while True:
            value = pick(rng, values)
            if value != args.get(other):
                return value

    return sample


def integer(low: int, high: int) -> Sampler:
    return lambda rng, _args: between(rng, low, high)


def decimal(low: float, high: float, places: int) -> Sampler:
    """Numbers on a grid, so str(value) has at most ``places`` decimals, the way a person writes them."""
    if places == 0:
        return lambda rng, _args: between(rng, int(low), int(high))
    scale = 10**places
    return lambda rng, _args: between(rng, round(low * scale), round(high * scale)) / scale


def code(prefix: str, alphabet: str, length: int) -> Sampler:
    return lambda rng, _args: prefix + "".join(pick(rng, alphabet) for _ in range(length))


def flight_number(rng: random.Random, _args: Mapping[str, Any]) -> str:
    return f"{pick(rng, AIRLINES)}{between(rng, 10, 9999)}"


def days_after(other: str, low: int, high: int) -> Sampler:
    def sample(rng: random.Random, args: Mapping[str, Any]) -> str:
        start = DATE_INDEX[args[other]]
        return DATES[min(start + between(rng, low, high), len(DATES) - 1)]

    return sample


def same_group_unit(rng: random.Random, args: Mapping[str, Any]) -> str:
    return pick(rng, [unit for unit in UNIT_GROUP[args["from_unit"]] if unit != args["from_unit"]])


def artist_of_song(_rng: random.Random, args: Mapping[str, Any]) -> str:
    return SONGS[args["song"]]
