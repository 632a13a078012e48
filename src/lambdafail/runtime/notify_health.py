"""Whether the orchestrator's notifications reach anyone: recorded on the heartbeat item.

Rule: written only when a notification was attempted (a transition, or "both targets down"),
never by a steady tick; read by `status` from the heartbeat item it already reads (no extra
call). Attributes: `notify_error` (the last failure, "<channel>: <error>"), `notify_error_at`
and `notify_ok_at` (ISO-8601 UTC, so they compare as text). Notifications are failing when
the last failure is newer than the last success. Stdlib only; the DynamoDB client is given.
"""

from __future__ import annotations

from typing import Any

from lambdafail.runtime.clock import iso

ERROR_MAX = 500  # characters of the error kept


def record(ddb: Any, table: str, now: float, errors: list[str]) -> None:
    """One UpdateItem: the outcome of one notification (its channels' errors, [] if all
    were delivered)."""
    if errors:
        expr = "SET notify_error = :e, notify_error_at = :at"
        values = {":e": {"S": "; ".join(errors)[:ERROR_MAX]}, ":at": {"S": iso(now)}}
    else:
        expr = "SET notify_ok_at = :at"
        values = {":at": {"S": iso(now)}}
    ddb.update_item(TableName=table, Key={"pk": {"S": "orchestrator"},
                                          "sk": {"S": "heartbeat"}},
                    UpdateExpression=expr, ExpressionAttributeValues=values)


def failing(beat: dict[str, Any] | None) -> tuple[str, str] | None:
    """(error, since) when the heartbeat item says the last notification failed."""
    if not beat or not beat.get("notify_error_at"):
        return None
    at = str(beat["notify_error_at"])
    if str(beat.get("notify_ok_at") or "") > at:
        return None
    return str(beat.get("notify_error") or "unknown error"), at
