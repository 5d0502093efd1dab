"""Reading a Nova job's ``output.tar.gz`` from S3 (moto): training manifest and metrics, evaluation results."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path, PurePosixPath

import boto3
import pytest
from moto import mock_aws

from nova_dpo.platforms.sagemaker_outputs import (
    JobOutputError,
    UnsafeArchiveError,
    output_archive_uri,
    read_evaluation_output,
    read_output_archive,
    read_training_output,
    safe_member_path,
    split_s3_uri,
)

BUCKET = "nova-dpo-outputs"
ARCHIVE = f"s3://{BUCKET}/runs/r1/training/job-1/output/output.tar.gz"
ESCROW = "s3://customer-escrow-123456789012-smtj-abc123/my-lora-run"
METRICS_CSV = "step_number,training_loss\n1,0.693\n2,0.61\n3,0.52\n"
RUN_NAME = "nova-micro-byod-eval-job"

# The two metric-name variants Nova has been seen writing for the same gen_qa metrics.
DOCUMENTED = {"exact_match": 0.2, "exact_match_stderr": 0.04, "f1_score": 0.4, "rouge1": 0.5}
SHORT = {"em": 0.2, "em_stderr": 0.04, "f1": 0.4, "rouge1": 0.5}
CANONICAL = {"exact_match": 0.2, "exact_match_stderr": 0.04, "f1_score": 0.4, "rouge1": 0.5}


@pytest.fixture(scope="module")
def _moto():
    """moto for the whole module, with one client: building clients is the slow part."""
    with mock_aws() as mock:
        yield mock, boto3.client("s3", region_name="us-east-1")


@pytest.fixture
def s3(_moto):
    """moto's S3 with one empty bucket."""
    mock, client = _moto
    mock.reset()
    client.create_bucket(Bucket=BUCKET)
    return client


