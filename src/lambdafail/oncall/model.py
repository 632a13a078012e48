"""The on-call results: what status, history, failover and rollback return.

Rules: plain data only — no AWS, no clock, no click/rich — so the renderers (cli/render.py)
import this module and nothing that reaches AWS. Ages come precomputed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lambdafail.deploy.versions import DeploymentRollbackPlan, VersionInfo

__all__ = [
    "FAILED_EVENTS",
    "NOTIFICATIONS",
    "SEVERITY_EXIT",
    "SIDES",
    "STALE",
    "STATES",
    "SWITCH_STUCK_SECONDS",
    "DeploymentRollbackPlan",
    "DrillInfo",
    "LiveProbe",
    "LogEntry",
    "OrchestratorStatus",
    "PauseInfo",
    "RouterReading",
    "ServiceStatus",
    "SideStatus",
    "StatusReport",
    "SwitchOutcome",
    "TransitionInfo",
    "VersionInfo",
]

SIDES = ("primary", "standby")

# The service states (docs/commands.md, "Service states"), each with the severity a monitor
# reads from the exit code: "ok" 0, "at_risk" 8, "degraded" 7. `switching` is at risk while
# the switch is young and degraded once it has been pending longer than SWITCH_STUCK_SECONDS.
STATES: dict[str, str] = {
    "healthy": "ok",          # on the primary, both sides answer, rules enabled
    "at_risk": "at_risk",     # on the primary, but the standby is failing or never probed,
                              # or a rule that detects failures is not enabled
    "failing": "at_risk",     # the primary fails, below the failure threshold so far
    "misrouted": "degraded",  # the router points elsewhere than the state says, or is gone
    "failed_over": "degraded",  # traffic is on the standby
    "blocked": "degraded",    # a failover is wanted and cannot happen (both down, cooldown,
                              # paused): the reason says which
    "switching": "at_risk",   # a switch is under way (degraded once its router failed or
                              # it is pending longer than SWITCH_STUCK_SECONDS)
    "unknown": "at_risk",     # never probed, or not deployed
    "paused": "at_risk",      # `lambdafail pause`: probed and recorded, never switched
    "drill": "at_risk",       # a drill holds the service
}
SEVERITY_EXIT = {"ok": 0, "at_risk": 8, "degraded": 7}  # ExitCode.OK, AT_RISK, DEGRADED
SWITCH_STUCK_SECONDS = 60.0
# `status --fail-on` also takes this word: the orchestrator is not ticking (always degraded).
STALE = "stale"
# ... and this one: events wait in the dead-letter queue (at risk: a signal may have been lost).
FAILED_EVENTS = "failed_events"
# ...and this one: the orchestrator's last notification failed (at risk).
NOTIFICATIONS = "notifications"


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


@dataclass(frozen=True)
class PauseInfo:
    until: str
    until_age_seconds: float  # seconds left
    reason: str
    actor: str
    at: str | None


@dataclass(frozen=True)
class RouterReading:
    """What status read back from the service's router (runtime/routers `read_many`)."""

    kind: str
    side: str | None  # the side its value means; None: neither (or unreadable)
    found: bool  # False: what it switches does not exist
    readable: bool  # False: nothing in AWS says (a hook), or the read failed
    seen: str  # the value or states read, in words


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
    state: str = "unknown"  # one of STATES
    reason: str = ""  # the state's why, in words ("" when healthy)
    severity: str = "at_risk"  # STATES[state], but a stuck switch is degraded
    paused: PauseInfo | None = None
    router: RouterReading | None = None
    misrouted: str | None = None  # why the router disagrees with the state
    #: None: the standby runs (hot); else a cold standby started by its failover plan, and
    #: what would stop that plan ([] = ready: its step resources exist).
    plan_problems: list[str] | None = None

    @property
    def healthy(self) -> bool:
        return self.state == "healthy"


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
    # The last notification (SNS / default-bus event) failed: (error, since); None: fine.
    notifications_failing: tuple[str, str] | None = None
    # Events the orchestrator could not process (after Lambda's retries) or EventBridge could
    # not deliver: the DLQ's ApproximateNumberOfMessages. None: the DLQ could not be read.
    failed_events: int | None = None
    dlq: str = ""


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
        return (self.orchestrator.fresh and self.orchestrator.notifications_failing is None
                and all(s.healthy for s in self.services))

    def exit_code(self, fail_on: frozenset[str] | None = None) -> int:
        """0 healthy · 8 at risk · 7 degraded; `fail_on` (states and "stale") limits what
        counts — None: everything."""
        def counts(state: str) -> bool:
            return fail_on is None or state in fail_on

        severities = {s.severity for s in self.services if counts(s.state)}
        if not self.orchestrator.fresh and counts(STALE):
            severities.add("degraded")
        if self.orchestrator.failed_events and counts(FAILED_EVENTS):
            severities.add("at_risk")
        # Switches still happen, but nobody hears of them: at risk.
        if self.orchestrator.notifications_failing and counts(NOTIFICATIONS):
            severities.add("at_risk")
        for level in ("degraded", "at_risk"):
            if level in severities:
                return SEVERITY_EXIT[level]
        return 0

    @property
    def verdict(self) -> str:
        """healthy | at_risk | degraded: the worst of all, --fail-on aside."""
        return {0: "healthy", 8: "at_risk", 7: "degraded"}[self.exit_code()]


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
    kind: str = "transition"  # runtime.state.LOG_KINDS
    drill_id: str = ""
    # The recovery plan that ran with the switch: {plan, steps: [{kind, status, attempts,
    # started_at, finished_at, duration_s, output, error}]} (runtime/recovery.py), or None.
    recovery: dict[str, Any] | None = None


@dataclass
class SwitchOutcome:
    """What a failover / rollback did, in words a person at 3 a.m. can act on."""

    action: str  # failover | rollback
    service: str
    outcome: str  # switched | noop | lost_race | refused | router_failed | dry_run
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


@dataclass(frozen=True)
class ApprovalOutcome:
    service: str
    decision: str  # approve | deny
    transition_id: str
    step: int  # 1-based
    reason: str
    actor: str
    message: str


@dataclass(frozen=True)
class PauseOutcome:
    action: str  # pause | resume
    service: str
    changed: bool  # False: resume of a service that was not paused
    until: str | None
    reason: str
    actor: str
    message: str
