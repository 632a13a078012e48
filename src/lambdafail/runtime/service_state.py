"""One service's state as the orchestrator and the CLI see it: the active side, each side's
health, the pending switch, cooldown and pause — and its round trip to a state-table item.

Rule: pure data (no AWS call); `to_item`/`from_item` are the one mapping between this class and
the service item described in docs/architecture.md ("The state table"). stdlib only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lambdafail.runtime.clock import parse_iso
from lambdafail.runtime.config import SIDES

# Health fields a probe changes every time: written along with a real change, never alone. When
# the service was last probed is the heartbeat's tick time for its rule (`tick_attribute`).
VOLATILE_HEALTH = ("at", "latency_ms")



@dataclass
class SideHealth:
    ok: bool | None = None  # None: never probed
    at: str | None = None
    latency_ms: float = 0.0
    detail: str = ""
    failures: int = 0
    successes: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "at": self.at, "latency_ms": round(self.latency_ms, 1),
                "detail": self.detail[:500], "failures": self.failures,
                "successes": self.successes}

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> SideHealth:
        d = d or {}
        return cls(ok=d.get("ok"), at=d.get("at"), latency_ms=float(d.get("latency_ms") or 0),
                   detail=str(d.get("detail") or ""), failures=int(d.get("failures") or 0),
                   successes=int(d.get("successes") or 0))


@dataclass
class ServiceState:
    service: str
    active: str = "primary"
    phase: str = "steady"
    version: int = 0  # 0: the item does not exist yet
    since: str | None = None
    previous_active: str | None = None
    last_transition: dict[str, Any] | None = None
    health: dict[str, SideHealth] = field(
        default_factory=lambda: {s: SideHealth() for s in SIDES})
    alarms: dict[str, str] = field(default_factory=dict)
    # When each alarm last went into ALARM (epoch): a failover it asked for that was blocked
    # (standby down, cooldown) still happens once the block lifts, not never.
    alarm_edges: dict[str, float] = field(default_factory=dict)
    faults: dict[str, float] = field(default_factory=dict)
    blocked: str | None = None
    pending: dict[str, Any] | None = None
    # `lambdafail pause`: {"until": epoch, "reason", "actor", "at"}; the orchestrator keeps
    # probing and recording but makes no automatic switch until then (only pause/resume write it).
    paused: dict[str, Any] | None = None
    # The last recovery plan that failed (its steps, the error): written when the failed plan
    # cancels its switch, removed by the next commit. Read-only here (status, history).
    recovery: dict[str, Any] | None = None
    # A drill in progress: {"id", "owner", "started_at", "restore_by" (epoch)}; written and
    # removed by the drill (runtime/drill_guard.py), past `restore_by` finished by the tick.
    drill: dict[str, Any] | None = None

    def paused_until(self, now: float) -> float | None:
        """When the pause ends, if one is in force at `now`."""
        if not self.paused:
            return None
        until = float(self.paused.get("until") or 0)
        return until if now < until else None

    def faulted(self, side: str, now: float) -> bool:
        deadline = self.faults.get(side)
        return deadline is not None and now < float(deadline)

    def last_transition_epoch(self) -> float | None:
        if not self.last_transition or not self.last_transition.get("at"):
            return None
        return parse_iso(str(self.last_transition["at"]))

    def to_dict(self) -> dict[str, Any]:
        return {"service": self.service, "active": self.active, "phase": self.phase,
                "version": self.version, "since": self.since,
                "previous_active": self.previous_active,
                "last_transition": self.last_transition,
                "health": {s: h.to_dict() for s, h in self.health.items()},
                "alarms": dict(self.alarms), "alarm_edges": dict(self.alarm_edges),
                "faults": dict(self.faults), "blocked": self.blocked, "pending": self.pending,
                "paused": self.paused, "recovery": self.recovery, "drill": self.drill}

    def material(self) -> dict[str, Any]:
        """`to_dict()` without what every probe moves (its time and latency): the item is
        written only when this changes, so a steady service costs no write per tick."""
        d = self.to_dict()
        for h in d["health"].values():
            for key in VOLATILE_HEALTH:
                h.pop(key, None)
        return d

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> ServiceState:
        health = item.get("health") or {}
        return cls(
            service=str(item["sk"]), active=str(item.get("active", "primary")),
            phase=str(item.get("phase", "steady")), version=int(item.get("version", 0)),
            since=item.get("since"), previous_active=item.get("previous_active"),
            last_transition=item.get("last_transition"),
            health={s: SideHealth.from_dict(health.get(s)) for s in SIDES},
            alarms=dict(item.get("alarms") or {}),
            alarm_edges={k: float(v) for k, v in (item.get("alarm_edges") or {}).items()},
            faults={k: float(v) for k, v in (item.get("faults") or {}).items()},
            blocked=item.get("blocked"), pending=item.get("pending"),
            paused=item.get("paused"), recovery=item.get("recovery"), drill=item.get("drill"),
        )
