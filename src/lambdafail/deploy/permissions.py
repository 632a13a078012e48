"""The least-privilege IAM policies an operator needs for one topology: deploy, oncall, drill.

Rule: pure and deterministic. Each policy is the union of what its commands call, read from
`aws.actions` (the table of actions per API call that the AccessDenied hint uses too), each
action granted on the resources of its scope: lambdafail's own names (function, role, table,
bus, queue, rules under the topology's prefix, managed policies under its path) and the
topology's routed resources exactly as the orchestrator's own policy names them (so one piece
of code decides which parameter, zone, rule or function a router touches). "*" only where AWS
offers no resource to scope to. docs/permissions.md explains each statement.
"""

from __future__ import annotations

from typing import Any

from lambdafail.aws import actions as A
from lambdafail.deploy import iam, kinds, watch
from lambdafail.model import naming
from lambdafail.model.kinds import router_kind

# What router kinds' deploy calls need (deploy/kinds/), in the one table of aws.actions.
A.contribute(kinds.needs())

ROLES = ("deploy", "oncall", "drill")

# Every call `plan`, `deploy` and `destroy` make (inventory, executor, stored config).
DEPLOY_CALLS: tuple[tuple[str, str], ...] = (
    ("sts", "GetCallerIdentity"),
    ("sqs", "GetQueueUrl"), ("sqs", "GetQueueAttributes"), ("sqs", "ListQueueTags"),
    ("sqs", "CreateQueue"), ("sqs", "SetQueueAttributes"), ("sqs", "TagQueue"),
    ("sqs", "DeleteQueue"),
    ("events", "DescribeEventBus"), ("events", "ListTagsForResource"),
    ("events", "CreateEventBus"), ("events", "TagResource"), ("events", "DeleteEventBus"),
    ("events", "PutPermission"), ("events", "RemovePermission"),
    ("events", "ListRules"), ("events", "ListTargetsByRule"), ("events", "PutRule"),
    ("events", "PutTargets"), ("events", "RemoveTargets"), ("events", "DeleteRule"),
    ("dynamodb", "DescribeTable"), ("dynamodb", "ListTagsOfResource"),
    ("dynamodb", "DescribeContinuousBackups"), ("dynamodb", "DescribeTimeToLive"),
    ("dynamodb", "CreateTable"), ("dynamodb", "UpdateTable"),
    ("dynamodb", "UpdateContinuousBackups"), ("dynamodb", "UpdateTimeToLive"),
    ("dynamodb", "TagResource"), ("dynamodb", "DeleteTable"), ("dynamodb", "Query"),
    ("dynamodb", "GetItem"), ("dynamodb", "BatchGetItem"), ("dynamodb", "PutItem"),
    ("dynamodb", "UpdateItem"),
    ("iam", "GetRole"), ("iam", "ListRoleTags"), ("iam", "GetRolePolicy"),
    ("iam", "CreateRole"), ("iam", "PutRolePolicy"), ("iam", "UpdateAssumeRolePolicy"),
    ("iam", "TagRole"), ("iam", "ListRolePolicies"), ("iam", "DeleteRolePolicy"),
    ("iam", "ListAttachedRolePolicies"), ("iam", "AttachRolePolicy"),
    ("iam", "DetachRolePolicy"), ("iam", "DeleteRole"),
    ("iam", "ListPolicies"), ("iam", "GetPolicy"), ("iam", "GetPolicyVersion"),
    ("iam", "ListPolicyVersions"), ("iam", "ListPolicyTags"),
    ("iam", "CreatePolicy"), ("iam", "CreatePolicyVersion"), ("iam", "DeletePolicyVersion"),
    ("iam", "TagPolicy"), ("iam", "DeletePolicy"),
    ("lambda", "GetFunction"), ("lambda", "ListTags"), ("lambda", "ListVersionsByFunction"),
    ("lambda", "GetAlias"), ("lambda", "GetPolicy"), ("lambda", "GetFunctionConfiguration"),
    ("lambda", "CreateFunction"), ("lambda", "UpdateFunctionConfiguration"),
    ("lambda", "UpdateFunctionCode"), ("lambda", "TagResource"), ("lambda", "DeleteFunction"),
    ("lambda", "PublishVersion"), ("lambda", "CreateAlias"), ("lambda", "UpdateAlias"),
    ("lambda", "DeleteAlias"), ("lambda", "AddPermission"), ("lambda", "RemovePermission"),
    ("lambda", "GetFunctionEventInvokeConfig"), ("lambda", "PutFunctionEventInvokeConfig"),
    ("ssm", "DescribeParameters"), ("ssm", "GetParameters"), ("ssm", "ListTagsForResource"),
    ("ssm", "PutParameter"), ("ssm", "DeleteParameter"), ("ssm", "AddTagsToResource"),
    ("logs", "DescribeLogGroups"), ("logs", "ListTagsForResource"), ("logs", "CreateLogGroup"),
    ("logs", "PutRetentionPolicy"), ("logs", "TagResource"), ("logs", "DeleteLogGroup"),
    # plan's pre-flight (deploy/preflight.py): what the topology references, read-only.
    ("cloudwatch", "DescribeAlarms"), ("route53", "ListResourceRecordSets"),
    ("sns", "GetTopicAttributes"), ("events", "DescribeRule"), ("ecs", "DescribeServices"),
    # the watch alarms and the dashboard (deploy/watch.py)
    ("cloudwatch", "ListTagsForResource"),
    ("cloudwatch", "PutMetricAlarm"), ("cloudwatch", "TagResource"),
    ("cloudwatch", "DeleteAlarms"), ("cloudwatch", "GetDashboard"),
    ("cloudwatch", "PutDashboard"), ("cloudwatch", "DeleteDashboards"),
    # what router kinds need made ahead of time (deploy/kinds/)
    *dict.fromkeys(call for k in kinds.OWNED for call in k.calls),
)

