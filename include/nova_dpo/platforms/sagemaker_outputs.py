"""The outputs of Nova training and evaluation jobs on SageMaker: ``output.tar.gz``, read straight from S3.

A Nova job writes ``s3://<output_path>/<job name>/output/output.tar.gz``. For a DPO training job it holds
``manifest.json``, whose ``checkpoint_s3_bucket`` is the escrow URI of the trained checkpoint (what
evaluation and the Bedrock import read), and ``step_wise_training_metrics.csv``. For an evaluation job it
holds ``<run.name>/eval_results/results_<timestamp>.json`` and, for ``gen_qa``, ``inference_output.jsonl``
next to it, plus details and TensorBoard files.

The archive is streamed from S3 (no temporary copy of the whole tarball) and its regular files are written
under a folder the caller names, in the file layout the local platform's jobs write. That folder is on the
machine that reads the archive: what tasks on other machines read is published from it to the run's storage
root (:mod:`nova_dpo.platforms.publish`). A member whose path would land outside that folder (an absolute path, a ``..`` part) makes the whole archive
refused; links and device files are skipped, never created.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
import os
import tarfile
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any

from botocore.exceptions import ClientError

from nova_dpo.evaluation.results import EvalResults, parse_results
from nova_dpo.platforms.base import (
    INFERENCE_OUTPUT_FILE,
    MANIFEST_CHECKPOINT_KEY,
    MANIFEST_FILE,
    TRAINING_METRICS_FILE,
    VALIDATION_METRICS_FILE,
)

log = logging.getLogger(__name__)

OUTPUT_ARCHIVE = "output.tar.gz"
EVAL_RESULTS_DIR = "eval_results"
RESULTS_PREFIX = "results_"

# Files read into memory (manifest, metrics, results) are small; a bigger one means a wrong archive.
MAX_IN_MEMORY_BYTES = 64 * 1024 * 1024
_COPY_CHUNK = 1 << 20


class JobOutputError(ValueError):
    """A job's output is missing, or lacks what a job of its kind always writes."""


