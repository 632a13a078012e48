"""Rules that had no test of their own: each test here fails when its rule is removed.

The loader's second pass (cross-field problems next to field errors), the planner's ownership
rules (an untagged router parameter is left as it is; a foreign function is never taken over),
the pattern limits ($or branches, nesting depth), "did you mean" hints inside a service, and
the boundaries of cron fields, numeric matching and CIDR masks.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deploy_support import multi
from lambdafail.base.errors import TopologyError
from lambdafail.deploy import iam, planner
from lambdafail.model.loader import load_text
from lambdafail.model.schedule import ScheduleError, validate_schedule
from lambdafail.model.topology import compile_topology
from lambdafail.runtime.patterns import (
    MAX_BRANCHES,
    PatternError,
    matches,
    validate_pattern,
)

BASE = """\
version: 1
name: shop
region: us-east-1
services:
  checkout:
    primary: {url: "https://checkout.example.com/healthz"}
    standby: {url: "https://checkout-dr.example.com/healthz"}
    signals:
      - alarm: checkout-5xx
    router:
      route53: {zone_id: Z123, record: checkout.example.com, primary: a.example.com,
                standby: b.example.com}
    health: {failure_threshold: 3}
    policy: {cooldown_seconds: 60}
  orders:
    primary: {url: "https://orders.example.com/healthz"}
    standby: {url: "https://orders-dr.example.com/healthz"}
    router: {ssm_parameter: /shop/orders/active}
