"""Paths on a local folder or an object store, and atomic, content-addressed publication.

Everything here takes paths with the ``pathlib`` API of universal-pathlib, which Airflow's
``ObjectStoragePath`` also has, so the same code writes to ``s3://bucket/prefix`` and to a local folder.
A published folder is complete when its ``manifest.json`` exists: the manifest is always written last.

Storage errors that a retry cannot fix (permission, read-only file system, full disk, missing AWS credentials,
access denied) become one-line :class:`~nova_dpo.data.validation.DataSourceError` messages that name the path
(:func:`explain_access_errors`); others (a dropped connection) propagate, so a task retry can help.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import hashlib
import os
import re
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from urllib.request import url2pathname

from upath import UPath

from nova_dpo.data.validation import DataSourceError

MANIFEST = "manifest.json"
_CHUNK = 1 << 20
# A publish scratch folder untouched this long belongs to a process that was killed mid-copy.
STALE_SCRATCH_SECONDS = 3600

_FULL = "the disk or quota is full; free space there, or choose a location on a larger disk"
_DENIED = "permission denied; give the worker's user {mode} access to it, or choose another location"
_ERRNO_ADVICE = {
    errno.ENOSPC: _FULL,
    errno.EDQUOT: _FULL,
    errno.EROFS: "the file system is read-only; choose a writable location",
    errno.EACCES: _DENIED,
    errno.EPERM: _DENIED,
    errno.ENOENT: "it does not exist; check the path",
    errno.ENOTDIR: "a file stands where a folder is expected; check the path",
    errno.EISDIR: "a folder stands where a file is expected; check the path",
    errno.ENAMETOOLONG: "the path is too long; choose a shorter location",
}
_CREDENTIALS = (
    "set the worker's AWS credentials (the aws_default connection, or AWS_PROFILE, or AWS_ACCESS_KEY_ID and "
    "AWS_SECRET_ACCESS_KEY)"
)
_S3_PERMISSIONS = {"read": "s3:GetObject and s3:ListBucket", "write": "s3:PutObject"}
_ACCESS_DENIED_CODES = frozenset(
    {
        "AccessDenied",
        "AllAccessDisabled",
        "403",
        "Forbidden",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "InvalidToken",
        "AccountProblem",
    }
)


def file_uri_path(uri: str) -> str:
    """The local path a ``file://`` URI names, percent-escapes decoded (``Path.as_uri`` writes a space as %20)."""
    return url2pathname(urlparse(uri).path)


def as_path(location: str | os.PathLike[str] | Any) -> Any:
    """A path object for a local folder, a ``file://`` URI or an object-store URI such as ``s3://...``."""
    if isinstance(location, (str, os.PathLike)):
        text = os.fspath(location)
        if "://" not in text:
            return Path(text).expanduser().absolute()
        if text.startswith("file://"):
            return Path(file_uri_path(text)).absolute()
        return UPath(text)
    return location  # already a path object (pathlib, UPath or ObjectStoragePath)


def path_for(location: str, path_factory: Any = None) -> Any:
    """A path object for ``location``: :func:`as_path` for a local folder or ``file://`` URI, else
    ``path_factory(location)`` when one is given (Airflow: ``ObjectStoragePath`` with a connection's
    credentials), else :func:`as_path` (universal-pathlib, with the default credentials)."""
    if path_factory is None or "://" not in location or location.startswith("file://"):
        return as_path(location)
    return path_factory(location)


def join_uri(base: str, *parts: str) -> str:
    """``base`` and ``parts`` joined with ``/`` (``s3://b/p`` + ``a/b`` → ``s3://b/p/a/b``)."""
    return "/".join([base.rstrip("/"), *(part.strip("/") for part in parts if part.strip("/"))])


def is_local(path: Any) -> bool:
    return isinstance(path, Path) or getattr(path, "protocol", "") in ("", "file", "local")


def uri(path: Any) -> str:
    """A URI for ``path`` that :func:`as_path` reads back (``file://`` for local folders)."""
    return Path(path).absolute().as_uri() if isinstance(path, Path) else str(path)


