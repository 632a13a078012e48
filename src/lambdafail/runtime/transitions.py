"""The failover state machine: pure decisions, and the exactly-once switch (router, then commit).

Rules: `record_*` and `decide` are pure (no I/O, time passed in); `request_switch` is the only way
traffic moves — used by the orchestrator (automatic: cooldown applies) and by the CLI (manual:
no cooldown, `force` skips the target-health check and is recorded). A switch is written as
`switching` (conditional on the version read) BEFORE the router acts; the router is idempotent
and read back; the commit (service item + log item) is one transaction conditional on that
pending switch, so a transition is never lost and never applied twice. stdlib + boto3 only.
"""

from __future__ import annotations

import copy
import json
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lambdafail.runtime.config import SIDES
from lambdafail.runtime.log import Logger
from lambdafail.runtime.probes import ProbeResult
from lambdafail.runtime.recovery import (
    RECOVERY_FAILED,
    cold_standby,
    failure_text,
    plan_name,
    plan_steps,
    run_plan,
)
from lambdafail.runtime.routers import Router, RouterError, RouterRefused, RouterTimeout
from lambdafail.runtime.state import (
    ServiceState,
    StateConflict,
    StateStore,
    iso,
    transition_log_item,
)
from lambdafail.runtime.steps import StepEnv

# A pending switch is "leased" by whoever applies its router; a crashed applier's lease lapses
# after this long and the next tick takes over. Longer than any router call, shorter than a tick.
LEASE_SECONDS = 30.0
REASONS = ("probe", "alarm", "event", "manual", "rollback", "drill")
BOTH_DOWN = "both down"
PAUSED = "paused"


def other(side: str) -> str:
    return "standby" if side == "primary" else "primary"


# --- pure decisions ----------------------------------------------------------------------------

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


# --- notification ------------------------------------------------------------------------------

class Notifier:
    """Publishes to the topology's SNS topic, if any, and every transition as an EventBridge
    event on the account's default bus (source `lambdafail`, detail-type `lambdafail
    transition`) when given an events client. Failures are logged, never raised.

    `context` (or a function returning it, called once, lazily: the account may cost an STS
    call) holds `topology`, `region` and `account` for every message."""

    def __init__(self, topic_arn: str | None, sns_client: Callable[[], Any] | Any,
                 logger: Logger | None = None, *,
                 events_client: Callable[[], Any] | Any | None = None,
                 context: dict[str, str] | Callable[[], dict[str, str]] | None = None,
                 on_outcome: Callable[[list[str]], None] | None = None) -> None:
        self.topic_arn = topic_arn
        # Told each notification's failed channels ([] when delivered): the orchestrator
        # records them where status reads (runtime/notify_health.py).
        self._on_outcome = on_outcome
        self._sns = sns_client
        self._events = events_client
        self._context = context
        self.logger = logger or Logger()
        self.sent: list[dict[str, Any]] = []

    def context(self) -> dict[str, str]:
        if callable(self._context):
            try:
                self._context = self._context()
            except Exception as e:  # a message without the account beats no message
                self.logger.error("notification context failed", error=str(e))
                self._context = {}
        return dict(self._context or {})

    def transition(self, item: dict[str, Any]) -> None:
        """A committed transition (the log item): SNS subject + body, and the default-bus event."""
        ctx = self.context()
        detail = {k: v for k, v in item.items() if k not in ("pk", "sk")}
        detail.update({k: ctx.get(k, "") for k in ("topology", "region", "account")})
        detail["next_command"] = next_command(detail)
        where = f"{ctx.get('topology', '')} in {ctx.get('region', '')}" + (
            f", account {ctx['account']}" if ctx.get("account") else "")
        detail["summary"] = (f"{item['service']} ({where}) switched {item['from']} -> "
                             f"{item['to']}, reason {item['reason']}, by {item['actor']}. "
                             f"Next: {detail['next_command']}")
        errors = self._publish(f"lambdafail {ctx.get('topology', '')}/{item['service']} "
                               f"[{ctx.get('region', '')}]: {item['from']} -> {item['to']} "
                               f"({item['reason']})", {"event": "transition", **detail})
        if self._events is None:
            self._outcome(errors)
            return
        try:
            events = self._events() if callable(self._events) else self._events
            resp = events.put_events(Entries=[{
                "Source": "lambdafail", "DetailType": "lambdafail transition",
                "Detail": json.dumps(detail, default=str)}])
            if resp.get("FailedEntryCount"):
                raise RuntimeError(str(resp.get("Entries")))
            self.sent.append({"event": "lambdafail transition", "detail": detail})
        except Exception as e:
            self.logger.error("eventbridge put_events failed", error=str(e))
            errors.append(f"eventbridge: {e}")
        self._outcome(errors)

    def _outcome(self, errors: list[str]) -> None:
        if self._on_outcome is None:
            return
        try:
            self._on_outcome(errors)
        except Exception as e:  # recording it must not break the switch either
            self.logger.error("notification outcome not recorded", error=str(e))

    def publish(self, subject: str, message: dict[str, Any]) -> None:
        if self.topic_arn:
            self._outcome(self._publish(subject, message))

    def _publish(self, subject: str, message: dict[str, Any]) -> list[str]:
        """SNS; the errors (none when delivered or when there is no topic)."""
        if not self.topic_arn:
            return []
        # SNS subjects: ASCII, no line breaks, under 100 characters.
        subj = subject.encode("ascii", "replace").decode()[:99].replace("\n", " ")
        try:
            sns = self._sns() if callable(self._sns) else self._sns
            sns.publish(TopicArn=self.topic_arn, Subject=subj,
                        Message=json.dumps(message, default=str, indent=1))
            self.sent.append({"subject": subj, "message": message})
        except Exception as e:
            self.logger.error("sns publish failed", topic=self.topic_arn, error=str(e))
            return [f"sns: {e}"]
        return []


