"""The compiled topologies deploy keeps in the state table (pk = "config", sk = its sha256).

Rule: a DynamoDB item is at most 400 KB (attribute names and values together), so a compiled
topology is stored zlib-compressed as Binary, and split into parts of at most PART_BYTES when
even that is too large; the head item (sk = the sha256) is written last and only if absent, so a
head that exists names parts that all exist. A reader reassembles, decompresses and checks the
sha256 against the key: anything that does not match is treated as absent, never trusted. Items
written before compression (a `compiled` string) are still read.
"""

from __future__ import annotations

import hashlib
import json
import time
import zlib
from typing import Any

from lambdafail.aws import AwsContext, call
from lambdafail.base.errors import AwsError

PK = "config"
# Binary payload per item. 400 KB is DynamoDB's cap for a whole item; the rest (keys, attribute
# names, the part count) is under 200 bytes, so this leaves a wide margin.
PART_BYTES = 350_000
BATCH_KEYS = 100  # BatchGetItem takes at most 100 keys a call
# BatchGetItem returns at most 16 MB and may leave keys unprocessed (size, throttling): they
# are asked again, a bounded number of times with backoff.
BATCH_ATTEMPTS = 8
BATCH_MAX_DELAY = 2.0


def encode(compiled_json: bytes) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(head attributes, part items) for the canonical JSON of a compiled topology.

    The head carries the data itself when it fits in one part (the usual case); otherwise the
    parts are items keyed `<sha256>#<digest of the compressed bytes>#<index>`: two builds whose
    zlib differ (zlib, zlib-ng) never mix their parts.
    """
    sha = hashlib.sha256(compiled_json).hexdigest()
    blob = zlib.compress(compiled_json, 9)
    head: dict[str, Any] = {"pk": {"S": PK}, "sk": {"S": sha}, "encoding": {"S": "zlib"},
                            "size": {"N": str(len(compiled_json))}}
    if len(blob) <= PART_BYTES:
        head["data"] = {"B": blob}
        return head, []
    digest = hashlib.sha256(blob).hexdigest()[:16]
    chunks = [blob[i:i + PART_BYTES] for i in range(0, len(blob), PART_BYTES)]
    head["parts"] = {"N": str(len(chunks))}
    head["digest"] = {"S": digest}
    parts = [{"pk": {"S": PK}, "sk": {"S": _part_key(sha, digest, i)}, "data": {"B": chunk}}
             for i, chunk in enumerate(chunks)]
    return head, parts


def _part_key(sha: str, digest: str, index: int) -> str:
    return f"{sha}#{digest}#{index:05d}"


def _part_keys(head: dict[str, Any]) -> list[str]:
    sha, digest = head["sk"]["S"], head["digest"]["S"]
    return [_part_key(sha, digest, i) for i in range(int(head["parts"]["N"]))]


def decode(head: dict[str, Any], parts: dict[str, bytes]) -> dict[str, Any] | None:
    """The compiled topology a head (and its parts, by sort key) holds; None if unreadable."""
    sha = head.get("sk", {}).get("S", "")
    try:
        if "compiled" in head:  # written before compression: plain JSON, trusted as it was
            doc = json.loads(head["compiled"]["S"])
            return doc if isinstance(doc, dict) else None
        if head.get("encoding", {}).get("S") != "zlib":
            return None
        if "data" in head:
            blob = bytes(head["data"]["B"])
        else:
            blob = b"".join(parts[k] for k in _part_keys(head))
        raw = zlib.decompress(blob)
    except (KeyError, ValueError, TypeError, zlib.error):
        return None
    if hashlib.sha256(raw).hexdigest() != sha:
        return None
    doc = json.loads(raw)
    return doc if isinstance(doc, dict) else None


def write(ctx: AwsContext, table: str, compiled_json: bytes) -> None:
    """Store a compiled topology once: parts first, then the head (only if absent)."""
    ddb = ctx.client("dynamodb")
    head, parts = encode(compiled_json)
    sha = head["sk"]["S"]
    if parts and call(ddb, "get_item", resource=f"{table} config/{sha}", TableName=table,
                      ConsistentRead=True, Key={"pk": head["pk"], "sk": head["sk"]},
                      ProjectionExpression="sk").get("Item"):
        return  # kept by an earlier deploy; its parts are in place
    for part in parts:
        # Unconditional: a deploy that died between parts rewrites the same bytes.
        call(ddb, "put_item", resource=f"{table} config/{part['sk']['S']}", TableName=table,
             Item=part)
    try:
        call(ddb, "put_item", resource=f"{table} config/{sha}", TableName=table, Item=head,
             ConditionExpression="attribute_not_exists(pk)")
    except AwsError as e:
        if e.code != "ConditionalCheckFailedException":
            raise


def read(ctx: AwsContext, table: str, shas: set[str]) -> dict[str, dict[str, Any]]:
    """The compiled topologies stored under these hashes; a hash with no readable item (never
    kept, or kept before deploy stored them) is simply absent."""
    if not shas:
        return {}
    heads = _batch_get(ctx, table, sorted(shas))
    wanted = [k for h in heads.values() if "parts" in h and "digest" in h
              for k in _part_keys(h)]
    parts = {k: bytes(item["data"]["B"]) for k, item in _batch_get(ctx, table, wanted).items()
             if "data" in item}
    out: dict[str, dict[str, Any]] = {}
    for sha, head in heads.items():
        doc = decode(head, parts)
        if doc is not None:
            out[sha] = doc
    return out


def _batch_get(ctx: AwsContext, table: str, sort_keys: list[str]) -> dict[str, dict[str, Any]]:
    """Items by sort key: BatchGetItem by 100 keys, unprocessed keys asked again (bounded)."""
    ddb = ctx.client("dynamodb")
    out: dict[str, dict[str, Any]] = {}
    for i in range(0, len(sort_keys), BATCH_KEYS):
        keys: list[dict[str, Any]] = [{"pk": {"S": PK}, "sk": {"S": k}}
                                      for k in sort_keys[i:i + BATCH_KEYS]]
        delay = 0.1
        for attempt in range(BATCH_ATTEMPTS):
            got = call(ddb, "batch_get_item", resource=table, RequestItems={
                table: {"Keys": keys, "ConsistentRead": True}})
            for item in got.get("Responses", {}).get(table, []):
                out[item["sk"]["S"]] = item
            keys = got.get("UnprocessedKeys", {}).get(table, {}).get("Keys", [])
            if not keys:
                break
            if attempt == BATCH_ATTEMPTS - 1:
                raise AwsError(f"DynamoDB left {len(keys)} stored configuration item(s) of "
                               f"{table} unread after {BATCH_ATTEMPTS} attempts",
                               hint="the table is throttled; re-run in a minute",
                               operation="batch_get_item", resource=table)
            time.sleep(delay)
            delay = min(delay * 2, BATCH_MAX_DELAY)
    return out


def set_expiry(ctx: AwsContext, table: str, sha: str, expires_at: int | None) -> bool:
    """Give a stored configuration (head and parts) DynamoDB's TTL `expires_at`, or remove it
    (None). False when it is not stored. Used when a deploy supersedes one configuration with
    another: the old one expires after the topology's history retention, the live one never."""
    from lambdafail.runtime.table import TTL_ATTRIBUTE

    ddb = ctx.client("dynamodb")
    update: dict[str, Any] = (
        {"UpdateExpression": "REMOVE #ttl"} if expires_at is None else
        {"UpdateExpression": "SET #ttl = :at",
         "ExpressionAttributeValues": {":at": {"N": str(int(expires_at))}}})

    def touch(sort_key: str) -> dict[str, Any] | None:
        try:
            got = call(ddb, "update_item", resource=f"{table} config/{sort_key}",
                       TableName=table, Key={"pk": {"S": PK}, "sk": {"S": sort_key}},
                       ConditionExpression="attribute_exists(pk)",
                       ExpressionAttributeNames={"#ttl": TTL_ATTRIBUTE},
                       ReturnValues="ALL_NEW", **update)
        except AwsError as e:
            if e.code in ("ConditionalCheckFailedException", "ResourceNotFoundException"):
                return None
            raise
        return dict(got.get("Attributes") or {})

    head = touch(sha)
    if head is None:
        return False
    if "parts" in head and "digest" in head:
        for key in _part_keys(head):
            touch(key)
    return True
