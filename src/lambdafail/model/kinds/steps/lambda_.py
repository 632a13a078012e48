"""Recovery step `lambda`: invoke your function with a payload (e.g. to start the standby).

Rule: everything about this kind outside the orchestrator is here (model, compile, IAM, plan
line); its runtime twin is `lambdafail/runtime/steps/lambda_.py`, which adds an idempotency key
to the payload (a killed invocation's step is invoked again with the same key).
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import Field, field_validator

from lambdafail.model.common import LAMBDA_NAME_RE, Reference
from lambdafail.model.kinds.steps.base import StepKind, StepSpec


class LambdaStep(StepSpec):
    function: str = Field(description="Lambda function (name or ARN), invoked synchronously; "
                          "a FunctionError fails the step.")
    payload: dict[str, Any] = Field(default_factory=dict, description="JSON object sent to "
                                    "the function, with `lambdafail.idempotency_key` added.")
    starts_standby: bool = Field(default=True, description="Whether the function brings the "
                                 "standby up (then a `wait` step must follow it in the "
                                 "failover plan).")

    @field_validator("function")
    @classmethod
    def _fn(cls, v: str) -> str:
        if not LAMBDA_NAME_RE.match(v):
            raise ValueError(f"not a Lambda function name or ARN: {v!r}")
        return v

    @field_validator("payload")
    @classmethod
    def _payload(cls, v: dict[str, Any]) -> dict[str, Any]:
        if "lambdafail" in v:
            raise ValueError("the payload key `lambdafail` is lambdafail's own (the "
                             "idempotency key); use another key")
        # Lambda's synchronous request payload limit; the state item holds the step too.
        if len(json.dumps(v, default=str)) > 32_768:
            raise ValueError("payload is over 32 KB of JSON")
        return v


class Lambda(StepKind[LambdaStep]):
    kind = "lambda"
    key = "lambda"
    model = LambdaStep

    def compile(self, step: LambdaStep) -> dict[str, Any]:
        return {"function": step.function, "payload": step.payload}

    def starts_standby(self, step: LambdaStep) -> bool:
        return step.starts_standby

    def invokes(self, step: dict[str, Any]) -> set[str]:
        return {str(step["function"])}

    def references(self, step: dict[str, Any]) -> list[Reference]:
        return [("function", str(step["function"]), step.get("region"))]

    def line(self, step: dict[str, Any]) -> str:
        payload = json.dumps(step["payload"], sort_keys=True)
        return f"lambda {step['function']} {payload}"


KIND = Lambda()
