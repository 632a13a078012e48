"""Health probes: HTTP(S) GET with expected status (and body substring), or a Lambda ping invoke.

Rules: a probe never raises — it returns a ProbeResult; probes run concurrently, so a tick
takes about as long as its slowest probe (bounded by the timeout), not the sum; stdlib + boto3.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lambdafail.runtime.secrets import HeaderResolver, SecretUnreadable

if TYPE_CHECKING:
    from concurrent.futures import Future

BODY_LIMIT = 64 * 1024
USER_AGENT = "lambdafail-probe/1"
PING_PAYLOAD = {"lambdafail": "ping", "probe": True}


@dataclass(frozen=True)
class ProbeResult:
    ok: bool
    latency_ms: float
    detail: str
    target: str = ""
    # False: the probe never ran (its round ran out of time first). That is no evidence about
    # the target, so the side keeps its previous verdict (`decisions.record_probe`).
    probed: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "latency_ms": round(self.latency_ms, 1), "detail": self.detail,
                "target": self.target}


def target_label(target_cfg: Mapping[str, Any]) -> str:
    return str(target_cfg.get("url") if target_cfg.get("kind") == "url"
               else f"lambda:{target_cfg.get('function')}")


_opener_lock = threading.Lock()
_opener_built: Any = None


def _opener() -> Any:
    """The shared HTTP(S) opener, built once under a lock.

    Since Python 3.12 building an HTTPSHandler creates its SSL context, which loads the CA
    store (tens of ms of CPU): unlocked, every probe thread of a cold start's first round
    built its own at once, serialised on the GIL (about a second; several at Lambda's CPU
    share). `probe_all` builds it before a round's threads start.
    """
    global _opener_built
    if _opener_built is not None:
        return _opener_built
    with _opener_lock:
        if _opener_built is None:
            # urllib.request (with http.client and email) is imported on the first HTTP
            # probe, not at import time: an event-only invocation never pays for it.
            import urllib.request

            class _NoRedirect(urllib.request.HTTPRedirectHandler):
                # A health endpoint that redirects is reported with its own status:
                # following a redirect to a login page would turn "302" into a
                # misleading "200".
                def redirect_request(self, *args: Any, **kwargs: Any) -> None:
                    return None

            _opener_built = urllib.request.build_opener(_NoRedirect, *_watched_handlers())
        return _opener_built


class _Watch:
    """One probe's socket, so the round can cut it at the probe's deadline.

    urllib's timeout bounds each socket operation, not the request: a target that trickles
    its headers or body one byte at a time keeps a probe (and its thread) alive far past the
    timeout. Shutting the socket down wakes the blocked read at once. Name resolution cannot
    be cut this way; the round stops waiting for it at the deadline all the same.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sock: Any = None
        self._cut = False

    def attach(self, sock: Any) -> None:
        with self._lock:
            self._sock = sock
            cut = self._cut
        if cut:
            _shutdown(sock)

    @property
    def was_cut(self) -> bool:
        return self._cut

    def cut(self) -> None:
        with self._lock:
            self._cut = True
            sock = self._sock
        if sock is not None:
            _shutdown(sock)


def _shutdown(sock: Any) -> None:
    import socket

    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


_current = threading.local()  # the _Watch of the probe running on this thread, if any


def _attach(sock: Any) -> None:
    watch = getattr(_current, "watch", None)
    if watch is not None:
        watch.attach(sock)


def _watched_handlers() -> tuple[Any, ...]:
    """urllib handlers whose connections register their socket with the running probe."""
    import http.client
    import urllib.request

    class _Plain(http.client.HTTPConnection):
        def connect(self) -> None:
            super().connect()
            _attach(self.sock)

    class _Tls(http.client.HTTPSConnection, _Plain):
        # MRO: HTTPSConnection.connect -> _Plain.connect (attaches the TCP socket, so a
        # trickled TLS handshake is cut too) -> wrap; then the TLS socket replaces it.
        def connect(self) -> None:
            super().connect()
            _attach(self.sock)

    # do_open, not http(s)_open: the latter's arguments differ between Python 3.11 and 3.12.
    class _HttpHandler(urllib.request.HTTPHandler):
        def do_open(self, http_class: Any, req: Any, **kw: Any) -> Any:
            return super().do_open(_Plain, req, **kw)

    class _HttpsHandler(urllib.request.HTTPSHandler):
        def do_open(self, http_class: Any, req: Any, **kw: Any) -> Any:
            return super().do_open(_Tls, req, **kw)

    return _HttpHandler, _HttpsHandler


