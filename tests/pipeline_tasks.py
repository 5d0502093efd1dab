"""The task ids of the ``nova_dpo_pipeline`` DAG, for the DAG integrity test and the end-to-end runs."""

from __future__ import annotations

# What a run that passes the metric gate runs to success, in DAG order.
SHIPPING_TASK_IDS = (
    "resolve_run",
    "prepare_dataset",
    "upload",
    "skip_if_done",
    "train_dpo",
    "evaluate.generate",
    "evaluate.gen_qa",
    "evaluate.llm_judge",
    "metric_gate",
    "import_model",
    "deploy",
    "smoke_test",
    "publish",
    "teardown",
)
# The tasks a passing run skips: the manual approval and the rejection branch.
SKIPPED_WHEN_SHIPPING = ("approval", "reject")
PIPELINE_TASK_IDS = frozenset(SHIPPING_TASK_IDS + SKIPPED_WHEN_SHIPPING)
