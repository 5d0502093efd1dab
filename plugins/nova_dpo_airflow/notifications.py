"""Failure and gate-verdict notifications: always logged, and sent through providers-amazon's ``SnsNotifier``
when ``NOVA_DPO_SNS_TOPIC_ARN`` names a topic.

The provider is imported only when a message is sent, so the DAG file stays cheap to parse.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nova_dpo.pipeline.plan import RunPlan

SNS_TOPIC_ENV = "NOVA_DPO_SNS_TOPIC_ARN"
log = logging.getLogger(__name__)


def _send(subject: str, message: str, context: Any) -> None:
    topic = os.environ.get(SNS_TOPIC_ENV)
    if not topic:
        return
    from airflow.providers.amazon.aws.notifications.sns import SnsNotifier

    # SNS subjects are limited to 100 characters.
    SnsNotifier(target_arn=topic, subject=subject[:100], message=message).notify(context)
    log.info("notification sent to %s", topic)


def notify_failure(context: Any) -> None:
    """``on_failure_callback``: say which task failed, in which run, and why."""
    ti = context["ti"]
    error = context.get("exception")
    subject = f"nova-dpo: {ti.task_id} failed in {ti.dag_id}"
    message = f"Task {ti.task_id} of run {ti.run_id} failed (try {ti.try_number}): {error}"
    log.error("%s", message)
    _send(subject, message, context)


def notify_verdict(plan: RunPlan, verdict: dict[str, Any], context: Any = None) -> None:
    """The gate's verdict with its reasons, for the people who own the model family."""
    outcome = "passed" if verdict["passed"] else "rejected the candidate"
    subject = f"nova-dpo: gate {outcome} ({plan.family}, run {plan.run_key})"
    message = "\n".join(
        [f"The metric gate {outcome} for run {plan.run_id} ({plan.platform}).", *verdict["reasons"]]
    )
    log.info("%s", message)
    _send(subject, message, context)
