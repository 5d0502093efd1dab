"""Publishing the files of a job's output that later tasks read, so that any worker can read them.

A platform's ``outputs`` places a completed job's files in a folder on the machine that asks
(:meth:`SageMakerPlatform.outputs <nova_dpo.platforms.sagemaker.SageMakerPlatform.outputs>` extracts the job's
``output.tar.gz`` there), and its :class:`~nova_dpo.platforms.base.JobOutputs` name them with ``file://``
URIs. Such a URI is worth nothing to a task that runs on another Airflow worker (CeleryExecutor,
Kubernetes...). :func:`publish_outputs` copies the files those URIs name to durable storage (the run's folder
under the storage root, e.g. ``s3://bucket/prefix/runs/<run>/generate/candidate``) and returns the outputs with
URIs naming the copies, which is what an operator hands to the next tasks.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import Any

from nova_dpo.data import storage
from nova_dpo.platforms.base import JobOutputs

log = logging.getLogger(__name__)

#: The fields of :class:`JobOutputs` that name files later tasks read: the training metrics (run report), the
#: evaluation results (metric gate, report) and ``inference_output.jsonl`` (gen_qa scores, judge pairs).
PUBLISHED_FIELDS = ("metrics_uri", "validation_metrics_uri", "results_uri", "inference_output_uri")
_CHUNK = 1 << 20


def publish_outputs(
    outputs: JobOutputs, extracted: str | os.PathLike[str], destination: str, path_factory: Any = None
) -> JobOutputs:
    """``outputs`` with the files of :data:`PUBLISHED_FIELDS` copied from ``extracted`` to ``destination``.

    Each file keeps its path relative to ``extracted`` (``<run.name>/eval_results/results_<ts>.json`` lands
    at ``{destination}/<run.name>/eval_results/results_<ts>.json``), and the returned outputs name the copies:
    the fields of :data:`PUBLISHED_FIELDS` and the entries of ``result`` that named the same files (``results_path``,
    ``inference_output_path``) become URIs under ``destination``. Only those files are copied: the rest of the
    job's output stays where the job left it (``output_uri``), and URIs outside ``extracted`` (a checkpoint
    in SageMaker's escrow bucket) are kept as they are. Copying again overwrites with the same content, so
    a retried task may publish again.

    :param outputs: what the platform's ``outputs(ref, extracted)`` returned.
    :param extracted: the folder on this machine the platform placed the job's files in.
    :param destination: a folder or ``file://`` URI, or an object-store URI (``s3://bucket/prefix/...``).
    :param path_factory: makes the path object of an object-store URI (Airflow: ``ObjectStoragePath`` with
        the AWS connection); default universal-pathlib's.
    """
    root = Path(extracted).absolute().resolve()
    published: dict[Path, str] = {}

    def publish(source: Path) -> str:
        if source not in published:
            relative = source.relative_to(root).as_posix()
            uri = storage.join_uri(destination, relative)
            target = storage.path_for(uri, path_factory)
            if storage.is_local(target):
                target = Path(target)
                target.parent.mkdir(parents=True, exist_ok=True)
                uri = target.absolute().as_uri()  # a folder destination keeps the file:// form
            with source.open("rb") as reader, target.open("wb") as writer:
                shutil.copyfileobj(reader, writer, _CHUNK)
            published[source] = uri
            log.info("published %s to %s", relative, uri)
        return published[source]

    def relocated(value: Any, *, as_uri: bool) -> Any:
        source = _file_under(value, root)
        if source is None:
            return value
        uri = publish(source)
        # A plain path stays a plain path when the copy is a local file; an object-store copy is a URI.
        return uri if as_uri or not uri.startswith("file://") else storage.file_uri_path(uri)

    values = outputs.to_dict()
    for key in PUBLISHED_FIELDS:
        values[key] = relocated(values[key], as_uri=True)
    values["result"] = {
        key: relocated(value, as_uri=isinstance(value, str) and value.startswith("file://"))
        for key, value in outputs.result.items()
    }
    return JobOutputs.from_dict(values)


def _file_under(value: Any, root: Path) -> Path | None:
    """The file ``value`` names (a ``file://`` URI or an absolute path) when it is a file under ``root``."""
    if not isinstance(value, str) or not value:
        return None
    if value.startswith("file://"):
        path = Path(storage.file_uri_path(value))
    elif "://" in value or not os.path.isabs(value):
        return None
    else:
        path = Path(value)
    path = path.resolve()
    return path if path.is_relative_to(root) and path.is_file() else None
