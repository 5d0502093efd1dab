"""Streaming readers for When2Call-schema rows: the Hugging Face Hub, JSONL and Parquet files, local or S3.

Readers yield :class:`SourceRow` items one at a time, so memory does not grow with the dataset. A line or row
that cannot be read (not UTF-8, not JSON, cut short) is yielded with its problem instead of a value: the caller
quarantines it, and the rest of the file is still read. A file that cannot be read at all (no permission, no
AWS credentials, not Parquet) stops the stage with a one-line :class:`DataSourceError` naming it.

File readers feed a :class:`~nova_dpo.data.versions.ContentDigest` with the bytes they read, so a content
version labels exactly the data that was read, in one pass.
"""

from __future__ import annotations

import functools
import inspect
import reprlib
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from nova_dpo.data.storage import explain_access_errors, uri
from nova_dpo.data.validation import DataSourceError
from nova_dpo.data.versions import ContentDigest, DatasetVersion, data_files
from nova_dpo.data.when2call import HUB_CONFIG

PARQUET_BATCH_ROWS = 4096
# pyarrow 26 refuses a Parquet schema nested past 100 levels unless told otherwise, and a list takes two levels:
# one row whose tool schema nests past nova_format.MAX_JSON_DEPTH (64, that row is quarantined as bad_tools)
# would make the whole file unreadable. 512 reads such a row; the Arrow schema that pyarrow stores beside the
# Parquet one still caps a readable file at about 118 nested lists, and a deeper file is refused as a whole.
PARQUET_SCHEMA_DEPTH_LIMIT = 512
_CHUNK = 1 << 20
_BOM = b"\xef\xbb\xbf"
# A value that JSON cannot carry is quarantined as a bounded, readable repr instead.
_QUARANTINE_REPR = reprlib.Repr()
_QUARANTINE_REPR.maxlevel = 12
_QUARANTINE_REPR.maxstring = _QUARANTINE_REPR.maxother = _QUARANTINE_REPR.maxlong = 4096
_QUARANTINE_REPR.maxlist = _QUARANTINE_REPR.maxdict = _QUARANTINE_REPR.maxtuple = 256


@dataclass(frozen=True, slots=True)
class SourceRow:
    """A row of the source: its value, or the reason it could not be read and the raw bytes."""

    position: str
    value: Any = None
    problem: str | None = None
    detail: str = ""
    raw: bytes = b""


def _printable(text: str) -> str:
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def quarantine_line(row: SourceRow, reason: str, detail: str) -> bytes:
    """The quarantine-file line for a rejected row: where it was, why, and the row itself."""
    value = row.raw.decode("utf-8", "replace") if row.raw else row.value
    entry = {"position": row.position, "reason": reason, "detail": detail, "row": value}
    try:
        return orjson.dumps(entry, default=str) + b"\n"
    except TypeError:
        # Lone surrogates, an integer past 64 bits, nesting past orjson's 254 levels: never lose the line.
        entry = {
            "position": _printable(row.position),
            "reason": reason,
            "detail": _printable(detail),
            "row_repr": _QUARANTINE_REPR.repr(value),
        }
        return orjson.dumps(entry) + b"\n"


def read_jsonl(path: Any, digest: ContentDigest | None = None) -> Iterator[SourceRow]:
    """Rows of a JSONL file, one per non-blank line; ``digest`` is fed every byte read."""
    with explain_access_errors(path, "read", "the data file"), path.open("rb") as handle:
        update = None
        if digest is not None:
            digest.start_file(path.name)
            update = digest.update
        for number, line in enumerate(handle, start=1):
            if update is not None:
                update(line)
            if number == 1 and line.startswith(_BOM):  # a UTF-8 byte-order mark, as some editors write
                line = line[len(_BOM) :]
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


