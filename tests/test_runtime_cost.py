"""What a tick costs: a steady service writes nothing, metrics and log lines by design.

Counts calls, items and log records (never time) against in-process moto with the real
Orchestrator; only the clock and the probe outcomes are scripted.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from lambdafail.runtime.state import tick_attribute
from runtime_support import (
    DDB_WRITES,
    RULE,
    compiled,
    make_env,
    record_calls,
    service_cfg,
)


@pytest.fixture
def aws() -> Iterator[None]:
    from moto import mock_aws

    with mock_aws():
        yield


def _services(n: int, **kw: Any) -> dict[str, dict[str, Any]]:
    return {f"svc{i:03d}": service_cfg(name=f"svc{i:03d}", **kw) for i in range(n)}


def test_runtime_cost_steady_tick_writes_only_the_heartbeat(aws: None) -> None:
    env = make_env(compiled(_services(100)))
    calls: list[str] = []
    record_calls(env.store.ddb, calls)
    orch = env.orchestrator()
    # Warm-up: first probes (never probed -> healthy) and successes counting to the threshold.
    for _ in range(4):
        env.tick(orch)
    calls.clear()
    env.tick(orch)
    writes = [c for c in calls if c in DDB_WRITES]
    assert writes == ["UpdateItem"]  # the heartbeat, nothing per service
    assert calls.count("Query") == 1  # every service in one paginated Query
    hb = env.store.heartbeat_item()
    assert hb is not None and hb[tick_attribute(RULE)] == hb["last_tick_at"]


def test_runtime_cost_writes_follow_what_changed(aws: None) -> None:
    env = make_env(compiled(_services(10, cooldown=0)))
    calls: list[str] = []
    record_calls(env.store.ddb, calls)
    orch = env.orchestrator()
    for _ in range(4):
        env.tick(orch)
    env.prober.set("svc003", primary=False)
    calls.clear()
    env.tick(orch)  # one service's verdict changed: its item, and the heartbeat
    assert [c for c in calls if c in DDB_WRITES] == ["UpdateItem", "UpdateItem"]
    calls.clear()
    env.tick(orch)  # the failure counter moves (2 of 3): one write again
    assert [c for c in calls if c in DDB_WRITES] == ["UpdateItem", "UpdateItem"]
    env.tick(orch)  # third failure: the switch (switching write, commit, log item, marker)
    assert env.active("svc003") == "standby"
    for _ in range(4):  # failed over, primary still down: the counters saturate
        env.tick(orch)
    calls.clear()
    env.tick(orch)
    assert [c for c in calls if c in DDB_WRITES] == ["UpdateItem"]
    st = env.store.get("svc003")
    assert st is not None and st.health["primary"].failures == 3


def test_runtime_cost_all_down_saturates_and_stops_writing(aws: None) -> None:
    env = make_env(compiled(_services(5)))
    orch = env.orchestrator()
    for name in env.config.services:
        env.prober.set(name, primary=False, standby=False)
    for _ in range(5):
        env.tick(orch)
    calls: list[str] = []
    record_calls(env.store.ddb, calls)
    env.tick(orch)
    assert [c for c in calls if c in DDB_WRITES] == ["UpdateItem"]
    st = env.store.get("svc000")
    assert st is not None and st.active == "primary" and (st.blocked or "").startswith("both")
    assert (st.health["primary"].failures, st.health["standby"].failures) == (3, 3)


def test_runtime_cost_probe_rounds_write_nothing_when_steady(aws: None) -> None:
    env = make_env(compiled(_services(20, probes_per_tick=5)))
    orch = env.orchestrator()
    env.tick(orch)
    calls: list[str] = []
    record_calls(env.store.ddb, calls)
    result = env.tick(orch)
    assert result["rounds"] == 5
    assert [c for c in calls if c in DDB_WRITES] == ["UpdateItem"]
    assert calls.count("Query") == 5


def test_runtime_cost_log_lines_are_changes_not_probes(aws: None) -> None:
    env = make_env(compiled(_services(50)))
    orch = env.orchestrator()
    env.tick(orch)
    before = len(env.logger.records)
    env.tick(orch)
    steady = env.logger.records[before:]
    # A steady tick: one State metric per service, the tick's Heartbeat, and nothing else.
    states = [r for r in steady if "Heartbeat" not in r]
    assert len(steady) == 51 and len(states) == 50 and all(r.get("State") == 0 for r in states)
    assert [r for r in steady if "Heartbeat" in r] == [steady[-1]]
    assert steady[-1]["Heartbeat"] == 1 and steady[-1]["Topology"] == "shop"
    env.prober.set("svc007", primary=False)
    before = len(env.logger.records)
    env.tick(orch)
    lines = [r for r in env.logger.records[before:] if "_aws" not in r]
    assert [(r["message"], r["service"]) for r in lines] == [("primary failing", "svc007")]
    before = len(env.logger.records)
    env.tick(orch)  # still failing: no new line
    assert not [r for r in env.logger.records[before:] if "_aws" not in r]


@pytest.mark.parametrize(("mode", "per_service"), [("none", 0), ("state", 1), ("probes", 3)])
def test_runtime_cost_metrics_modes(aws: None, mode: str, per_service: int) -> None:
    services = _services(3)
    for svc in services.values():
        svc["health"]["metrics"] = mode
    env = make_env(compiled(services))
    env.tick()
    emf = env.logger.emf_records()
    # The tick's Heartbeat (what deploy's heartbeat alarm watches) whatever the mode.
    assert [r for r in emf if "Heartbeat" in r] and len(emf) == 3 * per_service + 1
    if mode == "probes":
        sides = {(r["Service"], r["Side"]) for r in emf if "ProbeLatency" in r}
        assert sides == {(s, side) for s in services for side in ("primary", "standby")}


def test_runtime_cost_state_metric_on_later_rounds_only_when_changed(aws: None) -> None:
    env = make_env(compiled({"checkout": service_cfg(probes_per_tick=5)}))
    orch = env.orchestrator()
    env.tick(orch)
    assert [r["State"] for r in env.logger.emf_records() if "State" in r] == [0]
    env.prober.set("checkout", standby=False)
    env.tick(orch)
    assert [r["State"] for r in env.logger.emf_records() if "State" in r] == [0, 1]
