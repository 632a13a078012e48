"""A failure event the orchestrator cannot process is not lost: Lambda retries it twice, then
it lands on the topology's dead-letter queue, and `status` says so (exit 8) with what to do.

Rule: the real deploy and status through the CLI against the sandbox; the handler error is
real (its state table is gone, as after a mistaken delete), the retries are the sandbox's
emulation of Lambda's asynchronous queue (1 and 2 minutes at time scale 60).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import run_cli, wait_until
from lambdafail.model import naming
from lambdafail.sandbox.async_queue import Failed
from lambdafail.sandbox.server import Sandbox
from oncall_support import Env
from sandbox_support import Clients


@pytest.mark.slow  # two deploys and a status through the CLI, ~3 s of retries
def test_e2e_a_failed_event_is_retried_lands_on_the_dlq_and_status_shows_it(
        sandbox: Sandbox, aws: Clients, tmp_path: Path) -> None:
    env = Env(tmp_path)
    try:
        url = ("--endpoint-url", sandbox.endpoint_url)
        f = str(env.file)
        r = run_cli("deploy", "-f", f, "--yes", *url, timeout=300)
        assert r.returncode == 0, r.stderr
        aws("dynamodb").delete_table(TableName=naming.table_name(env.name))
        resp = aws("events").put_events(Entries=[{
            "Source": f"{env.name}.checkout", "DetailType": "Server failure",
            "Detail": json.dumps({"level": "critical"}),
            "EventBusName": naming.bus_name(env.name)}])
        event_id = resp["Entries"][0]["EventId"]

        def ours() -> list[Failed]:
            return [x for x in sandbox.runner.async_queue.failed
                    if json.loads(x.payload or b"{}").get("id") == event_id]

        wait_until(lambda: bool(ours()), timeout=60, what="the event to exhaust its retries")
        [failed] = ours()
        assert failed.condition == "RetriesExhausted" and failed.attempts == 3
        dlq_arn = f"arn:aws:sqs:us-east-1:123456789012:{naming.dlq_name(env.name)}"
        assert failed.destination == dlq_arn

        r = run_cli("deploy", "-f", f, "--yes", *url, timeout=300)  # the table comes back
        assert r.returncode == 0, r.stderr
        r = run_cli("status", "-f", f, "-o", "json", *url, timeout=120)
        doc = json.loads(r.stdout)
        assert r.returncode in (7, 8), r.stderr  # at least at risk, whatever the ticks did
        o = doc["orchestrator"]
        assert o["failed_events"] >= 1 and o["dlq"] == naming.dlq_name(env.name)
        assert any("failed event(s) in the dead-letter queue" in p and "runbook" in p
                   for p in o["problems"])

        # The record on the DLQ is Lambda's: the event itself, the error, three attempts.
        dlq = aws("sqs").get_queue_url(QueueName=naming.dlq_name(env.name))["QueueUrl"]
        records = []
        for _ in range(20):
            got = aws("sqs").receive_message(QueueUrl=dlq, MaxNumberOfMessages=10)
            records += [json.loads(m["Body"]) for m in got.get("Messages", [])]
            if not got.get("Messages"):
                break
        [rec] = [x for x in records if x.get("requestPayload", {}).get("id") == event_id]
        assert rec["requestContext"]["condition"] == "RetriesExhausted"
        assert rec["requestContext"]["approximateInvokeCount"] == 3
        assert rec["requestContext"]["functionArn"].endswith(f":function:"
                                                             f"{naming.function_name(env.name)}:live")
        assert rec["responseContext"]["functionError"] == "Unhandled"
        assert "ResourceNotFound" in json.dumps(rec["responsePayload"])
    finally:
        env.close()
