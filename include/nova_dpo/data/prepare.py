"""The data stage: a When2Call-schema source → validated Nova DPO splits and a gen_qa set, published once.

One streaming pass reads each row, normalizes it, formats the Nova DPO record, validates it, and appends it
to the file of its split (``train.jsonl``, ``validation.jsonl``; test rows become ``gen_qa.jsonl``). Rows that
fail go to ``quarantine.jsonl`` with their reason. The files are written to a local staging folder, hashed,
and published under ``{root}/datasets/{source}/{version}/{sha12}/`` with ``manifest.json`` last.

A file source's version is the hash of the bytes this pass read, not of an earlier read. Failures leave nothing
behind: the staging folder goes in ``finally``, and one a killed process left (``nova-dpo-prepare-<pid>-*``)
goes at a later prepare once it is stale. Storage errors that a retry cannot fix are one-line
:class:`~nova_dpo.data.validation.DataSourceError` messages naming the path.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import logging
import os
import shutil
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson

from nova_dpo.data import storage
from nova_dpo.data.loading import SourceRow, iter_rows, quarantine_line
from nova_dpo.data.nova_format import dpo_record, gen_qa_record, system_prompt
from nova_dpo.data.splits import SPLITS, SplitRatios, assign_split, prompt_id
from nova_dpo.data.validation import (
    DataQualityError,
    DataSourceError,
    Thresholds,
    Validator,
    estimate_tokens,
)
from nova_dpo.data.versions import ContentDigest, DatasetVersion, resolve_dataset_version
from nova_dpo.data.when2call import HUB_CONFIG, RowError, infer_category, normalize_row

log = logging.getLogger(__name__)

SPLIT_FILES = {"train": "train.jsonl", "validation": "validation.jsonl", "test": "gen_qa.jsonl"}
QUARANTINE_FILE = "quarantine.jsonl"
MANIFEST_SCHEMA = "nova-dpo/prepared-dataset/1"
# gen_qa: "context length (system + query) should be less than 3.5k" tokens (Nova evaluation docs).
GEN_QA_MAX_CONTEXT_TOKENS = 3500
PROGRESS_EVERY_ROWS = 100_000
STAGING_PREFIX = "nova-dpo-prepare-"
# A staging folder whose process is gone and whose files have not changed for this long was left by a prepare
# that was killed (SIGKILL, OOM killer, a lost machine): ``finally`` never ran for it.
STALE_STAGING_SECONDS = 6 * 3600


@dataclass(frozen=True)
class PrepareParams:
    """Parameters of the data stage (recorded in the manifest).

    :param ratios: train / validation / test shares, assigned by prompt hash.
    :param max_length: the recipe's ``training_config.max_length``; longer records are quarantined.
    :param thresholds: the minimum valid share and count below which the stage fails.
    :param hub_config: the Hub dataset config to read.
    """

    ratios: SplitRatios = field(default_factory=SplitRatios)
    max_length: int = 4096
    thresholds: Thresholds = field(default_factory=Thresholds)
    hub_config: str = HUB_CONFIG

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class PreparedDataset:
    """Where a prepared version lives, its manifest, and whether this call wrote it."""

    uri: str
    manifest: dict[str, Any]
    published: bool

    def file_uri(self, split: str) -> str:
        return f"{self.uri.rstrip('/')}/{SPLIT_FILES[split]}"


class _Writers:
    """Append-only JSONL files of the staging folder."""

    def __init__(self, folder: Path) -> None:
        self.handles: dict[str, Any] = {}
        try:
            for name in self.names():
                self.handles[name] = (folder / name).open("wb", buffering=1 << 20)
        except BaseException:
            self.close()
            raise

    @staticmethod
    def names() -> list[str]:
        return [*SPLIT_FILES.values(), QUARANTINE_FILE]

    def write(self, name: str, line: bytes) -> None:
        self.handles[name].write(line)

    def close(self) -> None:
        for handle in self.handles.values():
            handle.close()


class _Stage:
    """One streaming pass over the source rows."""

    def __init__(self, params: PrepareParams, writers: _Writers) -> None:
        self.params = params
        self.writers = writers
        self.validator = Validator(params.max_length)
        self.by_split: dict[str, Counter[str]] = {split: Counter() for split in SPLITS}
        # gen_qa scores one answer per prompt, and the gate pairs candidate and baseline by prompt_id: a test
        # prompt that comes again (same tools and conversation, another preference pair) is evaluated once.
        self.gen_qa_ids: set[str] = set()
        self.gen_qa_repeats = 0

    def add(self, row: SourceRow) -> None:
        if row.problem is not None:
            problem = self.validator.reject(row.problem, row.detail)
            self.writers.write(QUARANTINE_FILE, quarantine_line(row, problem.reason, problem.detail))
            return
        try:
            pair = normalize_row(row.value)
            system = system_prompt(pair.tools)
            record = dpo_record(pair, system)
            line = _record_line(record)
        except RowError as err:
            self.validator.reject(err.reason, err.detail)
            self.writers.write(QUARANTINE_FILE, quarantine_line(row, err.reason, err.detail))
            return
        pid = prompt_id(pair.messages)
        split = assign_split(pid, self.params.ratios)
        if split == "test":
            # Test rows are evaluated, not trained on: what is published for them is the gen_qa row. Its id
            # covers the system prompt too: the same question with other tools offered is another test case.
            qa_id = prompt_id((("system", system), *pair.messages))
            qa = gen_qa_record(pair, system, qa_id)
            context = estimate_tokens(len(qa["system"]) + len(qa["query"]))
            if context > GEN_QA_MAX_CONTEXT_TOKENS:
                problem = self.validator.reject(
                    "gen_qa_too_long", f"system + query is about {context} tokens, over Nova's gen_qa limit"
                )
            else:
                problem = self.validator.check(record, canonical=line)
                line = orjson.dumps(qa)
        else:
            problem = self.validator.check(record, canonical=line)
        if problem is not None:
            self.writers.write(QUARANTINE_FILE, quarantine_line(row, problem.reason, problem.detail))
            return
        if split == "test":
            # Valid, but its prompt is already in the evaluation set: counted, not written twice.
            if qa_id in self.gen_qa_ids:
                self.gen_qa_repeats += 1
                return
            self.gen_qa_ids.add(qa_id)
        self.writers.write(SPLIT_FILES[split], line + b"\n")
        self.by_split[split][infer_category(pair.chosen)] += 1


def _record_line(record: dict[str, Any]) -> bytes:
    try:
        return orjson.dumps(record)
    except TypeError as err:  # lone surrogates: text that a Python source built and UTF-8 cannot carry
        raise RowError("not_utf8", f"the row's text cannot be written as UTF-8: {err}") from err


def _manifest(
    version: DatasetVersion,
    params: PrepareParams,
    stage: _Stage,
    files: dict[str, dict[str, Any]],
    address: str,
) -> dict[str, Any]:
    splits = {
        split: {"rows": sum(counts.values()), "by_category": dict(sorted(counts.items()))}
        for split, counts in stage.by_split.items()
    }
    return {
        "schema": MANIFEST_SCHEMA,
        "source": version.to_dict(),
        "content_sha256": address,
        "parameters": params.to_dict(),
        "counts": {
            **stage.validator.report.to_dict(),
            "splits": splits,
            "gen_qa_repeated_prompts": stage.gen_qa_repeats,
        },
        "files": files,
    }


def prepare_dataset(
    source: str,
    root: Any,
    *,
    logical_date: dt.datetime | dt.date | None = None,
    revision: str | None = None,
    params: PrepareParams | None = None,
    version: DatasetVersion | None = None,
) -> PreparedDataset:
    """Prepare ``source`` as Nova DPO data under ``root`` (a local folder or ``s3://`` URI).

    :param version: an already resolved version (else resolved from ``logical_date`` and ``revision``).
    :raises DataQualityError: when the valid rows fall under ``params.thresholds``; the quarantine file is
        kept under ``{root}/quarantine/`` and named in the message.
    :raises DataSourceError: (a :class:`DataQualityError`) when the source cannot be read or the output
        written for a reason a retry cannot fix, or a content source changed after ``version`` was resolved.
    """
    params = params or PrepareParams()
    if version is None:
        with storage.explain_access_errors(source, "read", "the dataset source"):
            version = resolve_dataset_version(source, logical_date, revision, hash_content=False)
    root_path = storage.as_path(root)
    log.info("preparing %s version %s (%s)", version.source, version.version or "(by content)", version.kind)
    staging = _new_staging()
    try:
        stage, version = _run_stage(version, params, staging)
        kept = root_path / "quarantine" / version.name / version.version / QUARANTINE_FILE
        try:
            params.thresholds.check(stage.validator.report, storage.uri(kept))
        except DataQualityError:
            _keep_quarantine(staging / QUARANTINE_FILE, kept)
            raise
        with storage.explain_access_errors(staging, "write", "the staging folder"):
            files = {
                name: {
                    "sha256": storage.sha256_file(staging / name),
                    "bytes": (staging / name).stat().st_size,
                    "rows": _count_lines(staging / name),
                }
                for name in _Writers.names()
            }
            address = storage.content_hash({name: meta["sha256"] for name, meta in files.items()})
            manifest = _manifest(version, params, stage, files, address)
            (staging / storage.MANIFEST).write_bytes(
                orjson.dumps(manifest, option=orjson.OPT_INDENT_2) + b"\n"
            )
        destination = root_path / "datasets" / version.name / version.version / address[:12]
        published = storage.publish_directory(staging, destination)
        if not published:
            log.info("%s already holds this content; nothing uploaded", storage.uri(destination))
            with storage.explain_access_errors(destination, "read", "the published dataset"):
                manifest = orjson.loads((destination / storage.MANIFEST).read_bytes())
        return PreparedDataset(storage.uri(destination), manifest, published)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _keep_quarantine(staged: Path, kept: Any) -> None:
    """Copy the quarantine file where the failure message says it is; a partial copy is removed."""
    with storage.explain_access_errors(kept, "write", "the quarantine file"):
        kept.parent.mkdir(parents=True, exist_ok=True)
        try:
            with staged.open("rb") as src, kept.open("wb") as dst:
                shutil.copyfileobj(src, dst)
        except BaseException:
            with contextlib.suppress(OSError):
                kept.unlink()
            raise


def _new_staging() -> Path:
    """A fresh staging folder named after this process, after removing the stale ones of killed processes."""
    parent = Path(tempfile.gettempdir())
    _remove_stale_staging(parent)
    return Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{os.getpid()}-", dir=parent))


def _remove_stale_staging(parent: Path) -> None:
    """Remove staging folders whose process is gone and whose files have not changed for a long time.

    Both tests must hold: a folder of a live prepare (on this machine) is never removed, however old, and one
    of another machine or container sharing the folder (where the pid means nothing) only once nothing in it
    has changed for :data:`STALE_STAGING_SECONDS`, far longer than a prepare goes without writing.
    """
    cutoff = time.time() - STALE_STAGING_SECONDS
    for folder in parent.glob(f"{STAGING_PREFIX}*"):
        pid = folder.name.removeprefix(STAGING_PREFIX).split("-", 1)[0]
        if pid.isdigit() and _process_alive(int(pid)):
            continue
        with contextlib.suppress(OSError):
            if folder.is_dir() and storage.newest_change(folder) < cutoff:
                log.info("removing %s, left by a prepare that was killed", folder)
                shutil.rmtree(folder, ignore_errors=True)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # it exists, but belongs to another user
        return True
    return True


def _run_stage(
    version: DatasetVersion, params: PrepareParams, staging: Path
) -> tuple[_Stage, DatasetVersion]:
    """Read every row once; return the stage and the version, labelled by the bytes read for a content source."""
    digest = ContentDigest()
    with storage.explain_access_errors(staging, "write", "the staging folder"):
        writers = _Writers(staging)
        stage = _Stage(params, writers)
        started = time.monotonic()
        try:
            for count, row in enumerate(iter_rows(version, params.hub_config, digest), start=1):
                stage.add(row)
                if count % PROGRESS_EVERY_ROWS == 0:
                    elapsed = time.monotonic() - started
                    log.info("%d rows read, %.0f rows/s", count, count / elapsed)
        finally:
            writers.close()
    report = stage.validator.report
    elapsed = max(time.monotonic() - started, 1e-9)
    log.info(
        "read %d rows in %.1f s (%.0f rows/s): %d valid, %d quarantined %s",
        report.rows,
        elapsed,
        report.rows / elapsed,
        report.valid,
        report.quarantined_total,
        dict(report.quarantined),
    )
    if version.kind == "content":
        if version.version is not None and version.version != digest.version:
            raise DataSourceError(
                f"{version.location} changed after it was resolved as version {version.version}: the bytes "
                f"read now are {digest.version}. Stop writing to the source while it is prepared, then prepare "
                "it again without a fixed version"
            )
        version = dataclasses.replace(version, version=digest.version)
    return stage, version


def _count_lines(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))
