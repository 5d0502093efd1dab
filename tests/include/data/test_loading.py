import errno
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from botocore.exceptions import ClientError
from upath import UPath

from nova_dpo.data import storage
from nova_dpo.data.loading import iter_rows, read_hub, read_jsonl
from nova_dpo.data.prepare import prepare_dataset
from nova_dpo.data.validation import DataSourceError
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
    parquet_rows = [
        dict(r, tools=[json.dumps(t) if isinstance(t, dict) else t for t in r["tools"]]) for r in rows[6:]
    ]
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


@pytest.fixture
def no_aws_credentials(monkeypatch, tmp_path):
    """No AWS credentials anywhere botocore looks (environment, files, instance metadata)."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))


def _without_credentials(path):
    """The same S3 location through a new client, which finds no credentials."""
    return UPath(str(path), client_kwargs=path.storage_options["client_kwargs"], skip_instance_cache=True)


def test_an_s3_source_without_credentials_is_one_line_that_names_it(s3_root, tmp_path, request):
    with (s3_root / "src" / "part-0.jsonl").open("w") as handle:
        handle.write(json.dumps(when2call_row()) + "\n")
    request.getfixturevalue("no_aws_credentials")
    with pytest.raises(DataSourceError) as caught:
        prepare_dataset(_without_credentials(s3_root / "src"), tmp_path / "out")
    assert str(caught.value) == (
        f"cannot read the dataset source {s3_root}/src: no AWS credentials were found; set the worker's AWS "
        "credentials (the aws_default connection, or AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"
    )


def test_publishing_to_s3_without_credentials_is_one_line_that_names_it(
    s3_root, tmp_path, no_aws_credentials
):
    write_jsonl(tmp_path / "pairs.jsonl", [when2call_row(f"City {i}") for i in range(5)])
    with pytest.raises(
        DataSourceError, match=rf"^cannot write the prepared dataset to {s3_root}/datasets/pairs/"
    ):
        prepare_dataset(str(tmp_path / "pairs.jsonl"), _without_credentials(s3_root))


def test_access_denied_while_publishing_names_the_folder_and_the_permission(s3_root, tmp_path, monkeypatch):
    write_jsonl(tmp_path / "pairs.jsonl", [when2call_row(f"City {i}") for i in range(5)])

    def denied(*args, **kwargs):
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}, "PutObject")

    monkeypatch.setattr(storage.shutil, "copyfileobj", denied)
    with pytest.raises(DataSourceError) as caught:
        prepare_dataset(str(tmp_path / "pairs.jsonl"), s3_root)
    assert str(caught.value).startswith(f"cannot write the prepared dataset to {s3_root}/datasets/pairs/")
    assert "AWS denied access (AccessDenied); allow the worker's role s3:PutObject on it" in str(caught.value)


def test_a_file_that_is_not_parquet_stops_the_stage_with_its_name(tmp_path):
    (tmp_path / "src").mkdir()
    write_jsonl(tmp_path / "src" / "a.jsonl", [when2call_row()])
    (tmp_path / "src" / "b.parquet").write_bytes(b"PAR1 this is no Parquet file PAR1")
    with pytest.raises(
        DataSourceError, match=r"b\.parquet is not a readable Parquet file \(after 0 rows: .*export it"
    ):
        prepare_dataset(str(tmp_path / "src"), tmp_path / "out")


def test_an_unreadable_source_file_is_one_line_that_names_it(tmp_path, monkeypatch):
    (tmp_path / "src").mkdir()
    write_jsonl(tmp_path / "src" / "a.jsonl", [when2call_row()])
    real_open = Path.open

    def denied(path, mode="r", *args, **kwargs):
        if path.name == "a.jsonl" and "r" in mode:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, mode, *args, **kwargs)

    monkeypatch.setattr(Path, "open", denied)
    with pytest.raises(DataSourceError) as caught:
        prepare_dataset(str(tmp_path / "src"), tmp_path / "out")
    assert str(caught.value) == (
        f"cannot read the data file {tmp_path / 'src' / 'a.jsonl'}: permission denied; give the worker's user "
        "read access to it, or choose another location"
    )
