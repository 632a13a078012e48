"""Region outages in the sandbox (`lambdafail outage`): a dark region's endpoint answers nothing,
its schedules fire nothing, nothing is delivered into it; other regions carry on; it ends by
--end or by itself. Driven through the real CLI against an in-process sandbox."""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ConnectionClosedError, EndpointConnectionError

from conftest import run_cli, wait_until
from lambdafail.sandbox.server import Sandbox

DARK = "us-west-2"
LIT = "us-east-1"


def client(sandbox: Sandbox, service: str, region: str) -> Any:
    return boto3.client(service, endpoint_url=sandbox.endpoint_url, region_name=region,
                        aws_access_key_id="testing", aws_secret_access_key="testing",
                        config=Config(retries={"mode": "standard", "max_attempts": 1},
                                      connect_timeout=5, read_timeout=10))


def outage(sandbox: Sandbox, *args: str) -> tuple[int, Any, str]:
    r = run_cli("--endpoint-url", sandbox.endpoint_url, "-o", "json", "outage", *args,
                timeout=60)
    doc = json.loads(r.stdout) if r.returncode == 0 and r.stdout.strip() else None
    return r.returncode, doc, r.stderr


def reachable(sandbox: Sandbox, region: str) -> bool:
    try:
        client(sandbox, "sqs", region).list_queues()
        return True
    except (ConnectionClosedError, EndpointConnectionError):
        return False


def test_a_dark_region_answers_nothing_and_the_others_carry_on(sandbox: Sandbox) -> None:
    assert reachable(sandbox, DARK)
    rc, doc, err = outage(sandbox, DARK)
    assert rc == 0, err
    assert [o["region"] for o in doc["outages"]] == [DARK]
    assert doc["outages"][0]["seconds_left"] is None
    started = time.monotonic()
    with pytest.raises((ConnectionClosedError, EndpointConnectionError)):
        client(sandbox, "dynamodb", DARK).list_tables()
    assert time.monotonic() - started < 10  # refused, not left hanging to the read timeout
    assert reachable(sandbox, LIT)
    rc, doc, err = outage(sandbox)  # the list, with what was cut off
    assert rc == 0, err
    assert doc["outages"][0]["refused"] >= 1
    rc, doc, err = outage(sandbox, DARK, "--end")
    assert rc == 0, err
    assert doc == {"ended": True, "outages": []}
    assert reachable(sandbox, DARK)
    rc, doc, err = outage(sandbox, DARK, "--end")  # not dark: said, not an error
    assert rc == 0 and doc == {"ended": False, "outages": []}, err


def test_an_outage_for_a_while_ends_by_itself(sandbox: Sandbox) -> None:
    # 60 sandbox seconds at the fixture's time scale (60) is one real second.
    rc, doc, err = outage(sandbox, DARK, "--for", "60s")
    assert rc == 0, err
    assert 0 < doc["outages"][0]["seconds_left"] <= 60
    assert not reachable(sandbox, DARK)
    wait_until(lambda: reachable(sandbox, DARK), timeout=20, what="the outage to end")
    assert sandbox.outages.snapshot() == []


def test_a_dark_regions_schedules_fire_nothing_and_are_not_made_up(sandbox: Sandbox) -> None:
    sqs, events = client(sandbox, "sqs", DARK), client(sandbox, "events", DARK)
    url = sqs.create_queue(QueueName="ticks")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    events.put_rule(Name="every-minute", ScheduleExpression="rate(1 minute)")
    events.put_targets(Rule="every-minute", Targets=[{"Id": "q", "Arn": arn}])

    def delivered() -> int:
        return sum(1 for d in sandbox.deliveries if d.rule == "every-minute" and d.ok)

    wait_until(lambda: delivered() >= 1, timeout=20, what="the schedule to fire")
    assert outage(sandbox, DARK)[0] == 0
    during = delivered()
    time.sleep(3)  # three firings' worth at the time scale
    assert delivered() == during
    lost = [line for line in sandbox.logs() if "firing" in line and "lost" in line]
    assert lost, "the lost firings are logged"
    assert outage(sandbox, DARK, "--end")[0] == 0
    wait_until(lambda: delivered() > during, timeout=20, what="the schedule to fire again")
    # After the outage the schedule goes on from now: no burst of the missed firings.
    assert delivered() - during <= 2


def test_the_cli_against_a_dark_region_fails_clearly(sandbox: Sandbox, tmp_path: Any) -> None:
    topo = tmp_path / "t.yaml"
    topo.write_text(f"""version: 1
name: dark
region: {DARK}
services:
  web:
    primary: {{url: "http://127.0.0.1:9/health"}}
    standby: {{url: "http://127.0.0.1:10/health"}}
    router: {{ssm_parameter: /dark/web}}
""")
    assert outage(sandbox, DARK)[0] == 0
    started = time.monotonic()
    r = run_cli("--endpoint-url", sandbox.endpoint_url, "status", "-f", str(topo), timeout=120,
                env={"AWS_MAX_ATTEMPTS": "1"})
    assert r.returncode == 3, r.stderr
    assert "cannot reach AWS" in r.stderr and "Traceback" not in r.stderr
    assert time.monotonic() - started < 60


@pytest.mark.parametrize(("args", "said"), [
    (["us-moon-1"], "not an AWS region"),
    (["US-EAST-1"], "us-east-1"),  # the hint names the region meant
    (["--end"], "need a REGION"),
    ([DARK, "--for", "soon"], "is not a duration"),
    ([DARK, "--for", "1m", "--end"], "not both"),
])
def test_bad_outage_requests_are_usage_errors(sandbox: Sandbox, args: list[str],
                                              said: str) -> None:
    rc, _, err = outage(sandbox, *args)
    assert rc == 2 and said in err, err
    assert sandbox.outages.snapshot() == []


def test_outages_need_the_sandbox() -> None:
    r = run_cli("outage", DARK, timeout=60)
    assert r.returncode == 2
    assert "only in the sandbox" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("body", [
    b'{"region": "us-east-1", "seconds": Infinity}', b'{"region": "us-east-1", "seconds": true}',
    b'{"region": "us-east-1", "seconds": 0}', b'{"region": "us-east-1", "seconds": 1e9}',
    b'{"region": "us-east-1", "end": "no"}', b'["us-east-1"]', b'{"region": 7}', b"not json",
])
def test_the_control_path_refuses_what_it_cannot_honour(sandbox: Sandbox, body: bytes) -> None:
    import urllib.error
    import urllib.request

    from lambdafail.sandbox.outages import CONTROL_PATH

    req = urllib.request.Request(sandbox.endpoint_url + CONTROL_PATH, data=body, method="POST")
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req, timeout=10)
    assert err.value.code == 400
    why = json.loads(err.value.read())["error"]
    assert "list indices" not in why and "Traceback" not in why
    assert sandbox.outages.snapshot() == []
