"""The registry of router kinds: one module per kind, listed once in ROUTERS.

Rule: callers dispatch through `router_kind(name)` / `router_kind_of(model)` / `ROUTERS`, never
on a kind's name. Adding a router kind = one module here (model, compile, IAM, hint, seeded
parameters) + its runtime twin under `lambdafail/runtime/routers/` + docs (docs/topology.md,
docs/architecture.md); see docs/architecture.md "Adding a router kind".
"""

from __future__ import annotations

from typing import Any

from lambdafail.model.kinds import dns_failover, hook, route53, rules, ssm
from lambdafail.model.kinds.base import RouterKind, RouterSpec

#: In the order the schema, the discriminator and error messages list them.
ROUTERS: tuple[RouterKind[Any], ...] = (ssm.KIND, route53.KIND, dns_failover.KIND, rules.KIND,
                                         hook.KIND)

_BY_KIND = {k.kind: k for k in ROUTERS}
_BY_MODEL = {k.model: k for k in ROUTERS}


def router_kind(kind: str) -> RouterKind[Any]:
    """The kind of a compiled router (`router["kind"]`)."""
    try:
        return _BY_KIND[kind]
    except KeyError:
        raise KeyError(f"unknown router kind {kind!r}") from None


def router_kind_of(router: RouterSpec) -> RouterKind[Any]:
    """The kind of a loaded router model."""
    return _BY_MODEL[type(router)]


__all__ = ["ROUTERS", "RouterKind", "RouterSpec", "router_kind", "router_kind_of"]