"""


def problems(text: str) -> list[tuple[int, str, str, str]]:
    with pytest.raises(TopologyError) as e:
        load_text(text, "shop.yaml")
    return [(p.line, p.path, p.message, p.hint) for p in e.value.problems]


# -- loader: cross-field problems are reported next to field errors


def test_cross_field_problems_are_reported_next_to_field_errors() -> None:
    """A field error in one service does not hide a cross-field problem in another."""
    text = BASE.replace("health: {failure_threshold: 3}", "health: {failure_threshold: 0}")
    text = text.replace("https://orders-dr.example.com/healthz", "https://orders.example.com/healthz")
    found = problems(text)
    assert [(line, path) for line, path, _, _ in found] == [
        (13, "services.checkout.health.failure_threshold"), (17, "services.orders.standby")]
    assert "standby is the same target as primary" in found[1][2]


# -- "did you mean" inside a service


@pytest.mark.parametrize(("old", "new", "path", "suggestion"), [
    ("    primary: {url: \"https://checkout", "    primry: {url: \"https://checkout",
     "services.checkout.primry", "primary"),
    ("{url: \"https://checkout-dr.example.com/healthz\"}",
     "{url: \"https://checkout-dr.example.com/healthz\", expect_statu: 200}",
     "services.checkout.standby.expect_statu", "expect_status"),
    ("alarm: checkout-5xx", "alarm: checkout-5xx\n        mdoe: failure",
     "services.checkout.signals[0].mdoe", "mode"),
    ("record: checkout.example.com", "recod: checkout.example.com",
     "services.checkout.router.route53.recod", "record"),
    ("failure_threshold: 3", "failure_treshold: 3",
     "services.checkout.health.failure_treshold", "failure_threshold"),
    ("cooldown_seconds: 60", "cooldown_second: 60",
     "services.checkout.policy.cooldown_second", "cooldown_seconds"),
    ("standby: {url: \"https://orders-dr", "standbye: {url: \"https://orders-dr",
     "services.orders.standbye", "standby"),
])
def test_unknown_key_inside_a_service_says_did_you_mean(old: str, new: str, path: str,
                                                        suggestion: str) -> None:
    assert old in BASE
    found = problems(BASE.replace(old, new))
    hints = {p: h for _, p, _, h in found}
    assert hints.get(path) == f"did you mean `{suggestion}`?", found


# -- planner: ownership

WHERE = iam.Where("aws", "us-east-1", "123456789012")


def _want() -> list[planner.Resource]:
    return planner.desired(compile_topology(multi()), where=WHERE, code_sha256="x",
                           config_sha256="y")


def _actual(*resources: planner.Resource) -> planner.Actual:
    return planner.Actual("multi", "aws", "us-east-1", "123456789012",
                          {r.key: r for r in resources})


def test_an_untagged_router_parameter_is_a_conflict_never_touched() -> None:
    """The parameter holds a live value: one lambdafail did not create (no tag) is a conflict
    (never overwritten, never deleted) unless the router adopts it (then only tagged)."""
    live = planner.Resource("parameter", "/multi/checkout/active", {"value": "by hand"})
    plan = planner.plan(_want(), _actual(live))
    assert [c for c in plan.changes if c.kind == "parameter"] == []
    assert [(x.kind, x.name, x.owner) for x in plan.conflicts] == [
        ("parameter", "/multi/checkout/active", None)]
    # Our own (tagged) parameter holding something else: a no-op that says so.
    ours = planner.Resource("parameter", "/multi/checkout/active", {"value": "x"},
                            {"lambdafail:topology": "multi", "lambdafail:service": "checkout"})
    [change] = [c for c in planner.plan(_want(), _actual(ours)).changes if c.kind == "parameter"]
    assert change.action == "no-op" and "holds 'x'" in change.note and "left as is" in change.note


@pytest.mark.parametrize("tags", [{}, {"lambdafail:topology": "other"}])
def test_a_foreign_function_is_refused_and_nothing_hangs_on_it(tags: dict[str, str]) -> None:
    """A function with our name that is not ours: a conflict, and no alias or permission of
    ours is created on it."""
    foreign = planner.Resource("function", "lambdafail-multi-orchestrator", {}, tags)
    plan = planner.plan(_want(), _actual(foreign))
    assert [(c.kind, c.name, c.owner) for c in plan.conflicts] == [
        ("function", "lambdafail-multi-orchestrator", tags.get("lambdafail:topology"))]
    kinds = {c.kind for c in plan.changes}
    assert "alias" not in kinds and "permission" not in kinds and "function" not in kinds
    assert "rule" in kinds  # the rest of the plan stands
    # The same plan without the foreign function creates the alias and the permissions.
    kinds = {c.kind for c in planner.plan(_want(), _actual()).changes}
    assert {"function", "alias", "permission"} <= kinds


# -- patterns: limits


def _or_pattern(a: int, b: int) -> dict[str, object]:
    return {"$or": [{f"x{i}": [i]} for i in range(a)],
            "detail": {"$or": [{f"y{i}": [i]} for i in range(b)]}}


def test_or_branch_limit_is_exact() -> None:
    assert MAX_BRANCHES == 1024
    validate_pattern(_or_pattern(32, 32))  # 32 x 32 = 1024 alternatives
    with pytest.raises(PatternError) as e:
        validate_pattern(_or_pattern(41, 25))  # 1025
    assert e.value.reason == "$or expands into 1025 alternatives (lambdafail allows 1024)"
    with pytest.raises(PatternError, match="1025 alternatives"):
        # far over the limit: the count stops early and says the first number over it
        validate_pattern({"$or": [{f"x{i}": [i]} for i in range(60)],
                          "detail": {"$or": [{f"y{i}": [i]} for i in range(60)]}})


def _nested(levels: int) -> dict[str, object]:
    node: object = [1]
    for _ in range(levels):
        node = {"a": node}
    assert isinstance(node, dict)
    return node


def test_pattern_depth_limit_is_exact() -> None:
    # 63 objects, the list and its value: the value sits 64 levels down
    validate_pattern(_nested(63))
    with pytest.raises(PatternError) as e:
        validate_pattern(_nested(64))
    assert e.value.reason == "pattern is nested deeper than 64 levels"


# -- boundaries


@pytest.mark.parametrize(("expr", "ok"), [
    ("cron(59 23 31 12 ? 2199)", True), ("cron(60 * * * ? *)", False),
    ("cron(0 24 * * ? *)", False), ("cron(0 0 0 * ? *)", False), ("cron(0 0 32 * ? *)", False),
    ("cron(0 0 1 0 ? *)", False), ("cron(0 0 1 13 ? *)", False),
    ("cron(0 0 ? * 1 *)", True), ("cron(0 0 ? * 7 *)", True), ("cron(0 0 ? * 0 *)", False),
    ("cron(0 0 ? * 8 *)", False), ("cron(0 0 * * ? 1970)", True), ("cron(0 0 * * ? 1969)", False),
    ("cron(0 0 * * ? 2200)", False), ("cron(0 0 ? * 2#5 *)", True), ("cron(0 0 ? * 2#6 *)", False),
    ("cron(0 0 31W * ? *)", True), ("cron(0 0 32W * ? *)", False), ("cron(0 0 ? * 7L *)", True),
    ("cron(0/59 * * * ? *)", True), ("rate(1 minute)", True), ("rate(0 minutes)", False),
])
def test_cron_field_boundaries(expr: str, ok: bool) -> None:
    if ok:
        validate_schedule(expr)
    else:
        with pytest.raises(ScheduleError):
            validate_schedule(expr)


@pytest.mark.parametrize(("pattern", "reason"), [
    *[({"n": [{"numeric": ["<", value]}]}, reason) for value, reason in [
        (5e9, None), (-5e9, None), (4999999999.999999, None), (0.123456, None),
        (5000000000.000001, "Value must be between -5.0E9 and 5.0E9, inclusive"),
        (-5000000000.000001, "Value must be between -5.0E9 and 5.0E9, inclusive"),
        (0.1234567, "Only values upto 6 decimals are supported")]],
    *[({"ip": [{"cidr": cidr}]}, reason) for cidr, reason in [
        ("10.0.0.0/32", None), ("10.0.0.0/0", None), ("::/128", None),
        ("10.0.0.0/33", "Malformed CIDR, mask bits must be between 0 and 32"),
        ("::/129", "Malformed CIDR, mask bits must be between 0 and 128")]],
])
def test_numeric_and_cidr_value_boundaries(pattern: dict[str, object], reason: str | None) -> None:
    if reason is None:
        validate_pattern(pattern)
    else:
        with pytest.raises(PatternError) as e:
            validate_pattern(pattern)
        assert e.value.reason == reason


@pytest.mark.parametrize(("bounds", "value", "expected"), [
    ([">", 0, "<=", 5], 5, True), ([">", 0, "<=", 5], 0, False),
    ([">", 0, "<=", 5], 5.000001, False), ([">", 0, "<=", 5], 0.000001, True),
    ([">=", 0, "<", 5], 0, True), ([">=", 0, "<", 5], 5, False),
    (["<", -5e9 + 1], -5e9, True), (["=", 5e9], 5e9, True), (["=", 0], -0.0, True),
])
def test_numeric_range_edges(bounds: list[object], value: float, expected: bool) -> None:
    pattern = {"n": [{"numeric": bounds}]}
    validate_pattern(pattern)
    assert matches(pattern, {"n": value}) is expected


@pytest.mark.parametrize(("cidr", "ip", "expected"), [
    ("10.0.0.0/24", "10.0.0.0", True), ("10.0.0.0/24", "10.0.0.255", True),
    ("10.0.0.0/24", "10.0.1.0", False), ("10.0.0.0/24", "9.255.255.255", False),
    ("10.0.0.1/32", "10.0.0.1", True), ("10.0.0.1/32", "10.0.0.2", False),
    ("0.0.0.0/0", "255.255.255.255", True),
    ("2001:db8::/32", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", True),
    ("2001:db8::/32", "2001:db9::", False), ("::1/128", "::1", True),
])
def test_cidr_match_edges(cidr: str, ip: str, expected: bool) -> None:
    pattern = {"ip": [{"cidr": cidr}]}
    validate_pattern(pattern)
    assert matches(pattern, {"ip": ip}) is expected


# -- planner: the details a deploy relies on


def test_plan_counts_and_conflict_words() -> None:
    foreign = planner.Resource("function", "lambdafail-multi-orchestrator", {})
    plan = planner.plan(_want(), _actual(foreign))
    assert plan.conflicts[0].message == ("function lambdafail-multi-orchestrator exists and is "
                                         "not ours (no lambdafail:topology tag); left alone")
    counts = plan.counts()
    assert counts == {"create": len(plan.changes), "update": 0, "delete": 0, "no-op": 0}


def test_function_timeout_covers_two_probe_timeouts() -> None:
    compiled = compile_topology(multi())
    for svc in compiled["services"].values():
        svc["health"].update(probes_per_tick=1, timeout_seconds=20)
    assert planner.function_timeout(compiled) == 2 * 20 + 10


def test_fingerprint_identifies_code_and_configuration() -> None:
    spec = {"runtime": "python3.12", "code_sha256": "abc", "timeout": 30}
    fp = planner.fingerprint(spec)
    assert len(fp) == 32 and int(fp, 16) >= 0
    assert planner.fingerprint(dict(spec)) == fp
    assert planner.fingerprint({**spec, "timeout": 31}) != fp


def test_rule_targets_input_and_retry_policies() -> None:
    rules = [r for r in _want() if r.kind == "rule"]
    ticks = [r for r in rules if "schedule_expression" in r.spec]
    signals = [r for r in rules if "schedule_expression" not in r.spec]
    tick = next(r for r in ticks if r.spec["schedule_expression"] == "rate(1 minute)")
    assert tick.spec["target"]["Input"] == {"lambdafail": "tick", "rule": tick.name}
    # a tick is superseded by the next one a minute later (60 s: AWS's floor, too)
    assert tick.spec["target"]["RetryPolicy"] == {"MaximumRetryAttempts": 2,
                                                  "MaximumEventAgeInSeconds": 60}
    assert signals and all("Input" not in r.spec["target"] for r in signals)
    assert all(r.spec["target"]["RetryPolicy"] == {"MaximumRetryAttempts": 24,
                                                   "MaximumEventAgeInSeconds": 3600}
               for r in signals)


def _permissions(want: list[planner.Resource]) -> list[str]:
    return sorted(r.spec["source_arn"] for r in want if r.kind == "permission")


def test_permissions_go_wide_only_past_the_policy_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    per_rule = _permissions(_want())
    size = sum(len(json.dumps(planner._statement(
        f"lambdafail-{arn.rsplit('/', 1)[1]}", "arn:aws:lambda:us-east-1:123456789012:function:"
        "lambdafail-multi-orchestrator:live", arn))) for arn in per_rule)
    monkeypatch.setattr(planner, "POLICY_BUDGET", size)
    assert _permissions(_want()) == per_rule  # exactly at the budget: still one per rule
    monkeypatch.setattr(planner, "POLICY_BUDGET", size - 1)
    assert _permissions(_want()) == [
        "arn:aws:events:us-east-1:123456789012:rule/lambdafail-multi-*",
        "arn:aws:events:us-east-1:123456789012:rule/lambdafail-multi-events/*"]


def test_wide_permissions_only_for_buses_that_have_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    """A topology whose rules are all on the default bus (ticks, alarm signals) gets no
    permission for its own bus."""
    monkeypatch.setattr(planner, "POLICY_BUDGET", 0)
    want = planner.desired(compile_topology(load_text(BASE, "shop.yaml")), where=WHERE,
                           code_sha256="x", config_sha256="y")
    assert not [r for r in want if r.kind == "rule" and r.spec["bus"] != "default"]
    assert _permissions(want) == ["arn:aws:events:us-east-1:123456789012:rule/lambdafail-shop-*"]


def test_only_a_function_update_lists_the_topology_fields_it_changes() -> None:
    want = _want()
    fn = next(r for r in want if r.kind == "function")
    rule = next(r for r in want if r.kind == "rule")
    deployed = compile_topology(multi())
    deployed["services"]["checkout"]["health"]["failure_threshold"] = 9
    actual = _actual(planner.Resource("function", fn.name, {**fn.spec, "timeout": 1}, fn.tags),
                     planner.Resource("rule", rule.name, {**rule.spec, "state": "DISABLED"},
                                      rule.tags))
    actual.deployed_config = deployed
    changes = {c.kind: c for c in planner.plan(want, actual).changes if c.action == "update"}
    assert "config.services.checkout.health.failure_threshold" in {
        d.field for d in changes["function"].diffs}
    assert [d.field for d in changes["rule"].diffs] == ["state"]


# -- loader: where a problem is, and "did you mean" outside services


@pytest.mark.parametrize(("old", "new", "path", "suggestion"), [
    ("services:", "notify: {sns_topc_arn: x}\nservices:", "notify.sns_topc_arn",
     "sns_topic_arn"),
    ("services:", "defaults: {helth: {}}\nservices:", "defaults.helth", "health"),
    ("services:", "defaults: {health: {timeout_second: 3}}\nservices:",
     "defaults.health.timeout_second", "timeout_seconds"),
    ("services:", "defaults: {policy: {failbak: auto}}\nservices:", "defaults.policy.failbak",
     "failback"),
    ("router: {ssm_parameter: /shop/orders/active}",
     "router: {ssm_parameter: /shop/orders/active, valuse: {primary: a}}",
     "services.orders.router.valuse", "values"),
    ("router: {ssm_parameter: /shop/orders/active}",
     "router: {rules: {bus: b, primray: [r1], standby: [r2]}}",
     "services.orders.router.rules.primray", "primary"),
])
def test_unknown_key_outside_a_service_body_says_did_you_mean(old: str, new: str, path: str,
                                                              suggestion: str) -> None:
    found = problems(BASE.replace(old, new, 1))
    assert {p: h for _, p, _, h in found}.get(path) == f"did you mean `{suggestion}`?", found


def test_yaml_syntax_error_points_at_the_problem_not_its_context() -> None:
    with pytest.raises(TopologyError) as e:
        load_text("a: {b: 1\nc: 2\n", "shop.yaml")
    [p] = e.value.problems
    # the flow mapping opened on line 1 (the context); the bad ':' is at line 2, column 2
    assert (p.line, p.column) == (2, 2) and p.message.startswith("not valid YAML: expected")


def test_top_level_that_is_not_a_mapping_is_located() -> None:
    with pytest.raises(TopologyError) as e:
        load_text("\n\n- a\n- b\n", "shop.yaml")
    [p] = e.value.problems
    assert (p.line, p.column, p.message) == (3, 1, "the top level must be a mapping, not list")


def test_non_utf8_byte_is_located(tmp_path: Path) -> None:
    from lambdafail.model.loader import read_text

    f = tmp_path / "shop.yaml"
    f.write_bytes(b"version: 1\nname: sh\xe9op\n")
    with pytest.raises(TopologyError) as e:
        read_text(str(f))
    [p] = e.value.problems
    assert (p.line, p.column) == (2, 9) and "byte 0xe9 at offset 19" in p.message


def test_value_budget_boundary(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every value counts (the mapping, the list, each item; keys do not): a document of
    exactly MAX_NODES values is read, one more is refused."""
    from lambdafail.model import loader

    assert loader.MAX_NODES == 100_000
    monkeypatch.setattr(loader, "MAX_NODES", 50)
    loader.parse("x: [" + ", ".join(["1"] * 48) + "]\n", "shop.yaml")  # 1 + 1 + 48
    with pytest.raises(TopologyError) as e:
        loader.parse("x: [" + ", ".join(["1"] * 49) + "]\n", "shop.yaml")
    assert "document expands to more than 50 values" in e.value.problems[0].message


