"""Routers against moto: apply is idempotent, read-back reports what AWS holds."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.response import StreamingBody
from botocore.stub import Stubber

from lambdafail.runtime.config import Clients
from lambdafail.runtime.routers import RouterError, make_router

REGION = "us-east-1"
ONE_ATTEMPT = Config(retries={"total_max_attempts": 1})  # a timeout fails at once


@pytest.fixture
def aws() -> Iterator[None]:
    from moto import mock_aws

    with mock_aws(config={"lambda": {"use_docker": False}}):
        yield


def test_runtime_router_ssm(aws: None) -> None:
    ssm = boto3.client("ssm", region_name=REGION)
    r = make_router({"kind": "ssm", "parameter": "/shop/checkout/active",
                     "values": {"primary": "https://a", "standby": "https://b"}},
                    Clients(overrides={"ssm": ssm}))
    assert r.read_back() is None  # not created yet
    r.apply("standby")
    r.apply("standby")
    assert r.read_back() == "standby"
    assert ssm.get_parameter(Name="/shop/checkout/active")["Parameter"]["Value"] == "https://b"
    ssm.put_parameter(Name="/shop/checkout/active", Value="something else", Overwrite=True,
                      Type="String")
    assert r.read_back() is None
    r.apply("primary")
    assert r.read_back() == "primary"


def test_runtime_router_route53(aws: None) -> None:
    r53 = boto3.client("route53", region_name=REGION)
    zone = r53.create_hosted_zone(Name="example.com", CallerReference="x")["HostedZone"]["Id"]
    zone_id = zone.split("/")[-1]
    cfg = {"kind": "route53", "zone_id": zone_id, "record": "api.example.com.", "type": "CNAME",
           "ttl": 60, "values": {"primary": "a.example.com", "standby": "b.example.com"}}
    r = make_router(cfg, Clients(overrides={"route53": r53}))
    assert r.read_back() is None
    r.apply("primary")
    assert r.read_back() == "primary"
    r.apply("standby")
    r.apply("standby")
    assert r.read_back() == "standby"
    sets = r53.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
    cnames = [s for s in sets if s["Type"] == "CNAME"]
    assert len(cnames) == 1 and cnames[0]["ResourceRecords"] == [{"Value": "b.example.com"}]


def test_runtime_router_rules(aws: None) -> None:
    ev = boto3.client("events", region_name=REGION)
    ev.create_event_bus(Name="shop")
    for name in ("to-primary", "to-primary-2", "to-standby"):
        ev.put_rule(Name=name, EventBusName="shop", EventPattern=json.dumps({"source": ["x"]}))
    cfg = {"kind": "rules", "bus": "shop",
           "rules": {"primary": ["to-primary", "to-primary-2"], "standby": ["to-standby"]}}
    r = make_router(cfg, Clients(overrides={"events": ev}))
    assert r.read_back() is None  # all enabled: neither side
    r.apply("standby")
    assert r.read_back() == "standby"
    assert ev.describe_rule(Name="to-primary", EventBusName="shop")["State"] == "DISABLED"
    r.apply("primary")
    r.apply("primary")
    assert r.read_back() == "primary"
    bad = make_router({**cfg, "rules": {"primary": ["missing"], "standby": []}},
                      Clients(overrides={"events": ev}))
    with pytest.raises(RouterError, match="ResourceNotFoundException"):
        bad.apply("primary")


def _hook_function() -> None:
    import zipfile

    iam = boto3.client("iam", region_name=REGION)
    role = iam.create_role(RoleName="hook-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("h.py", "def h(event, context):\n    return event\n")
    boto3.client("lambda", region_name=REGION).create_function(
        FunctionName="switch-hook", Runtime="python3.12", Role=role, Handler="h.h",
        Code={"ZipFile": buf.getvalue()})


def test_runtime_router_hook(aws: None) -> None:
    _hook_function()
    lam = boto3.client("lambda", region_name=REGION)
    r = make_router({"kind": "hook", "function": "switch-hook"}, Clients(overrides={"lambda": lam}),
                    confirmed="primary")
    assert r.read_back() == "primary"
    r.apply("standby", {"service": "checkout", "transition_id": "t1"})
    assert r.read_back() == "standby"


def _payload(obj: Any) -> StreamingBody:
    raw = json.dumps(obj).encode()
    return StreamingBody(io.BytesIO(raw), len(raw))


def test_runtime_router_hook_function_error_and_answer() -> None:
    lam = boto3.client("lambda", region_name=REGION)
    r = make_router({"kind": "hook", "function": "switch-hook"}, Clients(overrides={"lambda": lam}),
                    confirmed="primary")
    with Stubber(lam) as stub:
        stub.add_response("invoke", {"StatusCode": 200, "FunctionError": "Unhandled",
                                     "Payload": _payload({"errorMessage": "nope"})})
        with pytest.raises(RouterError, match="nope"):
            r.apply("standby")
        assert r.read_back() == "primary"
        # A hook may say where traffic really is.
        stub.add_response("invoke", {"StatusCode": 200, "Payload": _payload({"active": "primary"})})
        r.apply("standby")
        assert r.read_back() == "primary"


def test_runtime_hook_is_invoked_once_and_inside_the_lease() -> None:
    """botocore must never re-send a slow hook invoke by itself (the hook is the user's code,
    maybe not idempotent), and the invoke must give up before the switch's lease lapses."""
    from lambdafail.runtime.config import Clients
    from lambdafail.runtime.routers import make_router
    from lambdafail.runtime.transitions import LEASE_SECONDS

    router = make_router({"kind": "hook", "function": "start-dr-fleet"},
                         Clients(region="us-east-1"))
    cfg = router.lam.meta.config  # type: ignore[attr-defined]
    assert cfg.retries["total_max_attempts"] == 1
    assert cfg.read_timeout + cfg.connect_timeout < LEASE_SECONDS


