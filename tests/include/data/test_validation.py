import copy
import json

import pytest

from nova_dpo.data.validation import (
    RESERVED_STRINGS,
    DataQualityError,
    InvalidRecord,
    Thresholds,
    Validator,
    check_record,
    validate_file,
)
from tests.include.data.rows import nova_record


def _broken(mutate):
    record = nova_record()
    mutate(record)
    return record


def _last(record):
    return record["messages"][-1]


BROKEN = {
    "not an object": ([], "schema"),
    "schemaVersion not a string": (_broken(lambda r: r.update(schemaVersion=3)), "schema"),
    "system not a list": (_broken(lambda r: r.update(system="be nice")), "schema"),
    "no messages": (_broken(lambda r: r.pop("messages")), "schema"),
    "single message": (_broken(lambda r: r.update(messages=r["messages"][-1:])), "schema"),
    "system role in messages": (_broken(lambda r: r["messages"][0].update(role="system")), "bad_role"),
    "starts with assistant": (
        _broken(lambda r: r["messages"].insert(0, {"role": "assistant", "content": [{"text": "hi"}]})),
        "alternation",
    ),
    "two user turns in a row": (
        _broken(lambda r: r["messages"].insert(0, {"role": "user", "content": [{"text": "hi"}]})),
        "alternation",
    ),
    "ends with user": (
        _broken(
            lambda r: r.update(
                messages=[
                    r["messages"][0],
                    {"role": "assistant", "content": [{"text": "Which city?"}]},
                    {"role": "user", "content": [{"text": "Lisbon"}]},
                ]
            )
        ),
        "alternation",
    ),
    "candidates before the last turn": (
        _broken(
            lambda r: (
                r["messages"].extend(
                    [{"role": "user", "content": [{"text": "more"}]}, copy.deepcopy(r["messages"][-1])]
                )
                or r["messages"][-1].pop("candidates")
                or r["messages"][-1].update(content=[{"text": "ok"}])
            )
        ),
        "schema",
    ),
    "last turn has content too": (_broken(lambda r: _last(r).update(content=[{"text": "x"}])), "schema"),
    "one candidate": (_broken(lambda r: _last(r)["candidates"].pop()), "candidates_count"),
    "three candidates": (
        _broken(lambda r: _last(r)["candidates"].append(copy.deepcopy(_last(r)["candidates"][0]))),
        "candidates_count",
    ),
    "no candidates": (_broken(lambda r: _last(r).pop("candidates")), "candidates_count"),
    "same label twice": (
        _broken(lambda r: _last(r)["candidates"][1].update(preferenceLabel="preferred")),
        "bad_label",
    ),
    "unknown label": (
        _broken(lambda r: _last(r)["candidates"][1].update(preferenceLabel="worse")),
        "bad_label",
    ),
    "empty candidate text": (
        _broken(lambda r: _last(r)["candidates"][0].update(content=[{"text": "  "}])),
        "empty_text",
    ),
    "empty user text": (_broken(lambda r: r["messages"][0].update(content=[{"text": ""}])), "empty_text"),
    "empty system text": (_broken(lambda r: r.update(system=[{"text": ""}])), "empty_text"),
    "image block": (
        _broken(lambda r: r["messages"][0]["content"].append({"image": {"format": "png"}})),
        "unsupported_content",
    ),
    "content not a list": (_broken(lambda r: r["messages"][0].update(content="hi")), "schema"),
    "chosen equals rejected": (
        _broken(lambda r: _last(r)["candidates"][1].update(content=_last(r)["candidates"][0]["content"])),
        "identical_candidates",
    ),
}


@pytest.mark.parametrize(("record", "reason"), BROKEN.values(), ids=BROKEN.keys())
def test_every_rule_has_a_breaking_row(record, reason):
    with pytest.raises(InvalidRecord) as caught:
        check_record(record, max_length=4096)
    assert caught.value.reason == reason


@pytest.mark.parametrize("reserved", RESERVED_STRINGS)
def test_reserved_strings_anywhere_are_refused(reserved):
    for place in ("system", "user", "candidate"):
        record = nova_record()
        if place == "system":
            record["system"][0]["text"] += f" {reserved}"
        elif place == "user":
            record["messages"][0]["content"][0]["text"] = f"{reserved} hello"
        else:
            _last(record)["candidates"][1]["content"][0]["text"] += reserved
        with pytest.raises(InvalidRecord) as caught:
            check_record(record, max_length=4096)
        assert caught.value.reason == "reserved_string"
        assert reserved in caught.value.detail


