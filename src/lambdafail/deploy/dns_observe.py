"""Observe what deploy made for the `dns_failover` routers — read-only.

Rule: only read calls, in the shapes `dns_plan.desired()` produces. The routers looked for are
the topology's and the deployed topology's (a removed service's alarm, health check and records
are found through the deployed config: none of them can be listed by a name prefix or a tag in
one call). Alarms by exact name (DescribeAlarms, 100 a call), health checks by the alarm they
follow (ListHealthChecks, their tags with ListTagsForResources, 10 a call), records by name and
type (ListResourceRecordSets from that name).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from lambdafail.aws import AwsContext, call
from lambdafail.base.errors import AwsError
from lambdafail.deploy import dns_plan, watch
from lambdafail.deploy.resources import Resource
from lambdafail.model import naming
from lambdafail.model.kinds import dns_failover as kind


def _tags(tags: list[dict[str, str]] | None) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in tags or []}


def observe(ctx: AwsContext, compiled: dict[str, Any],
            deployed: dict[str, Any] | None) -> Iterator[Resource]:
    wanted = {**dns_plan.routers(deployed), **dns_plan.routers(compiled)}
    if not wanted:
        return
    alarms = sorted({str(r["alarm"]) for r in wanted.values()})
    yield from _alarms(ctx, alarms)
    checks = list(_health_checks(ctx, set(alarms)))
    yield from checks
    by_id = {c.context["id"]: c.name for c in checks}
    for service, router in sorted(wanted.items()):
        yield from _records(ctx, service, router, by_id)


def _alarms(ctx: AwsContext, names: list[str]) -> Iterator[Resource]:
    cw = ctx.client("cloudwatch")
    for i in range(0, len(names), 100):
        chunk = names[i:i + 100]
        page = call(cw, "describe_alarms", resource=f"alarms {', '.join(chunk)}",
                    AlarmNames=chunk, AlarmTypes=["MetricAlarm"])
        for a in page.get("MetricAlarms", []):
            tags = _tags(call(cw, "list_tags_for_resource", resource=a["AlarmName"],
                              ResourceARN=a["AlarmArn"]).get("Tags"))
            yield Resource("route_alarm", a["AlarmName"], watch.alarm_spec_of(a), tags,
                           service=tags.get(naming.TAG_SERVICE),
                           context={"arn": a["AlarmArn"], "state": a.get("StateValue")})


def _health_checks(ctx: AwsContext, alarms: set[str]) -> Iterator[Resource]:
    r53 = ctx.client("route53")
    found: dict[str, dict[str, Any]] = {}  # alarm -> health check (the first, or a tagged one)
    kw: dict[str, Any] = {}
    mine: list[dict[str, Any]] = []
    while True:
        page = call(r53, "list_health_checks", resource="health checks", **kw)
        for hc in page.get("HealthChecks", []):
            cfg = hc.get("HealthCheckConfig") or {}
            ident = cfg.get("AlarmIdentifier") or {}
            if (cfg.get("Type") == "CLOUDWATCH_METRIC" and ident.get("Name") in alarms
                    and ident.get("Region") == ctx.region):
                mine.append(hc)
        if not page.get("IsTruncated"):
            break
        kw["Marker"] = page["NextMarker"]
    tags: dict[str, dict[str, str]] = {}
    ids = [hc["Id"] for hc in mine]
    for i in range(0, len(ids), 10):  # ListTagsForResources takes at most 10 ids
        got = call(r53, "list_tags_for_resources", resource="health check tags",
                   ResourceType="healthcheck", ResourceIds=ids[i:i + 10])
        for t in got.get("ResourceTagSets", []):
            tags[t["ResourceId"]] = _tags(t.get("Tags"))
    for hc in mine:
        name = hc["HealthCheckConfig"]["AlarmIdentifier"]["Name"]
        have = found.get(name)
        # Two health checks on one alarm (a create retried before its tags): the tagged wins.
        if have is None or (not tags.get(have["Id"]) and tags.get(hc["Id"])):
            found[name] = hc
    for name, hc in sorted(found.items()):
        cfg = hc["HealthCheckConfig"]
        ident = cfg["AlarmIdentifier"]
        spec = {"type": cfg.get("Type"), "alarm_region": ident.get("Region"),
                "alarm_name": ident.get("Name"),
                "insufficient_data": cfg.get("InsufficientDataHealthStatus"),
                "inverted": bool(cfg.get("Inverted")), "disabled": bool(cfg.get("Disabled"))}
        t = tags.get(hc["Id"], {})
        yield Resource("healthcheck", name, spec, t, service=t.get(naming.TAG_SERVICE),
                       context={"id": hc["Id"], "version": hc.get("HealthCheckVersion")})


def _records(ctx: AwsContext, service: str, router: dict[str, Any],
             checks: dict[str, str]) -> Iterator[Resource]:
    r53 = ctx.client("route53")
    name, rtype, zone = str(router["record"]), str(router["type"]), str(router["zone_id"])
    wanted = {kind.set_identifier(service, s): s for s in ("primary", "standby")}
    try:
        page = call(r53, "list_resource_record_sets", resource=f"{rtype} {name} in {zone}",
                    HostedZoneId=zone, StartRecordName=name, StartRecordType=rtype,
                    MaxItems="100")
    except AwsError as e:
        if e.code == "NoSuchHostedZone":
            return  # plan's pre-flight names the missing zone
        raise
    for rrs in page.get("ResourceRecordSets", []):
        if (kind.record_name(str(rrs["Name"]).replace("\\052", "*")) != name
                or rrs["Type"] != rtype or rrs.get("SetIdentifier") not in wanted):
            continue
        side = wanted[str(rrs["SetIdentifier"])]
        values = [r["Value"] for r in rrs.get("ResourceRecords", [])]
        hc = rrs.get("HealthCheckId")
        spec = {"zone_id": zone, "name": name, "type": rtype,
                "set_identifier": rrs["SetIdentifier"], "failover": rrs.get("Failover"),
                "ttl": rrs.get("TTL"), "value": values[0] if len(values) == 1 else values,
                "health_check": checks.get(hc, f"id:{hc}") if hc else None}
        yield Resource("record", dns_plan.record_key(router, service, side), spec,
                       service=service, context={"record_set": rrs})
