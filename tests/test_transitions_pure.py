"""The pure decision core, called directly: no moto, no handler, plain function calls.

`fold_alarms` (the alarm edge, moved out of `Orchestrator.process`), `record_trigger`, `decide`,
`cooldown_remaining`, `target_healthy`, `record_probe`, `saturate`, `newly_both_down`. The
service configuration is `compile_topology()`'s output, so a compiler change shows here.
"""

from __future__ import annotations

from typing import Any

import pytest

from lambdafail.model.topology import Topology, compile_topology
from lambdafail.runtime.clock import iso
from lambdafail.runtime.decisions import (
    BOTH_DOWN,
    Trigger,
    cooldown_remaining,
    decide,
    fold_alarms,
    forced_failure,
    newly_both_down,
    record_probe,
    record_trigger,
    saturate,
    target_healthy,
)
from lambdafail.runtime.probes import ProbeResult
from lambdafail.runtime.state import ServiceState

NOW = 1_700_000_000.0
UP = ProbeResult(ok=True, latency_ms=1.0, detail="up")
DOWN = ProbeResult(ok=False, latency_ms=1.0, detail="down")


def compiled_service(**policy: Any) -> dict[str, Any]:
    topo = Topology.model_validate({"name": "shop", "services": {"checkout": {
        "primary": {"url": "https://a.example.com/health"},
        "standby": {"url": "https://b.example.com/health"},
        "signals": [{"alarm": "checkout-5xx"}, {"alarm": "checkout-slow", "mode": "failure"},
                    {"event": {"source": ["shop.checkout"]}}],
        "router": {"ssm_parameter": "/shop/checkout/active"},
        "policy": policy}}})
    svc: dict[str, Any] = compile_topology(topo)["services"]["checkout"]
    return svc


CFG = compiled_service()


def state(active: str = "primary", *, alarms: dict[str, str] | None = None,
          edges: dict[str, float] | None = None, last_at: float | None = None) -> ServiceState:
    st = ServiceState("checkout", active=active, version=1, alarms=dict(alarms or {}),
                      alarm_edges=dict(edges or {}))
    if last_at is not None:
        st.last_transition = {"at": iso(last_at), "to": active}
    return st


def probed(st: ServiceState, side: str, result: ProbeResult, times: int = 1) -> ServiceState:
    for _ in range(times):
        record_probe(st, side, result, NOW)
    return st


# --- the alarm edge --------------------------------------------------------------------------

def test_the_edge_into_alarm_is_a_trigger_with_the_event_as_evidence() -> None:
    st = state(alarms={"checkout-5xx": "OK"})
    trig = fold_alarms(st, CFG, {"checkout-5xx": "ALARM"}, NOW, event_id="ev-1")
    assert trig == Trigger("alarm", "failover", {"alarm": "checkout-5xx", "state": "ALARM",
                                                 "previous": "OK", "event_id": "ev-1"})
    assert st.alarms == {"checkout-5xx": "ALARM"} and st.alarm_edges == {"checkout-5xx": NOW}


def test_an_alarm_seen_first_in_alarm_is_an_edge_and_a_reconcile_says_so() -> None:
    st = state()
    trig = fold_alarms(st, CFG, {"checkout-5xx": "ALARM"}, NOW)
    assert trig is not None and trig.evidence == {"alarm": "checkout-5xx", "state": "ALARM",
                                                  "previous": None, "reconciled": True}


def test_a_level_alarm_without_an_edge_does_not_fail_over_again() -> None:
    # E.g. after a manual rollback: the alarm still fires, its edge was served.
    st = state(alarms={"checkout-5xx": "ALARM"}, last_at=NOW - 600)
    passed = Trigger("event", "failover", {"event_id": "x"})
    assert fold_alarms(st, CFG, {"checkout-5xx": "ALARM"}, NOW, trigger=passed) is passed
    assert fold_alarms(st, CFG, {"checkout-5xx": "ALARM"}, NOW) is None


