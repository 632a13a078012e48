"""Recovery steps: what a plan runs around a switch, one module per kind, registered in STEPS.

Rules: a step is run by `recovery.run_plan` under the pending switch's lease, its progress
written to the state item before and after it; steps are idempotent where AWS allows and carry
an idempotency key where it does not (a Lambda invoke). One module per kind (lambda_, ecs, wait,
autoscaling, ec2, lambda_concurrency, aurora; `polling` is the AWS-resource steps' shared
check loop), each registered once below by its compiled `kind`; its model, compile and IAM
twin is `lambdafail/model/kinds/steps/<kind>.py`. stdlib + boto3 only.
"""

from __future__ import annotations

from typing import Any

from lambdafail.runtime.steps.aurora import AuroraStepRunner
from lambdafail.runtime.steps.autoscaling import AutoScalingStepRunner
from lambdafail.runtime.steps.base import OutOfTime, Step, StepEnv, StepFailed
from lambdafail.runtime.steps.ec2 import Ec2StepRunner
from lambdafail.runtime.steps.ecs import EcsStepRunner
from lambdafail.runtime.steps.lambda_ import LambdaStepRunner
from lambdafail.runtime.steps.lambda_concurrency import LambdaConcurrencyStepRunner
from lambdafail.runtime.steps.wait import WaitStepRunner

#: compiled step `kind` → its runner.
STEPS: dict[str, Step] = {s.kind: s for s in (
    LambdaStepRunner(), EcsStepRunner(), WaitStepRunner(),
    AutoScalingStepRunner(),
    Ec2StepRunner(),
    LambdaConcurrencyStepRunner(),
    AuroraStepRunner(),
)}


def step_runner(cfg: dict[str, Any]) -> Step:
    kind = str(cfg.get("kind"))
    if kind not in STEPS:
        raise StepFailed(f"unknown recovery step kind {kind!r}")
    return STEPS[kind]


__all__ = ["STEPS", "OutOfTime", "Step", "StepEnv", "StepFailed", "step_runner"]
