"""`status` and cold standbys, on in-process moto through the real CLI: a standby started by
its failover plan is judged by that plan's readiness (its ECS service exists), not by its being
down; a plan that could not run is `at_risk`; a hot standby that is down still is."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from lambdafail.cli.main import run
from oncall_support import Env, json_out

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
    # Deployed before its ECS service exists (deploy's pre-flight would refuse it otherwise):
    # status must tell whether the plan can run now.
    assert run(["deploy", "-f", str(e.file), "--yes", "--allow-missing", "-o", "json"]) == 0
    ctx = e.ctx()
    e.beat(ctx)
    e.observe(ctx, "checkout", "primary", ok=True)
    e.observe(ctx, "checkout", "standby", ok=False, times=3)  # cold: down until started
    yield e
    e.close()


def _ecs_service() -> Any:
    ecs = boto3.client("ecs", region_name="us-east-1")
    ecs.create_cluster(clusterName="shop")
    ecs.register_task_definition(family="checkout", containerDefinitions=[
        {"name": "app", "image": "checkout:1", "memory": 128}])
    ecs.create_service(cluster="shop", serviceName="checkout-dr", taskDefinition="checkout",
                       desiredCount=0)
    return ecs


def hot_calls(env: Env, capsys: pytest.CaptureFixture[str]) -> int:
    """status's calls for the same topology without the recovery plan."""
    hot = Env.__new__(Env)
    hot.__dict__.update(env.__dict__)
    hot.file = env.file.with_name("hot.yaml")
    hot.file.write_text(env.file.read_text().replace(PLAN, ""))
    _, doc = _status(hot, capsys)
    return int(doc["api_calls"])


def _status(env: Env, capsys: pytest.CaptureFixture[str]) -> tuple[int, Any]:
    capsys.readouterr()
    code = run(["status", "-f", str(env.file), "-o", "json"])
    return code, json_out(capsys.readouterr().out)


def test_a_cold_standby_that_is_down_is_not_at_risk_when_its_plan_is_ready(
        env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    _ecs_service()
    code, doc = _status(env, capsys)
    (svc,) = doc["services"]
    assert svc["standby"]["ok"] is False
    assert code == 0 and svc["state"] == "healthy", svc["reason"]
    assert svc["cold_standby"] == {"ready": True, "problems": []}
    assert svc["reason"] == "cold standby: plan ready"
    # The readiness check is one batched DescribeServices on top of status's own calls.
    assert doc["api_calls"] == hot_calls(env, capsys) + 1


def test_a_cold_standby_whose_plan_could_not_run_is_at_risk(
        env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = _status(env, capsys)  # neither the cluster nor the service exists
    (svc,) = doc["services"]
    assert code == 8 and svc["state"] == "at_risk"
    assert svc["cold_standby"]["ready"] is False
    assert "cold standby: plan cannot run: ecs cluster shop not found" in svc["reason"]
    boto3.client("ecs", region_name="us-east-1").create_cluster(clusterName="shop")
    code, doc = _status(env, capsys)  # the cluster now, but not the service its plan scales
    (svc,) = doc["services"]
    assert code == 8
    assert "cold standby: plan cannot run: ecs service shop/checkout-dr not found" in svc["reason"]


def test_a_hot_standby_that_is_down_is_still_at_risk(
        mocked_aws: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    e = Env(tmp_path)
    try:
        assert run(["deploy", "-f", str(e.file), "--yes", "-o", "json"]) == 0
        ctx = e.ctx()
        e.beat(ctx)
        e.observe(ctx, "checkout", "primary", ok=True)
        e.observe(ctx, "checkout", "standby", ok=False, times=3)
        code, doc = _status(e, capsys)
        (svc,) = doc["services"]
        assert code == 8 and svc["state"] == "at_risk" and svc["cold_standby"] is None
        assert svc["reason"].startswith("standby down")
    finally:
        e.close()
