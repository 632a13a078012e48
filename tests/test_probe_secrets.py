"""Probe headers from Secrets Manager and SSM SecureString: a loopback server that answers 200
only with the right header, the real secrets in the moto server, the orchestrator's real
handler ticking in this process, and the real CLI (`validate`, `failover`, `status --probe`,
`history`) in subprocesses. Every artefact — the deployment zip, every item of the state
table, the orchestrator's log lines, history and status JSON — is scanned for the values."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest

from conftest import run_cli

SECRET = f"s3cr3t-{uuid.uuid4().hex}"  # Secrets Manager value (the primary's Authorization)
SSM_VALUE = f"k3y-{uuid.uuid4().hex}"  # SSM SecureString value (the standby's X-Api-Key)


class _Guarded(BaseHTTPRequestHandler):
    want: tuple[str, str] = ("", "")

    def do_GET(self) -> None:
        name, value = self.want
        ok = self.headers.get(name) == value
        body = b"ok" if ok else b"missing credentials"
        self.send_response(200 if ok else 401)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def _server(name: str, value: str) -> tuple[ThreadingHTTPServer, str]:
    handler = type("H", (_Guarded,), {"want": (name, value)})
    srv = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, f"http://127.0.0.1:{srv.server_address[1]}/health"


class SecretEnv:
    def __init__(self, tmp: Path, endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
        self.endpoint = endpoint
        self.name = f"sec{uuid.uuid4().hex[:8]}"
        sm = self.client("secretsmanager")
        self.secret_arn = sm.create_secret(Name=f"{self.name}/probe",
                                           SecretString=SECRET)["ARN"]
        self.param = f"/{self.name}/probe-key"
        self.client("ssm").put_parameter(Name=self.param, Type="SecureString", Value=SSM_VALUE)
        self.servers = [_server("Authorization", f"Bearer {SECRET}"),
                        _server("X-Api-Key", SSM_VALUE)]
        self.file = tmp / "lambdafail.yaml"
        self.file.write_text(f"""
version: 1
name: {self.name}
region: us-east-1
defaults:
  health: {{interval: rate(1 minute), timeout_seconds: 3, failure_threshold: 2}}
  policy: {{cooldown_seconds: 0}}
services:
  checkout:
    primary:
      url: "{self.servers[0][1]}"
      headers:
        Authorization: {{secret: "{self.secret_arn}", prefix: "Bearer "}}
        X-Probe: lambdafail
    standby:
      url: "{self.servers[1][1]}"
      headers:
        X-Api-Key: {{ssm: {self.param}}}
    router: {{ssm_parameter: /{self.name}/checkout/active}}
