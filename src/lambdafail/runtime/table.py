"""The state table's definition: keys, billing, TTL attribute (its items: docs/architecture.md).

Rule: the one definition, used by the orchestrator (state.py), deploy (planner, executor,
inventory) and tests; no import at all, so the pure planner and the renderers stay boto3-free.
"""

from __future__ import annotations

from typing import Any

#: The attribute DynamoDB's TTL expires items by (processed events, drill locks).
TTL_ATTRIBUTE = "expires_at"


def table_definition(table_name: str) -> dict[str, Any]:
    """CreateTable arguments for the state table: the one definition deploy (executor, planner,
    inventory) and tests use."""
    return {
        "TableName": table_name,
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"},
                                 {"AttributeName": "sk", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"},
                      {"AttributeName": "sk", "KeyType": "RANGE"}],
        "BillingMode": "PAY_PER_REQUEST",
    }


def key_schema_text(definition: dict[str, Any]) -> str:
    """A table's keys as one comparable string ("pk:S:HASH,sk:S:RANGE"), from CreateTable
    arguments or a DescribeTable answer."""
    types = {a["AttributeName"]: a["AttributeType"]
             for a in definition.get("AttributeDefinitions", [])}
    return ",".join(f"{k['AttributeName']}:{types.get(k['AttributeName'], '?')}:{k['KeyType']}"
                    for k in definition["KeySchema"])
