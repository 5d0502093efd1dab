"""Credentials a local job receives: in its environment, under names fixed here, never in its spec.

A job's spec (``job.json``) is written to the shared platform folder and its options come from a run's params,
which anyone who may trigger a run sets. So a spec names no secret and no variable to read one from: whoever
starts the job (the operator, from an Airflow connection) hands the value to :class:`LocalJobRunner` and the
job reads it from the one variable its code names. Inherited values of these variables are dropped, so a job
sees only the credential given for it.
"""

from __future__ import annotations

from collections.abc import Mapping

#: The API key of the endpoint judge of an llm_judge job.
JUDGE_API_KEY_ENV = "NOVA_DPO_JUDGE_API_KEY"

#: Every variable that carries a credential into a local job.
CREDENTIAL_ENVS = frozenset({JUDGE_API_KEY_ENV})


def check_credentials(credentials: Mapping[str, str] | None) -> dict[str, str]:
    """``credentials`` as a plain dict, each name one of :data:`CREDENTIAL_ENVS`.

    :raises ValueError: for any other name (a job must not be handed arbitrary environment variables).
    """
    values = dict(credentials or {})
    unknown = sorted(set(values) - CREDENTIAL_ENVS)
    if unknown:
        raise ValueError(
            f"Unknown job credential(s) {', '.join(unknown)}; a local job takes {', '.join(sorted(CREDENTIAL_ENVS))}."
        )
    return {name: value for name, value in values.items() if value}
