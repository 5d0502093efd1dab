"""Locations as paths: local folders, file:// URIs and object-store URIs."""

from pathlib import Path

from upath import UPath

from nova_dpo.data import storage


def test_a_file_uri_names_the_folder_it_was_made_from(tmp_path: Path):
    folder = tmp_path / "run 1" / "données"
    assert storage.as_path(folder.as_uri()) == folder  # Path.as_uri percent-escapes the space and the accent
    assert storage.as_path(str(folder)) == folder
    assert storage.file_uri_path(folder.as_uri()) == str(folder)


def test_an_object_store_uri_stays_a_uri():
    path = storage.as_path("s3://bucket/prefix/run 1")
    assert isinstance(path, UPath)
    assert str(path) == "s3://bucket/prefix/run 1"
