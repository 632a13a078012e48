"""`lambdafail sandbox --enforce-iam`: the CLI and the orchestrator work with exactly the
permissions lambdafail documents, and a missing one fails as on AWS.

Rule: identities are IAM users created in the sandbox holding exactly what `permissions -o
json` prints (one per role: deploy, oncall, drill); the orchestrator runs with its role's
session credentials. The loop is the real CLI in subprocesses.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import run_cli, wait_until
from lambdafail.model import naming
from lambdafail.runtime.state import StateStore
from lambdafail.sandbox.server import Sandbox
from lambdafail.sandbox.webservice import WebService
from sandbox_fixtures import sandbox_topology
from sandbox_support import Clients, iam_user, uid
from test_e2e_sandbox import THRESHOLD

ACCOUNT = "123456789012"


def _topology(path: Path, name: str, primary: str, standby: str) -> str:
    """test_e2e_sandbox's topology; its event signal names the drilling user as a sender."""
    return sandbox_topology(path, name, f"""\
  web:
    primary: {{url: "{primary}"}}
    standby: {{url: "{standby}"}}
    signals:
      - alarm: {name}-5xx
      - event: {{source: [shop.web], detail-type: [Server failure]}}
        senders: ["arn:aws:iam::{ACCOUNT}:user/{name}-drill"]
    router: {{ssm_parameter: /{name}/web/active}}
""", THRESHOLD)


def _policies(f: str, env: dict[str, str]) -> dict[str, Any]:
    r = run_cli("--sandbox", "permissions", "-f", f, "-o", "json", env=env)
    assert r.returncode == 0, r.stderr
    return dict(json.loads(r.stdout))


def _without(doc: dict[str, Any], action: str) -> dict[str, Any]:
    statements = []
    for st in doc["Statement"]:
        acts = [a for a in (st["Action"] if isinstance(st["Action"], list) else [st["Action"]])
                if a != action]
        if acts:
            statements.append({**st, "Action": acts})
    return {**doc, "Statement": statements}


