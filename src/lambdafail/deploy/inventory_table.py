"""The state table as the inventory sees it: the table, its seeded service items, the stored
compiled topologies and the drill locks.

Rule: read-only (Describe/List/Query, never a write); a replica region of a global table (several
control regions) sees only the items — the table itself is the home region's deploy's.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from lambdafail.aws import AwsContext, call
from lambdafail.deploy.inventory_base import get_or_none as _get
from lambdafail.deploy.inventory_base import tag_map as _tag_list
from lambdafail.deploy.resources import Resource
from lambdafail.model import naming
from lambdafail.runtime.table import key_schema_text


def drill_locks(ctx: AwsContext, table: str) -> dict[str, float]:
    """service -> when its drill lock expires (epoch), for the locks in the table."""
    out: dict[str, float] = {}
    kw: dict[str, Any] = {"TableName": table, "KeyConditionExpression": "pk = :p",
                          "ExpressionAttributeValues": {":p": {"S": "drill"}}}
    while True:
        page = call(ctx.client("dynamodb"), "query", resource=f"{table} drill locks", **kw)
        for item in page.get("Items", []):
            out[item["sk"]["S"]] = float(item.get("lock_expires_epoch", {}).get("N", "0"))
        if not page.get("LastEvaluatedKey"):
            return out
        kw["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def config_items(ctx: AwsContext, table: str, shas: set[str]) -> dict[str, dict[str, Any]]:
    """The compiled topologies deploy stored under these hashes (stored_config); a hash with
    no readable item (deployed before these were kept) is simply absent."""
    from lambdafail.deploy import stored_config

    return stored_config.read(ctx, table, shas)


# DynamoDB's tag reads are eventually consistent ("wait for a few seconds, and then try the
# ListTagsOfResource request again"): a table created this recently that shows no tags at all
# is read again, after these waits, before it can look foreign.
TAG_SETTLE_AGE_SECONDS = 600.0
TAG_RETRY_DELAYS = (1.0, 2.0, 4.0)


def _table_tags(ddb: Any, name: str, table: dict[str, Any], notes: list[str]) -> dict[str, str]:
    def read() -> dict[str, str]:
        return _tag_list(call(ddb, "list_tags_of_resource", resource=name,
                              ResourceArn=table["TableArn"]).get("Tags"))

    tags = read()
    created = table.get("CreationDateTime")
    if tags or created is None or not hasattr(created, "timestamp"):
        return tags
    age = time.time() - float(created.timestamp())
    if age > TAG_SETTLE_AGE_SECONDS:
        return tags
    waited = 0.0
    for delay in TAG_RETRY_DELAYS:
        time.sleep(delay)
        waited += delay
        tags = read()
        if tags:
            break
    notes.append(f"table {name} was created {age:.0f}s ago and showed no tags (DynamoDB tag "
                 f"reads are eventually consistent): read again after {waited:.0f}s, "
                 + ("tags found" if tags else "still none"))
    return tags


def state_table(ctx: AwsContext, name: str, notes: list[str], replica: bool = False
           ) -> Iterator[Resource]:
    """The state table and its seeded items. In a replica region (several control regions)
    only the items: the table itself belongs to the home region's deploy."""
    ddb = ctx.client("dynamodb")
    got = _get(ddb, "describe_table", resource=name, TableName=name)
    if got is None:
        return
    t = got["Table"]
    if replica:
        if t.get("TableStatus") == "ACTIVE":
            yield from _service_items(ddb, name)
        return
    keys = key_schema_text(t)
    tags = _table_tags(ddb, name, t, notes)
    backups = call(ddb, "describe_continuous_backups", resource=name, TableName=name)
    pitr = (backups["ContinuousBackupsDescription"].get("PointInTimeRecoveryDescription", {})
            .get("PointInTimeRecoveryStatus") == "ENABLED")
    ttl = call(ddb, "describe_time_to_live", resource=name,
               TableName=name)["TimeToLiveDescription"]
    ttl_attr = ttl.get("AttributeName") if ttl.get("TimeToLiveStatus") in (
        "ENABLED", "ENABLING") else None
    spec = {"billing_mode": t.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED"),
            "key_schema": keys, "point_in_time_recovery": pitr, "ttl_attribute": ttl_attr}
    replicas = sorted(r["RegionName"] for r in t.get("Replicas") or [])
    if replicas:  # a global table (a single-region one keeps the spec it always had)
        spec["replicas"] = replicas
        spec["consistency"] = t.get("MultiRegionConsistency", "EVENTUAL")
    yield Resource("table", name, spec, tags, context={
        "arn": t["TableArn"], "replica_status": {r["RegionName"]: r.get("ReplicaStatus")
                                                 for r in t.get("Replicas") or []}})
    if tags.get(naming.TAG_TOPOLOGY) is None or t.get("TableStatus") != "ACTIVE":
        return
    yield from _service_items(ddb, name)


def _service_items(ddb: Any, name: str) -> Iterator[Resource]:
    # Seeded service items: one query for all of them.
    # Where each service is (side, phase, pause): plan refuses edits that would move traffic
    # of a service that is not steady on its primary (deploy/guard.py).
    kw: dict[str, Any] = {"TableName": name, "KeyConditionExpression": "pk = :p",
                          "ExpressionAttributeValues": {":p": {"S": "service"}},
                          "ProjectionExpression": "sk, #a, #ph, #pa, #pe",
                          "ExpressionAttributeNames": {"#a": "active", "#ph": "phase",
                                                       "#pa": "paused", "#pe": "pending"}}
    while True:
        page = call(ddb, "query", resource=name, **kw)
        for item in page.get("Items", []):
            svc = item["sk"]["S"]
            paused = item.get("paused", {}).get("M", {})
            pending = item.get("pending", {}).get("M", {})
            yield Resource("item", svc, {"active": item.get("active", {}).get("S")},
                           service=svc, context={
                               "phase": item.get("phase", {}).get("S", "steady"),
                               "paused_until": float(paused["until"]["N"])
                               if "until" in paused else None,
                               "pending_to": pending.get("to", {}).get("S")})
        if not page.get("LastEvaluatedKey"):
            break
        kw["ExclusiveStartKey"] = page["LastEvaluatedKey"]
