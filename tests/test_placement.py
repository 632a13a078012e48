"""Placement (docs/placement.md): where the orchestrator and its state live (`control:`), where
each target and router lives (`region:`), what validate says about it, and a deploy on moto that
puts each thing in its region and then plans clean."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from deploy_support import deploy
from lambdafail.aws import AwsContext
from lambdafail.base.errors import TopologyError
from lambdafail.deploy import iam
from lambdafail.model.checks import placement_warnings
from lambdafail.model.loader import load_text
from lambdafail.model.topology import Topology, compiled_document

TOPOLOGY = """\
version: 1
name: placed
region: us-east-1
control: {regions: [us-west-2]}
defaults:
  health: {interval: rate(1 minute), timeout_seconds: 2}
services:
  web:
    primary: {url: "http://127.0.0.1:9/health"}
    standby: {url: "http://127.0.0.1:10/health", region: us-west-2}
    router: {ssm_parameter: /placed/web/active}
  api:
    primary: {url: "http://127.0.0.1:11/health"}
    standby: {url: "http://127.0.0.1:12/health"}
    router: {ssm_parameter: /placed/api/active, region: us-west-2}
"""


def load(text: str = TOPOLOGY) -> Topology:
    topo: Topology = load_text(text, "placed.yaml")
    return topo


def problems(text: str) -> list[str]:
    with pytest.raises(TopologyError) as err:
        load(text)
    return [f"{p.path}: {p.message}" for p in err.value.problems]


def test_the_control_region_holds_the_orchestrator_and_the_rest_says_where_it_lives() -> None:
    topo = load()
    assert topo.control_region == "us-west-2"
    compiled = compiled_document(topo, topo.control_region)
    assert compiled["region"] == "us-west-2"
    web, api = compiled["services"]["web"], compiled["services"]["api"]
    # Only what lives outside the control region says so: the rest compiles as before.
    assert web["primary"]["region"] == "us-east-1" and "region" not in web["standby"]
    assert web["router"]["region"] == "us-east-1"
    assert "region" not in api["router"]
    # web's router acts in its primary's region: said; the watcher is elsewhere: not said.
    [warned] = placement_warnings(topo)
    assert warned.path == ("services", "web", "router") and "service 'web'" in warned.message


def test_the_orchestrators_role_acts_on_each_router_in_its_region() -> None:
    topo = load()
    compiled = compiled_document(topo, "us-west-2")
    policy = iam.orchestrator_policy(compiled, iam.Where("aws", "us-west-2", "123456789012"))
    router = next(s for s in policy["Statement"] if s["Sid"] == "RouterParameters")
    assert sorted(router["Resource"]) == [
        "arn:aws:ssm:us-east-1:123456789012:parameter/placed/web/active",
        "arn:aws:ssm:us-west-2:123456789012:parameter/placed/api/active"]
    table = next(s for s in policy["Statement"] if s["Sid"] == "StateTable")
    assert ":us-west-2:" in json.dumps(table["Resource"])


def test_a_watcher_in_the_primarys_region_is_warned_about() -> None:
    one_region = TOPOLOGY.replace("control: {regions: [us-west-2]}\n", "")
    warned = placement_warnings(load(one_region))
    assert [w.path for w in warned] == [("region",), ("services", "web", "router")]
    assert "services 'web', 'api'" in warned[0].message
    same = TOPOLOGY.replace("[us-west-2]", "[us-east-1]")
    assert placement_warnings(load(same))[0].path == ("control", "regions")


def test_a_route53_router_is_warned_about_its_global_control_plane() -> None:
    r53 = TOPOLOGY.replace(
        "router: {ssm_parameter: /placed/web/active}",
        "router: {route53: {zone_id: Z123, record: web.example.com, primary: a.example.com, "
        "standby: b.example.com}}")
    said = {w.path: w.message for w in placement_warnings(load(r53))}
    assert "ChangeResourceRecordSets" in said[("services", "web", "router")]


@pytest.mark.parametrize(("edit", "said"), [
    (("region: us-east-1\ncontrol", "control"), "control: a control region needs"),
    (("[us-west-2]", "[us-west-2, eu-west-1]"), "control.regions"),
    (("[us-west-2]", "[us-moon-1]"), "not an AWS region: 'us-moon-1'"),
    (("router: {ssm_parameter: /placed/web/active}",
      "router: {route53: {zone_id: Z123, record: web.example.com, primary: a.example.com, "
      "standby: b.example.com}, region: us-west-2}"),
     "services.web.router.region: a route53 router acts through a global API"),
    (('primary: {url: "http://127.0.0.1:9/health"}', "primary: {lambda: checkout-primary}"),
     "services.web.primary.region: the Lambda target 'checkout-primary' lives in us-east-1"),
    (("standby: {url: \"http://127.0.0.1:10/health\", region: us-west-2}",
      "standby: {url: \"http://127.0.0.1:10/health\", region: mars-1}"),
     "not an AWS region: 'mars-1'"),
])
def test_placement_mistakes_are_refused_where_they_are(edit: tuple[str, str], said: str) -> None:
    old, new = edit
    assert old in TOPOLOGY
    found = problems(TOPOLOGY.replace(old, new, 1))
    assert any(said in p for p in found), found


def _ssm(region: str) -> Any:
    return boto3.client("ssm", region_name=region)


@pytest.mark.usefixtures("mocked_aws")
def test_deploy_puts_each_thing_in_its_region_then_plans_clean() -> None:
    topo = load()
    ctx = AwsContext(region="us-west-2")
    _, outcome, _ = deploy(topo, ctx)
    assert outcome.done
    # The state table and the function live in the control region only.
    west = boto3.client("dynamodb", region_name="us-west-2").list_tables()["TableNames"]
    east = boto3.client("dynamodb", region_name="us-east-1").list_tables()["TableNames"]
    assert [t for t in west if "placed" in t] and not [t for t in east if "placed" in t]
    assert boto3.client("lambda", region_name="us-west-2").list_functions()["Functions"]
    # Each router's parameter is seeded in the router's region.
    assert _ssm("us-east-1").get_parameter(Name="/placed/web/active")["Parameter"]["Value"] \
        == "http://127.0.0.1:9/health"
    assert _ssm("us-west-2").get_parameter(Name="/placed/api/active")["Parameter"]["Value"] \
        == "http://127.0.0.1:11/health"
    with pytest.raises(_ssm("us-west-2").exceptions.ParameterNotFound):
        _ssm("us-west-2").get_parameter(Name="/placed/web/active")
    again = replan_in(topo, ctx)
    assert not again.pending, [(c.action, c.kind, c.name) for c in again.pending]


def replan_in(topo: Topology, ctx: AwsContext) -> Any:
    from lambdafail.deploy.inventory import plan_for

    plan, _ = plan_for(AwsContext(region=ctx.region), topo)
    return plan



@pytest.mark.usefixtures("mocked_aws")
def test_moving_the_control_region_of_a_deployed_topology_is_refused_not_doubled() -> None:
    from lambdafail.base.errors import UsageError
    from lambdafail.cli.commands.plan import refuse_moved_control
    from lambdafail.deploy.inventory import plan_for

    first = load(TOPOLOGY.replace("[us-west-2]", "[us-east-1]"))
    deploy(first, AwsContext(region="us-east-1"))
    assert not plan_for(AwsContext(region="us-east-1"), first)[0].pending
    moved, _ = plan_for(AwsContext(region="us-west-2"), load())
    assert moved.control_moved_from == "us-east-1"
    with pytest.raises(UsageError) as err:
        refuse_moved_control(moved)
    assert "deployed with its control region in us-east-1" in err.value.message
    assert "destroy" in err.value.hint
