"""Recovery plans without I/O: the step sequencing and resume decisions (runtime/recovery.py),
the cold-standby gate in `decide`, validate's checks, the compiled steps, IAM and plan lines."""

from __future__ import annotations

from typing import Any

import pytest

from lambdafail.base.errors import TopologyError
from lambdafail.deploy.iam import Where, orchestrator_policy
from lambdafail.deploy.planner import recovery_note
from lambdafail.model.loader import load_text
from lambdafail.model.topology import Topology, compile_topology
from lambdafail.runtime import recovery as rc
from lambdafail.runtime.decisions import decide
from lambdafail.runtime.state import ServiceState

NOW = 1_700_000_000.0
WHERE = Where("aws", "us-east-1", "123456789012")


def topo(recovery: dict[str, Any]) -> Topology:
    return Topology.model_validate({"name": "shop", "services": {"checkout": {
        "primary": {"url": "https://a.example.com/health"},
        "standby": {"url": "https://b.example.com/health"},
        "router": {"ssm_parameter": "/shop/checkout/active"},
        "recovery": recovery}}})


PLAN = {"failover": [{"lambda": {"function": "start-standby", "payload": {"size": 2},
                                 "retries": 1}},
                     {"wait": {"healthy": 2, "timeout_seconds": 120}}],
        "failback": [{"lambda": {"function": "stop-standby", "starts_standby": False}}]}


def svc_cfg(recovery: dict[str, Any] = PLAN) -> dict[str, Any]:
    return dict(compile_topology(topo(recovery))["services"]["checkout"])


def test_compiled_steps_carry_every_field() -> None:
    rec = svc_cfg()["recovery"]
    assert rec["failover"] == [
        {"kind": "lambda", "function": "start-standby", "payload": {"size": 2},
         "timeout_seconds": 60, "retries": 1},
        {"kind": "wait", "healthy": 2, "every_seconds": 5, "timeout_seconds": 120,
         "retries": 0}]
    assert rec["failback"][0]["function"] == "stop-standby"
    assert svc_cfg({})["recovery"] == {"failover": [], "failback": []}


def test_sequencing_runs_steps_in_order_and_never_repeats_a_finished_one() -> None:
    steps = svc_cfg()["recovery"]["failover"]
    p = rc.new_progress("failover", steps)
    assert rc.next_step(p) == ("run", 0)
    rc.begin(p, 0, NOW)
    rc.finish(p, 0, {"answer": 1}, NOW + 2)
    assert p["steps"][0]["duration_s"] == 2
    assert rc.next_step(p) == ("run", 1)
    rc.begin(p, 1, NOW + 2)
    # A crash here: the resumed plan goes on at step 2, the same attempt, resumed.
    assert rc.next_step(p) == ("run", 1)
    rc.begin(p, 1, NOW + 40)
    assert p["steps"][1]["attempts"] == 1 and p["steps"][1]["resumed"] == 1
    assert p["steps"][1]["started_at"] == "2023-11-14T22:13:22.000Z"
    rc.finish(p, 1, {}, NOW + 45)
    assert rc.next_step(p) == ("done", 2)


def test_a_failed_attempt_is_retried_then_the_plan_fails() -> None:
    steps = svc_cfg()["recovery"]["failover"]  # the lambda step has 1 retry
    p = rc.new_progress("failover", steps)
    rc.begin(p, 0, NOW)
    assert rc.fail(p, 0, "boom", steps[0], NOW + 1) is False
    assert rc.next_step(p) == ("run", 0)
    rc.begin(p, 0, NOW + 1)
    assert p["steps"][0]["attempts"] == 2
    assert rc.fail(p, 0, "boom again", steps[0], NOW + 2) is True
    assert rc.next_step(p) == ("failed", 0)
    assert rc.failure_text(p) == ("recovery failed: failover step 1/2 (lambda) failed after "
                                  "2 attempt(s): boom again")


