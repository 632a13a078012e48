"""Apply a plan: the only module that changes infrastructure at deploy time.

Rules: changes run in the plan's order (deletions in reverse dependency order, then creations
and updates in dependency order); each resource is created together with its tags in one call,
so a crash never leaves an untagged resource we would later refuse to touch; every step is
safe to repeat, so a deploy that died after any call converges when re-run. Sub-resources go
before their parent: targets before a rule, permissions before a function, inline policies
before a role. Progress is reported through a callback (no rich here).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from lambdafail.aws import AwsContext, call
from lambdafail.base.errors import AwsError
from lambdafail.deploy import stored_config
from lambdafail.deploy.package import Package, canonical_json
from lambdafail.deploy.planner import CONFIG_ITEM_PREFIX, VERSION_PREFIX, Change, Plan, Resource
from lambdafail.deploy.watch_apply import WatchApply
from lambdafail.model import naming
from lambdafail.runtime.table import TTL_ATTRIBUTE, table_definition

# status: "start" | "done" | "failed" | "wait: <what is being waited for>"
Progress = Callable[[Change, str], None]

ROLE_PROPAGATION_SECONDS = 90.0
PITR_WAIT_SECONDS = 120.0


@dataclass
class Outcome:
    done: list[Change] = field(default_factory=list)
    seconds: float = 0.0


def _tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in sorted(tags.items())]


def _wait(check: Callable[[], bool], what: str, timeout: float = 300.0) -> None:
    """Poll until `check()` is true; AWS provisioning is asynchronous."""
    deadline = time.monotonic() + timeout
    delay = 0.5
    while not check():
        if time.monotonic() > deadline:
            raise AwsError(f"timed out after {timeout:.0f}s waiting for {what}",
                           hint="check the resource in the AWS console; re-running deploy "
                                "continues from where it stopped")
        time.sleep(delay)
        delay = min(delay * 2, 5.0)


def _while_propagating(word: str, attempt: Callable[[], Any]) -> None:
    """Run `attempt`, retrying for up to ROLE_PROPAGATION_SECONDS while Lambda refuses it with
    an InvalidParameterValueException about `word` (what IAM has not propagated yet)."""
    deadline = time.monotonic() + ROLE_PROPAGATION_SECONDS
    delay = 1.0
    while True:
        try:
            attempt()
            return
        except AwsError as e:
            propagating = (e.code == "InvalidParameterValueException"
                           and word in e.message.lower())
            if not propagating or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 8.0)


class Executor(WatchApply):
    def __init__(self, ctx: AwsContext, plan: Plan, package: Package | None,
                 progress: Progress | None = None):
        self.ctx = ctx
        self.plan = plan
        self.package = package
        self.progress = progress or (lambda c, s: None)
        actual = plan.actual
        self._actual = actual.resources if actual else {}

    def apply(self) -> Outcome:
        out = Outcome()
        start = time.monotonic()
        for change in self.plan.pending:
            self.progress(change, "start")
            try:
                getattr(self, f"_{change.action}_{change.kind}")(change)
            except BaseException:
                self.progress(change, "failed")
                raise
            self.progress(change, "done")
            out.done.append(change)
        out.seconds = time.monotonic() - start
        return out

    # -- helpers ---------------------------------------------------------------------------

    def _want(self, c: Change) -> Resource:
        assert c.desired is not None
        return c.desired

    def _have(self, c: Change) -> Resource:
        assert c.actual is not None
        return c.actual

    @staticmethod
    def _changed(c: Change, *prefixes: str) -> bool:
        return any(d.field == p or d.field.startswith(p + ".") or d.field.startswith(p + "[")
                   for d in c.diffs for p in prefixes)

    @staticmethod
    def _tags_changed(c: Change) -> bool:
        return any(d.field.startswith("tags.") for d in c.diffs)

    # -- SQS dead-letter queue -------------------------------------------------------------

    @staticmethod
    def _queue_attrs(spec: dict[str, Any]) -> dict[str, str]:
        return {"MessageRetentionPeriod": spec["MessageRetentionPeriod"],
                "Policy": json.dumps(spec["Policy"], sort_keys=True)}

    def _create_queue(self, c: Change) -> None:
        w = self._want(c)
        call(self.ctx.client("sqs"), "create_queue", resource=w.name, QueueName=w.name,
             Attributes=self._queue_attrs(w.spec), tags=w.tags)

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

    def _update_bus(self, c: Change) -> None:
        w, a = self._want(c), self._have(c)
        call(self.ctx.client("events"), "tag_resource", resource=w.name,
             ResourceARN=a.context["arn"], Tags=_tag_list(w.tags))

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
        self._table_pitr(w.name, c)
        self._table_ttl(w.name)

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
        call(self.ctx.client("dynamodb"), "delete_table", resource=c.name, TableName=c.name)

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

    def _create_parameter(self, c: Change) -> None:
        w = self._want(c)
        try:
            # No Overwrite: a live routing value always wins over the seed.
            call(self.ctx.client("ssm"), "put_parameter", resource=w.name, Name=w.name,
                 Value=w.spec["value"], Type="String", Tags=_tag_list(w.tags),
                 Description=f"lambdafail {self.plan.topology}: active endpoint of "
                             f"{w.service}")
        except AwsError as e:
            if e.code != "ParameterAlreadyExists":
                raise

    def _delete_parameter(self, c: Change) -> None:
        try:
            call(self.ctx.client("ssm"), "delete_parameter", resource=c.name, Name=c.name)
        except AwsError as e:
            if e.code != "ParameterNotFound":
                raise

    # -- IAM role --------------------------------------------------------------------------

    def _put_inline(self, w: Resource) -> None:
        call(self.ctx.client("iam"), "put_role_policy", resource=w.name, RoleName=w.name,
             PolicyName=naming.INLINE_POLICY,
             PolicyDocument=json.dumps(w.spec["inline_policy"], sort_keys=True))

    def _create_role(self, c: Change) -> None:
        w = self._want(c)
        call(self.ctx.client("iam"), "create_role", resource=w.name, RoleName=w.name,
             AssumeRolePolicyDocument=json.dumps(w.spec["assume_role_policy"], sort_keys=True),
             Description=f"lambdafail {self.plan.topology}: orchestrator execution role",
             Tags=_tag_list(w.tags))
        self._put_inline(w)

    def _update_role(self, c: Change) -> None:
        w = self._want(c)
        client = self.ctx.client("iam")
        if self._changed(c, "assume_role_policy"):
            call(client, "update_assume_role_policy", resource=w.name, RoleName=w.name,
                 PolicyDocument=json.dumps(w.spec["assume_role_policy"], sort_keys=True))
        if self._changed(c, "inline_policy"):
            self._put_inline(w)
        if self._tags_changed(c):
            call(client, "tag_role", resource=w.name, RoleName=w.name, Tags=_tag_list(w.tags))

    def _delete_role(self, c: Change) -> None:
        client = self.ctx.client("iam")
        # IAM refuses to delete a role that still has inline policies.
        names = call(client, "list_role_policies", resource=c.name,
                     RoleName=c.name).get("PolicyNames", [])
        for p in names:
            call(client, "delete_role_policy", resource=f"{c.name}/{p}", RoleName=c.name,
                 PolicyName=p)
        # ...or attached managed policies (someone may have attached one to our role by hand:
        # detaching it from the role we own and delete is the only way to converge).
        attached = call(client, "list_attached_role_policies", resource=c.name,
                        RoleName=c.name).get("AttachedPolicies", [])
        for p in attached:
            call(client, "detach_role_policy", resource=f"{c.name}/{p['PolicyName']}",
                 RoleName=c.name, PolicyArn=p["PolicyArn"])
        call(client, "delete_role", resource=c.name, RoleName=c.name)

    # -- the role's managed policies (past the inline quota) --------------------------------

    def _create_policy(self, c: Change) -> None:
        w = self._want(c)
        client = self.ctx.client("iam")
        call(client, "create_policy", resource=w.name, PolicyName=w.name,
             Path=naming.policy_path(self.plan.topology),
             PolicyDocument=json.dumps(w.spec["document"], sort_keys=True),
             Description=f"lambdafail {self.plan.topology}: orchestrator permissions",
             Tags=_tag_list(w.tags))
        call(client, "attach_role_policy", resource=w.context["role"],
             RoleName=w.context["role"], PolicyArn=w.context["arn"])

    def _update_policy(self, c: Change) -> None:
        w, a = self._want(c), self._have(c)
        client = self.ctx.client("iam")
        arn = a.context["arn"]
        if self._changed(c, "document"):
            # A managed policy keeps at most 5 versions: drop the oldest non-default first.
            versions = call(client, "list_policy_versions", resource=w.name,
                            PolicyArn=arn)["Versions"]
            old = sorted((v for v in versions if not v["IsDefaultVersion"]),
                         key=lambda v: v["CreateDate"])
            for v in old[:max(0, len(versions) - 4)]:
                call(client, "delete_policy_version", resource=w.name, PolicyArn=arn,
                     VersionId=v["VersionId"])
            call(client, "create_policy_version", resource=w.name, PolicyArn=arn,
                 PolicyDocument=json.dumps(w.spec["document"], sort_keys=True),
                 SetAsDefault=True)
        if self._changed(c, "attached"):
            call(client, "attach_role_policy", resource=w.context["role"],
                 RoleName=w.context["role"], PolicyArn=arn)
        if self._tags_changed(c):
            call(client, "tag_policy", resource=w.name, PolicyArn=arn, Tags=_tag_list(w.tags))

    def _delete_policy(self, c: Change) -> None:
        a = self._have(c)
        client = self.ctx.client("iam")
        arn = a.context["arn"]
        if a.context.get("attached"):
            try:
                call(client, "detach_role_policy", resource=a.context["role"],
                     RoleName=a.context["role"], PolicyArn=arn)
            except AwsError as e:
                if e.code != "NoSuchEntity":
                    raise
        # IAM refuses to delete a policy that still has versions other than the default.
        for v in call(client, "list_policy_versions", resource=a.name,
                      PolicyArn=arn)["Versions"]:
            if not v["IsDefaultVersion"]:
                call(client, "delete_policy_version", resource=a.name, PolicyArn=arn,
                     VersionId=v["VersionId"])
        call(client, "delete_policy", resource=a.name, PolicyArn=arn)

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

    # -- Lambda function, alias, permissions -----------------------------------------------

    def _fn_config(self, w: Resource) -> dict[str, Any]:
        s = w.spec
        return {"Runtime": s["runtime"], "Handler": s["handler"], "Timeout": s["timeout"],
                "MemorySize": s["memory_size"], "Role": s["role"],
                "Environment": {"Variables": s["environment"]},
                "Description": f"lambdafail {self.plan.topology}: orchestrator"}

    def _zip(self) -> bytes:
        if self.package is None:
            raise AssertionError("a function change needs the package")
        return self.package.zip_bytes

    def _wait_function(self, name: str) -> None:
        lam = self.ctx.client("lambda")

        def ready() -> bool:
            cfg = call(lam, "get_function_configuration", resource=name, FunctionName=name)
            state, update = cfg.get("State"), cfg.get("LastUpdateStatus")
            if state == "Failed" or update == "Failed":
                raise AwsError(f"function {name} failed to deploy: "
                               f"{cfg.get('StateReason') or cfg.get('LastUpdateStatusReason')}",
                               hint="check the role and the package", resource=name)
            return state in (None, "Active") and update in (None, "Successful")

        _wait(ready, f"function {name} to become ready")

    def _create_function(self, c: Change) -> None:
        w = self._want(c)
        lam = self.ctx.client("lambda")
        # A new role is not assumable by Lambda for a few seconds (IAM propagation).
        _while_propagating("role", lambda: call(
            lam, "create_function", resource=w.name, FunctionName=w.name,
            Code={"ZipFile": self._zip()}, Publish=False, Tags=w.tags,
            Architectures=[w.spec["architecture"]], **self._fn_config(w)))
        self._wait_function(w.name)

    def _update_function(self, c: Change) -> None:
        w, a = self._want(c), self._have(c)
        lam = self.ctx.client("lambda")
        state = a.spec.get("state", "ready")
        if state == "pending":
            self._wait_function(w.name)  # an update in progress (ours, or someone's) finishes
        failed = state == "failed"  # a failed create or update: send configuration and code again
        if failed or self._changed(c, "runtime", "handler", "timeout", "memory_size", "role",
                                   "environment"):
            call(lam, "update_function_configuration", resource=w.name, FunctionName=w.name,
                 **self._fn_config(w))
            self._wait_function(w.name)
        if failed or self._changed(c, "code_sha256", "architecture"):
            # The architecture changes with the code (UpdateFunctionCode), not the configuration.
            call(lam, "update_function_code", resource=w.name, FunctionName=w.name,
                 ZipFile=self._zip(), Architectures=[w.spec["architecture"]], Publish=False)
            self._wait_function(w.name)
        if self._tags_changed(c):
            call(lam, "tag_resource", resource=w.name, Resource=a.context["arn"], Tags=w.tags)

    def _delete_function(self, c: Change) -> None:
        call(self.ctx.client("lambda"), "delete_function", resource=c.name, FunctionName=c.name)

    def _function_name(self) -> str:
        return naming.function_name(self.plan.topology)

    def _alias_target(self, c: Change) -> str:
        """The version the alias must point at: an existing one with the same fingerprint
        (published by an earlier, possibly interrupted, deploy), else a new one."""
        fp = self._want(c).spec["fingerprint"]
        fn = self._actual.get(("function", self._function_name()))
        versions: dict[str, str] = fn.context.get("versions", {}) if fn else {}
        same = [v for v, f in versions.items() if f == fp]
        if same:
            return max(same, key=int)
        assert self.package is not None
        got = call(self.ctx.client("lambda"), "publish_version", resource=self._function_name(),
                   FunctionName=self._function_name(), Description=VERSION_PREFIX + fp,
                   CodeSha256=self.package.sha256_b64)
        return str(got["Version"])

    def _create_alias(self, c: Change) -> None:
        version = self._alias_target(c)
        call(self.ctx.client("lambda"), "create_alias", resource=f"{self._function_name()}:live",
             FunctionName=self._function_name(), Name=naming.ALIAS, FunctionVersion=version,
             Description=f"lambdafail {self.plan.topology}: the deployed orchestrator")
        self._put_async_invoke(self._want(c))

    def _update_alias(self, c: Change) -> None:
        if self._changed(c, "fingerprint"):
            version = self._alias_target(c)
            call(self.ctx.client("lambda"), "update_alias",
                 resource=f"{self._function_name()}:live", FunctionName=self._function_name(),
                 Name=naming.ALIAS, FunctionVersion=version)
        if self._changed(c, "async_invoke"):
            self._put_async_invoke(self._want(c))

    def _put_async_invoke(self, w: Resource) -> None:
        cfg = w.spec["async_invoke"]
        lam = self.ctx.client("lambda")
        # Lambda checks that the role may send to the destination; a role policy just written
        # takes a few seconds to count (IAM propagation).
        _while_propagating("permission", lambda: call(
            lam, "put_function_event_invoke_config", resource=f"{self._function_name()}:live",
            FunctionName=self._function_name(), Qualifier=naming.ALIAS,
            MaximumRetryAttempts=cfg["MaximumRetryAttempts"],
            MaximumEventAgeInSeconds=cfg["MaximumEventAgeInSeconds"],
            DestinationConfig={"OnFailure": {"Destination": cfg["OnFailure"]}}))

    def _delete_alias(self, c: Change) -> None:
        call(self.ctx.client("lambda"), "delete_alias", resource=f"{self._function_name()}:live",
             FunctionName=self._function_name(), Name=naming.ALIAS)

    def _create_permission(self, c: Change) -> None:
        w = self._want(c)
        call(self.ctx.client("lambda"), "add_permission", resource=f"{self._function_name()}:live",
             FunctionName=self._function_name(), Qualifier=naming.ALIAS, StatementId=w.name,
             Action=w.spec["action"], Principal=w.spec["principal"],
             SourceArn=w.spec["source_arn"])

    def _update_permission(self, c: Change) -> None:
        # Statements are immutable: replace.
        self._delete_permission(c)
        self._create_permission(c)

    def _delete_permission(self, c: Change) -> None:
        call(self.ctx.client("lambda"), "remove_permission",
             resource=f"{self._function_name()}:live", FunctionName=self._function_name(),
             Qualifier=naming.ALIAS, StatementId=c.name)

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


def move_alias(ctx: AwsContext, function: str, version: str, *,
               revision_id: str | None = None) -> str:
    """Point `function`'s `live` alias at `version` (a deployment rollback); return the
    version read back. With `revision_id` the move is conditional: if someone deployed or
    rolled back since the alias was read, Lambda refuses (PreconditionFailedException)
    instead of clobbering their change."""
    lam = ctx.client("lambda")
    kw: dict[str, Any] = {"FunctionName": function, "Name": naming.ALIAS,
                          "FunctionVersion": version}
    if revision_id:
        kw["RevisionId"] = revision_id
    call(lam, "update_alias", resource=f"{function}:{naming.ALIAS}", **kw)
    after = call(lam, "get_alias", resource=f"{function}:{naming.ALIAS}", FunctionName=function,
                 Name=naming.ALIAS)
    return str(after["FunctionVersion"])
