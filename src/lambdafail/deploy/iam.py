"""The orchestrator's IAM: trust policy and a least-privilege inline policy from the topology.

Rule: pure and deterministic (same compiled topology → same JSON, statements sorted by Sid).
Every statement names the exact resources the runtime touches — the state table, each SSM
router parameter, each Route 53 zone, each named router rule, each Lambda target, hook or
recovery-step function, the
SNS topic, the function's own log group. A wildcard appears only inside an ARN where AWS gives
no narrower resource (Route 53 change ids, log streams, function qualifiers). `package()`
fits the document into IAM's quotas (inline, then managed policies).
"""

from __future__ import annotations

import json
from typing import Any

from lambdafail.model import naming
from lambdafail.model.arns import Where as Where
from lambdafail.model.arns import function_arn as function_arn
from lambdafail.model.arns import normalized_record_name as normalized_record_name
from lambdafail.model.arns import parameter_arn as parameter_arn
from lambdafail.model.arns import rule_arn as rule_arn
from lambdafail.model.arns import statement
from lambdafail.model.headers import referenced
from lambdafail.model.kinds import ROUTERS
from lambdafail.model.kinds.signals import SIGNALS
from lambdafail.model.kinds.steps import STEPS
from lambdafail.model.kinds.targets import target_kind


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
    # Lambda's on-failure destination for events the function failed on (planner.async_invoke)
    # is written with the function's role.
    add("FailedInvocations", ["sqs:SendMessage"],
        [where.arn("sqs", naming.dlq_name(compiled["topology"]))])
    if compiled.get("vpc"):
        from lambdafail.model.placement import ENI_ACTIONS

        # In a VPC, Lambda manages the function's network interfaces with this role.
        add("VpcNetworkInterfaces", list(ENI_ACTIONS), ["*"])
    add("StateTable", ["dynamodb:DeleteItem", "dynamodb:GetItem",
                       "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem"],
        [table_arn(where, compiled["table"])])

    invoke: set[str] = set()
    for svc in compiled["services"].values():
        for side in ("primary", "standby"):
            invoke |= target_kind(svc[side]["kind"]).invokes(svc[side])
    # Each signal kind states its own statements (lambdafail.model.kinds.signals).
    for signal_kind in SIGNALS:
        mine_signals = [sig for svc in compiled["services"].values()
                        for sig in svc.get("signals", []) if sig["kind"] == signal_kind.kind]
        statements.extend(signal_kind.iam_statements(mine_signals, where))
    # Each router kind states its own statements (lambdafail.model.kinds).
    for kind in ROUTERS:
        mine = [svc["router"] for svc in compiled["services"].values()
                if svc["router"]["kind"] == kind.kind]
        statements.extend(kind.iam_statements(mine, where))
        for r in mine:
            # A router placed in another region invokes its functions there.
            invoke |= {function_arn(where.at(r.get("region")), fn) for fn in kind.invokes(r)}
    # So does each recovery-step kind, scoped to the resources its steps name.
    for step_kind in STEPS:
        steps = [st for svc in compiled["services"].values()
                 for plan in ("failover", "failback") for st in svc["recovery"][plan]
                 if st["kind"] == step_kind.kind]
        statements.extend(step_kind.iam_statements(steps, where))
        for st in steps:
            invoke |= step_kind.invokes(st)
    add("InvokeTargets", ["lambda:InvokeFunction"], _fn_resources(where, invoke))
    # Probe headers read at probe time (model/headers.py): exactly the named secrets and
    # parameters. BatchGetSecretValue has no resource type (AWS authorises each secret it
    # returns through GetSecretValue), so it is granted on "*" and reveals nothing by itself.
    # Secrets or SecureStrings under a customer-managed KMS key also need kms:Decrypt on that
    # key (docs/permissions.md): the topology does not name keys, so no statement grants it.
    secrets, params = referenced(compiled)
    add("ProbeSecrets", ["secretsmanager:GetSecretValue"], secrets)
    add("ProbeSecretsBatch", ["secretsmanager:BatchGetSecretValue"], ["*"] if secrets else [])
    add("ProbeParameters", ["ssm:GetParameters"], [parameter_arn(where, p) for p in params])
    if compiled.get("sns_topic_arn"):
        add("Notify", ["sns:Publish"], [compiled["sns_topic_arn"]])
    # Every transition is also an event on the account's default bus (users route it).
    add("TransitionEvents", ["events:PutEvents"], [where.arn("events", "event-bus/default")])
    statements.sort(key=lambda s: s["Sid"])
    return {"Version": "2012-10-17", "Statement": statements}


