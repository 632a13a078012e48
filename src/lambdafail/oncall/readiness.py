"""Readiness of cold standbys' recovery plans, for `status`: can the failover plan run?

Rules: no click, no rich. A cold standby (its failover plan has a step that judges it, a
`wait`) is expected to be down until the plan starts it, so status judges the plan instead: the
resources its steps act on exist. The checks are batched per step kind across all services
(a kind whose runner has `check(cfgs, clients)` — a problem or None per step — is checked; others are taken as
ready): one GetFunctionConfiguration per distinct step function, one DescribeServices per ECS
cluster and 10 services. Whether the orchestrator's role may act on them is not checked here
(`deploy` writes that policy from the same steps).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from lambdafail.oncall.common import clients_for

if TYPE_CHECKING:
    from lambdafail.aws import AwsContext


def cold_services(compiled: Mapping[str, Any]) -> list[str]:
    """The services whose standby starts cold (status does not hold its being down against
    them)."""
    from lambdafail.runtime.recovery import cold_standby

    return sorted(n for n, svc in compiled["services"].items() if cold_standby(svc, "standby"))


def plan_readiness(ctx: AwsContext, compiled: Mapping[str, Any]) -> dict[str, list[str]]:
    """Per cold-standby service, what would stop its failover plan ([] = ready)."""
    from lambdafail.runtime.steps import STEPS

    names = cold_services(compiled)
    by_kind: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for name in names:
        for step in compiled["services"][name]["recovery"]["failover"]:
            by_kind.setdefault(str(step["kind"]), []).append((name, step))
    out: dict[str, list[str]] = {n: [] for n in names}
    clients = clients_for(ctx)
    for kind, pairs in sorted(by_kind.items()):
        check = getattr(STEPS.get(kind), "check", None)
        if check is None:
            continue
        for (name, _), problem in zip(pairs, check([cfg for _, cfg in pairs], clients),
                                      strict=True):
            if problem and problem not in out[name]:
                out[name].append(problem)
    return out
