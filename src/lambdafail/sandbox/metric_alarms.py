"""Metric alarms that evaluate their data and run their actions.

Fills moto gaps: moto 5.2.1 never evaluates a metric alarm against its data and runs no alarm
action (the data of the orchestrator's EMF lines comes from emf.py). Rules: `Evaluator`
(a thread, `evaluate_once` its testable step) evaluates every metric alarm with a metric name
as AWS documents it: the last EvaluationPeriods periods (each Period / time scale of real
time, never shorter than the scheduler's floor, so a sped-up schedule fills them), a period
with no datapoint treated as its TreatMissingData says (`breaching`, `notBreaching`,
`ignore`: keep the state, `missing`: not counted), ALARM when DatapointsToAlarm of them
breach, OK when fewer do, its state kept when no period could be counted. A changed state emits the "CloudWatch Alarm State Change" event
(alarms.py) and publishes the AWS alarm notification to each SNS topic among the new state's
actions (AlarmActions, OKActions). AWS/* metrics the sandbox does not produce (Lambda Errors,
SQS queue depth) simply have no data. Tested with moto 5.2.1.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from lambdafail.sandbox import alarms, backends
from lambdafail.sandbox.activity import ActivityLog
from lambdafail.sandbox.periodic import Periodic

_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "GreaterThanThreshold": lambda v, t: v > t,
    "GreaterThanOrEqualToThreshold": lambda v, t: v >= t,
    "LessThanThreshold": lambda v, t: v < t,
    "LessThanOrEqualToThreshold": lambda v, t: v <= t,
}


def _statistic(values: list[float], stat: str) -> float:
    if stat == "SampleCount":
        return float(len(values))
    if stat == "Sum":
        return sum(values)
    if stat == "Minimum":
        return min(values)
    if stat == "Maximum":
        return max(values)
    return sum(values) / len(values)  # Average


def _matches(datum: Any, alarm: Any) -> bool:
    if datum.namespace != alarm.namespace or datum.name != alarm.metric_name:
        return False
    want = {(d.name, d.value) for d in alarm.dimensions or []}
    return {(d.name, d.value) for d in datum.dimensions or []} == want


def verdict(alarm: Any, data: list[Any], now: datetime, period_real: float) -> str | None:
    """The state `alarm` should be in, or None to keep its state."""
    periods = int(alarm.evaluation_periods or 1)
    needed = int(alarm.datapoints_to_alarm or periods)
    treat = alarm.treat_missing_data or "missing"
    compare = _COMPARE.get(alarm.comparison_operator)
    if compare is None:
        return None
    breaching = counted = 0
    for k in range(periods):
        end = now - timedelta(seconds=k * period_real)
        start = end - timedelta(seconds=period_real)
        values = [d.value for d in data if start < _aware(d.timestamp) <= end]
        if values:
            counted += 1
            breaching += compare(_statistic(values, alarm.statistic or "Average"),
                                 float(alarm.threshold))
        elif treat == "breaching":
            counted += 1
            breaching += 1
        elif treat == "notBreaching":
            counted += 1
    if breaching >= needed:
        return "ALARM"
    if counted == 0:
        # AWS would say INSUFFICIENT_DATA; the sandbox keeps the state, so an alarm set by
        # SetAlarmState (a drill, a test) with no data behind it stays as it was set.
        return None
    return "OK"


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def notification(alarm: Any, old: str, region: str) -> dict[str, Any]:
    """The JSON message CloudWatch publishes to an alarm action's SNS topic."""
    dims = [{"value": d.value, "name": d.name} for d in alarm.dimensions or []]
    return {"AlarmName": alarm.name, "AlarmDescription": alarm.description or None,
            "AWSAccountId": backends.ACCOUNT_ID, "NewStateValue": alarm.state_value,
            "NewStateReason": alarm.state_reason, "OldStateValue": old, "Region": region,
            "StateChangeTime": alarms._stamp(alarm.state_updated_timestamp),
            "AlarmArn": str(alarm.alarm_arn),
            "Trigger": {"MetricName": alarm.metric_name, "Namespace": alarm.namespace,
                        "Statistic": str(alarm.statistic or "").upper(),
                        "Dimensions": dims, "Period": alarm.period,
                        "EvaluationPeriods": alarm.evaluation_periods,
                        "ComparisonOperator": alarm.comparison_operator,
                        "Threshold": alarm.threshold,
                        "TreatMissingData": alarm.treat_missing_data or "missing"}}


