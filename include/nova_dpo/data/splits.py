"""Deterministic train / validation / test assignment by a hash of the prompt.

The split of a row depends only on its conversation text, never on its position or on the other rows, so
the same prompt lands in the same split in every dataset version, and two rows that share a prompt (the same
question with another answer) never straddle two splits.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

SPLITS = ("train", "validation", "test")


@dataclass(frozen=True)
class SplitRatios:
    train: float = 0.8
    validation: float = 0.1
    test: float = 0.1

    def __post_init__(self) -> None:
        values = (self.train, self.validation, self.test)
        if any(value < 0 for value in values) or abs(sum(values) - 1.0) > 1e-6:
            raise ValueError(
                f"split ratios must be non-negative and sum to 1, got train={self.train}, "
                f"validation={self.validation}, test={self.test}"
            )
        if self.train == 0:
            raise ValueError("the train ratio must be above 0: DPO needs training data")

    @classmethod
    def parse(cls, text: str) -> SplitRatios:
        """``"0.8,0.1,0.1"`` → ratios (train, validation, test)."""
        try:
            train, validation, test = (float(part) for part in text.split(","))
        except ValueError as err:
            raise ValueError(f"split ratios must be three numbers like 0.8,0.1,0.1, got {text!r}") from err
        return cls(train, validation, test)


def prompt_id(messages: tuple[tuple[str, str], ...]) -> str:
    """A stable id of a conversation: whitespace and case do not make a prompt new."""
    canonical = "\x1e".join(f"{role}\x1f{' '.join(text.lower().split())}" for role, text in messages)
    return hashlib.blake2b(canonical.encode(), digest_size=8).hexdigest()


def assign_split(pid: str, ratios: SplitRatios) -> str:
    """The split of the prompt with id ``pid`` (a uniform draw from its hash)."""
    position = int(pid, 16) / 2**64
    if position < ratios.train:
        return "train"
    if position < ratios.train + ratios.validation:
        return "validation"
    return "test"
