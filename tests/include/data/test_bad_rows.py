"""A malformed row is quarantined with a reason code and counted, never raised, whatever the source.

Property-based tests draw rows broken at every depth (:mod:`tests.include.data.strategies`) and run them
through ``prepare_dataset`` from JSONL, Parquet and a Python source (what the Hub loader hands over), next to
good rows; the named cases below are the ones users reported and the README's reliability table lists.
"""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path
from typing import Any
from unittest import mock

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, event, given, reject, settings
from hypothesis import strategies as st

from nova_dpo.data import storage
from nova_dpo.data.loading import SourceRow
from nova_dpo.data.nova_format import dpo_record, system_prompt
from nova_dpo.data.prepare import PrepareParams, prepare_dataset
from nova_dpo.data.validation import Thresholds
from nova_dpo.data.versions import DatasetVersion
from nova_dpo.data.when2call import normalize_row
from tests.include.data.rows import WEATHER_TOOL, when2call_row
from tests.include.data.strategies import Broken, broken_rows, deep, extra_keys

# Deterministic (the same examples on every run, no example database): CI sees what a laptop sees.
PROPERTY = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
GOOD = [
    when2call_row(f"Good {i}", category=c)
    for i, c in enumerate(("tool_call", "request_for_info", "cannot_answer"))
]
# Publish whatever is valid: these tests count rows, the thresholds have tests of their own.
PARAMS = PrepareParams(thresholds=Thresholds(min_valid_fraction=0.0, min_valid_rows=1))
PYTHON_SOURCE = DatasetVersion("test/rows", "hub", "c" * 40, "test/rows", "test--rows")


def _write_jsonl(folder: Path, rows: list[Any]) -> None:
    lines = [row if isinstance(row, bytes) else json.dumps(row).encode() + b"\n" for row in rows]
    (folder / "a.jsonl").write_bytes(b"".join(lines))


def _write_parquet(folder: Path, rows: list[Any]) -> None:
    """One file a row: a Parquet file has one schema, and each broken row brings its own types."""
    for index, row in enumerate(rows):
        try:
            table = pa.Table.from_pylist([row])
            pq.write_table(table, folder / f"b-{index:03d}.parquet")
        except (pa.ArrowException, TypeError, ValueError, OverflowError):
            reject()  # a value Arrow cannot type (a list of mixed types): no Parquet file can hold it


