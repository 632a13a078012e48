"""End to end through the real CLI: a cold standby started by a recovery plan on the sandbox.

Rule: nothing is mocked: `lambdafail sandbox` runs in the background; the orchestrator is the
deployed zip; the step function is a real Python zip the sandbox runs (cue `run`), which starts
the standby — a real HTTP server on loopback, down (connection refused) until then; the `wait`
step probes it; only then does the router switch. Every wait has a deadline.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

import boto3
from botocore.config import Config

from conftest import run_cli, wait_until
from lambdafail.model import naming
from lambdafail.runtime.state import ServiceState, StateStore
from lambdafail.sandbox.webservice import WebService
from sandbox_fixtures import sandbox_topology
from sandbox_support import make_zip
from test_e2e_sandbox import DETECTION_DEADLINE_S

# The step function: starts the standby (python -m http.server) once per idempotency key.
START_STANDBY = '''\
import os, subprocess, sys


def handle(event, context):
    key = event["lambdafail"]["idempotency_key"]
    with open(os.path.join(event["dir"], "invocations"), "a") as f:
        f.write(key + "\\n")
    marker = os.path.join(event["dir"], "started-" + key)
    if os.path.exists(marker):
        return {"already_started": True}
    proc = subprocess.Popen(
        [sys.executable, "-I", "-m", "http.server", str(event["port"]), "--bind", "127.0.0.1",
         "--directory", event["dir"]],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    with open(marker, "w") as f:
        f.write(str(proc.pid))
    return {"started_pid": proc.pid}
'''


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _client(service: str, endpoint: str) -> object:
    return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing",
                        config=Config(retries={"mode": "standard", "max_attempts": 1}))


def test_e2e_cold_standby_is_started_by_its_plan_before_the_router_switches(
        tmp_path: Path, sandbox_proc: tuple[subprocess.Popen[str], Path]) -> None:
    _proc, state = sandbox_proc
    env = {"LAMBDAFAIL_SANDBOX_STATE": str(state)}
    endpoint = json.loads(state.read_text())["endpoint_url"]
    name = f"cold{uuid.uuid4().hex[:8]}"
    fn = f"{name}-start-standby"
    standby_dir = tmp_path / "standby"
    standby_dir.mkdir()
    port = _free_port()
    standby_url = f"http://127.0.0.1:{port}/"
    lam = _client("lambda", endpoint)
    iam = _client("iam", endpoint)
    role = iam.create_role(RoleName=f"{name}-steps",  # type: ignore[attr-defined]
                           AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    lam.create_function(  # type: ignore[attr-defined]
        FunctionName=fn, Runtime="python3.12", Role=role, Handler="start.handle",
        Code={"ZipFile": make_zip({"start.py": START_STANDBY})}, Timeout=10,
        Environment={"Variables": {"LAMBDAFAIL_SANDBOX_RESPONSE": "run"}})
    store = StateStore(naming.table_name(name), _client("dynamodb", endpoint))
    ssm = _client("ssm", endpoint)
    param = f"/{name}/web/active"

    def state_of() -> ServiceState:
        st = store.get("web")
        assert st is not None
        return st

    try:
        with WebService("primary") as primary:
            f = tmp_path / "lambdafail.yaml"
            sandbox_topology(f, name, f"""\
  web:
    primary: {{url: "{primary.url}"}}
    standby: {{url: "{standby_url}"}}
    router: {{ssm_parameter: {param}}}
    recovery:
      failover:
        - lambda: {{function: {fn}, payload: {{port: {port}, dir: "{standby_dir}"}},
                   timeout_seconds: 10}}
        - wait: {{healthy: 2, every_seconds: 6, timeout_seconds: 30}}
""", rto_seconds=60)
            r = run_cli("--sandbox", "validate", "-f", str(f), env=env)
            assert r.returncode == 0, r.stderr
            r = run_cli("--sandbox", "plan", "-f", str(f), "-o", "json", env=env)
            assert r.returncode in (0, 4), r.stderr
            (item,) = [c for c in json.loads(r.stdout)["changes"]
                       if (c["kind"], c["name"]) == ("item", "web")]
            assert item["note"].startswith("failover steps (before the switch): 1. lambda " + fn)
            assert "2. wait until the standby is healthy 2× in a row" in item["note"]
            r = run_cli("--sandbox", "deploy", "-f", str(f), "--yes", env=env)
            assert r.returncode == 0, r.stderr

            # The first tick: the primary is up; the cold standby is down, and stays down.
            wait_until(lambda: store.get("web") is not None
                       and state_of().health["standby"].ok is False
                       and state_of().health["primary"].ok is True,
                       timeout=30, what="the first probe tick")
            assert not (standby_dir / "invocations").exists()

            primary.stop()
            t0 = time.monotonic()
            wait_until(lambda: ssm.get_parameter(  # type: ignore[attr-defined]
                Name=param)["Parameter"]["Value"] == standby_url,
                timeout=DETECTION_DEADLINE_S + 30, interval=0.05,
                what="the router to switch to the started standby")
            switched_after = time.monotonic() - t0
            wait_until(lambda: state_of().phase == "steady" and state_of().active == "standby",
                       timeout=30, what="the transition to be committed")

            r = run_cli("--sandbox", "history", "web", "-f", str(f), "-o", "json", env=env)
            assert r.returncode == 0, r.stderr
            (move,) = json.loads(r.stdout)["transitions"]
            assert (move["from"], move["to"]) == ("primary", "standby")
            steps = move["recovery"]["steps"]
            assert [(s["kind"], s["status"]) for s in steps] == [("lambda", "done"),
                                                                 ("wait", "done")]
            # In order: the function ran, then the wait saw the standby, then the commit.
            assert steps[0]["finished_at"] <= steps[1]["started_at"]
            assert steps[1]["finished_at"] <= move["committed_at"]
            assert steps[1]["output"]["healthy_probes"] == 2
            key = steps[0]["output"]["idempotency_key"]
            assert key == f"{move['transition_id']}-0"
            # The step ran exactly once.
            assert (standby_dir / "invocations").read_text().split() == [key]
            r = run_cli("--sandbox", "history", "web", "-f", str(f), env={**env, "COLUMNS": "200"})
            assert r.returncode == 0, r.stderr
            assert "failover: lambda" in r.stdout and "wait" in r.stdout

            r = run_cli("--sandbox", "destroy", "-f", str(f), "--yes", env=env)
            assert r.returncode == 0, r.stderr
            durations = ", ".join(f"{s['kind']} {s['duration_s']:.2f} s" for s in steps)
            print(f"primary down → router on the started standby {switched_after:.2f} s "
                  f"(steps: {durations})")
    finally:
        for marker in standby_dir.glob("started-*"):
            os.kill(int(marker.read_text()), signal.SIGTERM)
