import errno
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from nova_dpo.data import prepare as prepare_module
from nova_dpo.data import storage
from nova_dpo.data.prepare import PrepareParams, prepare_dataset
from nova_dpo.data.splits import SplitRatios, assign_split, prompt_id
from nova_dpo.data.validation import DataQualityError, DataSourceError, Thresholds, validate_file
from nova_dpo.data.versions import resolve_dataset_version
from tests.include.data.rows import WEATHER_TOOL, when2call_row, write_jsonl

REPO = Path(__file__).resolve().parents[3]

CATEGORIES = ("tool_call", "request_for_info", "cannot_answer")


def rows(count, offset=0):
    return [
        when2call_row(f"City {i}", category=CATEGORIES[i % 3], tools_as_json=i % 4 != 0)
        for i in range(offset, offset + count)
    ]


def folder_files(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_prepare_publishes_valid_splits_and_a_manifest_that_adds_up(tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    bad = [
        when2call_row("Oslo")
        | {"chosen_response": {"role": "assistant", "content": "<TOOLCALL>[oops</TOOLCALL>"}},
        when2call_row("Bergen") | {"messages": [{"role": "user", "content": "User: hi"}]},
        {"tools": []},
    ]
    write_jsonl(source / "train_pref.jsonl", rows(300) + bad + rows(1))  # the last row is a duplicate
    with (source / "train_pref.jsonl").open("ab") as handle:
        handle.write(b"\xff\xfe\n")

    result = prepare_dataset(str(source), tmp_path / "out", params=PrepareParams(max_length=2048))

    folder = storage.as_path(result.uri)
    assert result.published
    assert folder.parent.parent.parent == tmp_path / "out" / "datasets"
    assert folder.name == result.manifest["content_sha256"][:12]
    counts = result.manifest["counts"]
    assert counts["rows"] == 305
    assert counts["valid"] == 300
    assert counts["quarantined_by_reason"] == {
        "bad_toolcall": 1,
        "reserved_string": 1,
        "schema": 1,
        "duplicate": 1,
        "not_utf8": 1,
    }
    splits = counts["splits"]
    assert sum(s["rows"] for s in splits.values()) + counts["gen_qa_repeated_prompts"] == counts["valid"]
    assert all(sum(s["by_category"].values()) == s["rows"] for s in splits.values())
    assert {c for s in splits.values() for c in s["by_category"]} == set(CATEGORIES)
    files = result.manifest["files"]
    assert files["train.jsonl"]["rows"] == splits["train"]["rows"]
    assert files["validation.jsonl"]["rows"] == splits["validation"]["rows"]
    assert files["gen_qa.jsonl"]["rows"] == splits["test"]["rows"]
    assert files["quarantine.jsonl"]["rows"] == 5
    for name, meta in files.items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == meta["sha256"]
    for name in ("train.jsonl", "validation.jsonl"):
        report = validate_file(
            folder / name, tmp_path / "q.jsonl", thresholds=Thresholds(min_valid_fraction=1.0)
        )
        assert report.valid == files[name]["rows"]
    qa = [json.loads(line) for line in (folder / "gen_qa.jsonl").read_text().splitlines()]
    assert set(qa[0]) == {"system", "query", "response", "metadata"}
    assert {json.loads(q["metadata"])["category"] for q in qa} <= set(CATEGORIES)
    assert result.manifest["parameters"]["max_length"] == 2048
    assert result.manifest["source"]["kind"] == "content"


def test_same_input_gives_the_same_bytes_and_a_second_run_uploads_nothing(tmp_path):
    source = tmp_path / "pairs.jsonl"
    write_jsonl(source, rows(60))
    first = prepare_dataset(str(source), tmp_path / "a")
    second = prepare_dataset(str(source), tmp_path / "b")
    assert folder_files(storage.as_path(first.uri)) == folder_files(storage.as_path(second.uri))
    again = prepare_dataset(str(source), tmp_path / "a")
    assert not again.published
    assert again.uri == first.uri
    assert again.manifest == first.manifest


def test_a_prompt_keeps_its_split_across_versions(tmp_path):
    snapshots = tmp_path / "src"
    for name in ("2026-01-05", "2026-01-12"):
        (snapshots / name).mkdir(parents=True)
    write_jsonl(snapshots / "2026-01-05" / "train_pref.jsonl", rows(200))
    write_jsonl(snapshots / "2026-01-12" / "train_pref.jsonl", rows(100, offset=150) + rows(150))
    ratios = SplitRatios(0.6, 0.2, 0.2)
    placement = {}
    for version in ("2026-01-05", "2026-01-12"):
        result = prepare_dataset(
            str(snapshots), tmp_path / "out", revision=version, params=PrepareParams(ratios=ratios)
        )
        folder = storage.as_path(result.uri)
        assert f"/datasets/src/{version}/" in result.uri
        for split, name in (
            ("train", "train.jsonl"),
            ("validation", "validation.jsonl"),
            ("test", "gen_qa.jsonl"),
        ):
            for line in (folder / name).read_text().splitlines():
                record = json.loads(line)
                question = record["query"] if split == "test" else record["messages"][0]["content"][0]["text"]
                placement.setdefault(question, set()).add(split)
    assert len(placement) == 250
    assert all(len(splits) == 1 for splits in placement.values())
    for question, (split,) in placement.items():
        assert assign_split(prompt_id((("user", question),)), ratios) == split


def test_too_many_bad_rows_fail_with_the_quarantine_kept(tmp_path):
    source = tmp_path / "pairs.jsonl"
    write_jsonl(source, rows(5) + [{"nope": 1}] * 5)
    with pytest.raises(DataQualityError) as caught:
        prepare_dataset(str(source), tmp_path / "out")
    kept = next((tmp_path / "out" / "quarantine" / "pairs").glob("*/quarantine.jsonl"))
    assert kept.as_uri() in str(caught.value)
    assert "schema (5)" in str(caught.value)
    assert len(kept.read_text().splitlines()) == 5
    assert not (tmp_path / "out" / "datasets").exists()


def test_a_failed_local_publish_leaves_nothing_visible(tmp_path, monkeypatch):
    source = tmp_path / "pairs.jsonl"
    write_jsonl(source, rows(30))

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(storage.os, "rename", crash)
    with pytest.raises(OSError, match="disk full"):
        prepare_dataset(str(source), tmp_path / "out")
    leftovers = list((tmp_path / "out").rglob("*"))
    assert not [p for p in leftovers if p.is_file()]
    monkeypatch.undo()
    assert prepare_dataset(str(source), tmp_path / "out").published


def test_object_store_publish_writes_the_manifest_last(tmp_path, s3_root, monkeypatch):
    source = tmp_path / "pairs.jsonl"
    write_jsonl(source, rows(30))
    real_copy = shutil.copyfileobj
    written = []

    def crash_on_the_last_data_file(src, dst, *args):
        written.append(src.name.rsplit("/", 1)[-1])
        if src.name.endswith("validation.jsonl"):
            raise ConnectionError("connection reset")
        return real_copy(src, dst, *args)

    monkeypatch.setattr(storage.shutil, "copyfileobj", crash_on_the_last_data_file)
    with pytest.raises(ConnectionError):
        prepare_dataset(str(source), s3_root)
    assert written == ["gen_qa.jsonl", "quarantine.jsonl", "train.jsonl", "validation.jsonl"]
    partial = next((s3_root / "datasets" / "pairs").glob("*/*"))
    assert not storage.is_published(partial)
    monkeypatch.undo()
    result = prepare_dataset(str(source), s3_root)
    assert result.published
    assert result.uri.startswith("s3://")
    published = s3_root / "datasets" / "pairs" / result.manifest["source"]["version"] / result.uri[-12:]
    assert json.loads((published / storage.MANIFEST).read_text()) == result.manifest
    assert not prepare_dataset(str(source), s3_root).published


def test_a_test_prompt_is_evaluated_once_and_the_same_question_with_other_tools_is_another_case(tmp_path):
    from tests.include.data.rows import WEATHER_TOOL
    from tests.include.data.rows import when2call_row as row

    ratios = SplitRatios(0.1, 0.1, 0.8)
    city = next(
        c
        for c in ("Lima", "Oslo", "Quito", "Cairo", "Delhi")
        if assign_split(prompt_id((("user", f"What's the weather in {c} right now?"),)), ratios) == "test"
    )
    first = row(city, category="tool_call")
    again = row(city, category="tool_call") | {"rejected_response": {"role": "assistant", "content": "No."}}
    flights = {**WEATHER_TOOL, "name": "search_flights", "description": "Search for flights."}
    other_tools = row(city, category="cannot_answer") | {"tools": [json.dumps(flights)]}
    assert first["messages"] == other_tools["messages"]
    assert first["tools"] != other_tools["tools"]
    source = tmp_path / "pairs.jsonl"
    write_jsonl(source, [first, again, other_tools])

    result = prepare_dataset(str(source), tmp_path / "out", params=PrepareParams(ratios=ratios))

    gen_qa = [
        json.loads(line) for line in (storage.as_path(result.uri) / "gen_qa.jsonl").read_text().splitlines()
    ]
    assert len(gen_qa) == 2
    assert len({json.loads(qa["metadata"])["prompt_id"] for qa in gen_qa}) == 2
    assert result.manifest["counts"]["gen_qa_repeated_prompts"] == 1
    assert result.manifest["counts"]["valid"] == 3


def _sha12(*parts):
    return "sha256-" + hashlib.sha256(b"".join(parts)).hexdigest()[:12]


def _append_ten_rows(source):
    with source.open("a") as handle:
        handle.write("".join(json.dumps(row) + "\n" for row in rows(10, offset=30)))


def test_a_source_that_grows_before_it_is_read_is_labelled_by_what_was_read(tmp_path, monkeypatch):
    # The version used to be the hash of a first read, and the rows came from a second: a writer appending in
    # between published 40 rows under the label of 30.
    source = tmp_path / "pairs.jsonl"
    write_jsonl(source, rows(30))
    real_iter_rows = prepare_module.iter_rows

    def append_then_read(*args, **kwargs):
        _append_ten_rows(source)
        return real_iter_rows(*args, **kwargs)

    monkeypatch.setattr(prepare_module, "iter_rows", append_then_read)
    result = prepare_dataset(str(source), tmp_path / "out")

    assert result.manifest["counts"]["rows"] == 40
    assert result.manifest["source"]["version"] == _sha12(b"pairs.jsonl\0", source.read_bytes())
    assert f"/pairs/{result.manifest['source']['version']}/" in result.uri


def test_a_source_that_grows_while_it_is_read_is_labelled_by_the_bytes_read(tmp_path, monkeypatch):
    source = tmp_path / "pairs.jsonl"
    write_jsonl(source, rows(30))
    real_iter_rows = prepare_module.iter_rows

    def append_after_the_first_row(*args, **kwargs):
        stream = real_iter_rows(*args, **kwargs)
        yield next(stream)
        _append_ten_rows(source)
        yield from stream

    monkeypatch.setattr(prepare_module, "iter_rows", append_after_the_first_row)
    result = prepare_dataset(str(source), tmp_path / "out")

    read = result.manifest["counts"]["rows"]
    lines = source.read_bytes().splitlines(keepends=True)
    assert read in (30, 40)  # whether the appended lines were read depends on buffering; the label follows
    assert result.manifest["source"]["version"] == _sha12(b"pairs.jsonl\0", *lines[:read])


def test_a_version_resolved_before_the_source_changed_is_refused(tmp_path):
    source = tmp_path / "pairs.jsonl"
    write_jsonl(source, rows(30))
    version = resolve_dataset_version(str(source))
    write_jsonl(source, rows(31))
    with pytest.raises(DataSourceError, match=f"changed after it was resolved as version {version.version}"):
        prepare_dataset(str(source), tmp_path / "out", version=version)
    assert not (tmp_path / "out" / "datasets").exists()


def test_prepare_labels_content_as_resolve_does_for_jsonl_and_parquet(tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    write_jsonl(source / "a.jsonl", rows(20))
    parquet_rows = [row | {"tools": [json.dumps(WEATHER_TOOL)]} for row in rows(20, offset=20)]
    pq.write_table(pa.Table.from_pylist(parquet_rows), source / "b.parquet")
    result = prepare_dataset(str(source), tmp_path / "out")
    assert result.manifest["counts"]["rows"] == 40
    assert result.manifest["source"]["version"] == resolve_dataset_version(str(source)).version


@pytest.fixture
def scratch_tmp(tmp_path, monkeypatch):
    """The temporary folder that staging folders go to, empty and watched by the test."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def test_a_full_disk_during_publish_leaves_no_partial_copy_and_names_the_path(
    tmp_path, scratch_tmp, monkeypatch
):
    source = tmp_path / "pairs.jsonl"
    write_jsonl(source, rows(30))
    real_copy2 = shutil.copy2

    def copytree_until_full(src, dst, **kwargs):
        dst.mkdir()
        real_copy2(src / "gen_qa.jsonl", dst / "gen_qa.jsonl")
        raise OSError(errno.ENOSPC, "No space left on device", str(dst / "quarantine.jsonl"))

    monkeypatch.setattr(storage.shutil, "copytree", copytree_until_full)
    with pytest.raises(DataSourceError) as caught:
        prepare_dataset(str(source), tmp_path / "out")

    message = str(caught.value)
    assert "\n" not in message
    assert "cannot write the prepared dataset to" in message
    assert "quarantine.jsonl" in message
    assert "the disk or quota is full; free space there" in message
    assert [p for p in (tmp_path / "out").rglob("*") if p.is_file()] == []
    assert list(scratch_tmp.iterdir()) == []


def test_a_read_only_storage_root_is_one_line_that_names_it(tmp_path, monkeypatch):
    source = tmp_path / "pairs.jsonl"
    write_jsonl(source, rows(30))

    def read_only(path, *args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system", str(path))

    monkeypatch.setattr(storage.Path, "mkdir", read_only)
    with pytest.raises(DataQualityError) as caught:  # a DataSourceError: the DAG and the CLI stop on it
        prepare_dataset(str(source), tmp_path / "out")
    assert re.fullmatch(
        r"cannot write the prepared dataset to \S+/out/datasets/pairs/sha256-\w+: "
        "the file system is read-only; choose a writable location",
        str(caught.value),
    )


def test_a_quarantine_that_cannot_be_kept_leaves_no_partial_file(tmp_path, monkeypatch):
    source = tmp_path / "pairs.jsonl"
    write_jsonl(source, rows(2) + [{"nope": 1}] * 8)

    def copy_until_full(src, dst, *args):
        dst.write(src.read(10))
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(prepare_module.shutil, "copyfileobj", copy_until_full)
    with pytest.raises(
        DataSourceError, match=r"cannot write the quarantine file .*quarantine\.jsonl: the disk"
    ):
        prepare_dataset(str(source), tmp_path / "out")
    assert [p for p in (tmp_path / "out").rglob("*") if p.is_file()] == []


KILLED_PREPARE = """
import os, signal, sys
from unittest import mock
from nova_dpo.data import prepare

real = prepare.iter_rows

def killed_after_the_first_row(*args):
    rows = real(*args)
    yield next(rows)
    os.kill(os.getpid(), signal.SIGKILL)  # no finally, no atexit: what the OOM killer does

with mock.patch.object(prepare, "iter_rows", killed_after_the_first_row):
    prepare.prepare_dataset(sys.argv[1], sys.argv[2])
"""


def test_a_later_prepare_removes_the_staging_folder_of_a_killed_one(tmp_path, scratch_tmp):
    source = tmp_path / "pairs.jsonl"
    write_jsonl(source, rows(30))
    env = {
        **os.environ,
        "TMPDIR": str(scratch_tmp),
        "PYTHONPATH": os.pathsep.join([str(REPO / "include"), str(REPO)]),
    }
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_PREPARE, str(source), str(tmp_path / "out")], env=env, check=False
    )
    assert killed.returncode == -signal.SIGKILL
    (left,) = scratch_tmp.iterdir()
    assert left.name.startswith(f"nova-dpo-prepare-{killed_pid(left)}-")
    live = scratch_tmp / f"nova-dpo-prepare-{os.getpid()}-live"  # this process: never removed, however old
    live.mkdir()
    recent_dead = scratch_tmp / f"nova-dpo-prepare-{killed_pid(left)}-recent"  # not stale yet
    recent_dead.mkdir()
    old = time.time() - prepare_module.STALE_STAGING_SECONDS - 60
    for folder in (left, live):
        for path in (folder, *folder.iterdir()):
            os.utime(path, (old, old))

    assert prepare_dataset(str(source), tmp_path / "out").published

    assert sorted(p.name for p in scratch_tmp.iterdir()) == sorted([live.name, recent_dead.name])


def killed_pid(folder):
    return int(folder.name.removeprefix("nova-dpo-prepare-").split("-")[0])


def test_staging_is_removed_whatever_stops_prepare(tmp_path, scratch_tmp, monkeypatch):
    source = tmp_path / "pairs.jsonl"
    write_jsonl(source, rows(3) + [{"nope": 1}] * 5)
    with pytest.raises(DataQualityError):
        prepare_dataset(str(source), tmp_path / "out")
    monkeypatch.setattr(prepare_module, "normalize_row", lambda row: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        prepare_dataset(str(source), tmp_path / "out")
    assert list(scratch_tmp.iterdir()) == []
