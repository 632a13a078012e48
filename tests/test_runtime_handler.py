"""The orchestrator end to end through `handle(event, context)` against in-process moto.

Probe outcomes are scripted here (the HTTP and Lambda probes have their own tests); the state
table, routers, conditional writes are moto's.
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from lambdafail.runtime import handler as handler_mod
from lambdafail.runtime import transitions as tr
from lambdafail.runtime.routers import make_router
from lambdafail.runtime.state import parse_iso
from runtime_support import (
    RULE,
    Behaviour,
    Env,
    compiled,
    http_server,
    make_env,
    run_concurrently,
    service_cfg,
    write_config,
)


@pytest.fixture
def aws() -> Iterator[None]:
    from moto import mock_aws

    with mock_aws(config={"lambda": {"use_docker": False}}):
        yield


def alarm_event(name: str, value: str, event_id: str = "alarm-1",
                previous: str = "OK") -> dict[str, Any]:
    return {
        "version": "0", "id": event_id, "detail-type": "CloudWatch Alarm State Change",
        "source": "aws.cloudwatch", "account": "123456789012", "time": "2024-01-01T00:00:00Z",
        "region": "us-east-1", "resources": [f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{name}"],
        "detail": {"alarmName": name,
                   "state": {"value": value, "reason": "Threshold Crossed",
                             "timestamp": "2024-01-01T00:00:00.000+0000"},
                   "previousState": {"value": previous, "reason": "",
                                     "timestamp": "2023-12-31T23:59:00.000+0000"},
                   "configuration": {"metrics": []}},
    }


def failure_event(event_id: str = "evt-1", detail_type: str = "Server failure") -> dict[str, Any]:
    return {"version": "0", "id": event_id, "detail-type": detail_type,
            "source": "shop.checkout", "account": "123456789012",
            "time": "2024-01-01T00:00:00Z", "region": "us-east-1", "resources": [],
            "detail": {"host": "web-1"}}


def patterns_ready() -> bool:
    from lambdafail.runtime import patterns

    try:
        return patterns.matches({"source": ["a"]}, {"source": "a", "id": "1"}) is True
    except NotImplementedError:
        return False


needs_patterns = pytest.mark.skipif(not patterns_ready(),
                                    reason="runtime.patterns.matches not implemented yet")


# --- thresholds, recovery, cooldown, failback ------------------------------------------------


def test_runtime_failover_after_threshold_and_log(aws: None) -> None:
    env = make_env(compiled({"checkout": service_cfg(failure_threshold=3)}))
    env.tick()
    env.prober.set("checkout", primary=False)
    env.tick()
    env.tick()
    assert env.active() == "primary"
    assert env.param() == "P"
    env.tick()
    assert env.active() == "standby"
    assert env.param() == "S"
    log = env.store.log()
    assert len(log) == 1
    item = log[0]
    assert (item["from"], item["to"], item["reason"], item["actor"]) == (
        "primary", "standby", "probe", "function:lambdafail-shop-orchestrator")
    assert item["evidence"]["probes"]["primary"]["failures"] == 3
    st = env.store.get("checkout")
    assert st is not None and st.phase == "steady" and st.previous_active == "primary"
    # EMF: a Failovers metric, and one State metric per service and tick (no per-side ones).
    emf = env.logger.emf_records()
    assert any(r.get("Failovers") == 1 and r["Service"] == "checkout" for r in emf)
    states = [r for r in emf if "State" in r]
    assert [r["State"] for r in states] == [0, 3, 3, 3]
    assert states[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "lambdafail"
    assert states[0]["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["Service", "Topology"]]
    assert not [r for r in emf if "Healthy" in r or "ProbeLatency" in r]
    env.tick()  # on the standby now, and it is healthy
    assert [r for r in env.logger.emf_records() if "State" in r][-1]["State"] == 2


def test_runtime_actor_is_the_invoked_arn(aws: None) -> None:
    # Lambda's context names the ARN the function was invoked by (the alias, through the
    # rules): the log says which deployment switched, at no API call.
    env = make_env(compiled({"checkout": service_cfg(failure_threshold=1)}))
    arn = "arn:aws:lambda:us-east-1:123456789012:function:lambdafail-shop-orchestrator:live"

    class Ctx:
        invoked_function_arn = arn
        function_version = "7"

        def get_remaining_time_in_millis(self) -> int:
            return 30_000

    env.prober.set("checkout", primary=False)
    env.orchestrator().handle({"lambdafail": "tick", "rule": RULE}, Ctx())
    assert env.active() == "standby"
    (item,) = env.store.log()
    assert item["actor"] == arn
    assert env.store.get("checkout").last_transition["actor"] == arn  # type: ignore[union-attr]


def test_runtime_failures_must_be_consecutive(aws: None) -> None:
    env = make_env(compiled({"checkout": service_cfg(failure_threshold=2)}))
    for ok in (False, True, False, True, False):
        env.prober.set("checkout", primary=ok)
        env.tick()
    assert env.active() == "primary"
    env.prober.set("checkout", primary=False)
    env.tick()
    assert env.active() == "standby"


def test_runtime_failback_manual_stays_on_standby(aws: None) -> None:
    env = make_env(compiled({"checkout": service_cfg(failure_threshold=1, cooldown=0)}))
    env.prober.set("checkout", primary=False)
    env.tick()
    assert env.active() == "standby"
    env.prober.set("checkout", primary=True)
    for _ in range(5):
        env.tick()
    assert env.active() == "standby"


def test_runtime_dead_standby_goes_back_to_a_healthy_primary_even_with_manual_failback(
        aws: None) -> None:
    """failback: manual means "do not return just because the primary recovered", not "stay on
    a dead standby": the active standby failing its threshold moves traffic back (cooldown
    still applies); with the primary down too, it stays and records both down."""
    env = make_env(compiled({"checkout": service_cfg(failure_threshold=2, cooldown=200)}))
    env.prober.set("checkout", primary=False)
    env.tick()
    env.tick()  # the failover commits here; ticks are 60 s apart
    assert env.active() == "standby"
    env.prober.set("checkout", primary=False, standby=False)
    env.tick()
    env.tick()  # the standby has failed twice, but the primary is down as well
    st = env.store.get("checkout")
    assert st is not None and st.active == "standby" and (st.blocked or "").startswith("both")
    env.prober.set("checkout", primary=True)
    env.tick()  # 180 s after the failover: still inside the 200 s cooldown
    assert env.active() == "standby"
    env.tick()
    assert env.active() == "primary"
    last = env.store.log()[0]
    assert last["from"] == "standby" and last["evidence"]["standby_failed"] is True


def test_runtime_failback_auto_after_recovery_threshold(aws: None) -> None:
    env = make_env(compiled({"checkout": service_cfg(failure_threshold=1, recovery_threshold=3,
                                                    cooldown=0, failback="auto")}))
    env.prober.set("checkout", primary=False)
    env.tick()
    assert env.active() == "standby"
    env.prober.set("checkout", primary=True)
    env.tick()
    env.tick()
    assert env.active() == "standby"
    env.tick()
    assert env.active() == "primary"
    assert env.param() == "P"
    reasons = [(i["from"], i["to"], i["reason"]) for i in env.store.log()]
    assert reasons == [("standby", "primary", "probe"), ("primary", "standby", "probe")]


def test_runtime_cooldown_blocks_flapping(aws: None) -> None:
    env = make_env(compiled({"checkout": service_cfg(failure_threshold=1, recovery_threshold=1,
                                                    cooldown=300, failback="auto")}))
    env.prober.set("checkout", primary=False)
    env.tick()
    assert env.active() == "standby"
    env.prober.set("checkout", primary=True)
    env.tick(advance=60)  # t = 60 s after the failover: cooldown
    env.tick(advance=60)
    env.tick(advance=60)
    env.tick(advance=60)
    st = env.store.get("checkout")
    assert st is not None and st.active == "standby" and (st.blocked or "").startswith("cooldown")
    env.tick()  # t = 300 s: allowed
    assert env.active() == "primary"
    log = env.store.log()
    assert len(log) == 2
    gap = parse_iso(log[0]["committed_at"]) - parse_iso(log[1]["committed_at"])
    assert gap >= 300


def _topic_with_queue(name: str) -> tuple[Any, Any, str, str]:
    """An SNS topic with an SQS queue subscribed: what on-call would receive, readable."""
    sns = boto3.client("sns", region_name="us-east-1")
    sqs = boto3.client("sqs", region_name="us-east-1")
    topic = sns.create_topic(Name=name)["TopicArn"]
    qurl = sqs.create_queue(QueueName=name)["QueueUrl"]
    qarn = sqs.get_queue_attributes(QueueUrl=qurl, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=qarn)
    return sns, sqs, topic, qurl


def test_runtime_both_down_stays_and_notifies_once(aws: None) -> None:
    sns, sqs, topic, qurl = _topic_with_queue("oncall")
    env = make_env(compiled({"checkout": service_cfg(failure_threshold=2)},
                            sns_topic_arn=topic), extra_clients={"sns": sns})
    env.prober.set("checkout", primary=False, standby=False)
    for _ in range(5):
        env.tick()
    st = env.store.get("checkout")
    assert st is not None and st.active == "primary" and env.param() == "P"
    assert (st.blocked or "").startswith("both down")
    assert env.store.log() == []
    msgs = sqs.receive_message(QueueUrl=qurl, MaxNumberOfMessages=10)["Messages"]
    assert len(msgs) == 1
    assert "both targets down" in json.loads(msgs[0]["Body"])["Subject"]
    # The standby comes back: the next tick fails over (and notifies the transition).
    env.prober.set("checkout", standby=True)
    env.tick()
    assert env.active() == "standby"
    msgs = sqs.receive_message(QueueUrl=qurl, MaxNumberOfMessages=10)["Messages"]
    subjects = [json.loads(m["Body"])["Subject"] for m in msgs]
    assert any(sj.endswith("/checkout [us-east-1]: primary -> standby (probe)")
               for sj in subjects), subjects


def test_runtime_drill_fault_flag_drives_the_real_detection_path(aws: None) -> None:
    env = make_env(compiled({"checkout": service_cfg(failure_threshold=2)}))
    env.tick()
    env.store.set_fault("checkout", "primary", env.clock() + 1000)
    env.tick()
    env.tick()
    assert env.active() == "standby"
    st = env.store.get("checkout")
    assert st is not None and st.health["primary"].detail == "forced unhealthy by drill"
    # The faulted side was not probed at all while flagged.
    assert ("checkout", "primary") in env.prober.calls[:2]
    assert env.prober.calls[2:].count(("checkout", "primary")) == 0
    env.store.clear_fault("checkout", "primary")
    env.tick()
    st = env.store.get("checkout")
    assert st is not None and st.health["primary"].ok is True and st.faults == {}


def test_runtime_cleared_fault_leaves_no_failures_behind(aws: None) -> None:
    """A drill that injected failures below the threshold and restored: one real failed probe
    afterwards is one failure, not the drill's count plus one (no late failover)."""
    env = make_env(compiled({"checkout": service_cfg(failure_threshold=3)}))
    env.tick()
    env.store.set_fault("checkout", "primary", env.clock() + 1000)
    env.tick()
    env.tick()
    st = env.store.get("checkout")
    assert st is not None and st.health["primary"].failures == 2 and st.active == "primary"
    env.store.clear_fault("checkout", "primary")
    st = env.store.get("checkout")
    assert st is not None and st.health["primary"].failures == 0
    env.prober.set("checkout", primary=False)  # one real blip after the restore
    env.tick()
    st = env.store.get("checkout")
    assert st is not None and st.health["primary"].failures == 1
    assert env.active() == "primary" and env.store.log() == []


