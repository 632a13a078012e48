"""The executor's part for the `dns_failover` routers: their alarm, health check and records.

Rule: like the rest of the executor, every call is safe to repeat. The alarm is created with
its tags (PutMetricAlarm) and seeded once with the side the state says (PutMetricData); Route 53
tags a health check only after CreateHealthCheck, so one a crash left untagged is found by the
alarm it follows and tagged by the next deploy (the planner adopts it); records are UPSERTed
one by one (the PRIMARY names the health check by id: the one found, or the one just created)
and deleted with exactly the record set read back. Deleting what is already gone is done.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from lambdafail.aws import call
from lambdafail.base.errors import AwsError
from lambdafail.deploy import dns_plan, watch
from lambdafail.deploy.apply_base import ExecutorBase, _tag_list
from lambdafail.deploy.planner import Change
from lambdafail.model.kinds import dns_failover as kind

# CallerReference: at most 64 characters, unique per CreateHealthCheck that should make one.
CALLER_REFERENCE_MAX = 64


class DnsChanges(ExecutorBase):
    _health_check_ids: dict[str, str]

    def _cw_here(self) -> Any:
        return self.ctx.client("cloudwatch")

    def _r53(self) -> Any:
        return self.ctx.client("route53")

    # -- the alarm the switch moves ------------------------------------------------------

    def _create_route_alarm(self, c: Change) -> None:
        w = self._want(c)
        kw = watch.put_metric_alarm_args(w.name, w.spec)
        kw["Tags"] = _tag_list(w.tags)
        call(self._cw_here(), "put_metric_alarm", resource=w.name, **kw)
        side = str(w.context.get("seed") or "primary")
        dims = w.spec["dimensions"]
        call(self._cw_here(), "put_metric_data", resource=f"{kind.METRIC_NAMESPACE}/"
             f"{kind.METRIC} ({w.name})", Namespace=kind.METRIC_NAMESPACE, MetricData=[{
                 "MetricName": kind.METRIC, "Value": dns_plan.seed_value(side),
                 "Dimensions": [{"Name": k, "Value": v} for k, v in sorted(dims.items())]}])

    def _update_route_alarm(self, c: Change) -> None:
        w, a = self._want(c), self._have(c)
        if any(not d.field.startswith("tags.") for d in c.diffs):
            call(self._cw_here(), "put_metric_alarm", resource=w.name,
                 **watch.put_metric_alarm_args(w.name, w.spec))
        if self._tags_changed(c):
            call(self._cw_here(), "tag_resource", resource=w.name,
                 ResourceARN=a.context["arn"], Tags=_tag_list(w.tags))

    def _delete_route_alarm(self, c: Change) -> None:
        call(self._cw_here(), "delete_alarms", resource=c.name, AlarmNames=[c.name])

    # -- the health check that follows it -------------------------------------------------

    def _hc_config(self, spec: dict[str, Any]) -> dict[str, Any]:
        return {"AlarmIdentifier": {"Region": spec["alarm_region"], "Name": spec["alarm_name"]},
                "InsufficientDataHealthStatus": spec["insufficient_data"],
                "Inverted": spec["inverted"], "Disabled": spec["disabled"]}

    def _tag_health_check(self, hc_id: str, tags: dict[str, str]) -> None:
        call(self._r53(), "change_tags_for_resource", resource=f"health check {hc_id}",
             ResourceType="healthcheck", ResourceId=hc_id, AddTags=_tag_list(tags))

    def _create_healthcheck(self, c: Change) -> None:
        w = self._want(c)
        digest = hashlib.sha256(w.name.encode()).hexdigest()[:16]
        ref = f"lambdafail-{digest}-{uuid.uuid4().hex}"[:CALLER_REFERENCE_MAX]
        got = call(self._r53(), "create_health_check", resource=f"health check on {w.name}",
                   CallerReference=ref,
                   HealthCheckConfig={"Type": "CLOUDWATCH_METRIC", **self._hc_config(w.spec)})
        hc_id = str(got["HealthCheck"]["Id"])
        self._ids()[w.name] = hc_id
        self._tag_health_check(hc_id, w.tags)

    def _update_healthcheck(self, c: Change) -> None:
        w, a = self._want(c), self._have(c)
        hc_id = str(a.context["id"])
        if self._changed(c, "type"):
            raise AwsError(f"health check {hc_id} on {w.name} is of type {a.spec['type']}, "
                           "lambdafail needs CLOUDWATCH_METRIC",
                           hint="a health check's type cannot change: delete it by hand, then "
                                "deploy", resource=w.name)
        if any(not d.field.startswith("tags.") for d in c.diffs):
            cfg = self._hc_config(w.spec)
            call(self._r53(), "update_health_check", resource=f"health check {hc_id}",
                 HealthCheckId=hc_id, HealthCheckVersion=a.context.get("version") or 1, **cfg)
        if self._tags_changed(c):
            self._tag_health_check(hc_id, w.tags)

    def _delete_healthcheck(self, c: Change) -> None:
        hc_id = str(self._have(c).context["id"])
        try:
            call(self._r53(), "delete_health_check", resource=f"health check {hc_id}",
                 HealthCheckId=hc_id)
        except AwsError as e:
            if e.code != "NoSuchHealthCheck":
                raise

    # -- the two failover records ---------------------------------------------------------

    def _ids(self) -> dict[str, str]:
        if not hasattr(self, "_health_check_ids"):
            self._health_check_ids = {}
        return self._health_check_ids

    def _health_check_id(self, alarm: str) -> str:
        made = self._ids().get(alarm)
        if made is not None:
            return made
        have = self._actual.get(("healthcheck", alarm))
        if have is None:
            raise AwsError(f"no health check follows alarm {alarm}",
                           hint="re-run deploy: it creates the health check before the record",
                           resource=alarm)
        return str(have.context["id"])

    def _change_record(self, action: str, rrs: dict[str, Any], zone: str, what: str) -> None:
        try:
            call(self._r53(), "change_resource_record_sets", resource=what, HostedZoneId=zone,
                 ChangeBatch={"Comment": f"lambdafail {self.plan.topology}: deploy",
                              "Changes": [{"Action": action, "ResourceRecordSet": rrs}]})
        except AwsError as e:
            if action == "DELETE" and e.code == "InvalidChangeBatch" and "not found" in \
                    e.message.lower():
                return  # already gone
            if e.code == "InvalidChangeBatch":
                raise AwsError(f"{what}: {e.message}", hint="a record of the same name and "
                               "type without a failover policy (or another policy) cannot "
                               "live beside failover records: delete it, then deploy",
                               resource=what, code=e.code) from e
            raise

    def _upsert_record(self, c: Change) -> None:
        w = self._want(c)
        s = w.spec
        rrs: dict[str, Any] = {"Name": s["name"], "Type": s["type"],
                               "SetIdentifier": s["set_identifier"], "Failover": s["failover"],
                               "TTL": s["ttl"], "ResourceRecords": [{"Value": s["value"]}]}
        if s.get("health_check"):
            rrs["HealthCheckId"] = self._health_check_id(str(s["health_check"]))
        self._change_record("UPSERT", rrs, str(s["zone_id"]), w.name)

    _create_record = _upsert_record
    _update_record = _upsert_record

    def _delete_record(self, c: Change) -> None:
        a = self._have(c)
        self._change_record("DELETE", dict(a.context["record_set"]), str(a.spec["zone_id"]),
                            a.name)
