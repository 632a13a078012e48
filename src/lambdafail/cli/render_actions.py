"""Render what on-call did and what happened: history, failover/rollback, pause, deployment rollback.

Rules: as cli/render.py — pure (no I/O, no AWS, no clock), state said in words and marked, the
JSON documents versioned (`"format": 1`) and documented in docs/commands.md: add fields, never
rename or remove them. The status screen lives in cli/render.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lambdafail.cli.render import FORMAT, escape, short_actor
from lambdafail.oncall.model import (
    DeploymentRollbackPlan,
    LogEntry,
    PauseOutcome,
    SwitchOutcome,
)

if TYPE_CHECKING:
    from rich.table import Table


# history


def history_document(entries: list[LogEntry], topology: str) -> dict[str, Any]:
    return {"format": FORMAT, "topology": topology,
            "transitions": [_entry_doc(e) for e in entries]}


def _entry_doc(e: LogEntry) -> dict[str, Any]:
    return {"committed_at": e.committed_at, "kind": e.kind, "service": e.service,
            "transition_id": e.transition_id, "from": e.from_, "to": e.to,
            "reason": e.reason, "actor": e.actor, "started_at": e.started_at,
            "drill_id": e.drill_id or None, "evidence": e.evidence, "recovery": e.recovery}


def recovery_summary(recovery: dict[str, Any] | None) -> str:
    """The recovery steps of a transition in one line: `failover: lambda 0.4s, wait 1.2s`."""
    if not recovery or not recovery.get("steps"):
        return ""
    steps = []
    for s in recovery["steps"]:
        took = s.get("duration_s")
        steps.append(f"{s.get('kind')} " + (f"{float(took):.1f}s" if took is not None else "")
                     + ("" if s.get("status") == "done" else f" {str(s.get('status')).upper()}"))
    return f"{recovery.get('plan')}: " + ", ".join(x.strip() for x in steps)


def evidence_summary(evidence: dict[str, Any]) -> str:
    """One short line from the evidence map: the operator's note, probes, forcing, signals."""
    if not evidence:
        return ""
    parts: list[str] = []
    if evidence.get("note"):
        parts.append(f"\"{str(evidence['note'])[:60]}\"")
    if evidence.get("forced"):
        parts.append("FORCED")
    probe = evidence.get("probe")
    if isinstance(probe, dict):
        parts.append(f"probe {'ok' if probe.get('ok') else 'FAIL'}: {probe.get('detail', '')}")
    probes = evidence.get("probes")
    if isinstance(probes, dict):
        for side in ("primary", "standby"):
            h = probes.get(side)
            if isinstance(h, dict) and h.get("ok") is not None:
                state = "ok" if h.get("ok") else f"FAIL×{h.get('failures', 0)}"
                parts.append(f"{side} {state}")
    skip = {"note", "forced", "probe", "probes", "operator", "via", "target_health"}
    for k in sorted(set(evidence) - skip):
        v = evidence[k]
        text = (f"{{{len(v)}}}" if isinstance(v, dict) else f"[{len(v)}]"
                if isinstance(v, list) else str(v))
        parts.append(f"{k}={text[:40]}")
    return ", ".join(parts)[:160]


def history_table(entries: list[LogEntry]) -> Table:
    from rich.table import Table

    t = Table(header_style="bold", pad_edge=False)
    for col in ("time (UTC)", "service", "from → to", "reason", "actor", "evidence"):
        t.add_column(col, overflow="fold")
    for e in entries:
        if e.kind != "transition":
            # deploy, destroy, deployment-rollback, pause, resume: no traffic moved.
            t.add_row(e.committed_at.replace("T", " ")[:19], escape(e.service or "—"),
                      f"[cyan]{escape(e.kind)}[/]", escape(e.reason),
                      escape(short_actor(e.actor)), escape(evidence_summary(e.evidence)))
            continue
        to = f"[yellow]{escape(e.to)}[/]" if e.to == "standby" else f"[green]{escape(e.to)}[/]"
        reason = e.reason + (f" {e.drill_id}" if e.drill_id else "")
        t.add_row(e.committed_at.replace("T", " ")[:19], escape(e.service),
                  f"{escape(e.from_)} → {to}", escape(reason), escape(short_actor(e.actor)),
                  escape(", ".join(x for x in (recovery_summary(e.recovery),
                                                evidence_summary(e.evidence)) if x)))
    return t


# --------------------------------------------------------------------------------------------
# failover / rollback


def switch_document(o: SwitchOutcome) -> dict[str, Any]:
    return {"format": FORMAT, "action": o.action, "service": o.service,
            "outcome": o.outcome, "from": o.from_, "to": o.to, "active": o.active,
            "phase": o.phase, "transition_id": o.transition_id, "actor": o.actor,
            "reason": o.reason, "forced": o.forced, "verified": o.verified,
            "read_back": o.read_back, "message": o.message, "next_step": o.next_step}


def pause_document(outcomes: list[PauseOutcome]) -> dict[str, Any]:
    """The `pause` / `resume --output json` document (docs/commands.md)."""
    return {"format": FORMAT, "services": [
        {"action": o.action, "service": o.service, "changed": o.changed, "until": o.until,
         "reason": o.reason, "actor": o.actor, "message": o.message} for o in outcomes]}


def deployment_rollback_document(p: DeploymentRollbackPlan, applied: bool,
                                 read_back: str | None) -> dict[str, Any]:
    return {"format": FORMAT, "action": "rollback-deployment", "function": p.function,
            "alias": p.alias, "from_version": p.current.version,
            "to_version": p.target.version, "noop": p.noop, "applied": applied,
            "read_back_version": read_back,
            "differences": [{"what": w, "now": a, "after": b} for w, a, b in p.differences]}


def deployment_diff_table(p: DeploymentRollbackPlan) -> Table:
    from rich.table import Table

    t = Table(title=f"{p.function}: alias {p.alias} {p.current.version} → {p.target.version}",
              header_style="bold", pad_edge=False)
    t.add_column("what")
    t.add_column(f"now (v{p.current.version})", overflow="fold")
    t.add_column(f"after (v{p.target.version})", overflow="fold")
    for what, a, b in p.differences:
        t.add_row(escape(what), escape(a), f"[yellow]{escape(b)}[/]" if a != b else escape(b))
    return t
