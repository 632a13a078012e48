"""EventBridge delivery in the sandbox: Lambda targets, DISABLED rules, target input, errors."""

from __future__ import annotations

import json

from lambdafail.sandbox.server import Sandbox
from sandbox_support import (
    REPORTING_HANDLER,
    Clients,
    allow_events,
    create_function,
    drain,
    function_arn,
    orchestrator_zip,
    queue,
    uid,
    wait_for_reports,
)


def _rule(aws: Clients, pattern: dict[str, object], *, bus: str = "default",
          state: str = "ENABLED") -> str:
    name = uid("rule")
    aws("events").put_rule(Name=name, EventPattern=json.dumps(pattern), EventBusName=bus,
                           State=state)
    return name


def _put(aws: Clients, source: str, detail: dict[str, object], bus: str = "default",
         detail_type: str = "thing happened") -> dict[str, object]:
    resp = aws("events").put_events(Entries=[{
        "Source": source, "DetailType": detail_type, "Detail": json.dumps(detail),
        "EventBusName": bus, "Resources": ["arn:aws:x:::r"]}])
    return dict(resp)


def test_sandbox_put_events_reaches_lambda_target(sandbox: Sandbox, aws: Clients) -> None:
    # moto alone fails the whole put_events call when a rule targets a Lambda.
    bus = uid("bus")
    aws("events").create_event_bus(Name=bus)
    report_url, _ = queue(aws)
    fn = create_function(aws, orchestrator_zip(REPORTING_HANDLER), env={"REPORT_TO": report_url})
    source = uid("shop.checkout")
    rule = _rule(aws, {"source": [source], "detail": {"level": ["critical"]}}, bus=bus)
    aws("events").put_targets(Rule=rule, EventBusName=bus,
                              Targets=[{"Id": "orch", "Arn": function_arn(fn)}])
    rule_arn = aws("events").describe_rule(Name=rule, EventBusName=bus)["Arn"]
    allow_events(aws, fn, rule_arn)

    resp = _put(aws, source, {"level": "critical", "n": 1}, bus=bus)
    assert resp["FailedEntryCount"] == 0
    event_id = resp["Entries"][0]["EventId"]  # type: ignore[index]

    [event] = wait_for_reports(aws, report_url)
    assert event["id"] == event_id
    assert event["source"] == source and event["detail-type"] == "thing happened"
    assert event["detail"] == {"level": "critical", "n": 1}
    assert event["account"] == "123456789012" and event["region"] == "us-east-1"
    assert event["resources"] == ["arn:aws:x:::r"]
    assert str(event["time"]).endswith("Z")


def test_sandbox_non_matching_event_is_not_delivered(sandbox: Sandbox, aws: Clients) -> None:
    url, arn = queue(aws)
    source = uid("src")
    rule = _rule(aws, {"source": [source], "detail": {"level": ["critical"]}})
    aws("events").put_targets(Rule=rule, Targets=[{"Id": "q", "Arn": arn}])
    _put(aws, source, {"level": "info"})
    _put(aws, source, {"level": "critical"})
    bodies = drain(aws, url)  # SQS targets are delivered before put_events returns
    assert [json.loads(b)["detail"]["level"] for b in bodies] == ["critical"]


def test_sandbox_disabled_rule_does_not_deliver(sandbox: Sandbox, aws: Clients) -> None:
    # moto alone delivers to DISABLED rules.
    on_url, on_arn = queue(aws)
    off_url, off_arn = queue(aws)
    source = uid("src")
    on = _rule(aws, {"source": [source]})
    off = _rule(aws, {"source": [source]}, state="DISABLED")
    aws("events").put_targets(Rule=on, Targets=[{"Id": "q", "Arn": on_arn}])
    aws("events").put_targets(Rule=off, Targets=[{"Id": "q", "Arn": off_arn}])

    _put(aws, source, {"n": 1})
    assert len(drain(aws, on_url)) == 1
    assert drain(aws, off_url) == []

    aws("events").enable_rule(Name=off)  # and back on: it delivers again
    aws("events").disable_rule(Name=on)
    _put(aws, source, {"n": 2})
    assert drain(aws, on_url) == []
    assert [json.loads(b)["detail"] for b in drain(aws, off_url)] == [{"n": 2}]


def test_sandbox_lambda_target_needs_a_resource_policy(sandbox: Sandbox, aws: Clients) -> None:
    """As on AWS, a rule may invoke a function only if the function's resource policy lets
    events.amazonaws.com in from that rule (exact ARN, or an ArnLike wildcard)."""
    report_url, _ = queue(aws)
    fn = create_function(aws, orchestrator_zip(REPORTING_HANDLER), env={"REPORT_TO": report_url})
    source = uid("src")
    rule = _rule(aws, {"source": [source]})
    aws("events").put_targets(Rule=rule, Targets=[{"Id": "fn", "Arn": function_arn(fn)}])
    rule_arn = aws("events").describe_rule(Name=rule)["Arn"]
    before = sandbox.runner.invocations
    _put(aws, source, {"n": 1})
    assert sandbox.wait_idle()
    assert sandbox.runner.invocations == before
    [dropped] = [d for d in sandbox.deliveries if d.rule == rule]
    assert not dropped.ok and "no permission" in dropped.detail
    # Another rule's permission is no permission for this one...
    allow_events(aws, fn, rule_arn + "-other")
    _put(aws, source, {"n": 2})
    assert sandbox.wait_idle() and sandbox.runner.invocations == before
    # ...but a wildcard that covers it is (deploy's wide mode for many rules).
    allow_events(aws, fn, rule_arn.rsplit("/", 1)[0] + "/" + rule[:4] + "*")
    _put(aws, source, {"n": 3})
    assert [r["detail"] for r in wait_for_reports(aws, report_url)] == [{"n": 3}]