def _prepare(medium: str, bad: list[Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Prepare the good rows and then ``bad`` from a ``medium`` source; the manifest and the quarantine lines."""
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "source"
        folder.mkdir()
        if medium == "python":
            rows = [SourceRow(f"rows:{n}", row) for n, row in enumerate([*GOOD, *bad], start=1)]
            with mock.patch("nova_dpo.data.prepare.iter_rows", return_value=iter(rows)):
                result = prepare_dataset(
                    "test/rows", Path(scratch) / "out", params=PARAMS, version=PYTHON_SOURCE
                )
        else:
            _write_jsonl(folder, GOOD if medium == "parquet" else [*GOOD, *bad])
            if medium == "parquet":
                _write_parquet(folder, bad)
            result = prepare_dataset(str(folder), Path(scratch) / "out", params=PARAMS)
        return result.manifest, _quarantined(result.uri)


def _quarantined(uri: str) -> list[dict[str, Any]]:
    lines = (storage.as_path(uri) / "quarantine.jsonl").read_bytes().splitlines()
    return [orjson.loads(line) for line in lines]  # every line is JSON, whatever the row held


def _assert_quarantined(medium: str, broken: list[Broken]) -> None:
    manifest, quarantined = _prepare(medium, [b.row for b in broken])
    counts = manifest["counts"]
    assert counts["valid"] == len(GOOD), [b.where for b in broken]
    assert counts["quarantined"] == len(broken) == len(quarantined)
    assert sum(counts["quarantined_by_reason"].values()) == len(broken)
    for entry, case in zip(quarantined, broken, strict=True):
        event(case.where)  # pytest --hypothesis-show-statistics: how often each field was broken
        assert entry["reason"] in case.reasons, (case.where, entry["reason"], entry["detail"])
        assert entry["detail"]


@PROPERTY
@given(st.lists(broken_rows("json"), min_size=1, max_size=4))
def test_broken_jsonl_rows_are_quarantined(broken):
    _assert_quarantined("json", broken)


@settings(PROPERTY, max_examples=100)
@given(st.lists(broken_rows("parquet"), min_size=1, max_size=3))
def test_broken_parquet_rows_are_quarantined(broken):
    _assert_quarantined("parquet", broken)


@settings(PROPERTY, max_examples=250)
@given(st.lists(broken_rows("python"), min_size=1, max_size=4))
def test_broken_rows_from_a_python_source_are_quarantined(broken):
    _assert_quarantined("python", broken)


def _line(row: dict[str, Any], splice: bytes = b"", at: int = 10) -> bytes:
    text = json.dumps(row).encode()
    return text[:at] + splice + text[at:] + b"\n"


BAD_LINES = st.one_of(
    st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80"]).map(
        lambda splice: Broken(_line(GOOD[0], splice), "line", frozenset({"not_utf8"}))
    ),
    st.sampled_from([math.nan, math.inf, -math.inf]).map(
        lambda reward: Broken(_line(GOOD[0] | {"chosen_reward": reward}), "line", frozenset({"not_json"}))
    ),
    st.integers(1, 200).map(
        lambda cut: Broken(_line(GOOD[0])[:cut] + b"\n", "line", frozenset({"not_json"}))
    ),
    st.just(
        Broken(b"[" * 1100 + b"]" * 1100 + b"\n", "line", frozenset({"not_json"}))
    ),  # past orjson's depth
    st.just(
        Broken(
            _line(GOOD[0] | {"messages": [{"role": "user", "content": "\ud800"}]}),
            "line",
            frozenset({"not_json"}),
        )
    ),
)


@PROPERTY
@given(st.lists(BAD_LINES, min_size=1, max_size=4), st.booleans())
def test_unreadable_jsonl_lines_are_quarantined(broken, cut_tail):
    if cut_tail:  # a file whose last line was cut short (a copy that stopped)
        broken.append(Broken(_line(GOOD[1])[:50], "tail", frozenset({"truncated_line"})))
    _assert_quarantined("json", broken)


@settings(PROPERTY, max_examples=60)
@given(extra_keys())
def test_keys_the_schema_does_not_name_are_ignored(rows):
    base, extended = (normalize_row(row) for row in rows)
    assert dpo_record(extended, system_prompt(extended.tools)) == dpo_record(base, system_prompt(base.tools))


def _text_block(value: Any) -> dict[str, Any]:
    return when2call_row() | {"messages": [{"role": "user", "content": [{"type": "text", "text": value}]}]}


def _tool(**fields: Any) -> dict[str, Any]:
    return when2call_row(tools_as_json=False) | {"tools": [WEATHER_TOOL | fields]}


def _answer(text: str) -> dict[str, Any]:
    return when2call_row() | {"chosen_response": {"role": "assistant", "content": text}}


def _deep_tool() -> dict[str, Any]:
    return _tool(parameters={"type": "dict", "properties": {"x": deep(3000)}})


# input → reason: the README's reliability table. ids name the case; every one crashed or passed bad data before.
REPORTED = {
    "text block whose text is a number": ("json", _text_block(42), "schema"),
    "text block whose text is null": ("json", _text_block(None), "schema"),
    "content block that is not an object": (
        "json",
        when2call_row() | {"messages": [{"role": "user", "content": [7]}]},
        "schema",
    ),
    "image block in a message": (
        "json",
        when2call_row() | {"messages": [{"role": "user", "content": [{"type": "image", "source": {}}]}]},
        "unsupported_content",
    ),
    "bytes inside a Parquet tool struct": ("parquet", _tool(description=b"\x00\x01"), "bad_tools"),
    "bytes as a Parquet message content": (
        "parquet",
        when2call_row() | {"messages": [{"role": "user", "content": b"hi"}]},
        "schema",
    ),
    "NaN inside a Parquet tool schema": (
        "parquet",
        _tool(parameters={"type": "dict", "properties": {"n": {"type": "number", "default": math.nan}}}),
        "bad_tools",
    ),
    "Parquet tool schema nested 70 levels (pyarrow 26 refused the whole file)": (
        "parquet",
        _tool(parameters={"type": "dict", "properties": {"x": deep(70)}}),
        "bad_tools",
    ),
    "NaN reward in Parquet": ("parquet", when2call_row() | {"chosen_reward": math.nan}, "bad_reward"),
    "reward as text": ("json", when2call_row() | {"rejected_reward": "low"}, "bad_reward"),
    "reward as a boolean": ("json", when2call_row() | {"chosen_reward": True}, "bad_reward"),
    "tool description as a number": ("json", _tool(description=3), "bad_tools"),
    "tool parameters false": ("json", _tool(parameters=False), "bad_tools"),
    "tool name missing": (
        "json",
        when2call_row(tools_as_json=False) | {"tools": [{"description": "x"}]},
        "bad_tools",
    ),
    "tool schema nested 3,000 levels (Python source)": ("python", _deep_tool(), "bad_tools"),
    "tool text nested 300 levels": (
        "json",
        when2call_row() | {"tools": ['{"name": "f", "parameters": {"x": ' + "[" * 300 + "]" * 300 + "}}"]},
        "bad_tools",
    ),
    "tool key that is not text (Python source)": ("python", _tool(parameters={1: "x"}), "bad_tools"),
    "lone surrogate in a message (Python source)": (
        "python",
        when2call_row() | {"messages": [{"role": "user", "content": "hi \ud800"}]},
        "not_utf8",
    ),
    "integer past 64 bits in a tool (Python source)": ("python", _tool(default=2**70), "bad_tools"),
    "chosen_response with role user": (
        "json",
        when2call_row() | {"chosen_response": {"role": "user", "content": "Which city?"}},
        "bad_role",
    ),
    "message role a list": (
        "json",
        when2call_row() | {"messages": [{"role": ["user"], "content": "hi"}]},
        "bad_role",
    ),
    "TOOLCALL nested 5,000 levels": (
        "json",
        _answer("<TOOLCALL>" + "[" * 5000 + "]" * 5000 + "</TOOLCALL>"),
        "bad_toolcall",
    ),
    "TOOLCALL argument NaN": (
        "json",
        _answer('<TOOLCALL>[{"name": "f", "arguments": {"x": NaN}}]</TOOLCALL>'),
        "bad_toolcall",
    ),
    "TOOLCALL arguments nested 100 levels": (
        "json",
        _answer('<TOOLCALL>[{"name": "f", "arguments": {"x": ' + "[" * 100 + "]" * 100 + "}}]</TOOLCALL>"),
        "bad_toolcall",
    ),
    "row that is a list": ("json", [when2call_row()], "schema"),
}


@pytest.mark.parametrize(("medium", "row", "reason"), REPORTED.values(), ids=REPORTED.keys())
def test_reported_bad_rows_are_quarantined(medium, row, reason):
    manifest, quarantined = _prepare(medium, [row])
    assert manifest["counts"]["quarantined_by_reason"] == {reason: 1}
    assert [entry["reason"] for entry in quarantined] == [reason]


def test_a_row_json_cannot_carry_is_quarantined_as_a_bounded_repr():
    _, quarantined = _prepare("python", [_deep_tool()])
    assert quarantined[0]["reason"] == "bad_tools"
    assert "row" not in quarantined[0]
    assert len(quarantined[0]["row_repr"]) < 10_000


def test_a_parquet_string_column_that_is_not_utf8_quarantines_only_its_row(tmp_path):
    # Parquet does not check that a string column holds UTF-8; Arrow refused to turn the whole batch into
    # Python values, so one bad cell stopped the stage.
    rows = [row | {"chosen_response": row["chosen_response"]["content"]} for row in GOOD]
    table = pa.Table.from_pylist(rows)
    texts = [row["chosen_response"].encode() for row in rows[:-1]] + [b"\xff\xfe not UTF-8"]
    offsets = pa.array([sum(map(len, texts[:end])) for end in range(len(texts) + 1)], pa.int32())
    column = pa.Array.from_buffers(
        pa.string(), len(texts), [None, offsets.buffers()[1], pa.py_buffer(b"".join(texts))]
    )
    table = table.set_column(table.schema.get_field_index("chosen_response"), "chosen_response", column)
    (tmp_path / "src").mkdir()
    pq.write_table(table, tmp_path / "src" / "rows.parquet")

    result = prepare_dataset(str(tmp_path / "src"), tmp_path / "out", params=PARAMS)

    assert result.manifest["counts"]["valid"] == len(GOOD) - 1
    assert result.manifest["counts"]["quarantined_by_reason"] == {"not_utf8": 1}
    assert [entry["position"] for entry in _quarantined(result.uri)] == ["rows.parquet:3"]


def test_a_utf8_byte_order_mark_does_not_cost_the_first_row(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.jsonl").write_bytes(b"\xef\xbb\xbf" + b"".join(_line(row) for row in GOOD))
    result = prepare_dataset(str(tmp_path / "src"), tmp_path / "out", params=PARAMS)
    assert result.manifest["counts"]["valid"] == len(GOOD)
    assert _quarantined(result.uri) == []
