"""Job names, alike on every platform: one name per step of a DAG run, then ``-a2``, ``-a3``, ... per attempt."""

import random
import re
import string

import botocore.session
import pytest

from nova_dpo.platforms.base import validate_job_name
from nova_dpo.platforms.naming import attempt_job_name, job_name

# ------------------------------------------------------------------------------------------- job names


def _random_text(rng, max_length=120):
    alphabet = string.ascii_letters + string.digits + "_-:.+T /é"
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, max_length)))


def test_job_names_are_valid_for_sagemaker_whatever_the_input():
    rng = random.Random(1234)
    sagemaker_pattern = (
        botocore.session.get_session().get_service_model("sagemaker").shape_for("TrainingJobName")
    )
    pattern = re.compile(f"^(?:{sagemaker_pattern.metadata['pattern']})$")
    for _ in range(2000):
        name = job_name(_random_text(rng), _random_text(rng), _random_text(rng, 20), rng.randint(0, 12))
        assert 1 <= len(name) <= 63
        assert pattern.match(name), name
        validate_job_name(name)


def test_job_names_are_deterministic_and_readable():
    run_id = "scheduled__2026-11-24T00:00:00+00:00"
    name = job_name("nova_dpo_pipeline", run_id, "train_dpo")
    assert name == job_name("nova_dpo_pipeline", run_id, "train_dpo")
    assert name.startswith("nova-dpo-pipeline-train-dpo-scheduled-2026-11-24")


def test_job_names_stay_distinct_after_truncation():
    base = "manual__2026-11-24T19:30:00.123456+00:00-a-very-long-suffix-that-is-cut-off"
    names = {
        job_name("nova_dpo_pipeline_with_a_long_dag_id", f"{base}-{i}", "evaluate_candidate")
        for i in range(500)
    }
    assert len(names) == 500
    assert len({job_name("d", "r", step) for step in ("train", "train_", "train-", "TRAIN")}) == 4


def test_attempt_gives_a_new_name():
    first = job_name("dag", "run", "train")
    second = job_name("dag", "run", "train", attempt=1)
    assert first != second
    assert "-a1-" in second
    with pytest.raises(ValueError, match="attempt"):
        job_name("dag", "run", "train", attempt=-1)


def test_empty_inputs_still_give_a_valid_name():
    validate_job_name(job_name("", "", ""))


# --------------------------------------------------------------------------------------- attempt names


def test_attempt_one_is_the_name_itself():
    assert attempt_job_name("nova-dpo-train-r1", 1) == "nova-dpo-train-r1"
    assert attempt_job_name("nova-dpo-train-r1", 2) == "nova-dpo-train-r1-a2"


def test_attempt_names_are_deterministic_valid_and_at_most_63_characters():
    long_name = job_name("nova_dpo_pipeline", "scheduled__2026-01-01T00:00:00+00:00", "train_dpo")
    assert len(long_name) >= 61  # cut to fit: no room for a plain '-a2'
    names = [attempt_job_name(long_name, attempt) for attempt in range(1, 12)]

    assert names == [attempt_job_name(long_name, attempt) for attempt in range(1, 12)]
    assert len(set(names)) == len(names)
    for name in names:
        assert len(name) <= 63
        validate_job_name(name)
    assert names[1].endswith("-a2")
    assert names[10].endswith("-a11")


def test_long_names_with_the_same_beginning_get_different_attempt_names():
    first, second = "x" * 62 + "1", "x" * 62 + "2"
    assert attempt_job_name(first, 2) != attempt_job_name(second, 2)


@pytest.mark.parametrize("attempt", [0, -1, True, 1.5])
def test_attempt_numbers_start_at_one(attempt):
    with pytest.raises(ValueError, match="attempt"):
        attempt_job_name("job", attempt)