# The recovery steps' calls beyond `lambda` and `ecs` (a manual switch runs the plan).
RECOVERY_CALLS: tuple[tuple[str, str], ...] = (
    ("autoscaling", "UpdateAutoScalingGroup"), ("autoscaling", "DescribeAutoScalingGroups"),
    ("ec2", "StartInstances"), ("ec2", "StopInstances"), ("ec2", "DescribeInstances"),
    ("lambda", "PutProvisionedConcurrencyConfig"), ("lambda", "GetProvisionedConcurrencyConfig"),
    ("lambda", "DeleteProvisionedConcurrencyConfig"),
    ("rds", "SwitchoverGlobalCluster"), ("rds", "FailoverGlobalCluster"),
    ("rds", "DescribeGlobalClusters"),
)

# `status`, `history`, `failover`, `rollback` (a service's, and `--deployment`'s alias move).
ONCALL_CALLS: tuple[tuple[str, str], ...] = (
    ("sts", "GetCallerIdentity"),
    ("dynamodb", "Query"), ("dynamodb", "GetItem"), ("dynamodb", "BatchGetItem"),
    ("dynamodb", "PutItem"), ("dynamodb", "UpdateItem"), ("dynamodb", "DeleteItem"),
    ("lambda", "GetFunctionConfiguration"), ("lambda", "GetAlias"),
    ("lambda", "ListVersionsByFunction"), ("lambda", "UpdateAlias"), ("lambda", "Invoke"),
    ("lambda", "GetFunctionEventInvokeConfig"),
    ("sqs", "GetQueueUrl"), ("sqs", "GetQueueAttributes"),
    ("events", "ListRules"), ("events", "DescribeRule"), ("events", "EnableRule"),
    ("events", "DisableRule"),
    ("ssm", "GetParameter"), ("ssm", "PutParameter"), ("ssm", "AddTagsToResource"),
    ("route53", "ListResourceRecordSets"), ("route53", "ChangeResourceRecordSets"),
    ("route53", "GetChange"),
    ("cloudwatch", "DescribeAlarms"), ("cloudwatch", "PutMetricData"),
    ("sns", "Publish"), ("events", "PutEvents"),
    ("ecs", "UpdateService"), ("ecs", "DescribeServices"),
    # The CLI's own probes resolve probe headers (status --probe, failover/rollback checks);
    # status reads the routers' parameters back with GetParameters too.
    ("secretsmanager", "BatchGetSecretValue"), ("secretsmanager", "GetSecretValue"),
    ("ssm", "GetParameters"),
    *RECOVERY_CALLS,
)

