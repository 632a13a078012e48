"""Watching the watcher: the alarms and dashboard deploy puts on the orchestrator.

Pure: the heartbeat window follows the schedules' longest gap within CloudWatch's limits.
Sandbox (the real CLI): deploy creates the three alarms (notifying the topic) and the
dashboard; when the orchestrator stops ticking (its tick rule disabled by hand) the heartbeat
alarm goes to ALARM and CloudWatch's notification reaches an SQS queue subscribed to the
topic; destroy removes alarms and dashboard. The sandbox's evaluation: missing data breaching.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from conftest import run_cli, wait_until
from lambdafail.deploy import watch
from lambdafail.sandbox import metric_alarms
from lambdafail.sandbox.server import Sandbox
from oncall_support import Env
from sandbox_support import Clients


def _compiled(*gaps: int) -> dict[str, Any]:
    return {"topology": "shop", "region": "us-east-1", "function": "lambdafail-shop-orchestrator",
            "sns_topic_arn": "arn:aws:sns:us-east-1:123456789012:alerts",
            "schedules": {f"r{i}": {"interval_seconds": g, "max_gap_seconds": g}
                          for i, g in enumerate(gaps)}}


def test_watch_heartbeat_window_follows_the_shortest_longest_gap() -> None:
    assert watch.heartbeat_window(_compiled(60)) == (60, 3)
    # Any rule's tick counts: the window follows the rule that ticks most often.
    assert watch.heartbeat_window(_compiled(3300, 300)) == (300, 3)
    assert watch.heartbeat_window(_compiled(90)) == (120, 3)  # whole minutes
    # Below an hour the window is at most a day; above, at most 7 days (PutMetricAlarm).
    assert watch.heartbeat_window(_compiled(86_400)) == (86_400, 3)
    assert watch.heartbeat_window(_compiled(3 * 86_400)) == (259_200, 2)
    alarm = watch.alarms(_compiled(60))["lambdafail-shop-watch-heartbeat"]
    assert alarm["treat_missing_data"] == "breaching"
    assert alarm["alarm_actions"] == alarm["ok_actions"] == [
        "arn:aws:sns:us-east-1:123456789012:alerts"]
    no_topic = watch.alarms(_compiled(60) | {"sns_topic_arn": None})
    assert all(a["alarm_actions"] == [] for a in no_topic.values())


def _alarm(treat: str) -> Any:
    return SimpleNamespace(evaluation_periods=3, datapoints_to_alarm=3, treat_missing_data=treat,
                           comparison_operator="LessThanThreshold", statistic="SampleCount",
                           threshold=1.0)


def test_sandbox_alarm_verdict_treats_missing_data_as_configured() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    beat = [SimpleNamespace(value=1.0, timestamp=now - timedelta(seconds=s)) for s in (0.5, 1.5)]
    assert metric_alarms.verdict(_alarm("breaching"), [], now, 1.0) == "ALARM"
    assert metric_alarms.verdict(_alarm("notBreaching"), [], now, 1.0) == "OK"
    assert metric_alarms.verdict(_alarm("ignore"), [], now, 1.0) is None
    assert metric_alarms.verdict(_alarm("missing"), [], now, 1.0) is None  # kept (see docs)
    # Two of three periods have a tick: not 3 breaching, so OK.
    assert metric_alarms.verdict(_alarm("breaching"), beat, now, 1.0) == "OK"


def _queue(aws: Clients, name: str) -> tuple[str, str]:
    url = aws("sqs").create_queue(QueueName=name)["QueueUrl"]
    arn = aws("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    return url, arn


@pytest.mark.slow
def test_heartbeat_alarm_fires_when_the_orchestrator_stops_ticking(
        sandbox: Sandbox, aws: Clients, tmp_path: Path) -> None:
    env = Env(tmp_path)
    try:
        topic = aws("sns").create_topic(Name=f"{env.name}-alerts")["TopicArn"]
        with env.file.open("a") as f:
            f.write(f"notify: {{sns_topic_arn: \"{topic}\"}}\n")
        q_url, q_arn = _queue(aws, f"{env.name}-sns")
        aws("sns").subscribe(TopicArn=topic, Protocol="sqs", Endpoint=q_arn)
        url = ("--endpoint-url", sandbox.endpoint_url)
        f = str(env.file)
        r = run_cli("plan", "-f", f, *url)
        assert r.returncode == 0, r.stderr
        assert "alarm" in r.stdout and "dashboard" in r.stdout
        r = run_cli("deploy", "-f", f, "--yes", *url, timeout=300)
        assert r.returncode == 0, r.stderr

        cw = aws("cloudwatch")
        heartbeat = f"lambdafail-{env.name}-watch-heartbeat"
        got = cw.describe_alarms(AlarmNamePrefix=f"lambdafail-{env.name}-watch-")["MetricAlarms"]
        assert {a["AlarmName"] for a in got} == {
            heartbeat, f"lambdafail-{env.name}-watch-errors", f"lambdafail-{env.name}-watch-dlq"}
        assert all(a["AlarmActions"] == [topic] == a["OKActions"] for a in got)
        body = json.loads(cw.get_dashboard(DashboardName=f"lambdafail-{env.name}")[
            "DashboardBody"])
        assert any("State" in json.dumps(w) for w in body["widgets"])

        def state() -> str:
            return str(cw.describe_alarms(AlarmNames=[heartbeat])["MetricAlarms"][0][
                "StateValue"])

        # Ticking: the Heartbeat metric keeps the alarm OK (the EMF lines become datapoints).
        wait_until(lambda: cw.list_metrics(Namespace="lambdafail", MetricName="Heartbeat")[
            "Metrics"], timeout=60, what="Heartbeat datapoints")
        wait_until(lambda: state() == "OK", timeout=60, what="the heartbeat alarm OK")
        aws("sqs").purge_queue(QueueUrl=q_url)  # what deploy's first evaluations sent

        # The orchestrator stops ticking: its rule disabled by hand (not `pause`).
        disabled_at = datetime.now(UTC)
        rules = aws("events").list_rules(NamePrefix=f"lambdafail-{env.name}-tick")["Rules"]
        for rule in rules:
            aws("events").disable_rule(Name=rule["Name"])
        wait_until(lambda: state() == "ALARM", timeout=60, what="the heartbeat alarm ALARM")

        notes: list[dict[str, Any]] = []

        def after_disable(n: dict[str, Any]) -> bool:
            m = json.loads(n["Message"])
            at = datetime.strptime(m["StateChangeTime"], "%Y-%m-%dT%H:%M:%S.%f%z")
            return bool(m.get("NewStateValue") == "ALARM" and at >= disabled_at)

        def alarm_note() -> bool:
            for m in aws("sqs").receive_message(QueueUrl=q_url, MaxNumberOfMessages=10,
                                                WaitTimeSeconds=1).get("Messages", []):
                notes.append(json.loads(m["Body"]))
            return any(after_disable(n) for n in notes)

        wait_until(alarm_note, timeout=30, what="the ALARM notification on the queue")
        msg = next(json.loads(n["Message"]) for n in notes if after_disable(n))
        assert notes[0]["Subject"].startswith(("ALARM: ", "OK: "))
        assert msg["AlarmName"] == heartbeat and msg["OldStateValue"] == "OK"
        assert msg["Trigger"]["TreatMissingData"] == "breaching"

        r = run_cli("destroy", "-f", f, "--yes", *url, timeout=300)
        assert r.returncode == 0, r.stderr
        assert cw.describe_alarms(AlarmNamePrefix=f"lambdafail-{env.name}-")[
            "MetricAlarms"] == []
        assert not [d for d in cw.list_dashboards()["DashboardEntries"]
                    if d["DashboardName"] == f"lambdafail-{env.name}"]
    finally:
        env.close()


def test_watch_drift_is_planned_field_by_field_and_repaired(mocked_aws: None) -> None:
    # In-process moto, configs/multi.yaml (its topic: notify.sns_topic_arn).
    import boto3

    from deploy_support import deploy, destroy, multi, replan

    plan, outcome, _ = deploy(multi())
    created = {(c.kind, c.name) for c in outcome.done if c.kind in ("alarm", "dashboard")}
    assert created == {("alarm", "lambdafail-multi-watch-heartbeat"),
                       ("alarm", "lambdafail-multi-watch-errors"),
                       ("alarm", "lambdafail-multi-watch-dlq"),
                       ("dashboard", "lambdafail-multi")}
    cw = boto3.client("cloudwatch")
    (hb,) = cw.describe_alarms(AlarmNames=["lambdafail-multi-watch-heartbeat"])["MetricAlarms"]
    # multi's schedules: 60 s, 120 s and 300 s rules; any tick counts, so a minute.
    assert (hb["Period"], hb["EvaluationPeriods"], hb["TreatMissingData"]) == (60, 3,
                                                                               "breaching")
    assert hb["AlarmActions"] == ["arn:aws:sns:us-east-1:123456789012:lambdafail-multi-oncall"]
    tags = cw.list_tags_for_resource(ResourceARN=hb["AlarmArn"])["Tags"]
    assert {"Key": "lambdafail:topology", "Value": "multi"} in tags

    # Someone edits the alarm and the dashboard by hand: plan names the fields, deploy repairs.
    cw.put_metric_alarm(**{**watch.put_metric_alarm_args(
        hb["AlarmName"], watch.alarm_spec_of(hb)), "EvaluationPeriods": 10,
        "DatapointsToAlarm": 10, "TreatMissingData": "notBreaching"})
    cw.put_dashboard(DashboardName="lambdafail-multi", DashboardBody='{"widgets": []}')
    plan = replan(multi())
    by_name = {c.name: c for c in plan.pending}
    assert set(by_name) == {"lambdafail-multi-watch-heartbeat", "lambdafail-multi"}
    assert {d.field for d in by_name["lambdafail-multi-watch-heartbeat"].diffs} == {
        "evaluation_periods", "datapoints_to_alarm", "treat_missing_data"}
    assert by_name["lambdafail-multi"].action == "update"
    deploy(multi())
    assert replan(multi()).pending == []

    destroy(multi(), delete_state=True)
    assert cw.describe_alarms(AlarmNamePrefix="lambdafail-multi-")["MetricAlarms"] == []
    assert cw.list_dashboards()["DashboardEntries"] == []


def test_watch_foreign_alarm_with_our_name_is_a_conflict(mocked_aws: None) -> None:
    import boto3

    from deploy_support import multi, replan

    boto3.client("cloudwatch").put_metric_alarm(
        AlarmName="lambdafail-multi-watch-dlq", Namespace="x", MetricName="y", Statistic="Sum",
        Period=60, EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanThreshold")
    plan = replan(multi())
    assert [(x.kind, x.name, x.owner) for x in plan.conflicts] == [
        ("alarm", "lambdafail-multi-watch-dlq", None)]
    assert not [c for c in plan.changes if c.name == "lambdafail-multi-watch-dlq"]
