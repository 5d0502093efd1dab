"""Paths on a local folder or an object store, and atomic, content-addressed publication.

Everything here takes paths with the ``pathlib`` API of universal-pathlib, which Airflow's
``ObjectStoragePath`` also has, so the same code writes to ``s3://bucket/prefix`` and to a local folder.
A published folder is complete when its ``manifest.json`` exists: the manifest is always written last.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from urllib.request import url2pathname

from upath import UPath

MANIFEST = "manifest.json"
_CHUNK = 1 << 20


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


def publish_directory(staged: Path, destination: Any) -> bool:
    """Copy the files of ``staged`` to ``destination``, manifest last; False when already published.

    Locally the folder is assembled beside its final name and renamed into place, so a reader sees either
    nothing or all of it; on an object store the manifest goes last, and readers only trust folders that have
    one (:func:`is_published`). A destination that already has a manifest holds the same content (its name
    is the content hash), so nothing is written.
    """
    if is_published(destination):
        return False
    if not (staged / MANIFEST).exists():
        raise FileNotFoundError(f"{staged} has no {MANIFEST}; a folder is published with its manifest")
    if is_local(destination):
        target = Path(destination)
        target.parent.mkdir(parents=True, exist_ok=True)
        scratch = target.parent / f".{target.name}.{uuid.uuid4().hex}.tmp"
        shutil.copytree(staged, scratch)
        try:
            os.rename(scratch, target)
        except OSError:
            shutil.rmtree(scratch, ignore_errors=True)
            if is_published(target):  # a concurrent writer published the same content first
                return False
            raise
        return True
    destination.mkdir(parents=True, exist_ok=True)
    for path in sorted(staged.iterdir()):
        if path.is_file() and path.name != MANIFEST:
            with path.open("rb") as source, (destination / path.name).open("wb") as sink:
                shutil.copyfileobj(source, sink, _CHUNK)
    # One small PUT: an object store never shows a partly written manifest.
    (destination / MANIFEST).write_bytes((staged / MANIFEST).read_bytes())
    return True


def is_published(folder: Any) -> bool:
    return (folder / MANIFEST).exists()
