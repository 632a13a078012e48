"""Target input as EventBridge builds it: Input, InputPath, InputTransformer (pure)."""

from __future__ import annotations

import json

from lambdafail.sandbox.transform import json_path, target_input

EVENT = {
    "version": "0", "id": "e-1", "detail-type": "EC2 Instance State-change Notification",
    "source": "aws.ec2", "account": "123456789012", "time": "2024-01-01T00:00:00Z",
    "region": "us-east-1", "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-1"],
    "detail": {"instance-id": "i-1", "state": "running", "n": 3, "tags": {"a": "b"}},
}
RULE, ARN = "r1", "arn:aws:events:us-east-1:123456789012:rule/r1"


def _t(target: dict[str, object]) -> str:
    return target_input(target, EVENT, RULE, ARN)


def test_sandbox_transform_static_input_verbatim() -> None:
    assert _t({"Input": '{"lambdafail": "tick", "rule": "x"}'}) == \
        '{"lambdafail": "tick", "rule": "x"}'


def test_sandbox_transform_whole_event_and_input_path() -> None:
    assert json.loads(_t({})) == EVENT
    assert json.loads(_t({"InputPath": "$.detail"})) == EVENT["detail"]
    assert json.loads(_t({"InputPath": "$.resources[0]"})) == EVENT["resources"][0]  # type: ignore[index]
    assert _t({"InputPath": "$.detail.nope"}) == "null"


def test_sandbox_transform_json_template_values_and_strings() -> None:
    tpl = {"InputPathsMap": {"id": "$.detail.instance-id", "n": "$.detail.n",
                             "tags": "$.detail.tags", "missing": "$.detail.zzz"},
           "InputTemplate": '{"instance": <id>, "count": <n>, "tags": <tags>, '
                            '"text": "<id> has \\"<n>\\" tags", "gone": <missing>}'}
    out = json.loads(_t({"InputTransformer": tpl}))
    assert out == {"instance": "i-1", "count": 3, "tags": {"a": "b"},
                   "text": 'i-1 has "3" tags', "gone": None}


def test_sandbox_transform_string_template_and_plain_text() -> None:
    tpl = {"InputPathsMap": {"id": "$.detail.instance-id", "state": "$.detail.state"},
           "InputTemplate": '"instance <id> is <state>"'}
    assert json.loads(_t({"InputTransformer": tpl})) == "instance i-1 is running"
    plain = dict(tpl, InputTemplate="instance <id> is <state>")
    assert _t({"InputTransformer": plain}) == "instance i-1 is running"


def test_sandbox_transform_reserved_variables() -> None:
    tpl = {"InputTemplate": '{"rule": "<aws.events.rule-name>", "arn": "<aws.events.rule-arn>", '
                            '"event": <aws.events.event>, "full": <aws.events.event.json>}'}
    out = json.loads(_t({"InputTransformer": tpl}))
    assert out["rule"] == RULE and out["arn"] == ARN
    assert "detail" not in out["event"] and out["event"]["id"] == "e-1"
    assert out["full"] == EVENT


def test_sandbox_transform_json_path_forms() -> None:
    assert json_path(EVENT, "$") == EVENT
    assert json_path(EVENT, "$['detail-type']") == EVENT["detail-type"]
    assert json_path(EVENT, "$.detail.tags.a") == "b"
