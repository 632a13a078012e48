"""The topology bus's resource policy: who may put the events that fail a service over.

Rule: pure. Within one account an identity policy allowing `events:PutEvents` is enough to
put events on a bus unless a policy explicitly denies it (AWS's policy evaluation logic), so
an Allow here would protect nothing: the policy is made of explicit Deny statements. For the
sources an event signal on the topology's bus matches (`events:source`), PutEvents is denied
to every principal (`aws:PrincipalArn`) that is neither one of the signal's `senders` nor a
lambdafail orchestrator role of the account. Signals sharing sources are combined
conservatively: a principal may put a source only if every signal matching it lets it. No
event signal on the bus: no policy. `normalize` makes the document comparable with what
DescribeEventBus returns (single values and lists, order).
"""

from __future__ import annotations

import json
from typing import Any

from lambdafail.base.errors import UsageError
from lambdafail.model.arns import Where
from lambdafail.model.kinds.signals.event import aws_service_source

# EventBridge's "Event bus policy size" quota (characters; adjustable, 10,240 by default).
POLICY_MAX = 10_240
# aws:PrincipalArn of an assumed role is the role's ARN: every orchestrator's role matches.
ORCHESTRATOR_ROLES = "role/lambdafail-*-orchestrator"
SID_PREFIX = "LambdafailEventSenders"


def _sources(pattern: dict[str, Any]) -> list[str] | None:
    """The sources a pattern matches, as StringLike values; None: any source."""
    values = pattern.get("source")
    if not isinstance(values, list) or not values:
        return None
    out: list[str] = []
    for v in values:
        if isinstance(v, str):
            out.append(v)
        elif isinstance(v, dict) and isinstance(v.get("prefix"), str):
            out.append(f"{v['prefix']}*")
        else:
            return None  # anything-but, wildcard…: not expressible, so every source
    return out


def senders_by_source(compiled: dict[str, Any]) -> dict[str, set[str]]:
    """source pattern ("*": any source) -> the senders that every signal matching exactly
    that pattern allows (empty: none beyond the orchestrator roles)."""
    out: dict[str, set[str]] = {}
    for svc in compiled["services"].values():
        for sig in svc["signals"]:
            if sig.get("kind") != "event" or aws_service_source(sig["pattern"]):
                continue  # AWS service events arrive on the default bus: nobody can forge them
            mine = set(sig.get("senders") or [])
            for source in _sources(sig["pattern"]) or ["*"]:
                out[source] = out[source] & mine if source in out else mine
    return out


def bus_policy(compiled: dict[str, Any], where: Where) -> dict[str, Any] | None:
    """The policy document for the topology's bus, or None when no signal listens on it."""
    by_source = senders_by_source(compiled)
    if not by_source:
        return None
    bus = where.arn("events", f"event-bus/{compiled['bus']}")
    roles = where.arn("iam", ORCHESTRATOR_ROLES, regional=False)
    groups: dict[tuple[str, ...], list[str]] = {}
    for source, senders in sorted(by_source.items()):
        groups.setdefault(tuple(sorted(senders)), []).append(source)
    statements = []
    for i, (allowed, sources) in enumerate(sorted(groups.items()), 1):
        condition: dict[str, Any] = {"ArnNotLike": {"aws:PrincipalArn": [roles, *allowed]}}
        if "*" not in sources:
            condition["StringLike"] = {"events:source": sorted(sources)}
        statements.append({"Sid": f"{SID_PREFIX}{i}", "Effect": "Deny", "Principal": "*",
                           "Action": "events:PutEvents", "Resource": bus,
                           "Condition": condition})
    doc: dict[str, Any] = normalize({"Version": "2012-10-17", "Statement": statements})
    size = len(json.dumps(doc, separators=(",", ":")))
    if size > POLICY_MAX:
        raise UsageError(f"the bus policy for the event signals' senders is {size:,} characters, "
                         f"over EventBridge's {POLICY_MAX:,}-character quota "
                         f"({len(statements)} distinct sender lists)",
                         hint="give signals the same `senders` (one statement per distinct "
                              "list), use wildcards, or raise the quota and say so here")
    return doc


_LISTS = frozenset({"Action", "NotAction", "Resource", "NotResource", "AWS", "Service"})


def normalize(doc: Any, key: str = "", in_condition: bool = False) -> Any:
    """A policy with every list-able value a sorted list, so equal policies compare equal."""
    if isinstance(doc, dict):
        return {k: normalize(v, k, in_condition or k == "Condition") for k, v in doc.items()}
    if isinstance(doc, list):
        items = [v if isinstance(v, str) else normalize(v, key, in_condition) for v in doc]
        if key == "Statement":
            return items
        return sorted(items, key=lambda v: json.dumps(v, sort_keys=True))
    if isinstance(doc, str) and (key in _LISTS or (in_condition and key != "Condition")):
        return [doc]
    return doc


def parse(text: str | None) -> dict[str, Any] | None:
    """DescribeEventBus's `Policy` (JSON text) as a normalized document; None if absent."""
    if not text:
        return None
    try:
        doc = json.loads(text)
    except ValueError:
        return {"unreadable": text}
    return normalize(doc) if isinstance(doc, dict) else {"unreadable": text}
