"""Which IAM actions each AWS API call lambdafail makes needs, and on what kind of resource.

Rule: one row per (service, Operation) the CLI calls (botocore's service and operation names,
as `AwsContext` records them). A call may need more than its own action: creating with tags
needs the service's tag action too (tag-on-create), passing a role needs `iam:PassRole`,
`GetFunction` returns tags only to callers allowed `lambda:ListTags`. The scope names what the
action is granted on (`deploy.permissions` turns scopes into ARNs); "*" is for actions AWS does
not scope to a resource (list and describe calls without a resource ARN). The AccessDenied
hint (`aws.translate_exception`) and `lambdafail permissions` both read this table, and a test
records every call the CLI makes and checks it is here.
"""

from __future__ import annotations

# Scopes. Each becomes the resources of one statement of an operator policy.
FUNCTION = "function"  # the orchestrator function (and its qualifiers)
ROLE = "role"  # the orchestrator's execution role
PASS_ROLE = "pass-role"  # iam:PassRole of that role, to Lambda only
POLICIES = "policies"  # the role's managed policies (lambdafail's own path)
TABLE = "table"
BUS = "bus"
DEFAULT_BUS = "default-bus"  # the account's default bus: transition events (source lambdafail)
RULES = "rules"  # lambdafail's rules, on the default bus and on the topology's bus
QUEUE = "queue"  # the dead-letter queue
PARAMETERS = "parameters"  # the SSM router parameters
LOG_GROUP = "log-group"  # /aws/lambda/<orchestrator>
ALARMS = "alarms"  # the topology's CloudWatch alarms
WATCH_ALARMS = "watch-alarms"  # the alarms deploy puts on the orchestrator (deploy/watch.py)
DASHBOARD = "dashboard"  # the topology's CloudWatch dashboard
ZONES = "zones"  # Route 53 hosted zones of route53 routers
METRICS = "metrics"  # PutMetricData, "*" under the condition cloudwatch:namespace = lambdafail
CHANGES = "changes"  # Route 53 change ids
ROUTER_RULES = "router-rules"  # rules a `rules` router enables and disables
INVOKE = "invoke"  # Lambda targets (probes), hook routers and recovery-step functions
ECS_SERVICES = "ecs-services"  # ECS services that recovery steps scale
ASG_GROUPS = "autoscaling-groups"  # Auto Scaling groups that recovery steps size
ASG_DESCRIBE = "autoscaling-describe"  # "*" (no resource ARN), only with autoscaling steps
EC2_START = "ec2-start"  # instances `ec2` recovery steps start
EC2_STOP = "ec2-stop"  # instances `ec2` recovery steps stop
EC2_DESCRIBE = "ec2-describe"  # "*" (no resource ARN), only with ec2 steps
LAMBDA_CONCURRENCY = "lambda-concurrency"  # qualified functions given provisioned concurrency
AURORA_SWITCHOVER = "aurora-switchover"  # global + target clusters of `aurora` switchovers
AURORA_FAILOVER = "aurora-failover"  # the same, of `aurora` failovers (allow_data_loss)
AURORA_DESCRIBE = "aurora-describe"  # the global clusters `aurora` steps read
TOPIC = "topic"  # the notification topic
# Probe headers read from Secrets Manager / SSM by the CLI's own probes (model/headers.py).
PROBE_SECRETS = "probe-secrets"  # the referenced secrets
PROBE_SECRETS_BATCH = "probe-secrets-batch"  # "*" when there are any (no resource type)
PROBE_PARAMETERS = "probe-parameters"  # the referenced SSM parameters
ANY = "*"

Need = tuple[str, str]  # (IAM action, scope)