def _probe_http(cfg: Mapping[str, Any], timeout: float,
                headers: Mapping[str, str] | None = None) -> tuple[bool, str]:
    import urllib.error
    import urllib.request

    url = str(cfg["url"])
    expect = int(cfg.get("expect_status") or 200)
    needle = cfg.get("body_contains")
    # Resolved header values (runtime/secrets.py) go into the request and nowhere else.
    req = urllib.request.Request(url, method="GET",
                                 headers={**(headers or {}), "User-Agent": USER_AGENT})
    try:
        with _opener().open(req, timeout=timeout) as resp:
            status = int(resp.status)
            body = resp.read(BODY_LIMIT) if needle else b""
    except urllib.error.HTTPError as e:
        status = int(e.code)
        try:
            body = e.read(BODY_LIMIT) if needle else b""
        except OSError:
            body = b""
        e.close()
    except (TimeoutError, urllib.error.URLError, OSError, ValueError) as e:
        reason = getattr(e, "reason", e)
        if isinstance(reason, TimeoutError) or "timed out" in str(reason):
            return False, f"timeout after {timeout:g}s"
        return False, f"connection failed: {reason}"
    if status != expect:
        return False, f"HTTP {status} (expected {expect})"
    if needle and str(needle).encode() not in body:
        return False, f"HTTP {status} but body lacks {needle!r}"
    return True, f"HTTP {status}"


def _probe_lambda(cfg: Mapping[str, Any], lambda_client: Any) -> tuple[bool, str]:
    try:
        resp = lambda_client.invoke(FunctionName=str(cfg["function"]),
                                    InvocationType="RequestResponse",
                                    Payload=json.dumps(PING_PAYLOAD).encode())
    except Exception as e:
        code = (getattr(e, "response", None) or {}).get("Error", {}).get("Code", type(e).__name__)
        return False, f"invoke failed: {code}: {e}"[:500]
    if resp.get("FunctionError"):
        payload = resp.get("Payload")
        text = payload.read(2000).decode("utf-8", "replace") if payload is not None else ""
        return False, f"FunctionError {resp['FunctionError']}: {text}"[:500]
    status = int(resp.get("StatusCode", 200))
    if status >= 300:
        return False, f"invoke status {status}"
    return True, f"invoke {status}"


def probe_target(target_cfg: Mapping[str, Any], timeout: float,
                 lambda_client: Any = None,
                 headers: Mapping[str, str] | None = None) -> ProbeResult:
    """Probe one target once. `lambda_client` is needed only for Lambda targets; `headers`
    are the target's resolved request headers."""
    start = time.monotonic()
    label = target_label(target_cfg)
    try:
        if target_cfg.get("kind") == "lambda":
            if lambda_client is None:
                ok, detail = False, "no Lambda client to probe with"
            else:
                ok, detail = _probe_lambda(target_cfg, lambda_client)
        else:
            ok, detail = _probe_http(target_cfg, timeout, headers)
    except Exception as e:  # a probe reports; it never takes the tick down
        ok, detail = False, f"probe error: {type(e).__name__}: {e}"[:500]
    latency = (time.monotonic() - start) * 1000
    if ok and latency > timeout * 1000:
        ok, detail = False, f"timeout after {timeout:g}s ({detail})"
    return ProbeResult(ok=ok, latency_ms=latency, detail=detail, target=label)


