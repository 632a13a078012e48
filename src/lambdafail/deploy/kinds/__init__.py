"""The registry of what router kinds bring to deploy: one module per kind that owns resources,
listed once in OWNED (deploy/kinds/base.py says what a module gives).

Rule: the planner, the inventory, the executor and the operator policies ask this registry,
never a router kind's name. A router kind that creates nothing of its own (ssm, route53,
rules, hook) is not listed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from lambdafail.deploy.kinds import dns_failover
from lambdafail.deploy.kinds.base import (
    Applying,
    Call,
    Clients,
    Need,
    ResourceKind,
    RouterResources,
)

if TYPE_CHECKING:
    from lambdafail.deploy.resources import Resource
    from lambdafail.model.arns import Where

OWNED: tuple[RouterResources, ...] = (dns_failover.KIND,)


def needs() -> dict[tuple[str, str], tuple[Need, ...]]:
    """What their deploy calls need, for `aws.actions.contribute` (the AccessDenied hint and
    the operator policies read one table; aws sits below deploy, so deploy hands it over)."""
    out: dict[tuple[str, str], tuple[Need, ...]] = {}
    for k in OWNED:
        for key, extra in k.needs.items():
            out[key] = out.get(key, ()) + extra
    return out


_BY_RESOURCE = {rk.name: (k, rk) for k in OWNED for rk in k.kinds}


def resource_kinds() -> tuple[ResourceKind, ...]:
    return tuple(rk for _, rk in _BY_RESOURCE.values())


def ordered(base: tuple[str, ...]) -> tuple[str, ...]:
    """The planner's dependency order with every owned resource kind placed after its
    `after` kind (in the order the modules list them)."""
    out = list(base)
    for rk in resource_kinds():
        out.insert(out.index(rk.after) + 1, rk.name)
    return tuple(out)


def owner_of(resource_kind: str) -> RouterResources | None:
    got = _BY_RESOURCE.get(resource_kind)
    return got[0] if got else None


def desired(compiled: dict[str, Any], where: Where) -> list[Resource]:
    return [r for k in OWNED for r in k.desired(compiled, where)]


def observe(ctx: Clients, compiled: dict[str, Any], deployed: dict[str, Any] | None,
            call: Call) -> Iterator[Resource]:
    for k in OWNED:
        yield from k.observe(ctx, compiled, deployed, call)


__all__ = ["OWNED", "Applying", "Call", "Clients", "Need", "ResourceKind", "RouterResources",
           "desired", "needs", "observe", "ordered", "owner_of", "resource_kinds"]
