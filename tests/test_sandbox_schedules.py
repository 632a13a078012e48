"""Schedules in the sandbox: ENABLED rate/cron rules fire, sped up by the time scale with a
one-second floor; DISABLED, deleted and AWS-invalid schedules never fire."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from conftest import wait_until
from lambdafail.sandbox.scheduler import MIN_REAL_INTERVAL_S, Cron, Scheduler
from lambdafail.sandbox.server import Sandbox
from sandbox_support import (
    REPORTING_HANDLER,
    Clients,
    allow_events,
    create_function,
    drain,
    drain_timed,
    function_arn,
    orchestrator_zip,
    queue,
    running_sandbox,
    uid,
    wait_for_reports,
)


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    yield from running_sandbox(tmp_path, time_scale=60.0)


def test_sandbox_rate_schedule_fires_with_time_scale(sandbox: Sandbox, aws: Clients) -> None:
    on_url, on_arn = queue(aws)
    off_url, off_arn = queue(aws)
    on, off = uid("tick"), uid("tick-off")
    ev = aws("events")
    ev.put_rule(Name=on, ScheduleExpression="rate(1 minute)")
    ev.put_rule(Name=off, ScheduleExpression="rate(1 minute)", State="DISABLED")
    tick = json.dumps({"lambdafail": "tick", "rule": on})
    ev.put_targets(Rule=on, Targets=[{"Id": "q", "Arn": on_arn, "Input": tick}])
    ev.put_targets(Rule=off, Targets=[{"Id": "q", "Arn": off_arn}])

    got: list[tuple[str, float]] = []

    def two_ticks() -> bool:
        got.extend(drain_timed(aws, on_url))
        return len(got) >= 2

    started = time.time()
    wait_until(two_ticks, timeout=15, interval=0.05, what="two schedule firings")
    # rate(1 minute) at time scale 60: about one firing a second, never faster than the floor
    # (spacing measured by SQS send times, not by when this loop happened to look).
    assert got[0][1] - started < 10
    assert got[1][1] - got[0][1] >= MIN_REAL_INTERVAL_S * 0.9
    assert [b for b, _ in got[:2]] == [tick, tick]  # the static Input is what arrives
    assert drain(aws, off_url) == []  # the DISABLED rule fired nothing meanwhile


def test_sandbox_schedule_invokes_lambda_with_static_input(sandbox: Sandbox,
                                                          aws: Clients) -> None:
    report_url, _ = queue(aws)
    fn = create_function(aws, orchestrator_zip(REPORTING_HANDLER), env={"REPORT_TO": report_url})
    rule = uid("tick")
    aws("events").put_rule(Name=rule, ScheduleExpression="rate(1 minute)")
    aws("events").put_targets(Rule=rule, Targets=[{
        "Id": "orch", "Arn": function_arn(fn),
        "Input": json.dumps({"lambdafail": "tick", "rule": rule})}])
    allow_events(aws, fn, aws("events").describe_rule(Name=rule)["Arn"])
    reports = wait_for_reports(aws, report_url)
    assert reports[0] == {"lambdafail": "tick", "rule": rule}


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_sandbox_scheduler_spacing_floor_and_disable(sandbox: Sandbox, aws: Clients) -> None:
    # Drive a second scheduler step by step with a fake clock (no waiting).
    url, arn = queue(aws)
    rule = uid("hourly")
    ev = aws("events")
    ev.put_rule(Name=rule, ScheduleExpression="rate(1 hour)")
    ev.put_targets(Rule=rule, Targets=[{"Id": "q", "Arn": arn}])
    bad = uid("bad")
    ev.put_rule(Name=bad, ScheduleExpression="rate(1 minutes)")  # moto accepts, AWS does not
    ev.put_targets(Rule=bad, Targets=[{"Id": "q", "Arn": arn}])

    clock = _Clock()
    sched = Scheduler(sandbox.dispatcher, sandbox.log, time_scale=60.0, clock=clock)
    sched.tick_once()  # first sight: schedules the first firing one period ahead
    clock.now += 59.0
    sched.tick_once()
    assert drain(aws, url) == []
    clock.now += 1.5  # 1 hour / 60 = 60 s of real time
    sched.tick_once()
    bodies = drain(aws, url)
    assert len(bodies) == 1
    event = json.loads(bodies[0])
    assert event["source"] == "aws.events" and event["detail-type"] == "Scheduled Event"
    assert event["resources"][0].endswith(f":rule/{rule}") and event["detail"] == {}

    ev.disable_rule(Name=rule)
    clock.now += 120.0
    sched.tick_once()
    assert drain(aws, url) == []

    fast = Scheduler(sandbox.dispatcher, sandbox.log, time_scale=3600.0, clock=clock)
    assert fast.real_delay(60.0) == MIN_REAL_INTERVAL_S  # the floor keeps the machine calm
    assert any("rate(1 minutes)" in line and "IGNORED" in line for line in sandbox.logs())


@pytest.mark.parametrize(("expr", "after", "expected"), [
    ("cron(0/5 * * * ? *)", "2024-03-10T10:07:30", "2024-03-10T10:10:00"),
    ("cron(0 12 * * ? *)", "2024-03-10T12:00:00", "2024-03-11T12:00:00"),
    ("cron(15 10 ? * MON-FRI *)", "2024-03-09T11:00:00", "2024-03-11T10:15:00"),  # Sat -> Mon
    ("cron(0 0 L * ? *)", "2024-02-10T00:00:00", "2024-02-29T00:00:00"),
    ("cron(0 8 ? * 2#1 *)", "2024-03-10T00:00:00", "2024-04-01T08:00:00"),  # first Monday
    ("cron(30 6 1 JAN,JUL ? 2025)", "2024-03-10T00:00:00", "2025-01-01T06:30:00"),
])
def test_sandbox_cron_next_firing(expr: str, after: str, expected: str) -> None:
    start = datetime.fromisoformat(after).replace(tzinfo=UTC)
    got = Cron(expr).next_after(start)
    assert got == datetime.fromisoformat(expected).replace(tzinfo=UTC)


def test_sandbox_cron_rejects_what_aws_rejects() -> None:
    with pytest.raises(ValueError):
        Cron("cron(0 * * * *)")  # 5 fields
