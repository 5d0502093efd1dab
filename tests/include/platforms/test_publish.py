"""publish_outputs: the job output files later tasks read, copied from a worker's folder to durable storage."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from upath import UPath

from nova_dpo.platforms.base import JobOutputs
from nova_dpo.platforms.publish import PUBLISHED_FIELDS, publish_outputs

ESCROW = "s3://customer-escrow-123456789012-smtj-abc123/train-dpo"
ARCHIVE = "s3://bucket/root/runs/r1/jobs/gen-qa/output/output.tar.gz"
RESULTS = "nova-micro-byod-eval-job/eval_results/results_2026-01-02T04-00-00.json"
INFERENCE = "nova-micro-byod-eval-job/eval_results/inference_output.jsonl"
DETAILS = "nova-micro-byod-eval-job/details/details.parquet"


@pytest.fixture
def extracted(tmp_path: Path) -> Path:
    """A gen_qa job's output as SageMakerPlatform.outputs extracts it on a worker."""
    folder = tmp_path / "worker" / "scratch"
    for member, text in {
        RESULTS: json.dumps({"results": {"all": {"rouge1": 0.7}}}),
        INFERENCE: '{"prompt": "q", "inference": ["a"], "gold": "a"}\n',
        DETAILS: "not read by any later task",
    }.items():
        (folder / member).parent.mkdir(parents=True, exist_ok=True)
        (folder / member).write_text(text)
    return folder


def gen_qa_outputs(folder: Path) -> JobOutputs:
    return JobOutputs(
        output_uri=ARCHIVE,
        results_uri=(folder / RESULTS).as_uri(),
        inference_output_uri=(folder / INFERENCE).as_uri(),
        result={
            "task": "gen_qa",
            "results_path": str(folder / RESULTS),
            "inference_output_path": str(folder / INFERENCE),
            "num_examples": 1,
            "metrics": {"rouge1": 0.7},
        },
    )


def test_the_files_later_tasks_read_go_to_an_object_store_and_the_uris_name_them(extracted, s3_root):
    bucket_uri = f"s3://{s3_root.path}/runs/r1/generate/candidate"

    def factory(uri: str) -> UPath:  # what ObjectStoragePath with the AWS connection is in the DAG
        return UPath(uri, **s3_root.storage_options)

    outputs = publish_outputs(gen_qa_outputs(extracted), extracted, bucket_uri, factory)
    shutil.rmtree(extracted)  # the worker's folder goes; the published files stay

    assert outputs.results_uri == f"{bucket_uri}/{RESULTS}"
    assert outputs.inference_output_uri == f"{bucket_uri}/{INFERENCE}"
    assert outputs.output_uri == ARCHIVE
    assert outputs.result == {
        "task": "gen_qa",
        "results_path": f"{bucket_uri}/{RESULTS}",
        "inference_output_path": f"{bucket_uri}/{INFERENCE}",
        "num_examples": 1,
        "metrics": {"rouge1": 0.7},
    }
    assert "file://" not in json.dumps(outputs.to_dict())
    assert json.loads(factory(outputs.results_uri).read_text()) == {"results": {"all": {"rouge1": 0.7}}}
    assert factory(outputs.inference_output_uri).read_text().startswith('{"prompt": "q"')
    # Only what later tasks read is published: the rest stays in the job's archive.
    assert not factory(f"{bucket_uri}/{DETAILS}").exists()


def test_a_folder_destination_keeps_file_uris_and_plain_paths(extracted, tmp_path):
    destination = tmp_path / "shared" / "runs" / "r1" / "generate" / "candidate"

    outputs = publish_outputs(gen_qa_outputs(extracted), extracted, str(destination))

    assert outputs.results_uri == (destination / RESULTS).as_uri()
    assert outputs.inference_output_uri == (destination / INFERENCE).as_uri()
    assert outputs.result["results_path"] == str(destination / RESULTS)
    assert outputs.result["inference_output_path"] == str(destination / INFERENCE)
    assert (destination / RESULTS).read_text() == (extracted / RESULTS).read_text()
    assert not (destination / DETAILS).exists()


def test_training_outputs_publish_the_metrics_and_keep_the_escrow_checkpoint(tmp_path):
    extracted = tmp_path / "scratch"
    extracted.mkdir()
    (extracted / "step_wise_training_metrics.csv").write_text("step_number,training_loss\n1,0.69\n")
    (extracted / "manifest.json").write_text(json.dumps({"checkpoint_s3_bucket": ESCROW}))
    outputs = JobOutputs(
        output_uri=ARCHIVE,
        checkpoint_uri=ESCROW,
        metrics_uri=(extracted / "step_wise_training_metrics.csv").as_uri(),
        manifest={"checkpoint_s3_bucket": ESCROW},
        result={"checkpoint_uri": ESCROW, "global_steps": 1},
    )
    destination = tmp_path / "runs" / "r1" / "train"

    published = publish_outputs(outputs, extracted, destination.as_uri())

    assert published.metrics_uri == (destination / "step_wise_training_metrics.csv").as_uri()
    assert published.checkpoint_uri == ESCROW
    assert published.manifest == {"checkpoint_s3_bucket": ESCROW}
    assert published.result == {"checkpoint_uri": ESCROW, "global_steps": 1}
    assert published.validation_metrics_uri is None
    assert sorted(path.name for path in destination.iterdir()) == ["step_wise_training_metrics.csv"]


def test_uris_outside_the_extracted_folder_are_kept(extracted, tmp_path):
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_text("{}")
    outputs = JobOutputs(output_uri=ARCHIVE, results_uri=elsewhere.as_uri(), result={"note": "/etc/hostname"})

    published = publish_outputs(outputs, extracted, str(tmp_path / "destination"))

    assert published == outputs
    assert not (tmp_path / "destination").exists()


def test_publishing_again_overwrites_with_the_same_content(extracted, tmp_path):
    destination = str(tmp_path / "destination")
    first = publish_outputs(gen_qa_outputs(extracted), extracted, destination)
    second = publish_outputs(gen_qa_outputs(extracted), extracted, destination)

    assert first == second


def test_every_published_field_is_a_job_outputs_field():
    assert set(PUBLISHED_FIELDS) <= set(JobOutputs.__dataclass_fields__)