# -- typed failures: what happened decides whether a failed switch keeps its lease


def _hook_env(function: str, lam: Any) -> Any:
    from runtime_support import compiled, make_env, service_cfg

    cfg = service_cfg(failure_threshold=1,
                      router={"kind": "hook", "function": function})
    return make_env(compiled({"checkout": cfg}), extra_clients={"lambda": lam})


def _failed_switch(env: Any) -> dict[str, Any]:
    env.prober.set("checkout", primary=False)
    out = env.tick(advance=0.0)
    assert [a["status"] for a in out["actions"]] == ["router_failed"]
    st = env.store.get("checkout")
    assert st is not None and st.phase == "switching" and st.pending is not None
    pending: dict[str, Any] = st.pending
    return pending


@pytest.mark.parametrize("function", ["checkout-guard", "checkout-timeout-guard"])
def test_runtime_hook_read_timeout_keeps_the_lease(aws: None, function: str) -> None:
    """No answer from the hook: it may still be switching, so nobody else may drive the router
    until the lease lapses — whatever the function is called."""
    from botocore.exceptions import ReadTimeoutError

    from lambdafail.runtime.transitions import LEASE_SECONDS

    lam = boto3.client("lambda", region_name=REGION, config=ONE_ATTEMPT)

    def hang(**_: Any) -> None:
        raise ReadTimeoutError(endpoint_url="https://lambda.us-east-1.amazonaws.com")

    lam.meta.events.register("before-send.lambda.Invoke", hang)
    env = _hook_env(function, lam)
    pending = _failed_switch(env)
    assert float(pending["lease_until"]) == pytest.approx(env.clock.now + LEASE_SECONDS)
    assert f"lambda Invoke {function} (hook)" in pending["last_error"]


@pytest.mark.parametrize("function", ["checkout-guard", "checkout-timeout-guard"])
def test_runtime_failed_hook_frees_the_lease(aws: None, function: str) -> None:
    """The hook ran and failed (even with "timed out" in its text, even with "timeout" in its
    name): nothing is still acting, so the next tick may retry at once."""
    lam = boto3.client("lambda", region_name=REGION)
    env = _hook_env(function, lam)
    with Stubber(lam) as stub:
        stub.add_response("invoke", {"StatusCode": 200, "FunctionError": "Unhandled",
                                     "Payload": _payload({"errorMessage": "Task timed out "
                                                          "after 20.00 seconds"})})
        pending = _failed_switch(env)
    assert float(pending["lease_until"]) == 0
    assert "timed out" in pending["last_error"]


