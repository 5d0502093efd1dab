"""Streaming readers for When2Call-schema rows: the Hugging Face Hub, JSONL and Parquet files, local or S3.

Readers yield :class:`SourceRow` items one at a time, so memory does not grow with the dataset. A line that
cannot be read (not UTF-8, not JSON, cut short) is yielded with its problem instead of a value: the caller
quarantines it, and the rest of the file is still read.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from nova_dpo.data.versions import DatasetVersion, data_files
from nova_dpo.data.when2call import HUB_CONFIG

PARQUET_BATCH_ROWS = 4096


@dataclass(frozen=True, slots=True)
class SourceRow:
    """A row of the source: its value, or the reason it could not be read and the raw bytes."""

    position: str
    value: Any = None
    problem: str | None = None
    detail: str = ""
    raw: bytes = b""


def quarantine_line(row: SourceRow, reason: str, detail: str) -> bytes:
    """The quarantine-file line for a rejected row: where it was, why, and the row itself."""
    value = row.raw.decode("utf-8", "replace") if row.raw else row.value
    entry = {"position": row.position, "reason": reason, "detail": detail, "row": value}
    return orjson.dumps(entry, default=str) + b"\n"


def read_jsonl(path: Any) -> Iterator[SourceRow]:
    """Rows of a JSONL file, one per non-blank line."""
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            position = f"{path.name}:{number}"
            try:
                yield SourceRow(position, orjson.loads(line))
            except orjson.JSONDecodeError as err:
                yield _unreadable(position, line, err)


def _unreadable(position: str, line: bytes, err: Exception) -> SourceRow:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError as decode_error:
        return SourceRow(position, problem="not_utf8", detail=str(decode_error), raw=line)
    if not line.endswith(b"\n"):
        return SourceRow(
            position, problem="truncated_line", detail=f"last line is cut short: {err}", raw=line
        )
    return SourceRow(position, problem="not_json", detail=str(err), raw=line)


def read_parquet(path: Any) -> Iterator[SourceRow]:
    """Rows of a Parquet file, read a batch at a time."""
    import pyarrow.parquet as pq

    with path.open("rb") as handle:
        number = 0
        for batch in pq.ParquetFile(handle).iter_batches(batch_size=PARQUET_BATCH_ROWS):
            for row in batch.to_pylist():
                number += 1
                yield SourceRow(f"{path.name}:{number}", row)


def read_hub(
    repo_id: str, revision: str, config: str = HUB_CONFIG, split: str = "train"
) -> Iterator[SourceRow]:
    """Rows of a Hub dataset config through ``datasets.load_dataset`` at a pinned revision, streamed."""
    from datasets import load_dataset

    dataset = load_dataset(repo_id, config, split=split, revision=revision, streaming=True)
    for number, row in enumerate(dataset, start=1):
        yield SourceRow(f"{repo_id}@{revision[:12]}:{number}", row)


def read_files(location: Any) -> Iterator[SourceRow]:
    for path in data_files(location):
        reader = read_parquet if path.name.endswith(".parquet") else read_jsonl
        yield from reader(path)


def iter_rows(version: DatasetVersion, hub_config: str = HUB_CONFIG) -> Iterator[SourceRow]:
    """Every row of a resolved dataset version, in source order."""
    if version.kind == "hub":
        return read_hub(version.location, version.version, hub_config)
    return read_files(version.location_path())
