"""Schedule gaps: the shortest and longest time between firings of what EventBridge accepts.

Expected values are worked out by hand from the calendar (the comment says how); the calendar
cases that need a search over years are checked against a naive day-by-day enumeration
written here with nothing but `datetime`. Then the places that use the gaps: staleness, the
tick rule's maximum event age, the rule's name, the probe-timeout budget.
"""

from __future__ import annotations

import calendar
import itertools
from collections.abc import Callable
from datetime import UTC, date, datetime

import pytest

from lambdafail.base.errors import TopologyError
from lambdafail.deploy import planner
from lambdafail.model import naming
from lambdafail.model.checks import semantic_problems
from lambdafail.model.loader import load_text
from lambdafail.model.schedule import (
    Cron,
    Gaps,
    ScheduleError,
    interval_seconds,
    max_gap_seconds,
    min_gap_seconds,
    schedule_gaps,
    unix_to_eventbridge,
    validate_schedule,
)
from lambdafail.model.topology import Topology, compile_topology
from lambdafail.oncall.common import stale_after_seconds

M, H, D = 60, 3600, 86400


def days(a: date, b: date) -> int:
    return (b - a).days * D


@pytest.mark.parametrize(("expr", "low", "high"), [
    ("rate(1 minute)", M, M),
    ("rate(5 minutes)", 5 * M, 5 * M),
    ("rate(1 hour)", H, H),
    ("rate(2 days)", 2 * D, 2 * D),
    ("cron(* * * * ? *)", M, M),
    ("cron(0/5 * * * ? *)", 5 * M, 5 * M),
    ("cron(*/15 * * * ? *)", 15 * M, 15 * M),
    ("cron(10/20 * * * ? *)", 20 * M, 20 * M),  # :10 :30 :50, then :50 -> :10
    ("cron(0-5 * * * ? *)", M, 55 * M),  # every minute 0-5, then :05 -> next :00
    ("cron(5,55 * * * ? *)", 10 * M, 50 * M),
    ("cron(0 * * * ? *)", H, H),
    ("cron(0 */6 * * ? *)", 6 * H, 6 * H),
    ("cron(0,30 8 * * ? *)", 30 * M, 23 * H + 30 * M),  # 08:30 -> 08:00 next day
    ("cron(0/15 9 * * ? *)", 15 * M, 23 * H + 15 * M),  # 09:45 -> 09:00
    ("cron(0 22-2 * * ? *)", H, 20 * H),  # a range that wraps midnight: 02:00 -> 22:00
    ("cron(0 12 * * ? *)", D, D),
    ("cron(0 9-17 ? * MON-FRI *)", H, 64 * H),  # Friday 17:00 -> Monday 09:00
    ("cron(0 9-17 ? * mon-fri *)", H, 64 * H),  # names in any case
    ("cron(0 9-17 ? * 2-6 *)", H, 64 * H),  # AWS numbering: 2 = MON ... 6 = FRI
    ("cron(15 10 ? * MON-FRI *)", D, 3 * D),
    ("cron(0 0 ? * FRI-MON *)", D, 4 * D),  # wraps the week: Monday -> Friday
    ("cron(0 0 ? * 1,4 *)", 3 * D, 4 * D),  # Sunday -> Wednesday -> Sunday
    ("cron(0 0 ? * SUN *)", 7 * D, 7 * D),
    ("cron(0 0 ? * L *)", 7 * D, 7 * D),  # L alone: the last day of the week, Saturday
    ("cron(0 0 1 * ? *)", 28 * D, 31 * D),  # the length of a month
    ("cron(0 0 L * ? *)", 28 * D, 31 * D),  # Jan 31 -> Feb 28; Feb 28 -> Mar 31
    ("cron(0 0 31 * ? *)", 31 * D, 61 * D),  # Jul 31 -> Aug 31; Mar 31 -> May 31
    ("cron(0 10 ? * 6#3 *)", 28 * D, 35 * D),  # the third Friday is the 15th..21st
    ("cron(0 8 ? * 2#1 *)", 28 * D, 35 * D),
    ("cron(15 10 ? * 6L *)", 28 * D, 35 * D),
    ("cron(0 12 1 1 ? *)", 365 * D, 366 * D),
    ("cron(0 0 1 JAN,JUL ? *)", 181 * D, 184 * D),  # Jan 1 -> Jul 1 (181/182), Jul 1 -> Jan 1
    ("cron(0 0 * 2 ? *)", D, days(date(2024, 2, 29), date(2025, 2, 1))),
    ("cron(0 0 29 2 ? *)", days(date(2024, 2, 29), date(2028, 2, 29)),
     days(date(2096, 2, 29), date(2104, 2, 29))),  # 2100 is not a leap year
    ("cron(30 6 1 JAN,JUL ? 2025)", days(date(2025, 1, 1), date(2025, 7, 1)),
     days(date(2025, 1, 1), date(2025, 7, 1))),  # two firings, one gap
    ("cron(0 9-17 ? * MON-FRI 2026-2027)", H, 64 * H),
])
def test_gaps_table(expr: str, low: int, high: int) -> None:
    gaps = schedule_gaps(expr)
    assert (gaps.min_seconds, gaps.max_seconds) == (low, high)


