"""Helpers for the runtime (orchestrator) tests: compiled configs, a fake clock, loopback HTTP
servers, a scripted prober, and a moto environment with the state table and router resources.

Rule: everything here drives the real runtime code; the only stand-ins are the clock and (where
the test is about decisions, not HTTP) the probe outcomes.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Hashable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3

from lambdafail.model.topology import Topology, compiled_document
from lambdafail.runtime.config import Clients, LoadedConfig
from lambdafail.runtime.handler import Orchestrator
from lambdafail.runtime.log import Logger
from lambdafail.runtime.probes import ProbeResult
from lambdafail.runtime.state import StateStore, table_definition

REGION = "us-east-1"
T0 = 1_700_000_000.0
RULE = "lambdafail-shop-tick-60s"


class FakeClock:
    def __init__(self, start: float = T0) -> None:
        self.now = start
        self.lock = threading.Lock()

    def __call__(self) -> float:
        with self.lock:
            return self.now

    def advance(self, seconds: float) -> None:
        with self.lock:
            self.now += seconds


def _target_input(cfg: dict[str, Any]) -> dict[str, Any]:
    if cfg["kind"] == "lambda":
        return {"lambda": cfg["function"]}
    return {"url": cfg["url"], "expect_status": cfg.get("expect_status", 200),
            "body_contains": cfg.get("body_contains")}


def _router_input(cfg: dict[str, Any]) -> dict[str, Any]:
    kind = cfg["kind"]
    if kind == "ssm":
        return {"ssm_parameter": cfg["parameter"], "values": cfg.get("values")}
    if kind == "route53":
        return {"route53": {k: cfg[k] for k in ("zone_id", "record", "type", "ttl")}
                | dict(cfg["values"])}
    if kind == "rules":
        return {"rules": {"bus": cfg.get("bus", "default"), **cfg["rules"]}}
    return {"hook": cfg["function"]}


def _signal_input(cfg: dict[str, Any]) -> dict[str, Any]:
    if cfg["kind"] == "alarm":
        return {"alarm": cfg["alarm_name"], "mode": cfg["mode"]}
    return {"event": cfg["pattern"], "mode": cfg["mode"]}


def service_cfg(*, failure_threshold: int = 3, recovery_threshold: int = 3,
                cooldown: int = 300, failback: str = "manual", probes_per_tick: int = 1,
                timeout: float = 1.0, primary: dict[str, Any] | None = None,
                standby: dict[str, Any] | None = None, signals: list[dict[str, Any]] | None = None,
                router: dict[str, Any] | None = None, name: str = "checkout",
                recovery: dict[str, Any] | None = None) -> dict[str, Any]:
    """One service as `compile_topology()` compiles it (topology `shop`): the runtime tests see
    what the compiler really produces, so a compiler change shows in them. Targets, router and
    signals are given in their compiled shape and fed back through the model."""
    primary = primary or {"kind": "url", "url": "http://127.0.0.1:9/primary"}
    standby = standby or {"kind": "url", "url": "http://127.0.0.1:9/standby"}
    router = router or {"kind": "ssm", "parameter": f"/shop/{name}/active",
                        "values": {"primary": "P", "standby": "S"}}
    topo = Topology.model_validate({"name": "shop", "region": REGION, "services": {name: {
        "primary": _target_input(primary), "standby": _target_input(standby),
        "signals": [_signal_input(s) for s in signals or []],
        "router": _router_input(router),
        "health": {"timeout_seconds": timeout, "failure_threshold": failure_threshold,
                   "recovery_threshold": recovery_threshold, "probes_per_tick": probes_per_tick},
        "policy": {"cooldown_seconds": cooldown, "failback": failback}}}})
    svc: dict[str, Any] = compiled_document(topo)["services"][name]
    if recovery is not None:  # given in its compiled shape (runtime/recovery.py reads it)
        svc["recovery"] = recovery
    return svc  # a signal's `rule` is the compiler's name, whatever the test wrote


def compiled(services: dict[str, dict[str, Any]], *, sns_topic_arn: str | None = None,
             table: str = "lambdafail-shop-state") -> dict[str, Any]:
    """The compiled document of topology `shop` holding `services` (each from service_cfg)."""
    doc = compiled_document(Topology.model_validate({"name": "shop", "region": REGION,
                                                     "services": {"x": {
        "primary": {"url": "http://127.0.0.1:9/p"}, "standby": {"url": "http://127.0.0.1:9/s"},
        "router": {"ssm_parameter": "/x"}}}}))
    assert list(doc["schedules"]) == [RULE]
    doc["schedules"][RULE]["services"] = sorted(services)
    return doc | {"table": table, "sns_topic_arn": sns_topic_arn, "services": services}


def loaded(data: dict[str, Any]) -> LoadedConfig:
    return LoadedConfig(data=data, sha256="0" * 64, path="<test>")


@dataclass
class ScriptedProber:
    """Probe outcomes set by the test: health[(service, side)] = True/False. Counts calls."""

    health: dict[tuple[str, str], bool] = field(default_factory=dict)
    calls: list[Hashable] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def set(self, service: str, primary: bool | None = None, standby: bool | None = None) -> None:
        if primary is not None:
            self.health[(service, "primary")] = primary
        if standby is not None:
            self.health[(service, "standby")] = standby

    def __call__(self, targets: Mapping[Hashable, tuple[Mapping[str, Any], float]]
                 ) -> dict[Hashable, ProbeResult]:
        out: dict[Hashable, ProbeResult] = {}
        for key in targets:
            with self.lock:
                self.calls.append(key)
            ok = self.health.get(key, True)  # type: ignore[call-overload]
            out[key] = ProbeResult(ok=ok, latency_ms=1.0, detail="up" if ok else "down")
        return out


class CountingSsm:
    """Wraps the moto SSM client to count router writes (and optionally fail them)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.puts: list[str] = []
        self.fail_puts = 0
        self.lock = threading.Lock()

    def put_parameter(self, **kwargs: Any) -> Any:
        with self.lock:
            if self.fail_puts > 0:
                self.fail_puts -= 1
                raise RuntimeError("injected router failure")
            self.puts.append(kwargs["Value"])
        return self.inner.put_parameter(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


_DDB_LOCK = threading.RLock()


def serialize_dynamodb(client: Any) -> None:
    """Make moto's in-process DynamoDB apply one request at a time, as DynamoDB does.

    moto checks a condition and then writes without a lock, so two threads can both pass the
    same condition — something real DynamoDB never allows. Tests that race threads against
    conditional writes need the real atomicity; they get it from one lock (shared: two
    operators' clients race each other too) held around each whole API call. It is taken and
    released in one `with`, so an event handler that raises (a test simulating a lost reply)
    can never leave it held.
    """
    inner = client._make_api_call

    def call(operation_name: str, api_params: Any) -> Any:
        with _DDB_LOCK:
            return inner(operation_name, api_params)

    client._make_api_call = call


def run_concurrently(targets: list[Callable[[], None]], timeout: float = 60.0) -> None:
    """Start each target on a daemon thread and wait for all, failing (never hanging) on a
    thread still running at the deadline."""
    threads = [threading.Thread(target=t, daemon=True, name=f"race-{i}")
               for i, t in enumerate(targets)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(timeout=max(0.0, deadline - time.monotonic()))
    stuck = [t.name for t in threads if t.is_alive()]
    assert not stuck, f"{len(stuck)} thread(s) still running after {timeout:.0f} s: {stuck[:5]}"


DDB_WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems",
                        "BatchWriteItem"})


