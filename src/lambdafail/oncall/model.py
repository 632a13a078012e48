"""The on-call results: what status, history, failover and rollback return.

Rules: plain data only — no AWS, no clock, no click/rich — so the renderers (cli/render.py)
import this module and nothing that reaches AWS. Ages come precomputed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lambdafail.deploy.versions import DeploymentRollbackPlan, VersionInfo

__all__ = [
    "SIDES",
    "DeploymentRollbackPlan",
    "DrillInfo",
    "LiveProbe",
    "LogEntry",
    "OrchestratorStatus",
    "ServiceStatus",
    "SideStatus",
    "StatusReport",
    "SwitchOutcome",
    "TransitionInfo",
    "VersionInfo",
]

SIDES = ("primary", "standby")


@dataclass(frozen=True)
class LiveProbe:
    ok: bool
    detail: str
    latency_ms: float | None


@dataclass(frozen=True)
class SideStatus:
    ok: bool | None  # None: never probed
    at: str | None
    age_seconds: float | None
    detail: str
    failures: int
    successes: int
    latency_ms: float | None
    fault_until: str | None = None  # a drill forces this side unhealthy until then
    live: LiveProbe | None = None  # --probe: probed from the operator's machine just now


@dataclass(frozen=True)
class TransitionInfo:
    id: str
    at: str | None
    age_seconds: float | None
    from_: str
    to: str
    reason: str
    actor: str


@dataclass(frozen=True)
class DrillInfo:
    drill_id: str
    owner: str
    started_at: str | None
    age_seconds: float | None


@dataclass
class ServiceStatus:
    name: str
    deployed: bool  # a state item exists
    active: str | None
    since: str | None
    since_age_seconds: float | None
    phase: str | None
    pending: dict[str, Any] | None
    primary: SideStatus
    standby: SideStatus
    last_transition: TransitionInfo | None
    drill: DrillInfo | None
    rules: dict[str, str]  # rule name -> ENABLED | DISABLED | MISSING
    blocked: str | None
    problems: list[str] = field(default_factory=list)  # why it is not healthy, in words

    @property
    def healthy(self) -> bool:
        return not self.problems


@dataclass
class OrchestratorStatus:
    function: str
    deployed_version: str | None
    last_tick_at: str | None
    last_tick_age_seconds: float | None
    stale_after_seconds: int
    fresh: bool
    drift: bool | None  # None: cannot tell (nothing deployed)
    deployed_config_sha256: str | None
    file_config_sha256: str
    heartbeat_version: str | None
    problems: list[str] = field(default_factory=list)


@dataclass
class StatusReport:
    topology: str
    region: str
    generated_at: str
    orchestrator: OrchestratorStatus
    services: list[ServiceStatus]
    api_calls: int = 0

    @property
    def healthy(self) -> bool:
        return self.orchestrator.fresh and all(s.healthy for s in self.services)


# --------------------------------------------------------------------------------------------
# history and manual switches: results


@dataclass(frozen=True)
class LogEntry:
    committed_at: str
    service: str
    transition_id: str
    from_: str
    to: str
    reason: str
    actor: str
    started_at: str | None
    evidence: dict[str, Any]


@dataclass
class SwitchOutcome:
    """What a failover / rollback did, in words a person at 3 a.m. can act on."""

    action: str  # failover | rollback
    service: str
    outcome: str  # switched | noop | lost_race | refused | router_failed
    from_: str | None
    to: str | None
    active: str | None  # where the state table says traffic points now
    phase: str | None
    transition_id: str | None
    actor: str
    reason: str
    forced: bool
    verified: bool  # the router's read-back confirms traffic points at `active`
    read_back: str | None
    message: str
    next_step: str = ""