def run_actions(region: str, alarm: Any, old: str, log: ActivityLog) -> None:
    """Publish the notification to the SNS topics among the new state's actions."""
    if not alarm.actions_enabled:
        return
    actions = {"ALARM": alarm.alarm_actions, "OK": alarm.ok_actions,
               "INSUFFICIENT_DATA": alarm.insufficient_data_actions}.get(alarm.state_value)
    for arn in actions or []:
        if ":sns:" not in str(arn):
            continue
        subject = f'{alarm.state_value}: "{alarm.name}" in {region}'[:99]
        try:
            backends.sns(region).publish(json.dumps(notification(alarm, old, region)),
                                         arn=str(arn), subject=subject)
            log.write("ALARM", f"{alarm.name}: notified {arn}")
        except Exception as e:  # a missing topic: AWS records a failed action, nothing more
            log.write("ALARM", f"{alarm.name}: action {arn} failed: {type(e).__name__}: {e}")


class Evaluator(Periodic):
    """Evaluates the region's metric alarms every `tick` seconds until `stop()`."""

    def __init__(self, region: str, log: ActivityLog, deliver: Callable[[dict[str, Any]], Any],
                 real_period: Callable[[float], float], lock: threading.Lock,
                 tick: float = 0.5, clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 dark: Callable[[str], bool] = lambda region: False):
        self.region = region
        self.dark = dark  # a region outage (outages.py) takes its CloudWatch down too
        self.deliver = deliver
        self.real_period = real_period
        self.lock = lock
        super().__init__(log, tick)
        self.clock = clock
        self._last: dict[str, float] = {}  # alarm name -> monotonic time of its last check

    what = "alarms"

    def step(self) -> object:
        return self.evaluate_once()

    def evaluate_once(self, force: bool = False) -> int:
        """Evaluate the alarms whose period has come round; how many changed state."""
        if self.dark(self.region):
            return 0
        cw = backends.cloudwatch(self.region)
        now_mono = time.monotonic()
        changed = 0
        with self.lock:
            before = alarms.snapshot(self.region)
            due = []
            for name, alarm in list(cw.alarms.items()):
                if not alarm.metric_name or not alarm.period:
                    continue  # composite and metric-math alarms: not evaluated here
                period_real = self.real_period(float(alarm.period))
                if not force and now_mono - self._last.get(name, 0.0) < min(period_real, 5.0):
                    continue
                self._last[name] = now_mono
                due.append((alarm, period_real))
            if due:
                window = max(p * int(a.evaluation_periods or 1) for a, p in due)
                now = self.clock()
                oldest = now - timedelta(seconds=window)
                data = [d for d in cw.get_all_metrics()
                        if hasattr(d, "value") and _aware(d.timestamp) > oldest]
                for alarm, period_real in due:
                    state = verdict(alarm, [d for d in data if _matches(d, alarm)], now,
                                    period_real)
                    if state is None or state == alarm.state_value:
                        continue
                    alarm.update_state(_reason(alarm, state), "{}", state)
            events = alarms.changed_alarm_events(self.region, before)
        for event in events:
            d = event["detail"]
            old = d["previousState"]["value"]
            self.log.write("ALARM", f"{d['alarmName']}: {old} -> {d['state']['value']}")
            self.deliver(event)
            run_actions(self.region, cw.alarms[d["alarmName"]], old, self.log)
            changed += 1
        return changed


def _reason(alarm: Any, state: str) -> str:
    periods = int(alarm.evaluation_periods or 1)
    if state == "ALARM":
        return (f"Threshold Crossed: {alarm.datapoints_to_alarm or periods} out of the last "
                f"{periods} datapoints were breaching (missing data treated as "
                f"{alarm.treat_missing_data or 'missing'}).")
    return f"Threshold Crossed: no datapoint of the last {periods} was breaching."