def test_an_unserved_edge_is_asked_again_while_the_alarm_fires() -> None:
    # The edge came after the last transition and the service is still on the primary: the
    # failover it asked for was blocked (cooldown, standby down) and is asked again.
    st = state(alarms={"checkout-5xx": "ALARM"}, edges={"checkout-5xx": NOW - 60},
               last_at=NOW - 61)
    trig = fold_alarms(st, CFG, {"checkout-5xx": "ALARM"}, NOW)
    assert trig is not None and trig.mode == "failover"
    assert trig.evidence["previous"] == "ALARM" and trig.evidence["reconciled"] is True
    assert st.alarm_edges == {"checkout-5xx": NOW - 60}  # the edge keeps its time


@pytest.mark.parametrize("case", ["served", "same-instant", "on-standby", "failure-mode"])
def test_an_edge_is_not_asked_again_once_served_or_when_it_cannot_mean_failover(
        case: str) -> None:
    name = "checkout-slow" if case == "failure-mode" else "checkout-5xx"
    edge = NOW - 60
    last = {"served": NOW - 30, "same-instant": edge}.get(case, NOW - 61)
    st = state("standby" if case == "on-standby" else "primary", alarms={name: "ALARM"},
               edges={name: edge}, last_at=last)
    assert fold_alarms(st, CFG, {name: "ALARM"}, NOW) is None


def test_an_alarm_that_clears_forgets_its_edge() -> None:
    st = state(alarms={"checkout-5xx": "ALARM"}, edges={"checkout-5xx": NOW - 60})
    assert fold_alarms(st, CFG, {"checkout-5xx": "OK"}, NOW) is None
    assert st.alarm_edges == {} and st.alarms == {"checkout-5xx": "OK"}
    st = state(alarms={"checkout-5xx": "ALARM"}, edges={"checkout-5xx": NOW - 60})
    assert fold_alarms(st, CFG, {"checkout-5xx": "INSUFFICIENT_DATA"}, NOW) is None
    assert st.alarm_edges == {}


def test_an_alarm_that_is_no_signal_is_recorded_but_triggers_nothing() -> None:
    st = state()
    assert fold_alarms(st, CFG, {"someone-elses": "ALARM"}, NOW) is None
    assert st.alarms == {"someone-elses": "ALARM"}


def test_the_last_alarm_edge_wins_over_the_trigger_passed_in() -> None:
    st = state()
    passed = Trigger("event", "failover", {"event_id": "x"})
    trig = fold_alarms(st, CFG, {"checkout-slow": "ALARM", "checkout-5xx": "ALARM"}, NOW,
                       event_id="e", trigger=passed)
    assert trig is not None and trig.evidence["alarm"] == "checkout-5xx"


def test_a_failure_mode_signal_counts_as_one_failed_primary_probe() -> None:
    st = state()
    trig = fold_alarms(st, CFG, {"checkout-slow": "ALARM"}, NOW, event_id="e")
    assert trig is not None and trig.mode == "failure"
    record_trigger(st, trig, NOW)
    h = st.health["primary"]
    assert (h.ok, h.failures, h.detail) == (False, 1, "alarm signal: checkout-slow")
    record_trigger(st, Trigger("event", "failure", {"event_id": "e-9"}), NOW)
    assert st.health["primary"].failures == 2
    assert st.health["primary"].detail == "event signal: e-9"
    record_trigger(st, Trigger("alarm", "failover", {"alarm": "a"}), NOW)
    record_trigger(st, None, NOW)
    assert st.health["primary"].failures == 2


# --- decide ----------------------------------------------------------------------------------

def test_a_failover_trigger_probes_a_never_probed_standby_first() -> None:
    d = decide(state(), CFG, NOW, Trigger("alarm", "failover", {"alarm": "checkout-5xx"}))
    assert d.needs_probe == "standby" and d.switch_to is None and d.reason == "alarm"


def test_a_failover_trigger_switches_to_a_healthy_standby() -> None:
    st = probed(state(), "standby", UP)
    d = decide(st, CFG, NOW, Trigger("alarm", "failover", {"alarm": "checkout-5xx"}))
    assert (d.switch_to, d.reason, d.evidence) == ("standby", "alarm", {"alarm": "checkout-5xx"})
    assert d.blocked is None


