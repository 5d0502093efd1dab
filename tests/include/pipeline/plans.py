"""Run plans for the tests: ``resolve_run`` with the trigger form's defaults and the given changes."""

from __future__ import annotations

import datetime as dt

from nova_dpo.pipeline.params import default_params
from nova_dpo.pipeline.plan import RunPlan
from nova_dpo.pipeline.run import resolve_run


def plan_with(**changes) -> RunPlan:
    params = default_params()
    params.update(changes)
    return resolve_run(
        params,
        dag_id="nova_dpo_pipeline",
        run_id="manual__1",
        logical_date=dt.datetime(2026, 3, 1, tzinfo=dt.UTC),
    )
