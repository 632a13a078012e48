"""Router kind `dns_failover`: Route 53 failover records whose switch is a CloudWatch metric.

Rule: everything about this kind outside the orchestrator is here (model, compile, IAM, hint,
the names of what deploy creates ahead of time); its runtime twin is
`lambdafail/runtime/routers/dns_failover.py`, and what deploy creates for it is planned by
`lambdafail/deploy/dns_failover.py`. The switch is data plane only, in the control region:
PutMetricData `PrimaryRouted` (1 primary, 0 standby) moves the alarm `<base>-route-<service>`,
the CLOUDWATCH_METRIC health check follows the alarm, and Route 53 answers the SECONDARY
record while the PRIMARY's health check is unhealthy. No Route 53 API is called to switch.
"""

from __future__ import annotations

import ipaddress
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from lambdafail.model import naming
from lambdafail.model.arns import Where, statement
from lambdafail.model.common import Invalid, Reference, Strict
from lambdafail.model.kinds.base import RouterKind, RouterSpec

#: The metric the router publishes (namespace lambdafail, dimensions Topology and Service).
METRIC = "PrimaryRouted"
METRIC_NAMESPACE = "lambdafail"
ALARM_NAME_MAX = 255
# Route 53 SetIdentifier: 1-128 characters.
SET_IDENTIFIER_MAX = 128
_HOST_RE = r"^(?=.{1,253}\.?$)([A-Za-z0-9_*]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?\.)*" \
           r"[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?\.?$"


def alarm_name(topology: str, service: str) -> str:
    """The alarm the health check follows (in the control region)."""
    return naming._fit(f"{naming.base(topology)}-route-{service}", ALARM_NAME_MAX)


def set_identifier(service: str, side: str) -> str:
    """The failover record's SetIdentifier: `<service>-primary` / `<service>-standby`."""
    return naming._fit(f"{service}-{side}", SET_IDENTIFIER_MAX)


def record_name(record: str) -> str:
    """The record as Route 53 returns it: lower-cased, with the final dot."""
    return record.rstrip(".").lower() + "."


class DnsFailoverSpec(Strict):
    zone_id: str = Field(pattern=r"^(/hostedzone/)?Z[A-Z0-9]{1,31}$",
                         description="The public hosted zone that holds the record.")
    record: str = Field(min_length=1, max_length=253, description="The record's name.")
    type: Literal["CNAME", "A", "AAAA"] = Field(default="CNAME", description="Record type.")
    ttl: int = Field(default=60, ge=0, le=86400, description="Both records' TTL (seconds).")
    primary: str = Field(min_length=1, description="The PRIMARY record's value.")
    standby: str = Field(min_length=1, description="The SECONDARY record's value.")

    @field_validator("record")
    @classmethod
    def _record(cls, v: str) -> str:
        import re

        if not re.match(_HOST_RE, v):
            raise Invalid(f"not a DNS name: {v!r}", hint="e.g. app.example.com")
        return v

    @model_validator(mode="after")
    def _values(self) -> DnsFailoverSpec:
        import re

        for side in ("primary", "standby"):
            value = getattr(self, side)
            if self.type == "CNAME" and not re.match(_HOST_RE, value):
                raise Invalid(f"{side}: a CNAME's value is a host name, not {value!r}",
                              hint="e.g. web.use1.example.com")
            if self.type in ("A", "AAAA"):
                want = ipaddress.IPv4Address if self.type == "A" else ipaddress.IPv6Address
                try:
                    ok = isinstance(ipaddress.ip_address(value), want)
                except ValueError:
                    ok = False
                if not ok:
                    raise Invalid(f"{side}: an {self.type} record's value is an "
                                  f"{'IPv4' if self.type == 'A' else 'IPv6'} address, not "
                                  f"{value!r}", hint="or use type: CNAME with a host name")
        if self.primary.rstrip(".").lower() == self.standby.rstrip(".").lower():
            raise Invalid("primary and standby are the same value: a failover would change "
                          "nothing", hint="give each side its own endpoint")
        return self


class DnsFailoverRouter(RouterSpec):
    dns_failover: DnsFailoverSpec


class DnsFailover(RouterKind[DnsFailoverRouter]):
    kind = "dns_failover"
    key = "dns_failover"
    model = DnsFailoverRouter
    # PutMetricData and DescribeAlarms are regional data-plane calls, made in the control region.
    regional = True
    acts_in_control = True
    # runtime/routers/dns_failover.py READ_BACK_SECONDS: the alarm's move is waited for.
    switch_wait_seconds = 20.0

    def compile(self, router: DnsFailoverRouter, targets: dict[str, str]) -> dict[str, Any]:
        s = router.dns_failover
        return {"kind": "dns_failover", "zone_id": s.zone_id.removeprefix("/hostedzone/"),
                "record": record_name(s.record), "type": s.type, "ttl": s.ttl,
                "values": {"primary": s.primary, "standby": s.standby}}

    def with_names(self, cfg: dict[str, Any], topology: str, service: str) -> dict[str, Any]:
        return {**cfg, "alarm": alarm_name(topology, service),
                "dimensions": {"Topology": topology, "Service": service}}

    def route_key(self, router: DnsFailoverRouter) -> str | None:
        record = router.dns_failover.record.rstrip(".").lower()
        # The route53 kind's key: the two kinds must not share a record either.
        return (f"record {record} {router.dns_failover.type} in zone "
                f"{router.dns_failover.zone_id.removeprefix('/hostedzone/')}")

    def iam_statements(self, routers: list[dict[str, Any]], where: Where) -> list[dict[str, Any]]:
        if not routers:
            return []
        alarms = sorted({where.arn("cloudwatch", f"alarm:{r['alarm']}") for r in routers})
        out = statement("RouterAlarms", ["cloudwatch:DescribeAlarms"], alarms)
        # PutMetricData has no resource: the namespace condition is its only scope.
        out += statement("RouterMetrics", ["cloudwatch:PutMetricData"], ["*"], {
            "StringEquals": {"cloudwatch:namespace": METRIC_NAMESPACE}})
        return out

    def references(self, router: dict[str, Any]) -> list[Reference]:
        return [("hosted zone", str(router["zone_id"]), None)]

    def hint(self, router: dict[str, Any], side: str) -> str:
        value = router.get("values", {}).get(side, "?")
        state = "OK" if side == "primary" else "ALARM"
        return (f"the alarm {router.get('alarm', '?')} ({state} for {side}; the {router['type']} "
                f"record {router['record']} in hosted zone {router['zone_id']} then answers "
                f"{value!r}); set it with PutMetricData {METRIC_NAMESPACE}/{METRIC} = "
                f"{1 if side == 'primary' else 0}")


KIND = DnsFailover()
