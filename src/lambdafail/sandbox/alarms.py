"""Alarms that emit events: a state change becomes "CloudWatch Alarm State Change" on the bus.

Fills a moto gap: moto 5.2.1's set_alarm_state changes the alarm but emits no EventBridge
event (and runs no alarm actions). Rule: the HTTP layer snapshots the region's alarm states
before it forwards SetAlarmState to moto and calls `changed_alarm_events` after; only alarms
whose state value actually changed produce an event (AWS sends none for OK -> OK), shaped as
AWS documents it, delivered on the default bus through the normal delivery path. Reading moto's
state (not the request) makes this independent of the wire protocol (JSON, query or CBOR).
Tested with moto 5.2.1.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from lambdafail.sandbox import backends
from lambdafail.sandbox.delivery import envelope

Snapshot = dict[str, tuple[str, str, str, Any]]  # name -> (value, reason, reason data, stamp)


def snapshot(region: str) -> Snapshot:
    alarms = backends.cloudwatch(region).alarms
    return {name: (a.state_value, a.state_reason, a.state_reason_data,
                   a.state_updated_timestamp) for name, a in list(alarms.items())}


def _stamp(value: Any) -> str:
    # AWS writes alarm timestamps as 2019-10-02T17:04:40.985+0000.
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+0000"
    return str(value)


def _configuration(alarm: Any) -> dict[str, Any]:
    config: dict[str, Any] = {"description": alarm.description or ""}
    if alarm.metric_name:
        dims = {d.name: d.value for d in (alarm.dimensions or [])}
        config["metrics"] = [{
            "id": "m1",
            "metricStat": {
                "metric": {"namespace": alarm.namespace, "name": alarm.metric_name,
                           "dimensions": dims},
                "period": alarm.period, "stat": alarm.statistic or alarm.extended_statistic,
            },
            "returnData": True,
        }]
    return config


def changed_alarm_events(region: str, before: Snapshot) -> list[dict[str, Any]]:
    """The state-change events AWS would emit for what changed since `before`."""
    events: list[dict[str, Any]] = []
    for name, alarm in list(backends.cloudwatch(region).alarms.items()):
        prev = before.get(name)
        if prev is None or prev[0] == alarm.state_value:
            continue
        state: dict[str, Any] = {"value": alarm.state_value, "reason": alarm.state_reason,
                                 "timestamp": _stamp(alarm.state_updated_timestamp)}
        if alarm.state_reason_data and alarm.state_reason_data != "{}":
            state["reasonData"] = alarm.state_reason_data
        detail = {
            "alarmName": name,
            "state": state,
            "previousState": {"value": prev[0], "reason": prev[1], "timestamp": _stamp(prev[3])},
            "configuration": _configuration(alarm),
        }
        events.append(envelope(source="aws.cloudwatch",
                               detail_type="CloudWatch Alarm State Change", detail=detail,
                               region=region, resources=[str(alarm.alarm_arn)]))
    return events
