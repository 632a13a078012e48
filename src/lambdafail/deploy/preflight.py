"""Pre-flight: every resource the topology references but does not own, looked up read-only.

Rule: read-only, batched where AWS allows, bounded by the topology (documented in
docs/commands.md): CloudWatch alarms by 100 names a `DescribeAlarms`; one Route 53
`ListResourceRecordSets` (MaxItems 1) per hosted zone; one `GetFunctionConfiguration` per Lambda
function (targets, hook routers, `lambda` recovery steps); one `GetTopicAttributes` for the SNS
topic; one `DescribeRule` per `rules` router rule (a missing bus shows as its rules missing);
ECS services by 10 per cluster a `DescribeServices`. Only "does not exist" answers make a
resource missing; any other error (AccessDenied, throttling) is raised as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lambdafail.aws import call
from lambdafail.base.errors import AwsError
from lambdafail.model.kinds import router_kind
from lambdafail.model.kinds.signals import signal_kind
from lambdafail.model.kinds.steps import step_kind
from lambdafail.model.kinds.targets import target_kind

if TYPE_CHECKING:
    from lambdafail.aws import AwsContext

_NOT_FOUND = frozenset({"ResourceNotFoundException", "NoSuchHostedZone", "NotFound",
                        "NotFoundException", "ClusterNotFoundException", "InvalidInput"})


@dataclass(frozen=True)
class Missing:
    kind: str  # alarm | hosted zone | function | topic | rule | ecs service
    name: str
    used_by: str  # what references it ("service checkout: router", "notify")

    @property
    def message(self) -> str:
        return f"{self.kind} {self.name} does not exist ({self.used_by})"


def referenced(compiled: dict[str, Any]) -> dict[str, dict[str, str]]:
    """kind → {name: first user} of what the topology references and does not own."""
    return {kind: {name: user for name, (user, _) in names.items()}
            for kind, names in _referenced(compiled).items()}


def _referenced(compiled: dict[str, Any]) -> dict[str, dict[str, tuple[str, str | None]]]:
    """kind → {name: (first user, its region or None for the topology's)}."""
    out: dict[str, dict[str, tuple[str, str | None]]] = {k: {} for k in (
        "alarm", "hosted zone", "function", "topic", "rule", "ecs service")}

    def add(kind: str, name: str, user: str, region: Any = None) -> None:
        if not region and name.startswith("arn:") and len(name.split(":")) > 3:
            region = name.split(":")[3]  # an ARN says where it lives
        out[kind].setdefault(name, (user, str(region) if region else None))

    if compiled.get("sns_topic_arn"):
        add("topic", str(compiled["sns_topic_arn"]), "notify")
    for svc_name, svc in sorted(compiled["services"].items()):
        who = f"service {svc_name}"
        # Each kind says what it names (model/kinds: `references`); the first user is said.
        for side in ("primary", "standby"):
            for ref in target_kind(str(svc[side]["kind"])).references(svc[side]):
                add(*ref[:2], f"{who}: {side}", ref[2])
        for sig in svc["signals"]:
            for ref in signal_kind(str(sig["kind"])).references(sig):
                add(*ref[:2], f"{who}: signal", ref[2])
        for ref in router_kind(str(svc["router"]["kind"])).references(svc["router"]):
            add(*ref[:2], f"{who}: router", ref[2])
        for plan, steps in sorted(svc["recovery"].items()):
            for step in steps:
                for ref in step_kind(str(step["kind"])).references(step):
                    add(*ref[:2], f"{who}: {plan} step", ref[2])
    return out


def missing(ctx: AwsContext, compiled: dict[str, Any]) -> list[Missing]:
    """What `referenced` names that AWS says does not exist, in a stable order."""
    gone: list[Missing] = []
    for kind, names in _referenced(compiled).items():
        by_region: dict[str | None, list[str]] = {}
        for name, (_, region) in names.items():
            by_region.setdefault(region, []).append(name)
        absent: set[str] = set()
        for region, group in sorted(by_region.items(), key=lambda kv: kv[0] or ""):
            absent |= _absent(ctx, kind, sorted(group), region)
        gone += [Missing(kind, name, names[name][0]) for name in sorted(absent)]
    return gone


def _exists(attempt: Any) -> bool:
    try:
        attempt()
    except AwsError as e:
        if e.code in _NOT_FOUND:
            return False
        raise
    return True


def _absent(ctx: AwsContext, kind: str, names: list[str], region: str | None) -> set[str]:
    """The names of `kind` in `region` (None: the topology's) that do not exist."""
    if kind == "alarm":
        cw = ctx.client("cloudwatch", region=region)
        found: set[str] = set()
        for i in range(0, len(names), 100):
            got = call(cw, "describe_alarms", resource="alarms", AlarmNames=names[i:i + 100],
                       AlarmTypes=["MetricAlarm", "CompositeAlarm"])
            found |= {a["AlarmName"] for key in ("MetricAlarms", "CompositeAlarms")
                      for a in got.get(key, [])}
        return set(names) - found
    if kind == "hosted zone":
        r53 = ctx.client("route53", region=region)
        return {z for z in names if not _exists(lambda z=z: call(
            r53, "list_resource_record_sets", resource=z, HostedZoneId=z, MaxItems="1"))}
    if kind == "function":
        lam = ctx.client("lambda", region=region)
        return {f for f in names if not _exists(lambda f=f: call(
            lam, "get_function_configuration", resource=f, FunctionName=f))}
    if kind == "topic":
        sns = ctx.client("sns", region=region)
        return {t for t in names if not _exists(lambda t=t: call(
            sns, "get_topic_attributes", resource=t, TopicArn=t))}
    if kind == "rule":
        ev = ctx.client("events", region=region)
        return {r for r in names if not _exists(lambda r=r: call(
            ev, "describe_rule", resource=r, Name=r.split("/", 1)[1],
            EventBusName=r.split("/", 1)[0]))}
    if kind == "ecs service":
        return _absent_ecs(ctx, names, region)
    raise AssertionError(kind)


def _absent_ecs(ctx: AwsContext, names: list[str], region: str | None) -> set[str]:
    ecs = ctx.client("ecs", region=region)
    by_cluster: dict[str, list[str]] = {}
    for n in names:
        cluster, service = n.split("/", 1)
        by_cluster.setdefault(cluster, []).append(service)
    gone: set[str] = set()
    for cluster, services in sorted(by_cluster.items()):
        for i in range(0, len(services), 10):
            batch = services[i:i + 10]
            try:
                got = call(ecs, "describe_services", resource=cluster, cluster=cluster,
                           services=batch)
            except AwsError as e:
                if e.code not in _NOT_FOUND:
                    raise
                gone |= {f"{cluster}/{s}" for s in batch}
                continue
            active = {str(s.get("serviceName")) for s in got.get("services", [])
                      if s.get("status") != "INACTIVE"}
            gone |= {f"{cluster}/{s}" for s in batch
                     if s not in active and not any(str(a).endswith(f"/{s}") for a in active)}
    return gone
