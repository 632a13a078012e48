"""Checks that need the whole topology (defaults merged, services compared): distinct targets,
timeouts that fit, no shared alarms or router resources, physical names within AWS's limits,
recovery plans that judge a cold standby, placement.

Rule: pure; each problem carries its YAML path so the loader reports it at its own file:line;
`placement_warnings` are said by validate, never refused.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from lambdafail.model import naming
from lambdafail.model.common import RULE_NAME_RE
from lambdafail.model.kinds import router_kind_of
from lambdafail.model.kinds.signals import signal_kind_of
from lambdafail.model.kinds.steps import step_kind_of
from lambdafail.model.kinds.targets import target_kind_of, target_value
from lambdafail.model.schedule import schedule_gaps
from lambdafail.model.topology import (
    PROBE_SPREAD_SECONDS,
    Recovery,
    Service,
    Topology,
    placed,
)


@dataclass(frozen=True)
class SemanticProblem:
    """A problem that needs the whole topology to see (defaults merged, services compared)."""

    path: tuple[str | int, ...]
    message: str
    hint: str = ""


def _dotted(path: tuple[str | int, ...]) -> str:
    return ".".join(str(p) for p in path)


def semantic_problems(topo: Topology) -> list[SemanticProblem]:
    """Checks across fields: distinct targets, timeouts that fit, no shared alarms or router
    resources between services, physical names within AWS limits."""
    out: list[SemanticProblem] = []
    claimed: dict[str, str] = {}
    routes: dict[str, str] = {}
    for name, svc in topo.services.items():
        base: tuple[str | int, ...] = ("services", name)
        if type(svc.primary) is type(svc.standby) and target_value(svc.primary) == target_value(
            svc.standby
        ):
            out.append(SemanticProblem(
                (*base, "standby"), "standby is the same target as primary "
                f"({target_value(svc.primary)}); a failover would change nothing",
                "point standby at a different URL or function"))
        h = topo.health(name)
        try:
            # Rounds must end before the next tick, which may come after the shortest gap.
            secs = schedule_gaps(h.interval).min_seconds
        except ValueError:
            continue  # reported on the field itself
        budget = (PROBE_SPREAD_SECONDS / h.probes_per_tick if h.probes_per_tick > 1
                  else min(secs, 900) - 5)
        if h.timeout_seconds >= budget:
            where = ("services", name, "health") if svc.health.timeout_seconds is not None \
                else ("defaults", "health")
            out.append(SemanticProblem(
                (*where, "timeout_seconds"),
                f"timeout_seconds {h.timeout_seconds:g} does not fit in the probe interval of "
                f"service {name!r} ({h.interval}, {h.probes_per_tick} probe round(s) per tick: "
                f"{budget:g} s each)",
                f"use a timeout below {budget:g} s, fewer probes_per_tick or a longer interval"))
        for i, sig in enumerate(svc.signals):
            kind = signal_kind_of(sig)
            claim = kind.claim(sig)
            if claim is not None:
                key, said = claim
                if key in claimed and claimed[key] != name:
                    out.append(SemanticProblem(
                        (*base, "signals", i, kind.key),
                        f"{said} is already a signal of service {claimed[key]!r}; the "
                        f"orchestrator finds the service by {kind.key} name",
                        f"give each service its own {kind.key}"))
                claimed.setdefault(key, name)
        out.extend(_recovery_problems(name, svc.recovery))
        route = _route_key(svc)
        if route is not None:
            if route in routes:
                out.append(SemanticProblem(
                    (*base, "router"), f"service {routes[route]!r} already switches {route}; "
                    "two services would fight over it", "give each service its own router"))
            routes.setdefault(route, name)
    out.extend(_physical_name_problems(topo))
    out.extend(_placement_problems(topo))
    return out


def _placement_problems(topo: Topology) -> list[SemanticProblem]:
    out: list[SemanticProblem] = []
    if topo.control is not None and topo.region is None:
        out.append(SemanticProblem(
            ("control",), "a control region needs the topology's `region:` (the region the "
            "services live in by default)", "add `region: <the primaries' region>`"))
    for name, svc in topo.services.items():
        kind = router_kind_of(svc.router)
        if svc.router.region is not None and not kind.regional:
            out.append(SemanticProblem(
                ("services", name, "router", "region"), f"a {kind.key} router acts through a "
                "global API, not in a region", "remove `region:` from the router, or use a "
                "dns_failover router: its switch is a data-plane call in the control region "
                "(docs/placement.md)"))
        elif svc.router.region is not None and kind.acts_in_control:
            out.append(SemanticProblem(
                ("services", name, "router", "region"), f"a {kind.key} router acts in the "
                "control region (its alarm lives beside the orchestrator), not in a region of "
                "its own", "remove `region:` from the router; choose the control region with "
                "`control:` (docs/placement.md)"))
        if kind.acts_in_control and len(topo.control_regions) > 1:
            out.append(SemanticProblem(
                ("services", name, "router"), f"a {kind.key} router with several control "
                "regions is not supported yet: its health check follows one alarm, and each "
                "control region's deploy would make its own",
                "use one control region for this topology, or an ssm_parameter router "
                "(docs/placement.md)"))
        for side in ("primary", "standby"):
            target = getattr(svc, side)
            if target_kind_of(target).invokes(target_kind_of(target).compile(target)) and \
                    placed(topo, target.region) is not None:
                out.append(SemanticProblem(
                    ("services", name, side, "region"),
                    f"the Lambda target {target_value(target)!r} lives in "
                    f"{placed(topo, target.region)} (its `region:` or the topology's); Lambda "
                    f"targets are invoked in the control region {topo.control_region}, so one "
                    "elsewhere is not supported yet",
                    "place the function in the control region, or probe it through a URL"))
    return out


def placement_warnings(topo: Topology) -> list[SemanticProblem]:
    """What validate warns about (exit 0): a watcher that shares a region with what it
    protects goes down with it, and so does a router acting in the primary's region; a
    Route 53 router switches through a global control plane served from one region. One
    warning per kind of problem, naming the services."""
    controls = topo.control_regions
    out: list[SemanticProblem] = []
    if not controls:
        return out
    for i, control in enumerate(controls):
        shared = [n for n, svc in topo.services.items()
                  if (svc.primary.region or topo.region) == control]
        if not shared:
            continue
        where: tuple[str | int, ...] = (
            ("region",) if topo.control is None
            else ("control", "regions") if len(controls) == 1 else ("control", "regions", i))
        if len(controls) == 1:
            out.append(SemanticProblem(
                where, f"the orchestrator runs in {control}, the region of the primary of "
                f"{_some(shared)}: an outage of that region takes the watcher down with it",
                "set `control: {regions: [<another region>]}` (docs/placement.md)"))
        else:
            out.append(SemanticProblem(
                where, f"the control region {control} is the region of the primary of "
                f"{_some(shared)}: its outage leaves two control regions, still a majority of "
                "the global table, but one more lost stops every write",
                "prefer control regions apart from the primaries' (docs/placement.md)"))
    in_primary: list[str] = []
    global_plane: list[str] = []
    for name, svc in topo.services.items():
        kind = router_kind_of(svc.router)
        if not kind.regional:
            global_plane.append(name)
        elif kind.acts_in_control:
            continue  # in the control region: the warning about the watcher's region covers it
        elif (svc.router.region or topo.region) == (svc.primary.region or topo.region):
            in_primary.append(name)
    if in_primary:
        first = in_primary[0]
        out.append(SemanticProblem(
            ("services", first, "router"), f"the router of {_some(in_primary)} acts in its "
            "primary's region: a failover caused by that region's outage cannot switch it",
            "give the router `region: <the standby's region>` (docs/placement.md)"))
    if global_plane:
        first = global_plane[0]
        out.append(SemanticProblem(
            ("services", first, "router"), f"the route53 router of {_some(global_plane)} "
            "switches with ChangeResourceRecordSets, a control-plane call served from "
            "us-east-1: AWS advises against depending on it during recovery",
            "use a dns_failover router (the same record, switched by a metric in the control "
            "region: docs/placement.md), or an SSM router in the standby's region"))
    return out


def _some(names: list[str], shown: int = 3) -> str:
    said = ", ".join(repr(n) for n in names[:shown])
    more = len(names) - shown
    return ("service " if len(names) == 1 else "services ") + said + (
        f" and {more} more" if more > 0 else "")


def _recovery_problems(name: str, rec: Recovery) -> list[SemanticProblem]:
    """A failover plan that starts the standby must judge it (a `wait` after the last step
    that starts it) before the router moves; a failback plan runs once traffic is home, when
    there is no standby to wait for."""
    out: list[SemanticProblem] = []
    base: tuple[str | int, ...] = ("services", name, "recovery")
    steps = [item.spec for item in rec.failover]
    starts = [i for i, s in enumerate(steps) if step_kind_of(s).starts_standby(s)]
    if starts and not any(step_kind_of(s).judges_standby for s in steps[starts[-1] + 1:]):
        i = starts[-1]
        key = step_kind_of(steps[i]).key
        out.append(SemanticProblem(
            (*base, "failover", i, key),
            f"step {i + 1} ({key}) starts the standby but no `wait` step follows it: the "
            "router would switch to a standby nobody has seen healthy",
            "add `- wait: {healthy: 2, timeout_seconds: 120}` after it (or, for a function "
            "that starts nothing, set `starts_standby: false`)"))
    for i, item in enumerate(rec.failback):
        kind = step_kind_of(item.spec)
        if kind.judges_standby:
            out.append(SemanticProblem(
                (*base, "failback", i, kind.key),
                f"a `{kind.key}` step judges the standby, but failback steps run after "
                "traffic is back on the primary", "remove it from the failback plan"))
    return out


def _route_key(svc: Service) -> str | None:
    return router_kind_of(svc.router).route_key(svc.router)


_PHYSICAL_LIMITS = {
    "function": naming.FUNCTION_NAME_MAX, "rule": naming.RULE_NAME_MAX,
    "table": naming.TABLE_NAME_MAX, "bus": naming.BUS_NAME_MAX,
}


def _physical_name_problems(topo: Topology) -> list[SemanticProblem]:
    """Every name lambdafail will create, checked against AWS's limits and characters.

    naming.py shortens long names with a hash, so this only fires if that contract breaks; it
    is the offline guarantee that deploy will not meet a ValidationException on a name."""
    names: list[tuple[str, str]] = [
        ("function", naming.function_name(topo.name)),
        ("function", naming.role_name(topo.name)),
        ("table", naming.table_name(topo.name)),
        ("bus", naming.bus_name(topo.name)),
    ]
    for name, svc in topo.services.items():
        h = topo.health(name)
        with contextlib.suppress(ValueError):
            names.append(("rule", naming.schedule_rule_name(topo.name, h.interval)))
        for i, sig in enumerate(svc.signals):
            names.append(("rule", signal_kind_of(sig).rule_name(topo.name, name, i)))
    out: list[SemanticProblem] = []
    for kind, physical in names:
        limit = _PHYSICAL_LIMITS[kind]
        if len(physical) > limit or not RULE_NAME_RE.match(physical[:64] or "-"):
            out.append(SemanticProblem(
                ("name",), f"the {kind} name {physical!r} would break AWS's limit "
                f"({limit} characters of [.-_A-Za-z0-9])", "use a shorter topology name"))
    return out
