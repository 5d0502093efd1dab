import json
from types import SimpleNamespace

import boto3
import pytest
from moto import mock_aws

from nova_dpo_airflow.notifications import SNS_TOPIC_ENV, notify_failure, notify_verdict

PLAN = SimpleNamespace(
    family="micro", run_key="20260119T000000-abcd1234", run_id="manual__1", platform="local"
)
VERDICT = {"passed": False, "reasons": ["f1_score: +1.0% ... ≥ required +5.0%: fail"]}


@pytest.fixture
def topic(monkeypatch):
    with mock_aws():
        sns = boto3.client("sns", region_name="us-east-1")
        sqs = boto3.client("sqs", region_name="us-east-1")
        arn = sns.create_topic(Name="nova-dpo")["TopicArn"]
        queue = sqs.create_queue(QueueName="inbox")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue_arn)
        monkeypatch.setenv(SNS_TOPIC_ENV, arn)
        monkeypatch.setenv(
            "AIRFLOW_CONN_AWS_DEFAULT",
            json.dumps({"conn_type": "aws", "extra": {"region_name": "us-east-1"}}),
        )

        def received():
            messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
            return [json.loads(m["Body"]) for m in messages]

        yield received


def test_a_gate_verdict_is_published_with_its_reasons(topic):
    notify_verdict(PLAN, VERDICT)
    (message,) = topic()
    assert message["Subject"] == "nova-dpo: gate rejected the candidate (micro, run 20260119T000000-abcd1234)"
    assert "f1_score" in message["Message"]


def test_a_task_failure_is_published(topic):
    ti = SimpleNamespace(task_id="train_dpo", dag_id="nova_dpo_pipeline", run_id="manual__1", try_number=2)
    notify_failure({"ti": ti, "exception": RuntimeError("AlgorithmError: out of memory")})
    (message,) = topic()
    assert message["Subject"] == "nova-dpo: train_dpo failed in nova_dpo_pipeline"
    assert "AlgorithmError: out of memory" in message["Message"]


def test_without_a_topic_it_only_logs(monkeypatch, caplog):
    monkeypatch.delenv(SNS_TOPIC_ENV, raising=False)
    with caplog.at_level("INFO"):
        notify_verdict(PLAN, {**VERDICT, "passed": True})
    assert "The metric gate passed" in caplog.text
