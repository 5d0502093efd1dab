"""Which immutable version of a dataset a run reads.

* A Hugging Face Hub dataset (``nvidia/When2Call``, or ``hf://nvidia/When2Call``): an explicit revision wins;
  otherwise the newest commit at or before the run's logical date.
* A folder (local or ``s3://``) of dated snapshots ``YYYY-MM-DD/``: the newest snapshot at or before the date.
* A single file, or a folder of data files without snapshots: the version is the hash of the content.

A backfill over a date range therefore reads, for each date, exactly the data that existed on that date.
The content version of a file source is the hash of the bytes that were read: :class:`ContentDigest` is fed by
the reader itself (see :mod:`nova_dpo.data.loading`), so a file that grows while it is prepared cannot give a
label of other bytes than those published.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field
from typing import Any, Protocol

from nova_dpo.data.storage import as_path, slug, uri
from nova_dpo.data.validation import DataSourceError

HUB_PREFIX = "hf://"
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_COMMIT = re.compile(r"^[0-9a-f]{40}$")
SNAPSHOT_FORMAT = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DATA_SUFFIXES = (".jsonl", ".json", ".parquet")


@dataclass(frozen=True)
class DatasetVersion:
    """An immutable dataset version.

    :param source: the source as the user named it.
    :param kind: ``hub``, ``snapshot`` or ``content``.
    :param version: the Hub commit, the snapshot date, or ``sha256-<12 hex>`` of the content (None for content
        resolved without reading it: the reader's :class:`ContentDigest` gives the label).
    :param location: what the loader reads: the Hub repository id, or the folder/file URI.
    :param name: the path segment that names the source in storage.
    """

    source: str
    kind: str
    version: str | None
    location: str
    name: str
    # The path object the location came from, when the caller passed one (it may carry storage options,
    # such as an ObjectStoragePath's connection, that a URI string loses).
    path: Any = field(default=None, compare=False, repr=False)

    def to_dict(self) -> dict[str, str | None]:
        return {
            "source": self.source,
            "kind": self.kind,
            "version": self.version,
            "location": self.location,
            "name": self.name,
        }

    def location_path(self) -> Any:
        return self.path if self.path is not None else as_path(self.location)


class HubCommit(Protocol):
    commit_id: str
    created_at: dt.datetime


class HubApi(Protocol):
    def list_repo_commits(
        self, repo_id: str, *, repo_type: str, revision: str | None = None
    ) -> list[Any]: ...


def hub_repo_id(source: Any) -> str | None:
    """The Hub repository id when ``source`` names a Hub dataset, else None."""
    if not isinstance(source, str):
        return None
    if source.startswith(HUB_PREFIX):
        return source.removeprefix(HUB_PREFIX).strip("/")
    if _HUB_ID.match(source) and not as_path(source).exists():
        return source
    return None


def _as_utc(moment: dt.datetime | dt.date) -> dt.datetime:
    if not isinstance(moment, dt.datetime):
        return dt.datetime.combine(moment, dt.time.max, tzinfo=dt.UTC)
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _resolve_hub(source: str, repo_id: str, when: dt.datetime | None, revision: str | None, api: Any) -> str:
    if revision and _COMMIT.match(revision):
        return revision
    if api is None:
        from huggingface_hub import HfApi

        api = HfApi()
    try:
        commits = api.list_repo_commits(repo_id, repo_type="dataset", revision=revision)
    except Exception as err:  # network, auth or offline mode: say what to do instead
        raise ValueError(
            f"cannot list the commits of {repo_id} on the Hugging Face Hub ({err}); pass an explicit "
            "40-character commit as the dataset revision, or point the source at a local or S3 copy"
        ) from err
    eligible = [c for c in commits if when is None or _as_utc(c.created_at) <= when]
    if not eligible:
        raise ValueError(f"{repo_id} has no commit at or before {when:%Y-%m-%d %H:%M} UTC")
    return max(eligible, key=lambda c: _as_utc(c.created_at)).commit_id


def list_snapshots(folder: Any) -> list[str]:
    """The dated snapshot folders (``YYYY-MM-DD``) under ``folder``, oldest first.

    :raises DataSourceError: naming a folder that looks like a snapshot but is not a real date (``2026-13-45``):
        skipping it would silently drop a snapshot, and comparing it to a run's date is impossible.
    """
    if not folder.is_dir():
        return []
    names = sorted(p.name for p in folder.iterdir() if p.is_dir() and SNAPSHOT_FORMAT.match(p.name))
    for name in names:
        try:
            dt.date.fromisoformat(name)
        except ValueError as err:
            raise DataSourceError(
                f"snapshot folder {uri(folder / name)} is not a real date ({err}); rename it to the "
                "YYYY-MM-DD date of its snapshot, or move it out of the source folder"
            ) from err
    return names


def data_files(location: Any) -> list[Any]:
    """The data files a folder or file location holds, in a stable order."""
    if location.is_file():
        return [location]
    files = sorted(
        (p for p in location.iterdir() if p.is_file() and p.name.endswith(DATA_SUFFIXES)),
        key=lambda p: p.name,
    )
    if not files:
        raise FileNotFoundError(f"{location} holds no {', '.join(DATA_SUFFIXES)} files")
    return files


class ContentDigest:
    """The content version of data files: sha256 over each file's name and then the bytes read from it.

    Readers call :meth:`start_file` and then :attr:`update` with every chunk they read, in file order.
    """

    def __init__(self) -> None:
        self._sha = hashlib.sha256()
        # The hash object's own method: readers call it once a line, so no Python frame is added.
        self.update = self._sha.update

    def start_file(self, name: str) -> None:
        # surrogateescape: a local file name that is not UTF-8 hashes as its bytes instead of failing.
        self._sha.update(name.encode("utf-8", "surrogateescape") + b"\0")

    @property
    def version(self) -> str:
        return "sha256-" + self._sha.hexdigest()[:12]


def _content_version(location: Any) -> str:
    digest = ContentDigest()
    for path in data_files(location):
        digest.start_file(path.name)
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    return digest.version


def resolve_dataset_version(
    source: Any,
    logical_date: dt.datetime | dt.date | None = None,
    revision: str | None = None,
    *,
    hub_api: HubApi | None = None,
    hash_content: bool = True,
) -> DatasetVersion:
    """Resolve ``source`` to the immutable version a run at ``logical_date`` reads.

    :param source: a Hub dataset id, a local folder or file, an ``s3://`` URI, or a path object.
    :param logical_date: the run's logical date; None means "the newest".
    :param revision: a Hub commit, branch or tag; for folders, a snapshot name. It wins over the date.
    :param hub_api: an object with ``list_repo_commits`` (defaults to ``huggingface_hub.HfApi()``).
    :param hash_content: read a content source to label it; False leaves the label None for the caller that
        reads the data anyway (:func:`nova_dpo.data.prepare.prepare_dataset` hashes while it reads).
    :raises DataSourceError: when no snapshot fits the date or revision, or a snapshot folder is misnamed.
    """
    when = _as_utc(logical_date) if logical_date is not None else None
    repo_id = hub_repo_id(source)
    if repo_id is not None:
        commit = _resolve_hub(source, repo_id, when, revision, hub_api)
        return DatasetVersion(source, "hub", commit, repo_id, slug(repo_id))
    location = as_path(source)
    if not location.exists():
        raise FileNotFoundError(
            f"dataset source {source} does not exist (a Hub id, a folder, a file or s3:// URI)"
        )
    name = slug(location.stem if location.is_file() else location.name)
    snapshots = list_snapshots(location)
    if snapshots:
        if revision:
            if revision not in snapshots:
                raise DataSourceError(
                    f"snapshot {revision!r} is not in {source}; available: {', '.join(snapshots)}"
                )
            chosen = revision
        else:
            eligible = [s for s in snapshots if when is None or dt.date.fromisoformat(s) <= when.date()]
            if not eligible:
                raise DataSourceError(
                    f"{source} has no snapshot at or before {when:%Y-%m-%d}; the oldest is {snapshots[0]}"
                )
            chosen = eligible[-1]
        return DatasetVersion(
            str(source), "snapshot", chosen, str(location / chosen), name, location / chosen
        )
    label = _content_version(location) if hash_content else None
    return DatasetVersion(str(source), "content", label, str(location), name, location)
