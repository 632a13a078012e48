"""Apply a plan: with its parts `apply_iam`, `apply_lambda`, `apply_watch` and what router
kinds bring (`deploy/kinds/`: each kind's applier), the only code that changes infrastructure
at deploy time.

Rules: changes run in the plan's order (deletions in reverse dependency order, then creations
and updates in dependency order); each resource is created together with its tags in one call,
so a crash never leaves an untagged resource we would later refuse to touch (Route 53 health
checks, tagged only after they exist, are adopted by the alarm they follow:
deploy/kinds/dns_failover.py); every step is safe to repeat, so a deploy that died after any
call converges when re-run. Sub-resources go before their parent: targets before a rule,
permissions before a function, inline policies before a role. Progress is reported through a callback (no rich here).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from lambdafail.aws import actions, call
from lambdafail.base.errors import AwsError
from lambdafail.deploy import kinds, settle, stored_config
from lambdafail.deploy.apply_base import ROLE_PROPAGATION_SECONDS as ROLE_PROPAGATION_SECONDS
from lambdafail.deploy.apply_base import Progress as Progress
from lambdafail.deploy.apply_base import _wait
from lambdafail.deploy.apply_iam import IamChanges
from lambdafail.deploy.apply_lambda import LambdaChanges
from lambdafail.deploy.apply_watch import WatchChanges
from lambdafail.deploy.package import canonical_json
from lambdafail.deploy.planner import CONFIG_ITEM_PREFIX, Change, Resource
from lambdafail.deploy.resources import tag_list as _tag_list
from lambdafail.model import naming
from lambdafail.runtime.table import TTL_ATTRIBUTE, table_definition

PITR_WAIT_SECONDS = 120.0
# What router kinds' calls need, for the AccessDenied hint (aws sits below deploy).
actions.contribute(kinds.needs())


@dataclass
class Outcome:
    done: list[Change] = field(default_factory=list)
    seconds: float = 0.0


class Executor(IamChanges, LambdaChanges, WatchChanges):
    def apply(self) -> Outcome:
        out = Outcome()
        start = time.monotonic()
        self._appliers: dict[str, Any] = {}
        for change in self.plan.pending:
            self.progress(change, "start")
            try:
                self._runner(change)(change)
            except BaseException:
                self.progress(change, "failed")
                raise
            self.progress(change, "done")
            out.done.append(change)
        out.seconds = time.monotonic() - start
        return out

    def _runner(self, change: Change) -> Any:
        """`_<action>_<kind>` of this executor, or of the applier of the router kind that owns
        the resource kind (one per run: it may keep what it made, such as ids)."""
        name = f"_{change.action}_{change.kind}"
        owner = kinds.owner_of(change.kind)
        if owner is None:
            return getattr(self, name)
        if owner.router not in self._appliers:
            self._appliers[owner.router] = owner.applier(self)
        return getattr(self._appliers[owner.router], name)

    # -- SQS dead-letter queue -------------------------------------------------------------

    @staticmethod
    def _queue_attrs(spec: dict[str, Any]) -> dict[str, str]:
        return {"MessageRetentionPeriod": spec["MessageRetentionPeriod"],
                "Policy": json.dumps(spec["Policy"], sort_keys=True)}

    def _create_queue(self, c: Change) -> None:
        w = self._want(c)
        settle.retry(lambda: call(self.ctx.client("sqs"), "create_queue", resource=w.name,
                                  QueueName=w.name, Attributes=self._queue_attrs(w.spec),
                                  tags=w.tags),
                     codes=settle.QUEUE_DELETED_RECENTLY, timeout=settle.QUEUE_RECREATE_SECONDS,
                     why=f"queue {w.name} was deleted less than 60 s ago (SQS holds the name)",
                     say=lambda m: self.progress(c, f"wait: {m}"), first_delay=2.0)

    def _update_queue(self, c: Change) -> None:
        w, a = self._want(c), self._have(c)
        sqs = self.ctx.client("sqs")
        if self._changed(c, "MessageRetentionPeriod", "Policy"):
            call(sqs, "set_queue_attributes", resource=w.name, QueueUrl=a.context["url"],
                 Attributes=self._queue_attrs(w.spec))
        if self._tags_changed(c):
            call(sqs, "tag_queue", resource=w.name, QueueUrl=a.context["url"], Tags=w.tags)

    def _delete_queue(self, c: Change) -> None:
        a = self._have(c)
        call(self.ctx.client("sqs"), "delete_queue", resource=a.name, QueueUrl=a.context["url"])

    # -- event bus -------------------------------------------------------------------------

    def _create_bus(self, c: Change) -> None:
        w = self._want(c)
        call(self.ctx.client("events"), "create_event_bus", resource=w.name, Name=w.name,
             Tags=_tag_list(w.tags))
        self._bus_policy(w.name, w.spec.get("policy"))

    def _update_bus(self, c: Change) -> None:
        w, a = self._want(c), self._have(c)
        if self._tags_changed(c) or not c.diffs:
            call(self.ctx.client("events"), "tag_resource", resource=w.name,
                 ResourceARN=a.context["arn"], Tags=_tag_list(w.tags))
        if self._changed(c, "policy"):
            self._bus_policy(w.name, w.spec.get("policy"))

    def _bus_policy(self, bus: str, policy: dict[str, Any] | None) -> None:
        """The bus's resource policy (deploy/bus_policy.py): replaced whole, or removed."""
        ev = self.ctx.client("events")
        if policy:
            call(ev, "put_permission", resource=bus, EventBusName=bus,
                 Policy=json.dumps(policy, sort_keys=True))
        else:
            call(ev, "remove_permission", resource=bus, EventBusName=bus,
                 RemoveAllPermissions=True)

    def _delete_bus(self, c: Change) -> None:
        call(self.ctx.client("events"), "delete_event_bus", resource=c.name, Name=c.name)

    # -- state table -----------------------------------------------------------------------

    def _wait_table(self, name: str) -> None:
        ddb = self.ctx.client("dynamodb")
        _wait(lambda: call(ddb, "describe_table", resource=name,
                           TableName=name)["Table"]["TableStatus"] == "ACTIVE",
              f"table {name} to become ACTIVE")

    def _create_table(self, c: Change) -> None:
        w = self._want(c)
        ddb = self.ctx.client("dynamodb")
        call(ddb, "create_table", resource=w.name, **table_definition(w.name),
             Tags=_tag_list(w.tags))
        self._wait_table(w.name)
        if w.spec.get("replicas"):
            # Before anything is written: AWS converts only an empty table to multi-Region
            # strong consistency, and never adds replicas to one afterwards.
            call(ddb, "update_table", resource=w.name, TableName=w.name,
                 ReplicaUpdates=[{"Create": {"RegionName": r}} for r in w.spec["replicas"]],
                 MultiRegionConsistency=w.spec["consistency"])
            self._wait_replicas(w.name, w.spec["replicas"])
        self._table_pitr(w.name, c)
        if w.spec.get("ttl_attribute"):
            self._table_ttl(w.name)

    def _wait_replicas(self, name: str, regions: list[str]) -> None:
        ddb = self.ctx.client("dynamodb")

        def ready() -> bool:
            t = call(ddb, "describe_table", resource=name, TableName=name)["Table"]
            status = {r["RegionName"]: r.get("ReplicaStatus") for r in t.get("Replicas") or []}
            return t["TableStatus"] == "ACTIVE" and all(status.get(r) == "ACTIVE"
                                                        for r in regions)

        _wait(ready, f"the replicas of table {name} in {', '.join(regions)} to become ACTIVE")

    def _table_pitr(self, name: str, change: Change | None = None) -> None:
        # Right after CreateTable, DynamoDB may answer ContinuousBackupsUnavailableException
        # ("backups are being enabled"): retried for up to PITR_WAIT_SECONDS, said on screen.
        deadline = time.monotonic() + PITR_WAIT_SECONDS
        delay = 1.0
        while True:
            try:
                call(self.ctx.client("dynamodb"), "update_continuous_backups", resource=name,
                     TableName=name,
                     PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
                return
            except AwsError as e:
                if (e.code != "ContinuousBackupsUnavailableException"
                        or time.monotonic() + delay > deadline):
                    raise
                if change is not None:
                    self.progress(change, f"wait: table {name}: backups not enabled yet; "
                                          f"retrying point-in-time recovery in {delay:.0f}s")
                time.sleep(delay)
                delay = min(delay * 2, 10.0)

    def _table_ttl(self, name: str) -> None:
        call(self.ctx.client("dynamodb"), "update_time_to_live", resource=name, TableName=name,
             TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE})

    def _update_table(self, c: Change) -> None:
        w, a = self._want(c), self._have(c)
        ddb = self.ctx.client("dynamodb")
        if self._changed(c, "key_schema"):
            raise AwsError(f"table {w.name} has key schema {a.spec['key_schema']}, lambdafail "
                           f"needs {w.spec['key_schema']}",
                           hint="keys cannot change in place; back the table up and delete it "
                                "(destroy --delete-state), then deploy", resource=w.name)
        if self._changed(c, "replicas") or self._changed(c, "consistency"):
            raise AwsError(
                f"table {w.name} has replicas {a.spec.get('replicas') or 'none'}; the "
                f"control regions need {w.spec.get('replicas') or 'none'}",
                hint="AWS converts only an empty table to multi-Region strong consistency and "
                     "never changes its regions: move the control regions as docs/placement.md "
                     "says (destroy, then deploy with fresh state)", resource=w.name)
        if self._changed(c, "billing_mode"):
            call(ddb, "update_table", resource=w.name, TableName=w.name,
                 BillingMode=table_definition(w.name)["BillingMode"])
            self._wait_table(w.name)
        if self._changed(c, "point_in_time_recovery"):
            self._table_pitr(w.name, c)
        if self._changed(c, "ttl_attribute"):
            self._table_ttl(w.name)
        if self._tags_changed(c):
            call(ddb, "tag_resource", resource=w.name, ResourceArn=a.context["arn"],
                 Tags=_tag_list(w.tags))

    def _delete_table(self, c: Change) -> None:
        ddb = self.ctx.client("dynamodb")
        replicas = self._have(c).spec.get("replicas") or []
        if replicas:
            # A global table's replicas go first: DeleteTable refuses a table that has them.
            call(ddb, "update_table", resource=c.name, TableName=c.name,
                 ReplicaUpdates=[{"Delete": {"RegionName": r}} for r in replicas])
            _wait(lambda: not call(ddb, "describe_table", resource=c.name,
                                   TableName=c.name)["Table"].get("Replicas"),
                  f"the replicas of table {c.name} to be deleted")
        call(ddb, "delete_table", resource=c.name, TableName=c.name)

    # -- seeded items and router parameters (created once, never overwritten) --------------

    def _create_item(self, c: Change) -> None:
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        table = naming.table_name(self.plan.topology)
        if c.name.startswith(CONFIG_ITEM_PREFIX):
            # Immutable, keyed by the compiled topology's hash: written once, kept for diffs.
            stored_config.write(self.ctx, table, canonical_json(self._want(c).spec["compiled"]))
            return
        item = {"pk": {"S": "service"}, "sk": {"S": c.name}, "active": {"S": "primary"},
                "phase": {"S": "steady"}, "version": {"N": "1"}, "since": {"S": now},
                "health": {"M": {}}, "alarms": {"M": {}}, "faults": {"M": {}}}
        try:
            call(self.ctx.client("dynamodb"), "put_item", resource=f"{table} service/{c.name}",
                 TableName=table, Item=item, ConditionExpression="attribute_not_exists(pk)")
        except AwsError as e:
            if e.code != "ConditionalCheckFailedException":
                raise  # else: seeded meanwhile; live state is never reset

    def _ssm(self, region: str | None) -> Any:
        """SSM where a router lives (docs/placement.md); the context's region by default."""
        return self.ctx.client("ssm", region) if region else self.ctx.client("ssm")

    def _create_parameter(self, c: Change) -> None:
        w = self._want(c)
        try:
            # No Overwrite: a live routing value always wins over the seed.
            call(self._ssm(w.spec.get("region")), "put_parameter",
                 resource=w.name, Name=w.name,
                 Value=w.spec["value"], Type="String", Tags=_tag_list(w.tags),
                 Description=f"lambdafail {self.plan.topology}: active endpoint of "
                             f"{w.service}")
        except AwsError as e:
            if e.code != "ParameterAlreadyExists":
                raise

    def _update_parameter(self, c: Change) -> None:
        # Only what the plan showed: our tags (an adopted parameter) and the value of the side
        # the state says when the file changed it (PutParameter takes no Tags with Overwrite).
        w = self._want(c)
        ssm = self.ctx.client("ssm", w.spec.get("region"))
        if any(d.field == "value" for d in c.diffs):
            call(ssm, "put_parameter", resource=w.name, Name=w.name, Value=w.spec["value"],
                 Type="String", Overwrite=True)
        if any(d.field.startswith("tags.") for d in c.diffs):
            call(ssm, "add_tags_to_resource", resource=w.name, ResourceType="Parameter",
                 ResourceId=w.name, Tags=_tag_list(w.tags))

    def _delete_parameter(self, c: Change) -> None:
        try:
            region = (c.actual or c.desired or Resource("parameter", c.name, {})).spec.get("region")
            call(self._ssm(region), "delete_parameter", resource=c.name,
                 Name=c.name)
        except AwsError as e:
            if e.code != "ParameterNotFound":
                raise

    # -- the function's log group ---------------------------------------------------------

    def _create_loggroup(self, c: Change) -> None:
        w = self._want(c)
        logs = self.ctx.client("logs")
        try:
            call(logs, "create_log_group", resource=w.name, logGroupName=w.name, tags=w.tags)
        except AwsError as e:
            # The function (an earlier deploy) may log, and so create it, meanwhile.
            if e.code != "ResourceAlreadyExistsException":
                raise
            call(logs, "tag_resource", resource=w.name, resourceArn=w.context["arn"],
                 tags=w.tags)
        call(logs, "put_retention_policy", resource=w.name, logGroupName=w.name,
             retentionInDays=w.spec["retention_days"])

    def _update_loggroup(self, c: Change) -> None:
        w = self._want(c)
        logs = self.ctx.client("logs")
        if self._changed(c, "retention_days"):
            call(logs, "put_retention_policy", resource=w.name, logGroupName=w.name,
                 retentionInDays=w.spec["retention_days"])
        if self._tags_changed(c):
            call(logs, "tag_resource", resource=w.name, resourceArn=w.context["arn"],
                 tags=w.tags)

    def _delete_loggroup(self, c: Change) -> None:
        try:
            call(self.ctx.client("logs"), "delete_log_group", resource=c.name,
                 logGroupName=c.name)
        except AwsError as e:
            if e.code != "ResourceNotFoundException":
                raise

    # -- EventBridge rules -----------------------------------------------------------------

    def _put_rule(self, w: Resource, *, tags: bool) -> None:
        s = w.spec
        kw: dict[str, Any] = {"Name": w.name, "EventBusName": s["bus"], "State": s["state"],
                              "Description": s["description"]}
        if "schedule_expression" in s:
            kw["ScheduleExpression"] = s["schedule_expression"]
        if "event_pattern" in s:
            kw["EventPattern"] = json.dumps(s["event_pattern"], sort_keys=True)
        if tags:
            kw["Tags"] = _tag_list(w.tags)
        call(self.ctx.client("events"), "put_rule", resource=w.name, **kw)

    def _put_target(self, w: Resource) -> None:
        t = dict(w.spec["target"])
        if "Input" in t:
            t["Input"] = json.dumps(t["Input"], sort_keys=True)
        got = call(self.ctx.client("events"), "put_targets", resource=w.name, Rule=w.name,
                   EventBusName=w.spec["bus"], Targets=[t])
        if got.get("FailedEntryCount"):
            e = got["FailedEntries"][0]
            raise AwsError(f"put_targets on {w.name}: {e.get('ErrorCode')}: "
                           f"{e.get('ErrorMessage')}", hint="check the alias and the DLQ exist",
                           operation="put_targets", resource=w.name, code=e.get("ErrorCode", ""))

    def _create_rule(self, c: Change) -> None:
        w = self._want(c)
        self._put_rule(w, tags=True)
        self._put_target(w)

    def _update_rule(self, c: Change) -> None:
        w, a = self._want(c), self._have(c)
        if self._changed(c, "bus"):
            raise AwsError(f"rule {w.name} is on bus {a.spec['bus']}, expected {w.spec['bus']}",
                           hint="delete the rule by hand, then deploy", resource=w.name)
        if self._changed(c, "schedule_expression", "event_pattern", "state", "description"):
            self._put_rule(w, tags=False)
        if self._changed(c, "target"):
            self._put_target(w)
        if self._tags_changed(c):
            call(self.ctx.client("events"), "tag_resource", resource=w.name,
                 ResourceARN=a.context["arn"], Tags=_tag_list(w.tags))

    def _delete_rule(self, c: Change) -> None:
        a = self._have(c)
        ev = self.ctx.client("events")
        bus = a.context["bus"]
        # EventBridge refuses to delete a rule that still has targets.
        if a.context.get("target_ids"):
            call(ev, "remove_targets", resource=a.name, Rule=a.name, EventBusName=bus,
                 Ids=a.context["target_ids"])
        call(ev, "delete_rule", resource=a.name, Name=a.name, EventBusName=bus)
