"""Probes against real loopback HTTP servers and moto's Lambda (plus a Stubber for errors)."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Hashable, Mapping
from typing import Any

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from lambdafail.runtime.probes import probe_all, probe_target
from runtime_support import Behaviour, HostileServer, closed_port_url, elapsed, http_server


def url_target(url: str, status: int = 200, body: str | None = None) -> dict[str, Any]:
    return {"kind": "url", "url": url, "expect_status": status, "body_contains": body}


def test_runtime_http_probe_up() -> None:
    with http_server(Behaviour(200, b"all good")) as url:
        r = probe_target(url_target(url), 2.0)
    assert r.ok and r.detail == "HTTP 200" and r.latency_ms < 2000 and r.target == url


def test_runtime_http_probe_down() -> None:
    r = probe_target(url_target(closed_port_url()), 2.0)
    assert not r.ok and "connection failed" in r.detail


def test_runtime_http_probe_wrong_status() -> None:
    with http_server(Behaviour(503, b"down")) as url:
        r = probe_target(url_target(url), 2.0)
        assert not r.ok and r.detail == "HTTP 503 (expected 200)"
        r = probe_target(url_target(url, status=503), 2.0)
        assert r.ok  # an endpoint may be expected to answer 503 (e.g. a maintenance page)


def test_runtime_http_probe_redirect_is_not_followed() -> None:
    with http_server(Behaviour(302, b"")) as url:
        r = probe_target(url_target(url), 2.0)
    assert not r.ok and "HTTP 302" in r.detail


def test_runtime_http_probe_body_contains() -> None:
    with http_server(Behaviour(200, b'{"status": "ok"}')) as url:
        assert probe_target(url_target(url, body='"ok"'), 2.0).ok
        r = probe_target(url_target(url, body="ready"), 2.0)
    assert not r.ok and "body lacks" in r.detail


def test_runtime_http_probe_slow_past_timeout() -> None:
    with http_server(Behaviour(200, b"late", delay=5.0)) as url:
        r, took = elapsed(lambda: probe_target(url_target(url), 0.3))
    assert not r.ok and "timeout" in r.detail
    assert took < 2.0


def test_runtime_probe_all_is_concurrent() -> None:
    """Wall time is about the slowest probe, not the sum."""
    slow = Behaviour(200, b"ok", delay=0.4)
    with http_server(slow) as a, http_server(slow) as b, http_server(slow) as c, \
            http_server(Behaviour(200, b"ok", delay=5.0)) as hung:
        targets: Mapping[Hashable, tuple[Mapping[str, Any], float]] = {
            "a": (url_target(a), 2.0), "b": (url_target(b), 2.0), "c": (url_target(c), 2.0),
            "d": (url_target(a), 2.0), "hung": (url_target(hung), 0.5)}
        results, took = elapsed(lambda: probe_all(targets))
    assert {k: r.ok for k, r in results.items()} == {"a": True, "b": True, "c": True, "d": True,
                                                     "hung": False}
    assert took < 1.5  # sequential would be >= 2.1 s


# --- Lambda standby probes ---------------------------------------------------------------------


def _function(lam: Any) -> None:
    iam = boto3.client("iam", region_name="us-east-1")
    role = iam.create_role(RoleName="probe-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("h.py", "def h(event, context):\n    return {'ok': True}\n")
    lam.create_function(FunctionName="checkout-degraded", Runtime="python3.12", Role=role,
                        Handler="h.h", Code={"ZipFile": buf.getvalue()})


LAMBDA_TARGET = {"kind": "lambda", "function": "checkout-degraded"}


def test_runtime_lambda_probe_healthy_on_moto() -> None:
    from moto import mock_aws

    with mock_aws(config={"lambda": {"use_docker": False}}):
        lam = boto3.client("lambda", region_name="us-east-1")
        _function(lam)
        r = probe_target(LAMBDA_TARGET, 2.0, lam)
    assert r.ok and r.target == "lambda:checkout-degraded"


def test_runtime_lambda_probe_function_error_on_moto() -> None:
    # Without the simple-Lambda config, moto tries Docker and answers FunctionError: Handled.
    from moto import mock_aws

    with mock_aws(config={"lambda": {"use_docker": True}}):
        lam = boto3.client("lambda", region_name="us-east-1")
        _function(lam)
        r = probe_target(LAMBDA_TARGET, 2.0, lam)
    assert not r.ok and r.detail.startswith("FunctionError Handled")


def test_runtime_lambda_probe_missing_function_and_stubbed_error() -> None:
    # moto's simple Lambda answers even for a function that does not exist: stub AWS's error.
    lam = boto3.client("lambda", region_name="us-east-1")
    with Stubber(lam) as stub:
        stub.add_client_error("invoke", service_error_code="ResourceNotFoundException",
                              service_message="Function not found", http_status_code=404)
        r = probe_target(LAMBDA_TARGET, 2.0, lam)
    assert not r.ok and "ResourceNotFoundException" in r.detail
    body = json.dumps({"errorMessage": "boom", "errorType": "RuntimeError"}).encode()
    with Stubber(lam) as stub:
        stub.add_response("invoke", {"StatusCode": 200, "FunctionError": "Unhandled",
                                     "Payload": StreamingBody(io.BytesIO(body), len(body))})
        r = probe_target(LAMBDA_TARGET, 2.0, lam)
    assert not r.ok and "Unhandled" in r.detail and "boom" in r.detail


@pytest.mark.parametrize("target", [LAMBDA_TARGET])
def test_runtime_lambda_probe_without_client(target: dict[str, Any]) -> None:
    assert not probe_target(target, 1.0, None).ok


def test_runtime_on_the_spot_probe_is_bounded_even_if_an_invoke_hangs() -> None:
    """The orchestrator's on-the-spot probe of a never-probed Lambda side cannot hang the
    invocation: it is reported as a timeout after timeout_seconds (+1 s grace)."""
    import threading
    import time as _time

    from lambdafail.runtime.config import Clients, LoadedConfig
    from lambdafail.runtime.handler import Orchestrator

    release = threading.Event()

    class HangingLambda:
        def invoke(self, **_: object) -> dict[str, object]:
            release.wait(30)
            return {"StatusCode": 200}

    svc = {"primary": {"kind": "url", "url": "http://127.0.0.1:9/"},
           "standby": {"kind": "lambda", "function": "slow-standby"},
           "health": {"timeout_seconds": 0.3, "interval_seconds": 60}}
    cfg = LoadedConfig(data={"format": 1, "topology": "t", "table": "x", "services": {"web": svc},
                             "schedules": {}}, sha256="0", path="<test>")
    orch = Orchestrator(cfg, clients=Clients(overrides={"lambda": HangingLambda()}))
    started = _time.monotonic()
    result = orch.probe_side("web", "standby")
    release.set()
    assert _time.monotonic() - started < 3
    assert not result.ok and "timeout" in result.detail


# --- many targets, hostile targets -------------------------------------------------------------

def test_runtime_probe_budget_starts_when_sent_so_queued_probes_are_not_timeouts() -> None:
    """500 targets (250 services × 2 sides) answering in 0.6 s, well inside their 1.5 s
    timeout: more than the workers, so most wait their turn — four waves of 128 take 2.4 s, so
    a budget counted from submission would fail the later waves. Every one must be probed and
    healthy (0.9 s of slack per probe for a loaded 2-core machine)."""
    with http_server(Behaviour(200, b"ok", delay=0.6)) as url:
        targets = {i: (url_target(f"{url}?n={i}"), 1.5) for i in range(500)}
        results = probe_all(targets)
    assert len(results) == 500
    bad = {k: r.detail for k, r in results.items() if not r.ok}
    assert bad == {}, f"{len(bad)} false failures, e.g. {next(iter(bad.values()), '')}"
    assert all(r.probed for r in results.values())


class _HungLambda:
    """A Lambda client whose invoke never returns (a wedged connection): a socket the probe
    cannot cut, so its worker stays busy past the round."""

    def __init__(self) -> None:
        import threading

        self.release = threading.Event()

    def invoke(self, **_: Any) -> Any:
        self.release.wait(30)
        raise TimeoutError("released")


def test_runtime_probe_that_never_ran_is_not_a_failure() -> None:
    """One worker, held by an invoke that hangs: the second target cannot start before the
    round ends. It is reported as not probed, and the side keeps its previous verdict."""
    from lambdafail.runtime.decisions import record_probe
    from lambdafail.runtime.state import ServiceState

    hung = _HungLambda()
    try:
        with http_server(Behaviour(200, b"ok")) as url:
            results = probe_all({"a": ({"kind": "lambda", "function": "wedged"}, 0.5),
                                 "b": (url_target(url), 0.5)},
                                lambda_client=hung, max_workers=1, grace_seconds=0.0)
    finally:
        hung.release.set()
    assert not results["a"].ok and "timeout" in results["a"].detail and results["a"].probed
    assert results["b"].probed is False and "not probed" in results["b"].detail
    st = ServiceState(service="s")
    st.health["primary"].ok, st.health["primary"].failures = True, 0
    record_probe(st, "primary", results["b"], 0.0)
    assert st.health["primary"].ok is True and st.health["primary"].failures == 0


@pytest.mark.parametrize("where", ["headers", "body"])
def test_runtime_trickling_target_is_cut_at_its_timeout_and_leaks_no_thread(where: str) -> None:
    import threading

    server = HostileServer(where)
    try:
        target = url_target(server.url, body="needle" if where == "body" else None)
        before = threading.active_count()
        worst = 0.0
        for _ in range(10):
            results, took = elapsed(lambda: probe_all({"t": (target, 0.5)}, grace_seconds=0.5))
            worst = max(worst, took)
            assert not results["t"].ok and "timeout" in results["t"].detail
        # The cut sockets end their probe threads: none accumulates across rounds.
        wait_s = 0.0
        while threading.active_count() > before + 2 and wait_s < 10:
            threading.Event().wait(0.1)
            wait_s += 0.1
        assert threading.active_count() <= before + 2, threading.enumerate()
        assert worst < 10, worst  # bounded, not hung (speed itself is bench/'s business)
    finally:
        server.close()

def test_runtime_probe_all_builds_the_https_opener_once_for_a_cold_round(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # A cold start: no opener yet. Building one is made slow (as loading the CA store is since
    # Python 3.12), so probe threads that each built their own would be caught here.
    import time
    import urllib.request

    from lambdafail.runtime import probes

    monkeypatch.setattr(probes, "_opener_built", None)
    built: list[int] = []
    real = urllib.request.build_opener

    def slow_build(*handlers: Any) -> Any:
        built.append(1)
        time.sleep(0.05)
        return real(*handlers)

    monkeypatch.setattr(urllib.request, "build_opener", slow_build)
    with http_server(Behaviour(200, b"ok")) as url:
        targets: dict[Hashable, tuple[Mapping[str, Any], float]] = {
            i: (url_target(f"{url}?{i}"), 5.0) for i in range(16)}
        results = probe_all(targets)
        again = probe_all(targets)
    assert all(r.ok for r in [*results.values(), *again.values()])
    assert built == [1]