# --- alarms ------------------------------------------------------------------------------------

ALARM_SIG = {"kind": "alarm", "alarm_name": "checkout-5xx", "mode": "failover",
             "rule": "lambdafail-shop-checkout-alarm-0"}


def test_runtime_alarm_event_fails_over_and_dedups(aws: None) -> None:
    env = make_env(compiled({"checkout": service_cfg(signals=[ALARM_SIG])}))
    env.tick()  # both sides probed healthy
    orch = env.orchestrator()
    out = orch.handle(alarm_event("checkout-5xx", "ALARM", "a1"))
    assert out["actions"][0]["status"] == "switched"
    assert env.active() == "standby"
    assert orch.handle(alarm_event("checkout-5xx", "ALARM", "a1"))["duplicate"] is True
    item = env.store.log()[0]
    assert item["reason"] == "alarm" and item["evidence"]["event_id"] == "a1"
    orch.handle(alarm_event("checkout-5xx", "OK", "a2", previous="ALARM"))
    st = env.store.get("checkout")
    assert st is not None and st.alarms == {"checkout-5xx": "OK"}


def test_runtime_alarm_failure_mode_counts_as_a_failed_probe(aws: None) -> None:
    sig = {**ALARM_SIG, "mode": "failure"}
    env = make_env(compiled({"checkout": service_cfg(signals=[sig], failure_threshold=2)}))
    env.tick()
    orch = env.orchestrator()
    orch.handle(alarm_event("checkout-5xx", "ALARM", "a1"))
    assert env.active() == "primary"
    env.prober.set("checkout", primary=False)
    env.tick()
    assert env.active() == "standby"


