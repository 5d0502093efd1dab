"""The template language of questions and answers.

``{name}`` is a placeholder; a ``[...]`` segment is kept only when all its placeholders have values. Every
argument placeholder sits in such a segment, so one phrasing serves a question that states all the
arguments and the same question with one left out.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass

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
