"""The `dns_failover` router kind: its model, compile and IAM (pure), its runtime switch on moto,
what deploy makes for it (and that a no-op re-deploy makes no mutating call), and the sandbox's
health checks and DNS answer.

Rule: exact assertions; waits are bounded (a fake clock for the router's read-back wait).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from lambdafail.base.errors import TopologyError
from lambdafail.deploy import iam, permissions
from lambdafail.model.arns import Where
from lambdafail.model.checks import placement_warnings
from lambdafail.model.loader import load_text
from lambdafail.model.topology import compiled_document
from lambdafail.runtime.config import Clients
from lambdafail.runtime.routers import (
    DnsFailoverSwitch,
    RouterNotFound,
    RouterTimeout,
    make_router,
    read_all,
)

WHERE = Where("aws", "us-west-2", "123456789012")


def _text(router: str = "", *, name: str = "shop", zone: str = "Z0123456789ABC",
          control: str = "{regions: [us-west-2]}") -> str:
    router = router or (f"{{dns_failover: {{zone_id: {zone}, record: App.Example.com, "
                        "primary: web.use1.example.com, standby: web.usw2.example.com}}")
    return f"""\
version: 1
name: {name}
region: us-east-1
control: {control}
services:
  web:
    primary: {{url: "https://web.use1.example.com/healthz"}}
    standby: {{url: "https://web.usw2.example.com/healthz", region: us-west-2}}
    router: {router}