def test_runtime_tick_reconciles_a_lost_alarm_event(aws: None) -> None:
    cw = boto3.client("cloudwatch", region_name="us-east-1")
    cw.put_metric_alarm(AlarmName="checkout-5xx", MetricName="5xx", Namespace="shop",
                        Statistic="Sum", Period=60, EvaluationPeriods=1, Threshold=1,
                        ComparisonOperator="GreaterThanThreshold")
    env = make_env(compiled({"checkout": service_cfg(signals=[ALARM_SIG])}),
                   extra_clients={"cloudwatch": cw})
    env.tick()
    assert env.active() == "primary"
    # moto emits no EventBridge event for this: exactly the "lost event" case.
    cw.set_alarm_state(AlarmName="checkout-5xx", StateValue="ALARM", StateReason="test")
    env.tick()
    assert env.active() == "standby"
    item = env.store.log()[0]
    assert item["reason"] == "alarm" and item["evidence"]["reconciled"] is True


def test_runtime_blocked_alarm_failover_happens_once_the_block_lifts(aws: None) -> None:
    """An alarm that fires while the standby is down is not dropped: once the standby is
    healthy again (and the alarm still fires) the failover happens — once. After a manual
    rollback the still-firing alarm does not fail over again."""
    from lambdafail.runtime import transitions as tr

    cw = boto3.client("cloudwatch", region_name="us-east-1")
    cw.put_metric_alarm(AlarmName="checkout-5xx", MetricName="5xx", Namespace="shop",
                        Statistic="Sum", Period=60, EvaluationPeriods=1, Threshold=1,
                        ComparisonOperator="GreaterThanThreshold")
    env = make_env(compiled({"checkout": service_cfg(signals=[ALARM_SIG], cooldown=0)}),
                   extra_clients={"cloudwatch": cw})
    env.prober.set("checkout", primary=True, standby=False)
    env.tick()
    cw.set_alarm_state(AlarmName="checkout-5xx", StateValue="ALARM", StateReason="test")
    orch = env.orchestrator()
    out = orch.handle(alarm_event("checkout-5xx", "ALARM", "a1"))
    assert out["actions"][0]["status"] != "switched" and env.active() == "primary"
    env.tick()  # still blocked: the standby is still down
    assert env.active() == "primary"
    env.prober.set("checkout", standby=True)
    env.tick()
    assert env.active() == "standby"
    assert [e["reason"] for e in env.store.log()] == ["alarm"]
    # An operator rolls back while the alarm keeps firing: no second automatic failover.
    st = env.store.get("checkout")
    assert st is not None
    res = tr.request_switch(env.store, env.orchestrator().router("checkout", st),
                            env.config.services["checkout"], "checkout", "primary",
                            reason="rollback", actor="op", now=env.clock.now)
    assert res.status == "switched"
    for _ in range(3):
        env.tick()
    assert env.active() == "primary"
    assert [e["reason"] for e in env.store.log()] == ["rollback", "alarm"]