class UnsafeArchiveError(JobOutputError):
    """An archive member would be written outside the folder it is extracted to."""


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/a/b`` → ``("bucket", "a/b")``."""
    if not isinstance(uri, str) or not uri.startswith("s3://"):
        raise ValueError(f"expected an s3:// URI, got {uri!r}")
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    if not bucket:
        raise ValueError(f"the S3 URI {uri!r} names no bucket")
    return bucket, key


def output_archive_uri(output_path: str, job_name: str) -> str:
    """Where a SageMaker training job named ``job_name`` with ``S3OutputPath=output_path`` leaves its
    ``output.tar.gz``."""
    return f"{output_path.rstrip('/')}/{job_name}/output/{OUTPUT_ARCHIVE}"


def safe_member_path(name: str, *, folder: bool = False) -> PurePosixPath:
    """The relative path an archive member is extracted to (``./a/b`` → ``a/b``).

    :param folder: the member is a folder, which may be the archive's top (``.``, as ``tar -C dir .`` writes).
    :raises UnsafeArchiveError: for an absolute path or one with a ``..`` part.
    """
    path = PurePosixPath(name)
    parts = [part for part in path.parts if part not in ("", ".")]
    if path.is_absolute() or ".." in parts:
        raise UnsafeArchiveError(
            f"refusing archive member {name!r}: it would be written outside the extraction folder"
        )
    if not parts and not folder:
        raise UnsafeArchiveError(f"refusing archive member {name!r}: it names no file")
    return PurePosixPath(*parts)


# ------------------------------------------------------------------------------------------------ reading


@dataclass(frozen=True)
class ArchiveContents:
    """What :func:`read_output_archive` found.

    :param uri: the archive's ``s3://`` URI.
    :param members: the relative paths of the archive's regular files, in archive order.
    :param files: the contents of the members that were asked for, by relative path.
    :param local_dir: where the regular files were written, if anywhere.
    """

    uri: str
    members: tuple[str, ...]
    files: dict[str, bytes] = field(default_factory=dict)
    local_dir: Path | None = None

    def local_path(self, member: str) -> Path | None:
        return self.local_dir / member if self.local_dir is not None else None


def read_output_archive(
    s3_client: Any,
    uri: str,
    local_dir: str | os.PathLike[str] | None = None,
    *,
    keep: Callable[[str], bool] = lambda member: False,
) -> ArchiveContents:
    """Stream the ``.tar.gz`` at ``uri`` from S3, write its regular files under ``local_dir`` (when given)
    and keep the members for which ``keep(relative_path)`` is true in memory.

    :raises JobOutputError: there is no object at ``uri``, or it is no gzipped tar archive.
    :raises UnsafeArchiveError: a member would be written outside ``local_dir``.
    """
    bucket, key = split_s3_uri(uri)
    try:
        body = s3_client.get_object(Bucket=bucket, Key=key)["Body"]
    except ClientError as err:
        code = err.response.get("Error", {}).get("Code")
        if code in ("NoSuchKey", "404", "NotFound"):
            raise JobOutputError(
                f"There is no {uri}: the job wrote no output there. Check that it completed and that its "
                "OutputDataConfig.S3OutputPath is the prefix you expect."
            ) from err
        raise
    root = Path(local_dir).absolute() if local_dir is not None else None
    if root is not None:
        root.mkdir(parents=True, exist_ok=True)
    members: list[str] = []
    files: dict[str, bytes] = {}
    try:
        with contextlib.closing(body), tarfile.open(fileobj=body, mode="r|gz") as archive:
            for member in archive:
                relative = safe_member_path(member.name, folder=member.isdir())
                if member.isdir():
                    continue
                if not member.isfile():
                    log.warning("Skipping %s in %s: only regular files are extracted", member.name, uri)
                    continue
                member_key = relative.as_posix()
                members.append(member_key)
                handle = archive.extractfile(member)
                if handle is None:  # pragma: no cover - isfile() members always have data
                    continue
                wanted = keep(member_key)
                if wanted and member.size > MAX_IN_MEMORY_BYTES:
                    raise JobOutputError(
                        f"{member_key} in {uri} is {member.size} bytes; a job writes that file far smaller"
                    )
                if root is None:
                    if wanted:
                        files[member_key] = handle.read()
                    continue
                data = _extract(handle, root, relative, keep_bytes=wanted)
                if data is not None:
                    files[member_key] = data
    except (tarfile.TarError, EOFError, zlib.error) as err:
        raise JobOutputError(f"{uri} is not a readable .tar.gz archive: {err}") from err
    return ArchiveContents(uri=uri, members=tuple(members), files=files, local_dir=root)


def _extract(handle: IO[bytes], root: Path, relative: PurePosixPath, *, keep_bytes: bool) -> bytes | None:
    target = root.joinpath(*relative.parts)
    # A link already in local_dir must not redirect the write (or the folders made for it) elsewhere; the
    # file itself is replaced, never written through.
    if not target.parent.resolve().is_relative_to(root.resolve()):
        raise UnsafeArchiveError(f"refusing archive member {relative}: {target.parent} leads outside {root}")
    target.parent.mkdir(parents=True, exist_ok=True)
    kept = io.BytesIO() if keep_bytes else None
    partial = target.with_name(f".{target.name}.{uuid.uuid4().hex}.part")
    try:
        with partial.open("wb") as out:
            while chunk := handle.read(_COPY_CHUNK):
                out.write(chunk)
                if kept is not None:
                    kept.write(chunk)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return kept.getvalue() if kept is not None else None


def _shallowest(members: tuple[str, ...], file_name: str) -> str | None:
    """The member named ``file_name`` nearest the archive's top (Nova puts the training files there)."""
    matches = [m for m in members if PurePosixPath(m).name == file_name]
    return min(matches, key=lambda m: (len(PurePosixPath(m).parts), m)) if matches else None


def parse_metrics_csv(text: str) -> list[dict[str, float | str]]:
    """Rows of a metrics CSV (``step_number``, ``training_loss``, ...), numbers as floats."""
    rows = []
    for row in csv.DictReader(io.StringIO(text)):
        parsed: dict[str, float | str] = {}
        for name, value in row.items():
            if name is None:
                continue
            try:
                parsed[name] = float(value)
            except (TypeError, ValueError):
                parsed[name] = value
        rows.append(parsed)
    return rows


# ----------------------------------------------------------------------------------------------- training


