"""Kills the mutants a mutation run left alive in deploy/planner.py: pure, fast unit tests
(no AWS, no moto) that pin the exact values each surviving mutant would change — timeouts and
their caps, the permission budget's boundary, the fingerprint, the table, IAM ARNs and managed
policy names, the log retention, recovery notes, the tick description's limit, the router
parameter's state side, seeding and value updates, and plan()'s adoption, conflicts, notes,
delete order and control-region move."""

from __future__ import annotations

import json
from typing import Any, cast

from deploy_support import multi, multi_scaled_text
from lambdafail.deploy import iam, planner
from lambdafail.deploy.planner import Actual, Change, Conflict, FieldDiff, Resource
from lambdafail.model import naming
from lambdafail.model.loader import load_text
from lambdafail.model.topology import Topology, compile_topology

WHERE = iam.Where("aws", "us-east-1", "123456789012")
ACCOUNT = "123456789012"
TOPO = "multi"
PARAM = "/multi/checkout/active"
OURS = {naming.TAG_TOPOLOGY: TOPO, naming.TAG_SERVICE: "checkout"}
ROUTER: dict[str, Any] = {"kind": "ssm", "parameter": PARAM,
                          "values": {"primary": "p-new", "standby": "s-new"}}


# ---------------------------------------------------------------- timeouts


def _step(kind: str, timeout: float, retries: int) -> dict[str, Any]:
    return {"kind": kind, "timeout_seconds": timeout, "retries": retries,
            "function": "fn", "payload": {}, "on_timeout": "fail", "every_seconds": 60}


def _compiled(timeout: float = 3, probes: int = 1, services: int = 1,
              steps: list[dict[str, Any]] | None = None,
              schedules: bool = True, router: str = "ssm") -> dict[str, Any]:
    """The fields function_timeout and _tick_timeout read, made by hand."""
    svc = {"health": {"timeout_seconds": timeout, "probes_per_tick": probes},
           "recovery": {"failover": steps or [], "failback": []},
           "router": {"kind": router}}
    names = [f"s{i}" for i in range(services)]
    return {"services": {"s0": svc},
            "schedules": {"tick": {"services": names}} if schedules else {}}


def test_function_timeout_covers_the_longest_recovery_plan_with_its_retries() -> None:
    # 100 s × (1 + 2 retries) = 300 s, + 10; the approval step holds no invocation.
    steps = [_step("lambda", 100, 2), _step("approval", 3600, 0)]
    assert planner.function_timeout(_compiled(steps=steps)) == 310
    assert planner.function_timeout(_compiled(steps=[_step("lambda", 890, 0)])) == 900
    assert planner.function_timeout(_compiled(steps=[_step("lambda", 500, 1)])) == 900
    assert planner.function_timeout(_compiled()) == 30  # no steps: the tick's


def test_a_router_that_waits_for_its_read_back_lengthens_the_tick_up_to_the_cap() -> None:
    # dns_failover waits up to 20 s for its alarm inside the tick: 30 + 20; capped at 900.
    assert planner.function_timeout(_compiled(router="dns_failover")) == 50
    assert planner.function_timeout(_compiled(timeout=60, services=833,
                                              router="dns_failover")) == 900


def test_tick_timeout_for_rounds_spread_over_the_interval() -> None:
    assert planner._tick_timeout(_compiled(timeout=5, probes=2)) == 65  # 50 + 5 + 10
    assert planner._tick_timeout(_compiled(timeout=840, probes=3)) == 900
    assert planner._tick_timeout(_compiled(timeout=841, probes=3)) == 900  # capped


def test_tick_timeout_for_one_round_of_probe_waves() -> None:
    assert planner._tick_timeout(_compiled(timeout=5)) == 30  # (1 + 1) × 5 + 10, at least 30
    assert planner._tick_timeout(_compiled(timeout=20)) == 50  # (1 + 1) × 20 + 10
    assert planner._tick_timeout(_compiled(timeout=20, schedules=False)) == 50  # waves 1
    # 130 services: ceil(260 / 128) = 3 waves → (3 + 1) × 20 + 10.
    assert planner._tick_timeout(_compiled(timeout=20, services=130)) == 90
    # 832 services: 13 waves of 60 s, 14 × 60 + 10 = 850; 833: 14 waves, 910, capped at 900.
    assert planner._tick_timeout(_compiled(timeout=60, services=832)) == 850
    assert planner._tick_timeout(_compiled(timeout=60, services=833)) == 900
    assert planner._tick_timeout(_compiled(timeout=445)) == 900  # exactly the cap
    assert planner._tick_timeout(_compiled(timeout=450)) == 900


