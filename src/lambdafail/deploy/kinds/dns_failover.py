"""What deploy makes ahead of time for each `dns_failover` router, how it reads it back, how it
changes it, and what those calls need.

Rules: per router, the `route_alarm` (the metric alarm the switch moves, in the control
region), the `healthcheck` (type CLOUDWATCH_METRIC, following that alarm) and the two `record`s
(Failover PRIMARY with the health check, SECONDARY without). `desired()` is pure and gives
exactly the shapes `observe()` reads back, so a no-op deploy compares equal. Names: a health
check is named by its alarm (Route 53 gives it only an id); a record by its zone, name, type
and SetIdentifier. Observing is read-only: alarms by exact name (DescribeAlarms, 100 a call),
health checks by the alarm they follow (ListHealthChecks, their tags with
ListTagsForResources, 10 a call), records by name and type (ListResourceRecordSets from that
name); a removed service's are found through the deployed topology (none of them can be listed
by a name prefix or a tag in one call). Applying is safe to repeat: the alarm is created with
its tags (PutMetricAlarm) and seeded once with the side the state says (PutMetricData); Route
53 tags a health check only after CreateHealthCheck, so one a crash left untagged is found by
the alarm it follows and tagged by the next deploy (the planner adopts it); records are
UPSERTed one by one (the PRIMARY names the health check by id: the one found, or the one just
created) and deleted with exactly the record set read back. Deleting what is gone is done.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, ClassVar

from lambdafail.base.errors import AwsError
from lambdafail.deploy import watch
from lambdafail.deploy.kinds.base import (
    Applying,
    Call,
    Clients,
    Need,
    ResourceKind,
    RouterResources,
)
from lambdafail.deploy.resources import Change, Resource, tag_list, tag_map
from lambdafail.model import naming
from lambdafail.model.arns import normalized_record_name
from lambdafail.model.kinds import dns_failover as kind

if TYPE_CHECKING:
    from lambdafail.model.arns import Where

# The alarm: one 60-s period, Maximum of PrimaryRouted below 1 is ALARM (on the standby);
# missing data keeps the state (`ignore`): a quiet metric must never fail over, and neither
# must CloudWatch losing data for a while.
ALARM_PERIOD = 60
INSUFFICIENT_DATA_STATUS = "LastKnownStatus"
FAILOVER = {"primary": "PRIMARY", "standby": "SECONDARY"}
# CallerReference: at most 64 characters, unique per CreateHealthCheck that should make one.
CALLER_REFERENCE_MAX = 64

# The operator policy's scopes of what deploy makes (docs/permissions.md).
ROUTE_ALARMS = "route-alarms"  # the routers' alarms
FAILOVER_ZONES = "failover-zones"  # the hosted zones of their records
HEALTH_CHECKS = "health-checks"  # Route 53 health checks (ids unknown before they exist)
HEALTH_CHECKS_ANY = "health-checks-any"  # "*": CreateHealthCheck, ListHealthChecks


# -- desired (pure) ---------------------------------------------------------------------------

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


def seed_value(side: str) -> float:
    """The metric deploy puts once when it creates the alarm: where the state says traffic is."""
    return 1.0 if side == "primary" else 0.0


class DnsFailoverResources(RouterResources):
    router = kind.KIND.kind
    # route_alarm → healthcheck → record, after the watch alarms. All three are what
    # applications resolve through: destroy keeps them unless --delete-state.
    kinds = (ResourceKind("route_alarm", after="alarm", state=True, seeded=True),
             ResourceKind("healthcheck", after="route_alarm", state=True, adopt_untagged=True),
             ResourceKind("record", after="healthcheck", tagged=False, state=True))
    calls = (("cloudwatch", "PutMetricData"), ("route53", "ListHealthChecks"),
             ("route53", "ListTagsForResources"), ("route53", "CreateHealthCheck"),
             ("route53", "UpdateHealthCheck"), ("route53", "DeleteHealthCheck"),
             ("route53", "ChangeTagsForResource"), ("route53", "ChangeResourceRecordSets"))
    needs: ClassVar[dict[tuple[str, str], tuple[Need, ...]]] = {
        ("cloudwatch", "ListTagsForResource"): (("cloudwatch:ListTagsForResource",
                                                 ROUTE_ALARMS),),
        ("cloudwatch", "PutMetricAlarm"): (("cloudwatch:PutMetricAlarm", ROUTE_ALARMS),
                                           ("cloudwatch:TagResource", ROUTE_ALARMS)),
        ("cloudwatch", "TagResource"): (("cloudwatch:TagResource", ROUTE_ALARMS),),
        ("cloudwatch", "DeleteAlarms"): (("cloudwatch:DeleteAlarms", ROUTE_ALARMS),),
        ("route53", "ListResourceRecordSets"): (("route53:ListResourceRecordSets",
                                                 FAILOVER_ZONES),),
        ("route53", "ChangeResourceRecordSets"): (("route53:ChangeResourceRecordSets",
                                                   FAILOVER_ZONES),),
        # A health check has no resource until it exists: created and listed on "*".
        ("route53", "CreateHealthCheck"): (("route53:CreateHealthCheck", HEALTH_CHECKS_ANY),),
        ("route53", "ListHealthChecks"): (("route53:ListHealthChecks", HEALTH_CHECKS_ANY),),
        ("route53", "UpdateHealthCheck"): (("route53:UpdateHealthCheck", HEALTH_CHECKS),),
        ("route53", "DeleteHealthCheck"): (("route53:DeleteHealthCheck", HEALTH_CHECKS),),
        ("route53", "ChangeTagsForResource"): (("route53:ChangeTagsForResource",
                                                HEALTH_CHECKS),),
        ("route53", "ListTagsForResources"): (("route53:ListTagsForResources",
                                               HEALTH_CHECKS),),
    }
    sids: ClassVar[dict[str, str]] = {ROUTE_ALARMS: "RouterAlarms", FAILOVER_ZONES: "FailoverZones",
            HEALTH_CHECKS: "HealthChecks", HEALTH_CHECKS_ANY: "HealthChecksCreate"}
    # On-call and drills never touch the failover records: their switch is the metric.
    not_for_role = frozenset((role, action, FAILOVER_ZONES) for role in ("oncall", "drill")
                             for action in ("route53:ChangeResourceRecordSets",
                                            "route53:ListResourceRecordSets"))
    condition_sids: ClassVar[dict[tuple[str, str], str]] = {
        (FAILOVER_ZONES, "route53:ChangeResourceRecordSets"): "FailoverRecordChanges"}

    def desired(self, compiled: dict[str, Any], where: Where) -> list[Resource]:
        topo = compiled["topology"]
        out: list[Resource] = []
        for service, router in self.routers(compiled).items():
            tags = naming.tags(topo, service)
            alarm = str(router["alarm"])
            out.append(Resource("route_alarm", alarm, alarm_spec(topo, service, router),
                                dict(tags), service=service,
                                context={"arn": where.arn("cloudwatch", f"alarm:{alarm}"),
                                         "router": router}))
            out.append(Resource("healthcheck", alarm, health_check_spec(where.region, alarm),
                                {**tags, "Name": alarm}, service=service))
            for side in ("primary", "standby"):
                out.append(Resource("record", record_key(router, service, side),
                                    record_spec(router, service, side), service=service))
        return out

    # -- observe (read-only) ------------------------------------------------------------------

    def observe(self, ctx: Clients, compiled: dict[str, Any], deployed: dict[str, Any] | None,
                call: Call) -> Iterator[Resource]:
        wanted = {**self.routers(deployed), **self.routers(compiled)}
        if not wanted:
            return
        alarms = sorted({str(r["alarm"]) for r in wanted.values()})
        yield from _alarms(ctx, call, alarms)
        checks = list(_health_checks(ctx, call, set(alarms)))
        yield from checks
        by_id = {c.context["id"]: c.name for c in checks}
        for service, router in sorted(wanted.items()):
            yield from _records(ctx, call, service, router, by_id)

    def applier(self, ex: Applying) -> DnsChanges:
        return DnsChanges(ex)

    # -- the operator policies ----------------------------------------------------------------

    def scopes(self, compiled: dict[str, Any], where: Where) -> dict[str, list[str]]:
        routers = list(self.routers(compiled).values())
        if not routers:
            return {}
        return {ROUTE_ALARMS: sorted({where.arn("cloudwatch", f"alarm:{r['alarm']}")
                                      for r in routers}),
                FAILOVER_ZONES: sorted({where.arn("route53", f"hostedzone/{r['zone_id']}",
                                                  regional=False, account=False)
                                        for r in routers}),
                # A health check's id exists only once it is created: no narrower ARN.
                HEALTH_CHECKS: [where.arn("route53", "healthcheck/*", regional=False,
                                          account=False)],
                HEALTH_CHECKS_ANY: ["*"]}

    def conditions(self, compiled: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
        """Deploy's failover records: only their names, their types, UPSERT and DELETE."""
        routers = list(self.routers(compiled).values())
        if not routers:
            return {}
        return {(FAILOVER_ZONES, "route53:ChangeResourceRecordSets"): {
            "ForAllValues:StringEquals": {
                "route53:ChangeResourceRecordSetsNormalizedRecordNames": sorted(
                    {normalized_record_name(r["record"]) for r in routers}),
                "route53:ChangeResourceRecordSetsRecordTypes": sorted(
                    {str(r["type"]) for r in routers}),
                "route53:ChangeResourceRecordSetsActions": ["DELETE", "UPSERT"]}}}


