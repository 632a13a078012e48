"""The contract of what a router kind brings to deploy: resources made ahead of time.

Rule: a router kind whose switch needs resources of its own that deploy creates (an alarm, a
health check, records) has one module in this package exporting `KIND`, an instance of a
`RouterResources` subclass, listed once in `deploy/kinds/__init__.py` `OWNED`. The planner,
the inventory, the executor and the operator policies dispatch here, never on the router
kind's name: the module gives its resource kinds (their place in the dependency order, whether
they carry tags, whether destroy keeps them), the desired resources (pure), how to read them
back (read-only), how to apply a change to one (every call safe to repeat), and the operator
permissions those calls need. A kind that creates nothing of its own has no module here.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

if TYPE_CHECKING:
    from lambdafail.deploy.resources import Plan, Resource
    from lambdafail.model.arns import Where

#: (IAM action, scope): what one API call needs, as in `aws.actions`.
Need = tuple[str, str]


class Clients(Protocol):
    """What a kind module sees of `aws.Clients`: its region and its (counted) clients."""

    @property
    def region(self) -> str: ...

    def client(self, service: str, region: str | None = None) -> Any: ...


class Call(Protocol):
    """`aws.call`, lent by the inventory and the executor: a kind module never imports aws, so
    the planner that reads its resource kinds stays pure."""

    def __call__(self, client: Any, operation: str, *, resource: str = "",
                 **kwargs: Any) -> Any: ...


class Applying(Protocol):
    """What the executor lends a kind's applier: its context, the plan, and its call."""

    @property
    def ctx(self) -> Clients: ...

    @property
    def plan(self) -> Plan: ...

    def call(self, client: Any, operation: str, *, resource: str = "", **kwargs: Any) -> Any: ...


@dataclass(frozen=True)
class ResourceKind:
    """One kind of resource a router kind brings (a planner `Resource.kind`)."""

    name: str
    #: The planner kind it is created after (and deleted before).
    after: str
    #: Whether it carries the topology's tags (ours only when tagged so).
    tagged: bool = True
    #: Whether `destroy` keeps it unless --delete-state (what applications resolve through).
    state: bool = False
    #: Whether one found untagged is ours: AWS tags it only after creating it, and a deploy
    #: stopped in between left it so (the update tags it).
    adopt_untagged: bool = False
    #: Whether it is created at the side the state says (the change's desired context gets
    #: `seed`: "primary" or "standby").
    seeded: bool = False


class RouterResources:
    #: The router kind (model/kinds) whose compiled routers this module provisions for.
    router: ClassVar[str]
    #: Its resource kinds, in dependency order.
    kinds: ClassVar[tuple[ResourceKind, ...]]
    #: The deploy-time API calls (service, operation) it makes (the deploy operator policy).
    calls: ClassVar[tuple[tuple[str, str], ...]] = ()
    #: What each API call needs on this kind's scopes, beside what `aws.actions` says.
    needs: ClassVar[dict[tuple[str, str], tuple[Need, ...]]] = {}
    #: The statement id of each of its scopes (docs/permissions.md has a section for each).
    sids: ClassVar[dict[str, str]] = {}
    #: (role, IAM action, scope) a role never needs although one of its calls could.
    not_for_role: ClassVar[frozenset[tuple[str, str, str]]] = frozenset()
    #: (scope, conditioned action) -> the statement id of its own condition (`conditions`).
    condition_sids: ClassVar[dict[tuple[str, str], str]] = {}

    def routers(self, compiled: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
        """service -> its compiled router of this kind."""
        if not compiled:
            return {}
        return {name: svc["router"] for name, svc in sorted(compiled.get("services", {}).items())
                if svc["router"]["kind"] == self.router}

    def desired(self, compiled: dict[str, Any], where: Where) -> list[Resource]:
        """The resources the compiled topology's routers of this kind need (pure)."""
        raise NotImplementedError

    def observe(self, ctx: Clients, compiled: dict[str, Any], deployed: dict[str, Any] | None,
                call: Call) -> Iterator[Resource]:
        """What exists of them, for the topology's routers and the deployed topology's (a
        removed service's are found through it); read-only, in `desired()`'s shapes."""
        raise NotImplementedError

    def applier(self, ex: Applying) -> Any:
        """The executor's part for its kinds: an object whose `_<action>_<kind>` runs one
        change (one per deploy run: it may keep what it made, such as ids)."""
        raise NotImplementedError

    def scopes(self, compiled: dict[str, Any], where: Where) -> dict[str, list[str]]:
        """The resources of each of its scopes for this topology ({} without such routers)."""
        return {}

    def conditions(self, compiled: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
        """(scope, action) -> the condition an operator statement puts on it."""
        return {}