@dataclass(frozen=True)
class TrainingOutput:
    """A Nova DPO training job's ``output.tar.gz``.

    :param archive_uri: the archive read.
    :param checkpoint_uri: the manifest's ``checkpoint_s3_bucket``: the escrow URI of the checkpoint.
    :param manifest: the whole ``manifest.json``.
    :param metrics_csv: ``step_wise_training_metrics.csv``, if the archive has it.
    :param validation_metrics_csv: ``validation_metrics.csv``, if the archive has it.
    :param local_dir: where the archive was extracted, if it was.
    :param metrics_path: the extracted ``step_wise_training_metrics.csv``.
    :param validation_metrics_path: the extracted ``validation_metrics.csv``.
    """

    archive_uri: str
    checkpoint_uri: str
    manifest: dict[str, Any]
    metrics_csv: str | None = None
    validation_metrics_csv: str | None = None
    local_dir: Path | None = None
    metrics_path: Path | None = None
    validation_metrics_path: Path | None = None

    def metrics_rows(self) -> list[dict[str, float | str]]:
        """The training metrics, one dict per logged step (empty when the archive has no CSV)."""
        return parse_metrics_csv(self.metrics_csv) if self.metrics_csv else []


def read_training_output(
    s3_client: Any, archive_uri: str, local_dir: str | os.PathLike[str] | None = None
) -> TrainingOutput:
    """Read a Nova DPO training job's ``output.tar.gz``; extract it under ``local_dir`` when given.

    :raises JobOutputError: no archive, no ``manifest.json`` in it, or a manifest without a
        ``checkpoint_s3_bucket``.
    """
    wanted = {MANIFEST_FILE, TRAINING_METRICS_FILE, VALIDATION_METRICS_FILE}
    contents = read_output_archive(
        s3_client, archive_uri, local_dir, keep=lambda member: PurePosixPath(member).name in wanted
    )
    manifest_member = _shallowest(contents.members, MANIFEST_FILE)
    if manifest_member is None:
        raise JobOutputError(
            f"{archive_uri} has no {MANIFEST_FILE}, so the trained checkpoint cannot be found; it holds "
            f"{_listing(contents.members)}. Is this a Nova training job's output?"
        )
    try:
        manifest = json.loads(contents.files[manifest_member])
    except ValueError as err:
        raise JobOutputError(f"{manifest_member} in {archive_uri} is not JSON: {err}") from err
    if not isinstance(manifest, dict):
        raise JobOutputError(f"{manifest_member} in {archive_uri} is not a JSON object")
    checkpoint = manifest.get(MANIFEST_CHECKPOINT_KEY)
    if not isinstance(checkpoint, str) or not checkpoint.strip():
        raise JobOutputError(
            f"{manifest_member} in {archive_uri} has no {MANIFEST_CHECKPOINT_KEY!r} (the escrow URI of the "
            f"trained checkpoint); its keys are {sorted(manifest)}. The job did not save a checkpoint: see "
            "its CloudWatch logs (log group /aws/sagemaker/TrainingJobs)."
        )
    metrics = _shallowest(contents.members, TRAINING_METRICS_FILE)
    validation = _shallowest(contents.members, VALIDATION_METRICS_FILE)
    return TrainingOutput(
        archive_uri=archive_uri,
        checkpoint_uri=checkpoint.strip(),
        manifest=manifest,
        metrics_csv=_text(contents, metrics),
        validation_metrics_csv=_text(contents, validation),
        local_dir=contents.local_dir,
        metrics_path=contents.local_path(metrics) if metrics else None,
        validation_metrics_path=contents.local_path(validation) if validation else None,
    )


def _text(contents: ArchiveContents, member: str | None) -> str | None:
    return contents.files[member].decode("utf-8") if member is not None else None


def _listing(members: tuple[str, ...], limit: int = 10) -> str:
    if not members:
        return "no files"
    shown = ", ".join(members[:limit])
    return shown + (f" and {len(members) - limit} more" if len(members) > limit else "")