# ---------------------------------------------------------------- fingerprint, desired


def test_fingerprint_ignores_key_order_and_follows_values() -> None:
    a = {"runtime": "python3.12", "timeout": 30, "environment": {"A": "1", "B": "2"}}
    b = {"environment": {"B": "2", "A": "1"}, "timeout": 30, "runtime": "python3.12"}
    fp = planner.fingerprint(a)
    assert fp == planner.fingerprint(b)
    assert len(fp) == 32 and int(fp, 16) >= 0
    assert planner.fingerprint({**a, "timeout": 31}) != fp
    assert planner.fingerprint({**a, "environment": {"A": "1", "B": "3"}}) != fp


def _compile(topo: Topology) -> dict[str, Any]:
    return cast(dict[str, Any], compile_topology(topo))


def _desired(compiled: dict[str, Any]) -> list[Resource]:
    return planner.desired(compiled, where=WHERE, code_sha256="x", config_sha256="y")


def test_desired_table_role_and_log_group() -> None:
    def retention(text: str) -> str:
        return text.replace("region: us-east-1\n", "region: us-east-1\nlog_retention_days: 14\n", 1)

    want = {r.kind: r for r in _desired(_compile(multi(edit=retention)))}
    assert want["table"].spec["point_in_time_recovery"] is True
    role_arn = f"arn:aws:iam::{ACCOUNT}:role/lambdafail-multi-orchestrator"
    assert want["role"].context == {"arn": role_arn}
    assert want["function"].spec["role"] == role_arn
    assert want["loggroup"].spec == {"retention_days": 14}
    compiled = _compile(multi())
    del compiled["log_retention_days"]
    assert {r.kind: r for r in _desired(compiled)}["loggroup"].spec == {"retention_days": 30}


def test_managed_policies_are_global_numbered_from_one_and_attached() -> None:
    compiled = _compile(load_text(multi_scaled_text(60), "m.yaml"))
    policies = [r for r in _desired(compiled) if r.kind == "policy"]
    names = ["lambdafail-multi-orchestrator-1", "lambdafail-multi-orchestrator-2"]
    assert [p.name for p in policies] == names
    assert [p.context for p in policies] == [
        {"arn": f"arn:aws:iam::{ACCOUNT}:policy/lambdafail/multi/{n}",
         "role": "lambdafail-multi-orchestrator", "path": "/lambdafail/multi/"}
        for n in names]
    assert all(p.spec["attached"] is True for p in policies)


def test_rule_retry_policies() -> None:
    rules = {r.name: r.spec["target"]["RetryPolicy"] for r in _desired(_compile(multi()))
             if r.kind == "rule"}
    assert rules["lambdafail-multi-tick-300s"] == {"MaximumRetryAttempts": 2,
                                                    "MaximumEventAgeInSeconds": 300}
    signal = {"MaximumRetryAttempts": 24, "MaximumEventAgeInSeconds": 3600}
    assert [v for k, v in rules.items() if "-tick-" not in k] == [signal] * 5


# ---------------------------------------------------------------- notes and descriptions


def test_recovery_note_numbers_steps_and_counts_retries() -> None:
    svc = {"recovery": {"failover": [_step("lambda", 30, 1), _step("lambda", 60, 2)],
                        "failback": [_step("lambda", 5, 0)]}}
    assert planner.recovery_note(svc) == (
        "failover steps (before the switch): "
        "1. lambda fn {} (timeout 30 s, 1 retry); 2. lambda fn {} (timeout 60 s, 2 retries)\n"
        "failback steps (after failback): 1. lambda fn {} (timeout 5 s, 0 retries)")
    assert planner.recovery_note({"recovery": {"failover": [], "failback": []}}) == ""


def test_tick_description_keeps_512_characters_and_counts_past_them() -> None:
    head = len("lambdafail t: probe tick for ")
    fits = "s" * (512 - head)
    assert planner._tick_description("t", [fits]) == f"lambdafail t: probe tick for {fits}"
    assert len(planner._tick_description("t", [fits])) == 512
    assert planner._tick_description("t", [fits + "s"]) == "lambdafail t: probe tick for 1 services"


