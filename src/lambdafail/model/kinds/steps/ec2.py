"""Recovery step `ec2`: start (or stop) EC2 instances by id, wait until they are in that state.

Rule: everything about this kind outside the orchestrator is here (model, compile, IAM, plan
line); its runtime twin is `lambdafail/runtime/steps/ec2.py`. Starting a running instance
(stopping a stopped one) is harmless, so a resumed step simply asks again. `state: running`
(the default) starts the standby; `state: stopped` is the failback's.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator

from lambdafail.model.arns import Where, statement
from lambdafail.model.kinds.steps.base import StepKind, StepSpec

INSTANCE_ID_RE = re.compile(r"^i-(?:[0-9a-f]{8}|[0-9a-f]{17})$")


class Ec2Step(StepSpec):
    instances: list[str] = Field(min_length=1, max_length=50, description="Instance ids "
                                 "(`i-` and 8 or 17 hex digits).")
    state: Literal["running", "stopped"] = Field(default="running", description="`running`: "
                                                 "StartInstances; `stopped`: StopInstances.")
    timeout_seconds: float = Field(default=300, gt=0, le=900, description="For the request "
                                   "and the wait for the state.")
    every_seconds: float = Field(default=5, gt=0, le=60, description="Time between "
                                 "DescribeInstances checks (divided by LAMBDAFAIL_TIME_SCALE).")

    @field_validator("instances")
    @classmethod
    def _ids(cls, v: list[str]) -> list[str]:
        for i in v:
            if not INSTANCE_ID_RE.match(i):
                raise ValueError(f"not an EC2 instance id (i- and 8 or 17 hex digits): {i!r}")
        if len(set(v)) != len(v):
            raise ValueError("an instance is listed twice")
        return v


class Ec2(StepKind[Ec2Step]):
    kind = "ec2"
    key = "ec2"
    model = Ec2Step

    def compile(self, step: Ec2Step) -> dict[str, Any]:
        return {"instances": list(step.instances), "state": step.state,
                "every_seconds": step.every_seconds}

    def starts_standby(self, step: Ec2Step) -> bool:
        return step.state == "running"

    def iam_statements(self, steps: list[dict[str, Any]], where: Where) -> list[dict[str, Any]]:
        # Start/StopInstances take the instance ARN. An instance with encrypted EBS volumes
        # also needs kms:CreateGrant on their key to start (not derived: lambdafail does not
        # know the key). DescribeInstances takes no resource ARN: granted on "*".
        def arns(state: str) -> list[str]:
            return sorted({where.arn("ec2", f"instance/{i}") for s in steps
                           if s["state"] == state for i in s["instances"]})
        return [*statement("RecoveryEc2Start", ["ec2:StartInstances"], arns("running")),
                *statement("RecoveryEc2Stop", ["ec2:StopInstances"], arns("stopped")),
                *statement("RecoveryEc2Describe", ["ec2:DescribeInstances"],
                           ["*"] if steps else [])]

    def line(self, step: dict[str, Any]) -> str:
        verb = "start" if step["state"] == "running" else "stop"
        return f"ec2 {verb} {', '.join(step['instances'])} (until {step['state']})"


KIND = Ec2()