def test_length_is_checked_against_max_length():
    record = nova_record("word " * 3000)
    check_record(record, max_length=8192)
    with pytest.raises(InvalidRecord) as caught:
        check_record(record, max_length=1024)
    assert caught.value.reason == "too_long"
    assert "max_length=1024" in caught.value.detail


def test_valid_record_and_labels_are_case_insensitive():
    record = nova_record()
    _last(record)["candidates"][0]["preferenceLabel"] = "Preferred"
    check_record(record, max_length=4096)
    record.pop("schemaVersion")
    record.pop("system")
    check_record(record, max_length=4096)


def test_duplicates_are_found_whatever_the_key_order():
    validator = Validator(max_length=4096)
    first = nova_record()
    reordered = json.loads(json.dumps(first, sort_keys=True))
    assert validator.check(first) is None
    problem = validator.check(reordered)
    assert problem is not None
    assert problem.reason == "duplicate"
    assert validator.report.to_dict() == {
        "rows": 2,
        "valid": 1,
        "quarantined": 1,
        "quarantined_by_reason": {"duplicate": 1},
    }


def test_validate_file_quarantines_unreadable_lines_and_counts_add_up(tmp_path):
    path = tmp_path / "train.jsonl"
    good = [nova_record(f"Weather in town {i}?") for i in range(20)]
    with path.open("wb") as handle:
        for record in good:
            handle.write(json.dumps(record).encode() + b"\n")
        handle.write(b'{"messages": [\n')  # not JSON
        handle.write(b"\xff\xfe\x00 not utf-8\n")
        handle.write(json.dumps(good[0]).encode() + b"\n")  # duplicate
        handle.write(json.dumps(good[1]).encode()[:40])  # truncated last line, no newline
    quarantine = tmp_path / "q.jsonl"
    report = validate_file(path, quarantine, thresholds=Thresholds(min_valid_fraction=0.5))
    assert report.rows == 24
    assert report.valid == 20
    assert dict(report.quarantined) == {"not_json": 1, "not_utf8": 1, "duplicate": 1, "truncated_line": 1}
    lines = [json.loads(line) for line in quarantine.read_text().splitlines()]
    assert [line["reason"] for line in lines] == ["not_json", "not_utf8", "duplicate", "truncated_line"]
    assert all(line["position"].startswith("train.jsonl:") for line in lines)


def test_thresholds_fail_with_a_message_that_says_what_to_fix(tmp_path):
    path = tmp_path / "train.jsonl"
    records = [nova_record("Weather?")] * 3 + [nova_record("Rain?")]
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    with pytest.raises(DataQualityError) as caught:
        validate_file(path, tmp_path / "q.jsonl", thresholds=Thresholds(min_valid_fraction=0.9))
    message = str(caught.value)
    assert "50.0% of 4 rows are valid" in message
    assert "duplicate (2)" in message
    assert "q.jsonl" in message
    assert "min_valid_fraction" in message
    with pytest.raises(DataQualityError, match="fewer than the minimum 5"):
        validate_file(
            path, tmp_path / "q.jsonl", thresholds=Thresholds(min_valid_fraction=0, min_valid_rows=5)
        )


def test_a_record_nested_past_what_json_writers_take_is_quarantined_not_raised(tmp_path):
    path = tmp_path / "train.jsonl"
    deep = nova_record("Deep?")
    deep["system"][0]["note"] = json.loads("[" * 300 + "]" * 300)  # a key no rule reads, 300 levels deep
    path.write_text(json.dumps(nova_record()) + "\n" + json.dumps(deep) + "\n")
    quarantine = tmp_path / "q.jsonl"
    report = validate_file(path, quarantine, thresholds=Thresholds(min_valid_fraction=0.5))
    assert dict(report.quarantined) == {"not_json": 1}
    (line,) = [json.loads(line) for line in quarantine.read_text().splitlines()]
    assert line["position"] == "train.jsonl:2"
    assert "row_repr" in line