def test_which_plan_a_switch_runs() -> None:
    cfg = svc_cfg()
    assert rc.plan_name({"from": "primary", "to": "standby"}) == "failover"
    assert rc.plan_name({"from": "standby", "to": "primary"}) == "failback"
    assert rc.plan_name({"from": "primary", "to": "primary"}) is None  # a cancel
    assert len(rc.plan_steps(cfg, {"from": "standby", "to": "primary"})) == 1
    assert rc.cold_standby(cfg, "standby") and not rc.cold_standby(cfg, "primary")
    assert not rc.cold_standby(svc_cfg({}), "standby")


def _failing_primary() -> ServiceState:
    st = ServiceState("checkout", version=3)
    st.health["primary"].ok, st.health["primary"].failures = False, 3
    st.health["standby"].ok, st.health["standby"].detail = False, "connection refused"
    return st


def test_a_cold_standby_down_does_not_block_the_failover() -> None:
    d = decide(_failing_primary(), svc_cfg(), NOW)
    assert d.switch_to == "standby"
    # Without a plan that judges it, a standby that is down blocks (both down).
    d = decide(_failing_primary(), svc_cfg({}), NOW)
    assert d.switch_to is None and (d.blocked or "").startswith("both down")


def test_a_failed_plan_blocks_automatic_failovers_until_the_primary_recovers() -> None:
    st = _failing_primary()
    st.blocked = "recovery failed: failover step 1/2 (lambda) failed after 1 attempt(s): x"
    d = decide(st, svc_cfg(), NOW)
    assert d.switch_to is None and d.blocked == st.blocked
    st.health["primary"].ok, st.health["primary"].failures = True, 0
    assert decide(st, svc_cfg(), NOW).blocked is None


