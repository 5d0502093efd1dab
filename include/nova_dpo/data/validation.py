"""Validation of Nova DPO records against the rules that make a SageMaker or Bedrock job fail.

Rules (reference: Nova "Direct Preference Optimization" and "Preparing data for fine-tuning Understanding
models", and AWS's ``nova_ft_dataset_validator.py``):

* the record is a JSON object with a ``messages`` list, an optional ``system`` list of ``{"text"}`` blocks and
  an optional string ``schemaVersion``;
* roles are ``user``/``assistant`` only, alternate, start with ``user`` and end with ``assistant``;
* only the last message has ``candidates``, and it must: exactly two, labelled ``preferred`` and
  ``non-preferred``;
* every content block is a non-empty ``{"text"}`` block (DPO here is text only);
* no reserved string (``User:``, ``Bot:``, ``[EOS]``, ...) appears anywhere;
* the record fits ``max_length`` tokens (estimated, see :func:`estimate_tokens`);
* the two candidates differ, and the record is not a duplicate of an earlier one.

Bad rows are never dropped silently: :class:`Validator` returns the reason, and callers write the row to a
quarantine file and count it.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import orjson

RESERVED_STRINGS = (
    "System:",
    "User:",
    "Bot:",
    "Assistant:",
    "Thought:",
    "[EOS]",
    "<image>",
    "<video>",
    "<unk>",
)
_RESERVED_RE = re.compile("|".join(re.escape(s) for s in RESERVED_STRINGS))
LABELS = ("preferred", "non-preferred")
# Nova's tokenizer is not public. English text runs near 4 characters a token; 3 keeps the estimate on the
# side of caution so a record we accept is not truncated or refused by the job.
CHARS_PER_TOKEN = 3.0


def _reserved_in(text: str) -> str | None:
    match = _RESERVED_RE.search(text)
    return match.group() if match else None


# The system prompt (the tool list) is most of a record's text and repeats across rows that offer the same
# tools: scan each distinct one once.
_reserved_in_system = lru_cache(maxsize=4096)(_reserved_in)


def estimate_tokens(characters: int) -> int:
    """A conservative token count for ``characters`` characters of text."""
    return math.ceil(characters / CHARS_PER_TOKEN)


class InvalidRecord(ValueError):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def _texts(content: Any, where: str) -> list[str]:
    if not isinstance(content, list) or not content:
        raise InvalidRecord("schema", f"{where}: content must be a non-empty list of {{'text': ...}} blocks")
    texts = []
    for block in content:
        if not isinstance(block, dict):
            raise InvalidRecord("schema", f"{where}: a content block must be an object")
        if "text" not in block:
            kinds = ", ".join(sorted(block)) or "empty block"
            raise InvalidRecord(
                "unsupported_content", f"{where}: only text blocks are supported, got {kinds}"
            )
        text = block["text"]
        if not isinstance(text, str):
            raise InvalidRecord("schema", f"{where}: text must be a string")
        if not text.strip():
            raise InvalidRecord("empty_text", f"{where}: text is empty")
        texts.append(text)
    return texts


def _candidate_texts(message: dict[str, Any]) -> tuple[str, str]:
    candidates = message.get("candidates")
    if not isinstance(candidates, list) or len(candidates) != 2:
        count = len(candidates) if isinstance(candidates, list) else 0
        raise InvalidRecord(
            "candidates_count", f"the last turn must have exactly two candidates, got {count}"
        )
    by_label: dict[str, str] = {}
    for index, candidate in enumerate(candidates):
        if not isinstance(candidate, dict):
            raise InvalidRecord("schema", f"candidate {index} must be an object")
        label = str(candidate.get("preferenceLabel", "")).lower()
        if label not in LABELS:
            raise InvalidRecord(
                "bad_label", f"candidate {index}: preferenceLabel must be 'preferred' or 'non-preferred'"
            )
        if label in by_label:
            raise InvalidRecord("bad_label", f"both candidates are labelled {label!r}; label one of each")
        by_label[label] = "".join(_texts(candidate.get("content"), f"candidate {index}"))
    return by_label["preferred"], by_label["non-preferred"]


def check_record(record: Any, max_length: int) -> list[str]:
    """Check one record against every rule but duplication; return its texts.

    :raises InvalidRecord: with the reason code of the first broken rule.
    """
    if not isinstance(record, dict):
        raise InvalidRecord("schema", "a record must be a JSON object")
    if "schemaVersion" in record and not isinstance(record["schemaVersion"], str):
        raise InvalidRecord("schema", "schemaVersion must be a string")
    texts: list[str] = []
    system = record.get("system", [])
    if not isinstance(system, list):
        raise InvalidRecord("schema", "system must be a list of {'text': ...} blocks")
    if system:
        texts += _texts(system, "system")
    messages = record.get("messages")
    if not isinstance(messages, list) or len(messages) < 2:
        raise InvalidRecord("schema", "messages must be a list of at least a user and an assistant turn")
    last = len(messages) - 1
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            raise InvalidRecord("schema", f"message {index} must be an object")
        role = message.get("role")
        if role not in ("user", "assistant"):
            raise InvalidRecord(
                "bad_role", f"message {index}: role must be 'user' or 'assistant', got {role!r}"
            )
        expected = "user" if index % 2 == 0 else "assistant"
        if role != expected:
            raise InvalidRecord(
                "alternation", f"message {index} is {role!r}; turns must alternate user/assistant from user"
            )
        if index == last:
            if role != "assistant":
                raise InvalidRecord("alternation", "the last message must be the assistant's")
            if "content" in message:
                raise InvalidRecord("schema", "the last message holds candidates, not content")
            preferred, rejected = _candidate_texts(message)
            if preferred.strip() == rejected.strip():
                raise InvalidRecord(
                    "identical_candidates", "the preferred and non-preferred answers are equal"
                )
            texts += (preferred, rejected)
        else:
            if "candidates" in message:
                raise InvalidRecord("schema", f"message {index}: only the last message may have candidates")
            texts += _texts(message.get("content"), f"message {index}")
    system_texts = len(system)
    reserved = next(
        (
            found
            for index, text in enumerate(texts)
            if (found := (_reserved_in_system(text) if index < system_texts else _reserved_in(text)))
        ),
        None,
    )
    if reserved:
        raise InvalidRecord("reserved_string", f"contains the reserved string {reserved!r}")
    # Both candidates share the prompt, so the longer one bounds the sequence the trainer sees.
    characters = sum(map(len, texts[:-2])) + max(len(texts[-1]), len(texts[-2]))
    if estimate_tokens(characters) > max_length:
        raise InvalidRecord(
            "too_long",
            f"about {estimate_tokens(characters)} tokens, over max_length={max_length}; "
            "shorten the conversation or raise training_config.max_length",
        )
    return texts


@dataclass
class ValidationReport:
    """Counts of a validation pass; ``valid + quarantined == rows``."""

    rows: int = 0
    valid: int = 0
    quarantined: Counter[str] = field(default_factory=Counter)

    @property
    def quarantined_total(self) -> int:
        return sum(self.quarantined.values())

    @property
    def valid_fraction(self) -> float:
        return self.valid / self.rows if self.rows else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "valid": self.valid,
            "quarantined": self.quarantined_total,
            "quarantined_by_reason": dict(sorted(self.quarantined.items())),
        }


@dataclass(frozen=True)
class Thresholds:
    """When too little of a dataset is valid, stop: a run on the rest would not be what was asked for."""

    min_valid_fraction: float = 0.9
    min_valid_rows: int = 1

    def check(self, report: ValidationReport, quarantine_hint: str) -> None:
        """:raises DataQualityError: when the valid share or count is under the thresholds."""
        problems = []
        if report.valid < self.min_valid_rows:
            problems.append(f"{report.valid} valid rows, fewer than the minimum {self.min_valid_rows}")
        if report.rows and report.valid_fraction < self.min_valid_fraction:
            problems.append(
                f"only {report.valid_fraction:.1%} of {report.rows} rows are valid, "
                f"under the minimum {self.min_valid_fraction:.0%}"
            )
        if problems:
            top = ", ".join(f"{reason} ({count})" for reason, count in report.quarantined.most_common(3))
            raise DataQualityError(
                "; ".join(problems)
                + (f". Most common problems: {top}" if top else "")
                + f". Quarantined rows with their reasons: {quarantine_hint}. Fix the source rows, or lower "
                "min_valid_fraction / min_valid_rows if this share of bad rows is expected."
            )


class DataQualityError(ValueError):
    """The dataset is not fit to train on; the message says what to fix."""


class DataSourceError(DataQualityError):
    """A dataset source or storage location that cannot be used as given: unreadable, unwritable (permission,
    read-only, full disk, AWS credentials or access) or misnamed. The message is one line that names the path
    and says what to do.

    A subclass of :class:`DataQualityError` because a retry cannot fix it either: callers that stop on bad data
    (the DAG's ``prepare_dataset`` task, ``nova-dpo prepare``) stop on it the same way.
    """


class Validator:
    """Stateful validation of a stream of records: rule checks plus duplicate detection.

    Duplicates are found through an 8-byte digest per record, so a million records cost tens of MB.
    """

    def __init__(self, max_length: int) -> None:
        self.max_length = max_length
        self.report = ValidationReport()
        self._seen: set[int] = set()

    def check(self, record: Any, canonical: bytes | None = None) -> InvalidRecord | None:
        """Validate one record; return the problem (and count it), or None when it is valid.

        :param canonical: the record's serialized bytes, when the caller has them; equal records must give
            equal bytes (records we build do; otherwise keys are sorted here).
        """
        self.report.rows += 1
        try:
            check_record(record, self.max_length)
        except InvalidRecord as problem:
            return self._quarantine(problem)
        if canonical is None:
            try:
                canonical = orjson.dumps(record, option=orjson.OPT_SORT_KEYS)
            except TypeError as err:  # e.g. an unchecked extra key nesting past orjson's 254 levels
                return self._quarantine(
                    InvalidRecord("not_json", f"the record cannot be written as JSON: {err}")
                )
        digest = int.from_bytes(hashlib.blake2b(canonical, digest_size=8).digest(), "big")
        if digest in self._seen:
            return self._quarantine(InvalidRecord("duplicate", "the same record appears earlier in the data"))
        self._seen.add(digest)
        self.report.valid += 1
        return None

    def reject(self, reason: str, detail: str) -> InvalidRecord:
        """Count a row that failed before it could be checked (unreadable line, bad source row)."""
        self.report.rows += 1
        return self._quarantine(InvalidRecord(reason, detail))

    def _quarantine(self, problem: InvalidRecord) -> InvalidRecord:
        self.report.quarantined[problem.reason] += 1
        return problem


def validate_file(
    path: Any, quarantine: Any, *, max_length: int = 4096, thresholds: Thresholds | None = None
) -> ValidationReport:
    """Validate a Nova DPO JSONL file; write every bad row with its reason to ``quarantine``.

    A line that is not UTF-8, not JSON or cut short is a quarantined row like any other.

    :raises DataQualityError: when the valid rows fall under ``thresholds``.
    """
    from nova_dpo.data.loading import quarantine_line, read_jsonl
    from nova_dpo.data.storage import explain_access_errors

    validator = Validator(max_length)
    # read_jsonl explains its own read errors; what is left here is writing the quarantine file.
    with explain_access_errors(quarantine, "write", "the quarantine file"), quarantine.open("wb") as sink:
        for row in read_jsonl(path):
            if row.problem is not None:
                problem = validator.reject(row.problem, row.detail)
            else:
                problem = validator.check(row.value)
            if problem is not None:
                sink.write(quarantine_line(row, problem.reason, problem.detail))
    (thresholds or Thresholds()).check(validator.report, str(quarantine))
    return validator.report