# --- failure events ----------------------------------------------------------------------------

EVENT_SIG = {"kind": "event", "pattern": {"source": ["shop.checkout"],
                                          "detail-type": ["Server failure"]},
             "mode": "failover", "rule": "lambdafail-shop-checkout-event-0"}


@needs_patterns
def test_runtime_failure_event_fails_over_once(aws: None) -> None:
    env = make_env(compiled({"checkout": service_cfg(signals=[EVENT_SIG])}))
    env.tick()
    orch = env.orchestrator()
    assert orch.handle(failure_event("e1", "Something else"))["skipped"]
    out = orch.handle(failure_event("e1"))
    assert out["actions"][0]["status"] == "switched"
    assert orch.handle(failure_event("e1"))["duplicate"] is True
    assert env.store.log()[0]["evidence"]["event_id"] == "e1"


@needs_patterns
def test_runtime_event_claim_of_a_killed_invocation_lapses_for_the_retry(aws: None) -> None:
    """Lambda kills a timed-out invocation without running any `except`: its claim on the
    event id must not turn EventBridge's retry into a 'duplicate'. While the first invocation
    could still be running, a concurrent duplicate is skipped."""
    env = make_env(compiled({"checkout": service_cfg(signals=[EVENT_SIG])}))
    env.tick()

    class Ctx:
        function_version = "1"

        def get_remaining_time_in_millis(self) -> int:
            return 30_000

    # The first delivery claims the event, then "dies" (the claim is all that is left).
    assert env.store.mark_event("e9", env.clock.now, claim_seconds=31.0)
    orch = env.orchestrator()
    assert orch.handle(failure_event("e9"), Ctx())["duplicate"] is True  # may still be running
    env.clock.advance(60)  # EventBridge retries a minute later: the dead claim has lapsed
    out = orch.handle(failure_event("e9"), Ctx())
    assert out["actions"][0]["status"] == "switched"
    env.clock.advance(60)  # a processed event stays a duplicate (24 h)
    assert orch.handle(failure_event("e9"), Ctx())["duplicate"] is True
    assert len(env.store.log()) == 1


@needs_patterns
@pytest.mark.parametrize("same_id", [True, False], ids=["same-id", "distinct-ids"])
def test_runtime_50_concurrent_failure_events_one_transition(aws: None, same_id: bool) -> None:
    env = make_env(compiled({"checkout": service_cfg(signals=[EVENT_SIG])}))
    env.tick()
    env.ssm.puts.clear()
    orch = env.orchestrator()
    barrier = threading.Barrier(50)
    results: list[dict[str, Any]] = []
    errors: list[BaseException] = []

    def fire(i: int) -> None:
        try:
            barrier.wait()
            results.append(orch.handle(failure_event("dup" if same_id else f"e{i}")))
        except BaseException as e:  # surfaced below
            errors.append(e)

    run_concurrently([functools.partial(fire, i) for i in range(50)])
    assert not errors
    assert len(results) == 50
    assert env.ssm.puts == ["S"]  # one router write
    assert len(env.store.log()) == 1
    assert env.active() == "standby"
    switched = [a for r in results for a in r.get("actions", []) if a["status"] == "switched"]
    assert len(switched) == 1
    if same_id:
        assert sum(1 for r in results if r.get("duplicate")) == 49


def test_runtime_unmatched_and_unknown_inputs(aws: None) -> None:
    env = make_env(compiled({"checkout": service_cfg()}))
    orch = env.orchestrator()
    assert orch.handle({"lambdafail": "tick", "rule": "nope"})["ok"] is False
    assert orch.handle({"hello": 1})["ok"] is False
    assert orch.handle(alarm_event("unrelated", "ALARM"))["skipped"]


# --- router failure and resume -----------------------------------------------------------------


def test_runtime_stuck_switch_is_notified_once_per_new_error(aws: None) -> None:
    """The router keeps failing the same way (its parameter or zone is gone): on-call hears it
    once, with the command to run, not once a tick; a different error is news again."""
    sns, sqs, topic, qurl = _topic_with_queue("stuck")
    env = make_env(compiled({"checkout": service_cfg(failure_threshold=1)},
                            sns_topic_arn=topic), extra_clients={"sns": sns})
    env.prober.set("checkout", primary=False)
    env.ssm.fail_puts = 3
    for _ in range(3):
        assert [a["status"] for a in env.tick()["actions"]] == ["router_failed"]
    bodies = [json.loads(json.loads(m["Body"])["Message"]) for m in
              sqs.receive_message(QueueUrl=qurl, MaxNumberOfMessages=10)["Messages"]]
    stuck = [b for b in bodies if b.get("event") == "switch_stuck"]
    assert len(stuck) == 1, bodies
    assert stuck[0]["to"] == "standby" and "injected" in stuck[0]["error"]
    assert "lambdafail rollback checkout" in stuck[0]["next_command"]
    out = env.tick()  # the router answers again: the switch completes
    assert out["actions"][0]["status"] == "switched"