def read_parquet(path: Any, digest: ContentDigest | None = None) -> Iterator[SourceRow]:
    """Rows of a Parquet file, read a batch at a time; ``digest`` is fed every byte read.

    Parquet is read out of order (the footer first), so the file is copied once, sequentially and hashed on
    the way, to an unnamed temporary file that the parser reads: the digest covers exactly the bytes parsed,
    and the copy vanishes with the process even if it is killed.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    with tempfile.TemporaryFile(prefix="nova-dpo-parquet-") as copy:
        with explain_access_errors(path, "read", "the data file"), path.open("rb") as source:
            if digest is not None:
                digest.start_file(path.name)
            while chunk := source.read(_CHUNK):
                if digest is not None:
                    digest.update(chunk)
                with explain_access_errors(tempfile.gettempdir(), "write", f"a copy of {path.name} in"):
                    copy.write(chunk)
        copy.seek(0)
        number = 0
        try:
            for batch in pq.ParquetFile(copy, **_parquet_options(pq)).iter_batches(
                batch_size=PARQUET_BATCH_ROWS
            ):
                for value, problem in _batch_rows(batch):
                    number += 1
                    position = f"{path.name}:{number}"
                    if problem is None:
                        yield SourceRow(position, value)
                    else:
                        yield SourceRow(position, problem="not_utf8", detail=problem)
        except (pa.ArrowException, OSError) as err:
            cause = " ".join(str(err).split())
            raise DataSourceError(
                f"{uri(path)} is not a readable Parquet file (after {number} rows: {cause}); export it "
                "again, or move it out of the source folder"
            ) from err


@functools.cache
def _parquet_options(pq: Any) -> dict[str, Any]:
    """Reader options this pyarrow knows: before release 26 there is no schema depth limit to raise."""
    if "schema_depth_limit" in inspect.signature(pq.ParquetFile).parameters:
        return {"schema_depth_limit": PARQUET_SCHEMA_DEPTH_LIMIT}
    return {}


def _batch_rows(batch: Any) -> Iterator[tuple[Any, str | None]]:
    """The rows of a record batch as Python values; a row whose text is not UTF-8 comes with its problem."""
    try:
        rows = batch.to_pylist()
    except UnicodeDecodeError:  # Parquet does not check that a string column holds UTF-8: find the bad rows
        rows = None
    if rows is not None:
        for row in rows:
            yield row, None
        return
    for index in range(batch.num_rows):
        try:
            row = batch.slice(index, 1).to_pylist()[0]
        except UnicodeDecodeError as err:
            yield None, f"a string column holds bytes that are not UTF-8: {err}"
        else:
            yield row, None


def read_hub(
    repo_id: str, revision: str, config: str = HUB_CONFIG, split: str = "train"
) -> Iterator[SourceRow]:
    """Rows of a Hub dataset config through ``datasets.load_dataset`` at a pinned revision, streamed."""
    from datasets import load_dataset

    with explain_access_errors(f"hf://{repo_id}@{revision}", "read", "the Hub dataset"):
        dataset = load_dataset(repo_id, config, split=split, revision=revision, streaming=True)
        for number, row in enumerate(dataset, start=1):
            yield SourceRow(f"{repo_id}@{revision[:12]}:{number}", row)


def read_files(location: Any, digest: ContentDigest | None = None) -> Iterator[SourceRow]:
    """Rows of every data file of ``location``, in file-name order; ``digest`` is fed every byte read."""
    with explain_access_errors(location, "read", "the dataset source"):
        paths = data_files(location)
    for path in paths:
        reader = read_parquet if path.name.endswith(".parquet") else read_jsonl
        yield from reader(path, digest)


def iter_rows(
    version: DatasetVersion, hub_config: str = HUB_CONFIG, digest: ContentDigest | None = None
) -> Iterator[SourceRow]:
    """Every row of a resolved dataset version, in source order; ``digest`` is fed the bytes of file sources."""
    if version.kind == "hub":
        return read_hub(version.location, version.version, hub_config)
    return read_files(version.location_path(), digest)
