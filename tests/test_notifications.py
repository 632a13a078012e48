"""Notifications of a manual failover through the real CLI on the sandbox: an SQS queue
subscribed to the topology's SNS topic and a default-bus EventBridge rule targeting an SQS queue
both receive it, with topology, region, account, service, from → to, reason, actor and the
next command."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from conftest import run_cli, wait_until
from lambdafail.sandbox.server import Sandbox
from oncall_support import Env
from sandbox_support import Clients


def _queue(aws: Clients, name: str) -> tuple[str, str]:
    url = aws("sqs").create_queue(QueueName=name)["QueueUrl"]
    arn = aws("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    return url, arn


def _receive(aws: Clients, url: str, subject: str | None = None) -> list[dict[str, Any]]:
    """What reached the queue, once something (with `subject` leading, if given) has."""
    got: list[dict[str, Any]] = []

    def some() -> bool:
        got.extend(aws("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                              WaitTimeSeconds=1).get("Messages", []))
        return any(subject is None or str(json.loads(m["Body"]).get("Subject", ""))
                   .startswith(subject) for m in got)

    wait_until(some, timeout=30, what=f"a message on {url}")
    return [json.loads(m["Body"]) for m in got]


def test_manual_failover_reaches_an_sns_subscriber_and_a_default_bus_rule(
        sandbox: Sandbox, aws: Clients, tmp_path: Path) -> None:
    env = Env(tmp_path)
    try:
        topic = aws("sns").create_topic(Name=f"{env.name}-alerts")["TopicArn"]
        with env.file.open("a") as f:
            f.write(f"notify: {{sns_topic_arn: \"{topic}\"}}\n")
        sns_url, sns_arn = _queue(aws, f"{env.name}-sns")
        aws("sns").subscribe(TopicArn=topic, Protocol="sqs", Endpoint=sns_arn)
        bus_url, bus_arn = _queue(aws, f"{env.name}-bus")
        aws("events").put_rule(Name=f"{env.name}-transitions",
                               EventPattern=json.dumps({"source": ["lambdafail"],
                                                        "detail-type": ["lambdafail transition"]}))
        aws("events").put_targets(Rule=f"{env.name}-transitions",
                                  Targets=[{"Id": "q", "Arn": bus_arn}])
        url = ("--endpoint-url", sandbox.endpoint_url)
        f = str(env.file)
        r = run_cli("deploy", "-f", f, "--yes", *url, timeout=300)
        assert r.returncode == 0, r.stderr
        r = run_cli("failover", "-f", f, "checkout", "--reason", "INC-42 notify", "--yes", *url)
        assert r.returncode == 0, r.stderr

        # The topic also carries deploy's watch alarms (their first evaluations): the
        # transition's notice is the one lambdafail subject.
        (note,) = [n for n in _receive(aws, sns_url, "lambdafail ")
                   if n["Subject"].startswith("lambdafail ")]
        assert note["Subject"] == f"lambdafail {env.name}/checkout [us-east-1]: primary -> " \
                                  "standby (manual)"
        body = json.loads(note["Message"])
        (event,) = _receive(aws, bus_url)
        assert event["source"] == "lambdafail"
        assert event["detail-type"] == "lambdafail transition"
        for doc in (body, event["detail"]):
            assert doc["topology"] == env.name and doc["region"] == "us-east-1"
            assert doc["account"] and doc["account"] == event["account"]
            assert (doc["service"], doc["from"], doc["to"], doc["reason"]) == (
                "checkout", "primary", "standby", "manual")
            assert doc["actor"].startswith("arn:aws:")
            assert doc["evidence"]["note"] == "INC-42 notify"
            assert doc["next_command"].startswith("lambdafail status --region us-east-1")
            assert "lambdafail rollback checkout --reason" in doc["next_command"]
    finally:
        env.close()
