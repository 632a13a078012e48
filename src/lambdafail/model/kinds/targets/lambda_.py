"""The `lambda` target: a function invoked with a ping payload; a FunctionError is unhealthy.

Rule: the orchestrator's role may invoke exactly the functions named here (merged into the one
InvokeTargets statement with routers' and steps' functions).
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, field_validator

from lambdafail.model.common import Reference, lambda_name
from lambdafail.model.kinds.targets.base import TargetKind, TargetSpec
from lambdafail.runtime.compiled import TargetCfg


class LambdaTarget(TargetSpec):
    lambda_: str = Field(alias="lambda", description="Function name or ARN, invoked with a "
                         "ping payload; a FunctionError means unhealthy.")

    _name = field_validator("lambda_")(staticmethod(lambda_name))


class Lambda(TargetKind[LambdaTarget]):
    kind: ClassVar[str] = "lambda"
    key: ClassVar[str] = "lambda"
    label: ClassVar[str] = "function probe"
    model = LambdaTarget

    def value(self, target: LambdaTarget) -> str:
        return target.lambda_

    def compile(self, target: LambdaTarget) -> TargetCfg:
        return {"kind": "lambda", "function": target.lambda_}

    def invokes(self, target: TargetCfg) -> set[str]:
        return {str(target["function"])}  # type: ignore[typeddict-item]

    def references(self, target: TargetCfg) -> list[Reference]:
        region = target.get("region")
        return [("function", str(target["function"]),  # type: ignore[typeddict-item]
                 region if isinstance(region, str) else None)]


KIND = Lambda()
