"""EventBridge and Lambda quotas moto does not enforce, enforced as AWS does.

Rule: checked before moto sees the request, against moto's current state (read through
`backends`); a refusal is AWS's error, so a deploy that would outgrow them fails locally:

- rules per event bus: 300 (AWS's default in most regions; PutRule of a new rule);
- targets per rule: 5 (PutTargets; fixed);
- a function's (or alias's) resource-based policy: 20 KB (AddPermission →
  PolicyLengthExceededException). The size is the policy document as Lambda returns it, with
  the new statement as moto would store it — AWS's exact byte accounting is not documented.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, unquote

from lambdafail.sandbox import backends

RULES_PER_BUS = 300
TARGETS_PER_RULE = 5
FUNCTION_POLICY_BYTES = 20_480

_POLICY_PATH = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/policy/?$")
Refusal = tuple[int, bytes, dict[str, str]]


def _limit(message: str) -> Refusal:
    return 400, json.dumps({"__type": "LimitExceededException", "message": message}).encode(), {
        "Content-Type": "application/x-amz-json-1.1"}


def refusal(*, method: str, path: str, target: str, query: str, region: str,
            body: Callable[[], bytes]) -> Refusal | None:
    """AWS's refusal of this request for a quota, or None. `body()` reads the request body
    (leaving it for moto), only for the calls checked here."""
    if target in ("AWSEvents.PutRule", "AWSEvents.PutTargets"):
        try:
            return events_refusal(target, region, json.loads(body() or b"{}"))
        except ValueError:
            return None
    if method == "POST" and path.endswith(("/policy", "/policy/")):
        return lambda_policy_refusal(method, path, query, region, body())
    return None


def events_refusal(target: str, region: str, body: dict[str, Any]) -> Refusal | None:
    bus_name = str(body.get("EventBusName") or "default").split("/")[-1]
    bus = backends.events(region).event_buses.get(bus_name)
    if bus is None:
        return None
    if target == "AWSEvents.PutRule":
        if body.get("Name") not in bus.rules and len(bus.rules) >= RULES_PER_BUS:
            return _limit("The requested resource exceeds the maximum number allowed.")
    elif target == "AWSEvents.PutTargets":
        rule = bus.rules.get(str(body.get("Rule") or ""))
        if rule is not None:
            ids = {str(t.get("Id")) for t in rule.targets} | {
                str(t.get("Id")) for t in body.get("Targets") or []}
            if len(ids) > TARGETS_PER_RULE:
                return _limit("The requested resource exceeds the maximum number allowed.")
    return None


def lambda_policy_refusal(method: str, path: str, query: str, region: str,
                          raw: bytes) -> Refusal | None:
    m = _POLICY_PATH.match(path)
    if method != "POST" or not m:
        return None
    name = unquote(m.group("name"))
    given = parse_qs(query).get("Qualifier")
    qualifier = given[0] if given else None
    if ":" in name and not name.startswith("arn:"):
        name, qualifier = name.split(":", 1)
    fn = backends.get_function(region, name, qualifier)
    if fn is None:
        return None
    try:
        added = json.loads(raw.decode() or "{}", object_hook=fn.policy.decode_policy)
        statements = [*fn.policy.statements, *added.statements[:1]]
    except Exception:  # malformed: moto answers it
        return None
    doc = {"Version": "2012-10-17", "Id": "default", "Statement": statements}
    size = len(json.dumps(doc, separators=(",", ":")))
    if size <= FUNCTION_POLICY_BYTES:
        return None
    return 400, json.dumps({
        "Type": "User", "message": f"The final policy size ({size}) is bigger than the limit "
        f"({FUNCTION_POLICY_BYTES})."}).encode(), {
        "x-amzn-ErrorType": "PolicyLengthExceededException"}
