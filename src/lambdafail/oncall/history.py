"""`history`: the transition log, newest first.

Rules: no click, no rich; one paginated Query whatever the length of the log.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from lambdafail.base.errors import UsageError
from lambdafail.oncall.common import runtime_guard, store_for
from lambdafail.oncall.model import LogEntry

if TYPE_CHECKING:
    from lambdafail.aws import AwsContext


def history(ctx: AwsContext, compiled: dict[str, Any], service: str | None = None,
            since: datetime | None = None, limit: int | None = 50,
            kind: str | None = "transition") -> list[LogEntry]:
    """The log, newest first (one paginated Query): entries of `kind`, None for every kind."""
    if service is not None and service not in compiled["services"]:
        known = ", ".join(sorted(compiled["services"]))
        raise UsageError(f"no service {service!r} in topology {compiled['topology']!r}",
                         hint=f"services: {known}")
    store = store_for(ctx, compiled)
    with runtime_guard(ctx, compiled):
        items = store.log(service=service, since=since.timestamp() if since else None, limit=limit,
                          kind=kind)
    return [LogEntry(committed_at=str(i.get("committed_at") or str(i["sk"]).split("#")[0]),
                     service=str(i.get("service", "")),
                     transition_id=str(i.get("transition_id", "")),
                     from_=str(i.get("from", "")), to=str(i.get("to", "")),
                     reason=str(i.get("reason", "")), actor=str(i.get("actor", "")),
                     started_at=i.get("started_at"), evidence=dict(i.get("evidence") or {}),
                     kind=str(i.get("kind", "transition")), drill_id=str(i.get("drill_id", "")),
                     recovery=i.get("recovery"))
            for i in items]