def record_calls(client: Any, calls: list[str]) -> None:
    """Append the name of every API call `client` makes to `calls` (counts, not time)."""
    client.meta.events.register("before-call", lambda model, **_: calls.append(model.name))


@dataclass
class Env:
    config: LoadedConfig
    clock: FakeClock
    prober: ScriptedProber
    logger: Logger
    store: StateStore
    ssm: CountingSsm
    clients: Clients
    sleeps: list[float]

    def orchestrator(self, **kw: Any) -> Orchestrator:
        def sleep(seconds: float) -> None:
            self.sleeps.append(seconds)
            self.clock.advance(seconds)

        kw.setdefault("prober", self.prober)
        return Orchestrator(self.config, self.clients, store=self.store, clock=self.clock,
                            sleep=sleep, logger=self.logger, **kw)

    def tick(self, orch: Orchestrator | None = None, advance: float = 60.0) -> dict[str, Any]:
        result = (orch or self.orchestrator()).handle({"lambdafail": "tick", "rule": RULE})
        self.clock.advance(advance)
        return result

    def active(self, service: str = "checkout") -> str:
        st = self.store.get(service)
        assert st is not None
        return st.active

    def param(self, service: str = "checkout") -> str:
        value: str = self.ssm.inner.get_parameter(Name=f"/shop/{service}/active")["Parameter"][
            "Value"]
        return value