# `drill`: a switch and its restore (on-call's calls) plus the injected faults.
DRILL_CALLS: tuple[tuple[str, str], ...] = (
    *ONCALL_CALLS, ("cloudwatch", "SetAlarmState"))

CALLS = {"deploy": DEPLOY_CALLS, "oncall": ONCALL_CALLS, "drill": DRILL_CALLS}

VPC_CALLER_ACTIONS = ("ec2:DescribeSecurityGroups", "ec2:DescribeSubnets", "ec2:DescribeVpcs")
# The recovery steps' scopes: the statement id (the orchestrator's own for that step kind)
# and the orchestrator's action that names the scope's resources. The describe calls AWS
# does not scope ("*") are granted only when the topology has such a step.
_RECOVERY_SCOPES = {
    A.ASG_GROUPS: ("RecoveryAutoScalingGroups", "autoscaling:UpdateAutoScalingGroup"),
    A.ASG_DESCRIBE: ("RecoveryAutoScalingDescribe", "autoscaling:DescribeAutoScalingGroups"),
    A.EC2_START: ("RecoveryEc2Start", "ec2:StartInstances"),
    A.EC2_STOP: ("RecoveryEc2Stop", "ec2:StopInstances"),
    A.EC2_DESCRIBE: ("RecoveryEc2Describe", "ec2:DescribeInstances"),
    A.LAMBDA_CONCURRENCY: ("RecoveryLambdaConcurrency", "lambda:PutProvisionedConcurrencyConfig"),
    A.AURORA_SWITCHOVER: ("RecoveryAuroraSwitchover", "rds:SwitchoverGlobalCluster"),
    A.AURORA_FAILOVER: ("RecoveryAuroraFailover", "rds:FailoverGlobalCluster"),
    A.AURORA_DESCRIBE: ("RecoveryAuroraDescribe", "rds:DescribeGlobalClusters"),
}

# Statement ids per scope (docs/permissions.md has a section for each).
_SIDS = {A.FUNCTION: "Orchestrator", A.ROLE: "Role", A.PASS_ROLE: "PassRoleToLambda",
         A.POLICIES: "RolePolicies", A.TABLE: "StateTable", A.BUS: "EventBus", A.DEFAULT_BUS: "DefaultBus",
         A.RULES: "Rules", A.QUEUE: "DeadLetterQueue", A.PARAMETERS: "RouterParameters",
         A.LOG_GROUP: "LogGroup", A.ALARMS: "Alarms", A.WATCH_ALARMS: "WatchAlarms",
         A.DASHBOARD: "Dashboard", A.ZONES: "RouterZones",
         A.METRICS: "RouterMetrics", **{s: sid for k in kinds.OWNED for s, sid in k.sids.items()},
         A.CHANGES: "RouterZoneChanges", A.ROUTER_RULES: "RouterRules",
         A.INVOKE: "InvokeTargets", A.ECS_SERVICES: "RecoveryEcsServices",
         A.TOPIC: "Notify", A.ANY: "Unscoped", A.PROBE_SECRETS: "ProbeSecrets",
         A.PROBE_SECRETS_BATCH: "ProbeSecretsBatch", A.PROBE_PARAMETERS: "ProbeParameters",
         **{scope: sid for scope, (sid, _) in _RECOVERY_SCOPES.items()}}

