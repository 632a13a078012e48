"""The dead-man's switch follows the sandbox's time scale: stale after 2 scaled ticks, not 2 min."""

from __future__ import annotations

from pathlib import Path

import pytest

from lambdafail.aws import time_scale
from lambdafail.base import settings
from lambdafail.oncall.common import stale_after_seconds
from lambdafail.sandbox.statefile import write_state

COMPILED = {"schedules": {"r": {"interval_seconds": 60, "services": ["web"]}}}


def test_aws_limit_is_twice_the_smallest_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LAMBDAFAIL_TIME_SCALE", raising=False)
    settings.reset()
    assert stale_after_seconds(COMPILED) == 120


def test_sandbox_flag_reads_the_scale_from_the_state_file(tmp_path: Path) -> None:
    state = write_state({"endpoint_url": "http://127.0.0.1:1", "time_scale": 60.0},
                        str(tmp_path / "sandbox.json"))
    s = settings.reset()
    s.sandbox = True
    s.sandbox_state_file = str(state)
    try:
        assert time_scale() == 60.0
        # one tick a second: 2 ticks + 2 s of heartbeat rounding slack
        assert stale_after_seconds(COMPILED) == 4
    finally:
        settings.reset()


def test_environment_scale_applies_without_the_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAMBDAFAIL_TIME_SCALE", "30")
    settings.reset()
    assert time_scale() == 30.0
    assert stale_after_seconds(COMPILED) == 6
