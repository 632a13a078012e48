"""Helpers for the test_deploy_* tests: run a deploy in-process, and snapshot what a topology
left in AWS with plain boto3 (a client that is not lambdafail's)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3

from lambdafail.aws import AwsContext
from lambdafail.deploy.executor import Executor, Outcome
from lambdafail.deploy.inventory import plan_for
from lambdafail.deploy.planner import Plan
from lambdafail.model.loader import load_text
from lambdafail.model.topology import Topology

ROOT = Path(__file__).resolve().parent.parent
MULTI = ROOT / "configs" / "multi.yaml"
TAG = "lambdafail:topology"
# One botocore session for every context: loading service models is most of a moto deploy's
# time. Clients are still created per context, after moto is active.
_SESSION: Any = None


def context() -> AwsContext:
    global _SESSION
    if _SESSION is None:
        _SESSION = boto3.session.Session(region_name="us-east-1")
    return AwsContext(region="us-east-1", _session=_SESSION)


def multi_text(name: str = "multi") -> str:
    text = MULTI.read_text()
    return text.replace("name: multi", f"name: {name}").replace("/multi/", f"/{name}/")


def multi(name: str = "multi", edit: Any = None) -> Topology:
    text = multi_text(name)
    if edit is not None:
        text = edit(text)
    topo: Topology = load_text(text, "multi.yaml")
    return topo


def deploy(topo: Topology, ctx: AwsContext | None = None) -> tuple[Plan, Outcome, AwsContext]:
    ctx = ctx or context()
    plan, pkg = plan_for(ctx, topo)
    assert not plan.conflicts, plan.conflicts
    return plan, Executor(ctx, plan, pkg).apply(), ctx


def destroy(topo: Topology, delete_state: bool = False) -> Outcome:
    ctx = context()
    plan, _ = plan_for(ctx, topo, mode="destroy", delete_state=delete_state)
    return Executor(ctx, plan, None).apply()


def replan(topo: Topology) -> Plan:
    return plan_for(context(), topo)[0]


def _clients(endpoint: str | None) -> dict[str, Any]:
    s = context().session  # a plain boto3 session (shared only to load models once)
    return {n: s.client(n, endpoint_url=endpoint) for n in
            ("events", "lambda", "iam", "dynamodb", "sqs", "ssm")}


def _tags(lst: list[dict[str, str]] | None) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in lst or []}


def snapshot(topo: str, endpoint: str | None = None) -> dict[str, Any]:
    """Everything named lambdafail-<topo>-… (or tagged for it), normalised for comparison."""
    c = _clients(endpoint)
    prefix = f"lambdafail-{topo}-"
    snap: dict[str, Any] = {}

    buses = [b for b in c["events"].list_event_buses()["EventBuses"]
             if b["Name"].startswith(prefix)]
    snap["buses"] = {b["Name"]: _tags(c["events"].list_tags_for_resource(
        ResourceARN=b["Arn"])["Tags"]) for b in buses}
    rules: dict[str, Any] = {}
    for bus in ["default", *[b["Name"] for b in buses]]:
        for r in c["events"].list_rules(NamePrefix=prefix, EventBusName=bus)["Rules"]:
            targets = c["events"].list_targets_by_rule(Rule=r["Name"], EventBusName=bus)
            rules[r["Name"]] = {
                "bus": bus, "schedule": r.get("ScheduleExpression"),
                "pattern": json.loads(r["EventPattern"]) if r.get("EventPattern") else None,
                "state": r.get("State"),
                "tags": _tags(c["events"].list_tags_for_resource(ResourceARN=r["Arn"])["Tags"]),
                "targets": sorted(targets["Targets"], key=lambda t: t["Id"]),
            }
    snap["rules"] = rules

    functions: dict[str, Any] = {}
    for f in c["lambda"].list_functions()["Functions"]:
        if not f["FunctionName"].startswith(prefix):
            continue
        name = f["FunctionName"]
        got = c["lambda"].get_function(FunctionName=name)
        cfg = got["Configuration"]
        aliases = c["lambda"].list_aliases(FunctionName=name)["Aliases"]
        versions = [v["Version"] for v in
                    c["lambda"].list_versions_by_function(FunctionName=name)["Versions"]]
        try:
            policy = json.loads(c["lambda"].get_policy(FunctionName=name,
                                                       Qualifier="live")["Policy"])
            statements = sorted(policy["Statement"], key=lambda s: s["Sid"])
        except c["lambda"].exceptions.ResourceNotFoundException:
            statements = []
        functions[name] = {
            "config": {k: cfg.get(k) for k in ("Runtime", "Handler", "Timeout", "MemorySize",
                                               "Role", "Environment", "CodeSha256")},
            "tags": got.get("Tags"),
            "aliases": {a["Name"]: a["FunctionVersion"] for a in aliases},
            "versions": versions,
            "policy": statements,
        }
    snap["functions"] = functions

    roles: dict[str, Any] = {}
    for r in c["iam"].list_roles()["Roles"]:
        if r["RoleName"].startswith(prefix):
            name = r["RoleName"]
            pols = c["iam"].list_role_policies(RoleName=name)["PolicyNames"]
            roles[name] = {
                "tags": _tags(c["iam"].list_role_tags(RoleName=name)["Tags"]),
                "assume": r["AssumeRolePolicyDocument"],
                "policies": {p: c["iam"].get_role_policy(RoleName=name, PolicyName=p)[
                    "PolicyDocument"] for p in pols},
            }
    snap["roles"] = roles

    tables: dict[str, Any] = {}
    for name in c["dynamodb"].list_tables()["TableNames"]:
        if not name.startswith(prefix):
            continue
        t = c["dynamodb"].describe_table(TableName=name)["Table"]
        items = c["dynamodb"].scan(TableName=name)["Items"]
        tables[name] = {
            "keys": t["KeySchema"],
            "billing": t.get("BillingModeSummary", {}).get("BillingMode"),
            "pitr": c["dynamodb"].describe_continuous_backups(TableName=name)[
                "ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"][
                "PointInTimeRecoveryStatus"],
            "ttl": c["dynamodb"].describe_time_to_live(TableName=name)["TimeToLiveDescription"],
            "tags": _tags(c["dynamodb"].list_tags_of_resource(ResourceArn=t["TableArn"])["Tags"]),
            "items": sorted(({k: v for k, v in i.items() if k != "since"} for i in items),
                            key=lambda i: (i["pk"]["S"], i["sk"]["S"])),
        }
    snap["tables"] = tables

    queues: dict[str, Any] = {}
    for url in c["sqs"].list_queues(QueueNamePrefix=prefix).get("QueueUrls", []):
        attrs = c["sqs"].get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        queues[url.rsplit("/", 1)[-1]] = {
            "retention": attrs.get("MessageRetentionPeriod"),
            "policy": json.loads(attrs["Policy"]) if attrs.get("Policy") else None,
            "tags": c["sqs"].list_queue_tags(QueueUrl=url).get("Tags", {}),
        }
    snap["queues"] = queues

    params = c["ssm"].describe_parameters(
        ParameterFilters=[{"Key": f"tag:{TAG}", "Values": [topo]}])["Parameters"]
    snap["parameters"] = {
        p["Name"]: {"value": c["ssm"].get_parameter(Name=p["Name"])["Parameter"]["Value"],
                    "tags": _tags(c["ssm"].list_tags_for_resource(
                        ResourceType="Parameter", ResourceId=p["Name"])["TagList"])}
        for p in params}
    return snap


def multi_scaled_text(count: int, name: str = "multi") -> str:
    """configs/multi.yaml with `count` services: its four, repeated with a numbered suffix on
    every name they own or route (parameter, record, alarms, rules, functions), so each copy
    adds what a new service of that shape adds to the role's policy."""
    import yaml

    doc = yaml.safe_load(multi_text(name))
    base = doc["services"]
    out: dict[str, Any] = {}
    kinds = sorted(base)
    for i in range(count):
        key = kinds[i % len(kinds)]
        n = i // len(kinds)
        text = json.dumps(base[key])
        for word in ("checkout", "catalog", "orders", "payments"):
            text = text.replace(word, f"{word}{n}")
        out[f"{key}{n}"] = json.loads(text)
    doc["services"] = out
    return str(yaml.safe_dump(doc, sort_keys=False))