def test_runtime_router_failure_then_next_tick_completes(aws: None) -> None:
    env = make_env(compiled({"checkout": service_cfg(failure_threshold=1)}))
    env.prober.set("checkout", primary=False)
    env.ssm.fail_puts = 1
    out = env.tick()
    assert [a["status"] for a in out["actions"]] == ["router_failed"]
    st = env.store.get("checkout")
    assert st is not None and st.phase == "switching" and st.active == "primary"
    assert st.pending is not None and "injected" in st.pending["last_error"]
    assert env.param() == "P"
    assert env.store.log() == []
    out = env.tick()
    assert out["actions"][0]["status"] == "switched"
    st = env.store.get("checkout")
    assert st is not None and st.phase == "steady" and st.active == "standby"
    assert env.param() == "S"
    log = env.store.log()
    assert len(log) == 1 and log[0]["reason"] == "probe"
    env.tick()
    env.tick()
    assert len(env.store.log()) == 1


COMMIT_CONDITION = "phase = :switching AND pending.id = :id"


def _on_commit(env: Any, when: str, handler: Any) -> None:
    """Run `handler(**kwargs)` at botocore's `when` stage (before-call / after-call) of the
    commit's UpdateItem only: the call whose condition is the pending switch's."""
    current: dict[str, bool] = {"commit": False}

    def mark(params: dict[str, Any], **_: Any) -> None:
        current["commit"] = params.get("ConditionExpression") == COMMIT_CONDITION

    def maybe(**kw: Any) -> Any:
        return handler(**kw) if current["commit"] else None

    env.store.ddb.meta.events.register("before-parameter-build.dynamodb.UpdateItem", mark)
    env.store.ddb.meta.events.register(f"{when}.dynamodb.UpdateItem", maybe)


def _fail_commits(env: Any, times: int, code: str) -> list[int]:
    """Make the next `times` commits fail with error `code` before DynamoDB sees them (nothing
    written). Returns a counter of commit calls seen."""
    seen = [0]

    class _Http:
        status_code = 400

    def fail(**_: Any) -> Any:
        seen[0] += 1
        if seen[0] > times:
            return None
        return _Http(), {"Error": {"Code": code, "Message": "Rate of requests exceeds"}}

    _on_commit(env, "before-call", fail)
    return seen


def test_runtime_transient_commit_failure_is_retried_not_a_lost_race(aws: None) -> None:
    """A commit throttled once (nothing written) is retried at once: the switch completes with
    one log entry, instead of hanging 'switching' under a lease."""
    env = make_env(compiled({"checkout": service_cfg(failure_threshold=1)}))
    seen = _fail_commits(env, 1, "ThrottlingException")
    env.prober.set("checkout", primary=False)
    out = env.tick()
    assert [a["status"] for a in out["actions"]] == ["switched"]
    assert seen[0] == 2 and env.active() == "standby" and len(env.store.log()) == 1


def test_runtime_commit_that_keeps_failing_releases_its_lease(aws: None) -> None:
    """Throttled on every commit attempt: the switch stays pending with its lease released
    and the error recorded, so the very next tick completes it."""
    env = make_env(compiled({"checkout": service_cfg(failure_threshold=1)}))
    _fail_commits(env, 3, "ProvisionedThroughputExceededException")
    env.prober.set("checkout", primary=False)
    out = env.tick()
    assert [a["status"] for a in out["actions"]] == ["router_failed"]
    st = env.store.get("checkout")
    assert st is not None and st.phase == "switching" and st.pending is not None
    assert float(st.pending["lease_until"]) <= env.clock.now
    assert "commit failed" in st.pending["last_error"]
    out = env.tick()
    assert out["actions"][0]["status"] == "switched" and len(env.store.log()) == 1


def test_runtime_commit_whose_answer_was_lost_is_still_a_switch(aws: None) -> None:
    """DynamoDB applied the commit but the reply timed out: the retry fails its condition,
    finds its own commit token and reports `switched` (log entry included), not a lost race."""
    from botocore.exceptions import ReadTimeoutError

    env = make_env(compiled({"checkout": service_cfg(failure_threshold=1)}))
    lost = [0]

    def lose_reply(**_: Any) -> None:
        lost[0] += 1
        if lost[0] == 1:
            raise ReadTimeoutError(endpoint_url="http://dynamodb")

    _on_commit(env, "after-call", lose_reply)
    env.prober.set("checkout", primary=False)
    out = env.tick()
    assert [a["status"] for a in out["actions"]] == ["switched"]
    assert lost[0] == 2 and env.active() == "standby" and len(env.store.log()) == 1
    committed = [r for r in env.logger.records if r.get("message") == "switch committed"]
    assert len(committed) == 1
    st = env.store.get("checkout")
    assert st is not None and "unlogged" not in (st.last_transition or {})


