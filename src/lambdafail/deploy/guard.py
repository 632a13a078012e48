"""Edits that would move traffic by accident: found in a plan, refused unless forced.

Rule: pure (the clock is a parameter). For every deployed service that is not steady on its
primary — failed over, switching, in a drill or paused, as the state table says — the file
may not remove (or rename) it nor change its router: deploy would delete the routing value
applications read, or seed a new router at the primary while traffic is on the standby. Each
such edit is a `Hazard`: `plan` and `deploy` show it and exit 2 saying what to run first;
with `--force` it stays in the plan as a line saying what deploy will do.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from lambdafail.deploy.planner import Actual, Plan


@dataclass(frozen=True)
class Hazard:
    service: str
    edit: str  # remove | reroute
    state: str  # why the service is held, in words ("failed over: on the standby")
    message: str  # what the edit would do
    first: str  # what to run first
    forced: str  # what deploy does with --force

    def to_json(self) -> dict[str, str]:
        return {"service": self.service, "edit": self.edit, "state": self.state,
                "message": self.message, "run_first": self.first, "forced": self.forced}


def held(actual: Actual, now: float) -> dict[str, tuple[str, str, str]]:
    """service -> (why it is not steady on its primary, its active side, what to run first)."""
    out: dict[str, tuple[str, str, str]] = {}
    for (kind, name), r in actual.resources.items():
        if kind != "item" or r.service is None:
            continue
        active = str(r.spec.get("active") or "primary")
        phase = str(r.context.get("phase") or "steady")
        paused = r.context.get("paused_until")
        drill = actual.drills.get(name)
        if phase == "switching":
            to = r.context.get("pending_to") or "?"
            out[name] = (f"switching to the {to}", active,
                         f"wait until `lambdafail status` shows the switch done, or "
                         f"`lambdafail rollback -f FILE {name} --abandon --reason …`")
        elif drill is not None and drill > now:
            out[name] = ("in a drill", active, "let the drill finish (its restore releases "
                         "the service)")
        elif active != "primary":
            out[name] = (f"failed over: on the {active}", active,
                         f"`lambdafail rollback -f FILE {name} --reason …`")
        elif paused is not None and float(paused) > now:
            out[name] = ("paused", active, f"`lambdafail resume -f FILE {name}`")
    return out


def _deployed_services(actual: Actual) -> set[str]:
    """The services the live function watches: from its compiled topology when known, else
    those with a rule or router parameter of ours."""
    if actual.deployed_config is not None:
        return set(actual.deployed_config.get("services", {}))
    return {r.service for r in actual.resources.values()
            if r.service and r.kind in ("rule", "parameter") and r.owner == actual.topology}


def hazards(plan: Plan, compiled: dict[str, Any], actual: Actual,
            now: float | None = None) -> list[Hazard]:
    now = time.time() if now is None else now
    holds = held(actual, now)
    deployed = actual.deployed_config or {}
    new_services = compiled["services"]
    added = sorted(set(new_services) - _deployed_services(actual))
    out: list[Hazard] = []
    for svc in sorted(_deployed_services(actual) & set(holds)):
        why, active, first = holds[svc]
        deleted = [c for c in plan.changes if c.service == svc and c.action == "delete"]
        params = [c.name for c in deleted if c.kind == "parameter"]
        lost = (f"delete its router parameter {', '.join(params)} (applications lose their "
                "endpoint)" if params else "stop watching it")
        if svc not in new_services:
            renamed = f" (renamed to {added[0]}?)" if len(added) == 1 else ""
            out.append(Hazard(
                svc, "remove", why,
                f"service {svc} is {why}: removing it from the file{renamed} would {lost}, "
                f"and its traffic stays where it is with nobody watching",
                first, f"forced: {svc} is {why}; deploy removes it anyway: it would {lost}; "
                       f"its state item stays (active = {active})"))
            continue
        old_router = (deployed.get("services", {}).get(svc) or {}).get("router")
        new_router = new_services[svc]["router"]
        created = [c.name for c in plan.changes if c.service == svc and c.action == "create"
                   and c.kind == "parameter"]
        changed = old_router != new_router if old_router is not None else bool(params or created)
        if not changed:
            continue
        moved = [f"a new router parameter {n} is seeded at the {active} (the state's side)"
                 for n in created]
        moved += [f"the old parameter {n} is deleted (applications reading it lose their "
                  "endpoint)" for n in params]
        updates = [c.name for c in plan.changes if c.service == svc and c.action == "update"
                   and c.kind == "parameter"]
        moved += [f"parameter {n} is set to the {active}'s new value" for n in updates]
        what = "; ".join(moved) or (f"the new router is not set until the next switch: it "
                                    f"may not point at the {active}")
        out.append(Hazard(
            svc, "reroute", why,
            f"service {svc} is {why}: changing its router would move its traffic: {what}",
            first, f"forced: {svc} is {why}; its router changes anyway: {what}"))
    return out


def check(plan: Plan, compiled: dict[str, Any], actual: Actual, *, force: bool,
          now: float | None = None) -> None:
    """Record the plan's hazards; `cli.commands.plan.refuse_hazards` refuses them unless
    forced."""
    plan.hazards = hazards(plan, compiled, actual, now)
    plan.forced = force
