"""Property: whatever happens (probe results, alarms, events, router failures, manual switches),
the orchestrator never starts a switch to a target that was unhealthy at that moment unless
forced, automatic transitions never come closer than the cooldown, and every transition is
logged once with the router agreeing with the committed state.

Runs the real Orchestrator against in-process moto; only the probe outcomes and clock are
scripted.
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, given, settings

from lambdafail.runtime import transitions as tr
from lambdafail.runtime.routers import make_router
from lambdafail.runtime.state import parse_iso
from runtime_support import compiled, make_env, serialize_dynamodb, service_cfg
from test_runtime_handler import ALARM_SIG, EVENT_SIG, alarm_event, failure_event, patterns_ready

COOLDOWN = 120
AUTOMATIC = ("probe", "alarm", "event")

dt = st.sampled_from([10, 30, 60, 90, 200])
tick = st.tuples(st.just("tick"), st.booleans(), st.booleans(), dt)
alarm = st.tuples(st.just("alarm"), st.sampled_from(["ALARM", "OK"]), dt)
event = st.tuples(st.just("event"), dt)
router_fail = st.tuples(st.just("router_fail"))
manual = st.tuples(st.just("manual"), st.sampled_from(["primary", "standby"]), st.booleans(), dt)
step = st.one_of(tick, tick, tick, alarm, router_fail, manual,
                 *([event] if patterns_ready() else []))


@pytest.fixture(scope="module")
def moto_clients() -> Iterator[tuple[Any, Any]]:
    """One moto and one pair of clients for all examples (each example gets its own table)."""
    from moto import mock_aws

    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        serialize_dynamodb(ddb)
        yield ddb, boto3.client("ssm", region_name="us-east-1")


def test_runtime_property_never_unhealthy_never_within_cooldown(
        moto_clients: tuple[Any, Any]) -> None:
    ddb, ssm = moto_clients

    @settings(max_examples=int(os.environ.get("LAMBDAFAIL_HYPOTHESIS_EXAMPLES", "30")),
              deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(steps=st.lists(step, min_size=1, max_size=20),
           failback=st.sampled_from(["auto", "manual"]))
    def run(steps: list[tuple[Any, ...]], failback: str) -> None:
        check_sequence(steps, failback, ddb, ssm)

    run()


def check_sequence(steps: list[tuple[Any, ...]], failback: str, ddb: Any, ssm: Any) -> None:
    cfg = service_cfg(failure_threshold=2, recovery_threshold=2, cooldown=COOLDOWN,
                      failback=failback, signals=[ALARM_SIG, EVENT_SIG])
    env = make_env(compiled({"checkout": cfg}, table=f"t-{uuid.uuid4().hex[:12]}"),
                   ddb=ddb, ssm_client=ssm)
    orch = env.orchestrator()
    truth = {"primary": True, "standby": True}  # what a probe would see now
    started: dict[str, dict[str, Any]] = {}  # transition id -> pending, when first seen
    n = 0
    last_version = -1
    for s in steps:
        kind = s[0]
        if kind == "tick":
            truth = {"primary": s[1], "standby": s[2]}
            env.prober.set("checkout", primary=s[1], standby=s[2])
            orch.handle({"lambdafail": "tick", "rule": "lambdafail-shop-tick-60s"})
            env.clock.advance(s[3])
        elif kind == "alarm":
            n += 1
            orch.handle(alarm_event("checkout-5xx", s[1], f"a{n}"))
            env.clock.advance(s[2])
        elif kind == "event":
            n += 1
            orch.handle(failure_event(f"e{n}"))
            env.clock.advance(s[1])
        elif kind == "router_fail":
            env.ssm.fail_puts = 1
        else:
            _, side, force, delay = s
            router = make_router(cfg["router"], env.clients)
            tr.request_switch(env.store, router, cfg, "checkout", side, reason="manual",
                              actor="oncall", force=force, now=env.clock(), logger=env.logger,
                              probe=lambda side: orch.probe_side("checkout", side))
            env.clock.advance(delay)

        # Transitions that started during this step: their target was healthy (or forced).
        state = env.store.get("checkout")
        assert state is not None
        if state.version == last_version:
            continue
        last_version = state.version
        fresh: list[dict[str, Any]] = []
        if state.pending and state.pending["id"] not in started:
            fresh.append(state.pending)
        for item in env.store.log():
            if item["transition_id"] not in started:
                fresh.append({"id": item["transition_id"], "to": item["to"],
                              "from": item["from"], "evidence": item["evidence"]})
        for p in fresh:
            started[p["id"]] = p
            if p["from"] != p["to"] and not p["evidence"].get("forced"):
                assert truth[p["to"]], f"switched to unhealthy {p['to']}: {p}"

        # The log: one item per transition; automatic ones respect the cooldown.
        log = list(reversed(env.store.log()))
        ids = [i["transition_id"] for i in log]
        assert len(ids) == len(set(ids))
        for prev, cur in itertools.pairwise(log):
            if cur["reason"] in AUTOMATIC:
                gap = parse_iso(cur["started_at"]) - parse_iso(prev["committed_at"])
                assert gap >= COOLDOWN, (prev, cur)
        # Committed state and the router agree whenever nothing is pending.
        if state.phase == "steady":
            assert env.param() == cfg["router"]["values"][state.active]
