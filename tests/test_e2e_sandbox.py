"""End to end through the real CLI: `lambdafail sandbox` in the background, then every on-call
command in its own subprocess against it, with a local HTTP primary that really goes down.

Rule: nothing is mocked or faked: the orchestrator is the deployed zip, run by the sandbox on its
sped-up schedule; the outage is a closed socket; every wait has a deadline derived from the
theoretical detection time (failure_threshold × probe interval at the time scale).
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from conftest import run_cli, wait_until
from lambdafail.model import naming
from lambdafail.runtime.state import StateStore
from lambdafail.sandbox.webservice import WebService
from sandbox_fixtures import PROC_TIME_SCALE, sandbox_topology, state_waiter

TIME_SCALE = PROC_TIME_SCALE
THRESHOLD = 2
PROBE_INTERVAL_S = 60 / TIME_SCALE  # rate(1 minute) at 60×: one tick a second
FLOOR_S = THRESHOLD * PROBE_INTERVAL_S
# Generous on a loaded 2-core machine: each tick is an interpreter start in the sandbox.
DETECTION_DEADLINE_S = 10 * FLOOR_S + 20


def _topology(path: Path, name: str, primary: str, standby: str) -> str:
    return sandbox_topology(path, name, f"""\
  web:
    primary: {{url: "{primary}"}}
    standby: {{url: "{standby}"}}
    signals:
      - alarm: {name}-5xx
      - event: {{source: [shop.web], detail-type: [Server failure]}}
    router: {{ssm_parameter: /{name}/web/active}}