def test_cross_field_problem_inside_a_list_survives_the_repair() -> None:
    """The repaired document keeps list items: a duplicate alarm is still found next to a
    field error elsewhere."""
    text = BASE.replace("    router: {ssm_parameter: /shop/orders/active}",
                        "    signals: [{alarm: checkout-5xx}]\n"
                        "    router: {ssm_parameter: /shop/orders/active}")
    text = text.replace("health: {failure_threshold: 3}", "health: {failure_threshold: 0}")
    paths = [path for _, path, _, _ in problems(text)]
    assert paths == ["services.checkout.health.failure_threshold",
                     "services.orders.signals[0].alarm"]


# -- patterns: what the fast corpus did not pin down


def test_reserved_names_are_plain_fields_outside_or() -> None:
    validate_pattern({"source": ["a"], "prefix": ["b"]})  # refused only inside $or
    with pytest.raises(PatternError, match="cannot be used inside"):
        validate_pattern({"$or": [{"prefix": ["b"]}, {"source": ["a"]}]})


def test_wildcard_limit_is_exact() -> None:
    validate_pattern({"a": [{"wildcard": "1*2*3*4*5*6"}]})  # five stars
    with pytest.raises(PatternError, match="too complex"):
        validate_pattern({"a": [{"wildcard": "1*2*3*4*5*6*7"}]})  # six


def test_exact_match_compares_ip_addresses_by_address() -> None:
    assert matches({"ip": ["2001:db8::1"]}, {"ip": "2001:DB8:0:0:0:0:0:1"}) is True
    assert matches({"ip": ["2001:db8::1"]}, {"ip": "2001:db8::2"}) is False


def test_an_untagged_parameter_the_live_function_routes_is_tagged_again() -> None:
    """A switch that recreated the parameter and stopped before tagging it leaves it
    untagged: the deployed topology routes it, so deploy tags it instead of a conflict."""
    compiled = dict(compile_topology(multi()))
    live = planner.Resource("parameter", "/multi/checkout/active", {"value": "by hand"})
    actual = _actual(live)
    actual.deployed_config = compiled
    plan = planner.plan(_want(), actual)
    [change] = [c for c in plan.changes if c.kind == "parameter" and c.name == live.name]
    assert plan.conflicts == [] and change.action == "update" and "tagged" in change.note
    assert {d.field for d in change.diffs} == {"tags.lambdafail:topology",
                                               "tags.lambdafail:service"}