def slug(text: str) -> str:
    """A path segment naming a source: ``nvidia/When2Call`` → ``nvidia--When2Call``."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", text.strip("/").replace("/", "--")).strip("-.")
    return cleaned or "dataset"


def sha256_file(path: Any) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def content_hash(file_hashes: dict[str, str]) -> str:
    """The address of a set of files: a hash over their names and contents."""
    digest = hashlib.sha256()
    for name in sorted(file_hashes):
        digest.update(f"{name}\0{file_hashes[name]}\n".encode())
    return digest.hexdigest()


def _aws_problem(err: BaseException, mode: str) -> str | None:
    """What an AWS error means and what to do, or None when it is not one a retry cannot fix."""
    try:
        from botocore.exceptions import ClientError, NoCredentialsError, PartialCredentialsError
    except ImportError:  # no AWS client installed: no AWS error can have been raised
        return None
    if isinstance(err, NoCredentialsError):
        return f"no AWS credentials were found; {_CREDENTIALS}"
    if isinstance(err, PartialCredentialsError):
        return f"the AWS credentials are incomplete ({err}); {_CREDENTIALS}"
    if isinstance(err, ClientError):
        code = str(err.response.get("Error", {}).get("Code", ""))
        if code in _ACCESS_DENIED_CODES:
            return (
                f"AWS denied access ({code}); allow the worker's role {_S3_PERMISSIONS[mode]} on it "
                "(see iam/airflow-role-policy.json), or check its credentials"
            )
        if code == "NoSuchBucket":
            return "the bucket does not exist; create it, or fix the URI"
    return None


def access_problem(err: BaseException, path: Any, mode: str, what: str) -> DataSourceError | None:
    """``err`` as a one-line :class:`DataSourceError` naming the path and what to do, or None when a retry may
    fix it (a dropped connection, a throttled request) or it is no storage error at all.

    :param mode: ``read`` or ``write``: what the caller was doing with ``path``.
    :param what: what ``path`` is, for the message ("the dataset source", "the staging folder").
    """
    if isinstance(err, DataSourceError):
        return None
    if isinstance(err, OSError) and err.errno in _ERRNO_ADVICE:
        problem = _ERRNO_ADVICE[err.errno].format(mode=mode)
        # The OS names the exact file (a staged file, a snapshot inside the source folder) when it knows it.
        where = os.fsdecode(err.filename) if err.filename else uri(path)
    else:
        problem = _aws_problem(err, mode)
        where = uri(path)
        if problem is None:
            return None
    message = f"cannot {mode} {what} {where}: {problem}"
    return DataSourceError(" ".join(message.split()))


@contextlib.contextmanager
def explain_access_errors(path: Any, mode: str, what: str) -> Iterator[None]:
    """Raise a storage error that a retry cannot fix as :func:`access_problem`'s one-line message."""
    try:
        yield
    except Exception as err:
        explained = access_problem(err, path, mode, what)
        if explained is None:
            raise
        raise explained from err


def publish_directory(staged: Path, destination: Any) -> bool:
    """Copy the files of ``staged`` to ``destination``, manifest last; False when already published.

    Locally the folder is assembled beside its final name and renamed into place, so a reader sees either
    nothing or all of it; on an object store the manifest goes last, and readers only trust folders that have
    one (:func:`is_published`). A destination that already has a manifest holds the same content (its name
    is the content hash), so nothing is written.
    """
    if not (staged / MANIFEST).exists():
        raise FileNotFoundError(f"{staged} has no {MANIFEST}; a folder is published with its manifest")
    with explain_access_errors(destination, "write", "the prepared dataset to"):
        if is_published(destination):
            return False
        if is_local(destination):
            return _publish_local(staged, Path(destination))
        destination.mkdir(parents=True, exist_ok=True)
        # A failed upload leaves files without a manifest, which readers ignore and the next publish of the
        # same content overwrites. They are not deleted: a concurrent publish of the same content (same
        # address) may be writing the same keys, and deleting them under it would break its folder.
        for path in sorted(staged.iterdir()):
            if path.is_file() and path.name != MANIFEST:
                with path.open("rb") as source, (destination / path.name).open("wb") as sink:
                    shutil.copyfileobj(source, sink, _CHUNK)
        # One small PUT: an object store never shows a partly written manifest.
        (destination / MANIFEST).write_bytes((staged / MANIFEST).read_bytes())
        return True


def _publish_local(staged: Path, target: Path) -> bool:
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_scratch(target)
    scratch = target.parent / f".{target.name}.{uuid.uuid4().hex}.tmp"
    try:
        shutil.copytree(staged, scratch)
        os.rename(scratch, target)
    except OSError:
        if is_published(target):  # a concurrent writer published the same content first
            return False
        raise
    finally:
        # Gone after a successful rename; after a failed copy (a full disk) it is the partial copy.
        shutil.rmtree(scratch, ignore_errors=True)
    return True


def _remove_stale_scratch(target: Path) -> None:
    """Remove the scratch copies of ``target`` that a killed publish left (``finally`` does not run on SIGKILL).

    Only copies of this same content address, untouched for :data:`STALE_SCRATCH_SECONDS`: a live publish
    writes its copy continuously, and one of other content is never touched.
    """
    cutoff = time.time() - STALE_SCRATCH_SECONDS
    for scratch in target.parent.glob(f".{glob.escape(target.name)}.*.tmp"):
        with contextlib.suppress(OSError):
            if newest_change(scratch) < cutoff:
                shutil.rmtree(scratch, ignore_errors=True)


def newest_change(folder: Path) -> float:
    """The latest modification time of ``folder`` and the files directly in it."""
    with os.scandir(folder) as entries:
        return max([folder.stat().st_mtime, *(entry.stat().st_mtime for entry in entries)])


def is_published(folder: Any) -> bool:
    return (folder / MANIFEST).exists()