# Scopes only the roles that probe get: deploy never reads a probe header's secret.
_PROBING_ROLES = ("oncall", "drill")
_PROBE_SCOPES = (A.PROBE_SECRETS, A.PROBE_SECRETS_BATCH, A.PROBE_PARAMETERS)
# Actions a role's calls never need on a scope: `status` reads the routers' parameters with
# ssm:GetParameters, as it reads probe headers; deploy reads its own watch alarms (one
# DescribeAlarms by their name prefix) and, in plan's pre-flight, the signals' alarms; on-call
# and drills only the signals'.
_NOT_FOR_ROLE = {("oncall", "cloudwatch:DescribeAlarms", A.WATCH_ALARMS),
                 ("drill", "cloudwatch:DescribeAlarms", A.WATCH_ALARMS),
                 # deploy writes no route53 router's records (only what router kinds bring).
                 ("deploy", "route53:ChangeResourceRecordSets", A.ZONES),
                 *(x for k in kinds.OWNED for x in k.not_for_role)}

# A conditioned action gets its own statement (the condition must not narrow the others).
_CONDITIONED_SIDS = {"route53:ChangeResourceRecordSets": "RouterRecordChanges"}
# Scopes whose conditioned action has a condition of its own (not the orchestrator's).
_OWN_CONDITION_SIDS = {key: sid for k in kinds.OWNED for key, sid in k.condition_sids.items()}

# Which action of the orchestrator's policy names each routed scope's resources.
_FROM_ORCHESTRATOR = {A.PARAMETERS: "ssm:PutParameter", A.ALARMS: "cloudwatch:DescribeAlarms",
                      A.ZONES: "route53:ListResourceRecordSets", A.CHANGES: "route53:GetChange",
                      A.ROUTER_RULES: "events:EnableRule", A.INVOKE: "lambda:InvokeFunction",
                      A.ECS_SERVICES: "ecs:UpdateService", A.TOPIC: "sns:Publish",
                      A.PROBE_SECRETS: "secretsmanager:GetSecretValue",
                      A.PROBE_SECRETS_BATCH: "secretsmanager:BatchGetSecretValue",
                      A.PROBE_PARAMETERS: "ssm:GetParameters",
                      A.METRICS: "cloudwatch:PutMetricData",
                      **{scope: action for scope, (_, action) in _RECOVERY_SCOPES.items()}}


def _as_list(v: Any) -> list[Any]:
    return v if isinstance(v, list) else [v]


def _routed(orchestrator: dict[str, Any]) -> tuple[dict[str, list[str]], dict[str, Any]]:
    """Resources per routed scope, and the conditions the orchestrator's statements put on
    an action (Route 53's record and type limits), read from its policy document."""
    by_action: dict[str, list[str]] = {}
    conditions: dict[str, Any] = {}
    for st in orchestrator["Statement"]:
        for action in _as_list(st["Action"]):
            by_action.setdefault(action, []).extend(_as_list(st["Resource"]))
            if "Condition" in st:
                conditions[action] = st["Condition"]
    scopes = {scope: sorted(set(by_action.get(action, [])))
              for scope, action in _FROM_ORCHESTRATOR.items()}
    return scopes, conditions