def tar_gz(files: dict[str, bytes | str], extra: list[tarfile.TarInfo] = ()) -> bytes:
    """A gzipped tarball holding ``files`` (path -> content) and the bare members ``extra`` (links, ...)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, content in files.items():
            data = content.encode("utf-8") if isinstance(content, str) else content
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        for info in extra:
            archive.addfile(info)
    return buffer.getvalue()


def upload(s3, files: dict[str, bytes | str], uri: str = ARCHIVE, **kwargs) -> str:
    bucket, key = split_s3_uri(uri)
    s3.put_object(Bucket=bucket, Key=key, Body=tar_gz(files, **kwargs))
    return uri


def results_document(metrics: dict[str, float], task: str = "custom|gen_qa_gen_qa|0") -> str:
    return json.dumps({"config_general": {"model_name": "m"}, "results": {task: metrics, "all": metrics}})


# ---------------------------------------------------------------------------------------------- helpers


def test_output_archive_uri_follows_sagemakers_layout():
    assert output_archive_uri("s3://b/runs/r1/training/", "job-1") == ARCHIVE.replace(BUCKET, "b")
    assert output_archive_uri("s3://b/runs/r1/training", "job-1") == ARCHIVE.replace(BUCKET, "b")


@pytest.mark.parametrize(
    ("uri", "expected"),
    [("s3://b/a/b.json", ("b", "a/b.json")), ("s3://b", ("b", "")), ("s3://b/", ("b", ""))],
)
def test_split_s3_uri(uri, expected):
    assert split_s3_uri(uri) == expected


@pytest.mark.parametrize("uri", ["file:///tmp/x", "s3://", "bucket/key", None])
def test_split_s3_uri_refuses_other_uris(uri):
    with pytest.raises(ValueError, match=r"s3://|bucket"):
        split_s3_uri(uri)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("manifest.json", "manifest.json"),
        ("./manifest.json", "manifest.json"),
        ("a//b/./c.json", "a/b/c.json"),
    ],
)
def test_safe_member_path_normalizes(name, expected):
    assert safe_member_path(name).as_posix() == expected


@pytest.mark.parametrize("name", ["../evil.txt", "a/../../evil.txt", "a/..", "/etc/passwd", ".", "./"])
def test_safe_member_path_refuses_paths_leaving_the_folder(name):
    with pytest.raises(UnsafeArchiveError, match="refusing archive member"):
        safe_member_path(name)


def test_the_top_folder_is_a_safe_folder_member():
    assert safe_member_path("./", folder=True) == PurePosixPath()
    with pytest.raises(UnsafeArchiveError):
        safe_member_path("../", folder=True)


# --------------------------------------------------------------------------------------------- training


def test_training_output_in_memory(s3):
    upload(
        s3,
        {
            "manifest.json": json.dumps({"checkpoint_s3_bucket": ESCROW}),
            "step_wise_training_metrics.csv": METRICS_CSV,
        },
    )

    output = read_training_output(s3, ARCHIVE)

    assert output.checkpoint_uri == ESCROW
    assert output.manifest == {"checkpoint_s3_bucket": ESCROW}
    assert output.metrics_csv == METRICS_CSV
    assert output.metrics_rows() == [
        {"step_number": 1.0, "training_loss": 0.693},
        {"step_number": 2.0, "training_loss": 0.61},
        {"step_number": 3.0, "training_loss": 0.52},
    ]
    assert output.validation_metrics_csv is None
    assert output.local_dir is None
    assert output.metrics_path is None


def test_training_output_extracted_to_the_folder_named(s3, tmp_path: Path):
    upload(
        s3,
        {
            "./manifest.json": json.dumps({"checkpoint_s3_bucket": ESCROW, "extra": 1}),
            "./step_wise_training_metrics.csv": METRICS_CSV,
            "./validation_metrics.csv": "step_number,validation_loss\n3,0.55\n",
            "./tensorboard/events.out.tfevents.1": b"\x00\x01",
        },
    )

    output = read_training_output(s3, ARCHIVE, tmp_path / "job-1")

    assert output.checkpoint_uri == ESCROW
    assert output.local_dir == tmp_path / "job-1"
    assert output.metrics_path == tmp_path / "job-1" / "step_wise_training_metrics.csv"
    assert output.metrics_path.read_text() == METRICS_CSV
    assert output.validation_metrics_path.read_text().startswith("step_number,validation_loss")
    assert (tmp_path / "job-1" / "manifest.json").exists()
    assert (tmp_path / "job-1" / "tensorboard" / "events.out.tfevents.1").read_bytes() == b"\x00\x01"
    assert not list((tmp_path / "job-1").rglob("*.part"))


def test_an_archive_of_a_whole_folder_is_read(s3, tmp_path: Path):
    """``tar -C output .`` writes the folder itself first, as ``./``."""
    source = tmp_path / "output"
    (source / "logs").mkdir(parents=True)
    (source / "manifest.json").write_text(json.dumps({"checkpoint_s3_bucket": ESCROW}))
    (source / "logs" / "train.log").write_text("done")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        archive.add(source, arcname=".")
    bucket, key = split_s3_uri(ARCHIVE)
    s3.put_object(Bucket=bucket, Key=key, Body=buffer.getvalue())

    output = read_training_output(s3, ARCHIVE, tmp_path / "extracted")

    assert output.checkpoint_uri == ESCROW
    assert (tmp_path / "extracted" / "logs" / "train.log").read_text() == "done"


def test_training_output_without_metrics_still_gives_the_checkpoint(s3):
    upload(s3, {"manifest.json": json.dumps({"checkpoint_s3_bucket": f" {ESCROW} "})})

    output = read_training_output(s3, ARCHIVE)

    assert output.checkpoint_uri == ESCROW
    assert output.metrics_csv is None
    assert output.metrics_rows() == []


@pytest.mark.parametrize("manifest", [{}, {"checkpoint_s3_bucket": ""}, {"checkpoint_s3_bucket": None}])
def test_manifest_without_checkpoint_is_a_clear_error(s3, manifest):
    upload(s3, {"manifest.json": json.dumps(manifest)})

    with pytest.raises(
        JobOutputError, match=r"manifest.json in s3://.* has no 'checkpoint_s3_bucket'.*CloudWatch"
    ):
        read_training_output(s3, ARCHIVE)


def test_archive_without_manifest_is_a_clear_error(s3):
    upload(s3, {"step_wise_training_metrics.csv": METRICS_CSV})

    with pytest.raises(JobOutputError, match=r"has no manifest.json.*step_wise_training_metrics.csv"):
        read_training_output(s3, ARCHIVE)


def test_manifest_that_is_no_json_object_is_refused(s3):
    upload(s3, {"manifest.json": "[1, 2]"})

    with pytest.raises(JobOutputError, match="not a JSON object"):
        read_training_output(s3, ARCHIVE)


def test_missing_archive_is_a_clear_error(s3):
    with pytest.raises(JobOutputError, match=r"wrote no output there.*S3OutputPath"):
        read_training_output(s3, ARCHIVE)


def test_an_object_that_is_no_tarball_is_refused(s3):
    bucket, key = split_s3_uri(ARCHIVE)
    s3.put_object(Bucket=bucket, Key=key, Body=b"this is not gzip")

    with pytest.raises(JobOutputError, match=r"not a readable \.tar\.gz"):
        read_training_output(s3, ARCHIVE)


# ------------------------------------------------------------------------------------------------- safety


@pytest.mark.parametrize("bad_name", ["../evil.txt", "eval/../../evil.txt", "/tmp/nova-dpo-evil.txt"])
def test_a_member_leaving_the_folder_refuses_the_archive(s3, tmp_path: Path, bad_name):
    upload(s3, {"manifest.json": json.dumps({"checkpoint_s3_bucket": ESCROW}), bad_name: "pwned"})
    target = tmp_path / "out" / "job-1"

    with pytest.raises(UnsafeArchiveError, match="refusing archive member"):
        read_training_output(s3, ARCHIVE, target)

    assert not (tmp_path / "out" / "evil.txt").exists()
    assert not (tmp_path / "evil.txt").exists()
    assert not Path("/tmp/nova-dpo-evil.txt").exists()


def test_a_traversal_member_is_refused_even_when_nothing_is_extracted(s3):
    upload(s3, {"../manifest.json": json.dumps({"checkpoint_s3_bucket": ESCROW})})

    with pytest.raises(UnsafeArchiveError):
        read_training_output(s3, ARCHIVE)


def test_links_are_skipped_not_created(s3, tmp_path: Path):
    link = tarfile.TarInfo("escape")
    link.type = tarfile.SYMTYPE
    link.linkname = "/etc"
    upload(s3, {"manifest.json": json.dumps({"checkpoint_s3_bucket": ESCROW})}, extra=[link])

    contents = read_output_archive(s3, ARCHIVE, tmp_path)

    assert contents.members == ("manifest.json",)
    assert not (tmp_path / "escape").exists()
    assert not (tmp_path / "escape").is_symlink()


def test_a_link_already_in_the_folder_does_not_redirect_writes(s3, tmp_path: Path):
    outside = tmp_path / "outside"
    outside.mkdir()
    target = tmp_path / "target"
    target.mkdir()
    (target / "eval").symlink_to(outside)
    upload(s3, {"eval/sub/file.txt": "x"})

    with pytest.raises(UnsafeArchiveError, match="leads outside"):
        read_output_archive(s3, ARCHIVE, target)

    assert list(outside.iterdir()) == []


def test_a_file_link_already_in_the_folder_is_replaced_not_written_through(s3, tmp_path: Path):
    outside = tmp_path / "outside.txt"
    outside.write_text("keep me")
    target = tmp_path / "target"
    target.mkdir()
    (target / "manifest.json").symlink_to(outside)
    upload(s3, {"manifest.json": json.dumps({"checkpoint_s3_bucket": ESCROW})})

    read_training_output(s3, ARCHIVE, target)

    assert outside.read_text() == "keep me"
    assert not (target / "manifest.json").is_symlink()
    assert json.loads((target / "manifest.json").read_text()) == {"checkpoint_s3_bucket": ESCROW}


# ------------------------------------------------------------------------------------------- evaluation


def inference_lines(n: int) -> str:
    return "".join(
        json.dumps({"prompt": f"q{i}", "inference": f"a{i}", "gold": f"a{i}"}) + "\n" for i in range(n)
    )


@pytest.mark.parametrize("variant", [DOCUMENTED, SHORT], ids=["documented-names", "short-names"])
def test_gen_qa_output_reads_the_newest_results_with_either_metric_names(s3, tmp_path: Path, variant):
    folder = f"{RUN_NAME}/eval_results"
    upload(
        s3,
        {
            f"{folder}/results_2025-06-26T22-02-09.817675.json": results_document({"rouge1": 0.1}),
            f"{folder}/results_2025-06-27T08-00-00.000001.json": results_document(variant),
            f"{folder}/inference_output.jsonl": inference_lines(3),
            f"{folder}/details/model/2025-06-27/details_gen_qa_#_2025.parquet": b"PAR1",
        },
    )

    output = read_evaluation_output(s3, ARCHIVE, tmp_path / "eval", task="gen_qa", run_name=RUN_NAME)

    newest = tmp_path / "eval" / folder / "results_2025-06-27T08-00-00.000001.json"
    assert output.results_path == newest
    assert newest.exists()
    assert output.results.metrics == CANONICAL
    assert output.inference_output_path == tmp_path / "eval" / folder / "inference_output.jsonl"
    assert output.summary() == {
        "task": "gen_qa",
        "results_path": str(newest),
        "inference_output_path": str(output.inference_output_path),
        "num_examples": 3,
        "metrics": CANONICAL,
    }


def test_llm_judge_output_needs_no_inference_file(s3, tmp_path: Path):
    judge = {
        "a_scores": 10.0,
        "b_scores": 20.0,
        "ties": 2.0,
        "winrate": 0.65,
        "lower_rate": 0.55,
        "upper_rate": 0.74,
    }
    upload(
        s3,
        {
            f"{RUN_NAME}/eval_results/results_2025-06-26T22-02-09.817675.json": results_document(
                judge, "custom|llm_judge_judge|0"
            )
        },
    )

    output = read_evaluation_output(s3, ARCHIVE, tmp_path, task="llm_judge")

    assert output.inference_output_path is None
    assert output.summary() == {
        "task": "llm_judge",
        "results_path": str(output.results_path),
        "metrics": judge,
    }


def test_results_of_the_recipe_run_are_preferred(s3, tmp_path: Path):
    upload(
        s3,
        {
            f"{RUN_NAME}/eval_results/results_2025-01-01T00-00-00.000000.json": results_document(
                {"rouge1": 0.3}
            ),
            "other-run/eval_results/results_2026-01-01T00-00-00.000000.json": results_document(
                {"rouge1": 0.9}
            ),
        },
    )

    output = read_evaluation_output(s3, ARCHIVE, tmp_path, run_name=RUN_NAME)

    assert output.results.metrics == {"rouge1": 0.3}


def test_gen_qa_output_without_inference_output_is_a_clear_error(s3, tmp_path: Path):
    upload(
        s3, {f"{RUN_NAME}/eval_results/results_2025-06-26T22-02-09.817675.json": results_document(DOCUMENTED)}
    )

    with pytest.raises(JobOutputError, match=r"no inference_output\.jsonl"):
        read_evaluation_output(s3, ARCHIVE, tmp_path, task="gen_qa")


def test_evaluation_output_without_results_is_a_clear_error(s3, tmp_path: Path):
    upload(s3, {"manifest.json": "{}"})

    with pytest.raises(
        JobOutputError, match=rf"no {RUN_NAME}/eval_results/results_<timestamp>.json.*manifest.json"
    ):
        read_evaluation_output(s3, ARCHIVE, tmp_path, run_name=RUN_NAME)


def test_results_file_that_is_no_results_document_is_refused(s3, tmp_path: Path):
    upload(s3, {f"{RUN_NAME}/eval_results/results_1.json": json.dumps({"config_general": {}})})

    with pytest.raises(JobOutputError, match="not a Nova results document"):
        read_evaluation_output(s3, ARCHIVE, tmp_path)
