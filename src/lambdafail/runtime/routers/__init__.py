"""Routers: point traffic at one side, idempotently, and read back where it points.

Rules: `apply(side)` may run any number of times with the same result; `read_back()` answers
from what AWS now holds, never from what we meant to set; failures raise a RouterError subclass
(base.py). One module per kind (ssm, route53, dns_failover, rules, hook), each registered once in ROUTERS
below by its compiled `kind`; its model, compile and IAM twin is `lambdafail/model/kinds/<kind>.py`.
stdlib + boto3 only.
"""

from __future__ import annotations

from typing import Any, Protocol

from lambdafail.runtime.config import Clients
from lambdafail.runtime.owner import TAG_SERVICE, TAG_TOPOLOGY, owner_tags
from lambdafail.runtime.routers.base import (
    Reading,
    Router,
    RouterError,
    RouterNotFound,
    RouterRefused,
    RouterTimeout,
    router_error,
)
from lambdafail.runtime.routers.dns_failover import DnsFailoverSwitch
from lambdafail.runtime.routers.hook import HookSwitch
from lambdafail.runtime.routers.route53 import Route53Switch
from lambdafail.runtime.routers.rules import RulesSwitch
from lambdafail.runtime.routers.ssm import SsmSwitch


class _Builder(Protocol):
    kind: str
    reads_committed: bool

    def build(self, cfg: dict[str, Any], clients: Clients, confirmed: str | None,
              tags: dict[str, str] | None = None) -> Router: ...

    def read_many(self, cfgs: list[dict[str, Any]], clients: Clients) -> list[Reading]: ...


#: compiled router `kind` → its runtime class.
ROUTERS: dict[str, _Builder] = {cls.kind: cls for cls in (SsmSwitch, Route53Switch,
                                                           DnsFailoverSwitch, RulesSwitch,
                                                           HookSwitch)}


def reads_committed(router_cfg: dict[str, Any]) -> bool:
    """Whether the router's read-back is the committed side (nothing in AWS to read)."""
    cls = ROUTERS.get(str(router_cfg.get("kind")))
    return bool(cls and cls.reads_committed)


def make_router(router_cfg: dict[str, Any], clients: Clients,
                confirmed: str | None = None, tags: dict[str, str] | None = None) -> Router:
    """Build the router of a service. `confirmed`: the committed active side (the read-back
    of routers that cannot read AWS); `tags`: the topology's ownership tags, put on whatever
    the router has to create (`owner_tags`)."""
    kind = router_cfg.get("kind")
    cls = ROUTERS.get(str(kind))
    if cls is None:
        raise RouterError(f"unknown router kind {kind!r}")
    return cls.build(router_cfg, clients, confirmed, tags)


def read_all(routers: dict[str, dict[str, Any]], clients: Clients) -> dict[str, Reading]:
    """service -> what its router points at now, each kind read in one batch by its own
    `read_many` (status)."""
    by_kind: dict[str, list[str]] = {}
    for service, cfg in sorted(routers.items()):
        by_kind.setdefault(str(cfg.get("kind")), []).append(service)
    out: dict[str, Reading] = {}
    for kind, services in by_kind.items():
        cls = ROUTERS.get(kind)
        if cls is None:
            raise RouterError(f"unknown router kind {kind!r}")
        for service, reading in zip(services, cls.read_many(
                [routers[s] for s in services], clients), strict=True):
            out[service] = reading
    return out


__all__ = ["ROUTERS", "TAG_SERVICE", "TAG_TOPOLOGY", "DnsFailoverSwitch", "HookSwitch", "Reading", "Route53Switch", "Router", "RouterError", "RouterNotFound",
           "RouterRefused", "RouterTimeout", "RulesSwitch", "SsmSwitch", "make_router",
           "owner_tags", "read_all", "reads_committed", "router_error"]