def test_runtime_same_switch_committed_by_someone_else_is_theirs(aws: None) -> None:
    """Another committer (a tick resuming the same pending switch) commits first: for us it
    is a lost race — they report and notify it, we do not."""
    env = make_env(compiled({"checkout": service_cfg(failure_threshold=1)}))
    done = [False]

    def other_commits_first(**kw: Any) -> None:
        if done[0]:
            return
        done[0] = True
        st = env.store.get("checkout")
        assert st is not None and st.pending is not None
        env.store.commit("checkout", st.pending, env.clock(), token="somebody-else")

    _on_commit(env, "before-call", other_commits_first)
    env.prober.set("checkout", primary=False)
    out = env.tick()
    assert out["actions"] == []  # the tick re-reads after the lost race: nothing left to do
    assert env.active() == "standby" and len(env.store.log()) == 1
    assert not [r for r in env.logger.records if r.get("message") == "switch committed"]
    st = env.store.get("checkout")
    assert st is not None and (st.last_transition or {}).get("commit_token") == "somebody-else"


def test_runtime_log_of_a_commit_whose_committer_died_is_repaired_next_round(aws: None) -> None:
    """The commit landed but its log write failed (the committer died, or the call did): the
    transition is committed exactly once, its log item rides in the service item, and the
    next round writes it — once, however many rounds follow."""
    env = make_env(compiled({"checkout": service_cfg(failure_threshold=1)}))
    failing = [True]

    class _Http:
        status_code = 500

    def fail_log_put(**kw: Any) -> Any:
        if failing[0]:
            return _Http(), {"Error": {"Code": "InternalServerError", "Message": "x"}}
        return None

    env.store.ddb.meta.events.register("before-call.dynamodb.PutItem", fail_log_put)
    env.prober.set("checkout", primary=False)
    out = env.tick()
    assert [a["status"] for a in out["actions"]] == ["switched"]
    assert env.active() == "standby" and env.store.log() == []
    st = env.store.get("checkout")
    assert st is not None
    unlogged = (st.last_transition or {}).get("unlogged")
    assert isinstance(unlogged, dict) and unlogged["to"] == "standby"
    failing[0] = False
    env.tick()
    log = env.store.log()
    assert [(e["from"], e["to"], e["transition_id"]) for e in log] == [
        ("primary", "standby", st.last_transition["id"])]  # type: ignore[index]
    st = env.store.get("checkout")
    assert st is not None and "unlogged" not in (st.last_transition or {})
    env.tick()
    assert len(env.store.log()) == 1
    assert [r["service"] for r in env.logger.records
            if r.get("message") == "transition log repaired"] == ["checkout"]


def test_runtime_a_failed_condition_in_a_transaction_is_a_lost_race() -> None:
    from botocore.exceptions import ClientError, ReadTimeoutError

    from lambdafail.runtime.ddb import conditional_failed as _conditional_failed

    def cancelled(*codes: str) -> ClientError:
        return ClientError({"Error": {"Code": "TransactionCanceledException", "Message": "x"},
                            "CancellationReasons": [{"Code": c} for c in codes]},
                           "TransactWriteItems")

    assert _conditional_failed(cancelled("ConditionalCheckFailed", "None"))
    assert not _conditional_failed(cancelled("TransactionConflict", "None"))
    assert not _conditional_failed(ReadTimeoutError(endpoint_url="http://x"))  # response None


def test_runtime_pending_switch_lease_is_respected(aws: None) -> None:
    """A switch leased by another (live) actor is not re-applied by a tick."""
    env = make_env(compiled({"checkout": service_cfg()}))
    st = env.store.get("checkout")
    assert st is not None
    st.phase = "switching"
    st.pending = tr.new_pending(st, "standby", reason="manual", actor="arn:aws:iam::1:user/x",
                                evidence={}, now=env.clock())
    env.store.save(st, st.version)
    out = env.tick(advance=31)  # lease (30 s) still held
    assert [a["status"] for a in out["actions"]] == ["lost_race"]
    assert env.ssm.puts == []
    out = env.tick()  # 31 s later: lease lapsed (the actor died), the tick completes it
    assert out["actions"][0]["status"] == "switched"
    assert env.ssm.puts == ["S"]
    assert env.store.log()[0]["actor"] == "arn:aws:iam::1:user/x"


# --- manual switches (the CLI's API) -----------------------------------------------------------


def _router(env: Env, service: str = "checkout") -> Any:
    return make_router(env.config.services[service]["router"], env.clients)


def test_runtime_request_switch_manual_refused_forced_noop(aws: None) -> None:
    env = make_env(compiled({"checkout": service_cfg()}))
    cfg = env.config.services["checkout"]
    env.prober.set("checkout", standby=False)
    env.tick()
    res = tr.request_switch(env.store, _router(env), cfg, "checkout", "standby", reason="manual",
                            actor="me", now=env.clock())
    assert res.status == "refused" and "not healthy" in res.message
    res = tr.request_switch(env.store, _router(env), cfg, "checkout", "standby", reason="manual",
                            actor="me", force=True, now=env.clock())
    assert res.status == "switched" and env.param() == "S"
    assert env.store.log()[0]["evidence"]["forced"] is True
    res = tr.request_switch(env.store, _router(env), cfg, "checkout", "standby", reason="manual",
                            actor="me", now=env.clock())
    assert res.status == "noop"
    # Manual rollback ignores the cooldown (the primary is healthy).
    res = tr.request_switch(env.store, _router(env), cfg, "checkout", "primary",
                            reason="rollback", actor="me", now=env.clock() + 1)
    assert res.status == "switched" and env.param() == "P"
    assert [i["reason"] for i in env.store.log()] == ["rollback", "manual"]


