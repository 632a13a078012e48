"""Several control regions, offline: what validate accepts, what compile and plan make of it.

Rule: pure (no AWS): the region-set rules of DynamoDB's multi-Region strong consistency are
refused at file:line with a true hint; a topology with three control regions compiles every
placement explicitly, and each region's desired resources are its own (role, policy path),
with the global table only in the home region — without TTL, which MRSC tables lack.
"""

from __future__ import annotations

import pytest

from lambdafail.base.errors import TopologyError
from lambdafail.deploy import iam, planner
from lambdafail.model import naming
from lambdafail.model.checks import placement_warnings
from lambdafail.model.loader import load_text
from lambdafail.model.topology import Topology, compile_topology, compiled_document

TEXT = """\
version: 1
name: shop
region: eu-west-1
control: {regions: %s}
services:
  web:
    primary: {url: "https://web.euw1.example.com/healthz"}
    standby: {url: "https://web.euw2.example.com/healthz", region: eu-west-2}
    router: {ssm_parameter: /shop/web/active, region: eu-west-2}
"""
THREE = "[eu-west-2, eu-west-3, eu-central-1]"


def load(regions: str) -> Topology:
    return load_text(TEXT % regions, "t.yaml")


def refusal(regions: str) -> tuple[str, int, int, str, str]:
    with pytest.raises(TopologyError) as info:
        load(regions)
    [p] = info.value.problems
    return p.path, p.line, p.column, p.message, p.hint


def test_two_control_regions_are_refused_mrsc_needs_three() -> None:
    path, line, column, message, hint = refusal("[eu-west-2, eu-west-3]")
    assert (path, line, column) == ("control.regions", 4, 11)
    assert message.startswith("two control regions cannot share strongly consistent state")
    assert hint == "list one control region, or three of one region set (docs/placement.md)"


def test_three_regions_of_different_sets_are_refused_naming_the_sets() -> None:
    _, line, _, message, hint = refusal("[eu-west-2, eu-west-3, us-east-1]")
    assert line == 4
    assert message == ("eu-west-2, eu-west-3, us-east-1 are not in one region set of "
                       "DynamoDB's multi-Region strong consistency")
    assert "US: us-east-1, us-east-2, us-west-2" in hint
    assert "EU: eu-central-1, eu-west-1, eu-west-2, eu-west-3" in hint


def test_a_region_listed_twice_and_four_regions_are_refused() -> None:
    assert refusal("[eu-west-2, eu-west-2, eu-west-3]")[3].startswith(
        "a control region is listed twice")
    assert refusal("[eu-west-1, eu-west-2, eu-west-3, eu-central-1]")[0].startswith(
        "control.regions")


def test_three_regions_of_one_set_compile_with_every_placement_explicit() -> None:
    topo = load(THREE)
    assert topo.control_regions == ["eu-west-2", "eu-west-3", "eu-central-1"]
    assert topo.control_region == "eu-west-2"
    c = compile_topology(topo)
    assert c["control_regions"] == ["eu-west-2", "eu-west-3", "eu-central-1"]
    web = c["services"]["web"]
    # The standby and router live in eu-west-2, the first control region: still explicit,
    # since the orchestrators in eu-west-3 and eu-central-1 act on them too.
    assert web["primary"].get("region") == "eu-west-1"
    assert web["standby"].get("region") == "eu-west-2"
    assert web["router"].get("region") == "eu-west-2"
    assert placement_warnings(topo) == []


def test_one_control_region_compiles_as_it_always_did() -> None:
    c = compile_topology(load("[eu-west-2]"))
    assert "control_regions" not in c
    assert "region" not in c["services"]["web"]["standby"]  # the control region: implicit
    assert c["services"]["web"]["primary"].get("region") == "eu-west-1"


def test_a_control_region_shared_with_a_primary_is_warned_as_a_lost_margin() -> None:
    topo = load("[eu-west-1, eu-west-2, eu-west-3]")
    [w] = placement_warnings(topo)
    assert w.path == ("control", "regions", 0)
    assert w.message.startswith("the control region eu-west-1 is the region of the primary of "
                                "service 'web'")


