"""The orchestrator's IAM: trust policy and a least-privilege inline policy from the topology.

Rule: pure and deterministic (same compiled topology → same JSON, statements sorted by Sid).
Every statement names the exact resources the runtime touches — the state table, each SSM
router parameter, each Route 53 zone, each named router rule, each Lambda target or hook, the
SNS topic, the function's own log group. A wildcard appears only inside an ARN where AWS gives
no narrower resource (Route 53 change ids, log streams, function qualifiers).
"""

from __future__ import annotations

from typing import Any

from lambdafail.model.arns import Where as Where
from lambdafail.model.arns import function_arn as function_arn
from lambdafail.model.arns import normalized_record_name as normalized_record_name
from lambdafail.model.arns import parameter_arn as parameter_arn
from lambdafail.model.arns import rule_arn as rule_arn
from lambdafail.model.arns import statement
from lambdafail.model.kinds import ROUTERS


def trust_policy() -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                       "Action": "sts:AssumeRole"}],
    }


def table_arn(where: Where, table: str) -> str:
    return where.arn("dynamodb", f"table/{table}")


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
        statements.extend(statement(sid, actions, resources, condition))

    fn = compiled["function"]
    logs = log_group_arn(where, fn)
    add("Logs", ["logs:CreateLogGroup"], [logs])
    add("LogStreams", ["logs:CreateLogStream", "logs:PutLogEvents"], [f"{logs}:log-stream:*"])
    add("StateTable", ["dynamodb:ConditionCheckItem", "dynamodb:DeleteItem", "dynamodb:GetItem",
                       "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem"],
        [table_arn(where, compiled["table"])])

    alarms: set[str] = set()
    invoke: set[str] = set()
    for svc in compiled["services"].values():
        for side in ("primary", "standby"):
            if svc[side]["kind"] == "lambda":
                invoke.add(svc[side]["function"])  # Lambda probes invoke the target
        for sig in svc.get("signals", []):
            if sig["kind"] == "alarm":
                # Each tick re-reads the alarms' states in case an event was lost.
                alarms.add(where.arn("cloudwatch", f"alarm:{sig['alarm_name']}"))
    add("AlarmStates", ["cloudwatch:DescribeAlarms"], sorted(alarms))
    # Each router kind states its own statements (lambdafail.model.kinds).
    for kind in ROUTERS:
        mine = [svc["router"] for svc in compiled["services"].values()
                if svc["router"]["kind"] == kind.kind]
        statements.extend(kind.iam_statements(mine, where))
        for r in mine:
            invoke |= kind.invokes(r)
    add("InvokeTargets", ["lambda:InvokeFunction"], _fn_resources(where, invoke))
    if compiled.get("sns_topic_arn"):
        add("Notify", ["sns:Publish"], [compiled["sns_topic_arn"]])
    statements.sort(key=lambda s: s["Sid"])
    return {"Version": "2012-10-17", "Statement": statements}