# ---------------------------------------------------------------- permission budget


ALIAS = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:lambdafail-multi-orchestrator:live"
BUS = "lambdafail-multi-events"


def _rules(total: int, buses: list[str]) -> list[Resource]:
    """Rules whose per-rule statements sum to exactly `total` characters."""
    rules = [Resource("rule", f"lambdafail-multi-r{i}", {"bus": b},
                      context={"arn": iam.rule_arn(WHERE, b, f"lambdafail-multi-r{i}")})
             for i, b in enumerate(buses)]

    def size() -> int:
        return sum(len(json.dumps(planner._statement(naming.permission_id(r.name), ALIAS,
                                                      r.context["arn"]))) for r in rules)

    rules[-1].context["arn"] += "x" * (total - size())
    assert size() == total
    return rules


def _perms(rules: list[Resource]) -> list[tuple[str, str]]:
    return [(p.name, p.spec["source_arn"])
            for p in planner._permissions(WHERE, TOPO, BUS, rules, ALIAS)]


def test_permissions_one_per_rule_up_to_exactly_the_budget() -> None:
    rules = _rules(planner.POLICY_BUDGET, ["default"] * 30 + [BUS] * 10)
    assert planner.POLICY_BUDGET == 18_000
    assert _perms(rules) == [(f"lambdafail-{r.name}", r.context["arn"]) for r in rules]


def test_permissions_past_the_budget_are_one_wildcard_per_bus_in_use() -> None:
    default = ("lambdafail-lambdafail-multi-default-bus",
               f"arn:aws:events:us-east-1:{ACCOUNT}:rule/lambdafail-multi-*")
    events = ("lambdafail-lambdafail-multi-events-bus",
              f"arn:aws:events:us-east-1:{ACCOUNT}:rule/{BUS}/*")
    assert _perms(_rules(18_001, ["default"] * 30 + [BUS] * 10)) == [default, events]
    assert _perms(_rules(18_001, ["default"] * 40)) == [default]
    assert _perms(_rules(18_001, [BUS] * 40)) == [events]


# ---------------------------------------------------------------- state side, parameters


def _item(active: str, phase: str | None = None) -> Resource:
    return Resource("item", "checkout", {"active": active}, service="checkout",
                    context={"phase": phase} if phase else {})


def _actual(*resources: Resource, deployed: dict[str, Any] | None = None,
            region: str = "us-east-1") -> Actual:
    return Actual(TOPO, "aws", region, ACCOUNT, {r.key: r for r in resources},
                  deployed_config=deployed)


def _want(router: dict[str, Any] | None = None, value: str = "p-new") -> Resource:
    return Resource("parameter", PARAM, {"value": value}, dict(OURS), service="checkout",
                    context={"router": router if router is not None else ROUTER})


def _have(value: str, tags: dict[str, str] | None = None) -> Resource:
    return Resource("parameter", PARAM, {"value": value},
                    dict(OURS) if tags is None else tags, service="checkout")


def _deployed(standby: str, parameter: str = PARAM) -> dict[str, Any]:
    return {"services": {"checkout": {"router": {
        "kind": "ssm", "parameter": parameter,
        "values": {"primary": "p-old", "standby": standby}}}}}


def test_state_side() -> None:
    assert planner._state_side("checkout", _actual()) == ("primary", "steady")
    got = planner._state_side("checkout", _actual(_item("standby", "failing-over")))
    assert got == ("standby", "failing-over")
    assert planner._state_side("checkout", _actual(_item(""))) == ("primary", "steady")
    assert planner._state_side(None, _actual(_item("standby"))) == ("primary", "steady")


def test_seed_at_state_side() -> None:
    w = _want()
    assert planner.seed_at_state_side(w, _actual()) is w
    assert planner.seed_at_state_side(w, _actual(_item("primary"))) is w
    bare = Resource("parameter", PARAM, {"value": "v"}, service="checkout")
    assert planner.seed_at_state_side(bare, _actual(_item("standby"))) is bare
    seeded = planner.seed_at_state_side(w, _actual(_item("standby")))
    assert seeded.spec == {"value": "s-new"} and seeded.tags == OURS
    assert seeded.context == {"router": ROUTER, "note": "seeded at the standby: the state "
                                                         "says checkout is on the standby"}


