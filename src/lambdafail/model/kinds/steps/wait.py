"""Recovery step `wait`: until the standby's probe is healthy N times in a row, or a timeout.

Rule: everything about this kind outside the orchestrator is here (model, compile, plan line);
its runtime twin is `lambdafail/runtime/steps/wait.py`. It needs no permission of its own: it
probes the standby as the ticks do.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from lambdafail.model.kinds.steps.base import StepKind, StepSpec


class WaitStep(StepSpec):
    healthy: int = Field(default=2, ge=1, le=100, description="Consecutive healthy probes of "
                         "the standby needed.")
    timeout_seconds: float = Field(default=120, gt=0, le=900, description="From the step's "
                                   "first start: then the plan fails and the service is "
                                   "blocked.")
    every_seconds: float = Field(default=5, gt=0, le=60, description="Time between probes "
                                 "(divided by LAMBDAFAIL_TIME_SCALE, like probe rounds).")


class Wait(StepKind[WaitStep]):
    kind = "wait"
    key = "wait"
    model = WaitStep
    judges_standby = True

    def compile(self, step: WaitStep) -> dict[str, Any]:
        return {"healthy": step.healthy, "every_seconds": step.every_seconds}

    def line(self, step: dict[str, Any]) -> str:
        return (f"wait until the standby is healthy {step['healthy']}× in a row "
                f"(every {step['every_seconds']:g} s, at most {step['timeout_seconds']:g} s)")


KIND = Wait()
