"""The autoscaling, ec2, lambda_concurrency and aurora step kinds without I/O: validate's errors
(with file:line), the compiled steps, the orchestrator's IAM scoped to the named resources,
the operators' permissions and the plan lines."""

from __future__ import annotations

from typing import Any

import pytest

from lambdafail.base.errors import TopologyError
from lambdafail.deploy import permissions
from lambdafail.deploy.iam import Where, orchestrator_policy
from lambdafail.deploy.planner import recovery_note
from lambdafail.model.loader import load_text
from lambdafail.model.topology import compile_topology
from test_recovery_pure import topo

WHERE = Where("aws", "us-east-1", "123456789012")
ARN = "arn:aws:rds:us-west-2:123456789012:cluster:shop-west"
WAIT: dict[str, Any] = {"wait": {}}


def compiled(recovery: dict[str, Any]) -> dict[str, Any]:
    return dict(compile_topology(topo(recovery)))


def statements(recovery: dict[str, Any], role: str | None = None) -> dict[str, dict[str, Any]]:
    doc = (orchestrator_policy(compiled(recovery), WHERE) if role is None
           else permissions.operator_policy(compiled(recovery), WHERE, role))
    return {s["Sid"]: s for s in doc["Statement"]}


@pytest.mark.parametrize(("step", "message"), [
    ({"autoscaling": {"group": "web-dr", "desired": 2, "min": 3}}, "min 3 is above desired 2"),
    ({"autoscaling": {"group": "web-dr", "desired": 4, "max": 3}}, "max 3 is below desired 4"),
    ({"autoscaling": {"group": "web*", "desired": 1}}, "not an Auto Scaling group name"),
    ({"autoscaling": {"group": "web-dr"}}, "Field required"),
    ({"ec2": {"instances": []}}, "at least 1 item"),
    ({"ec2": {"instances": ["i-123"]}}, "not an EC2 instance id"),
    ({"ec2": {"instances": ["i-0123456789abcdef0", "i-0123456789abcdef0"]}},
     "an instance is listed twice"),
    ({"ec2": {"instances": ["i-01234567"], "state": "terminated"}}, "'running' or 'stopped'"),
    ({"lambda_concurrency": {"function": "api", "qualifier": "$LATEST", "concurrency": 5}},
     "AWS does not provision concurrency on $LATEST"),
    ({"lambda_concurrency": {"function": "api:live", "qualifier": "live", "concurrency": 5}},
     "put the alias or version in `qualifier`"),
    ({"lambda_concurrency": {"function": "api", "qualifier": "live", "concurrency": -1}},
     "greater than or equal to 0"),
    ({"aurora": {"global_cluster": "shop", "target": "shop-west"}}, "not a DB cluster ARN"),
    ({"aurora": {"global_cluster": "-shop", "target": ARN}}, "not a global cluster identifier"),
    ({"aurora": {"global_cluster": "shop", "target": ARN, "mode": "failover"}},
     "set `allow_data_loss: true`"),
    ({"aurora": {"global_cluster": "shop", "target": ARN, "allow_data_loss": True}},
     "`allow_data_loss` is for `mode: failover`"),
])
def test_validate_refuses_bad_steps(step: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as info:
        topo({"failover": [step, WAIT]})
    assert message in str(info.value)


@pytest.mark.parametrize("step", [
    {"autoscaling": {"group": "web-dr", "desired": 2}},
    {"ec2": {"instances": ["i-0123456789abcdef0"]}},
    {"aurora": {"global_cluster": "shop", "target": ARN}},
])
def test_a_step_that_starts_the_standby_needs_a_wait_after_it(step: dict[str, Any]) -> None:
    kind = next(iter(step))
    with pytest.raises(ValueError, match=rf"step 1 \({kind}\) starts the standby but no "):
        topo({"failover": [step]})


def test_steps_that_start_nothing_need_no_wait() -> None:
    topo({"failover": [
        {"autoscaling": {"group": "web-dr", "desired": 0}},
        {"ec2": {"instances": ["i-01234567"], "state": "stopped"}},
        {"lambda_concurrency": {"function": "api", "qualifier": "live", "concurrency": 10}}]})


YAML = """\
name: shop
services:
  checkout:
    primary: {url: "https://a.example.com/h"}
    standby: {url: "https://b.example.com/h"}
    router: {ssm_parameter: /shop/checkout/active}
    recovery:
      failover:
        - autoscaling: {group: web-dr, desired: 2, max: 1}
        - ec2: {instances: [i-123]}
        - wait: {}
      failback:
        - lambda_concurrency: {function: api, qualifier: live, concurency: 0}
"""


def test_validate_locates_step_problems_at_file_line() -> None:
    with pytest.raises(TopologyError) as info:
        load_text(YAML, "t.yaml")
    got = [(p.path, p.line) for p in info.value.problems]
    assert ("services.checkout.recovery.failover[0].autoscaling", 9) in got
    assert ("services.checkout.recovery.failover[1].ec2.instances", 10) in got
    assert ("services.checkout.recovery.failback[0].lambda_concurrency.concurency", 13) in got
    typo = next(p for p in info.value.problems if p.path.endswith("concurency"))
    assert "concurrency" in (typo.hint or "")


PLAN: dict[str, Any] = {
    "failover": [
        {"lambda_concurrency": {"function": "api", "qualifier": "live", "concurrency": 20}},
        {"aurora": {"global_cluster": "Shop", "target": ARN}},
        {"autoscaling": {"group": "web-dr", "desired": 2, "max": 4}},
        {"ec2": {"instances": ["i-0123456789abcdef0", "i-01234567"]}},
        WAIT],
    "failback": [
        {"autoscaling": {"group": "web-dr", "desired": 0}},
        {"ec2": {"instances": ["i-01234567"], "state": "stopped"}},
        {"lambda_concurrency": {"function": "api", "qualifier": "live", "concurrency": 0}},
        {"aurora": {"global_cluster": "shop", "mode": "failover", "allow_data_loss": True,
                    "target": "arn:aws:rds:us-east-1:123456789012:cluster:shop-east"}}]}


def test_the_steps_compile_with_every_field() -> None:
    rec = compiled(PLAN)["services"]["checkout"]["recovery"]
    assert rec["failover"][0] == {"kind": "lambda_concurrency", "function": "api",
                                  "qualifier": "live", "concurrency": 20, "every_seconds": 10,
                                  "timeout_seconds": 600, "retries": 0}
    assert rec["failover"][1] == {"kind": "aurora", "global_cluster": "Shop", "target": ARN,
                                  "mode": "switchover", "allow_data_loss": False,
                                  "every_seconds": 15, "timeout_seconds": 900, "retries": 0}
    assert rec["failover"][2] == {"kind": "autoscaling", "group": "web-dr", "desired": 2,
                                  "min": 2, "max": 4, "every_seconds": 10,
                                  "timeout_seconds": 600, "retries": 0}
    assert rec["failback"][0]["min"] == 0 and rec["failback"][0]["max"] is None
    assert rec["failback"][1] == {"kind": "ec2", "instances": ["i-01234567"],
                                  "state": "stopped", "every_seconds": 5,
                                  "timeout_seconds": 300, "retries": 0}


def test_the_orchestrator_may_act_on_exactly_the_named_resources() -> None:
    st = statements(PLAN)
    assert st["RecoveryAutoScalingGroups"]["Action"] == ["autoscaling:UpdateAutoScalingGroup"]
    assert st["RecoveryAutoScalingGroups"]["Resource"] == (
        "arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:*:"
        "autoScalingGroupName/web-dr")
    assert st["RecoveryAutoScalingDescribe"]["Resource"] == "*"
    assert st["RecoveryEc2Start"]["Resource"] == [
        "arn:aws:ec2:us-east-1:123456789012:instance/i-01234567",
        "arn:aws:ec2:us-east-1:123456789012:instance/i-0123456789abcdef0"]
    # Only the instance the failback stops may be stopped.
    assert st["RecoveryEc2Stop"]["Resource"] == (
        "arn:aws:ec2:us-east-1:123456789012:instance/i-01234567")
    assert st["RecoveryEc2Describe"] == {"Sid": "RecoveryEc2Describe", "Effect": "Allow",
                                         "Action": ["ec2:DescribeInstances"], "Resource": "*"}
    assert st["RecoveryLambdaConcurrency"]["Resource"] == (
        "arn:aws:lambda:us-east-1:123456789012:function:api:live")
    # The global cluster's ARN has no region; identifiers are lower case in ARNs.
    assert st["RecoveryAuroraSwitchover"]["Resource"] == [
        "arn:aws:rds::123456789012:global-cluster:shop", ARN]
    assert st["RecoveryAuroraFailover"]["Action"] == ["rds:FailoverGlobalCluster"]
    assert st["RecoveryAuroraDescribe"]["Resource"] == (
        "arn:aws:rds::123456789012:global-cluster:shop")


def test_a_topology_without_such_steps_grants_none_of_it() -> None:
    sids = set(statements({})) | set(statements({}, "oncall"))
    assert not {s for s in sids if s.startswith(("RecoveryAuto", "RecoveryEc2",
                                                 "RecoveryLambda", "RecoveryAurora"))}
    # A switchover-only plan may not fail over with data loss.
    only = {"failover": [{"aurora": {"global_cluster": "shop", "target": ARN}}, WAIT]}
    assert "RecoveryAuroraFailover" not in statements(only)
    assert "RecoveryAuroraFailover" not in statements(only, "drill")


def test_operators_get_the_same_scopes_as_the_orchestrator() -> None:
    mine, theirs = statements(PLAN), statements(PLAN, "oncall")
    for sid in ("RecoveryAutoScalingGroups", "RecoveryAutoScalingDescribe", "RecoveryEc2Start",
                "RecoveryEc2Stop", "RecoveryEc2Describe", "RecoveryAuroraSwitchover",
                "RecoveryAuroraFailover", "RecoveryAuroraDescribe"):
        assert theirs[sid]["Resource"] == mine[sid]["Resource"], sid
        assert theirs[sid]["Action"] == mine[sid]["Action"], sid
    assert theirs["RecoveryLambdaConcurrency"]["Action"] == mine[
        "RecoveryLambdaConcurrency"]["Action"]
    assert permissions.allows(statements_doc := permissions.operator_policy(
        compiled(PLAN), WHERE, "drill"), "rds:SwitchoverGlobalCluster")
    assert len({s["Sid"] for s in statements_doc["Statement"]}) == len(
        statements_doc["Statement"])


def test_plan_lines_show_the_steps() -> None:
    note = recovery_note(compiled(PLAN)["services"]["checkout"])
    assert "1. lambda_concurrency api:live provisioned 20 (until READY)" in note
    assert f"2. aurora switchover of Shop to {ARN} (until it is the writer)" in note
    assert "3. autoscaling web-dr desired 2 (min 2, max 4; until 2 InService)" in note
    assert "4. ec2 start i-0123456789abcdef0, i-01234567 (until running)" in note
    assert "2. ec2 stop i-01234567 (until stopped)" in note
    assert "3. lambda_concurrency api:live removed" in note
    assert "4. aurora failover (data loss allowed) of shop to " in note