def test_probe_failures_switch_exactly_at_the_threshold() -> None:
    assert CFG["health"]["failure_threshold"] == 3
    st = probed(probed(state(), "standby", UP), "primary", DOWN, times=2)
    assert decide(st, CFG, NOW).switch_to is None
    probed(st, "primary", DOWN)
    d = decide(st, CFG, NOW)
    assert d.switch_to == "standby" and d.reason == "probe"
    assert d.evidence["probes"]["primary"]["failures"] == 3
    # A failure-mode trigger gives its name and its evidence to the probe decision.
    d = decide(st, CFG, NOW, Trigger("event", "failure", {"event_id": "e"}))
    assert d.reason == "event" and d.evidence["event_id"] == "e" and "probes" in d.evidence


def test_an_unhealthy_standby_blocks_as_both_down() -> None:
    st = probed(state(), "standby", DOWN)
    d = decide(st, CFG, NOW, Trigger("alarm", "failover", {}))
    assert d.switch_to is None and d.blocked is not None and d.blocked.startswith(BOTH_DOWN)
    assert "down" in d.blocked
    st.faults["standby"] = NOW + 10
    record_probe(st, "standby", UP, NOW)
    d = decide(st, CFG, NOW, Trigger("alarm", "failover", {}))
    assert d.blocked is not None and "forced unhealthy by drill" in d.blocked


def test_the_cooldown_counts_real_seconds_from_the_last_transition() -> None:
    assert CFG["policy"]["cooldown_seconds"] == 300
    st = probed(state(last_at=NOW - 10), "standby", UP)
    assert cooldown_remaining(st, CFG, NOW) == 290.0
    d = decide(st, CFG, NOW, Trigger("alarm", "failover", {}))
    assert d.switch_to is None and d.blocked == ("cooldown: wanted standby (alarm), 290s of "
                                                 "cooldown left")
    st = probed(state(last_at=NOW - 300), "standby", UP)
    assert cooldown_remaining(st, CFG, NOW) == 0.0
    assert decide(st, CFG, NOW, Trigger("alarm", "failover", {})).switch_to == "standby"
    assert cooldown_remaining(state(), CFG, NOW) == 0.0  # never switched: no cooldown


def test_on_the_standby_a_manual_failback_stays_and_an_auto_one_returns() -> None:
    st = probed(state("standby"), "primary", UP, times=3)
    assert decide(st, CFG, NOW).message == "on standby; failback is manual"
    auto = compiled_service(failback="auto", cooldown_seconds=0)
    st = probed(state("standby"), "primary", UP, times=2)
    assert decide(st, auto, NOW).switch_to is None
    probed(st, "primary", UP)
    d = decide(st, auto, NOW)
    assert d.switch_to == "primary" and d.evidence["failback"] is True
    st.alarms["checkout-5xx"] = "ALARM"
    d = decide(st, auto, NOW)
    assert d.switch_to is None and "alarms firing: checkout-5xx" in d.message
    st.alarms["checkout-5xx"] = "OK"
    st.faults["primary"] = NOW + 5
    assert decide(st, auto, NOW).switch_to is None


def test_a_failing_active_standby_returns_to_the_primary_whatever_the_failback() -> None:
    st = probed(probed(state("standby"), "primary", UP), "standby", DOWN, times=3)
    d = decide(st, CFG, NOW)
    assert d.switch_to == "primary" and d.evidence["standby_failed"] is True


def test_nothing_is_decided_while_a_switch_is_pending() -> None:
    st = state()
    st.phase = "switching"
    d = decide(st, CFG, NOW, Trigger("alarm", "failover", {}))
    assert d.switch_to is None and d.needs_probe is None and d.blocked is None


# --- the counters ----------------------------------------------------------------------------

def test_target_health_and_forced_failures() -> None:
    st = state()
    assert target_healthy(st, "standby", NOW) is None
    probed(st, "standby", UP)
    assert target_healthy(st, "standby", NOW) is True
    st.faults["standby"] = NOW + 1
    assert target_healthy(st, "standby", NOW) is False
    assert target_healthy(st, "standby", NOW + 1) is True  # the fault's deadline is exclusive
    forced = forced_failure(st, "standby", NOW)
    assert forced is not None and not forced.ok and forced_failure(st, "primary", NOW) is None


