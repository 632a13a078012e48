"""Alarms in the sandbox: set_alarm_state emits "CloudWatch Alarm State Change" on the default
bus, once per real change, reaching lambdafail's alarm rule shape."""

from __future__ import annotations

import json

import pytest

from lambdafail.sandbox.server import Sandbox
from sandbox_support import Clients, drain, queue, uid


def test_sandbox_alarm_state_change_emits_event(sandbox: Sandbox, aws: Clients) -> None:
    alarm = uid("checkout-5xx-high")
    cw = aws("cloudwatch")
    cw.put_metric_alarm(AlarmName=alarm, MetricName="5xx", Namespace="Shop",
                        Statistic="Sum", Period=10, EvaluationPeriods=3, Threshold=5,
                        ComparisonOperator="GreaterThanThreshold",
                        Dimensions=[{"Name": "Service", "Value": "checkout"}],
                        AlarmDescription="too many errors")
    url, arn = queue(aws)
    other_url, other_arn = queue(aws)
    rule = uid("alarm-rule")
    # The pattern lambdafail deploys for an alarm signal (docs/architecture.md).
    aws("events").put_rule(Name=rule, EventPattern=json.dumps({
        "source": ["aws.cloudwatch"], "detail-type": ["CloudWatch Alarm State Change"],
        "detail": {"alarmName": [alarm]}}))
    aws("events").put_targets(Rule=rule, Targets=[{"Id": "q", "Arn": arn}])
    other = uid("other-alarm-rule")
    aws("events").put_rule(Name=other, EventPattern=json.dumps({
        "source": ["aws.cloudwatch"], "detail": {"alarmName": ["someone-else"]}}))
    aws("events").put_targets(Rule=other, Targets=[{"Id": "q", "Arn": other_arn}])

    cw.set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason="threshold crossed")
    bodies = drain(aws, url)
    assert len(bodies) == 1
    event = json.loads(bodies[0])
    assert event["source"] == "aws.cloudwatch"
    assert event["detail-type"] == "CloudWatch Alarm State Change"
    assert event["resources"] == [f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{alarm}"]
    detail = event["detail"]
    assert detail["alarmName"] == alarm
    assert detail["state"]["value"] == "ALARM"
    assert detail["state"]["reason"] == "threshold crossed"
    assert detail["previousState"]["value"] == "OK"  # moto's initial state (AWS: INSUFFICIENT_DATA)
    metric = detail["configuration"]["metrics"][0]["metricStat"]["metric"]
    assert metric == {"namespace": "Shop", "name": "5xx", "dimensions": {"Service": "checkout"}}
    assert drain(aws, other_url) == []

    # Same state again: no change, no event (as on AWS).
    cw.set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason="still bad")
    assert drain(aws, url) == []

    cw.set_alarm_state(AlarmName=alarm, StateValue="OK", StateReason="recovered")
    back = [json.loads(b)["detail"] for b in drain(aws, url)]
    assert [(d["previousState"]["value"], d["state"]["value"]) for d in back] == [("ALARM", "OK")]


def test_sandbox_set_alarm_state_errors_pass_through(sandbox: Sandbox, aws: Clients) -> None:
    cw = aws("cloudwatch")
    with pytest.raises(cw.exceptions.ResourceNotFound):
        cw.set_alarm_state(AlarmName=uid("missing"), StateValue="ALARM", StateReason="x")


def test_sandbox_alarm_event_for_query_protocol_clients(sandbox: Sandbox, aws: Clients) -> None:
    # Older SDKs and some aws CLI builds send CloudWatch calls form-encoded (query protocol).
    import urllib.request

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    alarm = uid("query-alarm")
    aws("cloudwatch").put_metric_alarm(
        AlarmName=alarm, MetricName="m", Namespace="n", Statistic="Sum", Period=60,
        EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanThreshold")
    url, arn = queue(aws)
    rule = uid("rule")
    aws("events").put_rule(Name=rule, EventPattern=json.dumps({
        "source": ["aws.cloudwatch"], "detail": {"alarmName": [alarm]}}))
    aws("events").put_targets(Rule=rule, Targets=[{"Id": "q", "Arn": arn}])

    body = (f"Action=SetAlarmState&Version=2010-08-01&AlarmName={alarm}"
            "&StateValue=ALARM&StateReason=query")
    req = AWSRequest(method="POST", url=sandbox.endpoint_url + "/", data=body, headers={
        "Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    SigV4Auth(Credentials("testing", "testing"), "monitoring", "us-east-1").add_auth(req)
    prepared = req.prepare()
    http = urllib.request.Request(prepared.url, data=body.encode(), method="POST",
                                  headers=dict(prepared.headers))
    with urllib.request.urlopen(http, timeout=30) as resp:
        assert resp.status == 200
    [event] = [json.loads(b) for b in drain(aws, url)]
    assert event["detail"]["state"]["value"] == "ALARM"