def test_runtime_request_switch_probes_a_never_probed_target(aws: None) -> None:
    env = make_env(compiled({"checkout": service_cfg()}))
    cfg = env.config.services["checkout"]
    orch = env.orchestrator()
    env.prober.set("checkout", standby=False)
    res = tr.request_switch(env.store, _router(env), cfg, "checkout", "standby", reason="manual",
                            actor="me", now=env.clock(),
                            probe=lambda side: orch.probe_side("checkout", side))
    assert res.status == "refused"
    env.prober.set("checkout", standby=True)
    res = tr.request_switch(env.store, _router(env), cfg, "checkout", "standby", reason="drill",
                            actor="me", now=env.clock() + 1,
                            probe=lambda side: orch.probe_side("checkout", side))
    assert res.status == "switched"


def test_runtime_request_switch_router_failed_then_retry(aws: None) -> None:
    env = make_env(compiled({"checkout": service_cfg()}))
    cfg = env.config.services["checkout"]
    env.tick()
    env.ssm.fail_puts = 1
    res = tr.request_switch(env.store, _router(env), cfg, "checkout", "standby", reason="manual",
                            actor="me", now=env.clock())
    assert res.status == "router_failed" and "retries" in res.message
    res = tr.request_switch(env.store, _router(env), cfg, "checkout", "standby", reason="manual",
                            actor="me", now=env.clock() + 1)
    assert res.status == "switched"
    assert len(env.store.log()) == 1


# --- the Lambda entry point itself -------------------------------------------------------------


