"""The data stage through the command line, as the README documents it."""

import json

from nova_dpo.cli import main


def files(folder):
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def test_synthesize_prepare_validate_is_deterministic_and_valid(tmp_path, capsys):
    for attempt in ("a", "b"):
        assert (
            main(["synthesize", "--rows", "5000", "--seed", "1", "--out", str(tmp_path / attempt / "d")]) == 0
        )
        assert (
            main(
                ["prepare", "--source", str(tmp_path / attempt / "d"), "--out", str(tmp_path / attempt / "p")]
            )
            == 0
        )
    first, second = files(tmp_path / "a"), files(tmp_path / "b")
    assert first.keys() == second.keys()
    for name in first:
        if name.endswith("manifest.json"):  # it records where the source was read from: a and b differ
            left, right = (json.loads(side[name]) for side in (first, second))
            for manifest in (left, right):
                manifest["source"].pop("source")
                manifest["source"].pop("location")
            assert left == right
        else:
            assert first[name] == second[name], name

    (folder,) = (tmp_path / "a" / "p" / "datasets" / "d").glob("*/*")
    manifest = json.loads((folder / "manifest.json").read_text())
    counts = manifest["counts"]
    assert counts["rows"] == 5000 == counts["valid"] + counts["quarantined"]
    assert sum(split["rows"] for split in counts["splits"].values()) == counts["valid"]
    for name in ("train.jsonl", "validation.jsonl"):
        capsys.readouterr()
        assert main(["validate", str(folder / name), "--min-valid-fraction", "1.0"]) == 0
        report = json.loads(capsys.readouterr().out.split("\n}")[0] + "\n}")
        assert report["valid"] == report["rows"] == manifest["files"][name]["rows"]


def test_prepare_reports_a_data_quality_failure_with_exit_code_1(tmp_path, capsys):
    source = tmp_path / "bad.jsonl"
    source.write_text('{"tools": []}\n' * 3)
    assert main(["prepare", "--source", str(source), "--out", str(tmp_path / "p")]) == 1
    assert "quarantine" in capsys.readouterr().out
