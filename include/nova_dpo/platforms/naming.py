"""Job names, alike on every platform: the name of one step of a DAG run, and the names of its attempts.

A job name stands for one job: submitting a name again attaches to that job, so a retried task never starts a
second one. A job that failed or was stopped is retried under the next attempt name (``<name>-a2``, ...), up
to :data:`DEFAULT_MAX_ATTEMPTS`. SageMaker's rule for training job names holds on every platform (local job
folders follow it too), so a name that works on one platform works on the other. Nothing here needs an AWS
client: the local platform, the pipeline and the operators use these rules without importing boto3.
"""

from __future__ import annotations

import hashlib
import json
import re

from nova_dpo.platforms.base import validate_job_name

MAX_JOB_NAME_LENGTH = 63
# How many attempts of one job name a platform makes before it gives up (AttemptsExhaustedError).
DEFAULT_MAX_ATTEMPTS = 5


class AttemptsExhaustedError(RuntimeError):
    """Every attempt a job name may have failed or was stopped; a further retry would not start one."""


def job_name(dag_id: str, run_id: str, step: str, attempt: int = 0) -> str:
    """A job name for one step of one DAG run: deterministic, at most 63 characters of
    ``[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}``.

    The same arguments always give the same name, so a retried task finds the job it started instead of
    starting a second one. A hash of all four arguments ends the name, so runs whose readable part is cut
    off at 63 characters still get different names. Raise ``attempt`` to start a fresh job on purpose.
    """
    if attempt < 0:
        raise ValueError(f"attempt must be 0 or more, got {attempt}")
    digest = hashlib.sha256(json.dumps([dag_id, run_id, step, attempt]).encode("utf-8")).hexdigest()[:10]
    tail = (f"-a{attempt}" if attempt else "") + f"-{digest}"
    readable = re.sub(r"[^a-z0-9]+", "-", f"{dag_id}-{step}-{run_id}".lower()).strip("-")
    head = readable[: MAX_JOB_NAME_LENGTH - len(tail)].rstrip("-") or "job"
    return head + tail


def attempt_job_name(name: str, attempt: int) -> str:
    """The name of attempt ``attempt`` (1, 2, ...) of job ``name``: ``name`` itself, then ``name-a2``, ...

    Deterministic and at most 63 characters: where the suffix does not fit, the name is shortened and a hash
    of the whole name keeps it apart from other names with the same beginning.
    """
    validate_job_name(name)
    if isinstance(attempt, bool) or not isinstance(attempt, int) or attempt < 1:
        raise ValueError(f"attempt must be 1 or more, got {attempt!r}")
    if attempt == 1:
        return name
    suffix = f"-a{attempt}"
    if len(name) + len(suffix) <= MAX_JOB_NAME_LENGTH:
        return name + suffix
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:8]
    head = name[: MAX_JOB_NAME_LENGTH - len(suffix) - len(digest) - 1].rstrip("-")
    return f"{head}-{digest}{suffix}"
