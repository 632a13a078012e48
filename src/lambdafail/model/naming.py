"""Physical names and tags for everything a topology owns.

Rule: every AWS name lambdafail creates comes from here, is deterministic, fits AWS's limits
(long names are truncated and suffixed with a short hash), and is prefixed
`lambdafail-<topology>-` so ownership is visible at a glance. Tags are the proof of ownership.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

from lambdafail.model.schedule import schedule_gaps

# One definition of the ownership tags: the orchestrator tags what its routers recreate.
from lambdafail.runtime.owner import TAG_SERVICE as TAG_SERVICE
from lambdafail.runtime.owner import TAG_TOPOLOGY as TAG_TOPOLOGY

PREFIX = "lambdafail"
# Tick rules are `<base>-tick-…`: status lists them by this prefix in one call.
TICK_INFIX = "tick-"
ALIAS = "live"

RULE_NAME_MAX = 64
FUNCTION_NAME_MAX = 64
ROLE_NAME_MAX = 64
TABLE_NAME_MAX = 255
BUS_NAME_MAX = 256
QUEUE_NAME_MAX = 80

_RULE_CHARS = re.compile(r"[^.\-_A-Za-z0-9]")


def _fit(name: str, limit: int) -> str:
    """Return `name` if it fits, else a truncation ending in an 8-char hash of the full name."""
    name = _RULE_CHARS.sub("-", name)
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[: limit - 9]}-{digest}"


def base(topology: str) -> str:
    return f"{PREFIX}-{topology}"


def function_name(topology: str) -> str:
    return _fit(f"{base(topology)}-orchestrator", FUNCTION_NAME_MAX)


def role_name(topology: str, region: str | None = None) -> str:
    """The orchestrator's role; with several control regions one per region (`region`), so
    each region's deploy owns its own role, policies and control-region tag."""
    return _fit(f"{base(topology)}-orchestrator" + (f"-{region}" if region else ""),
                ROLE_NAME_MAX)


def own_region(compiled: Mapping[str, Any], region: str | None) -> str | None:
    """The region global names (role, managed policies) carry: `region` when the topology
    has several control regions, else None (one role, named as it always was)."""
    return region if compiled.get("control_regions") else None


def table_name(topology: str) -> str:
    return _fit(f"{base(topology)}-state", TABLE_NAME_MAX)


def bus_name(topology: str) -> str:
    return _fit(f"{base(topology)}-events", BUS_NAME_MAX)


def dlq_name(topology: str) -> str:
    return _fit(f"{base(topology)}-dlq", QUEUE_NAME_MAX)


def schedule_rule_name(topology: str, expression: str) -> str:
    """`<base>-tick-<N>s` for a schedule that fires every N seconds (a rate, or a cron with a
    fixed period), `<base>-tick-<N>s-<hash>` for an uneven cron (N = its shortest gap): two
    schedules share a rule only if they tick alike."""
    gaps = schedule_gaps(expression)
    name = f"{base(topology)}-{TICK_INFIX}{gaps.min_seconds}s"
    if gaps.min_seconds != gaps.max_seconds:
        fields = " ".join(expression[5:-1].split()).upper()
        name += "-" + hashlib.sha256(fields.encode()).hexdigest()[:8]
    return _fit(name, RULE_NAME_MAX)


def fit_rule_name(name: str) -> str:
    return _fit(name, RULE_NAME_MAX)


def alarm_rule_name(topology: str, service: str, index: int) -> str:
    return _fit(f"{base(topology)}-{service}-alarm-{index}", RULE_NAME_MAX)


def event_rule_name(topology: str, service: str, index: int) -> str:
    return _fit(f"{base(topology)}-{service}-event-{index}", RULE_NAME_MAX)


def rule_prefix(topology: str) -> str:
    return f"{base(topology)}-"


#: On the (global) role: the control region the topology is deployed in, so a plan for another
#: region sees the move instead of building a second stack beside the first (docs/placement.md).
TAG_CONTROL_REGION = "lambdafail:control-region"


def tags(topology: str, service: str | None = None) -> dict[str, str]:
    t = {TAG_TOPOLOGY: topology}
    if service:
        t[TAG_SERVICE] = service
    return t


INLINE_POLICY = "lambdafail-orchestrator"
MANAGED_POLICY_NAME_MAX = 128


def policy_path(topology: str, region: str | None = None) -> str:
    """The IAM path of the orchestrator role's managed policies: lambdafail's own (one per
    control region when there are several: each region's deploy lists only its own)."""
    return f"/{PREFIX}/{topology}/" + (f"{region}/" if region else "")


def managed_policy_name(topology: str, index: int, region: str | None = None) -> str:
    """The `index`-th (1-based) managed policy of the orchestrator's role."""
    return _fit(f"{base(topology)}-orchestrator-" + (f"{region}-" if region else "") +
                str(index), MANAGED_POLICY_NAME_MAX)
TARGET_ID = "lambdafail-orchestrator"


def permission_id(rule: str) -> str:
    """StatementId of the Lambda permission that lets rule `rule` invoke the alias (≤ 100)."""
    return f"lambdafail-{rule}"