def test_runtime_handle_entry_reads_config_file(aws: None, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    data = compiled({"checkout": service_cfg()})
    env = make_env(data)
    path = write_config(tmp_path / "lambdafail_config.json", data)
    monkeypatch.setenv("LAMBDAFAIL_CONFIG_PATH", str(path))
    handler_mod.reset()
    try:
        pong = handler_mod.handle({"lambdafail": "ping"}, None)
        import hashlib

        assert pong["ok"] is True
        assert pong["config_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        # A real tick with real (refused) HTTP probes against the configured URLs, default
        # clients (created lazily inside moto), heartbeat written.
        out = handler_mod.handle({"lambdafail": "tick", "rule": RULE}, None)
        assert out["ok"] and out["rounds"] == 1
        hb = env.store.heartbeat_item()
        assert hb is not None and hb["ticks"] == 1 and hb["config_sha256"] == pong["config_sha256"]
        st = env.store.get("checkout")
        assert st is not None and st.health["primary"].failures == 1
    finally:
        handler_mod.reset()


def test_runtime_probes_per_tick_spreads_rounds(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    env = make_env(compiled({"checkout": service_cfg(probes_per_tick=5, failure_threshold=3)}))
    env.prober.set("checkout", primary=False)
    out = env.tick()
    assert out["rounds"] == 5
    assert env.active() == "standby"  # detected within one tick
    assert len(env.sleeps) == 4 and all(9.0 < s <= 10.0 for s in env.sleeps)
    monkeypatch.setenv("LAMBDAFAIL_TIME_SCALE", "10")
    env.sleeps.clear()
    env.tick()
    assert all(s <= 1.0 for s in env.sleeps)


def test_runtime_probe_rounds_stop_when_lambda_time_is_short(aws: None) -> None:
    env = make_env(compiled({"checkout": service_cfg(probes_per_tick=5)}))

    class Ctx:
        function_version = "7"

        def get_remaining_time_in_millis(self) -> int:
            return 4000

    out = env.orchestrator().handle({"lambdafail": "tick", "rule": RULE}, Ctx())
    assert out["rounds"] == 1
    hb = env.store.heartbeat_item()
    assert hb is not None and hb["function_version"] == "7"


def test_runtime_probe_rounds_fit_the_deployed_timeout_for_long_intervals(aws: None) -> None:
    """rate(10 minutes) with 6 rounds still spreads them over 50 s (what deploy sizes the
    Lambda timeout for), and a wait that would outlive the invocation is never started."""
    from lambdafail.deploy import planner

    cfg = compiled({"checkout": service_cfg(probes_per_tick=6)})
    cfg["schedules"][RULE].update(expression="rate(10 minutes)", interval_seconds=600)
    cfg["services"]["checkout"]["health"]["interval_seconds"] = 600
    env = make_env(cfg)
    out = env.tick()
    assert out["rounds"] == 6 and sum(env.sleeps) <= 50.0

    timeout = planner.function_timeout(cfg)
    deadline = env.clock.now + timeout

    class Ctx:  # remaining time follows the fake clock, like Lambda's
        function_version = "1"

        def get_remaining_time_in_millis(self) -> int:
            return int((deadline - env.clock.now) * 1000)

    env.sleeps.clear()
    env.orchestrator().handle({"lambdafail": "tick", "rule": RULE}, Ctx())
    assert env.clock.now <= deadline  # never slept past the function's timeout
    deadline = env.clock.now + 12  # an invocation with only 12 s left: no 8.3 s wait + probe
    env.sleeps.clear()
    out = env.orchestrator().handle({"lambdafail": "tick", "rule": RULE}, Ctx())
    assert env.clock.now <= deadline and out["rounds"] < 6


# --- real probes through the handler: HTTP primary, Lambda standby ------------------------------


def _degraded_function() -> None:
    import io
    import zipfile

    iam = boto3.client("iam", region_name="us-east-1")
    role = iam.create_role(RoleName="fn-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("h.py", "def h(event, context):\n    return {'ok': True}\n")
    boto3.client("lambda", region_name="us-east-1").create_function(
        FunctionName="checkout-degraded", Runtime="python3.12", Role=role, Handler="h.h",
        Code={"ZipFile": buf.getvalue()})


@pytest.mark.parametrize("standby_works", [True, False], ids=["standby-ok", "standby-error"])
def test_runtime_real_http_primary_and_lambda_standby(standby_works: bool) -> None:
    from moto import mock_aws

    # Without the simple-Lambda config moto answers every invoke with FunctionError.
    behaviour = Behaviour(200, b"ok")
    with mock_aws(config={"lambda": {"use_docker": not standby_works}}), \
            http_server(behaviour) as url:
        _degraded_function()
        cfg = service_cfg(failure_threshold=2, timeout=1.0,
                          primary={"kind": "url", "url": url, "expect_status": 200,
                                   "body_contains": "ok"},
                          standby={"kind": "lambda", "function": "checkout-degraded"},
                          router={"kind": "ssm", "parameter": "/shop/checkout/active",
                                  "values": {"primary": url, "standby": "checkout-degraded"}})
        env = make_env(compiled({"checkout": cfg}),
                       extra_clients={"lambda": boto3.client("lambda", region_name="us-east-1")})
        orch = env.orchestrator(prober=None)
        env.tick(orch)
        st = env.store.get("checkout")
        assert st is not None and st.health["primary"].ok is True
        assert st.health["standby"].ok is standby_works
        behaviour.status = 500  # the primary starts failing
        env.tick(orch)
        env.tick(orch)
        st = env.store.get("checkout")
        assert st is not None
        assert st.health["primary"].detail == "HTTP 500 (expected 200)"
        if standby_works:
            assert st.active == "standby" and env.param() == "checkout-degraded"
        else:
            assert st.active == "primary" and (st.blocked or "").startswith("both down")
            assert "FunctionError" in st.health["standby"].detail


@pytest.mark.slow
def test_runtime_250_healthy_services_never_fail_over(aws: None) -> None:
    """250 services (500 targets, far more than the probe workers) whose targets answer in
    half their timeout, with the most sensitive threshold: not one false failover."""
    with http_server(Behaviour(200, b"ok", delay=1.0)) as url:
        services = {
            f"s{i:03d}": service_cfg(
                name=f"s{i:03d}", failure_threshold=1, timeout=2.0,
                primary={"kind": "url", "url": f"{url}?p={i}", "expect_status": 200,
                         "body_contains": None},
                standby={"kind": "url", "url": f"{url}?s={i}", "expect_status": 200,
                         "body_contains": None})
            for i in range(250)}
        env = make_env(compiled(services))
        orch = env.orchestrator(prober=None)  # the real probes, against the real server
        for _ in range(3):
            env.tick(orch)
    assert env.store.log() == []
    states = env.store.load_all()
    assert len(states) == 250
    unhealthy = {name: (st.health["primary"].detail, st.health["standby"].detail)
                 for name, st in states.items()
                 if not (st.active == "primary" and st.health["primary"].ok
                         and st.health["standby"].ok)}
    assert unhealthy == {}, f"{len(unhealthy)} unhealthy, e.g. {next(iter(unhealthy.items()))}"


def test_runtime_a_write_lost_to_another_region_is_re_read_and_retried(aws: None) -> None:
    """On a multi-Region strongly consistent table a write of the same item from another
    region at the same moment fails with ReplicatedWriteConflictException (nothing written):
    the tick re-reads and decides again, as after a lost condition, instead of failing."""
    env = make_env(compiled({"checkout": service_cfg(failure_threshold=1)}))
    env.tick()
    seen = [0]

    class _Http:
        status_code = 400

    marks: list[dict[str, Any]] = []

    def conflict_once(**_: Any) -> Any:
        request = marks[-1] if marks else {}
        if request.get("ConditionExpression") == "version = :v" and seen[0] == 0:
            seen[0] += 1
            return _Http(), {"Error": {"Code": "ReplicatedWriteConflictException",
                                       "Message": "modified by a request in another Region"}}
        return None

    env.store.ddb.meta.events.register(
        "before-parameter-build.dynamodb.UpdateItem", lambda params, **_: marks.append(params))
    env.store.ddb.meta.events.register("before-call.dynamodb.UpdateItem", conflict_once)
    env.prober.set("checkout", primary=False)
    out = env.tick()
    assert seen[0] == 1
    assert [a["status"] for a in out["actions"]] == ["switched"]
    assert env.active() == "standby" and len(env.store.log()) == 1