def next_command(entry: dict[str, Any]) -> str:
    """What on-call runs next after this transition (pasted with their own -f/connection)."""
    region = f" --region {entry['region']}" if entry.get("region") else ""
    if entry.get("to") == "standby":
        return (f"lambdafail status{region}  # then, once the primary is fixed: lambdafail "
                f"rollback {entry.get('service')} --reason TEXT{region}")
    return f"lambdafail history {entry.get('service')}{region}"


# --- the exactly-once switch -------------------------------------------------------------------

#: Builds the environment of a recovery plan's steps: (plan name, transition id) → StepEnv.
StepEnvFor = Callable[[str, str], StepEnv]


@dataclass
class SwitchResult:
    # switched | noop | lost_race | refused | router_failed | recovering (steps under way,
    # the next tick resumes them) | blocked (a recovery step failed: the router did not move)
    # | abandoned (given up by hand: `rollback --abandon`)
    status: str
    service: str
    message: str
    state: ServiceState | None = None
    transition: dict[str, Any] | None = None  # the log item when switched, else the pending

    @property
    def ok(self) -> bool:
        return self.status in ("switched", "noop")


def new_pending(state: ServiceState, to_side: str, *, reason: str, actor: str,
                evidence: dict[str, Any], now: float) -> dict[str, Any]:
    return {"id": uuid.uuid4().hex[:16], "from": state.active, "to": to_side, "reason": reason,
            "actor": actor, "evidence": evidence, "started_at": iso(now),
            "lease_until": now + LEASE_SECONDS, "attempts": 1}


def _drill_attribution(store: StateStore, service: str, reason: str, evidence: dict[str, Any],
                       automatic: bool, now: float) -> str:
    """While a drill holds the service's lock, a switch is the drill's: its id goes into the
    evidence, and an automatic switch (the orchestrator reacting to the injected fault) is
    logged with reason `drill`, what detected it kept as `detected_by`. One GetItem, only when
    a switch is about to start."""
    lock = store.drill_lock(service)
    if lock is None or float(lock.get("lock_expires_epoch", 0)) <= now:
        return reason
    evidence["drill_id"] = str(lock.get("drill_id", ""))
    if not automatic:
        return reason
    evidence["detected_by"] = reason
    return "drill"


