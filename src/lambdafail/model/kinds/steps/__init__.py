"""The registry of recovery-step kinds: one module per kind, listed once in STEPS.

Rule: callers dispatch through `step_kind(name)` / `step_kind_of(model)` / `STEPS`, never on a
kind's name. Adding a step kind = one module here (model, compile, IAM, plan line, whether it
starts the standby) + its runtime twin under `lambdafail/runtime/steps/` + docs
(docs/topology.md, docs/architecture.md "Adding a recovery-step kind").
"""

from __future__ import annotations

from typing import Any

from lambdafail.model.kinds.steps import ecs, lambda_, wait
from lambdafail.model.kinds.steps.aurora import KIND as AURORA
from lambdafail.model.kinds.steps.autoscaling import KIND as AUTOSCALING
from lambdafail.model.kinds.steps.base import StepKind, StepSpec
from lambdafail.model.kinds.steps.ec2 import KIND as EC2
from lambdafail.model.kinds.steps.lambda_concurrency import KIND as LAMBDA_CONCURRENCY

#: In the order the schema and error messages list them.
STEPS: tuple[StepKind[Any], ...] = (
    lambda_.KIND, ecs.KIND, wait.KIND,
    AUTOSCALING,
    EC2,
    LAMBDA_CONCURRENCY,
    AURORA,
)

_BY_KIND = {k.kind: k for k in STEPS}
_BY_MODEL = {k.model: k for k in STEPS}


def step_kind(kind: str) -> StepKind[Any]:
    """The kind of a compiled step (`step["kind"]`)."""
    try:
        return _BY_KIND[kind]
    except KeyError:
        raise KeyError(f"unknown recovery step kind {kind!r}") from None


def step_kind_of(step: StepSpec) -> StepKind[Any]:
    """The kind of a loaded step model."""
    return _BY_MODEL[type(step)]


def compile_step(step: StepSpec) -> dict[str, Any]:
    """The compiled step: its kind, its own fields, then the fields every step has."""
    kind = step_kind_of(step)
    return {"kind": kind.kind, **kind.compile(step),
            "timeout_seconds": step.timeout_seconds, "retries": step.retries}


__all__ = ["STEPS", "StepKind", "StepSpec", "compile_step", "step_kind", "step_kind_of"]
