"""The drill's restore: undo the injection, fail back through the rollback path, verify the
primary, release the lock.

Rule: runs in the runner's `finally`; never raises past the phase; whatever it cannot finish is
listed in the outcome with a command that finishes it.
"""

from __future__ import annotations

import contextlib
import shlex
from typing import TYPE_CHECKING

from lambdafail.drill.journal import PhaseFailed
from lambdafail.drill.scenarios import msg

if TYPE_CHECKING:
    from lambdafail.drill.runner import Drill, RestoreOutcome


def restore(d: Drill) -> None:
    """The restore phase: undo the injection, fail back, verify the primary, release the lock."""
    assert d.rec is not None
    rec = d.rec
    r = d.restore
    if not d.injected and not d.lock_held:
        return  # nothing changed, nothing to restore (the restore phase stays "skipped")
    svc = d.opts.service
    file_flag = f"-f {shlex.quote(d.opts.topology_file)} " if d.opts.topology_file \
        else ""
    table = str(d.compiled["table"])
    with contextlib.suppress(PhaseFailed), rec.phase("restore") as ph:
        if not d.opts.restore:
            if d.lock_held:
                release_lock(d, r, svc, table)
            ph.skip = True
            r.left.append(f"{svc} is LEFT FAILED OVER on purpose (--no-restore)")
            r.left.extend(d.scenario.left_without_restore())
            r.instructions.append(f"lambdafail rollback {file_flag}{svc}  # when you are "
                                  "done, fail back to the primary")
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
            fail_back(d, r, deadline, file_flag)
        # 4. release the lock
        if d.lock_held:
            release_lock(d, r, svc, table)
        r.ok = not r.left
        if not r.ok:
            raise PhaseFailed("restore incomplete: " + "; ".join(r.left))
        ph.detail = f"restored through {r.path or 'nothing to fail back'}; lock released"

def fail_back(d: Drill, r: RestoreOutcome, deadline: float, file_flag: str) -> None:
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
                r.path = r.path or rollback_path_name()
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
    r.instructions.append(f"lambdafail status {file_flag}{svc}  # see where traffic is")
    r.instructions.append(f"lambdafail rollback {file_flag}{svc}  # fail back to the primary")

def rollback_path_name() -> str:
    return "lambdafail.oncall.rollback"

def rollback_once(d: Drill) -> tuple[bool, str]:
    """One attempt to fail back through the rollback path: `oncall.rollback`, the code
    behind `lambdafail rollback` (manual switch: no cooldown; it probes the primary from
    here first and refuses while it is not healthy, so the caller retries). Returns
    (done, why not)."""
    from lambdafail import oncall

    out = oncall.rollback(d.ctx, dict(d.compiled), d.opts.service,
                          note=f"lambdafail drill {d.drill_id}: restore",
                          actor=f"drill:{d.drill_id}"
                          + (f" ({d.opts.operator})" if d.opts.operator else ""))
    if out.outcome in ("switched", "noop") and out.verified:
        return True, ""
    return False, f"rollback {out.outcome}: {out.message}"

def release_lock(d: Drill, r: RestoreOutcome, svc: str, table: str) -> None:
    assert d.rec is not None
    try:
        d.store.release_drill_lock(svc, d.drill_id)
        d.lock_held = False
        d.rec.milestone("lock_released")
        d.rec.check("drill lock released", True, "")
    except Exception as e:
        d.rec.check("drill lock released", False, msg(e))
        r.left.append(f"the drill lock on {svc} is still held (expires by itself)")
        r.instructions.append(
            f"aws dynamodb delete-item --table-name {table} --key "
            f"'{{\"pk\":{{\"S\":\"drill\"}},\"sk\":{{\"S\":\"{svc}\"}}}}'")
