"""The state table's short-lived claims: processed-event marks and drill locks.

Rule: each claim is one conditional write (PutItem `attribute_not_exists` or lapsed), so two
invocations — in one region or several — never both hold it; every claim carries `expires_at`
(DynamoDB's TTL deletes it on single-region tables; an expired claim is free either way).
A mixin of `state.StateStore`. stdlib + boto3 only.
"""

from __future__ import annotations

from typing import Any

from lambdafail.runtime.clock import iso
from lambdafail.runtime.ddb import conditional_failed, ddb_item, from_ddb_item

EVENT_TTL_SECONDS = 24 * 3600


class Marks:
    table: str
    ddb: Any

    def mark_event(self, event_id: str, now: float | None = None,
                   claim_seconds: float | None = None) -> bool:
        """Claim an event id for processing; False if it is done or being processed (skip it).

        With `claim_seconds` the claim is provisional until `finish_event`: if the invocation
        dies without finishing (a Lambda timeout kills it, no `except` runs), the claim lapses
        when that invocation could no longer be running, and EventBridge's retry is processed.
        """
        import time

        t = time.time() if now is None else now
        item: dict[str, Any] = {"pk": "event", "sk": event_id,
                                "expires_at": int(t) + EVENT_TTL_SECONDS}
        if claim_seconds is not None:
            item.update(status="processing", claim_until=t + claim_seconds)
        try:
            # DynamoDB deletes expired items lazily (up to days later): an expired mark is free.
            self.ddb.put_item(
                TableName=self.table, Item=ddb_item(item),
                ConditionExpression="attribute_not_exists(pk) OR expires_at < :now OR "
                                    "(#status = :processing AND claim_until < :t)",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=ddb_item({":now": int(t), ":t": t,
                                                 ":processing": "processing"}))
            return True
        except Exception as e:
            if conditional_failed(e):
                return False
            raise

    def finish_event(self, event_id: str, now: float | None = None) -> None:
        """The claimed event was processed: it is a duplicate from now on (for 24 h)."""
        import time

        t = time.time() if now is None else now
        self.ddb.update_item(
            TableName=self.table, Key=ddb_item({"pk": "event", "sk": event_id}),
            UpdateExpression="SET #status = :done, expires_at = :exp REMOVE claim_until",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=ddb_item({":done": "done",
                                             ":exp": int(t) + EVENT_TTL_SECONDS}))

    def unmark_event(self, event_id: str) -> None:
        """Forget an event id whose processing crashed, so EventBridge's retry is processed."""
        self.ddb.delete_item(TableName=self.table, Key=ddb_item({"pk": "event", "sk": event_id}))

    def acquire_drill_lock(self, service: str, drill_id: str, owner: str, ttl_seconds: float,
                           now: float | None = None) -> bool:
        import time

        t = time.time() if now is None else now
        item = {"pk": "drill", "sk": service, "drill_id": drill_id, "owner": owner,
                "started_at": iso(t), "lock_expires_epoch": int(t + ttl_seconds),
                "expires_at": int(t + ttl_seconds) + EVENT_TTL_SECONDS}
        try:
            self.ddb.put_item(
                TableName=self.table, Item=ddb_item(item),
                ConditionExpression="attribute_not_exists(pk) OR lock_expires_epoch < :now "
                                    "OR drill_id = :id",
                ExpressionAttributeValues=ddb_item({":now": int(t), ":id": drill_id}))
            return True
        except Exception as e:
            if conditional_failed(e):
                return False
            raise

    def drill_lock(self, service: str) -> dict[str, Any] | None:
        resp = self.ddb.get_item(TableName=self.table, ConsistentRead=True,
                                 Key=ddb_item({"pk": "drill", "sk": service}))
        item = resp.get("Item")
        return from_ddb_item(item) if item else None

    def release_drill_lock(self, service: str, drill_id: str) -> bool:
        try:
            self.ddb.delete_item(TableName=self.table, Key=ddb_item({"pk": "drill", "sk": service}),
                                 ConditionExpression="drill_id = :id",
                                 ExpressionAttributeValues=ddb_item({":id": drill_id}))
            return True
        except Exception as e:
            if conditional_failed(e):
                return False
            raise
