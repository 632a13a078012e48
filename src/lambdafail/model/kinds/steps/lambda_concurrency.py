"""Recovery step `lambda_concurrency`: provisioned concurrency on a function's alias or version.

Rule: everything about this kind outside the orchestrator is here (model, compile, IAM, plan
line); its runtime twin is `lambdafail/runtime/steps/lambda_concurrency.py`. Putting the same
amount again is harmless, so a resumed step simply asks again; `concurrency: 0` removes the
configuration (a failback's "scale the standby down": AWS's own minimum is 1).
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field, field_validator

from lambdafail.model.arns import Where, function_arn, statement
from lambdafail.model.kinds.steps.base import StepKind, StepSpec

# An unqualified function name or ARN (the alias or version goes in `qualifier`).
FUNCTION_RE = re.compile(r"^(arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:)?"
                         r"[A-Za-z0-9_-]{1,64}$")
# An alias name (not starting with a digit) or a published version number: never $LATEST,
# on which AWS refuses provisioned concurrency.
QUALIFIER_RE = re.compile(r"^(?:[A-Za-z_-][A-Za-z0-9_-]{0,127}|[1-9][0-9]{0,9})$")


class LambdaConcurrencyStep(StepSpec):
    function: str = Field(description="Lambda function name or ARN, without a qualifier.")
    qualifier: str = Field(description="Alias name or published version (not $LATEST).")
    concurrency: int = Field(ge=0, le=100_000, description="Provisioned concurrent "
                             "executions; the step ends when that many are allocated "
                             "(status READY). 0 removes the configuration.")
    timeout_seconds: float = Field(default=600, gt=0, le=900, description="For the request "
                                   "and the wait for READY.")
    every_seconds: float = Field(default=10, gt=0, le=60, description="Time between "
                                 "GetProvisionedConcurrencyConfig checks (divided by "
                                 "LAMBDAFAIL_TIME_SCALE).")

    @field_validator("function")
    @classmethod
    def _fn(cls, v: str) -> str:
        if not FUNCTION_RE.match(v):
            raise ValueError(f"not an unqualified Lambda function name or ARN (put the alias "
                             f"or version in `qualifier`): {v!r}")
        return v

    @field_validator("qualifier")
    @classmethod
    def _qualifier(cls, v: str) -> str:
        if v == "$LATEST":
            raise ValueError("AWS does not provision concurrency on $LATEST: name an alias or "
                             "a published version")
        if not QUALIFIER_RE.match(v):
            raise ValueError(f"not a Lambda alias name or version number: {v!r}")
        return v


class LambdaConcurrency(StepKind[LambdaConcurrencyStep]):
    kind = "lambda_concurrency"
    key = "lambda_concurrency"
    model = LambdaConcurrencyStep

    def compile(self, step: LambdaConcurrencyStep) -> dict[str, Any]:
        return {"function": step.function, "qualifier": step.qualifier,
                "concurrency": step.concurrency, "every_seconds": step.every_seconds}

    def starts_standby(self, step: LambdaConcurrencyStep) -> bool:
        # Provisioned concurrency warms a standby that already answers (on demand): it makes
        # it ready for load rather than bringing it up.
        return False

    def iam_statements(self, steps: list[dict[str, Any]], where: Where) -> list[dict[str, Any]]:
        # The three actions take the qualified ARN (the alias's or the version's).
        arns = sorted({f"{function_arn(where, str(s['function']))}:{s['qualifier']}"
                       for s in steps})
        return statement("RecoveryLambdaConcurrency",
                         ["lambda:DeleteProvisionedConcurrencyConfig",
                          "lambda:GetProvisionedConcurrencyConfig",
                          "lambda:PutProvisionedConcurrencyConfig"], arns)

    def line(self, step: dict[str, Any]) -> str:
        target = f"{step['function']}:{step['qualifier']}"
        if not step["concurrency"]:
            return f"lambda_concurrency {target} removed"
        return (f"lambda_concurrency {target} provisioned {step['concurrency']} "
                f"(until READY)")


KIND = LambdaConcurrency()
