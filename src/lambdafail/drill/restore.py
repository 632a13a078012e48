"""The drill's restore: undo the injection, fail back through the rollback path, verify the
primary, release the lock — and `abort`, the same from any machine for a drill left behind.

Rule: runs in the runner's `finally`; never raises past the phase; whatever it cannot finish is
listed in the outcome with a complete command (connection flags, `--reason`) that finishes it
when pasted.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from lambdafail.drill.journal import PhaseFailed
from lambdafail.drill.scenarios import msg

if TYPE_CHECKING:
    from lambdafail.drill.runner import Drill, RestoreOutcome

# The transition log's path for a drill's fail-back (a documented report.json value).
ROLLBACK_PATH = "lambdafail.oncall.rollback"


def restore(d: Drill) -> None:
    """The restore phase: undo the injection, fail back, verify the primary, release the lock."""
    assert d.rec is not None
    rec = d.rec
    r = d.restore
    if not d.injected and not d.lock_held:
        return  # nothing changed, nothing to restore (the restore phase stays "skipped")
    svc = d.opts.service
    with contextlib.suppress(PhaseFailed), rec.phase("restore") as ph:
        if not d.opts.restore:
            if d.lock_held:
                release_lock(d, r)
            ph.skip = True
            r.left.append(f"{svc} is LEFT FAILED OVER on purpose (--no-restore)")
            r.left.extend(d.scenario.left_without_restore())
            r.instructions.append(d.abort_command() + "  # when you are done: clear the "
                                  "fault, fail back to the primary")
            rec.note(f"--no-restore: {svc} is LEFT FAILED OVER to its standby on purpose",
                     level="warning")
            ph.detail = "skipped on purpose (--no-restore): service left failed over"
            r.ok = None
            return
        # --timeout also bounds the fail-back wait (the primary must be healthy again).
        deadline = d.clock() + d.opts.timeout
        # 1. clear the fault / undo the injection
        if d.injected:
            d.scenario.undo(r)
        # 2. fail back through the rollback path, then 3. verify the primary is active
        if d.injected:
            fail_back(d, r, deadline)
        # 4. release the lock
        if d.lock_held:
            release_lock(d, r)
        r.ok = not r.left
        if not r.ok:
            raise PhaseFailed("restore incomplete: " + "; ".join(r.left))
        ph.detail = f"restored through {r.path or 'nothing to fail back'}; lock released"


def abort(d: Drill, reason: str) -> RestoreOutcome:
    """`drill SERVICE --abort`: undo whatever a drill left on the service, from any machine —
    fault flags cleared, alarms a drill set back to OK, failed back to the primary (only when
    a drill put it on the standby), the drill lock released. Idempotent."""
    from lambdafail.drill.journal import Recorder

    d.rec = rec = Recorder(d.drill_id, d.clock, [d._sink])
    d.abort_reason = reason
    r = d.restore
    svc = d.opts.service
    with contextlib.suppress(PhaseFailed), rec.phase("restore") as ph:
        deadline = d.clock() + d.opts.timeout
        st = d._state()
        lock = d.store.drill_lock(svc)
        if lock is not None:
            d.drill_id = str(lock.get("drill_id") or d.drill_id)
        by_drill = bool(lock) or bool(st.faults) or bool(st.drill) or (
            (st.last_transition or {}).get("reason") == "drill")
        if st.faults:
            try:
                d.store.clear_fault(svc)
                rec.check("fault cleared", True, ", ".join(sorted(st.faults)))
            except Exception as e:
                rec.check("fault cleared", False, msg(e))
                r.left.append(f"{svc} still has fault flags ({msg(e)})")
        by_drill = reset_drill_alarms(d, r) or by_drill
        if by_drill and not (st.active == "primary" and st.phase == "steady"):
            fail_back(d, r, deadline)
        elif not by_drill and st.active != "primary":
            rec.note(f"{svc} is on its {st.active} but no drill put it there: not failing back "
                     "(use `lambdafail rollback`)", level="warning")
        if lock is not None:
            d.lock_held = True
            release_lock(d, r)
        if st.drill:
            from lambdafail.runtime.drill_guard import unmark

            unmark(d.store, svc)  # a deadline whose lock is gone (expired or released)
        r.ok = not r.left
        if not r.ok:
            raise PhaseFailed("abort incomplete: " + "; ".join(r.left))
        ph.detail = "nothing left by a drill" if not by_drill else "drill aborted; restored"
    return r


def reset_drill_alarms(d: Drill, r: RestoreOutcome) -> bool:
    """Alarms of the service that a drill set to ALARM (its state reason says so) back to OK.
    Returns whether there was one."""
    from lambdafail.aws import call

    assert d.rec is not None
    names = [str(s["alarm_name"]) for s in d.svc.get("signals", []) if s["kind"] == "alarm"]
    if not names:
        return False
    cw = d.ctx.client("cloudwatch")
    found = False
    alarms: list[dict[str, Any]] = call(cw, "describe_alarms", resource=names[0],
                                        AlarmNames=names).get("MetricAlarms", [])
    for a in alarms:
        if a.get("StateValue") == "ALARM" and str(a.get("StateReason", "")).startswith(
                "lambdafail drill"):
            found = True
            name = str(a["AlarmName"])
            try:
                call(cw, "set_alarm_state", resource=name, AlarmName=name, StateValue="OK",
                     StateReason=f"lambdafail drill {d.drill_id} abort")
                d.rec.check("alarm reset to OK", True, name)
            except Exception as e:
                d.rec.check("alarm reset to OK", False, msg(e))
                r.left.append(f"alarm {name} is still in ALARM")
    return found


def fail_back(d: Drill, r: RestoreOutcome, deadline: float) -> None:
    assert d.rec is not None
    rec = d.rec
    svc = d.opts.service
    last_error = ""
    while True:
        try:
            st = d._state()
            if st.active == "primary" and st.phase == "steady":
                if d._safe_read_back() == "primary":
                    rec.milestone("primary_restored")
                    rec.check("primary active again", True, "state and router read-back: "
                              "primary")
                    return
                last_error = "state says primary but the router does not point there yet"
            else:
                r.path = r.path or ROLLBACK_PATH
                done, last_error = rollback_once(d)
                if done:
                    continue  # re-read and verify
        except (PhaseFailed, Exception) as e:  # retried until the deadline
            last_error = msg(e)
        if d.clock() >= deadline:
            break
        d.sleep(d.poll)
    rec.check("primary active again", False, last_error or "timed out")
    r.left.append(f"{svc} is still failed over to its standby ({last_error})")
    r.instructions.append(d.command_line("status") + "  # see where traffic is")
    r.instructions.append(d.abort_command() + "  # fail back to the primary once it is healthy")


def rollback_once(d: Drill) -> tuple[bool, str]:
    """One attempt to fail back through the rollback path: `oncall.rollback`, the code
    behind `lambdafail rollback` (manual switch: no cooldown; it probes the primary from
    here first and refuses while it is not healthy, so the caller retries). Returns
    (done, why not)."""
    from lambdafail.oncall import switch

    note = (f"lambdafail drill {d.drill_id}: abort: {d.abort_reason}" if d.abort_reason
            else f"lambdafail drill {d.drill_id}: restore")
    out = switch.rollback(d.ctx, dict(d.compiled), d.opts.service, note=note,
                          actor=d.opts.operator or None)
    if out.outcome in ("switched", "noop") and out.verified:
        return True, ""
    return False, f"rollback {out.outcome}: {out.message}"


def release_lock(d: Drill, r: RestoreOutcome) -> None:
    assert d.rec is not None
    svc = d.opts.service
    try:
        from lambdafail.runtime.drill_guard import unmark

        # The deadline first: with the lock gone and the mark left, the orchestrator would
        # "finish" a drill that ended (and undo a --no-restore).
        unmark(d.store, svc, d.drill_id)
        d.store.release_drill_lock(svc, d.drill_id)
        d.lock_held = False
        d.rec.milestone("lock_released")
        d.rec.check("drill lock released", True, "")
    except Exception as e:
        d.rec.check("drill lock released", False, msg(e))
        r.left.append(f"the drill lock on {svc} is still held (expires by itself)")
        r.instructions.append(d.abort_command())
