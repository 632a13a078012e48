"""Schedules that fire: ENABLED `rate(...)` / `cron(...)` rules on the default bus, sped up.

Fills a moto gap: moto 5.2.1 stores schedule rules but never fires them. Rule: a background
thread reads moto's events backend every `tick` seconds, fires each ENABLED schedule rule of
the default bus (the only bus AWS allows them on) through the same target delivery as
PutEvents (so a static `Input` such as lambdafail's `{"lambdafail": "tick", ...}` applies),
and spaces firings by the schedule divided by `time_scale`, never closer than
`MIN_REAL_INTERVAL_S` of real time (the floor that keeps the machine calm). Expressions AWS
would reject (moto accepts `rate(1 minutes)`) never fire. Tested with moto 5.2.1.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lambdafail.model.schedule import Cron, interval_seconds
from lambdafail.sandbox import backends
from lambdafail.sandbox.activity import ActivityLog
from lambdafail.sandbox.delivery import Dispatcher, envelope
from lambdafail.sandbox.periodic import Periodic

MIN_REAL_INTERVAL_S = 1.0


@dataclass
class _Slot:
    expression: str
    due: float  # real monotonic time of the next firing
    at: datetime | None  # cron: schedule time of the pending firing (its own clock)
    cron: Cron | None
    fired: int = 0


class Scheduler(Periodic):
    """Fires schedule rules until `stop()`. `tick_once()` is the testable step."""

    def __init__(self, dispatcher: Dispatcher, log: ActivityLog, time_scale: float = 1.0,
                 tick: float = 0.1, clock: Callable[[], float] = time.monotonic,
                 dark: Callable[[str], bool] = lambda region: False):
        self.dispatcher = dispatcher
        self.dark = dark
        self.time_scale = time_scale
        super().__init__(log, tick)
        self.clock = clock
        self._slots: dict[tuple[str, str], _Slot] = {}
        self._bad: set[tuple[str, str]] = set()
        self.fired = 0

    what = "scheduler"

    def step(self) -> object:
        return self.tick_once()

    def real_delay(self, schedule_seconds: float) -> float:
        return max(schedule_seconds / self.time_scale, MIN_REAL_INTERVAL_S)

    def _new_slot(self, expr: str, now: float) -> _Slot:
        if expr.startswith("cron("):
            cron = Cron(expr)
            wall = datetime.now(UTC)
            nxt = cron.next_after(wall)
            gap = (nxt - wall).total_seconds() if nxt else float("inf")
            return _Slot(expr, now + self.real_delay(gap), nxt, cron)
        # AWS fires a new rate rule one period after it is created (at most), never at once.
        return _Slot(expr, now + self.real_delay(interval_seconds(expr)), None, None)

    def tick_once(self) -> int:
        """Fire every schedule that is due; return how many fired."""
        now = self.clock()
        seen: set[tuple[str, str]] = set()
        fired = 0
        for region, backend in backends.events_regions():
            bus = backend.event_buses.get("default")
            if bus is None:
                continue
            for rule in list(bus.rules.values()):
                expr = rule.scheduled_expression
                if not expr or not str(rule.state).startswith("ENABLED"):
                    continue  # a DISABLED rule never fires (and restarts its period if enabled)
                key = (region, str(rule.arn))
                seen.add(key)
                slot = self._slots.get(key)
                if slot is None or slot.expression != expr:
                    try:
                        self._slots[key] = self._new_slot(expr, now)
                    except ValueError as e:
                        if key not in self._bad:
                            self._bad.add(key)
                            self.log.write("IGNORED", f"rule {rule.name}: {e} (AWS rejects it)")
                    continue
                if now >= slot.due:
                    self._fire(region, rule, slot, now)
                    fired += 1
        for key in set(self._slots) - seen:
            del self._slots[key]  # deleted or disabled
        return fired

    def _fire(self, region: str, rule: Any, slot: _Slot, now: float) -> None:
        event = envelope(source="aws.events", detail_type="Scheduled Event", detail={},
                         region=region, resources=[str(rule.arn)])
        slot.fired += 1
        self.fired += 1
        self.log.write("SCHEDULE", f"rule {rule.name} ({slot.expression}) fired #{slot.fired}")
        if slot.cron is not None and slot.at is not None:
            nxt = slot.cron.next_after(slot.at)
            gap = (nxt - slot.at).total_seconds() if nxt else float("inf")
            slot.at = nxt
        else:
            gap = float(interval_seconds(slot.expression))
        # Next firing counted from this one (not from `due`): a slow machine skips, never bursts.
        slot.due = now + self.real_delay(gap)
        if self.dark(region):
            # A dark region's scheduler fires nothing; AWS does not make missed firings up.
            self.log.write("OUTAGE", f"rule {rule.name}: firing #{slot.fired} lost (region "
                           f"{region} is dark)")
            return
        self.dispatcher.deliver_to_rule(region, rule, event)