def request_switch(store: StateStore, router: Router, service_cfg: dict[str, Any],
                   service: str, to_side: str, *, reason: str, actor: str,
                   evidence: dict[str, Any] | None = None, force: bool = False,
                   now: float | None = None, automatic: bool = False,
                   probe: Callable[[str], ProbeResult] | None = None,
                   notify: Notifier | None = None, logger: Logger | None = None,
                   state: ServiceState | None = None,
                   clock: Callable[[], float] | None = None,
                   step_env: StepEnvFor | None = None) -> SwitchResult:
    """Move `service` to `to_side`, exactly once.

    `automatic` (the orchestrator): cooldown applies, and losing a race means doing nothing.
    Manual (the CLI): no cooldown; a lost race is re-read and re-decided. `force` skips the
    target-health check (recorded in the evidence). `probe(side)` probes a never-probed target
    on the spot. `state` may pass a fresh read to save one GetItem. Without a fixed `now`,
    the clock (`clock`, default time.time) is read again at every write — a lease, a start or
    a commit time never predates a slow probe or an operator's confirmation. A service with a
    recovery plan runs its steps (`step_env` builds their environment) around the router; a
    cold standby (judged by a `wait` step) is not health-checked beforehand.
    """
    if to_side not in SIDES:
        raise ValueError(f"to_side must be primary or standby, not {to_side!r}")
    if reason not in REASONS:
        raise ValueError(f"reason must be one of {', '.join(REASONS)}")
    read = clock or time.time

    def current() -> float:
        return read() if now is None else now

    t = current()
    log = logger or Logger()
    ev = dict(evidence or {})
    if force:
        ev["forced"] = True
    attempts = 1 if automatic else 4
    for _ in range(attempts):
        st = state if state is not None else store.get_or_seed(service, t)
        state = None
        _bind(router, st)
        if st.phase == "switching" and st.pending:
            pending = st.pending
            if pending["to"] == to_side or automatic:
                return resume(store, router, service, st, now=current(), notify=notify,
                              logger=log, clock=current, service_cfg=service_cfg,
                              step_env=step_env)
            if float(pending.get("lease_until", 0)) > t:
                return SwitchResult("lost_race", service, f"a switch to {pending['to']} is being "
                                    f"applied by {pending['actor']}; try again in "
                                    f"{float(pending['lease_until']) - t:.0f}s", st, pending)
            # Manual request against a stuck pending switch: cancel it by driving the router
            # back to the committed side (from == to in the log).
        elif st.active == to_side:
            return SwitchResult("noop", service, f"{service} already on {to_side}", st)
        if not force and st.active != to_side and not cold_standby(service_cfg, to_side):
            healthy = target_healthy(st, to_side, t)
            if healthy is None and probe is not None:
                forced = forced_failure(st, to_side, t)
                record_probe(st, to_side, forced or probe(to_side), t)
                healthy = target_healthy(st, to_side, t)
            if not healthy:
                detail = st.health[to_side].detail or "never probed"
                return SwitchResult("refused", service, f"{to_side} is not healthy ({detail}); "
                                    "use --force to switch anyway", st)
            ev.setdefault("target_health", st.health[to_side].to_dict())
        if automatic and st.active != to_side:
            wait = cooldown_remaining(st, service_cfg, t)
            if wait > 0:
                return SwitchResult("refused", service, f"cooldown: {wait:.0f}s left", st)
        t = current()  # after any on-the-spot probe
        reason = _drill_attribution(store, service, reason, ev, automatic, t)
        pending = new_pending(st, to_side, reason=reason, actor=actor, evidence=ev, now=t)
        expected = st.version
        st.phase, st.pending, st.blocked = "switching", pending, None
        try:
            store.save(st, expected)
        except StateConflict:
            if automatic:
                return SwitchResult("lost_race", service, "another actor changed the service "
                                    "first; nothing done", None, None)
            continue
        log.info("switch started", service=service, transition_id=pending["id"],
                 **{"from": pending["from"], "to": to_side}, reason=reason, actor=actor)
        return _drive(store, router, service, st, clock=current, notify=notify, logger=log,
                      service_cfg=service_cfg, step_env=step_env)
    return SwitchResult("lost_race", service, "the service kept changing under us; try again")


def _bind(router: Router, st: ServiceState) -> None:
    # A router with nothing in AWS to read back (a hook) answers with the committed side
    # until it confirms one itself.
    router.bind(st.active)


def resume(store: StateStore, router: Router, service: str, st: ServiceState, *, now: float,
           notify: Notifier | None = None, logger: Logger | None = None,
           clock: Callable[[], float] | None = None,
           service_cfg: dict[str, Any] | None = None,
           step_env: StepEnvFor | None = None) -> SwitchResult:
    """Finish the pending switch of `st` (its recovery steps, router again, then commit), if
    its lease is free. `service_cfg` None: a service without recovery steps."""
    log = logger or Logger()
    pending = st.pending
    if st.phase != "switching" or not pending:
        return SwitchResult("noop", service, "nothing pending", st)
    _bind(router, st)
    if float(pending.get("lease_until", 0)) > now:
        return SwitchResult("lost_race", service, f"switch {pending['id']} is being applied "
                            "by another actor", st, pending)
    try:
        store.take_lease(service, str(pending["id"]), now + LEASE_SECONDS, now)
    except StateConflict:
        return SwitchResult("lost_race", service, "another actor took over the pending switch",
                            None, pending)
    pending["lease_until"] = now + LEASE_SECONDS  # what we hold (recovery writes compare it)
    log.info("resuming pending switch", service=service, transition_id=pending["id"],
             to=pending["to"], attempts=int(pending.get("attempts", 1)) + 1)
    return _drive(store, router, service, st, clock=clock or (lambda: now), notify=notify,
                  logger=log, service_cfg=service_cfg, step_env=step_env)


