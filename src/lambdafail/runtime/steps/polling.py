"""The check loop the AWS-resource steps share: act once, then check until done or timed out.

Rule: stdlib only. A step's `check()` reads AWS once and answers `(output, status)`: an output
dict when the resource is where the step wants it, None (and a one-line status) otherwise. The
step's timeout counts real seconds from its attempt's first start (across a resumed
invocation, like `wait`); the interval between checks is divided by the time scale; the lease
is renewed before every sleep; an invocation about to end raises `OutOfTime` (the next tick
acts again — every step using this is idempotent — and goes on checking).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lambdafail.runtime.steps.base import OutOfTime, StepEnv, StepFailed, first_started

#: One AWS call of a step (its client's read timeout is 15 s), within the lease.
CALL_SECONDS = 15.0

Check = Callable[[], tuple[dict[str, Any] | None, str]]


def error_code(e: Exception) -> str:
    """AWS's error code of a botocore ClientError, else the exception's type."""
    return str((getattr(e, "response", None) or {}).get("Error", {}).get("Code", "")) \
        or type(e).__name__


def call(where: str, operation: str, fn: Callable[[], Any]) -> Any:
    """One AWS call; its failure fails the attempt with the operation and AWS's code."""
    try:
        return fn()
    except Exception as e:
        raise StepFailed(f"{where}: {operation}: {error_code(e)}: {e}") from e


def holds(cfg: dict[str, Any]) -> float:
    """How long such a step goes without renewing its lease: one interval and one call."""
    return float(cfg["every_seconds"]) + CALL_SECONDS


def poll(cfg: dict[str, Any], env: StepEnv, progress: dict[str, Any], where: str,
         check: Check) -> dict[str, Any]:
    every = float(cfg["every_seconds"]) / max(env.time_scale, 1e-9)
    timeout = float(cfg["timeout_seconds"])
    until = first_started(progress, env.clock()) + timeout
    while True:
        output, status = check()
        if output is not None:
            return output
        now = env.clock()
        if now + every > until:
            raise StepFailed(f"{where}: {status} after {timeout:g} s")
        if now + every > env.deadline:
            raise OutOfTime(f"{where}: {status}; resumed by the next tick")
        env.keepalive(every + CALL_SECONDS)
        env.sleep(every)