"""


def _problems(text: str) -> list[str]:
    with pytest.raises(TopologyError) as e:
        load_text(text, "t.yaml")
    return [p.message for p in e.value.problems]


# -- model, compile, IAM (pure) ---------------------------------------------------------------

def test_it_compiles_to_the_record_the_alarm_and_the_metric_dimensions() -> None:
    compiled = compiled_document(load_text(_text(), "t.yaml"))
    assert compiled["services"]["web"]["router"] == {
        "kind": "dns_failover", "zone_id": "Z0123456789ABC", "record": "app.example.com.",
        "type": "CNAME", "ttl": 60,
        "values": {"primary": "web.use1.example.com", "standby": "web.usw2.example.com"},
        "alarm": "lambdafail-shop-route-web",
        "dimensions": {"Topology": "shop", "Service": "web"}}


def test_bad_input_is_refused_with_what_aws_accepts() -> None:
    a_with_host = ("{dns_failover: {zone_id: Z0123456789ABC, record: app.example.com, type: A, "
                   "primary: web.example.com, standby: 192.0.2.2}}")
    assert _problems(_text(a_with_host)) == [
        "primary: an A record's value is an IPv4 address, not 'web.example.com'"]
    same = ("{dns_failover: {zone_id: Z0123456789ABC, record: app.example.com, "
            "primary: web.example.com, standby: WEB.example.com.}}")
    assert _problems(_text(same)) == [
        "primary and standby are the same value: a failover would change nothing"]
    placed = ("{dns_failover: {zone_id: Z0123456789ABC, record: app.example.com, "
              "primary: a.example.com, standby: b.example.com}, region: us-east-2}")
    assert _problems(_text(placed)) == [
        "a dns_failover router acts in the control region (its alarm lives beside the "
        "orchestrator), not in a region of its own"]
    bad_zone = _text(zone="zone1")
    assert _problems(bad_zone) == ["not a Route 53 hosted zone id"]


def test_validate_gives_it_no_control_plane_warning_and_points_route53_users_to_it() -> None:
    topo = load_text(_text(), "t.yaml")
    assert placement_warnings(topo) == []
    r53 = ("{route53: {zone_id: Z0123456789ABC, record: app.example.com, "
           "primary: a.example.com, standby: b.example.com}}")
    [warning] = placement_warnings(load_text(_text(r53), "t.yaml"))
    assert "dns_failover router" in warning.hint
    assert "still to come" not in warning.message + warning.hint


def test_the_orchestrator_may_put_only_lambdafails_metrics_and_read_only_its_alarm() -> None:
    compiled = compiled_document(load_text(_text(), "t.yaml"), "us-west-2")
    policy = iam.orchestrator_policy(compiled, WHERE)
    mine = {st["Sid"]: st for st in policy["Statement"] if st["Sid"] in (
        "RouterAlarms", "RouterMetrics")}
    assert mine == {
        "RouterAlarms": {"Sid": "RouterAlarms", "Effect": "Allow",
                         "Action": ["cloudwatch:DescribeAlarms"],
                         "Resource": "arn:aws:cloudwatch:us-west-2:123456789012:alarm:"
                                     "lambdafail-shop-route-web"},
        "RouterMetrics": {"Sid": "RouterMetrics", "Effect": "Allow",
                          "Action": ["cloudwatch:PutMetricData"], "Resource": "*",
                          "Condition": {"StringEquals": {"cloudwatch:namespace": "lambdafail"}}}}
    # Nothing of Route 53: the switch calls none of it.
    assert not [a for st in policy["Statement"] for a in permissions._as_list(st["Action"])
                if a.startswith("route53:")]


def test_deploy_may_write_only_the_failover_records_and_oncall_none() -> None:
    compiled = compiled_document(load_text(_text(), "t.yaml"), "us-west-2")
    deploy = permissions.operator_policy(compiled, WHERE, "deploy")
    by_sid = {st["Sid"]: st for st in deploy["Statement"]}
    assert by_sid["FailoverRecordChanges"] == {
        "Sid": "FailoverRecordChanges", "Effect": "Allow",
        "Action": ["route53:ChangeResourceRecordSets"],
        "Resource": "arn:aws:route53:::hostedzone/Z0123456789ABC",
        "Condition": {"ForAllValues:StringEquals": {
            "route53:ChangeResourceRecordSetsNormalizedRecordNames": ["app.example.com"],
            "route53:ChangeResourceRecordSetsRecordTypes": ["CNAME"],
            "route53:ChangeResourceRecordSetsActions": ["DELETE", "UPSERT"]}}}
    assert by_sid["FailoverZones"]["Action"] == ["route53:ListResourceRecordSets"]
    assert by_sid["HealthChecks"] == {
        "Sid": "HealthChecks", "Effect": "Allow",
        "Action": ["route53:ChangeTagsForResource", "route53:DeleteHealthCheck",
                   "route53:ListTagsForResources", "route53:UpdateHealthCheck"],
        "Resource": "arn:aws:route53:::healthcheck/*"}
    assert by_sid["HealthChecksCreate"]["Action"] == ["route53:CreateHealthCheck",
                                                      "route53:ListHealthChecks"]
    assert by_sid["RouterAlarms"]["Action"] == [
        "cloudwatch:DeleteAlarms", "cloudwatch:ListTagsForResource",
        "cloudwatch:PutMetricAlarm", "cloudwatch:TagResource"]
    assert by_sid["RouterMetrics"]["Condition"] == {
        "StringEquals": {"cloudwatch:namespace": "lambdafail"}}
    for role in ("oncall", "drill"):
        doc = permissions.operator_policy(compiled, WHERE, role)
        actions = {a for st in doc["Statement"] for a in permissions._as_list(st["Action"])}
        assert "cloudwatch:PutMetricData" in actions
        assert not {a for a in actions if a.startswith("route53:")}, role


def test_the_deployed_function_has_room_for_the_read_back_wait() -> None:
    from lambdafail.deploy.planner import function_timeout
    from lambdafail.runtime.routers.dns_failover import READ_BACK_SECONDS

    compiled = compiled_document(load_text(_text(), "t.yaml"), "us-west-2")
    ssm = compiled_document(load_text(_text("{ssm_parameter: /shop/web}"), "t.yaml"),
                            "us-west-2")
    assert function_timeout(compiled) == function_timeout(ssm) + int(READ_BACK_SECONDS)


# -- the runtime switch on moto ---------------------------------------------------------------

CFG = {"kind": "dns_failover", "zone_id": "Z1", "record": "app.example.com.", "type": "CNAME",
       "ttl": 60, "values": {"primary": "p.example.com", "standby": "s.example.com"},
       "alarm": "lambdafail-shop-route-web",
       "dimensions": {"Topology": "shop", "Service": "web"}}


@pytest.fixture
def cw(mocked_aws: None) -> Iterator[Any]:
    client = boto3.client("cloudwatch", region_name="us-east-1")
    client.put_metric_alarm(AlarmName=CFG["alarm"], Namespace="lambdafail",
                            MetricName="PrimaryRouted", Statistic="Maximum", Period=60,
                            EvaluationPeriods=1, Threshold=1.0,
                            ComparisonOperator="LessThanThreshold", TreatMissingData="ignore",
                            Dimensions=[{"Name": "Service", "Value": "web"},
                                        {"Name": "Topology", "Value": "shop"}])
    yield client


class _Clock:
    """A fake clock; each sleep runs `on_sleep` (the alarm's evaluation, say)."""

    def __init__(self, on_sleep: Any = None) -> None:
        self.now = 0.0
        self.sleeps = 0
        self.on_sleep = on_sleep

    def __call__(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.now += s
        self.sleeps += 1
        if self.on_sleep is not None:
            self.on_sleep(self.sleeps)


def test_apply_puts_the_metric_and_the_read_back_waits_for_the_alarm(cw: Any) -> None:
    def evaluate(n: int) -> None:
        if n == 3:  # CloudWatch evaluates the period three polls later
            cw.set_alarm_state(AlarmName=CFG["alarm"], StateValue="ALARM", StateReason="x")

    clock = _Clock(evaluate)
    router = DnsFailoverSwitch(CFG, cw, clock=clock, sleep=clock.sleep)
    assert router.read_back() == "primary"  # moto starts an alarm OK; no apply: no wait
    router.apply("standby")
    assert router.read_back() == "standby"
    assert clock.sleeps == 3
    [metric] = cw.list_metrics(Namespace="lambdafail")["Metrics"]
    assert metric["MetricName"] == "PrimaryRouted"
    assert sorted((d["Name"], d["Value"]) for d in metric["Dimensions"]) == [
        ("Service", "web"), ("Topology", "shop")]
    stats = cw.get_metric_statistics(
        Namespace="lambdafail", MetricName="PrimaryRouted", Statistics=["Maximum"],
        Dimensions=metric["Dimensions"], Period=60,
        StartTime="2000-01-01T00:00:00Z", EndTime="2100-01-01T00:00:00Z")["Datapoints"]
    assert [d["Maximum"] for d in stats] == [0.0]


def test_an_alarm_that_does_not_move_in_time_is_a_router_timeout(cw: Any) -> None:
    clock = _Clock()
    router = DnsFailoverSwitch(CFG, cw, clock=clock, sleep=clock.sleep, wait_seconds=5)
    router.apply("standby")
    with pytest.raises(RouterTimeout) as e:
        router.read_back()
    assert str(e.value).startswith(
        "alarm lambdafail-shop-route-web is still OK 5 s after PutMetricData PrimaryRouted = 0")
    assert e.value.operation == "cloudwatch DescribeAlarms lambdafail-shop-route-web"
    assert clock.now == 5.0


def test_a_missing_alarm_is_router_not_found(cw: Any) -> None:
    router = DnsFailoverSwitch({**CFG, "alarm": "gone"}, cw)
    with pytest.raises(RouterNotFound) as e:
        router.read_back()
    assert str(e.value) == ("cloudwatch DescribeAlarms gone: the alarm does not exist "
                            "(deploy creates it)")


def test_status_reads_every_alarm_in_one_call_and_the_switch_calls_no_route53(cw: Any) -> None:
    cw.set_alarm_state(AlarmName=CFG["alarm"], StateValue="ALARM", StateReason="x")
    calls: list[str] = []
    cw.meta.events.register("before-call.*.*",
                            lambda model, **_: calls.append(model.name))
    clients = Clients(region="us-east-1", overrides={"cloudwatch": cw})
    got = read_all({"web": CFG, "api": {**CFG, "alarm": "gone"}}, clients)
    assert calls == ["DescribeAlarms"]
    assert got["web"].side == "standby" and got["web"].seen == (
        "alarm lambdafail-shop-route-web ALARM; app.example.com. answers s.example.com")
    assert got["api"].found is False and got["api"].seen == "alarm gone does not exist"
    calls.clear()
    router = make_router(CFG, clients)
    router.apply("standby")
    assert router.read_back() == "standby"
    assert calls == ["PutMetricData", "DescribeAlarms"]


# -- deploy on moto ---------------------------------------------------------------------------

def test_deploy_makes_the_alarm_health_check_and_records_and_a_redeploy_nothing(
        mocked_aws: None) -> None:
    from deploy_support import context, deploy, replan
    from lambdafail.deploy.inventory import plan_for
    from lambdafail.sandbox import dns

    dns.install()
    r53 = boto3.client("route53", region_name="us-east-1")
    zone = r53.create_hosted_zone(Name="example.com", CallerReference="z")["HostedZone"]["Id"]
    zone = zone.removeprefix("/hostedzone/")
    topo = load_text(_text(zone=zone, control="{regions: [us-east-1]}"), "t.yaml")
    plan, _, ctx = deploy(topo)
    made = [(c.action, c.kind, c.name) for c in plan.pending
            if c.kind in ("route_alarm", "healthcheck", "record")]
    assert made == [
        ("create", "route_alarm", "lambdafail-shop-route-web"),
        ("create", "healthcheck", "lambdafail-shop-route-web"),
        ("create", "record", f"app.example.com. CNAME web-primary in {zone}"),
        ("create", "record", f"app.example.com. CNAME web-standby in {zone}")]
    cw = boto3.client("cloudwatch", region_name="us-east-1")
    [alarm] = cw.describe_alarms(AlarmNames=["lambdafail-shop-route-web"])["MetricAlarms"]
    assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"], alarm["Period"],
            alarm["EvaluationPeriods"], alarm["Threshold"], alarm["ComparisonOperator"],
            alarm["TreatMissingData"]) == ("lambdafail", "PrimaryRouted", "Maximum", 60, 1, 1.0,
                                           "LessThanThreshold", "ignore")
    [hc] = r53.list_health_checks()["HealthChecks"]
    assert hc["HealthCheckConfig"]["Type"] == "CLOUDWATCH_METRIC"
    assert hc["HealthCheckConfig"]["AlarmIdentifier"] == {
        "Region": "us-east-1", "Name": "lambdafail-shop-route-web"}
    assert hc["HealthCheckConfig"]["InsufficientDataHealthStatus"] == "LastKnownStatus"
    tags = r53.list_tags_for_resource(ResourceType="healthcheck", ResourceId=hc["Id"])
    assert {t["Key"]: t["Value"] for t in tags["ResourceTagSet"]["Tags"]} == {
        "Name": "lambdafail-shop-route-web", "lambdafail:service": "web",
        "lambdafail:topology": "shop"}
    sets = [s for s in r53.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
            if s["Type"] == "CNAME"]
    assert sorted((s["SetIdentifier"], s["Failover"], s["ResourceRecords"][0]["Value"],
                   s.get("HealthCheckId")) for s in sets) == [
        ("web-primary", "PRIMARY", "web.use1.example.com", hc["Id"]),
        ("web-standby", "SECONDARY", "web.usw2.example.com", None)]
    # Seeded once with the primary.
    stats = cw.get_metric_statistics(
        Namespace="lambdafail", MetricName="PrimaryRouted", Statistics=["Maximum"],
        Dimensions=[{"Name": "Service", "Value": "web"}, {"Name": "Topology", "Value": "shop"}],
        Period=60, StartTime="2000-01-01T00:00:00Z",
        EndTime="2100-01-01T00:00:00Z")["Datapoints"]
    assert [d["Maximum"] for d in stats] == [1.0]

    assert replan(topo).pending == []
    again = context()
    plan2, _ = plan_for(again, topo)
    assert plan2.pending == [] and again.mutating_calls() == []
    assert ctx is not again


def test_an_untagged_health_check_on_our_alarm_is_adopted_and_tagged(mocked_aws: None) -> None:
    from deploy_support import deploy, replan
    from lambdafail.sandbox import dns

    dns.install()
    r53 = boto3.client("route53", region_name="us-east-1")
    zone = r53.create_hosted_zone(Name="example.com", CallerReference="z")["HostedZone"]["Id"]
    topo = load_text(_text(zone=zone.removeprefix("/hostedzone/"),
                           control="{regions: [us-east-1]}"), "t.yaml")
    deploy(topo)
    [hc] = r53.list_health_checks()["HealthChecks"]
    r53.change_tags_for_resource(ResourceType="healthcheck", ResourceId=hc["Id"],
                                 RemoveTagKeys=["Name", "lambdafail:service",
                                                "lambdafail:topology"])
    plan = replan(topo)
    assert [(c.action, c.kind, [d.field for d in c.diffs]) for c in plan.pending] == [
        ("update", "healthcheck", ["tags.Name", "tags.lambdafail:service",
                                   "tags.lambdafail:topology"])]
    assert not plan.conflicts
    deploy(topo)
    assert replan(topo).pending == []


# -- the sandbox: health checks follow their alarm, the DNS answer, the request log ------------

def test_the_sandbox_answers_the_secondary_while_the_primarys_health_check_fails(
        sandbox: Any) -> None:
    import urllib.request

    kw = {"endpoint_url": sandbox.endpoint_url, "region_name": "us-east-1"}
    r53 = boto3.client("route53", **kw)
    cw = boto3.client("cloudwatch", **kw)
    zone = r53.create_hosted_zone(Name="example.com", CallerReference="z")["HostedZone"]["Id"]
    zone = zone.removeprefix("/hostedzone/")
    assert zone.startswith("Z")
    cw.put_metric_alarm(AlarmName="a", Namespace="lambdafail", MetricName="PrimaryRouted",
                        Statistic="Maximum", Period=60, EvaluationPeriods=1, Threshold=1.0,
                        ComparisonOperator="LessThanThreshold", TreatMissingData="ignore")
    hc = r53.create_health_check(CallerReference="h", HealthCheckConfig={
        "Type": "CLOUDWATCH_METRIC", "AlarmIdentifier": {"Region": "us-east-1", "Name": "a"},
        "InsufficientDataHealthStatus": "LastKnownStatus"})["HealthCheck"]["Id"]
    for ident, role, value, check in (("p", "PRIMARY", "p.example.com", hc),
                                      ("s", "SECONDARY", "s.example.com", None)):
        rrs: dict[str, Any] = {"Name": "app.example.com", "Type": "CNAME", "TTL": 60,
                               "SetIdentifier": ident, "Failover": role,
                               "ResourceRecords": [{"Value": value}]}
        if check:
            rrs["HealthCheckId"] = check
        r53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={
            "Changes": [{"Action": "UPSERT", "ResourceRecordSet": rrs}]})

    def dns() -> dict[str, Any]:
        url = (f"{sandbox.endpoint_url}/_lambdafail/dns?zone={zone}&name=app.example.com"
               "&type=CNAME")
        with urllib.request.urlopen(url, timeout=5) as resp:
            out: dict[str, Any] = json.loads(resp.read())
        return out

    def status() -> str:
        got = r53.get_health_check_status(HealthCheckId=hc)["HealthCheckObservations"]
        return str(got[0]["StatusReport"]["Status"])

    assert dns()["values"] == ["p.example.com"]
    assert status() == "Success: alarm a in us-east-1 is OK"
    cw.set_alarm_state(AlarmName="a", StateValue="ALARM", StateReason="test")
    assert status() == "Failure: alarm a in us-east-1 is ALARM"
    got = dns()
    assert (got["values"], got["answered_by"], got["ttl"]) == (["s.example.com"], "s", 60)
    cw.set_alarm_state(AlarmName="a", StateValue="INSUFFICIENT_DATA", StateReason="test")
    assert status() == ("Failure: alarm a in us-east-1 is INSUFFICIENT_DATA: LastKnownStatus "
                        "(unhealthy)")
    ops = [(r["service"], r["operation"]) for r in sandbox.requests.since(0)]
    assert ops[:2] == [("route53", "CreateHostedZone"), ("cloudwatch", "PutMetricAlarm")]
    assert ops.count(("route53", "GetHealthCheckStatus")) == 3