def _aws_weekday(d: date) -> int:
    return d.isoweekday() % 7 + 1  # 1 = SUN ... 7 = SAT


def _nearest_weekday(year: int, month: int, n: int) -> int:
    last = calendar.monthrange(year, month)[1]
    n = min(n, last)
    wd = date(year, month, n).weekday()  # Mon = 0
    if wd == 5:
        return n - 1 if n > 1 else n + 2
    if wd == 6:
        return n + 1 if n < last else n - 2
    return n


def _nth(d: date) -> int:
    return (d.day - 1) // 7 + 1


def _last_of_month(d: date) -> bool:
    return d.day == calendar.monthrange(d.year, d.month)[1]


# Day predicates written from AWS's description, one firing a day at 00:00.
ORACLE: list[tuple[str, Callable[[date], bool]]] = [
    ("cron(0 0 15W * ? *)", lambda d: d.day == _nearest_weekday(d.year, d.month, 15)),
    ("cron(0 0 1W * ? *)", lambda d: d.day == _nearest_weekday(d.year, d.month, 1)),
    ("cron(0 0 31W * ? *)", lambda d: d.day == _nearest_weekday(d.year, d.month, 31)),
    ("cron(0 0 LW * ? *)",
     lambda d: d.day == _nearest_weekday(d.year, d.month, calendar.monthrange(d.year,
                                                                              d.month)[1])),
    ("cron(0 0 ? * 2#5 *)", lambda d: _aws_weekday(d) == 2 and _nth(d) == 5),
    ("cron(0 0 ? FEB 1#5 *)", lambda d: d.month == 2 and _aws_weekday(d) == 1 and _nth(d) == 5),
    ("cron(0 0 ? * 6L *)", lambda d: _aws_weekday(d) == 6 and d.day + 7 > calendar.monthrange(
        d.year, d.month)[1]),
    ("cron(0 0 L FEB ? *)", lambda d: d.month == 2 and _last_of_month(d)),
    ("cron(0 0 1/10 * ? *)", lambda d: d.day in (1, 11, 21, 31)),
    ("cron(0 0 13 * ? *)", lambda d: d.day == 13),
]


@pytest.mark.parametrize(("expr", "fires"), ORACLE, ids=[e for e, _ in ORACLE])
def test_gaps_match_a_naive_day_by_day_enumeration(expr: str,
                                                   fires: Callable[[date], bool]) -> None:
    first, last = date(1970, 1, 1).toordinal(), date(2199, 12, 31).toordinal()
    hits = [o for o in range(first, last + 1) if fires(date.fromordinal(o))]
    steps = [(b - a) * D for a, b in itertools.pairwise(hits)]
    gaps = schedule_gaps(expr)
    assert (gaps.min_seconds, gaps.max_seconds) == (min(steps), max(steps))


@pytest.mark.parametrize("expr", ["cron(0 0 1 1 ? 2030)", "cron(0 0 31 2 ? *)",
                                  "cron(0 0 30 FEB ? *)", "cron(0 0 ? FEB 1#5 2025)"])
def test_a_schedule_that_fires_less_than_twice_is_refused(expr: str) -> None:
    validate_schedule(expr)  # AWS's grammar accepts it ...
    with pytest.raises(ScheduleError, match="fires fewer than twice") as e:
        schedule_gaps(expr)  # ... but it has no gap to speak of
    assert "rate(1 minute)" in e.value.hint


@pytest.mark.parametrize(("expr", "message"), [
    ("cron(0/0 * * * ? *)", "step after / must be at least 1"),
    ("cron(0 0 ? * 8L *)", "invalid day-of-week field"),
    ("cron(0 0 ? * 0#2 *)", "invalid day-of-week field"),
    ("cron(0 0 32W * ? *)", "day-of-month value 32 is outside 1-31"),
])
def test_schedule_boundaries_are_refused_with_a_reason(expr: str, message: str) -> None:
    with pytest.raises(ScheduleError, match=message):
        schedule_gaps(expr)


