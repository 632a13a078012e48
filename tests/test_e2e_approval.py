"""End to end through the real CLI: a failover plan's `approval` step on the sandbox.

Rule: nothing is mocked: `lambdafail sandbox` runs in the background, the orchestrator is the
deployed zip, both sides are real loopback web services. The failover waits at the approval
step (the router stays on the primary tick after tick) until `lambdafail approve`; a second
service's approval times out (`on_timeout: fail`) and blocks it. Every wait has a deadline.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from conftest import run_cli, wait_until
from lambdafail.model import naming
from lambdafail.runtime.state import ServiceState, StateStore
from lambdafail.runtime.steps.approval import waiting_step
from lambdafail.sandbox.webservice import WebService
from sandbox_fixtures import sandbox_topology
from test_e2e_sandbox import DETECTION_DEADLINE_S


def _client(service: str, endpoint: str) -> Any:
    return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing",
                        config=Config(retries={"mode": "standard", "max_attempts": 1}))


@pytest.mark.slow
def test_e2e_a_failover_waits_for_approve_and_an_unanswered_one_blocks(
        tmp_path: Path, sandbox_proc: tuple[subprocess.Popen[str], Path]) -> None:
    _proc, state = sandbox_proc
    env = {"LAMBDAFAIL_SANDBOX_STATE": str(state), "COLUMNS": "200"}
    endpoint = json.loads(state.read_text())["endpoint_url"]
    name = f"appr{uuid.uuid4().hex[:8]}"
    store = StateStore(naming.table_name(name), _client("dynamodb", endpoint))
    ssm = _client("ssm", endpoint)

    def st(service: str) -> ServiceState:
        got = store.get(service)
        assert got is not None
        return got

    def param(service: str) -> str:
        return str(ssm.get_parameter(Name=f"/{name}/{service}/active")["Parameter"]["Value"])

    def ticks() -> int:
        return int((store.heartbeat_item() or {}).get("ticks") or 0)

    with WebService("web-primary") as web_p, WebService("auto-primary") as auto_p, \
            WebService("standby") as standby:
        f = tmp_path / "lambdafail.yaml"
        sandbox_topology(f, name, f"""\
  web:
    primary: {{url: "{web_p.url}"}}
    standby: {{url: "{standby.url}"}}
    router: {{ssm_parameter: /{name}/web/active}}
    recovery:
      failover:
        - approval: {{timeout_seconds: 300, every_seconds: 30, message: "check the replica"}}
  auto:
    primary: {{url: "{auto_p.url}"}}
    standby: {{url: "{standby.url}"}}
    router: {{ssm_parameter: /{name}/auto/active}}
    recovery:
      failover:
        - approval: {{timeout_seconds: 3, every_seconds: 30, on_timeout: fail}}
""", rto_seconds=600)
        r = run_cli("--sandbox", "validate", "-f", str(f), env=env)
        assert r.returncode == 0, r.stderr
        r = run_cli("--sandbox", "deploy", "-f", str(f), "--yes", env=env)
        assert r.returncode == 0, r.stderr
        wait_until(lambda: store.get("web") is not None and st("web").health["primary"].ok
                   is True, timeout=30, what="the first probe tick")
        r = run_cli("--sandbox", "approve", "web", "-f", str(f), "--reason", "early", env=env)
        assert r.returncode == 2 and "web is not waiting for an approval" in r.stderr

        web_p.stop()
        auto_p.stop()
        wait_until(lambda: st("web").phase == "switching"
                   and waiting_step(st("web").pending) == 0,
                   timeout=DETECTION_DEADLINE_S + 30, what="the failover to wait for approval")
        # Several ticks go by; the router does not move while nobody decides.
        first = ticks()
        wait_until(lambda: ticks() >= first + 3, timeout=60, what="three more ticks")
        assert param("web") == web_p.url and st("web").phase == "switching"
        assert waiting_step(st("web").pending) == 0

        r = run_cli("--sandbox", "status", "-f", str(f), "-o", "json", env=env)
        svc = {s["name"]: s for s in json.loads(r.stdout)["services"]}["web"]
        assert svc["state"] == "switching" and svc["severity"] == "at_risk", svc
        assert "waiting for approval (step 1/1)" in svc["reason"]
        assert 'lambdafail approve web --reason "TEXT"' in svc["reason"]

        r = run_cli("--sandbox", "approve", "web", "-f", str(f), "--reason", "replica checked",
                    env=env)
        assert r.returncode == 0, r.stderr
        assert "web: failover step 1 approved" in r.stderr
        r = run_cli("--sandbox", "approve", "web", "-f", str(f), "--reason", "again", env=env)
        assert r.returncode == 2, r.stderr  # decided once: nothing waits any more
        wait_until(lambda: param("web") == standby.url, timeout=60,
                   what="the router to switch once approved")
        wait_until(lambda: st("web").phase == "steady", timeout=30, what="the commit")

        r = run_cli("--sandbox", "history", "web", "-f", str(f), "-o", "json", env=env)
        (move,) = json.loads(r.stdout)["transitions"]
        (step,) = move["recovery"]["steps"]
        assert (step["kind"], step["status"]) == ("approval", "done")
        assert step["output"]["decision"] == "approve"
        assert step["output"]["reason"] == "replica checked"
        assert step["finished_at"] <= move["committed_at"]
        r = run_cli("--sandbox", "history", "-f", str(f), "--kind", "approval", "-o", "json",
                    env=env)
        entries = json.loads(r.stdout)["transitions"]
        assert [(e["service"], e["reason"], e["evidence"]["decision"]) for e in entries] == [
            ("web", "replica checked", "approve")]
        assert entries[0]["evidence"]["transition_id"] == move["transition_id"]

        # Nobody answered `auto`'s approval: after 3 s its plan failed, the router stayed.
        wait_until(lambda: "no approval within 3 s" in (st("auto").blocked or ""),
                   timeout=60, what="the unanswered approval to block the switch")
        assert param("auto") == auto_p.url and st("auto").active == "primary"
        r = run_cli("--sandbox", "status", "-f", str(f), "-o", "json", env=env)
        svc = {s["name"]: s for s in json.loads(r.stdout)["services"]}["auto"]
        assert svc["state"] == "blocked" and "approval" in svc["reason"]

        r = run_cli("--sandbox", "destroy", "-f", str(f), "--yes", env=env)
        assert r.returncode == 0, r.stderr
