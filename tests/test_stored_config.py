"""The compiled topologies kept in the state table: compressed, split into parts when large,
read back whole or not at all (in-process moto)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import boto3
import pytest

from deploy_support import context, deploy, multi, replan
from lambdafail.deploy import stored_config
from lambdafail.deploy.package import canonical_json
from lambdafail.runtime.state import table_definition

pytestmark = pytest.mark.usefixtures("mocked_aws")

TABLE = "lambdafail-t-state"


def _table() -> Any:
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    ddb.create_table(**table_definition(TABLE))
    return ddb


def _doc(n: int) -> dict[str, Any]:
    # sha256 hex digests: incompressible enough that zlib cannot fold the parts away.
    return {"format": 1, "services": {f"s{i}": hashlib.sha256(str(i).encode()).hexdigest()
                                      for i in range(n)}}


def _config_items(ddb: Any) -> list[dict[str, Any]]:
    return ddb.query(TableName=TABLE, KeyConditionExpression="pk = :p",
                     ExpressionAttributeValues={":p": {"S": "config"}})["Items"]


def test_a_small_topology_is_one_compressed_item() -> None:
    ddb = _table()
    raw = canonical_json(_doc(10))
    sha = hashlib.sha256(raw).hexdigest()
    stored_config.write(context(), TABLE, raw)
    [item] = _config_items(ddb)
    assert item["sk"]["S"] == sha and "parts" not in item
    assert len(item["data"]["B"]) < len(raw)
    assert stored_config.read(context(), TABLE, {sha}) == {sha: _doc(10)}


def test_a_large_topology_is_split_and_read_back_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stored_config, "PART_BYTES", 4000)
    ddb = _table()
    raw = canonical_json(_doc(1000))
    sha = hashlib.sha256(raw).hexdigest()
    stored_config.write(context(), TABLE, raw)
    items = {i["sk"]["S"]: i for i in _config_items(ddb)}
    head = items.pop(sha)
    assert "data" not in head and int(head["parts"]["N"]) == len(items) > 5
    assert all(k.startswith(f"{sha}#{head['digest']['S']}#") for k in items)
    assert all(len(i["data"]["B"]) <= 4000 for i in items.values())
    assert stored_config.read(context(), TABLE, {sha, "0" * 64}) == {sha: _doc(1000)}
    # Written once: a second write (another deploy of the same topology) changes nothing.
    ctx = context()
    stored_config.write(ctx, TABLE, raw)
    assert [op for _, op in ctx.calls] == ["GetItem"]


def test_a_head_whose_parts_are_missing_or_altered_is_absent(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stored_config, "PART_BYTES", 4000)
    ddb = _table()
    raw = canonical_json(_doc(1000))
    sha = hashlib.sha256(raw).hexdigest()
    stored_config.write(context(), TABLE, raw)
    parts = sorted(i["sk"]["S"] for i in _config_items(ddb) if i["sk"]["S"] != sha)
    ddb.put_item(TableName=TABLE, Item={"pk": {"S": "config"}, "sk": {"S": parts[1]},
                                        "data": {"B": b"x" * 10}})
    assert stored_config.read(context(), TABLE, {sha}) == {}
    ddb.delete_item(TableName=TABLE, Key={"pk": {"S": "config"}, "sk": {"S": parts[1]}})
    assert stored_config.read(context(), TABLE, {sha}) == {}


def test_a_compressed_item_whose_content_does_not_match_its_hash_is_absent() -> None:
    ddb = _table()
    head, _ = stored_config.encode(canonical_json(_doc(3)))
    head["sk"] = {"S": "f" * 64}
    ddb.put_item(TableName=TABLE, Item=head)
    assert stored_config.read(context(), TABLE, {"f" * 64}) == {}


def test_items_kept_before_compression_are_still_read() -> None:
    ddb = _table()
    ddb.put_item(TableName=TABLE, Item={"pk": {"S": "config"}, "sk": {"S": "a" * 64},
                                        "compiled": {"S": json.dumps(_doc(2))}})
    assert stored_config.read(context(), TABLE, {"a" * 64}) == {"a" * 64: _doc(2)}


def test_keys_dynamodb_leaves_unprocessed_are_asked_again(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stored_config, "PART_BYTES", 4000)
    monkeypatch.setattr(stored_config.time, "sleep", lambda s: None)
    _table()
    raw = canonical_json(_doc(1000))
    sha = hashlib.sha256(raw).hexdigest()
    stored_config.write(context(), TABLE, raw)
    ctx = context()
    held: list[int] = []

    def hold_back_half(parsed: dict[str, Any], **_: Any) -> None:
        # What BatchGetItem does past 16 MB or when throttled: some keys come back unprocessed.
        got = parsed.get("Responses", {}).get(TABLE, [])
        if len(got) > 1 and len(held) < 2:
            keep, rest = got[: len(got) // 2], got[len(got) // 2:]
            parsed["Responses"][TABLE] = keep
            parsed["UnprocessedKeys"] = {TABLE: {"Keys": [
                {"pk": i["pk"], "sk": i["sk"]} for i in rest]}}
            held.append(len(rest))

    ctx.client("dynamodb").meta.events.register("after-call.dynamodb.BatchGetItem",
                                                hold_back_half)
    assert stored_config.read(ctx, TABLE, {sha}) == {sha: _doc(1000)}
    assert held and [op for _, op in ctx.calls].count("BatchGetItem") == 2 + len(held)


def test_a_deployed_topology_stored_in_parts_plans_clean_and_diffs(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stored_config, "PART_BYTES", 200)
    deploy(multi())
    items = boto3.client("dynamodb").query(
        TableName="lambdafail-multi-state", KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": "config"}})["Items"]
    assert len(items) > 2, "the compiled topology should need several parts here"
    assert replan(multi()).pending == []
    # The field-level diff of the next plan reads the deployed topology back from its parts.
    edited = replan(multi(edit=lambda t: t.replace("timeout_seconds: 3", "timeout_seconds: 4")))
    [fn] = [c for c in edited.pending if c.kind == "function"]
    assert any(d.field.startswith("config.services.") and d.field.endswith("timeout_seconds")
               and d.before == 3 and d.after == 4 for d in fn.diffs), fn.diffs