KIND = DnsFailoverResources()


def _alarms(ctx: Clients, call: Call, names: list[str]) -> Iterator[Resource]:
    cw = ctx.client("cloudwatch")
    for i in range(0, len(names), 100):
        chunk = names[i:i + 100]
        page = call(cw, "describe_alarms", resource=f"alarms {', '.join(chunk)}",
                    AlarmNames=chunk, AlarmTypes=["MetricAlarm"])
        for a in page.get("MetricAlarms", []):
            tags = tag_map(call(cw, "list_tags_for_resource", resource=a["AlarmName"],
                              ResourceARN=a["AlarmArn"]).get("Tags"))
            yield Resource("route_alarm", a["AlarmName"], watch.alarm_spec_of(a), tags,
                           service=tags.get(naming.TAG_SERVICE),
                           context={"arn": a["AlarmArn"], "state": a.get("StateValue")})


def _health_checks(ctx: Clients, call: Call, alarms: set[str]) -> Iterator[Resource]:
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
            tags[t["ResourceId"]] = tag_map(t.get("Tags"))
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


def _records(ctx: Clients, call: Call, service: str, router: dict[str, Any],
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
        yield Resource("record", record_key(router, service, side), spec,
                       service=service, context={"record_set": rrs})


# -- apply (the executor's part) ----------------------------------------------------------------

class DnsChanges:
    """The executor's part for the routers' alarm, health check and records."""

    def __init__(self, ex: Applying) -> None:
        self.ex = ex
        self.call = ex.call
        self._health_check_ids: dict[str, str] = {}
        actual = ex.plan.actual
        self._actual = actual.resources if actual else {}

    def _cw_here(self) -> Any:
        return self.ex.ctx.client("cloudwatch")

    def _r53(self) -> Any:
        return self.ex.ctx.client("route53")

    # -- the alarm the switch moves --------------------------------------------------

    def _create_route_alarm(self, c: Change) -> None:
        w = c.want
        kw = watch.put_metric_alarm_args(w.name, w.spec)
        kw["Tags"] = tag_list(w.tags)
        self.call(self._cw_here(), "put_metric_alarm", resource=w.name, **kw)
        side = str(w.context.get("seed") or "primary")
        dims = w.spec["dimensions"]
        self.call(self._cw_here(), "put_metric_data", resource=f"{kind.METRIC_NAMESPACE}/"
                  f"{kind.METRIC} ({w.name})", Namespace=kind.METRIC_NAMESPACE, MetricData=[{
                      "MetricName": kind.METRIC, "Value": seed_value(side),
                      "Dimensions": [{"Name": k, "Value": v} for k, v in sorted(dims.items())]}])

    def _update_route_alarm(self, c: Change) -> None:
        w, a = c.want, c.have
        if any(not d.field.startswith("tags.") for d in c.diffs):
            self.call(self._cw_here(), "put_metric_alarm", resource=w.name,
                      **watch.put_metric_alarm_args(w.name, w.spec))
        if c.tags_changed():
            self.call(self._cw_here(), "tag_resource", resource=w.name,
                      ResourceARN=a.context["arn"], Tags=tag_list(w.tags))

    def _delete_route_alarm(self, c: Change) -> None:
        self.call(self._cw_here(), "delete_alarms", resource=c.name, AlarmNames=[c.name])

    # -- the health check that follows it ---------------------------------------------

    def _hc_config(self, spec: dict[str, Any]) -> dict[str, Any]:
        return {"AlarmIdentifier": {"Region": spec["alarm_region"],
                                    "Name": spec["alarm_name"]},
                "InsufficientDataHealthStatus": spec["insufficient_data"],
                "Inverted": spec["inverted"], "Disabled": spec["disabled"]}

    def _tag_health_check(self, hc_id: str, tags: dict[str, str]) -> None:
        self.call(self._r53(), "change_tags_for_resource", resource=f"health check {hc_id}",
                  ResourceType="healthcheck", ResourceId=hc_id, AddTags=tag_list(tags))

    def _create_healthcheck(self, c: Change) -> None:
        w = c.want
        digest = hashlib.sha256(w.name.encode()).hexdigest()[:16]
        ref = f"lambdafail-{digest}-{uuid.uuid4().hex}"[:CALLER_REFERENCE_MAX]
        got = self.call(self._r53(), "create_health_check",
                        resource=f"health check on {w.name}", CallerReference=ref,
                        HealthCheckConfig={"Type": "CLOUDWATCH_METRIC",
                                           **self._hc_config(w.spec)})
        hc_id = str(got["HealthCheck"]["Id"])
        self._ids()[w.name] = hc_id
        self._tag_health_check(hc_id, w.tags)

    def _update_healthcheck(self, c: Change) -> None:
        w, a = c.want, c.have
        hc_id = str(a.context["id"])
        if c.changed("type"):
            raise AwsError(f"health check {hc_id} on {w.name} is of type "
                           f"{a.spec['type']}, lambdafail needs CLOUDWATCH_METRIC",
                           hint="a health check's type cannot change: delete it by hand, "
                                "then deploy", resource=w.name)
        if any(not d.field.startswith("tags.") for d in c.diffs):
            cfg = self._hc_config(w.spec)
            self.call(self._r53(), "update_health_check", resource=f"health check {hc_id}",
                      HealthCheckId=hc_id, HealthCheckVersion=a.context.get("version") or 1,
                      **cfg)
        if c.tags_changed():
            self._tag_health_check(hc_id, w.tags)

    def _delete_healthcheck(self, c: Change) -> None:
        hc_id = str(c.have.context["id"])
        try:
            self.call(self._r53(), "delete_health_check", resource=f"health check {hc_id}",
                      HealthCheckId=hc_id)
        except AwsError as e:
            if e.code != "NoSuchHealthCheck":
                raise

    # -- the two failover records -----------------------------------------------------

    def _ids(self) -> dict[str, str]:
        return self._health_check_ids

    def _health_check_id(self, alarm: str) -> str:
        made = self._ids().get(alarm)
        if made is not None:
            return made
        have = self._actual.get(("healthcheck", alarm))
        if have is None:
            raise AwsError(f"no health check follows alarm {alarm}",
                           hint="re-run deploy: it creates the health check before the "
                                "record", resource=alarm)
        return str(have.context["id"])

    def _change_record(self, action: str, rrs: dict[str, Any], zone: str,
                       what: str) -> None:
        try:
            self.call(self._r53(), "change_resource_record_sets", resource=what,
                      HostedZoneId=zone,
                      ChangeBatch={"Comment": f"lambdafail {self.ex.plan.topology}: deploy",
                                   "Changes": [{"Action": action, "ResourceRecordSet": rrs}]})
        except AwsError as e:
            if action == "DELETE" and e.code == "InvalidChangeBatch" and "not found" in \
                    e.message.lower():
                return  # already gone
            if e.code == "InvalidChangeBatch":
                raise AwsError(f"{what}: {e.message}", hint="a record of the same name "
                               "and type without a failover policy (or another policy) "
                               "cannot live beside failover records: delete it, then "
                               "deploy", resource=what, code=e.code) from e
            raise

    def _upsert_record(self, c: Change) -> None:
        w = c.want
        s = w.spec
        rrs: dict[str, Any] = {"Name": s["name"], "Type": s["type"],
                               "SetIdentifier": s["set_identifier"],
                               "Failover": s["failover"], "TTL": s["ttl"],
                               "ResourceRecords": [{"Value": s["value"]}]}
        if s.get("health_check"):
            rrs["HealthCheckId"] = self._health_check_id(str(s["health_check"]))
        self._change_record("UPSERT", rrs, str(s["zone_id"]), w.name)

    _create_record = _upsert_record
    _update_record = _upsert_record

    def _delete_record(self, c: Change) -> None:
        a = c.have
        self._change_record("DELETE", dict(a.context["record_set"]),
                            str(a.spec["zone_id"]), a.name)

