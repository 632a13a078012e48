"""Plan → a rich renderable for people, or the documented JSON document for scripts.

Rule: pure — no I/O, no AWS; rich is imported only by `plan_renderable`. The JSON shape is a
contract (docs/commands.md, "plan"): add fields, never rename or remove them.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from lambdafail.deploy.resources import Change, Plan

if TYPE_CHECKING:
    from rich.console import RenderableType

PLAN_FORMAT = 1

_STYLE = {"create": "green", "update": "yellow", "delete": "red", "no-op": "dim"}
_SIGN = {"create": "+", "update": "~", "delete": "-", "no-op": " "}


def _jsonable(v: Any) -> Any:
    # Values are plain JSON already (specs come from JSON-shaped dicts); keep it explicit.
    return json.loads(json.dumps(v, default=str))


def change_to_json(c: Change) -> dict[str, Any]:
    return {"action": c.action, "kind": c.kind, "name": c.name, "service": c.service,
            "note": c.note or None,
            "diff": [{"field": d.field, "before": _jsonable(d.before),
                      "after": _jsonable(d.after)} for d in c.diffs]}


def plan_to_json(plan: Plan) -> dict[str, Any]:
    counts = plan.counts()
    return {
        "format": PLAN_FORMAT,
        "mode": plan.mode,
        "topology": plan.topology,
        "region": plan.region,
        "account": plan.account,
        "pending": bool(plan.pending),
        "summary": {**counts, "conflict": len(plan.conflicts)},
        "changes": [change_to_json(c) for c in plan.changes],
        "conflicts": [{"kind": x.kind, "name": x.name, "owner": x.owner, "message": x.message}
                      for x in plan.conflicts],
        "notes": list(plan.actual.notes) if plan.actual else [],
        "missing": list(plan.actual.missing) if plan.actual else [],
        # Edits of services not steady on their primary: refused (exit 2) unless forced.
        "hazards": [h.to_json() for h in plan.hazards],
        "forced": bool(plan.forced and plan.hazards),
    }


def _short(v: Any, limit: int = 90) -> str:
    text = "(absent)" if v is None else json.dumps(v, sort_keys=True, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def summary_line(plan: Plan) -> str:
    n = plan.counts()
    text = (f"{n['create']} to create, {n['update']} to update, {n['delete']} to delete, "
            f"{n['no-op']} unchanged")
    if plan.conflicts:
        text += f", {len(plan.conflicts)} conflict{'s' if len(plan.conflicts) != 1 else ''}"
    return text


def plan_renderable(plan: Plan, *, show_noop: bool = False) -> RenderableType:
    """Terraform-like: one line per change, its field diffs indented below it."""
    from rich.console import Group
    from rich.text import Text

    verb = "destroy" if plan.mode == "destroy" else "deploy"
    parts: list[RenderableType] = [Text(
        f"{verb} plan for topology {plan.topology!r} ({plan.region}, account {plan.account})",
        style="bold")]
    for c in plan.changes:
        if c.action == "no-op" and not show_noop:
            continue
        style = _STYLE[c.action]
        line = Text(f"{_SIGN[c.action]} {c.action:<7} {c.kind:<10} ", style=style)
        line.append(c.name, style="bold" if c.action != "no-op" else "dim")
        if c.service:
            line.append(f"  ({c.service})", style="dim")
        parts.append(line)
        for d in c.diffs:
            parts.append(Text(f"      {d.field}: {_short(d.before)} → {_short(d.after)}",
                              style=style))
        for note in c.note.splitlines():
            parts.append(Text(f"      {note}", style="dim"))
    if not plan.pending:
        done = ("nothing of it is left to delete" if plan.mode == "destroy"
                else "no changes; everything is up to date")
        parts.append(Text(f"topology {plan.topology!r}: {done}", style="green"))
    for note in plan.actual.notes if plan.actual else []:
        parts.append(Text(f"note: {note}", style="yellow"))
    for gone in plan.actual.missing if plan.actual else []:
        parts.append(Text(f"! missing: {gone['message']}", style="bold red"))
    for x in plan.conflicts:
        parts.append(Text(f"! conflict: {x.message}", style="bold red"))
    for h in plan.hazards:
        text = h.forced if plan.forced else f"refused: {h.message}"
        parts.append(Text(f"! {text}", style="bold red"))
    parts.append(Text(summary_line(plan), style="bold"))
    return Group(*parts)