def probe_all(targets: Mapping[Hashable, tuple[Mapping[str, Any], float]],
              lambda_client: Any = None, max_workers: int = 128,
              grace_seconds: float = 1.0,
              resolver: HeaderResolver | None = None) -> dict[Hashable, ProbeResult]:
    """Probe every target concurrently: key -> (target_cfg, timeout) gives key -> result.

    Each probe's budget counts from when it is *sent*: its timeout plus `grace_seconds` of
    wall time, even if a socket read trickles or an invoke hangs (the socket is cut, a late
    invoke abandoned). With more targets than workers, probes wait their turn and the round
    lasts as many budgets as there are waves; a probe that could not start before the round's
    end is reported `probed=False` — never as a failure of its target. Targets with
    `headers` get them from `resolver` (read for the whole round at once, before it starts); a
    header that cannot be read means the probe is not sent: `probed=False`, with the reason.
    """
    if not targets:
        return {}
    import math
    from concurrent.futures import ThreadPoolExecutor
    from concurrent.futures import TimeoutError as FutureTimeout

    if any(cfg.get("kind") != "lambda" for cfg, _ in targets.values()):
        _opener()  # once, here, not by every probe thread at the same moment
    if any(cfg.get("headers") for cfg, _ in targets.values()):
        resolver = resolver or default_resolver()
        resolver.prefetch(cfg for cfg, _ in targets.values())
    workers = min(max_workers, len(targets))
    longest = max(timeout for _, timeout in targets.values())
    start = time.monotonic()
    round_end = start + math.ceil(len(targets) / workers) * (longest + grace_seconds)
    started: dict[Hashable, float] = {}
    watches = {key: _Watch() for key in targets}

    def run(key: Hashable, cfg: Mapping[str, Any], timeout: float) -> ProbeResult | None:
        if time.monotonic() >= round_end:
            return None  # too late to be of use: not probed
        headers: dict[str, str] = {}
        if cfg.get("headers") and resolver is not None:
            try:
                headers = resolver.headers(cfg)
            except SecretUnreadable as e:
                # Not the target's failure: nothing was sent (no evidence either way).
                return ProbeResult(ok=False, latency_ms=0.0, detail=str(e)[:500],
                                   target=target_label(cfg), probed=False)
        started[key] = time.monotonic()
        _current.watch = watches[key]
        try:
            result = probe_target(cfg, timeout, lambda_client, headers)
        finally:
            _current.watch = None
        if watches[key].was_cut:
            # What the probe saw after its socket was cut (a broken status line, a short
            # body) is not the target's answer: the truth is that it ran out of time.
            return ProbeResult(ok=False, latency_ms=result.latency_ms, target=result.target,
                               detail=f"timeout after {timeout:g}s")
        return result

    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="probe")
    futures: dict[Hashable, Future[ProbeResult | None]] = {
        key: pool.submit(run, key, cfg, timeout) for key, (cfg, timeout) in targets.items()}
    results: dict[Hashable, ProbeResult] = {}
    try:
        for key, fut in futures.items():
            cfg, timeout = targets[key]
            result: ProbeResult | None = None
            while True:
                sent = started.get(key)
                limit = sent + timeout if sent is not None else round_end
                try:
                    result = fut.result(timeout=max(limit - time.monotonic(), 0.0))
                    break
                except FutureTimeout:
                    if sent is None and key in started:
                        continue  # it was sent meanwhile: wait for its own budget
                    break
            if result is None and key in started:
                # At its timeout: cut the socket (wakes a trickled read) and give the probe
                # `grace_seconds` to report; a hung invoke or name lookup is abandoned.
                watches[key].cut()
                with contextlib.suppress(FutureTimeout):
                    result = fut.result(timeout=grace_seconds)
            if result is None and key in started:
                result = ProbeResult(ok=False, latency_ms=(time.monotonic() - started[key]) * 1000,
                                     detail=f"timeout after {timeout:g}s",
                                     target=target_label(cfg))
            elif result is None:
                fut.cancel()
                result = ProbeResult(ok=False, latency_ms=0.0, target=target_label(cfg),
                                     detail="not probed: the round ran out of time",
                                     probed=False)
            results[key] = result
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    return results


_default: HeaderResolver | None = None


def default_resolver() -> HeaderResolver:
    """This process's resolver with its own boto3 clients (the orchestrator's role, or the
    ambient credentials): one cache per Lambda container."""
    global _default
    if _default is None:
        from lambdafail.runtime.config import Clients

        clients = Clients()
        _default = HeaderResolver(clients.get)
    return _default
