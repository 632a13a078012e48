"""EventBridge schedule expressions: AWS's exact grammar, checked offline.

Rule: accept exactly what EventBridge accepts for `ScheduleExpression` — `rate(1 minute)`
(singular for 1, plural otherwise) and 6-field `cron(Min Hr DoM Mon DoW Year)` where exactly
one of DoM / DoW is `?` — and explain every rejection with the form that would work.
"""

from __future__ import annotations

import calendar
import functools
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta


class ScheduleError(ValueError):
    """A schedule expression EventBridge would reject; ``hint`` shows a form that works."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint


_RATE = re.compile(r"^rate\((\d+) ([a-z]+)\)$")
_UNITS = {"minute": 60, "hour": 3600, "day": 86400}


def _rate(expr: str) -> int:
    m = _RATE.match(expr)
    if not m:
        raise ScheduleError(f"malformed rate expression {expr!r}",
                            "write rate(1 minute) or rate(5 minutes) (value, one space, unit)")
    n, unit = int(m.group(1)), m.group(2)
    if n < 1:
        raise ScheduleError(f"{expr!r}: the rate value must be a positive integer",
                            "the shortest schedule is rate(1 minute)")
    singular = unit.rstrip("s") if unit.endswith("s") else unit
    if singular not in _UNITS:
        raise ScheduleError(f"{expr!r}: the unit must be minute(s), hour(s) or day(s)",
                            f"e.g. rate({n} {'minute' if n == 1 else 'minutes'})")
    want = singular if n == 1 else singular + "s"
    if unit != want:
        raise ScheduleError(f"{expr!r}: EventBridge wants the singular unit for 1 and the "
                            "plural otherwise", f"write rate({n} {want})")
    return n * _UNITS[singular]


_MONTHS = "JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC"
_DAYS = "SUN|MON|TUE|WED|THU|FRI|SAT"


def _num_field(lo: int, hi: int, names: str = "") -> re.Pattern[str]:
    val = rf"(\d{{1,4}}{'|' + names if names else ''})"
    rng = rf"{val}(-{val})?"
    item = rf"(\*|{rng})(/\d{{1,4}})?"
    return re.compile(rf"^{item}(,{item})*$", re.IGNORECASE)


_FIELDS: list[tuple[str, int, int, str]] = [
    ("minutes", 0, 59, ""),
    ("hours", 0, 23, ""),
    ("day-of-month", 1, 31, ""),
    ("month", 1, 12, _MONTHS),
    ("day-of-week", 1, 7, _DAYS),
    ("year", 1970, 2199, ""),
]


def _check_numbers(name: str, text: str, lo: int, hi: int) -> None:
    for num in re.findall(r"(?<![/\d])\d+", text):
        if not lo <= int(num) <= hi:
            raise ScheduleError(f"cron {name} value {num} is outside {lo}-{hi}")


def unix_to_eventbridge(fields: list[str]) -> str:
    """The 6-field EventBridge form of a 5-field unix cron (minute hour dom month dow).

    EventBridge adds a year field, wants ``?`` in one of the two day fields, and numbers the
    days of the week 1-7 from Sunday where unix uses 0-6 (or 7) from Sunday."""
    minute, hour, dom, month, dow = fields
    if dow in ("*", "?"):
        return f"cron({minute} {hour} {'*' if dom == '?' else dom} {month} ? *)"
    aws_dow = re.sub(r"(?<![/\d])\d+", lambda m: str(int(m.group()) % 7 + 1), dow)
    if dom in ("*", "?"):
        return f"cron({minute} {hour} ? {month} {aws_dow} *)"
    # unix fires when either day field matches; EventBridge cannot say that in one rule.
    return (f"cron({minute} {hour} {dom} {month} ? *) and a second schedule for "
            f"cron({minute} {hour} ? {month} {aws_dow} *)")


def _cron_fields(expr: str) -> list[str]:
    """The six fields of a cron expression EventBridge would accept (else ScheduleError)."""
    if not (expr.startswith("cron(") and expr.endswith(")")):
        raise ScheduleError(f"malformed cron expression {expr!r}",
                            "write cron(minutes hours day-of-month month day-of-week year), "
                            "e.g. cron(0/5 * * * ? *)")
    fields = expr[5:-1].split()
    if len(fields) == 5:
        raise ScheduleError(
            f"{expr!r} is a 5-field unix cron; EventBridge cron has 6 fields (minutes hours "
            "day-of-month month day-of-week year) with ? in one of the day fields",
            f"write {unix_to_eventbridge(fields)}")
    if len(fields) != 6:
        raise ScheduleError(f"{expr!r} has {len(fields)} fields; EventBridge cron has 6",
                            "cron(minutes hours day-of-month month day-of-week year), e.g. "
                            "cron(0/5 * * * ? *)")
    dom, dow = fields[2], fields[4]
    if (dom == "?") == (dow == "?"):
        fixed = [*fields]
        fixed[4 if dom != "?" else 2] = "?" if dom != "?" else "*"
        raise ScheduleError(f"{expr!r}: exactly one of day-of-month and day-of-week must be ?",
                            f"e.g. cron({' '.join(fixed)})")
    for (name, lo, hi, names), text in zip(_FIELDS, fields, strict=True):
        if text == "?" and name in ("day-of-month", "day-of-week"):
            continue
        if name == "day-of-month" and re.fullmatch(r"(L|\d{1,2}W|LW)", text):
            _check_numbers(name, text, lo, hi)
            continue
        # `L` alone is the last day of the week (Saturday); `6L` the month's last Friday;
        # `3#2` its second Tuesday (one such item only: AWS refuses "3#1,6#3").
        if name == "day-of-week" and re.fullmatch(rf"(L|([1-7]|{_DAYS})(L|#[1-5]))", text,
                                                  re.I):
            continue
        if not _num_field(lo, hi, names).match(text):
            raise ScheduleError(f"{expr!r}: invalid {name} field {text!r}",
                                "cron(minutes hours day-of-month month day-of-week year), "
                                "e.g. cron(0/5 * * * ? *)")
        _check_numbers(name, text, lo, hi)
        if re.search(r"/0+(?!\d)", text):
            raise ScheduleError(f"{expr!r}: the {name} step after / must be at least 1",
                                f"e.g. {lo}/5 (every fifth value from {lo})")
    return fields


_MONTH_NUMBERS = {m: i for i, m in enumerate(_MONTHS.split("|"), start=1)}
_DAY_NUMBERS = {d: i for i, d in enumerate(_DAYS.split("|"), start=1)}


def _number(text: str, names: dict[str, int] | None) -> int:
    return names[text] if names and text in names else int(text)


def _expand(text: str, lo: int, hi: int, names: dict[str, int] | None = None) -> frozenset[int]:
    """The values one cron field allows: `*`, `?`, `a`, `a-b`, lists and `/step`.

    `a/n` runs from a to the field's end; a range whose end is below its start wraps around
    the field (`22-2` in hours, `FRI-MON`), as in the Quartz cron AWS's grammar follows."""
    out: set[int] = set()
    for item in text.upper().split(","):
        base, _, step_text = item.partition("/")
        step = int(step_text) if step_text else 1
        if base in ("*", "?"):
            start, end = lo, hi
        else:
            first, _, last = base.partition("-")
            start = _number(first, names)
            end = _number(last, names) if last else (hi if step_text else start)
        span = hi - lo + 1
        length = end - start if end >= start else end - start + span
        out.update(lo + (start - lo + k) % span for k in range(0, length + 1, step))
    return frozenset(out)