def _change(w: Resource, a: Resource, actual: Actual) -> tuple[str, list[FieldDiff], Any, str]:
    c = planner.parameter_change(w, a, actual)
    assert c is not None and c.desired is not None and c.actual is a
    return c.action, c.diffs, c.desired.spec["value"], c.note


def test_parameter_the_file_changed_on_the_state_side_while_steady() -> None:
    actual = _actual(_item("standby"), deployed=_deployed("s-old"))
    assert _change(_want(), _have("s-old"), actual) == (
        "update", [FieldDiff("value", "s-old", "s-new")], "s-new",
        "the file changed the standby's value (the state says standby)")
    # The same, mid-transition: nothing is written.
    moving = _actual(_item("standby", "failing-over"), deployed=_deployed("s-old"))
    assert _change(_want(), _have("s-old"), moving) == ("no-op", [], "s-old", "")
    # Already at the new value.
    assert _change(_want(), _have("s-new"), actual) == ("no-op", [], "s-new", "")


def test_parameter_value_diff_comes_before_the_tag_diffs() -> None:
    actual = _actual(deployed={"services": {"checkout": {"router": {
        "kind": "ssm", "parameter": PARAM, "values": {"primary": "p-old", "standby": "s"}}}}})
    assert _change(_want(), _have("p-old", tags={}), actual) == (
        "update", [FieldDiff("value", "p-old", "p-new"),
                   FieldDiff("tags.lambdafail:service", None, "checkout"),
                   FieldDiff("tags.lambdafail:topology", None, TOPO)], "p-new",
        "the file changed the primary's value (the state says primary)")


def test_parameter_set_by_someone_else_is_left_as_misrouted() -> None:
    actual = _actual(_item("standby"), deployed=_deployed("s-old"))
    assert _change(_want(), _have("elsewhere"), actual) == (
        "no-op", [], "elsewhere",
        "holds 'elsewhere', not the standby's value: left as is (status: misrouted)")


def test_parameter_old_value_is_looked_up_only_for_the_same_parameter() -> None:
    actual = _actual(_item("standby"), deployed=_deployed("s-old", parameter="/multi/old"))
    assert _change(_want(), _have("s-old"), actual) == (
        "no-op", [], "s-old",
        "holds 's-old', not the standby's value: left as is (status: misrouted)")


def test_parameter_adopted_keeps_its_value_and_is_tagged() -> None:
    w = _want({**ROUTER, "adopt": True})
    assert _change(w, _have("theirs", tags={}), _actual()) == (
        "update", [FieldDiff("tags.lambdafail:service", None, "checkout"),
                   FieldDiff("tags.lambdafail:topology", None, TOPO)], "theirs",
        "adopted (adopt: true): tagged as this topology's; its value is kept")
    # Adoption is for untagged parameters: another topology's stays a conflict.
    other = {naming.TAG_TOPOLOGY: "other"}
    assert planner.parameter_change(w, _have("theirs", tags=other), _actual()) is None


def test_parameter_untagged_but_routed_by_the_deployed_topology_is_retagged() -> None:
    actual = _actual(deployed=_deployed("s-old"))
    assert _change(_want(), _have("p-new", tags={}), actual) == (
        "update", [FieldDiff("tags.lambdafail:service", None, "checkout"),
                   FieldDiff("tags.lambdafail:topology", None, TOPO)], "p-new",
        "routed by the deployed topology but untagged (recreated by a switch): tagged")
    assert planner.parameter_change(_want(), _have("p-new", tags={}), _actual()) is None
    routed_other = _actual(deployed=_deployed("s-old", parameter="/multi/old"))
    assert planner.parameter_change(_want(), _have("p-new", tags={}), routed_other) is None
    other = {naming.TAG_TOPOLOGY: "other"}
    assert planner.parameter_change(_want(), _have("p-new", tags=other), actual) is None


# ---------------------------------------------------------------- plan()


def _summary(changes: list[Change]) -> list[tuple[str, str, str]]:
    return [(c.action, c.kind, c.name) for c in changes]


LOGS = "/aws/lambda/lambdafail-multi-orchestrator"