@pytest.mark.parametrize(("expr", "after", "expected"), [
    ("cron(0 0 15W * ? *)", "2024-06-01T00:00", "2024-06-14T00:00"),  # Sat 15 -> Fri 14
    ("cron(0 0 15W * ? *)", "2024-09-01T00:00", "2024-09-16T00:00"),  # Sun 15 -> Mon 16
    ("cron(0 0 1W * ? *)", "2024-06-01T00:00", "2024-06-03T00:00"),  # Sat 1 -> Mon 3
    ("cron(0 0 LW * ? *)", "2024-06-01T00:00", "2024-06-28T00:00"),  # Sun 30 -> Fri 28
    ("cron(0 0 ? * L *)", "2024-06-03T00:00", "2024-06-08T00:00"),  # Saturday
    ("cron(0 22-2 * * ? *)", "2024-06-03T02:30", "2024-06-03T22:00"),
    ("cron(0 9 ? * MON *)", "2024-06-02T00:00", "2024-06-03T09:00"),  # Sun 2 -> Mon 3
    ("cron(0 9 ? * SUN *)", "2024-06-03T00:00", "2024-06-09T09:00"),  # day 1 is Sunday
    ("cron(0 0 2W * ? *)", "2024-10-31T00:00", "2024-11-01T00:00"),  # Sat 2 -> Fri 1
    ("cron(0 0 ? * 6L *)", "2024-06-01T00:00", "2024-06-28T00:00"),  # the last Friday
])
def test_next_firing_of_the_calendar_forms(expr: str, after: str, expected: str) -> None:
    start = datetime.fromisoformat(after).replace(tzinfo=UTC)
    assert Cron(expr).next_after(start) == datetime.fromisoformat(expected).replace(tzinfo=UTC)


# -- the places that use the gaps


def _topology(interval: str, timeout: float = 3) -> Topology:
    topo: Topology = load_text(f"""\
version: 1
name: shop
region: us-east-1
defaults:
  health: {{interval: "{interval}", timeout_seconds: {timeout}}}
services:
  web:
    primary: {{url: "https://a.example.com/"}}
    standby: {{url: "https://b.example.com/"}}
    router: {{ssm_parameter: /shop/web/active}}
""", "shop.yaml")
    return topo


def test_staleness_waits_for_the_longest_gap(monkeypatch: pytest.MonkeyPatch) -> None:
    from lambdafail.base import settings

    monkeypatch.delenv("LAMBDAFAIL_TIME_SCALE", raising=False)
    settings.reset()
    compiled = compile_topology(_topology("cron(0,30 8 * * ? *)"))
    # 08:30 -> 08:00 is 23.5 h without a tick: stale only after twice that
    assert stale_after_seconds(compiled) == 2 * (23 * H + 30 * M)


def test_tick_rule_event_age_follows_the_longest_gap() -> None:
    from lambdafail.deploy import iam

    compiled = compile_topology(_topology("cron(0 9-17 ? * MON-FRI *)"))
    want = planner.desired(compiled, where=iam.Where("aws", "us-east-1", "123456789012"),
                           code_sha256="x", config_sha256="y")
    tick = next(r for r in want if r.kind == "rule" and "schedule_expression" in r.spec)
    # the weekend gap (64 h) is over AWS's 24 h cap
    assert tick.spec["target"]["RetryPolicy"]["MaximumEventAgeInSeconds"] == 86400
    compiled = compile_topology(_topology("cron(0,30 8 * * ? *)"))
    want = planner.desired(compiled, where=iam.Where("aws", "us-east-1", "123456789012"),
                           code_sha256="x", config_sha256="y")
    tick = next(r for r in want if r.kind == "rule" and "schedule_expression" in r.spec)
    assert tick.spec["target"]["RetryPolicy"]["MaximumEventAgeInSeconds"] == 23 * H + 30 * M


