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

import calendar
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from lambdafail.sandbox import backends
from lambdafail.sandbox.activity import ActivityLog
from lambdafail.sandbox.delivery import Dispatcher, envelope
from lambdafail.schedule import interval_seconds, validate_schedule

MIN_REAL_INTERVAL_S = 1.0
_MONTHS = {m: i for i, m in enumerate(["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG",
                                        "SEP", "OCT", "NOV", "DEC"], start=1)}
_DAYS = {d: i for i, d in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"], start=1)}


def _values(text: str, lo: int, hi: int, names: dict[str, int] | None = None) -> set[int]:
    """Expand one cron field (`*`, `a`, `a-b`, lists, `/step`) into the set it allows."""
    out: set[int] = set()
    for item in text.upper().split(","):
        base, _, step_text = item.partition("/")
        step = int(step_text) if step_text else 1
        if base in ("*", "?"):
            start, end = lo, hi
        else:
            first, _, last = base.partition("-")
            start = int(names[first]) if names and first in names else int(first)
            if last:
                end = int(names[last]) if names and last in names else int(last)
            else:
                end = hi if step_text else start
        out.update(range(start, end + 1, step))
    return {v for v in out if lo <= v <= hi}


def _aws_dow(d: datetime) -> int:
    return (d.weekday() + 1) % 7 + 1  # AWS: 1 = SUN ... 7 = SAT


class Cron:
    """An EventBridge 6-field cron, evaluated in UTC (what AWS does)."""

    def __init__(self, expr: str):
        validate_schedule(expr)
        minutes, hours, dom, month, dow, year = expr[5:-1].split()
        self.minutes = sorted(_values(minutes, 0, 59))
        self.hours = sorted(_values(hours, 0, 23))
        self.months = _values(month, 1, 12, _MONTHS)
        self.years = _values(year, 1970, 2199)
        self.dom, self.dow = dom.upper(), dow.upper()

    def _day_ok(self, d: datetime) -> bool:
        last = calendar.monthrange(d.year, d.month)[1]
        if self.dom != "?":
            if self.dom == "L":
                return d.day == last
            if self.dom == "LW":
                target = last
                while datetime(d.year, d.month, target).weekday() > 4:
                    target -= 1
                return d.day == target
            if self.dom.endswith("W"):
                n = min(int(self.dom[:-1]), last)
                wd = datetime(d.year, d.month, n).weekday()
                shift = {5: -1 if n > 1 else 2, 6: 1 if n < last else -2}.get(wd, 0)
                return d.day == n + shift
            return d.day in _values(self.dom, 1, 31)
        m = re.fullmatch(r"(\w+)(L|#(\d))", self.dow)
        if m:
            want = _DAYS.get(m.group(1)) or int(m.group(1))
            if _aws_dow(d) != want:
                return False
            if m.group(2) == "L":
                return d.day + 7 > last
            return (d.day - 1) // 7 + 1 == int(m.group(3))
        return _aws_dow(d) in _values(self.dow, 1, 7, _DAYS)

    def next_after(self, after: datetime) -> datetime | None:
        """The first firing strictly after `after` (searching five years ahead at most)."""
        start = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
        day = start.replace(hour=0, minute=0)
        for _ in range(366 * 5):
            if day.year in self.years and day.month in self.months and self._day_ok(day):
                for h in self.hours:
                    for mi in self.minutes:
                        cand = day.replace(hour=h, minute=mi)
                        if cand >= start:
                            return cand
            day += timedelta(days=1)
        return None


@dataclass
class _Slot:
    expression: str
    due: float  # real monotonic time of the next firing
    at: datetime | None  # cron: schedule time of the pending firing (its own clock)
    cron: Cron | None
    fired: int = 0


class Scheduler:
    """Fires schedule rules until `stop()`. `tick_once()` is the testable step."""

    def __init__(self, dispatcher: Dispatcher, log: ActivityLog, time_scale: float = 1.0,
                 tick: float = 0.1, clock: Callable[[], float] = time.monotonic):
        self.dispatcher = dispatcher
        self.log = log
        self.time_scale = time_scale
        self.tick = tick
        self.clock = clock
        self._slots: dict[tuple[str, str], _Slot] = {}
        self._bad: set[tuple[str, str]] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.fired = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="sandbox-scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick_once()
            except Exception as e:  # keep firing the other schedules
                self.log.write("ERROR", f"scheduler: {type(e).__name__}: {e}")
            self._stop.wait(self.tick)

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
        self.dispatcher.deliver_to_rule(region, rule, event)
