"""Router kind `ssm`: a String SSM parameter holds the active endpoint.

Rule: everything about this kind outside the orchestrator is here (model, compile, IAM, hint,
the parameter deploy seeds); its runtime twin is `lambdafail/runtime/routers/ssm.py`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from lambdafail.model.arns import Where, parameter_arn, statement
from lambdafail.model.common import SSM_NAME_RE
from lambdafail.model.kinds.base import RouterKind, RouterSpec


class SsmRouter(RouterSpec):
    ssm_parameter: str = Field(description="String parameter holding the active endpoint.")
    values: dict[Literal["primary", "standby"], str] | None = Field(default=
        None, description="Values to write; default: each target's URL or function.")

    @field_validator("ssm_parameter")
    @classmethod
    def _name(cls, v: str) -> str:
        if not SSM_NAME_RE.match(v) or "//" in v:
            raise ValueError(f"not a valid SSM parameter name: {v!r}")
        return v


class Ssm(RouterKind[SsmRouter]):
    kind = "ssm"
    key = "ssm_parameter"
    model = SsmRouter

    def compile(self, router: SsmRouter, targets: dict[str, str]) -> dict[str, Any]:
        values = router.values or {}
        return {"kind": "ssm", "parameter": router.ssm_parameter,
                "values": {"primary": values.get("primary", targets["primary"]),
                           "standby": values.get("standby", targets["standby"])}}

    def route_key(self, router: SsmRouter) -> str | None:
        return f"SSM parameter {'/' + router.ssm_parameter.lstrip('/')}"

    def iam_statements(self, routers: list[dict[str, Any]], where: Where) -> list[dict[str, Any]]:
        params = {parameter_arn(where, r["parameter"]) for r in routers}
        return statement("RouterParameters", ["ssm:GetParameter", "ssm:PutParameter"],
                         sorted(params))

    def hint(self, router: dict[str, Any], side: str) -> str:
        value = router.get("values", {}).get(side, "?")
        return f"the SSM parameter {router['parameter']} (for {side} it holds {value!r})"

    def seeded_parameters(self, router: dict[str, Any]) -> dict[str, str]:
        return {str(router["parameter"]): str(router["values"]["primary"])}


KIND = Ssm()