@pytest.mark.slow
def test_the_loop_runs_with_exactly_the_printed_permissions(
        tmp_path: Path, enforced_sandbox: Sandbox) -> None:
    sandbox = enforced_sandbox
    name = uid("iam").replace("-", "")[:20]
    base = {"LAMBDAFAIL_SANDBOX_STATE": str(sandbox.state_file)}
    root = Clients(sandbox.endpoint_url)
    store = StateStore(naming.table_name(name), root("dynamodb"))

    def cli(who: dict[str, str], *args: str, ok: tuple[int, ...] = (0,)) -> str:
        r = run_cli("--sandbox", *args, env={**base, **who}, timeout=180)
        assert r.returncode in ok, (args, r.returncode, r.stderr)
        return r.stderr

    def cooled() -> bool:
        st = store.get("web")
        return st is not None and (st.last_transition_epoch() or 0) + 1 < time.time()

    with WebService("primary") as primary, WebService("standby") as standby:
        f = _topology(tmp_path / "lambdafail.yaml", name, primary.url, standby.url)
        docs = _policies(f, base)
        users = {role: iam_user(root, f"{name}-{role}", doc) for role, doc in docs.items()}
        # The alarm the topology watches exists, as plan's pre-flight expects (and reads).
        root("cloudwatch").put_metric_alarm(
            AlarmName=f"{name}-5xx", MetricName="5xx", Namespace="web", Statistic="Sum",
            Period=60, EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanThreshold")

        cli(users["deploy"], "plan", "-f", f, ok=(0, 4))
        cli(users["deploy"], "deploy", "-f", f, "--yes")
        # A deliberately removed action is refused, with the hint naming it (a later deploy
        # reads the function's ownership tags).
        short = iam_user(root, f"{name}-short", _without(docs["deploy"], "lambda:ListTags"))
        r = run_cli("--sandbox", "deploy", "-f", f, "--yes", env={**base, **short},
                    timeout=180)
        assert r.returncode != 0
        assert "AccessDenied" in r.stderr and "lambda:ListTags" in r.stderr, r.stderr
        assert "docs/permissions.md" in r.stderr
        assert any("lambda:ListTags" in m for m in sandbox.enforcer.refused)  # type: ignore[union-attr]
        cli(users["deploy"], "deploy", "-f", f, "--yes")  # reads everything back
        # The orchestrator's ticks run as its role and may do all they need.
        wait_until(lambda: (st := store.get("web")) is not None and st.health["standby"].ok,
                   timeout=90, what="the first probe tick under the orchestrator's role")
        cli(users["oncall"], "status", "-f", f, ok=(0, 7))
        cli(users["oncall"], "failover", "web", "-f", f, "--reason", "iam", "--yes")
        wait_until(cooled, timeout=10, what="the cooldown")
        cli(users["oncall"], "rollback", "web", "-f", f, "--reason", "iam", "--yes")
        cli(users["oncall"], "history", "web", "-f", f)
        # A forged failure event: allowed events:PutEvents everywhere by its own policy, a
        # principal that is not a sender is refused by the bus policy's explicit Deny.
        forger = iam_user(root, f"{name}-forger", {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "events:PutEvents", "Resource": "*"}]})
        ev = boto3.client("events", region_name="us-east-1", endpoint_url=sandbox.endpoint_url,
                          aws_access_key_id=forger["AWS_ACCESS_KEY_ID"],
                          aws_secret_access_key=forger["AWS_SECRET_ACCESS_KEY"],
                          config=Config(retries={"mode": "standard", "max_attempts": 1}))
        entry = {"Source": "shop.web", "DetailType": "Server failure", "Detail": "{}",
                 "EventBusName": naming.bus_name(name)}
        with pytest.raises(ClientError) as denied_put:
            ev.put_events(Entries=[entry])
        assert denied_put.value.response["Error"]["Code"] == "AccessDeniedException"
        assert "explicit deny in a resource-based policy" in str(denied_put.value)
        ev.put_events(Entries=[{**entry, "Source": "shop.unwatched"}])  # nothing listens
        wait_until(cooled, timeout=10, what="the cooldown")
        # The drill policy without being a sender: the bus refuses the drill's event, and the
        # hint says why.
        outsider = iam_user(root, f"{name}-outsider", docs["drill"])
        r = run_cli("--sandbox", "drill", "web", "-f", f, "--yes", "--timeout", "30",
                    "--scenario", "event", "--report-dir", str(tmp_path / "refused"),
                    env={**base, **outsider}, timeout=180)
        assert r.returncode != 0
        assert "AccessDenied" in r.stderr and "`senders`" in " ".join(r.stderr.split()), r.stderr
        wait_until(cooled, timeout=10, what="the cooldown")
        cli(users["drill"], "drill", "web", "-f", f, "--yes", "--timeout", "30", "--scenario",
            "event", "--report-dir", str(tmp_path / "report"))
        # The drill's event reached the orchestrator, which recorded what it can see of the
        # sender (EventBridge names the account, not the principal).
        drilled = [i["evidence"] for i in store.log("web", kind="transition")
                   if isinstance(i.get("evidence"), dict) and i["evidence"].get("event_id")]
        assert drilled, store.log("web")
        assert drilled[-1]["account"] == ACCOUNT and drilled[-1]["source"] == "shop.web", drilled
        # On-call may not deploy.
        r = run_cli("--sandbox", "destroy", "-f", f, "--yes", env={**base, **users["oncall"]},
                    timeout=120)
        assert r.returncode != 0 and "AccessDenied" in r.stderr, r.stderr
        cli(users["deploy"], "destroy", "-f", f, "--yes", "--delete-state")

    allowed = sandbox.enforcer.allowed  # type: ignore[union-attr]
    print(allowed)
    role = f"arn:aws:iam::123456789012:role/{naming.role_name(name)}"
    assert allowed.get(role, 0) > 10, allowed  # the orchestrator signed as its role
    for who in ("deploy", "oncall", "drill"):
        assert allowed.get(f"arn:aws:iam::123456789012:user/{name}-{who}", 0) > 0, who
    denied = [m for m in sandbox.enforcer.refused  # type: ignore[union-attr]
              if not any(f"{name}-{who}" in m for who in ("short", "oncall", "forger", "outsider"))]
    assert denied == [], denied


def test_the_sandbox_command_enforces_iam_for_the_cli(tmp_path: Path) -> None:
    """`lambdafail sandbox --enforce-iam` (the real command): the state file says so, and the
    CLI then signs with the caller's own keys: `testing` is root, an unknown key is refused."""
    import os
    import signal
    import subprocess
    import sys

    from conftest import CONFIGS

    state = tmp_path / "sandbox.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "lambdafail", "sandbox", "--enforce-iam", "--state-file",
         str(state)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env=dict(os.environ))
    try:
        wait_until(lambda: state.exists() or proc.poll() is not None, timeout=30,
                   what="the sandbox's state file")
        assert proc.poll() is None
        assert json.loads(state.read_text())["enforce_iam"] is True
        env = {"LAMBDAFAIL_SANDBOX_STATE": str(state)}
        f = str(CONFIGS / "multi.yaml")
        r = run_cli("--sandbox", "permissions", "-f", f, "--for", "oncall", "-o", "json",
                    env=env)
        assert r.returncode == 0, r.stderr  # root may call STS
        r = run_cli("--sandbox", "permissions", "-f", f, env={
            **env, "AWS_ACCESS_KEY_ID": "AKIANOSUCHKEY", "AWS_SESSION_TOKEN": ""})
        assert r.returncode != 0
        assert "InvalidClientTokenId" in r.stderr and "lambdafail: hint:" in r.stderr, r.stderr
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