def scopes(compiled: dict[str, Any], where: iam.Where) -> dict[str, list[str]]:
    """The resources of every scope for this topology."""
    topo = compiled["topology"]
    mine = naming.own_region(compiled, where.region)
    fn = iam.function_arn(where, compiled["function"])
    prefix = naming.rule_prefix(topo)
    out = {
        A.FUNCTION: [fn, f"{fn}:*"],
        A.ROLE: [where.arn("iam", f"role/{naming.role_name(topo, mine)}", regional=False)],
        A.POLICIES: [where.arn("iam", f"policy{naming.policy_path(topo, mine)}*",
                               regional=False)],
        A.TABLE: [iam.table_arn(where, compiled["table"])],
        A.BUS: [where.arn("events", f"event-bus/{compiled['bus']}")],
        A.DEFAULT_BUS: [where.arn("events", "event-bus/default")],
        A.RULES: [iam.rule_arn(where, "default", f"{prefix}*"),
                  iam.rule_arn(where, compiled["bus"], f"{prefix}*")],
        A.QUEUE: [where.arn("sqs", naming.dlq_name(topo))],
        # Log group actions take the group's ARN with and without the trailing ":*".
        A.LOG_GROUP: [iam.log_group_arn(where, compiled["function"]),
                      iam.log_group_arn(where, compiled["function"]) + ":*"],
        A.WATCH_ALARMS: [where.arn("cloudwatch", f"alarm:{watch.alarm_prefix(topo)}*")],
        # Dashboards are global: no region in their ARN.
        A.DASHBOARD: [where.arn("cloudwatch", f"dashboard/{watch.dashboard_name(topo)}",
                                regional=False)],
        A.ANY: ["*"],
    }
    out[A.PASS_ROLE] = out[A.ROLE]
    routed, _ = _routed(iam.orchestrator_policy(compiled, where))
    out.update(routed)
    for k in kinds.OWNED:
        out.update(k.scopes(compiled, where))
    # Router parameters are also the ones deploy seeds: the compiled topology names them.
    out[A.PARAMETERS] = sorted(set(out[A.PARAMETERS]) | {
        iam.parameter_arn(where.at(s["router"].get("region")), param)
        for s in compiled["services"].values()
        for param in router_kind(str(s["router"]["kind"])).seeded_parameters(s["router"])})
    return out


def operator_policy(compiled: dict[str, Any], where: iam.Where, role: str) -> dict[str, Any]:
    """The policy document the operator running `role`'s commands needs."""
    resources = scopes(compiled, where)
    _, conditions = _routed(iam.orchestrator_policy(compiled, where))
    conditions = dict(conditions)
    conditions["iam:PassRole"] = {"StringEquals": {"iam:PassedToService":
                                                   "lambda.amazonaws.com"}}
    own = {key: cond for k in kinds.OWNED for key, cond in k.conditions(compiled).items()}
    grouped: dict[tuple[str, str], set[str]] = {}  # (scope, conditioned action or "") -> actions
    for service, op in CALLS[role]:
        got = A.needs(service, op)
        if got is None:
            raise AssertionError(f"{service}:{op} is missing from aws.actions")
        for action, scope in got:
            if not resources.get(scope):
                continue  # nothing of that kind in this topology: the call is never made
            if (scope in _PROBE_SCOPES and role not in _PROBING_ROLES) or (
                    (role, action, scope) in _NOT_FOR_ROLE):
                continue
            key = (scope, action if action in conditions or (scope, action) in own else "")
            grouped.setdefault(key, set()).add(action)
    statements = []
    for (scope, conditioned), acts in grouped.items():
        sid = _OWN_CONDITION_SIDS.get((scope, conditioned)) or _CONDITIONED_SIDS.get(
            conditioned, _SIDS[scope])
        res = resources[scope]
        st: dict[str, Any] = {"Sid": sid, "Effect": "Allow", "Action": sorted(acts),
                              "Resource": res if len(res) > 1 else res[0]}
        if conditioned:
            st["Condition"] = own.get((scope, conditioned)) or conditions[conditioned]
        statements.append(st)
    if role == "deploy" and compiled.get("vpc"):
        # CreateFunction / UpdateFunctionConfiguration with a VpcConfig: Lambda checks that the
        # caller may describe the subnets, security groups and VPC it names (no resource scope).
        statements.append({"Sid": "VpcPlacement", "Effect": "Allow",
                           "Action": sorted(VPC_CALLER_ACTIONS), "Resource": "*"})
    statements.sort(key=lambda s: s["Sid"])
    return {"Version": "2012-10-17", "Statement": statements}


def all_policies(compiled: dict[str, Any], where: iam.Where,
                 only: str | None = None) -> dict[str, dict[str, Any]]:
    return {r: operator_policy(compiled, where, r) for r in ROLES if only in (None, r)}


def action_count(doc: dict[str, Any]) -> int:
    return len({a for st in doc["Statement"] for a in _as_list(st["Action"])})


def allows(doc: dict[str, Any], action: str) -> bool:
    """Whether some statement of `doc` grants `action` (by name; resources not compared)."""
    return any(action in _as_list(st["Action"]) for st in doc["Statement"])