""")
        from lambdafail.model.loader import load
        from lambdafail.model.topology import compile_topology

        self.compiled: dict[str, Any] = compile_topology(load(str(self.file)))
        cfg = tmp / "lambdafail_config.json"
        cfg.write_text(json.dumps(self.compiled))
        monkeypatch.setenv("LAMBDAFAIL_CONFIG_PATH", str(cfg))
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
        from lambdafail.runtime.state import StateStore, table_definition

        self.client("dynamodb").create_table(**table_definition(self.compiled["table"]))
        self.store = StateStore(self.compiled["table"], self.client("dynamodb"))
        router = self.compiled["services"]["checkout"]["router"]
        self.client("ssm").put_parameter(Name=router["parameter"], Type="String",
                                         Value=router["values"]["primary"])
        self.logs: list[str] = []
        from lambdafail.runtime import handler
        from lambdafail.runtime.config import load_config
        from lambdafail.runtime.log import Logger

        handler.reset()
        self.orch = handler.Orchestrator(load_config(), logger=Logger(sink=self.logs.append))
        self.rule = next(iter(self.compiled["schedules"]))

    def client(self, service: str) -> Any:
        return boto3.client(service, region_name="us-east-1", endpoint_url=self.endpoint)

    def tick(self) -> dict[str, Any]:
        return self.orch.handle({"lambdafail": "tick", "rule": self.rule}, None)

    def cli(self, *args: str) -> Any:
        return run_cli(*args[:1], "-f", str(self.file), *args[1:],
                       env={"AWS_ENDPOINT_URL": self.endpoint})

    def table_items(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        for page in self.client("dynamodb").get_paginator("scan").paginate(
                TableName=self.compiled["table"]):
            items.extend(page["Items"])
        return items

    def stop(self) -> None:
        for srv, _ in self.servers:
            srv.shutdown()
            srv.server_close()
        from lambdafail.runtime import handler

        handler.reset()


@pytest.fixture
def senv(moto_server: str, tmp_path: Path,
         monkeypatch: pytest.MonkeyPatch) -> Iterator[SecretEnv]:
    env = SecretEnv(tmp_path, moto_server, monkeypatch)
    try:
        yield env
    finally:
        env.stop()


def _no_secret_in(where: str, text: str | bytes) -> None:
    data = text if isinstance(text, bytes) else text.encode()
    for value in (SECRET, SSM_VALUE):
        assert value.encode() not in data, f"a secret value is in {where}"


def test_probe_headers_from_secrets_manager_and_ssm_probe_healthy_and_never_leak(
        senv: SecretEnv) -> None:
    from lambdafail.deploy import iam, package
    from lambdafail.model.arns import Where

    for _ in range(3):
        senv.tick()
    st = senv.store.get("checkout")
    # The servers answer 401 without the header: healthy means both values were resolved.
    assert st is not None and st.health["primary"].ok and st.health["standby"].ok, st.health
    # One batched call per store for the whole round, then the cache (TTL) answers.
    assert senv.orch._resolver is not None and senv.orch._resolver.calls == 2

    # The CLI resolves them too, with the operator's credentials: the failover's health check
    # of the standby (X-Api-Key from SSM) and status --probe of both sides.
    r = senv.cli("failover", "checkout", "--reason", "secret headers test", "--yes")
    assert r.returncode == 0, r.stderr
    assert senv.store.get("checkout").active == "standby"  # type: ignore[union-attr]
    status = senv.cli("status", "--probe", "-o", "json")
    doc = json.loads(status.stdout)
    text = json.dumps(doc)
    # "HTTP 401" (not a bare 401: the servers' random ports may contain those digits).
    assert '"HTTP 200"' in text and "HTTP 401" not in text, text
    history = senv.cli("history", "checkout", "--kind", "all", "-o", "json")
    assert history.returncode == 0, history.stderr
    senv.tick()

    # The scan: nowhere in clear.
    zip_bytes = package.build(senv.compiled).zip_bytes
    assert senv.secret_arn.encode() in zip_bytes  # the reference is there, the value is not
    _no_secret_in("the deployment zip", zip_bytes)
    _no_secret_in("the compiled topology", json.dumps(senv.compiled))
    _no_secret_in("the state table", json.dumps(senv.table_items()))
    _no_secret_in("the orchestrator's log", "\n".join(senv.logs))
    for name, out in (("failover", r), ("status", status), ("history", history)):
        _no_secret_in(f"{name}'s output", out.stdout + out.stderr)
    # IAM: exactly the named secret and parameter.
    policy = iam.orchestrator_policy(senv.compiled, Where("aws", "us-east-1", "123456789012"))
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    assert by_sid["ProbeSecrets"]["Resource"] == senv.secret_arn
    assert by_sid["ProbeSecrets"]["Action"] == ["secretsmanager:GetSecretValue"]
    assert by_sid["ProbeParameters"]["Resource"] == (
        f"arn:aws:ssm:us-east-1:123456789012:parameter{senv.param}")
    # The operators whose CLI probes resolve them get the same; deploy never reads them.
    from lambdafail.deploy import permissions

    docs = permissions.all_policies(senv.compiled, Where("aws", "us-east-1", "123456789012"))
    for role in ("oncall", "drill"):
        sids = {s["Sid"]: s for s in docs[role]["Statement"]}
        assert sids["ProbeSecrets"]["Resource"] == senv.secret_arn, role
        assert sids["ProbeParameters"]["Action"] == ["ssm:GetParameters"], role
    assert not permissions.allows(docs["deploy"], "secretsmanager:GetSecretValue")


def test_an_unreadable_secret_is_a_clear_probe_error_and_never_a_failover(
        senv: SecretEnv) -> None:
    for _ in range(2):
        senv.tick()
    assert senv.store.get("checkout").health["primary"].ok  # type: ignore[union-attr]
    # The secret goes away (deleted, or the role loses access): the primary itself is fine.
    senv.client("secretsmanager").delete_secret(SecretId=senv.secret_arn,
                                                ForceDeleteWithoutRecovery=True)
    from lambdafail.runtime import secrets

    senv.orch._resolver = secrets.HeaderResolver(senv.orch.clients.get)  # a fresh container
    for _ in range(5):  # well past failure_threshold (2)
        senv.tick()
    st = senv.store.get("checkout")
    assert st is not None and st.active == "primary" and st.phase == "steady"
    assert st.health["primary"].ok and st.health["primary"].failures == 0
    errors = [json.loads(line) for line in senv.logs if "not readable" in line]
    assert errors, senv.logs
    assert errors[0]["level"] == "ERROR"
    assert errors[0]["detail"].startswith(
        f"header Authorization: secret {senv.secret_arn} not readable: ResourceNotFound")
    assert len(errors) == 1  # logged when it starts, not every tick
    status = senv.cli("status", "--probe", "-o", "json")
    assert f"header Authorization: secret {senv.secret_arn} not readable" in status.stdout
    # A manual failback to a primary whose header cannot be read is refused with the reason.
    r = senv.cli("failover", "checkout", "--reason", "test", "--yes")
    assert r.returncode == 0, r.stderr
    back = senv.cli("rollback", "checkout", "--reason", "test", "--yes")
    assert back.returncode != 0 and "not readable" in back.stdout + back.stderr


@pytest.mark.parametrize("headers, error", [
    ('{Authorization: "Bearer abc"}', "looks like a credential"),
    ('{X-Api-Key: {ssm: not-a-path}}', "not an SSM parameter name"),
    ('{Authorization: {secret: "arn:aws:secretsmanager:us-east-1:123456789012:secret:x"}}',
     "not a complete Secrets Manager secret ARN"),
    ('{Authorization: {secret: "arn:aws:secretsmanager:us-east-1:123456789012:secret:x-AbCdEf",'
     ' ssm: /a}}', "exactly one of"),
    ('{Host: example.com}', "set by the probe itself"),
])
def test_validate_refuses_a_secret_in_clear_or_a_bad_reference(
        headers: str, error: str, tmp_path: Path) -> None:
    f = tmp_path / "t.yaml"
    f.write_text(f"""