""", THRESHOLD)


def _status(f: str, env: dict[str, str]) -> tuple[int, dict[str, Any]]:
    r = run_cli("--sandbox", "status", "-f", f, "-o", "json", env=env, timeout=60)
    assert r.returncode in (0, 7, 8), r.stderr
    return r.returncode, json.loads(r.stdout)


def _web(doc: dict[str, Any]) -> dict[str, Any]:
    return next(s for s in doc["services"] if s["name"] == "web")


def test_e2e_sandbox_failover_rollback_drill_destroy_through_the_cli(
        tmp_path: Path, sandbox_proc: tuple[subprocess.Popen[str], Path]) -> None:
    proc, state = sandbox_proc
    env = {"LAMBDAFAIL_SANDBOX_STATE": str(state)}
    endpoint = json.loads(state.read_text())["endpoint_url"]
    ssm = boto3.client("ssm", endpoint_url=endpoint, region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing",
                       config=Config(retries={"mode": "standard", "max_attempts": 1}))
    name = f"e2e{uuid.uuid4().hex[:8]}"
    store = StateStore(naming.table_name(name), boto3.client(
        "dynamodb", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing",
        aws_secret_access_key="testing"))
    wait = state_waiter(store, "web")
    with WebService("primary") as primary, WebService("standby") as standby:
        f = _topology(tmp_path / "lambdafail.yaml", name, primary.url, standby.url)

        r = run_cli("--sandbox", "deploy", "-f", f, "--yes", "--allow-missing", env=env)
        assert r.returncode == 0, r.stderr

        # Healthy once the orchestrator's first tick has probed both sides.
        wait(lambda st: st.health["primary"].ok and st.health["standby"].ok, 30,
             "the first probe tick")
        code, doc = _status(f, env)
        assert code == 0, doc
        assert _web(doc)["active"] == "primary"

        # A real outage: the primary's socket closes.
        primary.stop()
        t0 = time.monotonic()
        param = f"/{name}/web/active"
        wait_until(lambda: ssm.get_parameter(Name=param)["Parameter"]["Value"] == standby.url,
                   timeout=DETECTION_DEADLINE_S, interval=0.05,
                   what="the router to switch to the standby")
        switched_after = time.monotonic() - t0
        wait(lambda st: st.active == "standby" and st.phase == "steady", DETECTION_DEADLINE_S,
             "the transition to be committed")
        code, doc = _status(f, env)
        status_after = time.monotonic() - t0
        assert code == 7, doc
        web = _web(doc)
        assert web["active"] == "standby"
        assert web["last_transition"]["reason"] == "probe"
        # The orchestrator names itself by the ARN it was invoked by: the alias.
        actor = web["last_transition"]["actor"]
        assert actor.startswith("arn:aws:lambda:") and actor.endswith("-orchestrator:live"), web
        assert web["reason"] == "on the standby (probe by orchestrator)", web  # the one line
        assert web["primary"]["ok"] is False

        # The primary comes back; the orchestrator sees it; a manual rollback brings traffic back.
        primary.start()
        wait(lambda st: st.health["primary"].ok is True, 30, "the primary probed ok again")
        r = run_cli("--sandbox", "rollback", "web", "-f", f, "--reason", "e2e: primary back",
                    "--yes", env=env)
        assert r.returncode == 0, r.stderr
        assert ssm.get_parameter(Name=param)["Parameter"]["Value"] == primary.url

        r = run_cli("--sandbox", "history", "web", "-f", f, "-o", "json", env=env)
        assert r.returncode == 0, r.stderr
        moves = [(t["from"], t["to"], t["reason"])
                 for t in json.loads(r.stdout)["transitions"]]
        assert moves == [("standby", "primary", "rollback"), ("primary", "standby", "probe")]

        # A full drill on the same service, after the (1 s) cooldown since the rollback.
        wait(lambda st: (st.last_transition_epoch() or 0) + 1 < time.time(), 10, "the cooldown")
        reports = tmp_path / "reports"
        r = run_cli("--sandbox", "drill", "web", "-f", f, "--yes", "--timeout", "30",
                    "--report-dir", str(reports), env=env, timeout=120)
        assert r.returncode == 0, r.stderr
        report = json.loads((reports / "report.json").read_text())
        assert report["grade"]["result"] == "pass"
        for n in ("report.md", "junit.xml", "timeline.svg"):
            assert (reports / n).is_file()
        assert ssm.get_parameter(Name=param)["Parameter"]["Value"] == primary.url

        # The other detection paths, end to end: a "Server failure" event put on the topology
        # bus reaches the orchestrator through its rule; an alarm going to ALARM makes the
        # sandbox emit the CloudWatch state-change event that the alarm rule delivers.
        boto3.client("cloudwatch", endpoint_url=endpoint, region_name="us-east-1",
                     aws_access_key_id="testing", aws_secret_access_key="testing"
                     ).put_metric_alarm(AlarmName=f"{name}-5xx", MetricName="5xx",
                                        Namespace="web", Statistic="Sum", Period=60,
                                        EvaluationPeriods=1, Threshold=1,
                                        ComparisonOperator="GreaterThanThreshold")
        for scenario in ("event", "alarm"):
            wait(lambda st: (st.last_transition_epoch() or 0) + 1 < time.time(), 10,
                 "the cooldown")
            out = tmp_path / scenario
            r = run_cli("--sandbox", "drill", "web", "-f", f, "--yes", "--timeout", "30",
                        "--scenario", scenario, "--report-dir", str(out), env=env, timeout=120)
            assert r.returncode == 0, r.stderr
            assert json.loads((out / "report.json").read_text())["grade"]["result"] == "pass"
        r = run_cli("--sandbox", "history", "web", "-f", f, "-o", "json", env=env)
        reasons = [t["reason"] for t in json.loads(r.stdout)["transitions"]]
        assert reasons[:4] == ["rollback", "drill", "rollback", "drill"], reasons
        transitions = json.loads(r.stdout)["transitions"]
        # The drill's failover and its fail-back carry the drill's id; deploys are in the log too.
        assert transitions[0]["drill_id"] and transitions[0]["drill_id"] == transitions[1][
            "drill_id"], transitions[:2]
        r = run_cli("--sandbox", "history", "web", "-f", f, "-o", "json", "--kind", "all",
                    env=env)
        kinds = {t["kind"] for t in json.loads(r.stdout)["transitions"]}
        assert kinds == {"transition"}  # deploys are topology-wide: not under a service
        r = run_cli("--sandbox", "history", "-f", f, "-o", "json", "--kind", "deploy", env=env)
        deploys = json.loads(r.stdout)["transitions"]
        assert deploys and all(d["actor"].startswith("arn:aws:") for d in deploys)
        assert ssm.get_parameter(Name=param)["Parameter"]["Value"] == primary.url

        r = run_cli("--sandbox", "destroy", "-f", f, "--yes", env=env)
        assert r.returncode == 0, r.stderr

    # The sandbox stops cleanly on Ctrl-C and removes its state file.
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 0
    assert not state.exists()
    print(f"primary down → router switched {switched_after:.2f} s, status exit 7 at "
          f"{status_after:.2f} s (floor {FLOOR_S:g} s)")
