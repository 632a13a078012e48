"""A drill's recovery plans: each step's start, end and duration, for the report and the grade.

Rule: pure — no I/O, no clock. The runner hands in the transition log items of the drill (and
the failed plan a blocked service keeps); the steps' times are the orchestrator's own (written
into the plan's progress before and after each step), given as offsets from the drill's start.
The report (report.json `recovery`, report.md, junit.xml) draws what `plan_document` returns.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from lambdafail.runtime.clock import parse_iso_or_none as parse_iso


def _steps(progress: Mapping[str, Any], origin: float) -> list[dict[str, Any]]:
    out = []
    for n, s in enumerate(progress.get("steps") or [], 1):
        start, end = parse_iso(s.get("started_at")), parse_iso(s.get("finished_at"))
        out.append({
            "step": n, "kind": str(s.get("kind", "?")), "status": str(s.get("status", "?")),
            "attempts": int(s.get("attempts") or 0),
            "start_s": None if start is None else round(start - origin, 3),
            "end_s": None if end is None else round(end - origin, 3),
            "duration_s": (float(s["duration_s"]) if s.get("duration_s") is not None
                           else None),
            "error": str(s.get("error") or "")[:300]})
    return out


def plan_document(entries: Iterable[Mapping[str, Any]], failed: Mapping[str, Any] | None,
                  origin: float) -> dict[str, Any]:
    """`recovery` of report.json: per plan (`failover`, `failback`) the steps of the drill's
    transitions (oldest first; the last of each plan wins), or the failed failover plan a
    blocked service keeps. Plans that did not run are absent."""
    plans: dict[str, dict[str, Any]] = {}
    for e in sorted(entries, key=lambda e: str(e.get("committed_at", ""))):
        rec = e.get("recovery")
        if rec and rec.get("plan") in ("failover", "failback"):
            plans[str(rec["plan"])] = {"transition_id": e.get("transition_id"),
                                       "steps": _steps(rec, origin)}
    if failed and failed.get("plan") == "failover" and "failover" not in plans:
        plans["failover"] = {"transition_id": None, "steps": _steps(failed, origin)}
    for p in plans.values():
        done = [s for s in p["steps"] if s["start_s"] is not None]
        ends = [s["end_s"] for s in done if s["end_s"] is not None]
        p["start_s"] = min(s["start_s"] for s in done) if done else None
        p["end_s"] = max(ends) if ends else None
        p["duration_s"] = (round(p["end_s"] - p["start_s"], 3)
                           if p["start_s"] is not None and p["end_s"] is not None else None)
    return plans


def split(timings: Mapping[str, float | None], plans: Mapping[str, Any],
          milestones: Mapping[str, float], origin: float) -> dict[str, float | None]:
    """The failover's detect → decide → steps → switch, back to back: `decide_s` (first
    failure seen → the plan's first step starts: the failure threshold, the decision),
    `steps_s` (first step start → last step end) and `switch_after_steps_s` (last step end →
    router verified); with `time_to_detect_s` they add up to `total_s`."""
    fo = plans.get("failover") or {}
    routed = milestones.get("router_verified")
    seen = milestones.get("first_failure_seen")
    start, end = fo.get("start_s"), fo.get("end_s")
    return {"decide_s": (round(max(0.0, origin + start - seen), 3)
                         if seen is not None and start is not None else None),
            "steps_s": fo.get("duration_s"),
            "switch_after_steps_s": (round(max(0.0, routed - origin - end), 3)
                                     if routed is not None and end is not None else None)}


def failed_steps(plans: Mapping[str, Any]) -> list[str]:
    """Grade reasons: every step that gave up."""
    return [f"{name} step {s['step']} ({s['kind']}) failed: {s['error']}".rstrip(": ")
            for name, p in plans.items() for s in p["steps"] if s["status"] == "failed"]


def markdown(plans: Mapping[str, Any]) -> list[str]:
    """The report.md section (empty without plans)."""
    if not plans:
        return []
    lines = ["## Recovery plan", "", "| plan | step | kind | status | start | end | duration | "
             "attempts |", "|---|---|---|---|---|---|---|---|"]
    for name in ("failover", "failback"):
        for s in (plans.get(name) or {}).get("steps", []):
            lines.append(f"| {name} | {s['step']} | {s['kind']} | {s['status']} | "
                         f"{_off(s['start_s'])} | {_off(s['end_s'])} | "
                         f"{_dur(s['duration_s'])} | {s['attempts']} |")
    return [*lines, ""]


def timeline_rows(plans: Mapping[str, Any]) -> list[tuple[float, str]]:
    """(offset, label) rows for the report's timeline: each step's start and end."""
    rows: list[tuple[float, str]] = []
    for name in ("failover", "failback"):
        for s in (plans.get(name) or {}).get("steps", []):
            if s["start_s"] is not None:
                rows.append((s["start_s"], f"{name} step {s['step']} ({s['kind']}) started"))
            if s["end_s"] is not None:
                rows.append((s["end_s"], f"{name} step {s['step']} ({s['kind']}) "
                                         f"{'finished' if s['status'] == 'done' else s['status']}"))
    return rows


def bars(plans: Mapping[str, Any]) -> list[tuple[str, float, float, str, float | None]]:
    """(label, start, end, status, duration) per step that started, for the SVG timeline."""
    out = []
    for name in ("failover", "failback"):
        for s in (plans.get(name) or {}).get("steps", []):
            if s["start_s"] is not None:
                end = s["end_s"] if s["end_s"] is not None else s["start_s"]
                out.append((f"{name} {s['step']} {s['kind']}", float(s["start_s"]),
                            float(end), str(s["status"]), s["duration_s"]))
    return out


def _off(v: float | None) -> str:
    return "—" if v is None else f"+{v:.2f} s"


def _dur(v: float | None) -> str:
    return "—" if v is None else f"{v:.2f} s"
