"""What deploy creates ahead of time for each `dns_failover` router, in the planner's shapes.

Rule: pure (no I/O, no AWS), like the planner that calls it: `desired()` gives, per router, the
`route_alarm` (the metric alarm the switch moves, in the control region), the `healthcheck`
(type CLOUDWATCH_METRIC, following that alarm) and the two `record`s (Failover PRIMARY with the
health check, SECONDARY without), in exactly the shapes `dns_observe` reads back, so a no-op
deploy compares equal. Names: a health check is named by its alarm (Route 53 gives it only an
id); a record by its zone, name, type and SetIdentifier.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lambdafail.model import naming
from lambdafail.model.kinds import dns_failover as kind

if TYPE_CHECKING:
    from lambdafail.deploy.resources import Resource

KIND = "dns_failover"
# The alarm: one 60-s period, Maximum of PrimaryRouted below 1 is ALARM (on the standby);
# missing data keeps the state (`ignore`): a quiet metric must never fail over, and neither
# must CloudWatch losing data for a while.
ALARM_PERIOD = 60
INSUFFICIENT_DATA_STATUS = "LastKnownStatus"
FAILOVER = {"primary": "PRIMARY", "standby": "SECONDARY"}


def routers(compiled: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    """service -> its compiled dns_failover router."""
    if not compiled:
        return {}
    return {name: svc["router"] for name, svc in sorted(compiled.get("services", {}).items())
            if svc["router"]["kind"] == KIND}


def alarm_spec(topology: str, service: str, router: dict[str, Any]) -> dict[str, Any]:
    """The alarm's spec in deploy/watch.py's shape (PutMetricAlarm, DescribeAlarms)."""
    return {"description": f"lambdafail {topology}: {service} routed to the primary while "
                           f"{kind.METRIC} is 1 (ALARM: the Route 53 health check of "
                           f"{router['record']} fails, DNS answers the standby)",
            "namespace": kind.METRIC_NAMESPACE, "metric_name": kind.METRIC,
            "dimensions": dict(router["dimensions"]), "statistic": "Maximum",
            "period": ALARM_PERIOD, "evaluation_periods": 1, "datapoints_to_alarm": 1,
            "threshold": 1.0, "comparison": "LessThanThreshold", "treat_missing_data": "ignore",
            "alarm_actions": [], "ok_actions": []}


def health_check_spec(region: str, alarm: str) -> dict[str, Any]:
    return {"type": "CLOUDWATCH_METRIC", "alarm_region": region, "alarm_name": alarm,
            "insufficient_data": INSUFFICIENT_DATA_STATUS, "inverted": False, "disabled": False}


def record_key(router: dict[str, Any], service: str, side: str) -> str:
    return (f"{router['record']} {router['type']} {kind.set_identifier(service, side)} "
            f"in {router['zone_id']}")


def record_spec(router: dict[str, Any], service: str, side: str) -> dict[str, Any]:
    return {"zone_id": router["zone_id"], "name": router["record"], "type": router["type"],
            "set_identifier": kind.set_identifier(service, side), "failover": FAILOVER[side],
            "ttl": int(router["ttl"]), "value": router["values"][side],
            # The health check by its alarm's name; the executor resolves its id.
            "health_check": router["alarm"] if side == "primary" else None}


def desired(compiled: dict[str, Any], region: str, alarm_arn: Any) -> list[Resource]:
    """The resources of every dns_failover router; `alarm_arn(name)` gives an alarm's ARN."""
    from lambdafail.deploy.resources import Resource

    topo = compiled["topology"]
    out: list[Resource] = []
    for service, router in routers(compiled).items():
        tags = naming.tags(topo, service)
        alarm = str(router["alarm"])
        out.append(Resource("route_alarm", alarm, alarm_spec(topo, service, router), dict(tags),
                            service=service, context={"arn": alarm_arn(alarm),
                                                      "router": router}))
        out.append(Resource("healthcheck", alarm, health_check_spec(region, alarm),
                            {**tags, "Name": alarm}, service=service))
        for side in ("primary", "standby"):
            out.append(Resource("record", record_key(router, service, side),
                                record_spec(router, service, side), service=service))
    return out


def seed_value(side: str) -> float:
    """The metric deploy puts once when it creates the alarm: where the state says traffic is."""
    return 1.0 if side == "primary" else 0.0
