"""The kind registries: every router kind has its model twin and its runtime twin, and the
places that used to list kinds by hand now read the registry."""

from __future__ import annotations

from lambdafail.deploy import iam
from lambdafail.model import kinds
from lambdafail.model.loader import _allowed_keys
from lambdafail.model.topology import Topology, compile_topology
from lambdafail.runtime import routers

WHERE = iam.Where("aws", "us-east-1", "123456789012")


def test_every_model_kind_has_a_runtime_router_and_back() -> None:
    assert [k.kind for k in kinds.ROUTERS] == list(routers.ROUTERS)
    assert [k.kind for k in kinds.ROUTERS] == ["ssm", "route53", "dns_failover", "rules", "hook"]
    # Only the hook reads back the committed side.
    assert [c.kind for c in routers.ROUTERS.values() if c.reads_committed] == ["hook"]


def test_the_allowed_router_keys_and_the_schema_come_from_the_registry() -> None:
    keys = _allowed_keys(("services", "web", "router"))
    for k in kinds.ROUTERS:
        assert k.key in keys
    schema = Topology.model_json_schema()
    assert {k.model.__name__ for k in kinds.ROUTERS} <= set(schema["$defs"])


def _topo(router: dict[str, object]) -> dict[str, object]:
    topo = Topology.model_validate({"name": "shop", "services": {"web": {
        "primary": {"url": "https://a.example.com/"}, "standby": {"lambda": "dr"},
        "router": router}}})
    return compile_topology(topo)["services"]["web"]["router"]  # type: ignore[no-any-return]


def test_each_kind_compiles_hints_and_grants_through_its_module() -> None:
    cases = {
        "ssm": {"ssm_parameter": "/shop/web/active"},
        "route53": {"route53": {"zone_id": "Z123", "record": "api.example.com",
                                "primary": "a.example.com", "standby": "b.example.com"}},
        "rules": {"rules": {"primary": ["to-a"], "standby": ["to-b"]}},
        "hook": {"hook": "switch-fn"},
    }
    sids = {"ssm": {"RouterParameters"}, "route53": {"RouterZoneReads", "RouterZones",
                                                    "RouterZoneChanges"},
            "rules": {"RouterRules"}, "hook": set()}
    for name, router in cases.items():
        compiled = _topo(router)
        kind = kinds.router_kind(name)
        assert compiled["kind"] == name
        assert "standby" in kind.hint(compiled, "standby")
        assert {s["Sid"] for s in kind.iam_statements([compiled], WHERE)} == sids[name]
        assert kind.iam_statements([], WHERE) == []
    assert _topo(cases["ssm"])["values"] == {"primary": "https://a.example.com/",
                                             "standby": "dr"}
    assert kinds.router_kind("ssm").seeded_parameters(_topo(cases["ssm"])) == {
        "/shop/web/active": "https://a.example.com/"}
    assert kinds.router_kind("hook").invokes(_topo(cases["hook"])) == {"switch-fn"}
    assert kinds.router_kind("rules").seeded_parameters(_topo(cases["rules"])) == {}


def test_no_module_outside_a_kind_dispatches_on_a_router_kind_name() -> None:
    """Comparisons with a router kind's name live only in that kind's modules."""
    import re
    from pathlib import Path

    src = Path(__file__).resolve().parent.parent / "src" / "lambdafail"
    homes = {src / "model" / "kinds", src / "runtime" / "routers", src / "deploy" / "kinds"}
    # A probe header's `ssm` reference (runtime/secrets.py) is not the router kind.
    elsewhere = {src / "runtime" / "secrets.py"}
    names = "|".join(re.escape(k.kind) for k in kinds.ROUTERS)
    # `router["kind"] == "ssm"`, `.get("kind") in ("route53", ...)`, `k.kind != "hook"`
    pattern = re.compile(rf"""kind\W{{0,4}}\s*(==|!=|\bin\b)\s*\(?[^\n)]*["']({names})["']""")
    found = [f"{p.relative_to(src)}:{n}: {line.strip()}"
             for p in sorted(src.rglob("*.py"))
             if not any(h in p.parents for h in homes) and p not in elsewhere
             for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
             if pattern.search(line)]
    assert found == []


def test_what_a_router_kind_brings_to_deploy_falls_into_the_planners_order() -> None:
    from lambdafail.deploy import kinds as owned
    from lambdafail.deploy import planner

    assert [k.router for k in owned.OWNED] == ["dns_failover"]
    assert planner.KINDS[planner.KINDS.index("alarm"):planner.KINDS.index("dashboard") + 1] == (
        "alarm", "route_alarm", "healthcheck", "record", "dashboard")
    assert {"route_alarm", "healthcheck"} <= planner.TAGGED
    assert "record" not in planner.TAGGED
    assert {"route_alarm", "healthcheck", "record"} <= planner.STATE_KINDS
    assert {"loggroup", "healthcheck"} == planner.ADOPTED_UNTAGGED
    assert {"route_alarm"} == planner.SEEDED
    assert owned.owner_of("healthcheck") is owned.OWNED[0]
    assert owned.owner_of("function") is None


def test_the_access_denied_hint_names_what_a_kinds_own_call_needs() -> None:
    from lambdafail.aws import actions, denied_hint
    from lambdafail.deploy import executor  # noqa: F401  (registers the kinds' needs)

    assert "route53:CreateHealthCheck" in denied_hint("route53", "create_health_check")
    # The shared calls keep their own scopes and gain the kind's.
    scopes = {scope for _, scope in actions.needs("cloudwatch", "PutMetricAlarm") or ()}
    assert scopes == {"watch-alarms", "route-alarms"}
