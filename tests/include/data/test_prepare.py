import hashlib
import json
import shutil

import pytest

from nova_dpo.data import storage
from nova_dpo.data.prepare import PrepareParams, prepare_dataset
from nova_dpo.data.splits import SplitRatios, assign_split, prompt_id
from nova_dpo.data.validation import DataQualityError, Thresholds, validate_file
from tests.include.data.rows import when2call_row, write_jsonl

CATEGORIES = ("tool_call", "request_for_info", "cannot_answer")


def rows(count, offset=0):
    return [when2call_row(f"City {i}", category=CATEGORIES[i % 3], tools_as_json=i % 4 != 0) for i in range(offset, offset + count)]


def folder_files(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_prepare_publishes_valid_splits_and_a_manifest_that_adds_up(tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    bad = [
        when2call_row("Oslo") | {"chosen_response": {"role": "assistant", "content": "<TOOLCALL>[oops</TOOLCALL>"}},
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
        report = validate_file(folder / name, tmp_path / "q.jsonl", thresholds=Thresholds(min_valid_fraction=1.0))
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
        result = prepare_dataset(str(snapshots), tmp_path / "out", revision=version, params=PrepareParams(ratios=ratios))
        folder = storage.as_path(result.uri)
        assert f"/datasets/src/{version}/" in result.uri
        for split, name in (("train", "train.jsonl"), ("validation", "validation.jsonl"), ("test", "gen_qa.jsonl")):
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

    gen_qa = [json.loads(line) for line in (storage.as_path(result.uri) / "gen_qa.jsonl").read_text().splitlines()]
    assert len(gen_qa) == 2
    assert len({json.loads(qa["metadata"])["prompt_id"] for qa in gen_qa}) == 2
    assert result.manifest["counts"]["gen_qa_repeated_prompts"] == 1
    assert result.manifest["counts"]["valid"] == 3
