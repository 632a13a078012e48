"""Short texts every drill report writer shares: seconds, offsets, the context and the split.

Rule: pure string formatting of the report.json document (docs/drill.md); never the word None.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

# The order milestones happen in (report.json "milestones"; docs/drill.md).
MILESTONES = ("injected", "first_failure_seen", "transition_committed", "router_verified",
              "http_verified", "fault_cleared", "primary_restored", "lock_released")


def seconds(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.2f} s"
    return str(v)


def dash_if_none(v: Any) -> str:
    """A value for a reader: never the word None."""
    return "—" if v is None else str(v)


def offset(v: Any) -> str:
    return "—" if v is None else f"+{float(v):.2f} s"


def context_line(report: Mapping[str, Any]) -> str:
    """Date · environment · region · versions, as the report's context knows them."""
    c = report.get("context") or {}
    parts = [str(report.get("started_at") or "")[:19].replace("T", " ") + " UTC"]
    for key, label in (("environment", ""), ("region", ""), ("lambdafail_version", "lambdafail "),
                       ("orchestrator_version", "orchestrator version ")):
        if c.get(key):
            parts.append(f"{label}{c[key]}")
    return " · ".join(parts)


def split_line(report: Mapping[str, Any]) -> str:
    t = report.get("timings", {}) or {}
    g = report.get("grade", {}) or {}
    rto = float(report.get("rto_seconds") or 0)
    met = g.get("rto_met")
    verdict = "no switch measured" if met is None else "RTO met" if met else "RTO MISSED"
    return (f"detect {seconds(t.get('time_to_detect_s'))} + switch {seconds(t.get('time_to_switch_s'))}"
            f" = total {seconds(t.get('total_s'))} · RTO {rto:g} s: {verdict}")


def total_time(phases: Sequence[Mapping[str, Any]]) -> float:
    ends = [float(p["end_s"]) for p in phases if p.get("end_s") is not None]
    return max(ends) if ends else 0.0