@dataclass(frozen=True)
class Gaps:
    """The shortest and longest time between two consecutive firings of a schedule."""

    min_seconds: int
    max_seconds: int


# The horizon of every cron computation: all the years EventBridge accepts. It holds each
# calendar case a pattern can meet (leap days, 2100 that is not a leap year, every weekday of
# every date), and costs one step per month: 2,760 of them at most.
FIRST_YEAR, LAST_YEAR = 1970, 2199


class Cron:
    """An EventBridge 6-field cron, evaluated in UTC (what AWS does)."""

    def __init__(self, expr: str) -> None:
        minutes, hours, dom, month, dow, year = _cron_fields(expr)
        self.expression = expr
        self.minutes = sorted(_expand(minutes, 0, 59))
        self.hours = sorted(_expand(hours, 0, 23))
        self.months = sorted(_expand(month, 1, 12, _MONTH_NUMBERS))
        self.years = sorted(_expand(year, FIRST_YEAR, LAST_YEAR))
        self.dom, self.dow = dom.upper(), dow.upper()
        plain = re.fullmatch(r"[\d*?,/-]+", self.dom) is not None
        self._dom_set = _expand(self.dom, 1, 31) if plain else frozenset()
        plain = re.fullmatch(r"[\w*?,/-]+", self.dow) is not None and self.dow != "L" \
            and not self.dow.endswith("L")
        self._dow_set = _expand(self.dow, 1, 7, _DAY_NUMBERS) if plain else frozenset()
        self._days: dict[tuple[int, int], tuple[int, ...]] = {}
        self._steps: dict[tuple[int, int], tuple[int, ...]] = {}
        # minutes after midnight of each firing on a day that fires
        self.times = sorted(h * 60 + m for h in self.hours for m in self.minutes)

    def month_days(self, first_weekday: int, length: int) -> tuple[int, ...]:
        """The days that fire in a month whose 1st is `first_weekday` (AWS: 1 = SUN) and
        which has `length` days; only these two facts matter, so there are 28 cases."""
        key = (first_weekday, length)
        if key not in self._days:
            self._days[key] = tuple(d for d in range(1, length + 1)
                                    if self._day_ok(d, (first_weekday + d - 2) % 7 + 1, length))
        return self._days[key]

    def _day_steps(self, first_weekday: int, length: int) -> tuple[int, ...]:
        """The fewest and most days between consecutive firing days inside such a month."""
        key = (first_weekday, length)
        if key not in self._steps:
            steps = [b - a for a, b in itertools.pairwise(self.month_days(first_weekday, length))]
            self._steps[key] = (min(steps), max(steps)) if steps else ()
        return self._steps[key]

    def _day_ok(self, day: int, weekday: int, last: int) -> bool:
        if self.dom != "?":
            if self.dom == "L":
                return day == last
            if self.dom.endswith("W"):
                # The weekday nearest the given day (or the last day for LW), never crossing
                # into another month: a Saturday 1st moves to Monday 3rd, a Sunday last day
                # back to Friday.
                n = last if self.dom == "LW" else min(int(self.dom[:-1]), last)
                wd = (weekday - day + n - 1) % 7 + 1
                shift = {7: -1 if n > 1 else 2, 1: 1 if n < last else -2}.get(wd, 0)
                return day == n + shift
            return day in self._dom_set
        if self.dow == "L":
            return weekday == 7
        m = re.fullmatch(r"(\w+?)(L|#(\d))", self.dow)
        if m:
            if weekday != _number(m.group(1), _DAY_NUMBERS):
                return False
            if m.group(2) == "L":
                return day + 7 > last
            return (day - 1) // 7 + 1 == int(m.group(3))
        return weekday in self._dow_set

    def _months(self, from_year: int = FIRST_YEAR) -> Iterator[tuple[int, int, int, int]]:
        """(year, month, weekday of the 1st, length) of every month the expression allows."""
        for y in self.years:
            if y < from_year:
                continue
            for mo in self.months:
                wd, length = calendar.monthrange(y, mo)
                yield y, mo, (wd + 1) % 7 + 1, length

    def gaps(self) -> Gaps | None:
        """Shortest and longest gap between firings from 1970 to 2199; None if it fires
        fewer than twice in that horizon."""
        times = self.times
        within = [b - a for a, b in itertools.pairwise(times)]
        low = high = 0  # fewest and most days between two consecutive firing days
        previous: int | None = None
        for y, mo, first, length in self._months():
            days = self.month_days(first, length)
            if not days:
                continue
            base = date(y, mo, 1).toordinal() - 1
            steps = [base + days[0] - previous] if previous is not None else []
            steps += self._day_steps(first, length)
            if steps:
                low = min(low or steps[0], *steps)
                high = max(high, *steps)
            previous = base + days[-1]
        if high:
            # from the day's last firing to the first one of the next firing day
            within += [low * 1440 - times[-1] + times[0], high * 1440 - times[-1] + times[0]]
        if not within:
            return None
        return Gaps(min(within) * 60, max(within) * 60)

    def next_after(self, after: datetime) -> datetime | None:
        """The first firing strictly after `after` (an aware UTC datetime), None if none."""
        start = after.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
        for y, mo, first, length in self._months(start.year):
            if (y, mo) < (start.year, start.month):
                continue
            for d in self.month_days(first, length):
                for t in self.times:
                    cand = datetime(y, mo, d, t // 60, t % 60, tzinfo=UTC)
                    if cand >= start:
                        return cand
        return None


def validate_schedule(expr: str) -> None:
    """Raise ScheduleError (a ValueError) unless EventBridge would accept `expr`."""
    if not isinstance(expr, str) or not expr:
        raise ScheduleError("a schedule expression is required", "e.g. rate(1 minute)")
    if expr.startswith("rate("):
        _rate(expr)
    elif expr.startswith("cron("):
        _cron_fields(expr)
    else:
        raise ScheduleError(f"{expr!r} is not a schedule expression",
                            "use rate(1 minute), rate(5 minutes) or cron(0/5 * * * ? *)")


@functools.lru_cache(maxsize=256)
def schedule_gaps(expr: str) -> Gaps:
    """The shortest and longest gap between two firings of `expr`.

    A rate fires at a fixed period. A cron is enumerated over every year EventBridge accepts
    (1970-2199), month by month. Raises ScheduleError if AWS would reject `expr`, or if it fires
    fewer than twice in that horizon (no gap at all: useless as a probe tick)."""
    validate_schedule(expr)
    if expr.startswith("rate("):
        secs = _rate(expr)
        return Gaps(secs, secs)
    gaps = Cron(expr).gaps()
    if gaps is None:
        raise ScheduleError(f"{expr!r} fires fewer than twice between {FIRST_YEAR} and "
                            f"{LAST_YEAR}: it cannot serve as a repeating schedule",
                            "e.g. rate(1 minute) or cron(0/5 * * * ? *)")
    return gaps


def min_gap_seconds(expr: str) -> int:
    """The shortest time between two firings: the fastest the schedule can detect anything."""
    return schedule_gaps(expr).min_seconds


def max_gap_seconds(expr: str) -> int:
    """The longest time between two firings: how long a healthy schedule may stay silent."""
    return schedule_gaps(expr).max_seconds


def interval_seconds(expr: str) -> int:
    """Seconds between firings of a rate expression (its fixed period)."""
    if not expr.startswith("rate("):
        raise ScheduleError(f"{expr!r} has no fixed period",
                            "use min_gap_seconds / max_gap_seconds for a cron expression")
    return _rate(expr)
