"""The JSONL files of an evaluation (gen_qa and llm_judge data, inference outputs), read so that an error
names the file and line."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any


def numbered_json_objects(path: str | os.PathLike[str], what: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """The JSON objects of a JSONL file with their line numbers, in file order; blank lines are skipped.

    :param what: what a row is (``gen_qa``, ``llm_judge``, ``inference_output``), for the error message.
    :raises ValueError: on a line that is not a JSON object, naming the file and line.
    """
    with open(path, encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(f"{path}:{number}: not a JSON line: {err}") from err
            if not isinstance(row, dict):
                raise ValueError(
                    f"{path}:{number}: {what} rows must be JSON objects, got {type(row).__name__}"
                )
            yield number, row


def read_jsonl_objects(path: str | os.PathLike[str], what: str) -> list[dict[str, Any]]:
    """The JSON objects of a JSONL file, in file order (see :func:`numbered_json_objects`)."""
    return [row for _, row in numbered_json_objects(path, what)]
