"""The orchestrator's IAM: trust policy and a least-privilege inline policy from the topology.

Rule: pure and deterministic (same compiled topology → same JSON, statements sorted by Sid).
Every statement names the exact resources the runtime touches — the state table, each SSM
router parameter, each Route 53 zone, each named router rule, each Lambda target or hook, the
SNS topic, the function's own log group. A wildcard appears only inside an ARN where AWS gives
no narrower resource (Route 53 change ids, log streams, function qualifiers).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Where:
    """The coordinates every ARN needs."""

    partition: str
    region: str
    account: str

    def arn(self, service: str, resource: str, *, regional: bool = True,
            account: bool = True) -> str:
        return (f"arn:{self.partition}:{service}:{self.region if regional else ''}:"
                f"{self.account if account else ''}:{resource}")


def trust_policy() -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                       "Action": "sts:AssumeRole"}],
    }


def table_arn(where: Where, table: str) -> str:
    return where.arn("dynamodb", f"table/{table}")


def parameter_arn(where: Where, name: str) -> str:
    # SSM parameter ARNs carry the name without its leading slash.
    return where.arn("ssm", f"parameter/{name.lstrip('/')}")


def rule_arn(where: Where, bus: str, rule: str) -> str:
    # Rules on the default bus omit the bus from the ARN; rules on a custom bus include it.
    if bus in ("default", ""):
        return where.arn("events", f"rule/{rule}")
    if bus.startswith("arn:"):
        bus = bus.rsplit("/", 1)[-1]
    return where.arn("events", f"rule/{bus}/{rule}")


def function_arn(where: Where, name_or_arn: str) -> str:
    if name_or_arn.startswith("arn:"):
        return name_or_arn
    return where.arn("lambda", f"function:{name_or_arn}")


def normalized_record_name(name: str) -> str:
    """A record name as Route 53's condition keys compare it: lower case, no trailing dot,
    characters other than a-z 0-9 - _ . as a backslash and three octal digits (`*` → `\\052`)."""
    out = []
    for ch in name.rstrip(".").lower():
        out.append(ch if ch.isascii() and (ch.isalnum() or ch in "-_.") else f"\\{ord(ch):03o}")
    return "".join(out)


def log_group_arn(where: Where, function: str) -> str:
    return where.arn("logs", f"log-group:/aws/lambda/{function}")


def _fn_resources(where: Where, names: set[str]) -> list[str]:
    out: set[str] = set()
    for n in names:
        arn = function_arn(where, n)
        # A name or unqualified ARN may be invoked bare or with a version/alias qualifier.
        parts = arn.split(":")
        out.add(arn)
        if len(parts) == 7:
            out.add(arn + ":*")
    return sorted(out)


def orchestrator_policy(compiled: dict[str, Any], where: Where) -> dict[str, Any]:
    """The inline policy of the orchestrator's role (see module docstring)."""
    statements: list[dict[str, Any]] = []

    def add(sid: str, actions: list[str], resources: list[str],
            condition: dict[str, Any] | None = None) -> None:
        if resources:
            statements.append({"Sid": sid, "Effect": "Allow", "Action": sorted(actions),
                               "Resource": resources if len(resources) > 1 else resources[0]}
                              | ({"Condition": condition} if condition else {}))

    fn = compiled["function"]
    logs = log_group_arn(where, fn)
    add("Logs", ["logs:CreateLogGroup"], [logs])
    add("LogStreams", ["logs:CreateLogStream", "logs:PutLogEvents"], [f"{logs}:log-stream:*"])
    add("StateTable", ["dynamodb:ConditionCheckItem", "dynamodb:DeleteItem", "dynamodb:GetItem",
                       "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem"],
        [table_arn(where, compiled["table"])])

    params: set[str] = set()
    alarms: set[str] = set()
    zones: set[str] = set()
    records: set[str] = set()
    record_types: set[str] = set()
    rules: set[str] = set()
    invoke: set[str] = set()
    for svc in compiled["services"].values():
        for side in ("primary", "standby"):
            if svc[side]["kind"] == "lambda":
                invoke.add(svc[side]["function"])  # Lambda probes invoke the target
        for sig in svc.get("signals", []):
            if sig["kind"] == "alarm":
                # Each tick re-reads the alarms' states in case an event was lost.
                alarms.add(where.arn("cloudwatch", f"alarm:{sig['alarm_name']}"))
        r = svc["router"]
        if r["kind"] == "ssm":
            params.add(parameter_arn(where, r["parameter"]))
        elif r["kind"] == "route53":
            zones.add(where.arn("route53", f"hostedzone/{r['zone_id']}", regional=False,
                                account=False))
            records.add(normalized_record_name(r["record"]))
            record_types.add(str(r.get("type", "CNAME")).upper())
        elif r["kind"] == "rules":
            for side in ("primary", "standby"):
                for name in r["rules"][side]:
                    rules.add(rule_arn(where, r["bus"], name))
        elif r["kind"] == "hook":
            invoke.add(r["function"])
    add("AlarmStates", ["cloudwatch:DescribeAlarms"], sorted(alarms))
    add("RouterParameters", ["ssm:GetParameter", "ssm:PutParameter"], sorted(params))
    add("RouterZoneReads", ["route53:ListResourceRecordSets"], sorted(zones))
    # Only the routed records, only their types, only UPSERT (what the router sends): the
    # role cannot change any other record of the zone.
    add("RouterZones", ["route53:ChangeResourceRecordSets"], sorted(zones), {
        "ForAllValues:StringEquals": {
            "route53:ChangeResourceRecordSetsNormalizedRecordNames": sorted(records),
            "route53:ChangeResourceRecordSetsRecordTypes": sorted(record_types),
            "route53:ChangeResourceRecordSetsActions": ["UPSERT"]}})
    if zones:
        # GetChange has no zone scope; change ids are the narrowest resource AWS offers.
        add("RouterZoneChanges", ["route53:GetChange"],
            [where.arn("route53", "change/*", regional=False, account=False)])
    add("RouterRules", ["events:DescribeRule", "events:DisableRule", "events:EnableRule"],
        sorted(rules))
    add("InvokeTargets", ["lambda:InvokeFunction"], _fn_resources(where, invoke))
    if compiled.get("sns_topic_arn"):
        add("Notify", ["sns:Publish"], [compiled["sns_topic_arn"]])
    # Every transition is also an event on the account's default bus (users route it).
    add("TransitionEvents", ["events:PutEvents"], [where.arn("events", "event-bus/default")])
    statements.sort(key=lambda s: s["Sid"])
    return {"Version": "2012-10-17", "Statement": statements}