def test_the_dns_endpoint_refuses_bad_queries(sandbox: Any) -> None:
    import urllib.error
    import urllib.request

    for query, code, error in (("name=a.example.com", 400,
                                "missing zone: ?zone=Z…&name=…&type=CNAME"),
                               ("zone=ZNOPE&name=a.example.com", 404, "no hosted zone ZNOPE")):
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(f"{sandbox.endpoint_url}/_lambdafail/dns?{query}", timeout=5)
        assert e.value.code == code
        assert json.loads(e.value.read()) == {"error": error}


def test_a_created_route_alarm_is_seeded_at_the_side_the_state_says() -> None:
    """A route alarm created while the state says standby (a redeploy after a failover, its
    alarm deleted meanwhile) is seeded with the standby: creating it must not move DNS."""
    from lambdafail.deploy import planner
    from lambdafail.deploy.resources import Actual, Resource
    from lambdafail.model.topology import compiled_document

    compiled = compiled_document(load_text(_text(), "t.yaml"), "us-west-2")
    want = planner.desired(compiled, where=WHERE, code_sha256="c", config_sha256="s")

    def seeds(state: dict[str, str] | None) -> list[str]:
        actual = Actual("shop", "aws", "us-west-2", "123456789012")
        if state is not None:
            actual.resources[("item", "web")] = Resource(
                "item", "web", {"active": state["active"]}, context={"phase": state["phase"]})
        made = planner.plan(want, actual)
        return [str((c.desired.context if c.desired else {}).get("seed"))
                for c in made.changes if c.kind == "route_alarm"]

    assert seeds({"active": "standby", "phase": "steady"}) == ["standby"]
    assert seeds({"active": "primary", "phase": "steady"}) == ["primary"]
    assert seeds(None) == ["primary"]