# --------------------------------------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class EvaluationOutput:
    """A Nova evaluation job's ``output.tar.gz``, extracted.

    :param archive_uri: the archive read.
    :param local_dir: where it was extracted.
    :param results_path: the newest ``<run.name>/eval_results/results_<timestamp>.json``.
    :param results: that file, parsed (canonical metric names, whichever variant the job wrote).
    :param inference_output_path: ``inference_output.jsonl`` next to it (gen_qa), if present.
    :param task: ``gen_qa`` or ``llm_judge`` when known.
    """

    archive_uri: str
    local_dir: Path
    results_path: Path
    results: EvalResults
    inference_output_path: Path | None = None
    task: str | None = None

    def summary(self) -> dict[str, Any]:
        """The local platform's evaluation job result: ``task``, ``results_path``,
        ``inference_output_path`` (gen_qa), ``num_examples`` (when known) and ``metrics``."""
        result: dict[str, Any] = {"task": self.task, "results_path": str(self.results_path)}
        if self.inference_output_path is not None:
            result["inference_output_path"] = str(self.inference_output_path)
        examples = self._num_examples()
        if examples is not None:
            result["num_examples"] = examples
        result["metrics"] = dict(self.results.metrics)
        return result

    def _num_examples(self) -> int | None:
        if self.inference_output_path is not None:
            with self.inference_output_path.open("rb") as handle:
                return sum(1 for line in handle if line.strip())
        if self.results.per_example is not None:
            return len(self.results.per_example)
        return None


def read_evaluation_output(
    s3_client: Any,
    archive_uri: str,
    local_dir: str | os.PathLike[str],
    *,
    task: str | None = None,
    run_name: str | None = None,
) -> EvaluationOutput:
    """Extract a Nova evaluation job's ``output.tar.gz`` under ``local_dir`` and read its newest results.

    :param task: ``gen_qa`` requires ``inference_output.jsonl``; None accepts either task's output.
    :param run_name: the recipe's ``run.name``: the folder the results are in. Without it, any
        ``eval_results`` folder of the archive is used.
    :raises JobOutputError: no archive, no results file in it, a results file that is no Nova results
        document, or a gen_qa output without ``inference_output.jsonl``.
    """
    if local_dir is None:
        raise ValueError("an evaluation output is extracted: name the local folder to extract it to")
    contents = read_output_archive(s3_client, archive_uri, local_dir, keep=_is_results_file)
    candidates = [member for member in contents.members if _is_results_file(member)]
    if run_name:
        candidates = [m for m in candidates if PurePosixPath(m).parts[0] == run_name] or candidates
    if not candidates:
        where = f"{run_name}/{EVAL_RESULTS_DIR}/" if run_name else f"<run.name>/{EVAL_RESULTS_DIR}/"
        raise JobOutputError(
            f"{archive_uri} has no {where}{RESULTS_PREFIX}<timestamp>.json; it holds "
            f"{_listing(contents.members)}. Is this a Nova evaluation job's output?"
        )
    # Nova names results files by timestamp, so the newest sorts last.
    newest = max(candidates, key=lambda member: (PurePosixPath(member).name, member))
    try:
        results = parse_results(json.loads(contents.files[newest]))
    except ValueError as err:
        raise JobOutputError(f"{newest} in {archive_uri} is not a Nova results document: {err}") from err
    inference = _inference_output_next_to(contents.members, newest)
    if task == "gen_qa" and inference is None:
        raise JobOutputError(
            f"{archive_uri} has no {INFERENCE_OUTPUT_FILE}, which a gen_qa evaluation writes next to "
            f"{newest}; the per-example scores cannot be computed without it."
        )
    root = Path(local_dir).absolute()
    return EvaluationOutput(
        archive_uri=archive_uri,
        local_dir=root,
        results_path=root / newest,
        results=results,
        inference_output_path=root / inference if inference else None,
        task=task,
    )


def _is_results_file(member: str) -> bool:
    path = PurePosixPath(member)
    return (
        EVAL_RESULTS_DIR in path.parts[:-1]
        and path.name.startswith(RESULTS_PREFIX)
        and path.suffix == ".json"
    )


def _inference_output_next_to(members: tuple[str, ...], results_member: str) -> str | None:
    folder = PurePosixPath(results_member).parent
    matches = [m for m in members if PurePosixPath(m).name == INFERENCE_OUTPUT_FILE]
    beside = [m for m in matches if PurePosixPath(m).parent == folder]
    return (beside or matches or [None])[0]
