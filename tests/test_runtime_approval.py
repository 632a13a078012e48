"""The `approval` recovery step in the orchestrator, through `handle()` against in-process moto.

The decision is written exactly as `lambdafail approve` writes it (`StateStore.record_decision`,
conditional on the pending switch's id) while the orchestrator's step waits; the clock is fake
(its sleeps advance it). The same through the real CLI on the sandbox is
tests/test_e2e_approval.py.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from lambdafail.runtime.state import StateConflict
from lambdafail.runtime.steps.approval import decision_key, waiting_step
from runtime_support import REGION, Env, compiled, make_env, service_cfg

APPROVAL = {"kind": "approval", "on_timeout": "fail", "every_seconds": 10, "message": "look",
            "timeout_seconds": 300, "retries": 0}
WAIT = {"kind": "wait", "healthy": 1, "every_seconds": 5, "timeout_seconds": 60, "retries": 0}


@pytest.fixture
def aws() -> Iterator[None]:
    from moto import mock_aws

    with mock_aws():
        yield


def _env(steps: list[dict[str, Any]]) -> tuple[Env, Any, str]:
    sns = boto3.client("sns", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    topic = sns.create_topic(Name="oncall")["TopicArn"]
    qurl = sqs.create_queue(QueueName="oncall")["QueueUrl"]
    qarn = sqs.get_queue_attributes(QueueUrl=qurl, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=qarn)
    env = make_env(compiled({"checkout": service_cfg(recovery={"failover": steps,
                                                               "failback": []})},
                            sns_topic_arn=topic), extra_clients={"sns": sns})
    env.prober.set("checkout", primary=True, standby=True)
    return env, sqs, qurl


def _subjects(sqs: Any, qurl: str) -> list[str]:
    msgs = sqs.receive_message(QueueUrl=qurl, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"])["Subject"] for m in msgs]


def _decide(env: Env, decision: str, actor: str = "arn:aws:sts::1:assumed-role/oncall/ann"
            ) -> None:
    st = env.store.get("checkout")
    assert st is not None and st.pending is not None
    index = waiting_step(st.pending)
    assert index is not None
    env.store.record_decision("checkout", str(st.pending["id"]), decision_key(index),
                              {"decision": decision, "actor": actor, "reason": "INC-1",
                               "at": "2024-01-01T00:00:00.000Z"})


def _fail_primary(env: Env) -> None:
    env.prober.set("checkout", primary=False)
    for _ in range(3):
        env.tick()


def _waiting(env: Env) -> bool:
    st = env.store.get("checkout")
    return bool(st and st.phase == "switching" and waiting_step(st.pending) == 0)


def test_the_plan_waits_at_the_approval_step_until_it_is_approved(aws: None) -> None:
    env, sqs, qurl = _env([APPROVAL, WAIT])
    _fail_primary(env)
    for _ in range(3):  # tick after tick, nobody decides: the router stays
        assert _waiting(env) and env.param() == "P"
        result = env.tick()
        (action,) = result["actions"]
        assert action["status"] == "recovering"
    assert env.sleeps == []  # the orchestrator checks once a round, it never waits for people
    started = [r for r in env.logger.records if r.get("message") == "recovery step started"]
    assert len(started) == 1  # logged once, not at every round that finds it still waiting
    _decide(env, "approve")
    env.tick()
    assert env.active() == "standby" and env.param() == "S"
    (item,) = env.store.log()
    step = item["recovery"]["steps"][0]
    assert (step["kind"], step["status"]) == ("approval", "done")
    assert step["output"]["decision"] == "approve"
    assert step["output"]["actor"].endswith("/ann") and step["output"]["reason"] == "INC-1"
    assert step["finished_at"] <= item["recovery"]["steps"][1]["started_at"]
    subjects = _subjects(sqs, qurl)
    assert sum("waits for approval" in s for s in subjects) == 1  # told once, not every tick


def test_a_denied_approval_blocks_the_switch(aws: None) -> None:
    env, _, _ = _env([APPROVAL, WAIT])
    _fail_primary(env)
    _decide(env, "deny")
    env.tick()
    st = env.store.get("checkout")
    assert st is not None and st.phase == "steady" and st.active == "primary"
    assert env.param() == "P" and env.ssm.puts == []
    assert (st.blocked or "").startswith("recovery failed: failover step 1/2 (approval)")
    assert "denied by arn:aws:sts::1:assumed-role/oncall/ann: INC-1" in (st.blocked or "")


@pytest.mark.parametrize(("on_timeout", "active"), [("fail", "primary"), ("proceed", "standby")])
def test_without_a_decision_the_timeout_fails_or_proceeds(aws: None, on_timeout: str,
                                                           active: str) -> None:
    env, _, _ = _env([{**APPROVAL, "on_timeout": on_timeout}, WAIT])
    _fail_primary(env)
    for _ in range(6):  # 6 ticks a minute apart: past the 300 s timeout
        env.tick()
    st = env.store.get("checkout")
    assert st is not None and st.active == active
    if on_timeout == "fail":
        assert "no approval within 300 s (on_timeout: fail)" in (st.blocked or "")
        assert env.ssm.puts == []
    else:
        (item,) = env.store.log()
        assert item["recovery"]["steps"][0]["output"]["decision"] == "timeout"
        assert item["recovery"]["steps"][0]["output"]["waited_s"] >= 300


def test_a_decision_is_for_one_switch_and_one_time_only(aws: None) -> None:
    env, _, _ = _env([APPROVAL, WAIT])
    _fail_primary(env)
    st = env.store.get("checkout")
    assert st is not None and st.pending is not None and _waiting(env)
    first = str(st.pending["id"])
    record = {"decision": "approve", "actor": "x", "reason": "r",
              "at": "2024-01-01T00:00:00.000Z"}
    # A decision for another switch id is refused (the condition names the pending switch).
    with pytest.raises(StateConflict):
        env.store.record_decision("checkout", "some-older-switch", decision_key(0), record)
    _decide(env, "deny")
    with pytest.raises(StateConflict):  # and it is given once only
        env.store.record_decision("checkout", first, decision_key(0), record)
    env.tick()
    st = env.store.get("checkout")
    assert st is not None and st.phase == "steady" and "denied" in (st.blocked or "")
    # A later switch waits for its own decision.
    env.prober.set("checkout", primary=True)
    env.tick()  # the primary recovering lifts the block
    _fail_primary(env)
    st = env.store.get("checkout")
    assert st is not None and st.pending is not None and str(st.pending["id"]) != first
    assert _waiting(env) and env.param() == "P"  # the old denial did not carry over


def test_from_the_cli_the_step_polls_until_a_decision_arrives() -> None:
    """`lambdafail failover` runs the plan on the operator's machine: the step waits there."""
    from lambdafail.runtime.probes import ProbeResult
    from lambdafail.runtime.steps import StepEnv
    from lambdafail.runtime.steps.approval import ApprovalStepRunner
    from runtime_support import FakeClock

    clock = FakeClock()
    reads: list[float] = []

    def read_pending() -> dict[str, Any]:
        reads.append(clock())
        return ({decision_key(0): {"decision": "approve", "actor": "a", "reason": "ok",
                                   "at": "2024-01-01T00:00:00.000Z"}} if len(reads) > 3 else {})

    env = StepEnv(service="checkout", transition_id="t", plan="failover", clients=None,
                  probe=lambda: ProbeResult(ok=True, latency_ms=1, detail=""), clock=clock,
                  sleep=clock.advance, deadline=clock() + 900, read_pending=read_pending)
    out = ApprovalStepRunner().run(APPROVAL, env, {"status": "running"}, 0)
    assert out["decision"] == "approve" and len(reads) == 4
    assert [round(b - a) for a, b in itertools.pairwise(reads)] == [10, 10, 10]