def make_env(data: dict[str, Any], *, extra_clients: dict[str, Any] | None = None,
             ddb: Any = None, ssm_client: Any = None) -> Env:
    """Inside an active moto mock: state table, SSM parameters, clients wired up.

    Pass `ddb` (already serialized) and `ssm_client` to reuse clients across many envs.
    """
    if ddb is None:
        ddb = boto3.client("dynamodb", region_name=REGION)
        serialize_dynamodb(ddb)
    ddb.create_table(**table_definition(data["table"]))
    ssm = CountingSsm(ssm_client or boto3.client("ssm", region_name=REGION))
    for svc in data["services"].values():
        r = svc["router"]
        if r["kind"] == "ssm":
            ssm.inner.put_parameter(Name=r["parameter"], Value=r["values"]["primary"],
                                    Type="String", Overwrite=True)
    clock = FakeClock()
    clients = Clients(region=REGION, overrides={"dynamodb": ddb, "ssm": ssm,
                                                **(extra_clients or {})})
    store = StateStore(data["table"], ddb)
    for name in data["services"]:
        store.seed(name, clock())
    return Env(config=loaded(data), clock=clock, prober=ScriptedProber(),
               logger=Logger(sink=lambda _line: None, keep=True), store=store, ssm=ssm,
               clients=clients, sleeps=[])


# --- loopback HTTP servers ---------------------------------------------------------------------

@dataclass
class Behaviour:
    status: int = 200
    body: bytes = b"ok"
    delay: float = 0.0


@contextmanager
def http_server(behaviour: Behaviour) -> Iterator[str]:
    """A real HTTP server on 127.0.0.1:<free port>; `behaviour` may be changed while it runs."""
    release = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if behaviour.delay:
                release.wait(behaviour.delay)  # returns early when the test is over
            self.send_response(behaviour.status)
            self.send_header("Content-Length", str(len(behaviour.body)))
            self.end_headers()
            with suppress(OSError):  # the client may have given up (timeout tests)
                self.wfile.write(behaviour.body)

        def log_message(self, *args: Any) -> None:
            pass

    class Server(ThreadingHTTPServer):
        request_queue_size = 1024  # hundreds of concurrent probes (the default backlog is 5)

    server = Server(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/healthz"
    finally:
        release.set()
        server.shutdown()
        server.server_close()


class HostileServer:
    """A loopback HTTP target that never answers properly: it trickles its status line and
    headers a byte every 0.2 s (`mode="headers"`), sends headers then trickles a long body
    (`"body"`), or accepts and stays silent (`"silent"`)."""

    def __init__(self, mode: str) -> None:
        import socket

        self.mode = mode
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(256)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/healthz"
        self.stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: Any) -> None:
        try:
            conn.recv(65536)
            if self.mode == "silent":
                self.stop.wait(3600)
                return
            data = b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n"
            if self.mode == "body":
                conn.sendall(data)
                data = b"x" * 1000000
            for byte in data:
                if self.stop.wait(0.2):
                    return
                conn.sendall(bytes([byte]))
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self.stop.set()
        self.sock.close()


def closed_port_url() -> str:
    """A loopback URL nobody listens on (connection refused)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/healthz"


def write_config(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(json.dumps(data))
    return path


def elapsed(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.monotonic()
    out = fn()
    return out, time.monotonic() - start
