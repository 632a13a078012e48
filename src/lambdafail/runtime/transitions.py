"""The exactly-once switch (router, then commit), for the orchestrator and the CLI alike.

Rules: `request_switch` is the only way traffic moves — used by the orchestrator (automatic:
cooldown applies) and by the CLI (manual: no cooldown, `force` skips the target-health check and
is recorded). A switch is written as `switching` (conditional on the version read) BEFORE the
router acts; the router is idempotent and read back; the commit is one write of the service item conditional
on that pending switch (its log item follows, repaired if the committer dies), so a transition
is never lost and never applied twice. The pure decisions that precede it live in `decisions.py`. stdlib + boto3 only.
"""

from __future__ import annotations

import contextlib
import copy
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lambdafail.runtime.config import SIDES
from lambdafail.runtime.decisions import (
    REASONS,
    cooldown_remaining,
    forced_failure,
    record_probe,
    target_healthy,
)
from lambdafail.runtime.log import Logger
from lambdafail.runtime.notify import Notifier
from lambdafail.runtime.probes import ProbeResult
from lambdafail.runtime.recovery import (
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
    """Did this committer's own write commit the switch (its reply was lost)? A commit
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
    env = step_env(name, pid)
    if notify is not None:
        env.notify = notify.publish
    outcome = run_plan(store, service, pending, steps, env, lease_seconds=LEASE_SECONDS,
                       logger=logger)
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
                item = transition_log_item(service, pending, committed_at,
                                           store.log_expires_at(committed_at))
                with contextlib.suppress(Exception):  # else the next round's repair
                    store.write_log(service, item)
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
