"""The `approval` recovery step in the orchestrator, through `handle()` against in-process moto.

The decision is written exactly as `lambdafail approve` writes it (`StateStore.record_decision`,
conditional on the pending switch's id) while the orchestrator's step waits; the clock is fake
(its sleeps advance it). The same through the real CLI on the sandbox is
tests/test_e2e_approval.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest

from lambdafail.runtime.handler import Orchestrator
from lambdafail.runtime.state import StateConflict
from lambdafail.runtime.steps.approval import decision_key, waiting_step
from runtime_support import REGION, RULE, Env, compiled, make_env, service_cfg

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


def _orchestrator(env: Env, on_sleep: Callable[[int], None]) -> Orchestrator:
    """An orchestrator whose sleeps advance the fake clock and call `on_sleep(n)` (n = how
    many sleeps so far): what on-call does while the step waits."""
    count = [0]

    def sleep(seconds: float) -> None:
        env.sleeps.append(seconds)
        env.clock.advance(seconds)
        count[0] += 1
        on_sleep(count[0])

    return Orchestrator(env.config, env.clients, store=env.store, clock=env.clock,
                        sleep=sleep, logger=env.logger, prober=env.prober)


def _fail_primary(env: Env, orch: Orchestrator) -> None:
    env.prober.set("checkout", primary=False)
    for _ in range(3):
        env.tick(orch)


def test_the_plan_waits_at_the_approval_step_until_it_is_approved(aws: None) -> None:
    env, sqs, qurl = _env([APPROVAL, WAIT])
    routers: list[str] = []

    def on_sleep(n: int) -> None:
        routers.append(env.param())
        if n == 3:  # three checks without a decision, then on-call approves
            _decide(env, "approve")

    _fail_primary(env, _orchestrator(env, on_sleep))
    assert routers[:3] == ["P", "P", "P"]  # the router did not move while it waited
    assert env.active() == "standby" and env.param() == "S"
    (item,) = env.store.log()
    step = item["recovery"]["steps"][0]
    assert (step["kind"], step["status"]) == ("approval", "done")
    assert step["output"]["decision"] == "approve"
    assert step["output"]["actor"].endswith("/ann") and step["output"]["reason"] == "INC-1"
    assert step["finished_at"] <= item["recovery"]["steps"][1]["started_at"]
    assert any("waits for approval" in s for s in _subjects(sqs, qurl))


def test_a_denied_approval_blocks_the_switch(aws: None) -> None:
    env, _, _ = _env([APPROVAL, WAIT])
    _fail_primary(env, _orchestrator(env, lambda n: _decide(env, "deny") if n == 1 else None))
    st = env.store.get("checkout")
    assert st is not None and st.phase == "steady" and st.active == "primary"
    assert env.param() == "P" and env.ssm.puts == []
    assert (st.blocked or "").startswith("recovery failed: failover step 1/2 (approval)")
    assert "denied by arn:aws:sts::1:assumed-role/oncall/ann: INC-1" in (st.blocked or "")


@pytest.mark.parametrize(("on_timeout", "active"), [("fail", "primary"), ("proceed", "standby")])
def test_without_a_decision_the_timeout_fails_or_proceeds(aws: None, on_timeout: str,
                                                           active: str) -> None:
    env, _, _ = _env([{**APPROVAL, "on_timeout": on_timeout}, WAIT])
    _fail_primary(env, _orchestrator(env, lambda n: None))
    st = env.store.get("checkout")
    assert st is not None and st.active == active
    if on_timeout == "fail":
        assert "no approval within 300 s (on_timeout: fail)" in (st.blocked or "")
        assert env.ssm.puts == []
    else:
        (item,) = env.store.log()
        assert item["recovery"]["steps"][0]["output"]["decision"] == "timeout"
        assert item["recovery"]["steps"][0]["output"]["waited_s"] >= 300


class _Context:
    """A Lambda context with a short invocation left: the wait must outlive it."""

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def test_the_wait_outlives_an_invocation_and_a_decision_is_for_one_switch_only(
        aws: None) -> None:
    env, _, _ = _env([APPROVAL, WAIT])
    orch = _orchestrator(env, lambda n: None)
    env.prober.set("checkout", primary=False)
    results = []
    for _ in range(3):
        results.append(orch.handle({"lambdafail": "tick", "rule": RULE}, _Context()))
        env.clock.advance(10)
    assert any(a["status"] == "recovering" for r in results for a in r["actions"])
    st = env.store.get("checkout")
    assert st is not None and st.phase == "switching" and env.param() == "P"
    assert st.pending is not None and waiting_step(st.pending) == 0
    first = str(st.pending["id"])
    # A decision for another switch id is refused (the condition names the pending switch).
    with pytest.raises(StateConflict):
        env.store.record_decision("checkout", "some-older-switch", decision_key(0),
                                  {"decision": "approve", "actor": "x", "reason": "r",
                                   "at": "2024-01-01T00:00:00.000Z"})
    _decide(env, "deny")
    with pytest.raises(StateConflict):  # and given once only
        env.store.record_decision("checkout", first, decision_key(0),
                                  {"decision": "approve", "actor": "x", "reason": "r",
                                   "at": "2024-01-01T00:00:00.000Z"})
    env.clock.advance(60)
    env.tick(orch)
    st = env.store.get("checkout")
    assert st is not None and st.phase == "steady" and "denied" in (st.blocked or "")
    # A later switch waits for its own decision.
    env.prober.set("checkout", primary=True)
    env.tick(orch)  # the primary recovering lifts the block
    env.prober.set("checkout", primary=False)
    for _ in range(3):
        orch.handle({"lambdafail": "tick", "rule": RULE}, _Context())
        env.clock.advance(10)
    st = env.store.get("checkout")
    assert st is not None and st.phase == "switching" and st.pending is not None
    assert str(st.pending["id"]) != first
    assert waiting_step(st.pending) == 0  # the old denial did not carry over
    assert env.param() == "P"
