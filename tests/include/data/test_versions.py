import datetime as dt
from types import SimpleNamespace

import pytest

from nova_dpo.data.validation import DataSourceError
from nova_dpo.data.versions import hub_repo_id, resolve_dataset_version
from tests.include.data.rows import when2call_row, write_jsonl


class FakeHubApi:
    """The one Hub call version resolution makes; the Hub itself is out of reach offline."""

    def __init__(self, commits):
        self.commits = commits
        self.calls = []

    def list_repo_commits(self, repo_id, *, repo_type, revision=None):
        self.calls.append((repo_id, repo_type, revision))
        return self.commits


COMMITS = [
    SimpleNamespace(commit_id="c" * 40, created_at=dt.datetime(2025, 4, 29, 0, 11, tzinfo=dt.UTC)),
    SimpleNamespace(commit_id="b" * 40, created_at=dt.datetime(2025, 4, 28, 5, 9, tzinfo=dt.UTC)),
    SimpleNamespace(commit_id="a" * 40, created_at=dt.datetime(2025, 4, 1, tzinfo=dt.UTC)),
]


def test_hub_commit_at_or_before_the_logical_date():
    api = FakeHubApi(COMMITS)
    version = resolve_dataset_version("nvidia/When2Call", dt.datetime(2025, 4, 28, 12, 0), hub_api=api)
    assert (version.kind, version.version, version.location, version.name) == (
        "hub",
        "b" * 40,
        "nvidia/When2Call",
        "nvidia--When2Call",
    )
    assert api.calls == [("nvidia/When2Call", "dataset", None)]
    assert resolve_dataset_version("hf://nvidia/When2Call", None, hub_api=api).version == "c" * 40
    with pytest.raises(ValueError, match="no commit at or before 2025-03-01"):
        resolve_dataset_version("nvidia/When2Call", dt.date(2025, 3, 1), hub_api=api)


def test_explicit_hub_revision_wins_and_needs_no_lookup():
    api = FakeHubApi(COMMITS)
    version = resolve_dataset_version("nvidia/When2Call", dt.date(2020, 1, 1), revision="d" * 40, hub_api=api)
    assert version.version == "d" * 40
    assert api.calls == []


def test_unreachable_hub_says_what_to_do():
    class Offline:
        def list_repo_commits(self, *args, **kwargs):
            raise ConnectionError("offline")

    with pytest.raises(ValueError, match="explicit 40-character commit"):
        resolve_dataset_version("nvidia/When2Call", hub_api=Offline())


def test_snapshot_folder_resolves_to_the_newest_snapshot_at_or_before_the_date(tmp_path):
    for name in ("2026-01-05", "2026-01-12", "2026-01-19"):
        (tmp_path / name).mkdir()
        write_jsonl(tmp_path / name / "train_pref.jsonl", [when2call_row()])
    (tmp_path / "notes").mkdir()
    assert resolve_dataset_version(str(tmp_path), dt.date(2026, 1, 12)).version == "2026-01-12"
    assert resolve_dataset_version(str(tmp_path), dt.datetime(2026, 1, 18, 23)).version == "2026-01-12"
    assert resolve_dataset_version(str(tmp_path), None).version == "2026-01-19"
    version = resolve_dataset_version(str(tmp_path), dt.date(2026, 2, 1), revision="2026-01-05")
    assert version.version == "2026-01-05"
    assert version.location == str(tmp_path / "2026-01-05")
    with pytest.raises(ValueError, match="the oldest is 2026-01-05"):
        resolve_dataset_version(str(tmp_path), dt.date(2026, 1, 1))
    with pytest.raises(ValueError, match="available: 2026-01-05, 2026-01-12, 2026-01-19"):
        resolve_dataset_version(str(tmp_path), revision="2027-01-01")


def test_plain_files_are_versioned_by_content(tmp_path):
    path = tmp_path / "pairs.jsonl"
    write_jsonl(path, [when2call_row("Lisbon")])
    first = resolve_dataset_version(str(path))
    assert first.kind == "content"
    assert first.version.startswith("sha256-")
    assert first.name == "pairs"
    assert resolve_dataset_version(str(path)) == first
    write_jsonl(path, [when2call_row("Porto")])
    assert resolve_dataset_version(str(path)).version != first.version


def test_s3_snapshots(s3_root):
    for name in ("2026-01-05", "2026-01-12"):
        with (s3_root / "src" / name / "train_pref.jsonl").open("w") as handle:
            handle.write("{}\n")
    version = resolve_dataset_version(s3_root / "src", dt.date(2026, 1, 10))
    assert version.version == "2026-01-05"
    assert version.location.endswith("/root/src/2026-01-05")


def test_missing_source_and_hub_id_detection(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        resolve_dataset_version(str(tmp_path / "nope"))
    assert hub_repo_id("nvidia/When2Call") == "nvidia/When2Call"
    assert hub_repo_id(str(tmp_path)) is None
    assert hub_repo_id("s3://bucket/x") is None


@pytest.mark.parametrize("impossible", ["2026-13-45", "2026-02-30", "0000-01-01"])
def test_a_snapshot_folder_that_is_no_real_date_is_named_in_the_error(tmp_path, impossible):
    for name in ("2026-01-05", impossible):
        (tmp_path / name).mkdir()
        write_jsonl(tmp_path / name / "train_pref.jsonl", [when2call_row()])
    with pytest.raises(DataSourceError) as caught:
        resolve_dataset_version(str(tmp_path), dt.date(2026, 1, 10))
    message = str(caught.value)
    assert f"snapshot folder {(tmp_path / impossible).as_uri()} is not a real date" in message
    assert "rename it" in message
    with pytest.raises(DataSourceError, match=impossible):  # an explicit revision meets the same check
        resolve_dataset_version(str(tmp_path), revision="2026-01-05")


def test_resolving_without_reading_leaves_the_content_label_to_the_reader(tmp_path):
    path = tmp_path / "pairs.jsonl"
    write_jsonl(path, [when2call_row("Lisbon")])
    unread = resolve_dataset_version(str(path), hash_content=False)
    assert (unread.kind, unread.version) == ("content", None)
    assert unread.location == resolve_dataset_version(str(path)).location