ACTIONS: dict[tuple[str, str], tuple[Need, ...]] = {
    # sts: GetCallerIdentity needs no permission (AWS answers it for any valid credentials).
    ("sts", "GetCallerIdentity"): (),
    # -- Lambda
    ("lambda", "GetFunction"): (("lambda:GetFunction", FUNCTION),),
    ("lambda", "ListTags"): (("lambda:ListTags", FUNCTION),),
    # The orchestrator's; plan's pre-flight (the functions a topology references); status's
    # readiness check of a cold standby's step functions.
    ("lambda", "GetFunctionConfiguration"): (("lambda:GetFunctionConfiguration", FUNCTION),
                                             ("lambda:GetFunctionConfiguration", INVOKE)),
    ("lambda", "ListVersionsByFunction"): (("lambda:ListVersionsByFunction", FUNCTION),),
    ("lambda", "GetAlias"): (("lambda:GetAlias", FUNCTION),),
    ("lambda", "GetPolicy"): (("lambda:GetPolicy", FUNCTION),),
    ("lambda", "CreateFunction"): (("lambda:CreateFunction", FUNCTION),
                                   ("lambda:TagResource", FUNCTION),
                                   ("iam:PassRole", PASS_ROLE)),
    ("lambda", "UpdateFunctionConfiguration"): (("lambda:UpdateFunctionConfiguration", FUNCTION),
                                                ("iam:PassRole", PASS_ROLE)),
    ("lambda", "UpdateFunctionCode"): (("lambda:UpdateFunctionCode", FUNCTION),),
    # The on-failure destination is written with the function's role (which may send to the
    # queue); the caller needs only the configuration action.
    ("lambda", "PutFunctionEventInvokeConfig"): (
        ("lambda:PutFunctionEventInvokeConfig", FUNCTION),),
    ("lambda", "GetFunctionEventInvokeConfig"): (
        ("lambda:GetFunctionEventInvokeConfig", FUNCTION),),
    ("lambda", "PublishVersion"): (("lambda:PublishVersion", FUNCTION),),
    ("lambda", "CreateAlias"): (("lambda:CreateAlias", FUNCTION),),
    ("lambda", "UpdateAlias"): (("lambda:UpdateAlias", FUNCTION),),
    ("lambda", "DeleteAlias"): (("lambda:DeleteAlias", FUNCTION),),
    ("lambda", "AddPermission"): (("lambda:AddPermission", FUNCTION),),
    ("lambda", "RemovePermission"): (("lambda:RemovePermission", FUNCTION),),
    ("lambda", "TagResource"): (("lambda:TagResource", FUNCTION),),
    ("lambda", "DeleteFunction"): (("lambda:DeleteFunction", FUNCTION),),
    ("lambda", "Invoke"): (("lambda:InvokeFunction", INVOKE),),
    # -- ECS (recovery steps run by `failover` / `rollback` from the operator's machine)
    ("ecs", "UpdateService"): (("ecs:UpdateService", ECS_SERVICES),),
    ("ecs", "DescribeServices"): (("ecs:DescribeServices", ECS_SERVICES),),
    # -- Auto Scaling, EC2, provisioned concurrency, Aurora (the same, other step kinds)
    ("autoscaling", "UpdateAutoScalingGroup"): (
        ("autoscaling:UpdateAutoScalingGroup", ASG_GROUPS),),
    ("autoscaling", "DescribeAutoScalingGroups"): (
        ("autoscaling:DescribeAutoScalingGroups", ASG_DESCRIBE),),
    ("ec2", "StartInstances"): (("ec2:StartInstances", EC2_START),),
    ("ec2", "StopInstances"): (("ec2:StopInstances", EC2_STOP),),
    ("ec2", "DescribeInstances"): (("ec2:DescribeInstances", EC2_DESCRIBE),),
    ("lambda", "PutProvisionedConcurrencyConfig"): (
        ("lambda:PutProvisionedConcurrencyConfig", LAMBDA_CONCURRENCY),),
    ("lambda", "GetProvisionedConcurrencyConfig"): (
        ("lambda:GetProvisionedConcurrencyConfig", LAMBDA_CONCURRENCY),),
    ("lambda", "DeleteProvisionedConcurrencyConfig"): (
        ("lambda:DeleteProvisionedConcurrencyConfig", LAMBDA_CONCURRENCY),),
    ("rds", "SwitchoverGlobalCluster"): (("rds:SwitchoverGlobalCluster", AURORA_SWITCHOVER),),
    ("rds", "FailoverGlobalCluster"): (("rds:FailoverGlobalCluster", AURORA_FAILOVER),),
    ("rds", "DescribeGlobalClusters"): (("rds:DescribeGlobalClusters", AURORA_DESCRIBE),),
    # -- IAM
    ("iam", "GetRole"): (("iam:GetRole", ROLE),),
    ("iam", "ListRoleTags"): (("iam:ListRoleTags", ROLE),),
    ("iam", "GetRolePolicy"): (("iam:GetRolePolicy", ROLE),),
    ("iam", "ListRolePolicies"): (("iam:ListRolePolicies", ROLE),),
    ("iam", "ListAttachedRolePolicies"): (("iam:ListAttachedRolePolicies", ROLE),),
    ("iam", "CreateRole"): (("iam:CreateRole", ROLE), ("iam:TagRole", ROLE)),
    ("iam", "PutRolePolicy"): (("iam:PutRolePolicy", ROLE),),
    ("iam", "UpdateAssumeRolePolicy"): (("iam:UpdateAssumeRolePolicy", ROLE),),
    ("iam", "TagRole"): (("iam:TagRole", ROLE),),
    ("iam", "DeleteRolePolicy"): (("iam:DeleteRolePolicy", ROLE),),
    ("iam", "AttachRolePolicy"): (("iam:AttachRolePolicy", ROLE),),
    ("iam", "DetachRolePolicy"): (("iam:DetachRolePolicy", ROLE),),
    ("iam", "DeleteRole"): (("iam:DeleteRole", ROLE),),
    ("iam", "ListPolicies"): (("iam:ListPolicies", ANY),),
    ("iam", "GetPolicy"): (("iam:GetPolicy", POLICIES),),
    ("iam", "ListPolicyTags"): (("iam:ListPolicyTags", POLICIES),),
    ("iam", "GetPolicyVersion"): (("iam:GetPolicyVersion", POLICIES),),
    ("iam", "ListPolicyVersions"): (("iam:ListPolicyVersions", POLICIES),),
    ("iam", "CreatePolicy"): (("iam:CreatePolicy", POLICIES), ("iam:TagPolicy", POLICIES)),
    ("iam", "CreatePolicyVersion"): (("iam:CreatePolicyVersion", POLICIES),),
    ("iam", "DeletePolicyVersion"): (("iam:DeletePolicyVersion", POLICIES),),
    ("iam", "TagPolicy"): (("iam:TagPolicy", POLICIES),),
    ("iam", "DeletePolicy"): (("iam:DeletePolicy", POLICIES),),
    # -- DynamoDB
    ("dynamodb", "DescribeTable"): (("dynamodb:DescribeTable", TABLE),),
    ("dynamodb", "ListTagsOfResource"): (("dynamodb:ListTagsOfResource", TABLE),),
    ("dynamodb", "DescribeContinuousBackups"): (("dynamodb:DescribeContinuousBackups", TABLE),),
    ("dynamodb", "DescribeTimeToLive"): (("dynamodb:DescribeTimeToLive", TABLE),),
    ("dynamodb", "CreateTable"): (("dynamodb:CreateTable", TABLE),
                                  ("dynamodb:TagResource", TABLE)),
    ("dynamodb", "UpdateTable"): (("dynamodb:UpdateTable", TABLE),),
    ("dynamodb", "UpdateContinuousBackups"): (("dynamodb:UpdateContinuousBackups", TABLE),),
    ("dynamodb", "UpdateTimeToLive"): (("dynamodb:UpdateTimeToLive", TABLE),),
    ("dynamodb", "TagResource"): (("dynamodb:TagResource", TABLE),),
    ("dynamodb", "DeleteTable"): (("dynamodb:DeleteTable", TABLE),),
    ("dynamodb", "GetItem"): (("dynamodb:GetItem", TABLE),),
    ("dynamodb", "BatchGetItem"): (("dynamodb:BatchGetItem", TABLE),),
    ("dynamodb", "Query"): (("dynamodb:Query", TABLE),),
    ("dynamodb", "PutItem"): (("dynamodb:PutItem", TABLE),),
    ("dynamodb", "UpdateItem"): (("dynamodb:UpdateItem", TABLE),),
    ("dynamodb", "DeleteItem"): (("dynamodb:DeleteItem", TABLE),),
    # TransactWriteItems is authorized per item: each write needs its own action.
    ("dynamodb", "TransactWriteItems"): (("dynamodb:ConditionCheckItem", TABLE),
                                         ("dynamodb:PutItem", TABLE),
                                         ("dynamodb:UpdateItem", TABLE),
                                         ("dynamodb:DeleteItem", TABLE)),
    # -- SQS
    ("sqs", "GetQueueUrl"): (("sqs:GetQueueUrl", QUEUE),),
    ("sqs", "GetQueueAttributes"): (("sqs:GetQueueAttributes", QUEUE),),
    ("sqs", "ListQueueTags"): (("sqs:ListQueueTags", QUEUE),),
    ("sqs", "CreateQueue"): (("sqs:CreateQueue", QUEUE), ("sqs:TagQueue", QUEUE),
                             ("sqs:SetQueueAttributes", QUEUE)),
    ("sqs", "SetQueueAttributes"): (("sqs:SetQueueAttributes", QUEUE),),
    ("sqs", "TagQueue"): (("sqs:TagQueue", QUEUE),),
    ("sqs", "DeleteQueue"): (("sqs:DeleteQueue", QUEUE),),
    ("sqs", "ReceiveMessage"): (("sqs:ReceiveMessage", QUEUE),),
    # -- EventBridge
    ("events", "DescribeEventBus"): (("events:DescribeEventBus", BUS),),
    ("events", "CreateEventBus"): (("events:CreateEventBus", BUS), ("events:TagResource", BUS)),
    ("events", "DeleteEventBus"): (("events:DeleteEventBus", BUS),),
    # The bus's resource policy: who may put the events that fail services over.
    ("events", "PutPermission"): (("events:PutPermission", BUS),),
    ("events", "RemovePermission"): (("events:RemovePermission", BUS),),
    ("events", "ListRules"): (("events:ListRules", ANY),),
    ("events", "ListTargetsByRule"): (("events:ListTargetsByRule", RULES),),
    ("events", "PutRule"): (("events:PutRule", RULES), ("events:TagResource", RULES)),
    ("events", "PutTargets"): (("events:PutTargets", RULES),),
    ("events", "RemoveTargets"): (("events:RemoveTargets", RULES),),
    ("events", "DeleteRule"): (("events:DeleteRule", RULES),),
    # A drill puts its failure events on the topology's bus; every transition is published
    # on the default bus (runtime.notify.Notifier), also by a manual switch.
    ("events", "PutEvents"): (("events:PutEvents", BUS), ("events:PutEvents", DEFAULT_BUS)),
    ("events", "DescribeRule"): (("events:DescribeRule", ROUTER_RULES),),
    ("events", "EnableRule"): (("events:EnableRule", ROUTER_RULES),),
    ("events", "DisableRule"): (("events:DisableRule", ROUTER_RULES),),
    # Rules and buses share TagResource/ListTagsForResource: both scopes are granted.
    ("events", "ListTagsForResource"): (("events:ListTagsForResource", RULES),
                                        ("events:ListTagsForResource", BUS)),
    ("events", "TagResource"): (("events:TagResource", RULES), ("events:TagResource", BUS)),
    # -- SSM
    ("ssm", "DescribeParameters"): (("ssm:DescribeParameters", ANY),),
    ("ssm", "GetParameters"): (("ssm:GetParameters", PARAMETERS),
                               ("ssm:GetParameters", PROBE_PARAMETERS)),
    ("ssm", "GetParameter"): (("ssm:GetParameter", PARAMETERS),),
    ("ssm", "ListTagsForResource"): (("ssm:ListTagsForResource", PARAMETERS),),
    ("ssm", "PutParameter"): (("ssm:PutParameter", PARAMETERS),
                              ("ssm:AddTagsToResource", PARAMETERS)),
    ("ssm", "DeleteParameter"): (("ssm:DeleteParameter", PARAMETERS),),
    ("ssm", "AddTagsToResource"): (("ssm:AddTagsToResource", PARAMETERS),),
    # -- CloudWatch Logs
    ("logs", "DescribeLogGroups"): (("logs:DescribeLogGroups", ANY),),
    ("logs", "ListTagsForResource"): (("logs:ListTagsForResource", LOG_GROUP),),
    ("logs", "CreateLogGroup"): (("logs:CreateLogGroup", LOG_GROUP),
                                 ("logs:TagResource", LOG_GROUP)),
    ("logs", "PutRetentionPolicy"): (("logs:PutRetentionPolicy", LOG_GROUP),),
    ("logs", "TagResource"): (("logs:TagResource", LOG_GROUP),),
    ("logs", "DeleteLogGroup"): (("logs:DeleteLogGroup", LOG_GROUP),),
    # -- CloudWatch, Route 53, SNS (what routers, signals and drills touch)
    # The signals' alarms (routed), and deploy's own watch alarms (read by name prefix).
    ("cloudwatch", "DescribeAlarms"): (("cloudwatch:DescribeAlarms", ALARMS),
                                       ("cloudwatch:DescribeAlarms", WATCH_ALARMS)),
    # What router kinds bring add their own scopes to these (deploy/kinds/: `needs`).
    ("cloudwatch", "ListTagsForResource"): (("cloudwatch:ListTagsForResource", WATCH_ALARMS),),
    ("cloudwatch", "PutMetricAlarm"): (("cloudwatch:PutMetricAlarm", WATCH_ALARMS),
                                       ("cloudwatch:TagResource", WATCH_ALARMS)),
    ("cloudwatch", "TagResource"): (("cloudwatch:TagResource", WATCH_ALARMS),),
    ("cloudwatch", "DeleteAlarms"): (("cloudwatch:DeleteAlarms", WATCH_ALARMS),),
    # A dns_failover router's switch (and deploy's one seed of it).
    ("cloudwatch", "PutMetricData"): (("cloudwatch:PutMetricData", METRICS),),
    ("cloudwatch", "GetDashboard"): (("cloudwatch:GetDashboard", DASHBOARD),),
    ("cloudwatch", "PutDashboard"): (("cloudwatch:PutDashboard", DASHBOARD),),
    ("cloudwatch", "DeleteDashboards"): (("cloudwatch:DeleteDashboards", DASHBOARD),),
    ("cloudwatch", "SetAlarmState"): (("cloudwatch:SetAlarmState", ALARMS),),
    ("route53", "ListResourceRecordSets"): (("route53:ListResourceRecordSets", ZONES),),
    ("route53", "ChangeResourceRecordSets"): (("route53:ChangeResourceRecordSets", ZONES),),
    ("route53", "GetChange"): (("route53:GetChange", CHANGES),),
    ("sns", "Publish"): (("sns:Publish", TOPIC),),
    ("sns", "GetTopicAttributes"): (("sns:GetTopicAttributes", TOPIC),),
    # -- Secrets Manager (probe headers). BatchGetSecretValue returns a secret only to a caller
    # also allowed GetSecretValue on it; the action itself has no resource type.
    ("secretsmanager", "BatchGetSecretValue"): (
        ("secretsmanager:BatchGetSecretValue", PROBE_SECRETS_BATCH),
        ("secretsmanager:GetSecretValue", PROBE_SECRETS)),
    ("secretsmanager", "GetSecretValue"): (("secretsmanager:GetSecretValue", PROBE_SECRETS),),
}


