"""History retention: log entries and superseded configurations carry DynamoDB's TTL
attribute; the live state, the heartbeat and the configuration deployed now never do."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from lambdafail.cli.main import run
from lambdafail.model import naming
from lambdafail.model.loader import load_text
from oncall_support import Env

DAY = 86400


def _items(env: Env, pk: str) -> list[dict[str, Any]]:
    ddb = env.ctx().client("dynamodb")
    got = ddb.query(TableName=naming.table_name(env.name), KeyConditionExpression="pk = :p",
                    ExpressionAttributeValues={":p": {"S": pk}})["Items"]
    return list(got)


def _ttl(item: dict[str, Any]) -> int | None:
    return int(item["expires_at"]["N"]) if "expires_at" in item else None


@pytest.fixture
def env(mocked_aws: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("COLUMNS", "200")
    e = Env(tmp_path)
    e.file.write_text(e.file.read_text() + "history_retention_days: 30\n")
    yield e
    e.close()


def test_log_entries_expire_after_the_retention_state_never(env: Env) -> None:
    f = str(env.file)
    assert run(["deploy", "-f", f, "--yes", "-o", "json"]) == 0
    table = env.ctx().client("dynamodb").describe_time_to_live(
        TableName=naming.table_name(env.name))["TimeToLiveDescription"]
    assert table["AttributeName"] == "expires_at" and table["TimeToLiveStatus"] == "ENABLED"
    before = time.time()
    assert run(["failover", "-f", f, "checkout", "--reason", "INC-1", "--yes", "--force"]) == 0
    log = _items(env, "log")
    kinds = {i.get("kind", {}).get("S", "transition"): i for i in log}
    assert {"deploy", "transition"} <= set(kinds)
    for item in log:
        ttl = _ttl(item)
        assert ttl is not None and before - 60 + 30 * DAY <= ttl <= time.time() + 30 * DAY + 1
    # The current state: the service item (its pending switch included) and the heartbeat.
    for pk in ("service", "orchestrator"):
        assert all(_ttl(i) is None for i in _items(env, pk))


def test_a_superseded_configuration_expires_the_live_one_does_not(env: Env) -> None:
    f = str(env.file)
    assert run(["deploy", "-f", f, "--yes", "-o", "json"]) == 0
    [first] = _items(env, "config")
    assert _ttl(first) is None
    env.file.write_text(env.file.read_text().replace("failure_threshold: 3",
                                                     "failure_threshold: 4"))
    assert run(["deploy", "-f", f, "--yes", "-o", "json"]) == 0
    configs = {i["sk"]["S"]: i for i in _items(env, "config")}
    assert len(configs) == 2
    old = configs[first["sk"]["S"]]
    [new] = [i for k, i in configs.items() if k != first["sk"]["S"]]
    assert _ttl(new) is None
    ttl = _ttl(old)
    assert ttl is not None and abs(ttl - (time.time() + 30 * DAY)) < 120
    # Back to the first configuration: it is live again, so it no longer expires.
    env.file.write_text(env.file.read_text().replace("failure_threshold: 4",
                                                     "failure_threshold: 3"))
    assert run(["deploy", "-f", f, "--yes", "-o", "json"]) == 0
    configs = {i["sk"]["S"]: i for i in _items(env, "config")}
    assert _ttl(configs[first["sk"]["S"]]) is None
    assert _ttl(configs[new["sk"]["S"]]) is not None


@pytest.mark.parametrize("days", [0, 3651])
def test_retention_out_of_range_is_refused(days: int) -> None:
    from lambdafail.base.errors import LambdafailError

    text = (f"version: 1\nname: r\nregion: us-east-1\nhistory_retention_days: {days}\n"
            "services:\n  a:\n    primary: {url: 'https://a.example'}\n    standby: {url: "
            "'https://b.example'}\n    router: {ssm_parameter: /r/a}\n")
    with pytest.raises(LambdafailError) as e:
        load_text(text, "t.yaml")
    assert "history_retention_days" in str(e.value) + repr(getattr(e.value, "problems", ""))
