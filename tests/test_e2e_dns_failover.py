"""A dns_failover router end to end through the real CLI on the sandbox: deploy makes the alarm,
the health check and the failover records; the primary fails; the orchestrator's switch is one
PutMetricData; the alarm moves, the health check follows it and the sandbox's DNS answer is the
standby's — with no Route 53 mutating call from the failure to the switch.

Rule: nothing is faked — the orchestrator is the deployed zip the sandbox runs, the primary's
socket really closes; waits are bounded conditions. The time from the failure until the DNS
answer is the standby's is printed, not asserted.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from conftest import run_cli, wait_until
from lambdafail.aws import is_mutating
from lambdafail.model import naming
from lambdafail.runtime.state import StateStore
from lambdafail.sandbox.webservice import WebService
from sandbox_fixtures import PROC_TIME_SCALE, sandbox_topology, state_waiter

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

THRESHOLD = 2
FLOOR_S = THRESHOLD * 60 / PROC_TIME_SCALE
DEADLINE_S = 10 * FLOOR_S + 40


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.loads(resp.read())


def test_a_failover_moves_dns_by_a_metric_with_no_route53_call(
        tmp_path: Path, sandbox_proc: tuple[subprocess.Popen[str], Path]) -> None:
    _, state = sandbox_proc
    env = {"LAMBDAFAIL_SANDBOX_STATE": str(state), "AWS_MAX_ATTEMPTS": "1"}
    endpoint = json.loads(state.read_text())["endpoint_url"]
    kw: dict[str, Any] = {"endpoint_url": endpoint, "region_name": "us-east-1",
                          "aws_access_key_id": "testing", "aws_secret_access_key": "testing",
                          "config": Config(retries={"mode": "standard", "max_attempts": 1})}
    r53 = boto3.client("route53", **kw)
    zone = r53.create_hosted_zone(Name="example.com", CallerReference=uuid.uuid4().hex)[
        "HostedZone"]["Id"].removeprefix("/hostedzone/")
    name = f"dn{uuid.uuid4().hex[:8]}"
    wait = state_waiter(StateStore(naming.table_name(name), boto3.client("dynamodb", **kw)),
                        "web")

    def dns() -> list[str]:
        got = _get(f"{endpoint}/_lambdafail/dns?zone={zone}&name=app.example.com&type=CNAME")
        return list(got["values"])

    def seq() -> int:
        rows = _get(f"{endpoint}/_lambdafail/requests")["requests"]
        return int(rows[-1]["seq"]) if rows else 0

    with WebService("primary") as primary, WebService("standby") as standby:
        f = sandbox_topology(tmp_path / "lambdafail.yaml", name, f"""\
  web:
    primary: {{url: "{primary.url}"}}
    standby: {{url: "{standby.url}"}}
    router:
      dns_failover: {{zone_id: {zone}, record: app.example.com, ttl: 30,
                     primary: primary.example.com, standby: standby.example.com}}
""", threshold=THRESHOLD)
        r = run_cli("--sandbox", "deploy", "-f", f, "--yes", env=env)
        assert r.returncode == 0, r.stderr
        wait(lambda st: st.health["primary"].ok and st.health["standby"].ok, 30,
             "the first probe tick")
        assert dns() == ["primary.example.com"]

        before = seq()
        t0 = time.monotonic()
        primary.stop()
        wait_until(lambda: dns() == ["standby.example.com"], timeout=DEADLINE_S,
                   interval=0.05, what="the DNS answer to be the standby's")
        switched_after = time.monotonic() - t0
        wait(lambda st: st.active == "standby" and st.phase == "steady", DEADLINE_S,
             "the transition to be committed")
        calls = _get(f"{endpoint}/_lambdafail/requests?since={before}")["requests"]
        route53_writes = [c for c in calls if c["service"] == "route53"
                          and is_mutating(str(c["operation"]))]
        assert route53_writes == []
        # The switch itself: the metric, in the control region, by the orchestrator's role.
        puts = [c for c in calls if (c["service"], c["operation"]) == ("cloudwatch",
                                                                      "PutMetricData")]
        assert puts and {c["region"] for c in puts} == {"us-east-1"}
        assert all(c["caller"] != "testing" for c in puts)  # not the CLI: the orchestrator
        print(f"\nprimary failed → DNS answers the standby: {switched_after:.2f} s "
              f"(probe floor {FLOOR_S:.1f} s at time scale {PROC_TIME_SCALE:g})")

        r = run_cli("--sandbox", "status", "-f", f, "-o", "json", env=env, timeout=60)
        web = next(s for s in json.loads(r.stdout)["services"] if s["name"] == "web")
        assert web["active"] == "standby", r.stdout