def test_tick_rule_names_tell_uneven_schedules_apart() -> None:
    assert naming.schedule_rule_name("shop", "rate(1 minute)") == "lambdafail-shop-tick-60s"
    assert naming.schedule_rule_name("shop", "cron(0/2 * * * ? *)") == "lambdafail-shop-tick-120s"
    a = naming.schedule_rule_name("shop", "cron(0-5 * * * ? *)")
    b = naming.schedule_rule_name("shop", "cron(10-15 * * * ? *)")
    assert a.startswith("lambdafail-shop-tick-60s-") and b.startswith("lambdafail-shop-tick-60s-")
    assert a != b and a != naming.schedule_rule_name("shop", "rate(1 minute)")
    # the same schedule with day names in another case is the same rule
    assert naming.schedule_rule_name("shop", "cron(0 9-17 ? * mon-fri *)") == \
        naming.schedule_rule_name("shop", "cron(0 9-17 ? * MON-FRI *)")
    compiled = compile_topology(_topology("cron(0-5 * * * ? *)"))
    assert compiled["schedules"] == {a: {"expression": "cron(0-5 * * * ? *)",
                                         "interval_seconds": 60, "max_gap_seconds": 3300,
                                         "services": ["web"]}}


def test_probe_timeout_must_fit_in_the_shortest_gap() -> None:
    # every minute from :00 to :05: the next tick can come 60 s later, whatever the hour
    with pytest.raises(TopologyError) as e:
        _topology("cron(0-5 * * * ? *)", timeout=58)
    [problem] = e.value.problems
    assert "does not fit in the probe interval" in problem.message
    assert "55 s each" in problem.message
    assert not semantic_problems(_topology("cron(0-5 * * * ? *)", timeout=54))


# -- the grammar's hints and conversions


def test_rate_hints_use_the_right_number_form() -> None:
    for expr, hint in (("rate(1 week)", "e.g. rate(1 minute)"),
                       ("rate(2 weeks)", "e.g. rate(2 minutes)")):
        with pytest.raises(ScheduleError) as e:
            validate_schedule(expr)
        assert e.value.hint == hint


@pytest.mark.parametrize(("fields", "expected"), [
    (["0", "0", "*", "*", "0,6,7"], "cron(0 0 ? * 1,7,1 *)"),  # unix 0 and 7 are Sunday
    (["*/5", "9-17", "*", "*", "1-5"], "cron(*/5 9-17 ? * 2-6 *)"),
    (["0", "0", "?", "*", "*"], "cron(0 0 * * ? *)"),
    (["0", "0", "1", "*", "1"],
     "cron(0 0 1 * ? *) and a second schedule for cron(0 0 ? * 2 *)"),
])
def test_unix_cron_conversion(fields: list[str], expected: str) -> None:
    assert unix_to_eventbridge(fields) == expected


@pytest.mark.parametrize(("expr", "message", "hint"), [
    ("cron(0 12 ? * ? *)", "exactly one of", "e.g. cron(0 12 * * ? *)"),
    ("cron(0 12 * * * *)", "exactly one of", "e.g. cron(0 12 * * ? *)"),
    ("cron(L * * * ? *)", "invalid minutes field", ""),
    ("cron(0 0 1,,2 * ? *)", "invalid day-of-month field", ""),
    ("", "a schedule expression is required", "e.g. rate(1 minute)"),
])
def test_refusals_and_their_hints(expr: str, message: str, hint: str) -> None:
    with pytest.raises(ScheduleError, match=message) as e:
        validate_schedule(expr)
    assert hint in e.value.hint


def test_every_day_of_the_week_and_the_horizon() -> None:
    assert schedule_gaps("cron(0 0 ? * * *)") == Gaps(D, D)  # Sundays included
    cron = Cron("cron(0 0 1 1 ? *)")
    assert (cron.years[0], cron.years[-1]) == (1970, 2199)
    start = datetime(2024, 6, 3, 10, 0, 30, tzinfo=UTC)
    assert Cron("cron(* * * * ? *)").next_after(start) == datetime(2024, 6, 3, 10, 1, tzinfo=UTC)


def test_interval_seconds_is_for_rates_only() -> None:
    assert interval_seconds("rate(5 minutes)") == 300
    with pytest.raises(ScheduleError, match="no fixed period"):
        interval_seconds("cron(0/5 * * * ? *)")


def test_a_weekly_cron_is_a_week_apart_in_every_month_also_those_that_start_on_a_sunday() -> None:
    # September 2024 starts on a Sunday: its first Sunday must not be skipped.
    week = 7 * 86400
    assert schedule_gaps("cron(0 0 ? * SUN *)") == Gaps(week, week)
    assert min_gap_seconds("cron(0 0 ? * SUN *)") == max_gap_seconds("cron(0 0 ? * SUN *)") \
        == week
    assert (min_gap_seconds("cron(0 9-17 ? * MON-FRI *)"),
            max_gap_seconds("cron(0 9-17 ? * MON-FRI *)")) == (3600, 64 * 3600)
