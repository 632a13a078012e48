"""Routers against moto: apply is idempotent, read-back reports what AWS holds."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from lambdafail.runtime.config import Clients
from lambdafail.runtime.routers import RouterError, make_router

REGION = "us-east-1"


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