def test_sandbox_disabled_rule_does_not_invoke_lambda(sandbox: Sandbox, aws: Clients) -> None:
    report_url, _ = queue(aws)
    fn = create_function(aws, orchestrator_zip(REPORTING_HANDLER), env={"REPORT_TO": report_url})
    url, arn = queue(aws)
    source = uid("src")
    off = _rule(aws, {"source": [source]}, state="DISABLED")
    on = _rule(aws, {"source": [source]})
    aws("events").put_targets(Rule=off, Targets=[{"Id": "fn", "Arn": function_arn(fn)}])
    allow_events(aws, fn, aws("events").describe_rule(Name=off)["Arn"])
    aws("events").put_targets(Rule=on, Targets=[{"Id": "q", "Arn": arn}])
    before = sandbox.runner.invocations
    _put(aws, source, {})
    assert len(drain(aws, url)) == 1
    assert sandbox.wait_idle()
    assert sandbox.runner.invocations == before
    assert not [d for d in sandbox.deliveries if d.rule == off]


def test_sandbox_target_input_forms(sandbox: Sandbox, aws: Clients) -> None:
    # moto alone ignores Input and InputTransformer (it always sends the whole event).
    source = uid("src")
    rule = _rule(aws, {"source": [source]})
    urls = {}
    targets = []
    for key, extra in {
        "static": {"Input": '{"lambdafail": "tick", "rule": "r1"}'},
        "path": {"InputPath": "$.detail.alarm"},
        "transform": {"InputTransformer": {
            "InputPathsMap": {"name": "$.detail.alarm.name", "value": "$.detail.alarm.value"},
            "InputTemplate": '{"alarm": <name>, "text": "<name> is <value>", '
                             '"rule": "<aws.events.rule-name>", "event": <aws.events.event.json>}'}},
        "whole": {},
    }.items():
        url, arn = queue(aws)
        urls[key] = url
        targets.append({"Id": key, "Arn": arn, **extra})
    aws("events").put_targets(Rule=rule, Targets=targets)
    _put(aws, source, {"alarm": {"name": "cpu-high", "value": "ALARM"}})

    got = {k: drain(aws, u) for k, u in urls.items()}
    assert got["static"] == ['{"lambdafail": "tick", "rule": "r1"}']
    assert json.loads(got["path"][0]) == {"name": "cpu-high", "value": "ALARM"}
    transformed = json.loads(got["transform"][0])
    assert transformed["alarm"] == "cpu-high"
    assert transformed["text"] == "cpu-high is ALARM"
    assert transformed["rule"] == rule
    assert transformed["event"]["detail"]["alarm"]["value"] == "ALARM"
    whole = json.loads(got["whole"][0])
    assert whole["source"] == source and set(whole) >= {"id", "time", "detail", "version"}


def test_sandbox_schedule_rule_is_not_matched_by_events(sandbox: Sandbox, aws: Clients) -> None:
    # moto alone matches a schedule-only rule on the default bus against every put_events.
    url, arn = queue(aws)
    rule = uid("sched")
    aws("events").put_rule(Name=rule, ScheduleExpression="rate(1 day)")
    aws("events").put_targets(Rule=rule, Targets=[{"Id": "q", "Arn": arn}])
    _put(aws, uid("src"), {"n": 1})
    assert drain(aws, url) == []


def test_sandbox_put_events_entry_errors_like_aws(sandbox: Sandbox, aws: Clients) -> None:
    resp = aws("events").put_events(Entries=[
        {"Source": "a", "DetailType": "b", "Detail": "not json"},
        {"Source": "a", "DetailType": "b", "Detail": "{}", "EventBusName": uid("nobus")},
        {"Source": "a", "DetailType": "b", "Detail": "{}"},
    ])
    entries = resp["Entries"]
    assert resp["FailedEntryCount"] == 2
    assert entries[0]["ErrorCode"] == "MalformedDetail"
    assert entries[1]["ErrorCode"] == "InvalidArgument"
    assert "EventId" in entries[2]


def test_sandbox_custom_bus_target_forwards_event(sandbox: Sandbox, aws: Clients) -> None:
    bus = uid("bus")
    aws("events").create_event_bus(Name=bus)
    bus_arn = f"arn:aws:events:us-east-1:123456789012:event-bus/{bus}"
    source = uid("src")
    fwd = _rule(aws, {"source": [source]})
    aws("events").put_targets(Rule=fwd, Targets=[{"Id": "b", "Arn": bus_arn}])
    url, arn = queue(aws)
    sink = _rule(aws, {"source": [source]}, bus=bus)
    aws("events").put_targets(Rule=sink, EventBusName=bus, Targets=[{"Id": "q", "Arn": arn}])
    _put(aws, source, {"hop": 1})
    assert [json.loads(b)["detail"] for b in drain(aws, url)] == [{"hop": 1}]


def test_sandbox_put_events_refuses_aws_sources_as_aws_does(sandbox: Sandbox,
                                                            aws: Clients) -> None:
    got = aws("events").put_events(Entries=[
        {"Source": "aws.health", "DetailType": "AWS Health Event", "Detail": "{}"},
        {"Source": "shop.web", "DetailType": "Server failure", "Detail": "{}"}])
    assert got["FailedEntryCount"] == 1
    assert got["Entries"][0]["ErrorCode"] == "NotAuthorizedForSourceException"
    assert "EventId" in got["Entries"][1]
