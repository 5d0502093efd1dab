"""Locations as paths: local folders, file:// URIs and object-store URIs."""

import errno
import os
import time
from pathlib import Path

import pytest
from botocore.exceptions import ClientError, NoCredentialsError, PartialCredentialsError
from upath import UPath

from nova_dpo.data import storage
from nova_dpo.data.validation import DataSourceError


def test_a_file_uri_names_the_folder_it_was_made_from(tmp_path: Path):
    folder = tmp_path / "run 1" / "données"
    assert storage.as_path(folder.as_uri()) == folder  # Path.as_uri percent-escapes the space and the accent
    assert storage.as_path(str(folder)) == folder
    assert storage.file_uri_path(folder.as_uri()) == str(folder)


def test_an_object_store_uri_stays_a_uri():
    path = storage.as_path("s3://bucket/prefix/run 1")
    assert isinstance(path, UPath)
    assert str(path) == "s3://bucket/prefix/run 1"


def _client_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}}, "PutObject")


# error → the words the one-line message must hold (None: left alone, a retry may fix it)
ACCESS_ERRORS = {
    "read-only": (OSError(errno.EROFS, "Read-only file system"), "write", "the file system is read-only"),
    "disk full": (OSError(errno.ENOSPC, "No space left on device"), "write", "the disk or quota is full"),
    "quota": (OSError(errno.EDQUOT, "Disk quota exceeded"), "write", "the disk or quota is full"),
    "permission": (
        PermissionError(errno.EACCES, "Permission denied"),
        "read",
        "give the worker's user read access",
    ),
    "no credentials": (
        NoCredentialsError(),
        "read",
        "no AWS credentials were found; set the worker's AWS credentials",
    ),
    "partial credentials": (
        PartialCredentialsError(provider="env", cred_var="AWS_SECRET_ACCESS_KEY"),
        "read",
        "the AWS credentials are incomplete",
    ),
    "access denied": (
        _client_error("AccessDenied"),
        "write",
        "AWS denied access (AccessDenied); allow the worker's role s3:PutObject",
    ),
    "expired token": (_client_error("ExpiredToken"), "read", "s3:GetObject and s3:ListBucket"),
    "no bucket": (_client_error("NoSuchBucket"), "read", "the bucket does not exist"),
    "connection reset": (ConnectionResetError(errno.ECONNRESET, "Connection reset by peer"), "read", None),
    "throttled": (_client_error("SlowDown"), "write", None),
    "no errno": (OSError("something odd"), "write", None),
    "not storage": (ValueError("bad"), "read", None),
}


@pytest.mark.parametrize(("error", "mode", "words"), ACCESS_ERRORS.values(), ids=ACCESS_ERRORS.keys())
def test_storage_errors_a_retry_cannot_fix_become_one_line_that_names_the_path(error, mode, words):
    explained = storage.access_problem(error, "s3://bucket/prefix/train.jsonl", mode, "the thing")
    if words is None:
        assert explained is None
        return
    message = str(explained)
    assert isinstance(explained, DataSourceError)
    assert message.startswith(f"cannot {mode} the thing s3://bucket/prefix/train.jsonl: ")
    assert words in message
    assert "\n" not in message


def test_the_os_names_the_exact_file_when_it_knows_it(tmp_path: Path):
    error = OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "staging" / "train.jsonl"))
    with (
        pytest.raises(
            DataSourceError, match=r"cannot write the staging folder \S+/staging/train\.jsonl: the disk"
        ),
        storage.explain_access_errors(tmp_path / "staging", "write", "the staging folder"),
    ):
        raise error


def test_a_publish_removes_the_stale_scratch_copies_a_killed_publish_left(tmp_path: Path):
    staged = tmp_path / "staged"
    staged.mkdir()
    (staged / "train.jsonl").write_text("{}\n")
    (staged / storage.MANIFEST).write_text("{}\n")
    target = tmp_path / "datasets" / "abc123"
    target.parent.mkdir(parents=True)
    stale, fresh, other = (
        target.parent / name for name in (".abc123.1.tmp", ".abc123.2.tmp", ".def456.3.tmp")
    )
    for scratch in (stale, fresh, other):
        scratch.mkdir()
        (scratch / "train.jsonl").write_text("partial")
    old = time.time() - storage.STALE_SCRATCH_SECONDS - 60
    for path in (stale, stale / "train.jsonl", other, other / "train.jsonl"):
        os.utime(path, (old, old))

    assert storage.publish_directory(staged, target)

    assert sorted(p.name for p in target.parent.iterdir()) == sorted([fresh.name, other.name, target.name])