def test_plan_adopts_an_untagged_log_group_and_refuses_another_topologys() -> None:
    want = [Resource("loggroup", LOGS, {"retention_days": 30}, {naming.TAG_TOPOLOGY: TOPO})]
    p = planner.plan(want, _actual(Resource("loggroup", LOGS, {"retention_days": 30})))
    assert p.conflicts == [] and _summary(p.changes) == [("update", "loggroup", LOGS)]
    assert p.changes[0].diffs == [FieldDiff("tags.lambdafail:topology", None, TOPO)]
    theirs = Resource("loggroup", LOGS, {"retention_days": 30}, {naming.TAG_TOPOLOGY: "other"})
    p = planner.plan(want, _actual(theirs))
    assert p.conflicts == [Conflict("loggroup", LOGS, "other")] and p.changes == []
    # Other kinds untagged are not adopted.
    queue = Resource("queue", "lambdafail-multi-dlq", {}, {naming.TAG_TOPOLOGY: TOPO})
    p = planner.plan([queue], _actual(Resource("queue", "lambdafail-multi-dlq", {})))
    assert p.conflicts == [Conflict("queue", "lambdafail-multi-dlq", None)] and p.changes == []


def test_plan_creates_a_parameter_at_the_state_side_and_keeps_create_only_notes() -> None:
    item = Resource("item", "checkout", {"active": "primary"}, service="checkout",
                    context={"note": "failover steps: 1. x"})
    p = planner.plan([item, _want()], _actual(_item("standby")))
    assert _summary(p.changes) == [("no-op", "item", "checkout"), ("create", "parameter", PARAM)]
    assert p.changes[0].note == "failover steps: 1. x" and p.changes[0].diffs == []
    created = p.changes[1]
    assert created.desired is not None and created.desired.spec == {"value": "s-new"}
    assert created.note == "seeded at the standby: the state says checkout is on the standby"
    p = planner.plan([item], _actual())
    assert _summary(p.changes) == [("create", "item", "checkout")]
    assert p.changes[0].note == "failover steps: 1. x"


def test_plan_existing_parameter_is_updated_or_a_conflict() -> None:
    theirs = _have("p-new", tags={naming.TAG_TOPOLOGY: "other"})
    p = planner.plan([_want()], _actual(theirs))
    assert p.conflicts == [Conflict("parameter", PARAM, "other")] and p.changes == []
    p = planner.plan([_want()], _actual(_have("p-new", tags={naming.TAG_TOPOLOGY: TOPO})))
    assert p.conflicts == [] and _summary(p.changes) == [("update", "parameter", PARAM)]


def test_destroy_with_delete_state_deletes_parameters_last() -> None:
    tags = {naming.TAG_TOPOLOGY: TOPO}
    have = _actual(_have("p"), Resource("table", "lambdafail-multi-state", {}, tags),
                   Resource("queue", "lambdafail-multi-dlq", {}, tags),
                   Resource("rule", "lambdafail-multi-r", {}, tags), _item("primary"))
    gone = planner.plan([], have, mode="destroy", delete_state=True)
    assert _summary(gone.changes) == [
        ("delete", "rule", "lambdafail-multi-r"), ("delete", "table", "lambdafail-multi-state"),
        ("delete", "queue", "lambdafail-multi-dlq"), ("delete", "parameter", PARAM)]
    kept = planner.plan([], have, mode="destroy")
    assert _summary(kept.changes) == [("delete", "rule", "lambdafail-multi-r"),
                                      ("delete", "queue", "lambdafail-multi-dlq")]


def _role(owner: str, region: str | None) -> Resource:
    tags = {naming.TAG_TOPOLOGY: owner}
    if region:
        tags[naming.TAG_CONTROL_REGION] = region
    return Resource("role", "lambdafail-multi-orchestrator", {}, tags)


def test_plan_sees_the_control_region_move() -> None:
    def moved(*resources: Resource) -> str | None:
        return planner.plan([], _actual(*resources)).control_moved_from

    assert moved(_role(TOPO, "eu-west-1")) == "eu-west-1"
    assert moved(_role(TOPO, "us-east-1")) is None
    assert moved(_role(TOPO, None)) is None
    assert moved() is None
    assert moved(_role("other", "eu-west-1")) is None
    # Another kind carrying the tag is not the role.
    tagged = Resource("queue", "q", {}, {naming.TAG_TOPOLOGY: TOPO,
                                          naming.TAG_CONTROL_REGION: "eu-west-1"})
    assert moved(tagged) is None