COMMIT_ATTEMPTS = 3


def abandon_pending(store: StateStore, service: str, st: ServiceState, *, actor: str,
                    note: str, now: float) -> SwitchResult:
    """Give up a switch stuck half-way without touching its router (a router that is gone or
    keeps refusing cannot be driven either way): the state goes back to steady on the side
    it was committed to, and the log records a cancelled switch (from == to) saying so.

    Only once nobody holds the switch's lease, and only that pending switch (the commit's
    condition): a concurrent resume or a newer switch wins, and this is a lost race."""
    pending = st.pending
    if st.phase != "switching" or not pending:
        return SwitchResult("noop", service, f"{service} has no pending switch; nothing to "
                            "abandon", st)
    if float(pending.get("lease_until", 0)) > now:
        return SwitchResult("lost_race", service, f"the switch to {pending['to']} is being "
                            f"applied by {pending['actor']} right now; try again in "
                            f"{float(pending['lease_until']) - now:.0f}s", st, pending)
    evidence = {**(pending.get("evidence") or {}), "abandoned": {
        "wanted": pending["to"], "router_error": pending.get("last_error", ""), "by": actor,
        "note": note}}
    cancelled = {**pending, "to": pending["from"], "evidence": evidence}
    try:
        item = store.commit(service, cancelled, now, uuid.uuid4().hex)
    except StateConflict:
        return SwitchResult("lost_race", service, "the pending switch completed or changed "
                            "meanwhile; nothing abandoned", None, pending)
    return SwitchResult("abandoned", service, f"{service}: the switch to {pending['to']} was "
                        f"abandoned; the state says {pending['from']} again", None, item)


def _committed(store: StateStore, service: str, pending_id: str, token: str) -> bool:
    """Did this committer's own transaction commit the switch (its reply was lost)? A commit
    of the same pending switch by somebody else (a tick resuming it) is theirs: they notify."""
    try:
        st = store.get(service)
    except Exception:
        return False
    last = st.last_transition or {} if st else {}
    return bool(st and st.phase == "steady" and last.get("id") == pending_id
                and last.get("commit_token") == token)


def _recover(store: StateStore, service: str, st: ServiceState, pending: dict[str, Any],
             steps: list[dict[str, Any]], step_env: StepEnvFor | None, *,
             notify: Notifier | None, logger: Logger) -> SwitchResult | None:
    """Run the switch's recovery plan; None when it is done (the switch goes on), else the
    result to return now (steps under way, taken over, or failed: blocked)."""
    name = plan_name(pending) or ""
    pid = str(pending["id"])
    if step_env is None:
        raise ValueError(f"{service} has {name} steps; request_switch/resume need step_env")
    outcome = run_plan(store, service, pending, steps, step_env(name, pid),
                       lease_seconds=LEASE_SECONDS, logger=logger)
    progress = pending.get("recovery") or {}
    if outcome == "done":
        return None
    if outcome in ("later", "lost"):
        st.pending = pending
        return SwitchResult("recovering" if outcome == "later" else "lost_race", service,
                            f"{service}: {name} steps under way (step {progress.get('step')}"
                            f"/{len(steps)}); the next tick resumes them", st, pending)
    why = failure_text(progress)
    if name == "failback":
        # Traffic is already home: the switch is committed anyway; say the plan failed.
        if notify is not None:
            notify.publish(f"lambdafail: {service}: failback step failed",
                           {"event": "recovery_failed", "service": service, "plan": name,
                            "transition_id": pid, "blocked": why, "recovery": progress})
        return None
    try:
        store.abandon_switch(service, pid, float(pending["lease_until"]), why, progress)
    except StateConflict:
        return SwitchResult("lost_race", service, "another actor took over the pending switch",
                            None, pending)
    logger.error("recovery plan failed; the router did not move", service=service,
                 transition_id=pid, blocked=why)
    if notify is not None:
        notify.publish(f"lambdafail: {service}: recovery failed, not switching",
                       {"event": "recovery_failed", "service": service, "plan": name,
                        "transition_id": pid, "active": st.active, "blocked": why,
                        "recovery": progress})
    st.phase, st.pending, st.blocked, st.recovery = "steady", None, why, progress
    st.version += 1
    return SwitchResult("blocked", service, f"{service}: {why}; stays on {st.active}", st,
                        pending)


