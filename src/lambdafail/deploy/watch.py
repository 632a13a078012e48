"""Watching the watcher: the CloudWatch alarms and the dashboard deploy puts on the orchestrator.

Rule: pure (no I/O, no AWS), like the planner that calls it: `desired()` gives the `alarm` and
`dashboard` resources of a compiled topology in the exact shape `inventory` reads back, so a
no-op deploy compares equal. Three alarms, each notifying the topology's SNS topic (alarm and
OK actions; no actions without a topic):

- heartbeat: the orchestrator's `Heartbeat` metric (one EMF value a tick, runtime/handler.py)
  missing, treated as breaching, over a window derived from the schedules' longest gap;
- errors: `AWS/Lambda` `Errors` of the alias `live` above 0;
- dlq: `AWS/SQS` `ApproximateNumberOfMessagesVisible` of the dead-letter queue above 0.

The dashboard shows service states, probe latency, transitions and the three alarms.
CloudWatch's limits (PutMetricAlarm): a period of 10, 20, 30 or a multiple of 60 s; Period ×
EvaluationPeriods at most 86,400 s below a one-hour period and 604,800 s (7 days) above.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from lambdafail.model import naming
from lambdafail.runtime.log import HEARTBEAT_METRIC, NAMESPACE

if TYPE_CHECKING:
    from lambdafail.deploy.planner import Resource

ALARM_NAME_MAX = 255
DASHBOARD_NAME_MAX = 255
HEARTBEAT_PERIODS = 3  # consecutive periods without a tick before the alarm fires
PERIOD_SECONDS = 300  # errors and DLQ depth: evaluated over five minutes
DAY = 86_400
WEEK = 604_800


def alarm_prefix(topology: str) -> str:
    """Every watch alarm's name starts with this (inventory's one DescribeAlarms call)."""
    return f"{naming.base(topology)}-watch-"


def alarm_name(topology: str, what: str) -> str:
    return naming._fit(f"{alarm_prefix(topology)}{what}", ALARM_NAME_MAX)


def dashboard_name(topology: str) -> str:
    # Dashboard names take A-Z, a-z, 0-9, "-" and "_" only (no "."): lambdafail's prefix kept.
    return naming._fit(naming.base(topology), DASHBOARD_NAME_MAX).replace(".", "-")


def heartbeat_window(compiled: dict[str, Any]) -> tuple[int, int]:
    """(period, evaluation periods) of the heartbeat alarm.

    Every tick of any schedule rule publishes the metric, so the longest silence of a healthy
    orchestrator is the smallest of the rules' longest gaps; a period is that gap rounded up
    to a minute, and the alarm fires after HEARTBEAT_PERIODS empty periods in a row (fewer
    when CloudWatch's total window would be exceeded).
    """
    gaps = [int(s.get("max_gap_seconds", s["interval_seconds"]))
            for s in compiled["schedules"].values()] or [60]
    period = max(60, math.ceil(min(gaps) / 60) * 60)
    period = min(period, WEEK)
    limit = DAY if period < 3600 else WEEK
    return period, max(1, min(HEARTBEAT_PERIODS, limit // period))


def _alarm(topology: str, what: str, description: str, metric: dict[str, Any],
           actions: list[str]) -> dict[str, Any]:
    return {"description": f"lambdafail {topology}: {description}", **metric,
            "alarm_actions": list(actions), "ok_actions": list(actions)}


def alarms(compiled: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Alarm name → spec (the fields inventory reads back from DescribeAlarms)."""
    topo = compiled["topology"]
    fn = compiled["function"]
    topic = compiled.get("sns_topic_arn")
    actions = [topic] if topic else []
    period, periods = heartbeat_window(compiled)
    return {
        alarm_name(topo, "heartbeat"): _alarm(
            topo, "heartbeat", "the orchestrator stopped ticking (no Heartbeat for "
            f"{periods} x {period} s): failures are not being detected", {
                "namespace": NAMESPACE, "metric_name": HEARTBEAT_METRIC,
                "dimensions": {"Topology": topo}, "statistic": "SampleCount",
                "period": period, "evaluation_periods": periods,
                "datapoints_to_alarm": periods, "threshold": 1.0,
                "comparison": "LessThanThreshold", "treat_missing_data": "breaching"},
            actions),
        alarm_name(topo, "errors"): _alarm(
            topo, "errors", f"the orchestrator ({fn}:{naming.ALIAS}) raised errors", {
                "namespace": "AWS/Lambda", "metric_name": "Errors",
                "dimensions": {"FunctionName": fn, "Resource": f"{fn}:{naming.ALIAS}"},
                "statistic": "Sum", "period": PERIOD_SECONDS, "evaluation_periods": 1,
                "datapoints_to_alarm": 1, "threshold": 0.0,
                "comparison": "GreaterThanThreshold", "treat_missing_data": "notBreaching"},
            actions),
        alarm_name(topo, "dlq"): _alarm(
            topo, "dlq", "events reached the dead-letter queue (not processed)", {
                "namespace": "AWS/SQS", "metric_name": "ApproximateNumberOfMessagesVisible",
                "dimensions": {"QueueName": naming.dlq_name(topo)}, "statistic": "Maximum",
                "period": PERIOD_SECONDS, "evaluation_periods": 1, "datapoints_to_alarm": 1,
                "threshold": 0.0, "comparison": "GreaterThanThreshold",
                "treat_missing_data": "notBreaching"},
            actions),
    }


def _search(topo: str, dims: str, metric: str, stat: str, period: int) -> list[Any]:
    # One SEARCH expression covers every service (a widget holds at most 500 metrics).
    expr = f"SEARCH('{{{NAMESPACE},{dims}}} MetricName=\"{metric}\" Topology=\"{topo}\"', " \
           f"'{stat}', {period})"
    return [{"expression": expr, "id": "e1", "label": ""}]


def dashboard(compiled: dict[str, Any], alarm_arns: list[str]) -> dict[str, Any]:
    """The dashboard body (DashboardBody, parsed)."""
    topo = compiled["topology"]
    region = compiled["region"]

    def graph(x: int, y: int, title: str, metrics: list[Any], **extra: Any) -> dict[str, Any]:
        return {"type": "metric", "x": x, "y": y, "width": 12, "height": 6,
                "properties": {"title": title, "region": region, "view": "timeSeries",
                               "metrics": [metrics], **extra}}

    return {"widgets": [
        {"type": "alarm", "x": 0, "y": 0, "width": 24, "height": 3,
         "properties": {"title": f"lambdafail {topo}: the orchestrator",
                        "alarms": sorted(alarm_arns)}},
        graph(0, 3, "Service states (0 ok, 1 standby failing, 2 on the standby, 3 active "
                    "failing)", _search(topo, "Service,Topology", "State", "Maximum", 60),
              yAxis={"left": {"min": 0, "max": 3}}),
        graph(12, 3, "Transitions (Failovers)",
              _search(topo, "Service,Topology", "Failovers", "Sum", 300), stat="Sum"),
        graph(0, 9, "Probe latency (health.metrics: probes)",
              _search(topo, "Service,Side,Topology", "ProbeLatency", "Average", 60)),
        graph(12, 9, "Orchestrator ticks (Heartbeat)",
              _search(topo, "Topology", HEARTBEAT_METRIC, "SampleCount", 60)),
    ]}


def desired(compiled: dict[str, Any], alarm_arn: Any) -> list[Resource]:
    """The `alarm` and `dashboard` resources; `alarm_arn(name)` gives an alarm's ARN."""
    from lambdafail.deploy.planner import Resource

    topo = compiled["topology"]
    tags = naming.tags(topo)
    specs = alarms(compiled)
    out = [Resource("alarm", name, spec, dict(tags), context={"arn": alarm_arn(name)})
           for name, spec in sorted(specs.items())]
    arns = [alarm_arn(name) for name in specs]
    # Dashboards are found by name (lambdafail's prefix), not by tag.
    out.append(Resource("dashboard", dashboard_name(topo), {"body": dashboard(compiled, arns)}))
    return out


def alarm_spec_of(a: dict[str, Any]) -> dict[str, Any]:
    """A MetricAlarm from DescribeAlarms, in `alarms()`'s shape."""
    return {"description": a.get("AlarmDescription") or "",
            "namespace": a.get("Namespace"), "metric_name": a.get("MetricName"),
            "dimensions": {d["Name"]: d["Value"] for d in a.get("Dimensions") or []},
            "statistic": a.get("Statistic"), "period": a.get("Period"),
            "evaluation_periods": a.get("EvaluationPeriods"),
            "datapoints_to_alarm": a.get("DatapointsToAlarm") or a.get("EvaluationPeriods"),
            "threshold": float(a.get("Threshold") or 0.0),
            "comparison": a.get("ComparisonOperator"),
            "treat_missing_data": a.get("TreatMissingData") or "missing",
            "alarm_actions": list(a.get("AlarmActions") or []),
            "ok_actions": list(a.get("OKActions") or [])}


def put_metric_alarm_args(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    """PutMetricAlarm's arguments for a spec (create and update alike: it replaces)."""
    return {"AlarmName": name, "AlarmDescription": spec["description"],
            "Namespace": spec["namespace"], "MetricName": spec["metric_name"],
            "Dimensions": [{"Name": k, "Value": v} for k, v in sorted(spec["dimensions"].items())],
            "Statistic": spec["statistic"], "Period": spec["period"],
            "EvaluationPeriods": spec["evaluation_periods"],
            "DatapointsToAlarm": spec["datapoints_to_alarm"], "Threshold": spec["threshold"],
            "ComparisonOperator": spec["comparison"],
            "TreatMissingData": spec["treat_missing_data"], "ActionsEnabled": True,
            "AlarmActions": spec["alarm_actions"], "OKActions": spec["ok_actions"]}
