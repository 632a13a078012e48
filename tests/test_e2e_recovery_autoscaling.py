"""End to end through the real CLI on the sandbox: an `autoscaling` failover step sizes an Auto
Scaling group (moto's, in the sandbox) before the router switches, and the failback step, run
by `lambdafail rollback` from the operator's machine, sizes it back to zero.

Rule: nothing is mocked: `lambdafail sandbox` runs in the background, the orchestrator is the
deployed zip calling the sandbox's Auto Scaling API; the targets are real HTTP servers on
loopback. Every wait has a deadline.
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from conftest import run_cli, wait_until
from lambdafail.model import naming
from lambdafail.runtime.state import ServiceState, StateStore
from lambdafail.sandbox.webservice import WebService
from sandbox_fixtures import sandbox_topology
from test_e2e_sandbox import DETECTION_DEADLINE_S


def _client(service: str, endpoint: str) -> Any:
    return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1",  # type: ignore[call-overload]
                        aws_access_key_id="testing", aws_secret_access_key="testing",
                        config=Config(retries={"mode": "standard", "max_attempts": 1}))


def test_e2e_an_autoscaling_step_sizes_the_group_before_the_switch_and_back_after(
        tmp_path: Path, sandbox_proc: tuple[subprocess.Popen[str], Path]) -> None:
    _proc, state = sandbox_proc
    env = {"LAMBDAFAIL_SANDBOX_STATE": str(state)}
    endpoint = json.loads(state.read_text())["endpoint_url"]
    name = f"asg{uuid.uuid4().hex[:8]}"
    group = f"{name}-web-dr"
    asg = _client("autoscaling", endpoint)
    asg.create_launch_configuration(LaunchConfigurationName=group, ImageId="ami-12345678",
                                    InstanceType="t3.micro")
    asg.create_auto_scaling_group(AutoScalingGroupName=group, LaunchConfigurationName=group,
                                  MinSize=0, MaxSize=1, DesiredCapacity=0,
                                  AvailabilityZones=["us-east-1a"])
    store = StateStore(naming.table_name(name), _client("dynamodb", endpoint))
    ssm = _client("ssm", endpoint)
    param = f"/{name}/web/active"

    def sizes() -> tuple[int, int, int, int]:
        g = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[group])[
            "AutoScalingGroups"][0]
        in_service = sum(1 for i in g["Instances"] if i["LifecycleState"] == "InService")
        return int(g["MinSize"]), int(g["DesiredCapacity"]), int(g["MaxSize"]), in_service

    def state_of() -> ServiceState:
        st = store.get("web")
        assert st is not None
        return st

    with WebService("primary") as primary, WebService("standby") as standby:
        f = tmp_path / "lambdafail.yaml"
        sandbox_topology(f, name, f"""\
  web:
    primary: {{url: "{primary.url}"}}
    standby: {{url: "{standby.url}"}}
    router: {{ssm_parameter: {param}}}
    recovery:
      failover:
        - autoscaling: {{group: {group}, desired: 2, max: 3, every_seconds: 6}}
        - wait: {{healthy: 1, every_seconds: 6, timeout_seconds: 30}}
      failback:
        - autoscaling: {{group: {group}, desired: 0, every_seconds: 6}}
""", rto_seconds=60)
        r = run_cli("--sandbox", "validate", "-f", str(f), env=env)
        assert r.returncode == 0, r.stderr
        r = run_cli("--sandbox", "plan", "-f", str(f), "-o", "json", env=env)
        assert r.returncode in (0, 4), r.stderr
        (item,) = [c for c in json.loads(r.stdout)["changes"]
                   if (c["kind"], c["name"]) == ("item", "web")]
        assert (f"1. autoscaling {group} desired 2 (min 2, max 3; until 2 InService)"
                in item["note"])
        r = run_cli("--sandbox", "deploy", "-f", str(f), "--yes", env=env)
        assert r.returncode == 0, r.stderr
        wait_until(lambda: store.get("web") is not None and state_of().health["primary"].ok,
                   timeout=30, what="the first probe tick")
        assert sizes() == (0, 0, 1, 0)

        primary.stop()
        t0 = time.monotonic()
        wait_until(lambda: ssm.get_parameter(Name=param)["Parameter"]["Value"] == standby.url,
                   timeout=DETECTION_DEADLINE_S + 30, interval=0.05,
                   what="the router to switch after the group was sized")
        switched_after = time.monotonic() - t0
        wait_until(lambda: state_of().phase == "steady" and state_of().active == "standby",
                   timeout=30, what="the transition to be committed")
        assert sizes() == (2, 2, 3, 2)
        r = run_cli("--sandbox", "history", "web", "-f", str(f), "-o", "json", env=env)
        assert r.returncode == 0, r.stderr
        (move,) = json.loads(r.stdout)["transitions"]
        steps = move["recovery"]["steps"]
        assert [(s["kind"], s["status"]) for s in steps] == [("autoscaling", "done"),
                                                             ("wait", "done")]
        assert steps[0]["output"] == {"desired": 2, "in_service": 2}
        assert steps[0]["finished_at"] <= steps[1]["started_at"] <= move["committed_at"]

        # Traffic home by hand: the failback plan runs from the operator's machine.
        primary.start()
        r = run_cli("--sandbox", "rollback", "web", "-f", str(f), "--reason", "primary back",
                    "--force", "--yes", env=env)
        assert r.returncode == 0, r.stdout + r.stderr
        assert ssm.get_parameter(Name=param)["Parameter"]["Value"] == primary.url
        assert sizes() == (0, 0, 3, 0)
        r = run_cli("--sandbox", "history", "web", "-f", str(f), "-o", "json", env=env)
        back = json.loads(r.stdout)["transitions"][0]
        assert back["to"] == "primary" and back["recovery"]["plan"] == "failback"
        assert [(s["kind"], s["status"]) for s in back["recovery"]["steps"]] == [
            ("autoscaling", "done")]

        r = run_cli("--sandbox", "destroy", "-f", str(f), "--yes", env=env)
        assert r.returncode == 0, r.stderr
        print(f"primary down → router on the sized standby {switched_after:.2f} s "
              f"(autoscaling {steps[0]['duration_s']:.2f} s, wait {steps[1]['duration_s']:.2f} s)")