def test_probes_count_consecutively_and_a_probe_that_never_ran_is_no_evidence() -> None:
    st = probed(state(), "primary", DOWN, times=2)
    probed(st, "primary", ProbeResult(ok=True, latency_ms=0.0, detail="", probed=False))
    assert (st.health["primary"].failures, st.health["primary"].ok) == (2, False)
    probed(st, "primary", UP)
    h = st.health["primary"]
    assert (h.ok, h.failures, h.successes, h.at) == (True, 0, 1, iso(NOW))


def test_saturate_stops_the_counters_at_their_thresholds() -> None:
    st = probed(probed(state(), "primary", DOWN, times=7), "standby", UP, times=5)
    saturate(st, CFG["health"])
    assert st.health["primary"].failures == 3 and st.health["standby"].successes == 3


def test_both_down_is_notified_once_per_episode() -> None:
    both = f"{BOTH_DOWN}: wanted standby"
    assert newly_both_down(None, both) and newly_both_down("cooldown: x", both)
    assert not newly_both_down(both, both) and not newly_both_down(None, "cooldown: x")
    assert not newly_both_down(both, None)


# --- recovery plans in the decision ---------------------------------------------------------

def cold_service() -> dict[str, Any]:
    topo = Topology.model_validate({"name": "shop", "services": {"checkout": {
        "primary": {"url": "https://a.example.com/health"},
        "standby": {"url": "https://b.example.com/health"},
        "router": {"ssm_parameter": "/shop/checkout/active"},
        "recovery": {"failover": [{"lambda": {"function": "start-standby"}},
                                  {"wait": {"healthy": 2, "timeout_seconds": 60}}]}}}})
    svc: dict[str, Any] = compile_topology(topo)["services"]["checkout"]
    return svc


def test_a_cold_standby_that_is_down_is_still_failed_over_to_its_plan_judges_it() -> None:
    cfg = cold_service()
    st = probed(probed(state(), "primary", DOWN, 3), "standby", DOWN, 3)
    d = decide(st, cfg, NOW)
    assert d.switch_to == "standby" and d.blocked is None
    # The same sides with a hot standby: both down, nothing moves.
    hot = decide(probed(probed(state(), "primary", DOWN, 3), "standby", DOWN, 3), CFG, NOW)
    assert hot.switch_to is None and (hot.blocked or "").startswith(BOTH_DOWN)


def test_a_failed_plan_is_not_run_again_by_itself_but_a_way_home_is_taken() -> None:
    from lambdafail.runtime.recovery import RECOVERY_FAILED

    cfg = cold_service()
    st = probed(state(), "primary", DOWN, 3)
    st.blocked = f"{RECOVERY_FAILED}: step 1 (lambda) failed"
    d = decide(st, cfg, NOW)
    assert d.switch_to is None and d.blocked == st.blocked
    assert d.reason == "probe" and d.message == "not switching: the recovery plan failed"
    # On the standby with the standby down, going home is not held by the failed plan.
    home = probed(probed(state("standby"), "standby", DOWN, 3), "primary", UP, 3)
    home.blocked = st.blocked
    assert decide(home, cfg, NOW).switch_to == "primary"


def test_a_pause_holds_a_wanted_failover_and_says_until_when() -> None:
    st = probed(state(), "primary", DOWN, 3)
    probed(st, "standby", UP, 3)
    st.paused = {"until": NOW + 60, "reason": "migration"}
    d = decide(st, CFG, NOW)
    assert d.switch_to is None and d.message == "not switching: paused"
    assert (d.blocked or "").startswith("paused: wanted standby (probe)")
    assert iso(NOW + 60) in (d.blocked or "")
    st.paused = {"until": NOW, "reason": "migration"}  # over: it switches
    assert decide(st, CFG, NOW).switch_to == "standby"


def test_the_cooldown_blocks_to_its_last_half_second_and_not_a_moment_after() -> None:
    cooldown = int(CFG["policy"]["cooldown_seconds"])
    st = probed(probed(state(last_at=NOW - cooldown + 0.5), "primary", DOWN, 3), "standby", UP, 3)
    d = decide(st, CFG, NOW)
    assert d.switch_to is None and (d.blocked or "").startswith("cooldown: wanted standby")
    over = probed(probed(state(last_at=NOW - cooldown), "primary", DOWN, 3), "standby", UP, 3)
    assert decide(over, CFG, NOW).switch_to == "standby"
