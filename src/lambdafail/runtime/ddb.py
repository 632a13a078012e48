"""DynamoDB attribute values and condition failures, for the state table's code.

Rule: boto3's TypeSerializer refuses floats (DynamoDB numbers are decimals), so every value
goes through here both ways; a failed condition is told apart from a throttled or conflicting
transaction, which wrote nothing and may be retried. stdlib + boto3 only.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any


def to_ddb(value: Any) -> Any:
    from boto3.dynamodb.types import TypeSerializer

    return TypeSerializer().serialize(decimalize(value))


def decimalize(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {k: decimalize(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [decimalize(v) for v in value]
    return value


def undecimal(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: undecimal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [undecimal(v) for v in value]
    if isinstance(value, set):
        return sorted(undecimal(v) for v in value)
    return value


def from_ddb_item(item: dict[str, Any]) -> dict[str, Any]:
    from boto3.dynamodb.types import TypeDeserializer

    de = TypeDeserializer()
    return {k: undecimal(de.deserialize(v)) for k, v in item.items()}


def ddb_item(d: dict[str, Any]) -> dict[str, Any]:
    return {k: to_ddb(v) for k, v in d.items()}


def replicated_conflict(err: Exception) -> bool:
    """Did a write lose to a concurrent write of the same item from another region (a
    multi-Region strongly consistent global table)? Nothing was written; a re-read and retry
    may succeed."""
    resp = getattr(err, "response", None) or {}
    return bool(resp.get("Error", {}).get("Code") == "ReplicatedWriteConflictException")


def conditional_failed(err: Exception) -> bool:
    """Did a condition fail (someone else wrote first)? Timeouts and throttling did not."""
    # Network errors carry `response = None`, not a missing attribute.
    resp = getattr(err, "response", None) or {}
    code = resp.get("Error", {}).get("Code", "")
    if code == "ConditionalCheckFailedException":
        return True
    if code != "TransactionCanceledException":
        return False
    # A cancelled transaction says why, per item: only a failed condition means we lost;
    # TransactionConflict or ThrottlingError mean nothing was written and a retry may succeed.
    reasons = [r.get("Code") for r in resp.get("CancellationReasons") or []]
    return not reasons or "ConditionalCheckFailed" in reasons
