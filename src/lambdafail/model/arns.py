"""ARNs of the resources lambdafail names in IAM policies and in its plan.

Rule: pure string building from `Where` (partition, region, account); AWS's per-service ARN
quirks live here once (SSM names without their leading slash, default-bus rules without the bus,
Route 53's normalised record names).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass


@dataclass(frozen=True)
class Where:
    """The coordinates every ARN needs."""

    partition: str
    region: str
    account: str

    def at(self, region: str | None) -> Where:
        """The same account and partition in `region` (None: this region)."""
        return self if region is None else dataclasses.replace(self, region=region)

    def arn(self, service: str, resource: str, *, regional: bool = True,
            account: bool = True) -> str:
        return (f"arn:{self.partition}:{service}:{self.region if regional else ''}:"
                f"{self.account if account else ''}:{resource}")


def parameter_arn(where: Where, name: str) -> str:
    # SSM parameter ARNs carry the name without its leading slash.
    return where.arn("ssm", f"parameter/{name.lstrip('/')}")


def rule_arn(where: Where, bus: str, rule: str) -> str:
    # Rules on the default bus omit the bus from the ARN; rules on a custom bus include it.
    if bus in ("default", ""):
        return where.arn("events", f"rule/{rule}")
    if bus.startswith("arn:"):
        bus = bus.rsplit("/", 1)[-1]
    return where.arn("events", f"rule/{bus}/{rule}")


def function_arn(where: Where, name_or_arn: str) -> str:
    if name_or_arn.startswith("arn:"):
        return name_or_arn
    return where.arn("lambda", f"function:{name_or_arn}")


def normalized_record_name(name: str) -> str:
    """A record name as Route 53's condition keys compare it: lower case, no trailing dot,
    characters other than a-z 0-9 - _ . as a backslash and three octal digits (`*` → `\\052`)."""
    out = []
    for ch in name.rstrip(".").lower():
        out.append(ch if ch.isascii() and (ch.isalnum() or ch in "-_.") else f"\\{ord(ch):03o}")
    return "".join(out)


def statement(sid: str, actions: list[str], resources: list[str],
              condition: dict[str, object] | None = None) -> list[dict[str, object]]:
    """One Allow statement (actions sorted, a lone resource unwrapped), or none without
    resources: IAM rejects a statement with an empty Resource."""
    if not resources:
        return []
    return [{"Sid": sid, "Effect": "Allow", "Action": sorted(actions),
             "Resource": resources if len(resources) > 1 else resources[0]}
            | ({"Condition": condition} if condition else {})]
