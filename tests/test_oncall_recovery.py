"""`lambdafail failover` runs a service's recovery plan with the operator's credentials, on
in-process moto (ECS, SSM, DynamoDB) with live loopback targets: the steps before the switch,
and a failing `wait` that leaves the router where it was (exit 6)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from lambdafail.cli.main import run
from oncall_support import Env, json_out


@pytest.fixture(autouse=True)
def _wide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")


def _ecs() -> Any:
    ecs = boto3.client("ecs", region_name="us-east-1")
    ecs.create_cluster(clusterName="shop")
    ecs.register_task_definition(family="checkout", containerDefinitions=[
        {"name": "app", "image": "checkout:1", "memory": 128}])
    ecs.create_service(cluster="shop", serviceName="checkout-dr", taskDefinition="checkout",
                       desiredCount=0)
    return ecs


PLAN = """\
    recovery:
      failover:
        - ecs: {cluster: shop, service: checkout-dr, desired: 2}
        - wait: {healthy: 2, every_seconds: 0.1, timeout_seconds: 2}
"""


@pytest.fixture
def env(mocked_aws: None, tmp_path: Path) -> Iterator[Env]:
    e = Env(tmp_path)
    e.file.write_text(e.file.read_text() + PLAN)
    # The ECS service is created by each test, after the deploy.
    assert run(["deploy", "-f", str(e.file), "--yes", "--allow-missing", "-o", "json"]) == 0
    yield e
    e.close()


def _running(ecs: Any) -> tuple[int, int]:
    svc = ecs.describe_services(cluster="shop", services=["checkout-dr"])["services"][0]
    return int(svc["desiredCount"]), int(svc["runningCount"])


def _param(env: Env) -> str:
    return str(env.ctx().client("ssm").get_parameter(
        Name=f"/{env.name}/checkout/active")["Parameter"]["Value"])


def test_manual_failover_runs_the_plan_then_switches(
        env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    ecs = _ecs()
    capsys.readouterr()
    assert run(["failover", "-f", str(env.file), "checkout", "--reason", "DR test", "--yes",
                "-o", "json"]) == 0
    doc = json_out(capsys.readouterr().out)
    assert doc["outcome"] == "switched" and doc["verified"]
    assert _running(ecs) == (2, 2)
    assert _param(env) == env.web[("checkout", "standby")].url
    assert run(["history", "-f", str(env.file), "checkout", "-o", "json"]) == 0
    (move,) = json_out(capsys.readouterr().out)["transitions"]
    assert [(s["kind"], s["status"]) for s in move["recovery"]["steps"]] == [
        ("ecs", "done"), ("wait", "done")]


def test_manual_failover_whose_wait_times_out_leaves_traffic_where_it_was(
        env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    ecs = _ecs()
    env.web[("checkout", "standby")].stop()  # the tasks "run" but the standby never answers
    capsys.readouterr()
    # A cold standby is not refused up front: its plan's `wait` judges it.
    code = run(["failover", "-f", str(env.file), "checkout", "--reason", "DR test", "--yes"])
    err = capsys.readouterr().err
    assert code == 6, err
    assert "recovery failed: failover step 2/2 (wait)" in err
    assert _running(ecs) == (2, 2)
    assert _param(env) == env.web[("checkout", "primary")].url
    st = env.store(env.ctx()).get("checkout")
    assert st.phase == "steady" and st.active == "primary"
    assert (st.blocked or "").startswith("recovery failed")
