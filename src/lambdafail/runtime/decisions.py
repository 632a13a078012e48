"""The pure decisions of the failover state machine: what a probe, an alarm edge or a failure
event does to a service's state, and whether (and where) it should switch.

Rule: no I/O and no clock — time is passed in — so every function here is unit-tested and
property-tested directly. stdlib only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lambdafail.runtime.config import SIDES
from lambdafail.runtime.probes import ProbeResult
from lambdafail.runtime.recovery import (
    RECOVERY_FAILED,
    cold_standby,
)
from lambdafail.runtime.state import (
    ServiceState,
    iso,
)

REASONS = ("probe", "alarm", "event", "manual", "rollback", "drill", "drill-abandoned",
           "break-glass")
BOTH_DOWN = "both down"
PAUSED = "paused"


def other(side: str) -> str:
    return "standby" if side == "primary" else "primary"


@dataclass(frozen=True)
class Trigger:
    """An alarm or failure event that concerns a service."""

    kind: str  # "alarm" | "event"
    mode: str  # "failover": act at once | "failure": count as one failed primary probe
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Decision:
    switch_to: str | None = None
    reason: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)
    blocked: str | None = None  # a wanted switch that must not happen, and why
    needs_probe: str | None = None  # probe this side first (never probed), then decide again
    message: str = ""


def record_probe(state: ServiceState, side: str, result: ProbeResult, now: float) -> None:
    """Fold one probe result into the side's consecutive counters (mutates `state`).

    A probe that never ran (`probed=False`) is no evidence: the side keeps its verdict."""
    if not result.probed:
        return
    h = state.health[side]
    h.ok = result.ok
    h.at = iso(now)
    h.latency_ms = result.latency_ms
    h.detail = result.detail
    if result.ok:
        h.successes += 1
        h.failures = 0
    else:
        h.failures += 1
        h.successes = 0


def saturate(state: ServiceState, health_cfg: dict[str, Any]) -> None:
    """Stop the consecutive counters at their thresholds (mutates `state`).

    `decide` only ever compares a counter with its threshold, so a counter past it carries no
    information; one that kept counting would make every steady tick rewrite the item.
    """
    fail_max = int(health_cfg["failure_threshold"])
    ok_max = int(health_cfg["recovery_threshold"])
    for h in state.health.values():
        h.failures = min(h.failures, fail_max)
        h.successes = min(h.successes, ok_max)


def forced_failure(state: ServiceState, side: str, now: float) -> ProbeResult | None:
    """The result a drill's fault flag imposes on `side`, if one is active."""
    if state.faulted(side, now):
        return ProbeResult(ok=False, latency_ms=0.0, detail="forced unhealthy by drill")
    return None


def fold_alarms(state: ServiceState, service_cfg: dict[str, Any],
                alarm_states: Mapping[str, str],
                now: float, *, event_id: str | None = None,
                trigger: Trigger | None = None) -> Trigger | None:
    """Fold alarm states (from an alarm event, or a tick's reconcile) into `state` and return
    the trigger to decide on: an alarm signal's, or else `trigger` unchanged.

    Alarms act on the edge into ALARM: a level check would fail over again right after a manual
    rollback. A failover the edge asked for but could not get (standby down, cooldown) is asked
    again while the alarm fires and no transition has happened since the edge.
    """
    trig = trigger
    for name, value in alarm_states.items():
        prev = state.alarms.get(name)
        state.alarms[name] = value
        sig = next((g for g in service_cfg["signals"]
                    if g["kind"] == "alarm" and g["alarm_name"] == name), None)
        if value == "ALARM" and prev != "ALARM":
            state.alarm_edges[name] = now
        elif value != "ALARM":
            state.alarm_edges.pop(name, None)
        edge = state.alarm_edges.get(name)
        unserved = (edge is not None and prev == "ALARM" and sig is not None
                    and sig["mode"] == "failover"
                    and state.active == "primary"
                    and edge > (state.last_transition_epoch() or 0.0))
        if value == "ALARM" and sig is not None and (prev != "ALARM" or unserved):
            ev: dict[str, Any] = {"alarm": name, "state": value, "previous": prev}
            if event_id:
                ev["event_id"] = event_id
            else:
                ev["reconciled"] = True
            trig = Trigger("alarm", str(sig["mode"]), ev)
    return trig


def record_trigger(state: ServiceState, trigger: Trigger | None, now: float) -> None:
    """A `failure`-mode signal counts as one failed primary probe (a `failover` one is for
    `decide`)."""
    if trigger is not None and trigger.mode == "failure":
        what = trigger.evidence.get("alarm") or trigger.evidence.get("event_id")
        record_failure_signal(state, f"{trigger.kind} signal: {what}", now)


def record_failure_signal(state: ServiceState, detail: str, now: float) -> None:
    """A `mode: failure` alarm or event counts as one failed probe of the primary."""
    record_probe(state, "primary", ProbeResult(ok=False, latency_ms=0.0, detail=detail), now)


