"""The drill's report document (report.json's shape, drill/report.py renders it): phases,
milestones, timings split by the recovery plan's steps, the grade, the restore.

Rule: built from what the drill recorded and the transition log, never from what it hoped;
`None` is only ever a milestone that did not happen (report.md and junit.xml say so in words).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lambdafail import __version__
from lambdafail.base.errors import ExitCode
from lambdafail.drill.grading import grade, timings
from lambdafail.drill.plan import failed_steps, plan_document
from lambdafail.drill.plan import split as plan_split
from lambdafail.drill.report import MILESTONES, SCHEMA
from lambdafail.runtime.clock import iso, parse_iso_or_none

if TYPE_CHECKING:
    from lambdafail.drill.runner import Drill


def report(d: Drill) -> dict[str, Any]:
    assert d.rec is not None
    rec = d.rec
    t: dict[str, float | None] = timings(rec.milestones)
    ran = plans(d)
    t.update(plan_split(t, ran, rec.milestones, rec.origin))
    g = grade(rec.phases, t, d.rto, d.opts.restore, d.restore.ok,
              interrupted=d.interrupted, step_failures=failed_steps(ran))
    if not d.opts.restore and d.injected:
        g["reasons"].append("--no-restore: the service was left failed over on purpose")
    return {
        "schema": SCHEMA,
        "drill_id": d.drill_id,
        "topology": str(d.compiled["topology"]),
        "service": d.opts.service,
        "scenario": d.opts.scenario,
        "operator": d.opts.operator,
        "dry_run": d.opts.dry_run,
        "started_at": iso(rec.origin),
        "ended_at": None,
        "timeout_s": d.opts.timeout,
        "rto_seconds": d.rto,
        "context": {"environment": d.opts.environment, "region": d.opts.region,
                    "lambdafail_version": __version__,
                    "orchestrator_version": d.orchestrator_version},
        "phases": [p.to_dict(rec.origin) for p in rec.phases.values()],
        "milestones": {k: ({"at": iso(rec.milestones[k]),
                            "offset_s": round(rec.milestones[k] - rec.origin, 3)}
                           if k in rec.milestones else None)
                       for k in MILESTONES},
        "timings": t,
        "recovery": ran,
        "restore": d.restore.to_dict(),
        "other_services": {"checked": sorted(d.snapshot),
                           "changed": list(d.others_changed)},
        "grade": g,
        "journal": d.journal.path if d.journal else None,
    }



def plans(d: Drill) -> dict[str, Any]:
    """The recovery plans the drill's transitions ran (drill/plan.py), from the log."""
    assert d.rec is not None
    if not d.compiled["services"][d.opts.service]["recovery"]["failover"] and \
            not d.compiled["services"][d.opts.service]["recovery"]["failback"]:
        return {}
    try:
        entries = d.store.log(d.opts.service, since=d.rec.origin,
                                 kind="transition")
        st = d._state()
    except Exception as e:  # the report is written whatever happens
        d.rec.note(f"could not read the recovery plans: {e}", level="warning")
        return {}
    # A failed failover plan stays in `recovery` until the next commit (the block itself
    # lifts once the restore brought the primary back): this drill's if it started since.
    failed = st.recovery if st.recovery and any(
        (parse_iso_or_none(s.get("started_at")) or 0) >= d.rec.origin
        for s in st.recovery.get("steps") or []) else None
    return plan_document(entries, failed, d.rec.origin)

def dry_run_report(d: Drill) -> dict[str, Any]:
    doc = report(d)
    doc["plan"] = {
        "inject": d.describe_injection(),
        "observe": f"poll {d.compiled['table']} and the router every {d.poll:g} s for "
                   f"up to {d.opts.timeout:g} s: injected → first failure seen → "
                   "transition committed → router verified (read-back)"
                   + (f" → HTTP {d.opts.check_url}" if d.opts.check_url else ""),
        "verify": "state and router read-back point at the standby; "
                  f"{len(d.snapshot)} other service(s) unchanged",
        "restore": ("clear the fault, fail back through the rollback path, verify the "
                    "primary, release the lock") if d.opts.restore
                   else "skipped (--no-restore): the service would be LEFT FAILED OVER",
        "grade": f"total (injected → router verified) ≤ rto_seconds {d.rto:g}",
    }
    ok = all(c.ok for c in d.rec.phases["precheck"].checks) if d.rec else False
    doc["grade"] = {"result": "pass" if ok else "fail", "passed": ok, "rto_met": None,
                       "reasons": [] if ok else ["steady state not met"],
                       "exit_code": 0 if ok else int(ExitCode.DRILL_FAILED)}
    doc["ended_at"] = iso(d.clock())
    return doc
