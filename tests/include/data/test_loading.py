import json

import pyarrow as pa
import pyarrow.parquet as pq

from nova_dpo.data.loading import iter_rows, read_hub, read_jsonl
from nova_dpo.data.versions import DatasetVersion, resolve_dataset_version
from nova_dpo.data.when2call import normalize_row
from tests.include.data.rows import when2call_row, write_jsonl

HUB_CARD = """---
configs:
- config_name: train_pref
  data_files:
  - split: train
    path: train/when2call_train_pref.jsonl
- config_name: train_sft
  data_files:
  - split: train
    path: train/when2call_train_sft.jsonl
---
# When2Call (a generated stand-in with the Hub repository's layout)
"""


def make_hub_repo(folder, rows):
    """A folder laid out like the nvidia/When2Call Hub repository: a dataset card with configs, data files."""
    (folder / "train").mkdir(parents=True)
    (folder / "README.md").write_text(HUB_CARD)
    write_jsonl(folder / "train" / "when2call_train_pref.jsonl", rows)
    write_jsonl(folder / "train" / "when2call_train_sft.jsonl", [{"other": "schema"}])
    return folder


def test_hub_loader_reads_the_train_pref_config_through_datasets(tmp_path):
    rows = [when2call_row(f"City {i}") for i in range(7)]
    repo = make_hub_repo(tmp_path / "When2Call", rows)
    loaded = list(read_hub(str(repo), revision="e" * 40))
    assert [normalize_row(r.value) for r in loaded] == [normalize_row(r) for r in rows]
    assert loaded[0].position.endswith("@eeeeeeeeeeee:1")
    version = DatasetVersion("nvidia/When2Call", "hub", "e" * 40, str(repo), "nvidia--When2Call")
    assert len(list(iter_rows(version))) == 7


def test_jsonl_and_parquet_folders_give_the_same_rows(tmp_path):
    rows = [when2call_row(f"City {i}", tools_as_json=i % 2 == 0) for i in range(10)]
    write_jsonl(tmp_path / "a.jsonl", rows[:6])
    parquet_rows = [dict(r, tools=[json.dumps(t) if isinstance(t, dict) else t for t in r["tools"]]) for r in rows[6:]]
    pq.write_table(pa.Table.from_pylist(parquet_rows), tmp_path / "b.parquet")
    loaded = list(iter_rows(resolve_dataset_version(str(tmp_path))))
    assert [r.position for r in loaded[5:7]] == ["a.jsonl:6", "b.parquet:1"]
    assert [normalize_row(r.value) for r in loaded] == [normalize_row(r) for r in rows[:6] + parquet_rows]


def test_unreadable_lines_are_reported_not_raised(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_bytes(b'{"a": 1}\n\n\xc3\x28 bad utf-8\n{"a": \n{"a": 2}\n{"cut')
    rows = list(read_jsonl(path))
    assert [(r.position, r.problem) for r in rows] == [
        ("rows.jsonl:1", None),
        ("rows.jsonl:3", "not_utf8"),
        ("rows.jsonl:4", "not_json"),
        ("rows.jsonl:5", None),
        ("rows.jsonl:6", "truncated_line"),
    ]
    assert rows[1].raw == b"\xc3\x28 bad utf-8\n"


def test_s3_source(s3_root):
    rows = [when2call_row(f"City {i}") for i in range(3)]
    with (s3_root / "src" / "part-0.jsonl").open("w") as handle:
        handle.write("".join(json.dumps(r) + "\n" for r in rows))
    version = resolve_dataset_version(s3_root / "src")
    assert version.location.startswith("s3://")
    assert [r.value for r in iter_rows(version)] == rows
