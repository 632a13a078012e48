"""Runtime router `rules`: enable the side's EventBridge rules, then disable the other's.

Rule: stdlib + boto3 only; the model, compile and IAM of this kind are in
`lambdafail/model/kinds/rules.py`.
"""

from __future__ import annotations

from typing import Any

from lambdafail.runtime.config import SIDES, Clients
from lambdafail.runtime.routers.base import RouterBase, router_error


class RulesSwitch(RouterBase):
    kind = "rules"

    def __init__(self, cfg: dict[str, Any], events_client: Any) -> None:
        self.bus = str(cfg.get("bus") or "default")
        self.rules: dict[str, list[str]] = {s: list(cfg["rules"].get(s, [])) for s in SIDES}
        self.events = events_client

    def apply(self, side: str, transition: dict[str, Any] | None = None) -> None:
        other = "standby" if side == "primary" else "primary"
        # Enable the new side first: for a moment both run rather than neither.
        for call, names in (("EnableRule", self.rules[side]), ("DisableRule", self.rules[other])):
            for name in names:
                try:
                    if call == "EnableRule":
                        self.events.enable_rule(Name=name, EventBusName=self.bus)
                    else:
                        self.events.disable_rule(Name=name, EventBusName=self.bus)
                except Exception as e:
                    raise router_error(f"events {call} {name} on bus {self.bus}", e) from e

    def read_back(self) -> str | None:
        states: dict[str, list[str]] = {side: [] for side in SIDES}
        for side in SIDES:
            for name in self.rules[side]:
                try:
                    states[side].append(self.events.describe_rule(
                        Name=name, EventBusName=self.bus)["State"])
                except Exception as e:
                    raise router_error(f"events DescribeRule {name} on bus {self.bus}", e) from e
        for side in SIDES:
            other = "standby" if side == "primary" else "primary"
            if (all(s == "ENABLED" for s in states[side])
                    and all(s == "DISABLED" for s in states[other])):
                return side
        return None

    @classmethod
    def build(cls, cfg: dict[str, Any], clients: Clients, confirmed: str | None) -> RulesSwitch:
        return cls(cfg, clients.get("events", cfg.get("region")))
