"""Lambda's asynchronous invocation in the sandbox: retries, event age, on-failure destination.

AWS (invocation-async-error-handling): a function error is retried MaximumRetryAttempts times
(default 2), one minute then two minutes later; then the event goes to the OnFailure destination
with condition RetriesExhausted, or EventAgeExceeded when the next try would come too late.
The sandbox runs at time scale 60, so the waits are about 1 s and 2 s.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

from conftest import wait_until
from lambdafail.sandbox.server import Sandbox
from sandbox_support import (
    Clients,
    allow_events,
    create_function,
    drain,
    drain_timed,
    function_arn,
    orchestrator_zip,
    queue,
    uid,
)

# Reports every attempt (into REPORT_TO), then fails as a handler exception does.
FAILING_HANDLER = '''
import json, os
import boto3

def handle(event, context):
    boto3.client("sqs").send_message(QueueUrl=os.environ["REPORT_TO"],
                                     MessageBody=json.dumps(event))
    if os.environ.get("FAIL") == "1":
        raise RuntimeError("handler failed on purpose")
    return {"ok": True}
'''


def _failing_function(aws: Clients, report_url: str, fail: bool = True) -> str:
    return create_function(aws, orchestrator_zip(FAILING_HANDLER),
                           env={"REPORT_TO": report_url, "FAIL": "1" if fail else "0"})


def _deliver_via_rule(aws: Clients, fn: str) -> str:
    source = uid("shop.orders")
    rule = uid("rule")
    aws("events").put_rule(Name=rule, EventPattern=json.dumps({"source": [source]}))
    aws("events").put_targets(Rule=rule, Targets=[{"Id": "fn", "Arn": function_arn(fn)}])
    allow_events(aws, fn, aws("events").describe_rule(Name=rule)["Arn"])
    resp = aws("events").put_events(Entries=[{"Source": source, "DetailType": "order failed",
                                              "Detail": json.dumps({"n": 1})}])
    return str(resp["Entries"][0]["EventId"])


def _records(aws: Clients, url: str, count: int = 1, timeout: float = 30) -> list[Any]:
    got: list[Any] = []

    def enough() -> bool:
        got.extend(json.loads(b) for b in drain(aws, url))
        return len(got) >= count

    wait_until(enough, timeout=timeout, what=f"{count} on-failure record(s)")
    return got


def test_sandbox_async_error_is_retried_twice_then_sent_to_on_failure(
        sandbox: Sandbox, aws: Clients) -> None:
    report_url, _ = queue(aws)
    dlq_url, dlq_arn = queue(aws)
    fn = _failing_function(aws, report_url)
    aws("lambda").put_function_event_invoke_config(
        FunctionName=fn, MaximumRetryAttempts=2, MaximumEventAgeInSeconds=3600,
        DestinationConfig={"OnFailure": {"Destination": dlq_arn}})

    event_id = _deliver_via_rule(aws, fn)

    [record] = _records(aws, dlq_url)
    attempts = drain_timed(aws, report_url)
    assert [json.loads(body)["id"] for body, _ in attempts] == [event_id] * 3
    # One minute, then two minutes of schedule time between the attempts (1 s, 2 s at 60x);
    # SentTimestamp has millisecond precision, so allow a little below.
    gaps = [later - earlier for (_, earlier), (_, later) in itertools.pairwise(attempts)]
    assert gaps[0] >= 0.9 and gaps[1] >= 1.9, gaps
    assert record["version"] == "1.0"
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["requestContext"]["functionArn"] == function_arn(fn, "$LATEST")
    assert record["requestPayload"]["id"] == event_id
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert record["responsePayload"]["errorMessage"] == "handler failed on purpose"
    assert [f.condition for f in sandbox.runner.async_queue.failed] == ["RetriesExhausted"]


def test_sandbox_async_retries_follow_the_function_config(sandbox: Sandbox,
                                                          aws: Clients) -> None:
    report_url, _ = queue(aws)
    dlq_url, dlq_arn = queue(aws)
    fn = _failing_function(aws, report_url)
    aws("lambda").put_function_event_invoke_config(
        FunctionName=fn, MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": dlq_arn}})
    aws("lambda").invoke(FunctionName=fn, InvocationType="Event", Payload=b'{"id": "direct"}')
    [record] = _records(aws, dlq_url)
    assert record["requestContext"]["approximateInvokeCount"] == 1
    assert record["requestPayload"] == {"id": "direct"}
    assert len(drain(aws, report_url)) == 1


def test_sandbox_async_event_too_old_for_a_retry_is_age_exceeded(sandbox: Sandbox,
                                                                 aws: Clients) -> None:
    report_url, _ = queue(aws)
    dlq_url, dlq_arn = queue(aws)
    fn = _failing_function(aws, report_url)
    # 60 s of maximum age: the first retry would come a minute later, past it.
    aws("lambda").put_function_event_invoke_config(
        FunctionName=fn, MaximumRetryAttempts=2, MaximumEventAgeInSeconds=60,
        DestinationConfig={"OnFailure": {"Destination": dlq_arn}})
    _deliver_via_rule(aws, fn)
    [record] = _records(aws, dlq_url)
    assert record["requestContext"]["condition"] == "EventAgeExceeded"
    assert record["requestContext"]["approximateInvokeCount"] == 1
    assert len(drain(aws, report_url)) == 1


def test_sandbox_async_success_is_not_retried(sandbox: Sandbox, aws: Clients) -> None:
    report_url, _ = queue(aws)
    dlq_url, dlq_arn = queue(aws)
    fn = _failing_function(aws, report_url, fail=False)
    aws("lambda").put_function_event_invoke_config(
        FunctionName=fn, DestinationConfig={"OnFailure": {"Destination": dlq_arn}})
    _deliver_via_rule(aws, fn)
    wait_until(lambda: sandbox.runner.invocations >= 1 and sandbox.wait_idle(), timeout=20,
               what="the one invocation")
    assert sandbox.runner.async_queue.waiting() == 0
    assert len(drain(aws, report_url)) == 1
    assert drain(aws, dlq_url) == [] and sandbox.runner.async_queue.failed == []
