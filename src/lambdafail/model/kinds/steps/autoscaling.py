"""Recovery step `autoscaling`: set an Auto Scaling group's capacity, wait for InService.

Rule: everything about this kind outside the orchestrator is here (model, compile, IAM, plan
line); its runtime twin is `lambdafail/runtime/steps/autoscaling.py`. Setting a capacity is
idempotent, so a resumed step simply sets it again.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field, field_validator, model_validator

from lambdafail.model.arns import Where, statement
from lambdafail.model.kinds.steps.base import StepKind, StepSpec

# Auto Scaling group names: 1-255 characters, no control characters. lambdafail also refuses
# `*` and `?`: the name goes into an IAM resource ARN, where they would be wildcards.
GROUP_RE = re.compile(r"^[^\x00-\x1f\x7f*?]{1,255}$")


class AutoScalingStep(StepSpec):
    group: str = Field(description="Auto Scaling group name.")
    desired: int = Field(ge=0, le=10_000, description="Desired capacity to set; the step "
                         "ends when that many instances are InService (none pending or "
                         "terminating).")
    min: int | None = Field(default=None, ge=0, le=10_000, description="Minimum size to set "
                            "(default: `desired`, so the group cannot scale in below it).")
    max: int | None = Field(default=None, ge=0, le=10_000, description="Maximum size to set "
                            "(default: left as it is; AWS refuses a desired above it).")
    timeout_seconds: float = Field(default=600, gt=0, le=900, description="For the update "
                                   "and the wait for InService instances.")
    every_seconds: float = Field(default=10, gt=0, le=60, description="Time between "
                                 "DescribeAutoScalingGroups checks (divided by "
                                 "LAMBDAFAIL_TIME_SCALE).")

    @field_validator("group")
    @classmethod
    def _group(cls, v: str) -> str:
        if not GROUP_RE.match(v):
            raise ValueError(f"not an Auto Scaling group name (1-255 characters, no control "
                             f"characters, no `*` or `?`): {v!r}")
        return v

    @model_validator(mode="after")
    def _sizes(self) -> AutoScalingStep:
        if self.min is not None and self.min > self.desired:
            raise ValueError(f"min {self.min} is above desired {self.desired}")
        if self.max is not None and self.max < self.desired:
            raise ValueError(f"max {self.max} is below desired {self.desired}")
        return self


class AutoScaling(StepKind[AutoScalingStep]):
    kind = "autoscaling"
    key = "autoscaling"
    model = AutoScalingStep

    def compile(self, step: AutoScalingStep) -> dict[str, Any]:
        return {"group": step.group, "desired": step.desired,
                "min": step.desired if step.min is None else step.min, "max": step.max,
                "every_seconds": step.every_seconds}

    def starts_standby(self, step: AutoScalingStep) -> bool:
        return step.desired > 0

    def iam_statements(self, steps: list[dict[str, Any]], where: Where) -> list[dict[str, Any]]:
        # The group's ARN carries its id (a UUID AWS assigns at creation), unknown here: `*`
        # stands for it, the name is exact. DescribeAutoScalingGroups takes no resource ARN
        # (the service authorization reference lists none), so it is granted on "*".
        arns = sorted({where.arn("autoscaling", f"autoScalingGroup:*:autoScalingGroupName/"
                                                f"{s['group']}") for s in steps})
        return [*statement("RecoveryAutoScalingGroups", ["autoscaling:UpdateAutoScalingGroup"],
                           arns),
                *statement("RecoveryAutoScalingDescribe",
                           ["autoscaling:DescribeAutoScalingGroups"], ["*"] if arns else [])]

    def line(self, step: dict[str, Any]) -> str:
        sizes = f"min {step['min']}" + (f", max {step['max']}" if step["max"] is not None
                                         else "")
        return (f"autoscaling {step['group']} desired {step['desired']} ({sizes}; until "
                f"{step['desired']} InService)")


KIND = AutoScaling()