# What router kinds that bring resources add (deploy/kinds/: each module's `needs`, with its
# own scopes), registered when that registry is imported: this table stays below deploy.
_CONTRIBUTED: dict[tuple[str, str], tuple[Need, ...]] = {}


def contribute(table: dict[tuple[str, str], tuple[Need, ...]]) -> None:
    """Add a kind's needs (idempotent: a need already known is not added twice)."""
    for key, extra in table.items():
        have = _CONTRIBUTED.get(key, ())
        _CONTRIBUTED[key] = have + tuple(n for n in extra if n not in have)


def needs(service: str, operation: str) -> tuple[Need, ...] | None:
    """What calling `operation` of `service` needs; None for a call this table does not know.
    Without a service, the first service with that operation (routers name only theirs)."""
    if not service:
        service = next((s for s, op in (*ACTIONS, *_CONTRIBUTED) if op == operation), "")
    core, extra = ACTIONS.get((service, operation)), _CONTRIBUTED.get((service, operation))
    if core is None and extra is None:
        return None
    return (*(core or ()), *(extra or ()))


def actions_for(service: str, operation: str) -> list[str]:
    """The IAM actions a call needs (its own first), for messages; [] when unknown."""
    got = needs(service, operation)
    if got is None:
        return []
    return list(dict.fromkeys(a for a, _ in got))