version: 1
name: shop
region: us-east-1
services:
  checkout:
    primary: {{url: "https://a.example.com/health", headers: {headers}}}
    standby: {{url: "https://b.example.com/health"}}
    router: {{ssm_parameter: /shop/checkout/active}}
""")
    r = run_cli("validate", "-f", str(f), env={"AWS_ENDPOINT_URL": ""})
    assert r.returncode == 2, r.stdout + r.stderr
    assert "lambdafail: error:" in r.stderr and error in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
    assert "Bearer abc" not in r.stderr  # a value in clear is not echoed back


def test_resolver_batches_caches_within_ttl_and_reads_again_after(
        moto_server: str) -> None:
    from lambdafail.runtime.secrets import HeaderResolver, SecretUnreadable

    sm = boto3.client("secretsmanager", region_name="us-east-1", endpoint_url=moto_server)
    arns = [sm.create_secret(Name=f"b{uuid.uuid4().hex[:8]}-{i}", SecretString=f"v{i}")["ARN"]
            for i in range(25)]
    now = [0.0]

    def client(service: str) -> Any:
        return boto3.client(service, region_name="us-east-1", endpoint_url=moto_server)

    res = HeaderResolver(client, ttl=60, clock=lambda: now[0])
    targets = [{"headers": {"Authorization": {"secret": a, "prefix": ""}}} for a in arns]
    res.prefetch(targets)
    assert res.calls == 2  # 25 secrets: BatchGetSecretValue takes 20 a call
    assert [res.headers(t)["Authorization"] for t in targets] == [f"v{i}" for i in range(25)]
    assert res.calls == 2  # cache hits
    sm.put_secret_value(SecretId=arns[0], SecretString="rotated")
    now[0] = 61.0
    assert res.headers(targets[0])["Authorization"] == "rotated"  # read again after the TTL
    missing = arns[0][:-6] + "ZZZZZZ"
    with pytest.raises(SecretUnreadable) as e:
        res.headers({"headers": {"Authorization": {"secret": missing, "prefix": ""}}})
    assert str(e.value).startswith(f"header Authorization: secret {missing} not readable: ")


@pytest.mark.slow
def test_a_drill_on_a_service_with_secret_headers_restores_and_its_reports_hold_no_secret(
        senv: SecretEnv, tmp_path: Path) -> None:
    """The real drill in a subprocess: the orchestrator (ticking here) detects the injected
    fault and fails over to the standby (probed with its SSM header); the drill's restore
    fails back through `rollback`, whose health check of the primary resolves the Secrets
    Manager header with the operator's credentials."""
    stop = threading.Event()

    def ticker() -> None:
        while not stop.is_set():
            senv.tick()
            stop.wait(0.1)

    thread = threading.Thread(target=ticker, daemon=True)
    thread.start()
    try:
        from conftest import wait_until

        wait_until(lambda: senv.store.heartbeat_item() is not None
                   and all(senv.store.get("checkout").health[s].ok  # type: ignore[union-attr]
                           for s in ("primary", "standby")), timeout=30, what="steady state")
        out = tmp_path / "reports"
        r = senv.cli("drill", "checkout", "--yes", "--timeout", "30", "--report-dir", str(out))
        assert r.returncode == 0, r.stdout + r.stderr
    finally:
        stop.set()
        thread.join(timeout=10)
    st = senv.store.get("checkout")
    assert st is not None and st.active == "primary" and not st.faults and st.drill is None
    files = sorted(p for p in out.iterdir() if p.is_file())
    assert {p.name for p in files} >= {"report.json", "journal.jsonl"}
    for p in files:
        _no_secret_in(f"drill report {p.name}", p.read_bytes())
    _no_secret_in("the drill's output", r.stdout + r.stderr)
    _no_secret_in("the state table", json.dumps(senv.table_items()))
    _no_secret_in("the orchestrator's log", "\n".join(senv.logs))
