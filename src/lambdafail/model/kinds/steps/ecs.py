"""Recovery step `ecs`: set an ECS service's desired count, then wait for that many running.

Rule: everything about this kind outside the orchestrator is here (model, compile, IAM, plan
line); its runtime twin is `lambdafail/runtime/steps/ecs.py`. Setting a desired count is
idempotent, so a resumed step simply sets it again.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field, field_validator

from lambdafail.model.arns import Where, statement
from lambdafail.model.common import Reference
from lambdafail.model.kinds.steps.base import StepKind, StepSpec

# ECS cluster and service names: up to 255 letters, digits, hyphens and underscores.
ECS_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
CLUSTER_ARN_RE = re.compile(r"^arn:aws[a-z-]*:ecs:[a-z0-9-]+:\d{12}:cluster/([A-Za-z0-9_-]{1,255})$")


class EcsStep(StepSpec):
    cluster: str = Field(description="ECS cluster name or ARN.")
    service: str = Field(description="ECS service name in that cluster.")
    desired: int = Field(ge=0, le=10_000, description="Desired count to set; the step ends "
                         "when that many tasks run (and none is pending).")
    timeout_seconds: float = Field(default=300, gt=0, le=900, description="For the update "
                                   "and the wait for running tasks.")
    every_seconds: float = Field(default=5, gt=0, le=60, description="Time between "
                                 "DescribeServices checks (divided by LAMBDAFAIL_TIME_SCALE).")

    @field_validator("cluster")
    @classmethod
    def _cluster(cls, v: str) -> str:
        if not (ECS_NAME_RE.match(v) or CLUSTER_ARN_RE.match(v)):
            raise ValueError(f"not an ECS cluster name or ARN: {v!r}")
        return v

    @field_validator("service")
    @classmethod
    def _service(cls, v: str) -> str:
        if not ECS_NAME_RE.match(v):
            raise ValueError(f"not an ECS service name: {v!r}")
        return v


def cluster_name(cluster: str) -> str:
    m = CLUSTER_ARN_RE.match(cluster)
    return m.group(1) if m else cluster


class Ecs(StepKind[EcsStep]):
    kind = "ecs"
    key = "ecs"
    model = EcsStep

    def compile(self, step: EcsStep) -> dict[str, Any]:
        return {"cluster": step.cluster, "service": step.service, "desired": step.desired,
                "every_seconds": step.every_seconds}

    def starts_standby(self, step: EcsStep) -> bool:
        return step.desired > 0

    def iam_statements(self, steps: list[dict[str, Any]], where: Where) -> list[dict[str, Any]]:
        # Both actions take the service ARN (the long format, with the cluster name).
        arns = sorted({where.arn("ecs", f"service/{cluster_name(str(s['cluster']))}/"
                                        f"{s['service']}") for s in steps})
        return statement("RecoveryEcsServices", ["ecs:DescribeServices", "ecs:UpdateService"],
                         arns)

    def references(self, step: dict[str, Any]) -> list[Reference]:
        return [("ecs service", f"{step['cluster']}/{step['service']}", step.get("region"))]

    def line(self, step: dict[str, Any]) -> str:
        return (f"ecs {cluster_name(str(step['cluster']))}/{step['service']} desired "
                f"{step['desired']} (until {step['desired']} running)")


KIND = Ecs()
