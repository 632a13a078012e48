"""What the on-call modules share: time helpers, the dead-man's switch, and the adapters that
run the orchestrator's own runtime code with the operator's clients.

Rules: no click, no rich; every AWS call goes through an `AwsContext` (so it is counted) —
the runtime's clients here are the context's own.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from lambdafail.base.errors import AwsError

if TYPE_CHECKING:
    from lambdafail.aws import AwsContext

# The heartbeat is stale when older than this many probe intervals (the dead-man's switch).
STALE_FACTOR = 2


# --------------------------------------------------------------------------------------------
# small helpers


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(t: datetime) -> str:
    # Same shape as the runtime's (milliseconds): sorts as text against log sort keys.
    from lambdafail.runtime.clock import iso as iso_epoch

    return iso_epoch(t.timestamp())


def parse_iso(text: Any) -> datetime | None:
    """Parse the ISO-8601 UTC strings the state table holds; None for anything else."""
    from lambdafail.runtime.clock import parse_iso_or_none

    epoch = parse_iso_or_none(text)
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC)


def age_seconds(text: Any, now: datetime) -> float | None:
    t = parse_iso(text)
    return None if t is None else round(max(0.0, (now - t).total_seconds()), 1)


def config_sha256(compiled: dict[str, Any]) -> str:
    """sha256 of the canonical compiled topology: what deploy embeds and records."""
    from lambdafail.deploy.package import canonical_json

    return hashlib.sha256(canonical_json(compiled)).hexdigest()


def other(side: str) -> str:
    return "standby" if side == "primary" else "primary"


def longest_silence(compiled: Mapping[str, Any]) -> int:
    """The longest a healthy orchestrator goes without a tick: any schedule's tick refreshes
    the heartbeat, so the smallest of the schedules' longest gaps (a topology compiled before
    gaps were recorded has its fixed interval only)."""
    gaps = [int(s.get("max_gap_seconds", s["interval_seconds"]))
            for s in compiled.get("schedules", {}).values()]
    return min(gaps) if gaps else 60


# The heartbeat holds whole seconds and is written during the tick, not at its start.
HEARTBEAT_SLACK_SECONDS = 2


def stale_after_seconds(compiled: Mapping[str, Any]) -> int:
    """The dead-man's switch: no tick for this long means the orchestrator is not running.

    Twice the longest silence between ticks (`longest_silence`: for a cron that fires at 08:00
    and 08:30 only, 23.5 h). In the sped-up sandbox the interval is scaled like its
    scheduler (never more than one tick a second) and the heartbeat's whole-second rounding
    matters, so a slack is added there. Shared by status and drill.
    """
    from lambdafail.aws import time_scale

    scale = time_scale()
    if scale <= 1.0:
        return STALE_FACTOR * longest_silence(compiled)
    spacing = max(longest_silence(compiled) / scale, 1.0)
    return math.ceil(STALE_FACTOR * spacing + HEARTBEAT_SLACK_SECONDS)


@contextmanager
def runtime_guard(ctx: AwsContext, compiled: Mapping[str, Any]) -> Iterator[None]:
    """Runtime code run here with the operator's clients: a failure leaves as the AwsError of
    the call that really failed, a missing state table as the one "not deployed" error."""
    from lambdafail.aws import runtime_errors

    table = str(compiled["table"])
    with runtime_errors(ctx, {"dynamodb": table},
                        special=lambda err: _not_deployed(ctx, compiled, err)):
        yield


def _not_deployed(ctx: AwsContext, compiled: Mapping[str, Any], err: AwsError) -> AwsError | None:
    """The one check for "this topology is not deployed here": its state table is missing."""
    table = str(compiled["table"])
    if err.code != "ResourceNotFoundException" or err.resource != table:
        return None
    return AwsError(f"state table {table} not found: topology {compiled['topology']!r} is not "
                    f"deployed in {ctx.region} ({err.operation} failed)",
                    hint="check -f, --region and --endpoint-url; `lambdafail deploy` creates it",
                    operation=err.operation, resource=table, code=err.code)


def store_for(ctx: AwsContext, compiled: dict[str, Any]) -> Any:
    """The orchestrator's StateStore over this topology's table, on the operator's client."""
    from lambdafail.runtime.state import StateStore

    return StateStore(str(compiled["table"]), ctx.client("dynamodb"),
                      compiled.get("history_retention_days"))


def clients_for(ctx: AwsContext) -> Any:
    """A runtime `Clients` whose clients are the CLI's (counted, retried, same endpoint)."""
    from lambdafail.runtime.config import Clients

    class _CtxClients(Clients):
        def get(self, service: str, region: str | None = None) -> Any:
            return ctx.client(service, region) if region else ctx.client(service)

        def get_single_shot(self, service: str, read_timeout: float | None = None,
                            region: str | None = None) -> Any:
            from lambdafail.runtime.config import HOOK_READ_TIMEOUT_SECONDS

            timeout = read_timeout or HOOK_READ_TIMEOUT_SECONDS
            return (ctx.single_shot_client(service, timeout, region) if region
                    else ctx.single_shot_client(service, timeout))

    return _CtxClients(region=ctx.region, endpoint_url=ctx.endpoint_url)


def compiled_for(topo: Any, region: str) -> dict[str, Any]:
    """The compiled topology as deploy builds it (region filled from the session if unset)."""
    from lambdafail.model.topology import compiled_document

    return compiled_document(topo, region)


def probe_lambda(ctx: AwsContext, timeout: float) -> Any:
    """A Lambda client for health probes from this machine: one attempt, a read timeout of
    the probe's own, so a hung standby cannot keep the CLI alive after it has answered."""
    return ctx.single_shot_client("lambda", max(1.0, timeout))


def header_resolver(ctx: AwsContext) -> Any:
    """The resolver of probe headers from Secrets Manager / SSM with the operator's
    credentials (the CLI's counted clients), one per AWS context: one cache per command."""
    from lambdafail.runtime.secrets import HeaderResolver

    got = getattr(ctx, "_lambdafail_header_resolver", None)
    if got is None:
        got = HeaderResolver(ctx.client)
        ctx._lambdafail_header_resolver = got  # type: ignore[attr-defined]
    return got