def test_runtime_router_errors_are_typed(aws: None) -> None:
    """Every router says which call failed and how: not found, refused, or no answer."""
    from botocore.exceptions import ReadTimeoutError

    from lambdafail.runtime.routers import RouterNotFound, RouterRefused, RouterTimeout

    ev = boto3.client("events", region_name=REGION)
    rules = make_router({"kind": "rules", "bus": "default",
                         "rules": {"primary": ["missing"], "standby": []}},
                        Clients(overrides={"events": ev}))
    with pytest.raises(RouterNotFound) as nf:
        rules.apply("primary")
    assert nf.value.operation == "events EnableRule missing on bus default"
    assert nf.value.code == "ResourceNotFoundException"
    with pytest.raises(RouterNotFound, match="DescribeRule missing"):
        rules.read_back()

    r53 = boto3.client("route53", region_name=REGION)
    dns = make_router({"kind": "route53", "zone_id": "ZNOSUCHZONE", "record": "a.example.com.",
                       "type": "CNAME", "ttl": 60, "values": {"primary": "p", "standby": "s"}},
                      Clients(overrides={"route53": r53}))
    with pytest.raises(RouterNotFound, match="NoSuchHostedZone"):
        dns.apply("standby")

    ssm = boto3.client("ssm", region_name=REGION, config=ONE_ATTEMPT)
    param = make_router({"kind": "ssm", "parameter": "/shop/web/active",
                         "values": {"primary": "P", "standby": "S"}},
                        Clients(overrides={"ssm": ssm}))
    with Stubber(ssm) as stub:
        stub.add_client_error("put_parameter", service_error_code="AccessDeniedException")
        with pytest.raises(RouterRefused) as refused:
            param.apply("standby")
    assert refused.value.operation == "ssm PutParameter /shop/web/active"
    assert refused.value.code == "AccessDeniedException"

    def hang(**_: Any) -> None:
        raise ReadTimeoutError(endpoint_url="https://ssm.us-east-1.amazonaws.com")

    ssm.meta.events.register("before-send.ssm.GetParameter", hang)
    with pytest.raises(RouterTimeout, match="ssm GetParameter /shop/web/active"):
        param.read_back()
    assert not issubclass(RouterTimeout, RouterRefused | RouterNotFound)


def test_runtime_orchestrator_tags_the_parameter_it_recreates(aws: None) -> None:
    """A router parameter deleted by hand is recreated by the next failover, tagged as the
    topology's (so `destroy --delete-state` finds it); an existing one is only overwritten
    (PutParameter takes no Tags with Overwrite: version 1 tells a new parameter apart)."""
    from runtime_support import compiled, make_env, service_cfg

    env = make_env(compiled({"checkout": service_cfg(failure_threshold=1)}))
    ssm = env.ssm.inner
    ssm.delete_parameter(Name="/shop/checkout/active")
    env.tick()
    env.prober.set("checkout", primary=False)
    env.tick()
    assert env.active() == "standby" and env.param() == "S"
    tags = ssm.list_tags_for_resource(ResourceType="Parameter",
                                      ResourceId="/shop/checkout/active")["TagList"]
    assert {t["Key"]: t["Value"] for t in tags} == {"lambdafail:topology": "shop",
                                                   "lambdafail:service": "checkout"}
    # An existing parameter: no tag call (a foreign tag set by someone stays as it is).
    ssm.remove_tags_from_resource(ResourceType="Parameter", ResourceId="/shop/checkout/active",
                                  TagKeys=["lambdafail:service"])
    make_router({"kind": "ssm", "parameter": "/shop/checkout/active",
                 "values": {"primary": "P", "standby": "S"}}, env.clients,
                tags={"lambdafail:topology": "shop", "lambdafail:service": "checkout"}
                ).apply("primary")
    tags = ssm.list_tags_for_resource(ResourceType="Parameter",
                                      ResourceId="/shop/checkout/active")["TagList"]
    assert [t["Key"] for t in tags] == ["lambdafail:topology"] and env.param() == "P"
