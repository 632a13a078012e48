"""Grading: timings from milestones, and the verdict (pass / fail / restore-incomplete).

Rule: pure — no I/O, no clock; the runner hands in what happened and gets the grade back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from lambdafail.base.errors import ExitCode
from lambdafail.drill.journal import Phase
from lambdafail.runtime.clock import parse_iso_or_none as parse_iso

if TYPE_CHECKING:
    from lambdafail.runtime.state import ServiceState

def timings(milestones: Mapping[str, float]) -> dict[str, float | None]:
    """time to detect = injected → first failure seen; time to switch = first failure seen →
    router verified; total = injected → router verified (what the RTO is about)."""
    inj = milestones.get("injected")
    seen = milestones.get("first_failure_seen")
    routed = milestones.get("router_verified")

    def span(a: float | None, b: float | None) -> float | None:
        return None if a is None or b is None else round(max(0.0, b - a), 3)

    return {"time_to_detect_s": span(inj, seen), "time_to_switch_s": span(seen, routed),
            "total_s": span(inj, routed)}


def grade(phases: Mapping[str, Phase], t: Mapping[str, float | None], rto_seconds: float,
          restore_requested: bool, restore_ok: bool | None,
          interrupted: bool = False, step_failures: Sequence[str] = ()) -> dict[str, Any]:
    """Pass only if every phase succeeded, no recovery step failed and the RTO was met (the
    total, injected → router verified, spans detect → steps → switch). Pure."""
    reasons: list[str] = list(step_failures)
    for name in ("precheck", "inject", "observe", "verify"):
        ph = phases[name]
        if ph.status != "passed":
            reasons.append(f"{name} {ph.status}" + (f": {ph.detail}" if ph.detail else ""))
    total = t.get("total_s")
    rto_met: bool | None = None if total is None else total <= rto_seconds
    if rto_met is False:
        parts = [f"{k} {t[key]:.2f} s" for k, key in (
            ("detect", "time_to_detect_s"), ("decide", "decide_s"), ("steps", "steps_s"),
            ("switch", "switch_after_steps_s")) if t.get(key) is not None]
        reasons.append(f"RTO missed: {total:.2f} s > {rto_seconds:g} s"
                       + (f" ({', '.join(parts)})" if len(parts) > 1 else ""))
    elif rto_met is None and phases["inject"].status == "passed":
        reasons.append("no switch was measured, so the RTO was not met")
    if interrupted:
        reasons.append("the drill was interrupted")
    if restore_requested and restore_ok is False:
        reasons.append("restore incomplete: act by hand (see the restore section)")
    passed = not reasons and bool(rto_met)
    if restore_requested and restore_ok is False:
        result, code = "restore-incomplete", ExitCode.RESTORE_INCOMPLETE
    elif passed:
        result, code = "pass", ExitCode.OK
    elif interrupted:
        # Interrupted and restored (or nothing to restore): the documented 130, not a verdict.
        result, code = "fail", ExitCode.INTERRUPTED
    else:
        result, code = "fail", ExitCode.DRILL_FAILED
    return {"result": result, "passed": passed, "rto_met": rto_met, "reasons": reasons,
            "exit_code": int(code)}



def failure_seen_at(st: ServiceState, injected: float, now: float) -> float | None:
    """When the orchestrator first recorded a failure after the injection (its own timestamp
    when it has one), or None. Anything it recorded before the injection does not count."""
    h = st.health["primary"]
    candidates: list[float] = []
    if h.ok is False:
        at = parse_iso(h.at)
        if at is not None and at >= injected - 0.001:
            candidates.append(at)
    if any(v == "ALARM" for v in st.alarms.values()):
        candidates.append(now)
    if st.blocked:
        # The orchestrator saw the failure but refused to act (standby down, cooldown): seen.
        candidates.append(now)
    if st.phase == "switching" and st.pending:
        started = parse_iso(st.pending.get("started_at"))
        if started is not None and started >= injected - 0.001:
            candidates.append(started)
    return min(candidates) if candidates else None

