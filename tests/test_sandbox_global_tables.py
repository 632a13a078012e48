"""DynamoDB global tables with multi-Region strong consistency in the sandbox (global_tables.py):
the conversion and its refusals, one store read and written from all three Regions, what AWS
refuses on MRSC tables, the majority rule during outages, removing the replicas. Driven over
HTTP with boto3 clients signed for each Region."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError

from lambdafail.sandbox.server import Sandbox
from sandbox_support import uid

HOME, EAST2, WEST2 = "us-east-1", "us-east-2", "us-west-2"
ACCOUNT = "123456789012"
TRANSACTIONS_REFUSED = "Transactions are not supported on multi-Region strongly consistent tables"


def ddb(sandbox: Sandbox, region: str) -> Any:
    return boto3.client("dynamodb", endpoint_url=sandbox.endpoint_url, region_name=region,
                        aws_access_key_id="testing", aws_secret_access_key="testing",
                        config=Config(retries={"mode": "standard", "max_attempts": 1},
                                      connect_timeout=5, read_timeout=30))


def table(sandbox: Sandbox, region: str = HOME, lsi: bool = False) -> str:
    name = uid("gt")
    extra: dict[str, Any] = {}
    attrs = [{"AttributeName": "pk", "AttributeType": "S"}]
    if lsi:
        attrs.append({"AttributeName": "sk", "AttributeType": "S"})
        extra["LocalSecondaryIndexes"] = [{
            "IndexName": "by-sk", "Projection": {"ProjectionType": "ALL"},
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"},
                          {"AttributeName": "sk", "KeyType": "RANGE"}]}]
        attrs.append({"AttributeName": "rk", "AttributeType": "S"})
        keys = [{"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "rk", "KeyType": "RANGE"}]
    else:
        keys = [{"AttributeName": "pk", "KeyType": "HASH"}]
    ddb(sandbox, region).create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                                      AttributeDefinitions=attrs, KeySchema=keys, **extra)
    return name


def convert(sandbox: Sandbox, name: str, home: str = HOME,
            replicas: tuple[str, ...] = (EAST2, WEST2),
            consistency: str = "STRONG") -> dict[str, Any]:
    out: dict[str, Any] = ddb(sandbox, home).update_table(
        TableName=name, MultiRegionConsistency=consistency,
        ReplicaUpdates=[{"Create": {"RegionName": r}} for r in replicas])
    return out


def global_table(sandbox: Sandbox) -> str:
    name = table(sandbox)
    convert(sandbox, name)
    return name


def refusal(e: pytest.ExceptionInfo[ClientError]) -> tuple[int, str, str]:
    err = e.value.response["Error"]
    return (e.value.response["ResponseMetadata"]["HTTPStatusCode"], str(err["Code"]),
            str(err["Message"]))


def arn(region: str, name: str) -> str:
    return f"arn:aws:dynamodb:{region}:{ACCOUNT}:table/{name}"


def test_three_regions_of_one_set_make_a_strongly_consistent_global_table(
        sandbox: Sandbox) -> None:
    name = table(sandbox)
    desc = convert(sandbox, name)["TableDescription"]
    assert (desc["TableName"], desc["TableArn"], desc["TableStatus"]) == (
        name, arn(HOME, name), "UPDATING")
    assert desc["MultiRegionConsistency"] == "STRONG"
    assert desc["Replicas"] == [{"RegionName": EAST2, "ReplicaStatus": "CREATING"},
                                {"RegionName": WEST2, "ReplicaStatus": "CREATING"}]
    for region in (HOME, EAST2, WEST2):
        client = ddb(sandbox, region)
        client.get_waiter("table_exists").wait(TableName=name,
                                               WaiterConfig={"Delay": 1, "MaxAttempts": 5})
        got = client.describe_table(TableName=name)["Table"]
        assert (got["TableName"], got["TableArn"], got["TableStatus"]) == (
            name, arn(region, name), "ACTIVE")
        assert got["MultiRegionConsistency"] == "STRONG"
        assert got["Replicas"] == [{"RegionName": r, "ReplicaStatus": "ACTIVE"}
                                   for r in (HOME, EAST2, WEST2) if r != region]
        assert name in client.list_tables()["TableNames"]
    with pytest.raises(ClientError) as e:
        ddb(sandbox, EAST2).create_table(
            TableName=name, BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
    assert refusal(e) == (400, "ResourceInUseException", f"Table already exists: {name}")
    # The EU set works as well (any three of its four Regions).
    eu = table(sandbox, "eu-west-3")
    got = convert(sandbox, eu, "eu-west-3", ("eu-central-1", "eu-west-1"))["TableDescription"]
    assert [r["RegionName"] for r in got["Replicas"]] == ["eu-central-1", "eu-west-1"]
    assert ddb(sandbox, "eu-west-1").describe_table(TableName=eu)["Table"]["TableArn"] == arn(
        "eu-west-1", eu)


@pytest.mark.parametrize(("replicas", "said"), [
    ((EAST2,), "needs exactly 3 Regions: the table's Region and 2 replicas (got 2)"),
    ((EAST2, WEST2, "us-west-1"), "needs exactly 3 Regions: the table's Region and 2 "
                                  "replicas (got 4)"),
    ((EAST2, "eu-west-1"), "must all be in one Region set: US: us-east-1, us-east-2, "
                           "us-west-2; EU: eu-central-1, eu-west-1, eu-west-2, eu-west-3; "
                           "AP: ap-northeast-1, ap-northeast-2, ap-northeast-3"),
    ((EAST2, "us-west-1"), "must all be in one Region set"),
    ((HOME, EAST2), "Each replica Region must be named once, and not the table's own "
                    "Region (us-east-1)"),
    ((EAST2, EAST2), "Each replica Region must be named once"),
])
def test_regions_outside_the_rule_are_refused(sandbox: Sandbox, replicas: tuple[str, ...],
                                              said: str) -> None:
    name = table(sandbox)
    with pytest.raises(ClientError) as e:
        convert(sandbox, name, replicas=replicas)
    status, code, message = refusal(e)
    assert (status, code) == (400, "ValidationException")
    assert said in message
    assert "Replicas" not in ddb(sandbox, HOME).describe_table(TableName=name)["Table"]
    with pytest.raises(ClientError) as e:
        ddb(sandbox, EAST2).describe_table(TableName=name)
    assert refusal(e)[1] == "ResourceNotFoundException"


def test_only_an_empty_table_without_local_indexes_is_converted_and_only_once(
        sandbox: Sandbox) -> None:
    full = table(sandbox)
    ddb(sandbox, HOME).put_item(TableName=full, Item={"pk": {"S": "a"}})
    with pytest.raises(ClientError) as e:
        convert(sandbox, full)
    assert refusal(e) == (400, "ValidationException",
                          f"Table {full} is not empty: only an empty table can be made a "
                          "multi-Region strongly consistent global table")
    indexed = table(sandbox, lsi=True)
    with pytest.raises(ClientError) as e:
        convert(sandbox, indexed)
    assert refusal(e) == (400, "ValidationException", "Multi-Region strongly consistent "
                          "global tables do not support local secondary indexes")
    eventual = table(sandbox)
    with pytest.raises(ClientError) as e:
        convert(sandbox, eventual, consistency="EVENTUAL")
    assert refusal(e) == (400, "ValidationException",
                          "The sandbox emulates only multi-Region strongly consistent global "
                          "tables: MultiRegionConsistency must be STRONG")
    taken = table(sandbox)
    table_in_west = ddb(sandbox, WEST2)
    table_in_west.create_table(TableName=taken, BillingMode="PAY_PER_REQUEST",
                               AttributeDefinitions=[{"AttributeName": "pk",
                                                      "AttributeType": "S"}],
                               KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
    with pytest.raises(ClientError) as e:
        convert(sandbox, taken)
    assert refusal(e) == (400, "ValidationException", f"Table {taken} already exists in {WEST2}")
    with pytest.raises(ClientError) as e:
        convert(sandbox, uid("missing"))
    assert refusal(e)[:2] == (400, "ResourceNotFoundException")
    name = global_table(sandbox)
    for region, replicas in ((HOME, (EAST2, WEST2)), (EAST2, (HOME, WEST2))):
        with pytest.raises(ClientError) as e:
            convert(sandbox, name, region, replicas)
        assert refusal(e) == (400, "ValidationException",
                              f"Table {name} is a multi-Region strongly consistent global "
                              "table: replicas cannot be added to it")


def test_a_write_in_one_region_is_read_at_once_in_the_others(sandbox: Sandbox) -> None:
    name = global_table(sandbox)
    item = {"pk": {"S": "order-1"}, "n": {"N": "1"}}
    ddb(sandbox, WEST2).put_item(TableName=name, Item=item)
    for region in (EAST2, HOME, WEST2):
        assert ddb(sandbox, region).get_item(TableName=name, Key={"pk": {"S": "order-1"}},
                                             ConsistentRead=True)["Item"] == item
    ddb(sandbox, EAST2).update_item(TableName=name, Key={"pk": {"S": "order-1"}},
                                    UpdateExpression="SET n = n + :one",
                                    ExpressionAttributeValues={":one": {"N": "1"}})
    got = ddb(sandbox, HOME).query(TableName=name, ConsistentRead=True,
                                   KeyConditionExpression="pk = :k",
                                   ExpressionAttributeValues={":k": {"S": "order-1"}})
    assert got["Items"] == [{"pk": {"S": "order-1"}, "n": {"N": "2"}}]
    # A batch sent to a replica Region, the table named by its ARN there.
    ddb(sandbox, EAST2).batch_write_item(RequestItems={arn(EAST2, name): [
        {"PutRequest": {"Item": {"pk": {"S": "order-2"}}}},
        {"DeleteRequest": {"Key": {"pk": {"S": "order-1"}}}}]})
    scanned = ddb(sandbox, WEST2).scan(TableName=name, ConsistentRead=True)
    assert scanned["Items"] == [{"pk": {"S": "order-2"}}]
    got = ddb(sandbox, HOME).batch_get_item(RequestItems={name: {
        "Keys": [{"pk": {"S": "order-2"}}], "ConsistentRead": True}})
    assert got["Responses"] == {name: [{"pk": {"S": "order-2"}}]}
    ddb(sandbox, WEST2).delete_item(TableName=name, Key={"pk": {"S": "order-2"}})
    assert "Item" not in ddb(sandbox, EAST2).get_item(
        TableName=name, Key={"pk": {"S": "order-2"}}, ConsistentRead=True)
    assert ddb(sandbox, HOME).describe_table(TableName=name)["Table"]["ItemCount"] == 0


def test_a_condition_checks_the_version_written_in_another_region(sandbox: Sandbox) -> None:
    name = global_table(sandbox)
    key = {"pk": {"S": "lock"}}
    ddb(sandbox, HOME).put_item(TableName=name, Item={**key, "v": {"N": "1"}},
                                ConditionExpression="attribute_not_exists(pk)")
    with pytest.raises(ClientError) as e:
        ddb(sandbox, WEST2).put_item(TableName=name, Item={**key, "v": {"N": "9"}},
                                     ConditionExpression="attribute_not_exists(pk)")
    assert refusal(e)[:2] == (400, "ConditionalCheckFailedException")
    bump = {"UpdateExpression": "SET v = :new", "ConditionExpression": "v = :old",
            "ExpressionAttributeValues": {":old": {"N": "1"}, ":new": {"N": "2"}}}
    ddb(sandbox, EAST2).update_item(TableName=name, Key=key, **bump)
    with pytest.raises(ClientError) as e:
        ddb(sandbox, WEST2).update_item(TableName=name, Key=key, **bump)
    assert refusal(e)[:2] == (400, "ConditionalCheckFailedException")
    assert ddb(sandbox, WEST2).get_item(TableName=name, Key=key, ConsistentRead=True)[
        "Item"] == {**key, "v": {"N": "2"}}


def test_transactions_and_ttl_are_refused_on_a_strongly_consistent_table(
        sandbox: Sandbox) -> None:
    name = global_table(sandbox)
    other = table(sandbox)  # a single-Region table keeps its transactions
    put = {"Put": {"TableName": name, "Item": {"pk": {"S": "t"}}}}
    for region in (HOME, EAST2):
        with pytest.raises(ClientError) as e:
            ddb(sandbox, region).transact_write_items(TransactItems=[put])
        assert refusal(e) == (400, "ValidationException", TRANSACTIONS_REFUSED)
    with pytest.raises(ClientError) as e:
        ddb(sandbox, HOME).transact_write_items(
            TransactItems=[{"Put": {"TableName": other, "Item": {"pk": {"S": "t"}}}}, put],
            ClientRequestToken="token-1")
    assert refusal(e) == (400, "ValidationException", TRANSACTIONS_REFUSED)
    with pytest.raises(ClientError) as e:
        ddb(sandbox, WEST2).transact_get_items(TransactItems=[
            {"Get": {"TableName": name, "Key": {"pk": {"S": "t"}}}}])
    assert refusal(e) == (400, "ValidationException", TRANSACTIONS_REFUSED)
    assert "Item" not in ddb(sandbox, HOME).get_item(TableName=name, Key={"pk": {"S": "t"}})
    assert "Item" not in ddb(sandbox, HOME).get_item(TableName=other, Key={"pk": {"S": "t"}})
    ddb(sandbox, HOME).transact_write_items(
        TransactItems=[{"Put": {"TableName": other, "Item": {"pk": {"S": "t"}}}}])
    assert ddb(sandbox, HOME).get_item(TableName=other, Key={"pk": {"S": "t"}})["Item"] == {
        "pk": {"S": "t"}}
    for region in (HOME, WEST2):
        with pytest.raises(ClientError) as e:
            ddb(sandbox, region).update_time_to_live(TableName=name, TimeToLiveSpecification={
                "Enabled": True, "AttributeName": "expires"})
        assert refusal(e) == (400, "ValidationException", "Time to Live is not supported on "
                              "multi-Region strongly consistent tables")
    assert ddb(sandbox, EAST2).describe_time_to_live(TableName=name)[
        "TimeToLiveDescription"] == {"TimeToLiveStatus": "DISABLED"}


def test_list_tables_in_a_replica_region_adds_the_global_tables(sandbox: Sandbox) -> None:
    name = global_table(sandbox)
    own = table(sandbox, EAST2)
    client = ddb(sandbox, EAST2)
    assert client.list_tables()["TableNames"] == [own, name]
    first = client.list_tables(Limit=1)
    assert first == {"TableNames": [own], "LastEvaluatedTableName": own,
                     "ResponseMetadata": first["ResponseMetadata"]}
    second = client.list_tables(Limit=1, ExclusiveStartTableName=own)
    assert second["TableNames"] == [name] and "LastEvaluatedTableName" not in second
    assert own not in ddb(sandbox, WEST2).list_tables()["TableNames"]
    assert ddb(sandbox, "eu-west-1").list_tables()["TableNames"] == []


def test_writes_need_a_majority_of_the_three_regions(sandbox: Sandbox) -> None:
    name = global_table(sandbox)
    key = {"pk": {"S": "k"}}
    west = ddb(sandbox, WEST2)
    west.put_item(TableName=name, Item={**key, "v": {"N": "1"}})
    sandbox.outages.start(HOME)
    west.put_item(TableName=name, Item={**key, "v": {"N": "2"}})  # two of three lit
    sandbox.outages.start(EAST2)
    with pytest.raises((ConnectionClosedError, EndpointConnectionError)):
        ddb(sandbox, EAST2).get_item(TableName=name, Key=key)
    failing = [
        lambda: west.put_item(TableName=name, Item={**key, "v": {"N": "3"}}),
        lambda: west.update_item(TableName=name, Key=key, UpdateExpression="SET v = :v",
                                 ExpressionAttributeValues={":v": {"N": "3"}}),
        lambda: west.delete_item(TableName=name, Key=key),
        lambda: west.batch_write_item(RequestItems={name: [
            {"PutRequest": {"Item": {"pk": {"S": "other"}}}}]}),
        lambda: west.get_item(TableName=name, Key=key, ConsistentRead=True),
        lambda: west.query(TableName=name, ConsistentRead=True,
                           KeyConditionExpression="pk = :k",
                           ExpressionAttributeValues={":k": {"S": "k"}}),
        lambda: west.batch_get_item(RequestItems={name: {"Keys": [key],
                                                         "ConsistentRead": True}}),
    ]
    for call in failing:
        with pytest.raises(ClientError) as e:
            call()
        status, code, message = refusal(e)
        assert (status, code) == (500, "InternalServerError")
        assert message == (f"Internal server error: table {name} cannot reach a majority of "
                           f"its Regions ({HOME}, {EAST2} unreachable)")
    # Eventually consistent reads still answer, with the last write acknowledged.
    assert west.get_item(TableName=name, Key=key)["Item"] == {**key, "v": {"N": "2"}}
    assert west.scan(TableName=name)["Count"] == 1
    assert sandbox.outages.end(HOME)
    west.put_item(TableName=name, Item={**key, "v": {"N": "4"}})
    assert ddb(sandbox, HOME).get_item(TableName=name, Key=key, ConsistentRead=True)[
        "Item"] == {**key, "v": {"N": "4"}}


def test_replicas_are_removed_together_before_the_table_is_deleted(sandbox: Sandbox) -> None:
    name = global_table(sandbox)
    ddb(sandbox, EAST2).put_item(TableName=name, Item={"pk": {"S": "kept"}})
    for region in (HOME, WEST2):
        with pytest.raises(ClientError) as e:
            ddb(sandbox, region).delete_table(TableName=name)
        status, code, message = refusal(e)
        assert (status, code) == (400, "ValidationException")
        assert message.startswith(f"Table {name} has replicas in ")
        assert message.endswith("remove them first (UpdateTable ReplicaUpdates Delete) "
                                "before deleting the table")
    home = ddb(sandbox, HOME)
    with pytest.raises(ClientError) as e:
        home.update_table(TableName=name, ReplicaUpdates=[{"Delete": {"RegionName": EAST2}}])
    assert refusal(e) == (400, "ValidationException",
                          "The replicas of a multi-Region strongly consistent global table "
                          f"are removed together: delete {EAST2}, {WEST2} in one request")
    with pytest.raises(ClientError) as e:
        ddb(sandbox, EAST2).update_table(TableName=name, ReplicaUpdates=[
            {"Delete": {"RegionName": r}} for r in (HOME, WEST2)])
    assert refusal(e) == (400, "ValidationException", f"The sandbox removes the replicas of "
                          f"{name} only from its home Region {HOME}")
    desc = home.update_table(TableName=name, ReplicaUpdates=[
        {"Delete": {"RegionName": r}} for r in (WEST2, EAST2)])["TableDescription"]
    assert desc["Replicas"] == [{"RegionName": EAST2, "ReplicaStatus": "DELETING"},
                                {"RegionName": WEST2, "ReplicaStatus": "DELETING"}]
    for region in (EAST2, WEST2):
        with pytest.raises(ClientError) as e:
            ddb(sandbox, region).describe_table(TableName=name)
        assert refusal(e)[1] == "ResourceNotFoundException"
        assert name not in ddb(sandbox, region).list_tables()["TableNames"]
    single = home.describe_table(TableName=name)["Table"]
    assert "Replicas" not in single and "MultiRegionConsistency" not in single
    assert home.get_item(TableName=name, Key={"pk": {"S": "kept"}})["Item"] == {
        "pk": {"S": "kept"}}
    home.delete_table(TableName=name)
    assert name not in home.list_tables()["TableNames"]


def test_a_global_table_deleted_from_moto_is_forgotten(sandbox: Sandbox) -> None:
    from lambdafail.sandbox import backends

    name = global_table(sandbox)
    backends.reset_all()  # as POST /moto-api/reset
    for region in (HOME, EAST2):
        with pytest.raises(ClientError) as e:
            ddb(sandbox, region).describe_table(TableName=name)
        assert refusal(e)[1] == "ResourceNotFoundException"


def test_a_replica_region_batch_mixing_a_global_and_a_local_table_is_refused(
        sandbox: Sandbox) -> None:
    name = global_table(sandbox)
    own = table(sandbox, EAST2)
    client = ddb(sandbox, EAST2)
    with pytest.raises(ClientError) as e:
        client.batch_write_item(RequestItems={
            name: [{"PutRequest": {"Item": {"pk": {"S": "a"}}}}],
            own: [{"PutRequest": {"Item": {"pk": {"S": "b"}}}}]})
    assert refusal(e) == (400, "ValidationException",
                          "The sandbox cannot mix, in one batch sent to a replica Region, "
                          "global tables of another home Region with other tables: send one "
                          "batch per table")
    assert client.scan(TableName=own)["Count"] == 0
    assert client.scan(TableName=name)["Count"] == 0
    # In the home Region nothing needs re-addressing: a mixed batch is moto's as usual.
    local = table(sandbox, HOME)
    # (Other keys per table: moto 5.2.1 takes one key in two tables of a batch for a duplicate.)
    ddb(sandbox, HOME).batch_write_item(RequestItems={
        name: [{"PutRequest": {"Item": {"pk": {"S": "a"}}}}],
        local: [{"PutRequest": {"Item": {"pk": {"S": "b"}}}}]})
    assert client.scan(TableName=name)["Count"] == 1
    assert ddb(sandbox, HOME).scan(TableName=local)["Count"] == 1