@pytest.mark.parametrize(("recovery", "message"), [
    ({"failover": [{"lambda": {"function": "start-standby"}}]},
     "step 1 (lambda) starts the standby but no `wait` step follows it"),
    ({"failover": [{"wait": {}}, {"lambda": {"function": "start-standby"}}]},
     "step 2 (lambda) starts the standby but no `wait` step follows it"),
    ({"failback": [{"wait": {}}]}, "failback steps run after traffic is back on the primary"),
    ({"failover": [{"lambda": {"function": "x", "payload": {"lambdafail": 1}}}]},
     "the payload key `lambdafail` is lambdafail's own"),
    ({"failover": [{"ecs2": {}}]},
     "a recovery step is a mapping with one of `lambda`, `ecs`, `wait`"),
    ({"failover": [{"ecs": {"cluster": "shop", "service": "checkout-dr", "desired": 2}}]},
     "step 1 (ecs) starts the standby but no `wait` step follows it"),
    ({"failover": [{"ecs": {"cluster": "shop", "service": "bad name", "desired": 2}}]},
     "not an ECS service name"),
])
def test_validate_refuses_bad_plans(recovery: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        topo(recovery)


def test_a_function_that_starts_nothing_needs_no_wait() -> None:
    topo({"failover": [{"lambda": {"function": "page-oncall", "starts_standby": False}}]})


def test_iam_invokes_exactly_the_step_functions() -> None:
    compiled = dict(compile_topology(topo(PLAN)))
    doc = orchestrator_policy(compiled, WHERE)
    (invoke,) = [s for s in doc["Statement"] if s["Sid"] == "InvokeTargets"]
    assert invoke["Action"] == ["lambda:InvokeFunction"]
    assert invoke["Resource"] == [
        "arn:aws:lambda:us-east-1:123456789012:function:start-standby",
        "arn:aws:lambda:us-east-1:123456789012:function:start-standby:*",
        "arn:aws:lambda:us-east-1:123456789012:function:stop-standby",
        "arn:aws:lambda:us-east-1:123456789012:function:stop-standby:*"]
    assert "InvokeTargets" not in {s["Sid"] for s in orchestrator_policy(
        dict(compile_topology(topo({}))), WHERE)["Statement"]}


def test_plan_lines_show_the_steps() -> None:
    note = recovery_note(svc_cfg())
    assert note.splitlines() == [
        'failover steps (before the switch): 1. lambda start-standby {"size": 2} (timeout '
        "60 s, 1 retry); 2. wait until the standby is healthy 2× in a row (every 5 s, at most "
        "120 s) (timeout 120 s, 0 retries)",
        "failback steps (after failback): 1. lambda stop-standby {} (timeout 60 s, 0 retries)"]
    assert recovery_note(svc_cfg({})) == ""


YAML = """\
name: shop
services:
  checkout:
    primary: {url: "https://a.example.com/h"}
    standby: {url: "https://b.example.com/h"}
    router: {ssm_parameter: /shop/checkout/active}
    recovery:
      failover:
        - lambda: {function: start-standby, payload: {size: 2}}
        - wait: {healthy: 0, timeout_seconds: 120}
      failback:
        - wait: {healthy: 2}
"""


def test_validate_locates_plan_problems_at_file_line() -> None:
    with pytest.raises(TopologyError) as info:
        load_text(YAML, "t.yaml")
    assert [(p.path, p.line) for p in info.value.problems] == [
        ("services.checkout.recovery.failover[1].wait.healthy", 10),
        ("services.checkout.recovery.failback[0].wait", 12)]
    with pytest.raises(TopologyError) as info:
        load_text(YAML.replace("healthy: 0", "healthy: 2"), "t.yaml")
    [problem] = info.value.problems
    assert (problem.path, problem.line) == ("services.checkout.recovery.failback[0].wait", 12)
    assert "failback steps run after traffic" in problem.message


ECS_PLAN = {"failover": [{"ecs": {"cluster": "shop", "service": "checkout-dr", "desired": 2}},
                         {"wait": {}}],
            "failback": [{"ecs": {"cluster": "arn:aws:ecs:us-east-1:123456789012:cluster/shop",
                                  "service": "checkout-dr", "desired": 0}}]}


def test_ecs_steps_compile_scope_their_iam_and_show_in_the_plan() -> None:
    cfg = svc_cfg(ECS_PLAN)
    assert cfg["recovery"]["failover"][0] == {
        "kind": "ecs", "cluster": "shop", "service": "checkout-dr", "desired": 2,
        "every_seconds": 5, "timeout_seconds": 300, "retries": 0}
    doc = orchestrator_policy(dict(compile_topology(topo(ECS_PLAN))), WHERE)
    (ecs,) = [s for s in doc["Statement"] if s["Sid"] == "RecoveryEcsServices"]
    assert ecs["Action"] == ["ecs:DescribeServices", "ecs:UpdateService"]
    assert ecs["Resource"] == "arn:aws:ecs:us-east-1:123456789012:service/shop/checkout-dr"
    assert "1. ecs shop/checkout-dr desired 0 (until 0 running)" in recovery_note(cfg)
    # Scaling to zero starts nothing: no wait needed.
    topo({"failover": [{"ecs": {"cluster": "shop", "service": "x", "desired": 0}}]})


def test_oncall_permissions_cover_the_recovery_steps() -> None:
    from lambdafail.deploy import permissions

    doc = permissions.operator_policy(dict(compile_topology(topo(ECS_PLAN))), WHERE, "oncall")
    (ecs,) = [s for s in doc["Statement"] if s["Sid"] == "RecoveryEcsServices"]
    assert set(ecs["Action"]) == {"ecs:DescribeServices", "ecs:UpdateService"}
    assert ecs["Resource"] == "arn:aws:ecs:us-east-1:123456789012:service/shop/checkout-dr"
    doc = permissions.operator_policy(dict(compile_topology(topo(PLAN))), WHERE, "oncall")
    (invoke,) = [s for s in doc["Statement"] if s["Sid"] == "InvokeTargets"]
    assert "arn:aws:lambda:us-east-1:123456789012:function:start-standby" in invoke["Resource"]