def _drive(store: StateStore, router: Router, service: str, st: ServiceState, *,
           clock: Callable[[], float], notify: Notifier | None, logger: Logger,
           service_cfg: dict[str, Any] | None = None,
           step_env: StepEnvFor | None = None) -> SwitchResult:
    pending = copy.deepcopy(st.pending)
    assert pending is not None
    to = str(pending["to"])
    steps = plan_steps(service_cfg, pending) if service_cfg is not None else []
    transition = {"service": service, "transition_id": pending["id"], "from": pending["from"],
                  "to": to, "reason": pending["reason"], "actor": pending["actor"]}
    if steps and plan_name(pending) == "failover":
        # Before the router moves: start the standby and see it healthy.
        early = _recover(store, service, st, pending, steps, step_env, notify=notify,
                         logger=logger)
        if early is not None:
            return early
    try:
        router.apply(to, transition)
        seen = router.read_back()
        if seen != to:
            raise RouterRefused(f"router read-back says {seen or 'neither side'}, expected {to}")
    except Exception as e:
        error = str(e) if isinstance(e, RouterError) else f"{type(e).__name__}: {e}"
        # A router that timed out may still be acting (a slow hook keeps running after our
        # read timeout): keep the lease until it lapses, so nobody drives the router meanwhile.
        keep = isinstance(e, RouterTimeout)
        store.release_lease(service, str(pending["id"]), error,
                            lease_until=float(pending.get("lease_until", 0)) if keep else 0)
        logger.error("router failed; the switch stays pending and is retried", service=service,
                     transition_id=pending["id"], to=to, error=error)
        if notify is not None and error != pending.get("last_error"):
            # Told once per new error, not every tick: a router that is gone (zone or function
            # deleted) keeps failing the same way until someone acts.
            notify.publish(f"lambdafail: {service}: switch to {to} is stuck: router failed",
                           {"event": "switch_stuck", "service": service,
                            "transition_id": pending["id"], "from": pending["from"], "to": to,
                            "error": error, "since": pending.get("started_at"),
                            "next_command": f"lambdafail status  # fix the router and the "
                            "next tick completes it; if it is gone: lambdafail rollback "
                            f"{service} --abandon --reason TEXT"})
        return SwitchResult("router_failed", service,
                            f"router failed: {error}. The switch to {to} stays pending; the "
                            "next tick (or the same command again) retries it.", st, pending)
    if steps and plan_name(pending) == "failback":
        # After the router is back on the primary (read back): e.g. scale the standby down.
        early = _recover(store, service, st, pending, steps, step_env, notify=notify,
                         logger=logger)
        if early is not None:
            return early
    item: dict[str, Any] | None = None
    committed_at = clock()  # once: a retried commit writes exactly the same items
    token = uuid.uuid4().hex  # this committer's ClientRequestToken, the same on every retry
    for attempt in range(COMMIT_ATTEMPTS):
        try:
            item = store.commit(service, pending, committed_at, token)
            break
        except StateConflict:
            if _committed(store, service, str(pending["id"]), token):
                # Our own commit landed; only its answer was lost (a timeout, then a resend
                # that AWS did not match to it, or an attempt of ours that raised).
                item = transition_log_item(service, pending, committed_at)
                break
            return SwitchResult("lost_race", service, "the switch was already committed", None,
                                pending)
        except Exception as e:  # throttled, a conflicting transaction, a timeout: not committed
            if attempt + 1 < COMMIT_ATTEMPTS:
                continue
            error = f"commit failed: {type(e).__name__}: {e}"
            store.release_lease(service, str(pending["id"]), error)
            logger.error("commit failed; the switch stays pending and is retried",
                         service=service, transition_id=pending["id"], to=to, error=error)
            return SwitchResult("router_failed", service,
                                f"the router points at {to} but recording the switch failed "
                                f"({error}). It stays pending; the next tick (or the same "
                                "command again) completes it.", st, pending)
    assert item is not None
    st.active, st.phase, st.pending, st.blocked = to, "steady", None, None
    st.previous_active = str(pending["from"])
    st.last_transition = {"id": pending["id"], "at": item["committed_at"],
                          "from": pending["from"], "to": to, "reason": pending["reason"],
                          "actor": pending["actor"]}
    st.version += 1
    logger.info("switch committed", service=service, transition_id=pending["id"],
                **{"from": pending["from"], "to": to}, reason=pending["reason"],
                actor=pending["actor"])
    if notify is not None:
        notify.transition(item)
    return SwitchResult("switched", service, f"{service}: {pending['from']} -> {to} "
                        f"({pending['reason']})", st, item)