def failover_alarms(service_cfg: dict[str, Any]) -> list[str]:
    return [s["alarm_name"] for s in service_cfg["signals"]
            if s["kind"] == "alarm" and s["mode"] == "failover"]


def target_healthy(state: ServiceState, side: str, now: float) -> bool | None:
    """True/False from the last probe (a fault flag means False); None if never probed."""
    if state.faulted(side, now):
        return False
    return state.health[side].ok


def cooldown_remaining(state: ServiceState, service_cfg: dict[str, Any], now: float) -> float:
    """Seconds until an automatic transition is allowed (cooldown counts from ANY transition).

    Real seconds always: LAMBDAFAIL_TIME_SCALE speeds up probe rounds, never the cooldown.
    """
    last = state.last_transition_epoch()
    if last is None:
        return 0.0
    cooldown = float(service_cfg["policy"]["cooldown_seconds"])
    return max(0.0, last + cooldown - now)


def probe_evidence(state: ServiceState) -> dict[str, Any]:
    return {s: state.health[s].to_dict() for s in SIDES}


def decide(state: ServiceState, service_cfg: dict[str, Any], now: float,
           trigger: Trigger | None = None) -> Decision:
    """What the orchestrator should do with this service now (after recording observations)."""
    if state.phase == "switching":
        return Decision(message="a switch is pending; it is resumed first")
    health_cfg = service_cfg["health"]
    policy = service_cfg["policy"]
    to = other(state.active)
    reason = ""
    evidence: dict[str, Any] = {}
    if state.active == "primary":
        prim = state.health["primary"]
        if trigger is not None and trigger.mode == "failover":
            reason, evidence = trigger.kind, dict(trigger.evidence)
        elif prim.failures >= int(health_cfg["failure_threshold"]):
            reason = trigger.kind if trigger is not None else "probe"
            evidence = {**(trigger.evidence if trigger else {}), "probes": probe_evidence(state)}
        else:
            return Decision(message="primary active and healthy enough")
    elif state.health["standby"].failures >= int(health_cfg["failure_threshold"]):
        # The active standby itself is down: back to the primary whatever the failback policy
        # ("manual" means no return just because the primary recovered, not "stay on a dead
        # side"); if the primary is down too, this is "both down": stay, record, notify.
        reason = "probe"
        evidence = {"probes": probe_evidence(state), "standby_failed": True}
    else:
        if policy["failback"] != "auto":
            return Decision(message="on standby; failback is manual")
        prim = state.health["primary"]
        firing = [a for a in failover_alarms(service_cfg) if state.alarms.get(a) == "ALARM"]
        if (prim.successes < int(health_cfg["recovery_threshold"]) or not prim.ok
                or state.faulted("primary", now) or firing):
            return Decision(message="on standby; primary not recovered"
                            + (f" (alarms firing: {', '.join(firing)})" if firing else ""))
        reason, evidence = "probe", {"probes": probe_evidence(state), "failback": True}
    if to == "standby" and (state.blocked or "").startswith(RECOVERY_FAILED):
        # The plan failed once in this episode: not again by itself (it may have started
        # things); the primary recovering, or an operator's failover, lifts this.
        return Decision(reason=reason, evidence=evidence, blocked=state.blocked,
                        message="not switching: the recovery plan failed")
    until = state.paused_until(now)
    if until is not None:
        return Decision(reason=reason, evidence=evidence,
                        blocked=f"{PAUSED}: wanted {to} ({reason}), switching is paused until "
                                f"{iso(until)}",
                        message="not switching: paused")
    # A cold standby is judged by its plan's `wait` step, not by the last probe.
    healthy = True if cold_standby(service_cfg, to) else target_healthy(state, to, now)
    if healthy is None:
        return Decision(needs_probe=to, reason=reason, evidence=evidence,
                        message=f"{to} never probed; probing it first")
    if not healthy:
        why = state.health[to].detail if not state.faulted(to, now) else "forced unhealthy by drill"
        return Decision(reason=reason, evidence=evidence,
                        blocked=f"{BOTH_DOWN}: wanted {to} ({reason}) but it is unhealthy: {why}",
                        message=f"not switching: {to} is unhealthy")
    wait = cooldown_remaining(state, service_cfg, now)
    if wait > 0:
        return Decision(reason=reason, evidence=evidence,
                        blocked=f"cooldown: wanted {to} ({reason}), {wait:.0f}s of cooldown left",
                        message="not switching: cooldown")
    return Decision(switch_to=to, reason=reason, evidence=evidence,
                    message=f"switch {state.active} -> {to} ({reason})")


def newly_both_down(old_blocked: str | None, new_blocked: str | None) -> bool:
    """Notify once per blocked episode, not every tick."""
    return bool(new_blocked and new_blocked.startswith(BOTH_DOWN)
                and not (old_blocked or "").startswith(BOTH_DOWN))
