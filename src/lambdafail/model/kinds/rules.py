"""Router kind `rules`: EventBridge rules of your application, enabled for one side and
disabled for the other.

Rule: everything about this kind outside the orchestrator is here (model, compile, IAM, hint);
its runtime twin is `lambdafail/runtime/routers/rules.py`.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator, model_validator

from lambdafail.model import naming
from lambdafail.model.arns import Where, rule_arn, statement
from lambdafail.model.common import BUS_NAME_RE, RULE_NAME_RE, Reference, Strict
from lambdafail.model.kinds.base import RouterKind, RouterSpec


class RulesSpec(Strict):
    primary: list[str] = Field(default_factory=list)
    standby: list[str] = Field(default_factory=list)
    bus: str = "default"

    @field_validator("primary", "standby")
    @classmethod
    def _names(cls, v: list[str]) -> list[str]:
        for name in v:
            if not RULE_NAME_RE.match(name):
                raise ValueError(f"not a valid EventBridge rule name: {name!r}")
            # lambdafail's own rules (the probe tick, signals) must never be switched off
            # by a failover: the first one would stop the watcher itself.
            if name.startswith(f"{naming.PREFIX}-"):
                raise ValueError(f"rule {name!r} is named like lambdafail's own rules "
                                 f"({naming.PREFIX}-<topology>-…); a router may only switch "
                                 "your application's rules")
        return v

    @field_validator("bus")
    @classmethod
    def _bus(cls, v: str) -> str:
        if not BUS_NAME_RE.match(v):
            raise ValueError(f"not an EventBridge bus name or ARN: {v!r}")
        return v

    @model_validator(mode="after")
    def _some(self) -> RulesSpec:
        if not self.primary and not self.standby:
            raise ValueError("name at least one rule for primary or standby")
        return self


class RulesRouter(RouterSpec):
    rules: RulesSpec


def _other(side: str) -> str:
    return "standby" if side == "primary" else "primary"


class Rules(RouterKind[RulesRouter]):
    kind = "rules"
    key = "rules"
    model = RulesRouter

    def compile(self, router: RulesRouter, targets: dict[str, str]) -> dict[str, Any]:
        return {"kind": "rules", "bus": router.rules.bus,
                "rules": {"primary": list(router.rules.primary),
                          "standby": list(router.rules.standby)}}

    def iam_statements(self, routers: list[dict[str, Any]], where: Where) -> list[dict[str, Any]]:
        arns = {rule_arn(where.at(r.get("region")), r["bus"], name) for r in routers
                for side in ("primary", "standby") for name in r["rules"][side]}
        return statement("RouterRules", ["events:DescribeRule", "events:DisableRule",
                                         "events:EnableRule"], sorted(arns))

    def references(self, router: dict[str, Any]) -> list[Reference]:
        return [("rule", f"{router['bus']}/{rule}", router.get("region"))
                for rule in sorted({r for side in router["rules"].values() for r in side})]

    def hint(self, router: dict[str, Any], side: str) -> str:
        rules = router.get("rules", {})
        on = ", ".join(rules.get(side, [])) or "-"
        off = ", ".join(rules.get(_other(side), [])) or "-"
        return (f"the EventBridge rules on bus {router.get('bus', 'default')} (for {side}: "
                f"ENABLED {on}; DISABLED {off})")


KIND = Rules()
