"""What every runtime recovery step shares: its environment, its errors, its protocol.

Rules: a step's `run(cfg, env, progress)` either returns its output (a small JSON-ready dict),
raises `StepFailed` (this attempt failed; the plan retries it or gives up) or `OutOfTime` (the
invocation ends before the step could finish: the next tick resumes it). `progress` is the
step's record in the state item (its `started_at` survives a crash, so a timeout counts from
the first start). stdlib + boto3 only. One module per kind next to this one, registered in
`__init__.py`; its model, compile and IAM twin is `lambdafail/model/kinds/steps/<kind>.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from lambdafail.runtime.clock import parse_iso
from lambdafail.runtime.probes import ProbeResult


class StepFailed(Exception):
    """This attempt of the step failed (an error answer, a function error, a wait timeout)."""


class OutOfTime(Exception):
    """The invocation must end before the step finishes; it is resumed by the next tick."""


@dataclass
class StepEnv:
    """What a step may use. `probe()` probes the side being switched to (the standby of a
    failover); `deadline` is the epoch by which the invocation must stop waiting."""

    service: str
    transition_id: str
    plan: str
    clients: Any  # runtime.config.Clients (or anything with get / get_single_shot)
    probe: Callable[[], ProbeResult]
    clock: Callable[[], float]
    sleep: Callable[[float], None]
    deadline: float
    time_scale: float = 1.0
    #: A step that waits calls this between its checks: it renews the switch's lease (and
    #: raises StateConflict if another actor has taken the switch over).
    keepalive: Callable[[float], None] = lambda _seconds: None
    #: The pending switch as stored now (a consistent read; set by `recovery.run_plan`):
    #: what `lambdafail approve` wrote into it. StateConflict if it is no longer this switch.
    read_pending: Callable[[], dict[str, Any]] = lambda: {}
    #: Whether a step waiting for a person polls (the CLI: it holds nothing else) or checks
    #: once and lets the invocation go on (the orchestrator: the round's other services must
    #: not wait behind a human; the next round checks again).
    poll_people: bool = True
    #: Tell on-call something (subject, message): SNS, like the switch's other notices.
    notify: Callable[[str, dict[str, Any]], None] = lambda _subject, _message: None


class Step(Protocol):
    kind: str
    #: Whether the step judges the standby itself (a cold standby: no health gate before it).
    judges_standby: bool

    def holds(self, cfg: dict[str, Any]) -> float:
        """How long the step may go without renewing the lease (a blocking call's timeout;
        a waiting step's interval between checks, as it renews the lease at each)."""
        ...

    def run(self, cfg: dict[str, Any], env: StepEnv, progress: dict[str, Any],
            index: int) -> dict[str, Any]: ...


def first_started(progress: dict[str, Any], now: float) -> float:
    """When the step's current attempt started (its timeout counts from there, across a
    resumed invocation), `now` if never."""
    at = progress.get("attempt_started_at") or progress.get("started_at")
    return parse_iso(str(at)) if at else now
