"""Observe what exists in AWS for a topology — read-only.

Rules: no local state; everything is read back from AWS by physical name (topology-level
resources), by name prefix (EventBridge rules, which the tagging API does not list) or by tag
(SSM parameters). Every observed resource carries its tags so the planner can tell ours from a
foreign resource with a colliding name. Only read calls (Describe/Get/List/Query) are made.
Specs are normalised to exactly the shapes `planner.desired()` produces.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from lambdafail.aws import AwsContext, actions, call
from lambdafail.deploy import bus_policy, iam, kinds, planner
from lambdafail.deploy.inventory_base import get_or_none as _get
from lambdafail.deploy.inventory_base import tag_map as _tag_list
from lambdafail.deploy.inventory_table import config_items as config_items
from lambdafail.deploy.inventory_table import drill_locks, state_table
from lambdafail.deploy.planner import CONFIG_SHA_ENV, VERSION_PREFIX, Actual, Plan, Resource
from lambdafail.model import naming
from lambdafail.model.kinds import router_kind

if TYPE_CHECKING:
    from lambdafail.deploy.package import Package
    from lambdafail.model.topology import Topology

# What router kinds' calls need, for the AccessDenied hint (aws sits below deploy).
actions.contribute(kinds.needs())


def where_of(ctx: AwsContext) -> iam.Where:
    ident = call(ctx.client("sts"), "get_caller_identity")
    partition = str(ident["Arn"]).split(":")[1]
    return iam.Where(partition, ctx.region, str(ident["Account"]))


def observe(ctx: AwsContext, compiled: dict[str, Any], where: iam.Where,
            config_sha256: str | None = None) -> Actual:
    topo = compiled["topology"]
    actual = Actual(topo, where.partition, where.region, where.account)
    found = actual.resources

    def put(r: Resource) -> None:
        found[r.key] = r

    for r in _queue(ctx, naming.dlq_name(topo)):
        put(r)
    bus_exists = False
    for r in _bus(ctx, compiled["bus"]):
        put(r)
        bus_exists = True
    home, _ = planner.table_home(compiled, where.region)
    replica = home != where.region
    table_seen = False
    for r in state_table(ctx, compiled["table"], actual.notes, replica=replica):
        put(r)
        table_seen = True
    mine = naming.own_region(compiled, where.region)
    role_exists = False
    for r in _role(ctx, naming.role_name(topo, mine)):
        put(r)
        role_exists = r.owner == topo
    for r in _policies(ctx, topo, naming.role_name(topo, mine), role_exists,
                       naming.policy_path(topo, mine)):
        put(r)
    for r in _log_group(ctx, f"/aws/lambda/{compiled['function']}"):
        put(r)
    for r in _function(ctx, compiled["function"], topo):
        put(r)
    buses = ["default", compiled["bus"]] if bus_exists else ["default"]
    for r in _rules(ctx, topo, buses):
        put(r)
    for r in _parameters(ctx, compiled, topo):
        put(r)
    for r in _watch(ctx, topo):
        put(r)
    table = found.get(("table", compiled["table"]))
    fn = found.get(("function", compiled["function"]))
    if (table is not None and table.owner == topo) or (replica and table_seen):
        deployed_sha = str((fn.spec.get("environment") or {}).get(CONFIG_SHA_ENV) or "") \
            if fn is not None and fn.owner == topo else ""
        configs = config_items(ctx, compiled["table"],
                                {x for x in (config_sha256, deployed_sha) if x})
        for sha in configs:
            put(Resource("item", planner.config_item_name(sha), {}))
        actual.deployed_config = configs.get(deployed_sha)
        actual.drills = drill_locks(ctx, compiled["table"])
    # After the deployed config: what a removed service's router brought is found by it.
    for r in kinds.observe(ctx, compiled, actual.deployed_config, call):
        put(r)
    return actual


def _queue(ctx: AwsContext, name: str) -> Iterator[Resource]:
    sqs = ctx.client("sqs")
    got = _get(sqs, "get_queue_url", resource=name, QueueName=name)
    if got is None:
        return
    url = got["QueueUrl"]
    attrs = call(sqs, "get_queue_attributes", resource=name, QueueUrl=url,
                 AttributeNames=["All"])["Attributes"]
    tags = call(sqs, "list_queue_tags", resource=name, QueueUrl=url).get("Tags", {})
    spec: dict[str, Any] = {"MessageRetentionPeriod": attrs.get("MessageRetentionPeriod")}
    spec["Policy"] = json.loads(attrs["Policy"]) if attrs.get("Policy") else None
    yield Resource("queue", name, spec, tags, context={"url": url, "arn": attrs.get("QueueArn")})


def _bus(ctx: AwsContext, name: str) -> Iterator[Resource]:
    ev = ctx.client("events")
    got = _get(ev, "describe_event_bus", resource=name, Name=name)
    if got is None:
        return
    tags = _tag_list(call(ev, "list_tags_for_resource", resource=name,
                          ResourceARN=got["Arn"]).get("Tags"))
    yield Resource("bus", name, {"policy": bus_policy.parse(got.get("Policy"))}, tags,
                   context={"arn": got["Arn"]})


def _role(ctx: AwsContext, name: str) -> Iterator[Resource]:
    client = ctx.client("iam")
    got = _get(client, "get_role", resource=name, RoleName=name)
    if got is None:
        return
    role = got["Role"]
    tags = _tag_list(role.get("Tags"))
    if not tags:  # older API shapes omit tags from GetRole
        tags = _tag_list(call(client, "list_role_tags", resource=name, RoleName=name)["Tags"])
    inline = _get(client, "get_role_policy", resource=name, RoleName=name,
                  PolicyName=naming.INLINE_POLICY)
    spec = {"assume_role_policy": _policy_doc(role.get("AssumeRolePolicyDocument")),
            "inline_policy": _policy_doc(inline["PolicyDocument"]) if inline else None}
    yield Resource("role", name, spec, tags, context={"arn": role["Arn"]})


def _policies(ctx: AwsContext, topo: str, role: str, role_exists: bool,
              path: str) -> Iterator[Resource]:
    """The role's managed policies: every local policy under the topology's own path (one
    created but not yet attached by a deploy that stopped is found too)."""
    client = ctx.client("iam")
    attached: set[str] = set()
    if role_exists:
        kw: dict[str, Any] = {"RoleName": role, "PathPrefix": path}
        while True:
            page = call(client, "list_attached_role_policies", resource=role, **kw)
            attached.update(p["PolicyArn"] for p in page.get("AttachedPolicies", []))
            if not page.get("IsTruncated"):
                break
            kw["Marker"] = page["Marker"]
    kw = {"Scope": "Local", "PathPrefix": path}
    while True:
        page = call(client, "list_policies", resource=f"policies under {path}", **kw)
        for p in page.get("Policies", []):
            arn, name = p["Arn"], p["PolicyName"]
            tags = _tag_list(call(client, "list_policy_tags", resource=name,
                                  PolicyArn=arn).get("Tags"))
            version = call(client, "get_policy_version", resource=name, PolicyArn=arn,
                           VersionId=p["DefaultVersionId"])["PolicyVersion"]
            yield Resource("policy", name, {"document": _policy_doc(version["Document"]),
                                            "attached": arn in attached},
                           tags, context={"arn": arn, "role": role, "attached": arn in attached,
                                          "path": path})
        if not page.get("IsTruncated"):
            break
        kw["Marker"] = page["Marker"]


def _log_group(ctx: AwsContext, name: str) -> Iterator[Resource]:
    logs = ctx.client("logs")
    page = call(logs, "describe_log_groups", resource=name, logGroupNamePrefix=name)
    group = next((g for g in page.get("logGroups", []) if g["logGroupName"] == name), None)
    if group is None:
        return
    arn = str(group["arn"]).removesuffix(":*")  # DescribeLogGroups' ARN ends in ":*"
    tags = call(logs, "list_tags_for_resource", resource=name,
                resourceArn=arn).get("tags") or {}
    yield Resource("loggroup", name, {"retention_days": group.get("retentionInDays")}, tags,
                   context={"arn": arn})


def _policy_doc(doc: Any) -> Any:
    # botocore decodes IAM's URL-encoded policy documents into dicts; tolerate raw strings.
    if isinstance(doc, str):
        from urllib.parse import unquote

        return json.loads(unquote(doc))
    return doc


def _function(ctx: AwsContext, name: str, topo: str) -> Iterator[Resource]:
    lam = ctx.client("lambda")
    got = _get(lam, "get_function", resource=name, FunctionName=name)
    if got is None:
        return
    cfg = got["Configuration"]
    # GetFunction returns tags only to callers allowed lambda:ListTags, and says nothing when
    # it leaves them out: read them with ListTags itself, so a caller without that permission
    # gets AccessDenied naming it instead of our own function looking foreign.
    tags = call(lam, "list_tags", resource=name, Resource=cfg["FunctionArn"]).get("Tags") or {}
    spec = {"runtime": cfg.get("Runtime"), "handler": cfg.get("Handler"),
            "timeout": cfg.get("Timeout"), "memory_size": cfg.get("MemorySize"),
            "architecture": (cfg.get("Architectures") or ["x86_64"])[0],
            "role": cfg.get("Role"),
            "environment": (cfg.get("Environment") or {}).get("Variables") or {},
            "code_sha256": cfg.get("CodeSha256"), "state": function_state(cfg)}
    vpc = cfg.get("VpcConfig") or {}
    if vpc.get("SubnetIds"):
        spec["vpc"] = {"subnet_ids": sorted(vpc["SubnetIds"]),
                       "security_group_ids": sorted(vpc.get("SecurityGroupIds") or [])}
    versions: dict[str, str] = {}
    yield Resource("function", name, spec, tags,
                   context={"arn": cfg["FunctionArn"], "versions": versions})
    if tags.get(naming.TAG_TOPOLOGY) != topo:
        return  # not ours: its alias and permissions are none of our business
    kw: dict[str, Any] = {"FunctionName": name}
    while True:
        page = call(lam, "list_versions_by_function", resource=name, **kw)
        for v in page.get("Versions", []):
            desc = v.get("Description") or ""
            if v["Version"] != "$LATEST" and desc.startswith(VERSION_PREFIX):
                versions[v["Version"]] = desc.removeprefix(VERSION_PREFIX)
        if not page.get("NextMarker"):
            break
        kw["Marker"] = page["NextMarker"]
    alias = _get(lam, "get_alias", resource=f"{name}:{naming.ALIAS}", FunctionName=name,
                 Name=naming.ALIAS)
    if alias is None:
        return
    version = alias["FunctionVersion"]
    invoke_cfg = _get(lam, "get_function_event_invoke_config",
                      resource=f"{name}:{naming.ALIAS}", FunctionName=name,
                      Qualifier=naming.ALIAS)
    async_cfg = None if invoke_cfg is None else {
        "MaximumRetryAttempts": invoke_cfg.get("MaximumRetryAttempts"),
        "MaximumEventAgeInSeconds": invoke_cfg.get("MaximumEventAgeInSeconds"),
        "OnFailure": ((invoke_cfg.get("DestinationConfig") or {}).get("OnFailure") or {})
        .get("Destination")}
    yield Resource("alias", naming.ALIAS, {"fingerprint": versions.get(version),
                                           "async_invoke": async_cfg},
                   context={"version": version, "arn": alias["AliasArn"]})
    policy = _get(lam, "get_policy", resource=f"{name}:{naming.ALIAS}", FunctionName=name,
                  Qualifier=naming.ALIAS)
    if policy is None:
        return
    for st in json.loads(policy["Policy"]).get("Statement", []):
        sid = st.get("Sid", "")
        if not sid.startswith("lambdafail-"):
            continue  # someone else's permission: not ours to manage
        principal = st.get("Principal")
        if isinstance(principal, dict):
            principal = principal.get("Service", principal)
        cond = st.get("Condition", {}).get("ArnLike", {})
        yield Resource("permission", sid, {
            "principal": principal, "action": st.get("Action"),
            "source_arn": cond.get("AWS:SourceArn") or cond.get("aws:SourceArn")})


def function_state(cfg: dict[str, Any]) -> str:
    """ready, pending (being created or updated) or failed, from State and LastUpdateStatus
    (absent from older API shapes: ready)."""
    state, update = cfg.get("State"), cfg.get("LastUpdateStatus")
    if state == "Failed" or update == "Failed":
        return "failed"
    if state in (None, "Active") and update in (None, "Successful"):
        return "ready"
    return "pending"


def _rules(ctx: AwsContext, topo: str, buses: list[str]) -> Iterator[Resource]:
    ev = ctx.client("events")
    prefix = naming.rule_prefix(topo)
    for bus in buses:
        kw: dict[str, Any] = {"NamePrefix": prefix, "EventBusName": bus}
        while True:
            page = call(ev, "list_rules", resource=f"{bus}/{prefix}*", **kw)
            for rule in page.get("Rules", []):
                yield _rule(ev, rule, bus, topo)
            if not page.get("NextToken"):
                break
            kw["NextToken"] = page["NextToken"]


def _rule(ev: Any, rule: dict[str, Any], bus: str, topo: str) -> Resource:
    name = rule["Name"]
    tags = _tag_list(call(ev, "list_tags_for_resource", resource=name,
                          ResourceARN=rule["Arn"]).get("Tags"))
    spec: dict[str, Any] = {"bus": bus}
    if rule.get("ScheduleExpression"):
        spec["schedule_expression"] = rule["ScheduleExpression"]
    if rule.get("EventPattern"):
        spec["event_pattern"] = json.loads(rule["EventPattern"])
    spec.update(state=rule.get("State"), description=rule.get("Description"), target=None)
    context: dict[str, Any] = {"arn": rule["Arn"], "bus": bus, "target_ids": []}
    if tags.get(naming.TAG_TOPOLOGY) == topo:
        targets = call(ev, "list_targets_by_rule", resource=name, Rule=name,
                       EventBusName=bus).get("Targets", [])
        context["target_ids"] = [t["Id"] for t in targets]
        for t in targets:
            if t["Id"] == naming.TARGET_ID:
                norm = {k: t[k] for k in ("Id", "Arn", "RetryPolicy", "DeadLetterConfig")
                        if k in t}
                if t.get("Input"):
                    norm["Input"] = json.loads(t["Input"])
                spec["target"] = norm
    return Resource("rule", name, spec, tags, service=tags.get(naming.TAG_SERVICE),
                    context=context)


def _watch(ctx: AwsContext, topo: str) -> Iterator[Resource]:
    """The watch alarms (one DescribeAlarms by name prefix; tags read per alarm found, the
    proof of ownership) and the dashboard (by name)."""
    from lambdafail.deploy import watch

    cw = ctx.client("cloudwatch")
    prefix = watch.alarm_prefix(topo)
    kw: dict[str, Any] = {"AlarmNamePrefix": prefix, "AlarmTypes": ["MetricAlarm"]}
    while True:
        page = call(cw, "describe_alarms", resource=f"alarms {prefix}*", **kw)
        for a in page.get("MetricAlarms", []):
            tags = _tag_list(call(cw, "list_tags_for_resource", resource=a["AlarmName"],
                                  ResourceARN=a["AlarmArn"]).get("Tags"))
            yield Resource("alarm", a["AlarmName"], watch.alarm_spec_of(a), tags,
                           context={"arn": a["AlarmArn"]})
        if not page.get("NextToken"):
            break
        kw["NextToken"] = page["NextToken"]
    name = watch.dashboard_name(topo)
    got = _get(cw, "get_dashboard", resource=name, DashboardName=name)
    if got is not None:
        body = got.get("DashboardBody") or "{}"
        yield Resource("dashboard", name, {"body": json.loads(body)})


def _parameters(ctx: AwsContext, compiled: dict[str, Any], topo: str) -> Iterator[Resource]:
    """The routers' SSM parameters, in each region a router is placed in (None: ctx's)."""
    by_region: dict[str | None, set[str]] = {None: set()}
    for s in compiled["services"].values():
        seeded = router_kind(s["router"]["kind"]).seeded_parameters(s["router"])
        by_region.setdefault(s["router"].get("region"), set()).update(seeded)
    for region, names in sorted(by_region.items(), key=lambda kv: kv[0] or ""):
        yield from _parameters_in(ctx, region, names, topo)


def _parameters_in(ctx: AwsContext, region: str | None, names: set[str],
                   topo: str) -> Iterator[Resource]:
    ssm = ctx.client("ssm", region) if region else ctx.client("ssm")
    # Ours from an earlier deploy (a removed service's parameter is found only by its tag).
    kw: dict[str, Any] = {"ParameterFilters": [{"Key": f"tag:{naming.TAG_TOPOLOGY}",
                                                "Values": [topo]}]}
    tagged: set[str] = set()
    while True:
        page = call(ssm, "describe_parameters", resource=f"parameters tagged {topo}", **kw)
        tagged.update(p["Name"] for p in page.get("Parameters", []))
        if not page.get("NextToken"):
            break
        kw["NextToken"] = page["NextToken"]
    wanted = sorted(names | tagged)
    placed = {"region": region} if region else {}
    for i in range(0, len(wanted), 10):  # GetParameters takes at most 10 names
        chunk = wanted[i:i + 10]
        got = call(ssm, "get_parameters", resource=", ".join(chunk), Names=chunk)
        for p in got.get("Parameters", []):
            tags = _tag_list(call(ssm, "list_tags_for_resource", resource=p["Name"],
                                  ResourceType="Parameter", ResourceId=p["Name"]).get("TagList"))
            yield Resource("parameter", p["Name"], {"value": p["Value"], **placed}, tags,
                           service=tags.get(naming.TAG_SERVICE))


def plan_for(ctx: AwsContext, topology: Topology, *, mode: str = "deploy",
             delete_state: bool = False, force: bool = False) -> tuple[Plan, Package]:
    """Compile, package, observe and plan: everything `plan`, `deploy` and `destroy` share."""
    from lambdafail.deploy import package, planner
    from lambdafail.model.topology import compiled_document

    compiled = compiled_document(topology, ctx.region)
    where = where_of(ctx)
    iam.check_quotas(compiled, where)
    pkg = package.build(compiled)
    want = planner.desired(compiled, where=where, code_sha256=pkg.sha256_b64,
                           config_sha256=pkg.config_sha256)
    actual = observe(ctx, compiled, where, config_sha256=pkg.config_sha256)
    if mode == "deploy":
        from lambdafail.deploy import preflight

        actual.missing = [{"kind": m.kind, "name": m.name, "used_by": m.used_by,
                           "message": m.message} for m in preflight.missing(ctx, compiled)]
    made = planner.plan(want, actual, mode=mode, delete_state=delete_state)
    if mode == "deploy":
        from lambdafail.deploy import guard

        guard.check(made, compiled, actual, force=force)
    return made, pkg
