"""The sandbox honours DynamoDB's ClientRequestToken on TransactWriteItems, as AWS does and
moto does not: a resend of a successful transaction succeeds without writing, the same token
on another request is refused. Then the orchestrator's commit (no transaction: global tables
in strong mode have none) whose reply was lost, on the sandbox: the resend fails its condition,
the commit token says it was ours, and the log entry is written once.
"""

from __future__ import annotations

from typing import Any

import pytest

from lambdafail.runtime.state import StateStore, table_definition
from lambdafail.sandbox.server import Sandbox
from sandbox_support import Clients, uid


def _put(table: str, key: str, token: str | None) -> dict[str, Any]:
    kw: dict[str, Any] = {"TransactItems": [{"Put": {
        "TableName": table, "Item": {"pk": {"S": "p"}, "sk": {"S": key}},
        "ConditionExpression": "attribute_not_exists(pk)"}}]}
    if token:
        kw["ClientRequestToken"] = token
    return kw


def _table(aws: Clients) -> str:
    name = uid("tok")
    aws("dynamodb").create_table(**table_definition(name))
    return name


def test_sandbox_resent_transaction_with_its_token_succeeds_once(sandbox: Sandbox,
                                                                 aws: Clients) -> None:
    ddb = aws("dynamodb")
    table = _table(aws)
    ddb.transact_write_items(**_put(table, "a", "token-1"))
    ddb.transact_write_items(**_put(table, "a", "token-1"))  # the resend: a success, no write
    assert ddb.scan(TableName=table)["Count"] == 1
    # Without a token the same request is new: its condition fails, as on AWS and in moto.
    with pytest.raises(ddb.exceptions.TransactionCanceledException):
        ddb.transact_write_items(**_put(table, "a", None))


def test_sandbox_same_token_other_request_is_a_mismatch(sandbox: Sandbox, aws: Clients) -> None:
    ddb = aws("dynamodb")
    table = _table(aws)
    ddb.transact_write_items(**_put(table, "a", "token-2"))
    with pytest.raises(ddb.exceptions.IdempotentParameterMismatchException):
        ddb.transact_write_items(**_put(table, "b", "token-2"))
    assert ddb.scan(TableName=table)["Count"] == 1


def test_sandbox_commit_whose_reply_was_lost_is_told_by_its_token(sandbox: Sandbox,
                                                                  aws: Clients) -> None:
    """The commit (one conditional UpdateItem) lands, the caller never sees the reply and
    sends it again: the resend fails its condition, and the commit token kept with the
    transition tells the committer it was its own; the log item it carries is written by the
    repair, once."""
    from botocore.exceptions import ReadTimeoutError

    from lambdafail.runtime import transitions as tr
    from lambdafail.runtime.state import StateConflict

    ddb = aws("dynamodb")
    table = _table(aws)
    store = StateStore(table, ddb)
    store.seed("checkout", 1000.0)
    st = store.get("checkout")
    assert st is not None
    pending = tr.new_pending(st, "standby", reason="probe", actor="orchestrator", evidence={},
                             now=1000.0)
    st.phase, st.pending = "switching", pending
    store.save(st, st.version)
    sent = [0]

    def lose_first_reply(**_: Any) -> None:
        sent[0] += 1
        if sent[0] == 1:
            raise ReadTimeoutError(endpoint_url=aws.url)

    ddb.meta.events.register("after-call.dynamodb.UpdateItem", lose_first_reply)
    with pytest.raises(ReadTimeoutError):
        store.commit("checkout", pending, 1001.0, token="commit-token-1")
    with pytest.raises(StateConflict):
        store.commit("checkout", pending, 1001.0, token="commit-token-1")  # the resend
    assert sent[0] == 2
    after = store.get("checkout")
    assert after is not None and after.active == "standby"
    last = after.last_transition or {}
    assert last.get("commit_token") == "commit-token-1" and last["unlogged"]["to"] == "standby"
    assert store.log() == []
    assert store.repair_unlogged(store.load_all()) == ["checkout"]
    assert store.repair_unlogged(store.load_all()) == []
    assert [(e["to"], e["transition_id"]) for e in store.log()] == [("standby", pending["id"])]


def test_sandbox_dynamodb_requests_are_atomic(sandbox: Sandbox, aws: Clients) -> None:
    """Many concurrent conditional puts of one key: exactly one wins, as on DynamoDB (the
    sandbox applies DynamoDB requests one at a time; moto alone checks and writes unlocked)."""
    from concurrent.futures import ThreadPoolExecutor

    table = _table(aws)
    clients = [aws("dynamodb") for _ in range(8)]

    def put(i: int) -> bool:
        ddb = clients[i % len(clients)]
        try:
            ddb.put_item(TableName=table, Item={"pk": {"S": "p"}, "sk": {"S": "one"},
                                                "by": {"N": str(i)}},
                         ConditionExpression="attribute_not_exists(pk)")
            return True
        except ddb.exceptions.ConditionalCheckFailedException:
            return False

    with ThreadPoolExecutor(max_workers=8) as pool:
        won = list(pool.map(put, range(64)))
    assert won.count(True) == 1
