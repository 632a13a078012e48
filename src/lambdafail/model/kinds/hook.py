"""Router kind `hook`: your Lambda function is invoked with the transition and does the switch.

Rule: everything about this kind outside the orchestrator is here (model, compile, IAM, hint);
its runtime twin is `lambdafail/runtime/routers/hook.py` (which also answers the read-back from
the committed side, since nothing in AWS can be read).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from lambdafail.model import naming
from lambdafail.model.common import Reference, lambda_name
from lambdafail.model.kinds.base import RouterKind, RouterSpec


class HookRouter(RouterSpec):
    hook: str = Field(description="Lambda function (ARN or name) invoked synchronously with "
                      "the transition; it must return without FunctionError.")

    @field_validator("hook")
    @classmethod
    def _fn(cls, v: str) -> str:
        lambda_name(v)
        # The orchestrator invoking itself (or another topology's) as the switch: recursion,
        # and a failover that never switches traffic.
        name = v.split(":function:", 1)[-1].split(":", 1)[0]
        if name.startswith(f"{naming.PREFIX}-") and name.endswith("-orchestrator"):
            raise ValueError(f"hook {v!r} is named like lambdafail's own orchestrator "
                             f"({naming.PREFIX}-<topology>-orchestrator); a router may only "
                             "invoke your application's function")
        return v


class Hook(RouterKind[HookRouter]):
    kind = "hook"
    key = "hook"
    model = HookRouter

    def compile(self, router: HookRouter, targets: dict[str, str]) -> dict[str, Any]:
        return {"kind": "hook", "function": router.hook}

    def invokes(self, router: dict[str, Any]) -> set[str]:
        return {str(router["function"])}

    def references(self, router: dict[str, Any]) -> list[Reference]:
        return [("function", str(router["function"]), router.get("region"))]

    def hint(self, router: dict[str, Any], side: str) -> str:
        return f"your hook function {router.get('function')} (it was asked to switch to {side})"


KIND = Hook()
