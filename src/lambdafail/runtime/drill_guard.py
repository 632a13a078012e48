"""A drill always ends: its restore deadline on the service item, and the orchestrator finishing
the restore of a drill whose machine died (SIGKILL, lost laptop, closed lid).

Rule: the drill marks the service item (`drill` = `{id, owner, started_at, restore_by}`) right
after taking its lock and unmarks it as its restore (or `--no-restore`, or `--abort`) releases
the lock. A mark still there after `restore_by` is an abandoned drill: the tick that finds it
clears the fault flags (and the failure counters they caused), fails back to the primary
through the normal exactly-once switch path (reason `drill-abandoned`, actor `orchestrator`)
when the drill switched and the primary answers healthy now, releases the lock, removes the
mark, logs a `drill-abandoned` entry and notifies. Each step is idempotent and the mark goes
last, so a tick killed half-way is finished by the next one. stdlib + boto3 only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lambdafail.runtime.clock import iso, parse_iso_or_none
from lambdafail.runtime.state import StateConflict

if TYPE_CHECKING:
    from lambdafail.runtime.log import Logger
    from lambdafail.runtime.notify import Notifier
    from lambdafail.runtime.probes import ProbeResult
    from lambdafail.runtime.routers import Router
    from lambdafail.runtime.state import ServiceState, StateStore
    from lambdafail.runtime.transitions import StepEnvFor, SwitchResult

ATTRIBUTE = "drill"
REASON = "drill-abandoned"
# Past the drill's own windows (observe and restore, each its --timeout): the drilling
# machine's and Lambda's clocks may differ by a little (both NTP-synced), and its restore's last
# writes take a moment. Real seconds, whatever the sandbox's time scale.
RESTORE_MARGIN_SECONDS = 15.0
_NAMES = {"#d": ATTRIBUTE}


def mark(store: StateStore, service: str, drill_id: str, owner: str, restore_by: float,
         now: float, attempts: int = 10) -> None:
    """Record on the service item that drill `drill_id` must have restored by `restore_by`."""
    value = {"id": drill_id, "owner": owner, "started_at": iso(now),
             "restore_by": int(restore_by) + (0 if restore_by == int(restore_by) else 1)}
    for _ in range(attempts):
        st = store.get(service)
        if st is None:
            raise StateConflict(f"{service}: no state item (deploy seeds it)")
        try:
            store._update(service, "SET #d = :d, version = :newv", "version = :v",
                          {":d": value, ":newv": st.version + 1, ":v": st.version},
                          names=_NAMES)
            return
        except StateConflict:
            continue
    raise StateConflict(f"{service}: could not record the drill's deadline (too much contention)")


def unmark(store: StateStore, service: str, drill_id: str | None = None) -> bool:
    """Remove the drill mark (only drill `drill_id`'s, or any with None). False: not there."""
    values: dict[str, Any] = {":one": 1}
    cond = "attribute_exists(#d)"
    if drill_id is not None:
        cond, values[":id"] = "#d.id = :id", drill_id
    try:
        store._update(service, "SET version = version + :one REMOVE #d", cond, values,
                      names=_NAMES)
        return True
    except StateConflict:
        return False


def overdue(st: ServiceState, now: float) -> bool:
    """A drill mark whose restore deadline has passed: its drill is not coming back."""
    m = st.drill
    return bool(m) and now > float((m or {}).get("restore_by") or 0)


def finish_abandoned(store: StateStore, service: str, st: ServiceState,
                     service_cfg: dict[str, Any], *, router: Callable[[ServiceState], Router],
                     probe: Callable[[str], ProbeResult], notify: Notifier, logger: Logger,
                     clock: Callable[[], float], actor: str,
                     step_env: StepEnvFor | None = None,
                     on_switch: Callable[[SwitchResult], None] | None = None) -> dict[str, Any]:
    """Complete the restore of the abandoned drill marked on `st`; returns the tick's action.
    `on_switch` is told about a committed fail-back (the handler's Failovers metric)."""
    from lambdafail.runtime import decisions as dc
    from lambdafail.runtime import transitions as tr

    m = dict(st.drill or {})
    drill_id = str(m.get("id") or "")
    restore_by = float(m.get("restore_by") or 0)
    started = parse_iso_or_none(str(m.get("started_at") or ""))
    logger.warning("drill abandoned: restoring", service=service, drill_id=drill_id,
                   owner=m.get("owner"), restore_by=iso(restore_by))
    outcome: dict[str, Any] = {"drill_id": drill_id, "owner": m.get("owner"),
                               "started_at": m.get("started_at"), "restore_by": iso(restore_by)}
    if st.faults:
        store.clear_fault(service)  # also resets the failure counters the fault produced
        outcome["faults_cleared"] = sorted(st.faults)
    fresh = store.get(service) or st
    last = fresh.last_transition_epoch()
    drill_switched = (fresh.active == "standby" and fresh.phase == "steady"
                      and last is not None and (started is None or last >= started - 1))
    status = "restored"
    message = f"drill {drill_id} abandoned: fault flags cleared, lock released"
    if drill_switched:
        now = clock()
        result = probe("primary")
        dc.record_probe(fresh, "primary", result, now)
        if result.ok:
            res = tr.request_switch(
                store, router(fresh), service_cfg, service, "primary", reason=REASON,
                actor=actor, evidence={"drill_id": drill_id, "restore_by": iso(restore_by)},
                clock=clock, notify=notify, logger=logger, state=fresh, step_env=step_env)
            outcome["fail_back"] = {"status": res.status, "message": res.message}
            if res.status == "switched" and on_switch is not None:
                on_switch(res)
            if not res.ok:
                # The lock and the mark stay: the next tick tries again.
                logger.error("drill abandoned: fail-back did not complete", service=service,
                             drill_id=drill_id, status=res.status, error=res.message)
                return {"service": service, "status": "drill_abandoned",
                        "message": f"fail-back {res.status}: {res.message}"}
            message = (f"drill {drill_id} abandoned: failed back to the primary, fault flags "
                       "cleared, lock released")
        else:
            status = "restored_on_standby"
            outcome["fail_back"] = {"status": "skipped", "message": "primary unhealthy: "
                                    + result.detail}
            message = (f"drill {drill_id} abandoned: fault flags cleared, lock released; the "
                       f"primary is unhealthy ({result.detail}), staying on the standby")
    store.release_drill_lock(service, drill_id)
    if not unmark(store, service, drill_id):
        # Someone else (the drill itself, `drill --abort`, another tick) finished it first.
        return {"service": service, "status": "noop", "message": "drill already restored"}
    outcome["status"] = status
    try:
        store.record(REASON, actor=actor, now=clock(), service=service, reason=REASON,
                     detail=outcome)
    except Exception as e:  # the switch (if any) is logged already; this entry is extra
        logger.error("drill abandoned: log entry failed", service=service, error=str(e))
    logger.warning(message, service=service, drill_id=drill_id, outcome=status)
    ctx = notify.context()
    notify.publish(f"lambdafail {ctx.get('topology', '')}/{service} [{ctx.get('region', '')}]: "
                   f"drill abandoned ({status})",
                   {"event": REASON, "service": service, **ctx, **outcome, "summary": message,
                    "next_command": "" if status == "restored" else
                    f"lambdafail rollback {service} --reason 'after abandoned drill'"})
    return {"service": service, "status": "drill_abandoned", "message": message}