def desired_in(topo: Topology, region: str) -> dict[tuple[str, str], planner.Resource]:
    compiled = compiled_document(topo, region)
    where = iam.Where("aws", region, "123456789012")
    out = planner.desired(compiled, where=where, code_sha256="c", config_sha256="s")
    return {(r.kind, r.name): r for r in out}


def test_the_home_region_creates_the_global_table_without_ttl() -> None:
    home = desired_in(load(THREE), "eu-west-2")
    table = home[("table", "lambdafail-shop-state")]
    assert table.spec["replicas"] == ["eu-central-1", "eu-west-3"]
    assert table.spec["consistency"] == "STRONG"
    assert table.spec["ttl_attribute"] is None
    assert table.spec["point_in_time_recovery"] is True


def test_a_replica_region_leaves_the_table_to_the_home_region() -> None:
    replica = desired_in(load(THREE), "eu-west-3")
    assert [k for k in replica if k[0] == "table"] == []
    assert ("function", "lambdafail-shop-orchestrator") in replica


def test_each_control_region_has_its_own_role_and_policy_path() -> None:
    topo = load(THREE)
    roles = {r: [k[1] for k in desired_in(topo, r) if k[0] == "role"]
             for r in topo.control_regions}
    assert roles == {r: [f"lambdafail-shop-orchestrator-{r}"] for r in topo.control_regions}
    role = desired_in(topo, "eu-central-1")[("role", "lambdafail-shop-orchestrator-eu-central-1")]
    assert role.tags[naming.TAG_CONTROL_REGION] == "eu-central-1"
    assert role.context["arn"] == ("arn:aws:iam::123456789012:role/"
                                   "lambdafail-shop-orchestrator-eu-central-1")
    assert naming.policy_path("shop", "eu-west-3") == "/lambdafail/shop/eu-west-3/"
    assert naming.managed_policy_name("shop", 2, "eu-west-3") == (
        "lambdafail-shop-orchestrator-eu-west-3-2")


def test_a_single_region_topology_keeps_its_names_and_table() -> None:
    one = desired_in(load("[eu-west-2]"), "eu-west-2")
    assert ("role", "lambdafail-shop-orchestrator") in one
    table = one[("table", "lambdafail-shop-state")]
    assert "replicas" not in table.spec and table.spec["ttl_attribute"] == "expires_at"
    assert planner.table_home(compiled_document(load("[eu-west-2]"), "eu-west-2"),
                              "eu-west-2") == ("eu-west-2", [])


def test_a_dns_failover_router_with_several_control_regions_is_refused() -> None:
    text = (TEXT % THREE).replace(
        "    router: {ssm_parameter: /shop/web/active, region: eu-west-2}\n",
        "    router:\n      dns_failover: {zone_id: Z0123456789ABCDEFGHIJ, record: web.example.com,"
        " primary: web.euw1.example.com, standby: web.euw2.example.com}\n")
    with pytest.raises(TopologyError) as info:
        load_text(text, "t.yaml")
    [p] = info.value.problems
    assert (p.path, p.line) == ("services.web.router", 9)
    assert p.message.startswith("a dns_failover router with several control regions is not "
                                "supported yet")


def test_the_router_hint_says_where_the_router_acts() -> None:
    from lambdafail.oncall.switch import router_hint

    router = compile_topology(load(THREE))["services"]["web"]["router"]
    assert router_hint(dict(router), "standby") == (
        "the SSM parameter /shop/web/active (for standby it holds "
        "'https://web.euw2.example.com/healthz') in eu-west-2")
    route53 = {"kind": "route53", "zone_id": "Z1", "record": "a.example.com.", "type": "CNAME",
               "values": {"primary": "p", "standby": "s"}}
    assert router_hint(route53, "primary").endswith(
        "(for primary: 'p') (a global API, served from us-east-1)")
