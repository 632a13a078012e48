"""AWS's eventual consistency in the sandbox (consistency.py): a deleted queue's name, a
function update in progress, a new table's tags."""

from __future__ import annotations

import time

import pytest
from botocore.exceptions import ClientError

from conftest import wait_until
from lambdafail.sandbox import consistency
from lambdafail.sandbox.server import Sandbox
from sandbox_support import Clients, create_function, orchestrator_zip, uid


def _code(e: pytest.ExceptionInfo[ClientError]) -> str:
    return str(e.value.response["Error"]["Code"])


def test_sandbox_refuses_a_queue_name_deleted_less_than_60_s_ago(sandbox: Sandbox,
                                                                  aws: Clients) -> None:
    sqs = aws("sqs")
    name = uid("q")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    sqs.delete_queue(QueueUrl=url)
    with pytest.raises(ClientError) as e:
        sqs.create_queue(QueueName=name)
    assert _code(e) == "AWS.SimpleQueueService.QueueDeletedRecently"
    sqs.create_queue(QueueName=uid("other"))  # other names are not held
    # 60 s at time scale 60 (the window never goes under 1 s of real time).
    started = time.monotonic()

    def created() -> bool:
        try:
            sqs.create_queue(QueueName=name)
        except ClientError as err:
            assert err.response["Error"]["Code"].endswith("QueueDeletedRecently")
            return False
        return True

    wait_until(created, timeout=10, interval=0.1, what="the queue name to be free again")
    assert time.monotonic() - started >= 0.5


def test_sandbox_function_update_in_progress_conflicts(sandbox: Sandbox, aws: Clients) -> None:
    lam = aws("lambda")
    fn = create_function(aws, orchestrator_zip("def handle(e, c):\n    return 1\n"))
    assert lam.get_function_configuration(FunctionName=fn).get("LastUpdateStatus") in (
        None, "Successful")
    lam.update_function_configuration(FunctionName=fn, Description="first")
    with pytest.raises(ClientError) as e:
        lam.update_function_configuration(FunctionName=fn, Description="second")
    assert _code(e) == "ResourceConflictException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    with pytest.raises(ClientError) as e:
        lam.publish_version(FunctionName=fn)
    assert _code(e) == "ResourceConflictException"
    assert lam.get_function_configuration(FunctionName=fn)["LastUpdateStatus"] == "InProgress"
    assert lam.get_function(FunctionName=fn)["Configuration"]["LastUpdateStatus"] == "InProgress"
    wait_until(lambda: lam.get_function_configuration(FunctionName=fn).get(
        "LastUpdateStatus") != "InProgress", timeout=consistency.UPDATE_SECONDS + 10,
        interval=0.1, what="the update to finish")
    lam.update_function_configuration(FunctionName=fn, Description="second")
    assert lam.get_function_configuration(FunctionName=fn)["Description"] == "second"


def test_sandbox_new_table_tags_appear_after_a_moment(sandbox: Sandbox, aws: Clients) -> None:
    ddb = aws("dynamodb")
    name = uid("t")
    arn = ddb.create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        Tags=[{"Key": "owner", "Value": "me"}])["TableDescription"]["TableArn"]
    assert ddb.list_tags_of_resource(ResourceArn=arn)["Tags"] == []
    wait_until(lambda: ddb.list_tags_of_resource(ResourceArn=arn)["Tags"] == [
        {"Key": "owner", "Value": "me"}], timeout=consistency.TAG_LAG_SECONDS + 10,
        interval=0.1, what="the table's tags")
