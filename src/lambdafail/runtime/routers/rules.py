"""Runtime router `rules`: enable the side's EventBridge rules, then disable the other's.

Rule: stdlib + boto3 only; the model, compile and IAM of this kind are in
`lambdafail/model/kinds/rules.py`.
"""

from __future__ import annotations

from typing import Any

from lambdafail.runtime.config import SIDES, Clients
from lambdafail.runtime.routers.base import (
    Reading,
    RouterBase,
    RouterError,
    error_code,
    router_error,
)


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
    def read_many(cls, cfgs: list[dict[str, Any]], clients: Clients) -> list[Reading]:
        """One DescribeRule per distinct rule the routers name (EventBridge has no batch read,
        and application rules share no name prefix). A router whose rules cannot be read
        (its region out, say) is unread; the others are still read."""
        states: dict[tuple[str, str], str | None] = {}
        out = []
        for c in cfgs:
            events = clients.get("events", c.get("region"))
            r = cls(c, events)
            at = f"{c.get('region')}/{r.bus}"
            try:
                for side in SIDES:
                    for name in r.rules[side]:
                        if (at, name) not in states:
                            states[(at, name)] = _rule_state(events, name, r.bus)
            except RouterError as e:
                out.append(Reading(None, readable=False, seen=f"cannot read: {e}"))
                continue
            per_side = {side: [states[(at, n)] for n in r.rules[side]] for side in SIDES}
            missing = [n for side in SIDES for n in r.rules[side] if states[(at, n)] is None]
            seen = "; ".join(f"{n} {states[(at, n)] or 'MISSING'}"
                             for side in SIDES for n in r.rules[side])
            if missing:
                out.append(Reading(None, found=False, seen=f"rules on bus {r.bus}: {seen}"))
                continue
            side_now = None
            for side in SIDES:
                other = "standby" if side == "primary" else "primary"
                if (all(s == "ENABLED" for s in per_side[side])
                        and all(s == "DISABLED" for s in per_side[other])):
                    side_now = side
            out.append(Reading(side_now, seen=f"rules on bus {r.bus}: {seen}"))
        return out

    @classmethod
    def build(cls, cfg: dict[str, Any], clients: Clients, confirmed: str | None,
              tags: dict[str, str] | None = None) -> RulesSwitch:
        return cls(cfg, clients.get("events", cfg.get("region")))


def _rule_state(events: Any, name: str, bus: str) -> str | None:
    """A rule's State, None when it does not exist; RouterError when it cannot be read."""
    try:
        return str(events.describe_rule(Name=name, EventBusName=bus)["State"])
    except Exception as e:
        if error_code(e) != "ResourceNotFoundException":
            raise router_error(f"events DescribeRule {name} on bus {bus}", e) from e
        return None
