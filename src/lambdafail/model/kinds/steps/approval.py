"""Recovery step `approval`: pause the plan until on-call runs `lambdafail approve`, or a timeout.

Rule: everything about this kind outside the orchestrator is here (model, compile, plan line);
its runtime twin is `lambdafail/runtime/steps/approval.py`. It needs no permission of its own:
the decision is written into the pending switch's state item by `lambdafail approve`, which the
step reads back (the orchestrator already reads and writes that item).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from lambdafail.model.kinds.steps.base import StepKind, StepSpec

#: How long a plan may wait for a human: a day (the wait outlives invocations: each tick that
#: resumes the switch checks again, so this is not bounded by Lambda's 900 s).
MAX_APPROVAL_SECONDS = 86_400


class ApprovalStep(StepSpec):
    timeout_seconds: float = Field(default=900, gt=0, le=MAX_APPROVAL_SECONDS,
                                   description="From the step's start: then `on_timeout` "
                                   "decides.")
    on_timeout: Literal["fail", "proceed"] = Field(
        default="fail", description="Without a decision by the timeout: `fail` (the plan "
        "fails, the service is blocked, the router does not move) or `proceed`.")
    every_seconds: float = Field(default=5, gt=0, le=60, description="Time between checks "
                                 "for a decision (divided by LAMBDAFAIL_TIME_SCALE).")
    message: str = Field(default="", max_length=500, description="Shown by status and in "
                         "the notification, e.g. what to check before approving.")


class Approval(StepKind[ApprovalStep]):
    kind = "approval"
    key = "approval"
    model = ApprovalStep
    holds_invocation = False  # the orchestrator checks once a round (runtime twin)

    def compile(self, step: ApprovalStep) -> dict[str, Any]:
        return {"on_timeout": step.on_timeout, "every_seconds": step.every_seconds,
                "message": step.message}

    def line(self, step: dict[str, Any]) -> str:
        then = "fail" if step["on_timeout"] == "fail" else "go on"
        return (f"approval: wait for `lambdafail approve` (at most {step['timeout_seconds']:g} "
                f"s, then {then})")


KIND = Approval()
