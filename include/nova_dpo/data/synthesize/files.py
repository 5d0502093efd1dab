"""Synthetic ``train_pref`` files: one file, or a growing dated snapshot per date, written atomically."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import tempfile
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any, TextIO

from nova_dpo.data.synthesize.catalogue import TOOLS
from nova_dpo.data.synthesize.generator import synthesize_rows

log = logging.getLogger(__name__)

FILE_NAME = "train_pref.jsonl"


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