# -- packaging: fitting the orchestrator's permissions into IAM's quotas ----------------------
#
# IAM caps the aggregate of a role's inline policies at 10,240 characters and each managed
# policy at 6,144, and attaches at most 10 managed policies to a role by default (20 on
# request); whitespace is not counted. Past the inline quota the statements go, split where a
# resource list is too long, first-fit into managed policies under lambdafail's own path. The
# margins leave room for IAM's own accounting (it counts the document as sent).
INLINE_QUOTA = 10_240
MANAGED_QUOTA = 6_144
MANAGED_PER_ROLE = 10
_MARGIN = 200


class PolicyTooLarge(ValueError):
    """No packing fits the role's quotas; the message names the numbers."""


def policy_size(doc: dict[str, Any]) -> int:
    """The size IAM checks against its quotas: the document without whitespace."""
    return len(json.dumps(doc, separators=(",", ":"), sort_keys=True))


def _doc(statements: list[dict[str, Any]]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": statements}


def _split(st: dict[str, Any], room: int) -> list[dict[str, Any]]:
    """A statement whose resource list does not fit `room`, as several that each do."""
    resources = st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]
    if policy_size(_doc([st])) <= room or len(resources) == 1:
        return [st]
    parts: list[list[str]] = [[]]
    base = policy_size(_doc([{**st, "Sid": st["Sid"] + "99", "Resource": []}]))
    used = base
    for r in resources:
        cost = len(json.dumps(r)) + 1
        if parts[-1] and used + cost > room:
            parts.append([])
            used = base
        parts[-1].append(r)
        used += cost
    return [{**st, "Sid": f"{st['Sid']}{i}", "Resource": p if len(p) > 1 else p[0]}
            for i, p in enumerate(parts, 1)]


def package(doc: dict[str, Any], *, max_managed: int = MANAGED_PER_ROLE
            ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The orchestrator's policy as (inline policy, managed policies), each within its quota.

    Deterministic: the same document packs the same way. Raises PolicyTooLarge when more than
    `max_managed` managed policies would be needed."""
    inline_room = INLINE_QUOTA - _MARGIN
    managed_room = MANAGED_QUOTA - _MARGIN
    if policy_size(doc) <= inline_room:
        return doc, []
    pieces = [p for st in doc["Statement"] for p in _split(st, managed_room)]
    bins: list[list[dict[str, Any]]] = [[]]
    rooms = [inline_room]
    for piece in pieces:
        for i, b in enumerate(bins):
            if policy_size(_doc([*b, piece])) <= rooms[i]:
                b.append(piece)
                break
        else:
            bins.append([piece])
            rooms.append(managed_room)
    managed = [_doc(b) for b in bins[1:]]
    too_big = [b for b in managed if policy_size(b) > MANAGED_QUOTA]
    if too_big:
        raise PolicyTooLarge(
            f"one statement of the orchestrator's permissions is {policy_size(too_big[0]):,} "
            f"characters, more than a managed policy holds ({MANAGED_QUOTA:,})")
    if len(managed) > max_managed:
        total = policy_size(doc)
        raise PolicyTooLarge(
            f"the orchestrator's permissions are {total:,} characters: they need "
            f"{len(managed)} managed policies of at most {MANAGED_QUOTA:,} besides the "
            f"{INLINE_QUOTA:,}-character inline policy, and IAM attaches at most "
            f"{max_managed} to a role")
    return _doc(bins[0]), managed


def split_managed(doc: dict[str, Any], room: int = MANAGED_QUOTA - _MARGIN
                  ) -> list[dict[str, Any]]:
    """`doc` as managed-policy documents of at most `room` characters each (one when it
    fits): statements first-fit in order, a long resource list split. Grants exactly the same."""
    if policy_size(doc) <= room:
        return [doc]
    pieces = [p for st in doc["Statement"] for p in _split(st, room)]
    bins: list[list[dict[str, Any]]] = []
    for piece in pieces:
        for b in bins:
            if policy_size(_doc([*b, piece])) <= room:
                b.append(piece)
                break
        else:
            bins.append([piece])
    return [_doc(b) for b in bins]


def check_quotas(compiled: dict[str, Any], where: Where, file: str = "") -> None:
    """Refuse (TopologyError, exit 2) a topology whose orchestrator permissions no packing fits
    into IAM's quotas: `validate` runs it offline, `plan` and `deploy` before any change."""
    from lambdafail.base.errors import Problem, TopologyError

    try:
        package(orchestrator_policy(compiled, where))
    except PolicyTooLarge as e:
        n = len(compiled["services"])
        raise TopologyError([Problem(
            f"{e} ({n} services)", path="services", file=file,
            hint="split the services into several topologies (each has its own orchestrator "
                 "and role), or route fewer distinct resources per service")], file) from None
    from lambdafail.deploy.quotas import check_rules

    check_rules(compiled, file)
