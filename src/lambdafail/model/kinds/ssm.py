"""Router kind `ssm`: a String SSM parameter holds the active endpoint.

Rule: everything about this kind outside the orchestrator is here (model, compile, IAM, hint,
the parameter deploy seeds); its runtime twin is `lambdafail/runtime/routers/ssm.py`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from lambdafail.model import naming
from lambdafail.model.arns import Where, parameter_arn, statement
from lambdafail.model.common import SSM_NAME_RE, Invalid
from lambdafail.model.kinds.base import RouterKind, RouterSpec

SSM_MAX_LEVELS = 15
# AWS counts a parameter name's length with its full ARN: at most 1011 characters.
SSM_ARN_MAX = 1011


def ssm_name_problem(name: str) -> str:
    """Why SSM's PutParameter would refuse `name` (its documented naming rules), or ""."""
    from lambdafail.model import regions

    bare = name.lstrip("/")
    if not SSM_NAME_RE.match(name) or "//" in name or not bare:
        return "only letters, digits, _ . - and / (no empty level)"
    if "/" in bare and not name.startswith("/"):
        return "a name with levels must start with /"
    levels = bare.rstrip("/").split("/")
    if name.endswith("/"):
        return "it must not end with /"
    if len(levels) > SSM_MAX_LEVELS:
        return f"{len(levels)} levels; SSM allows at most {SSM_MAX_LEVELS}"
    if bare.lower().startswith(("aws", "ssm")):
        return "names starting with aws or ssm (any case) are reserved"
    first = levels[0].lower()
    if first == naming.PREFIX or first.startswith(f"{naming.PREFIX}-"):
        return (f"names under {naming.PREFIX} are lambdafail's own; a router may only switch "
                "your application's parameters")
    room = SSM_ARN_MAX - regions.longest_arn_prefix("ssm", "parameter/")
    if len(bare) > room:
        return (f"{len(bare)} characters; with its ARN (counted against SSM's {SSM_ARN_MAX}) "
                f"at most {room} fit in every region")
    return ""


class SsmRouter(RouterSpec):
    ssm_parameter: str = Field(description="String parameter holding the active endpoint.")
    values: dict[Literal["primary", "standby"], str] | None = Field(default=
        None, description="Values to write; default: each target's URL or function.")
    adopt: bool = Field(default=False, description="The parameter exists and lambdafail did "
                        "not create it: take it over (deploy tags it as this topology's) "
                        "instead of refusing it as a conflict.")

    @field_validator("ssm_parameter")
    @classmethod
    def _name(cls, v: str) -> str:
        problem = ssm_name_problem(v)
        if problem:
            raise Invalid(f"not a valid SSM parameter name: {v!r}: {problem}",
                          hint="letters, digits and _ . - in up to 15 levels separated by /, "
                               "starting with / when there is more than one level, not "
                               "starting with aws or ssm")
        return v


class Ssm(RouterKind[SsmRouter]):
    kind = "ssm"
    key = "ssm_parameter"
    model = SsmRouter

    def compile(self, router: SsmRouter, targets: dict[str, str]) -> dict[str, Any]:
        values = router.values or {}
        out: dict[str, Any] = {
            "kind": "ssm", "parameter": router.ssm_parameter,
            "values": {"primary": values.get("primary", targets["primary"]),
                       "standby": values.get("standby", targets["standby"])}}
        if router.adopt:  # only when set: every other topology compiles as before
            out["adopt"] = True
        return out

    def route_key(self, router: SsmRouter) -> str | None:
        return f"SSM parameter {'/' + router.ssm_parameter.lstrip('/')}"

    def iam_statements(self, routers: list[dict[str, Any]], where: Where) -> list[dict[str, Any]]:
        params = {parameter_arn(where.at(r.get("region")), r["parameter"]) for r in routers}
        # AddTagsToResource: a parameter the router has to recreate is tagged as ours.
        return statement("RouterParameters", ["ssm:AddTagsToResource", "ssm:GetParameter",
                                              "ssm:PutParameter"], sorted(params))

    def hint(self, router: dict[str, Any], side: str) -> str:
        value = router.get("values", {}).get(side, "?")
        return f"the SSM parameter {router['parameter']} (for {side} it holds {value!r})"

    def seeded_parameters(self, router: dict[str, Any], side: str = "primary") -> dict[str, str]:
        return {str(router["parameter"]): str(router["values"][side])}

    def adopts(self, router: dict[str, Any]) -> bool:
        return bool(router.get("adopt"))


KIND = Ssm()
