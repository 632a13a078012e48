"""Health probes: HTTP(S) GET with expected status (and body substring), or a Lambda ping invoke.

Rules: a probe never raises — it returns a ProbeResult; probes run concurrently, so a tick
takes about as long as its slowest probe (bounded by the timeout), not the sum; stdlib + boto3.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

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

            _opener_built = urllib.request.build_opener(_NoRedirect)
        return _opener_built


def _probe_http(cfg: Mapping[str, Any], timeout: float) -> tuple[bool, str]:
    import urllib.error
    import urllib.request

    url = str(cfg["url"])
    expect = int(cfg.get("expect_status") or 200)
    needle = cfg.get("body_contains")
    req = urllib.request.Request(url, method="GET", headers={"User-Agent": USER_AGENT})
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
                 lambda_client: Any = None) -> ProbeResult:
    """Probe one target once. `lambda_client` is needed only for Lambda targets."""
    start = time.monotonic()
    label = target_label(target_cfg)
    try:
        if target_cfg.get("kind") == "lambda":
            if lambda_client is None:
                ok, detail = False, "no Lambda client to probe with"
            else:
                ok, detail = _probe_lambda(target_cfg, lambda_client)
        else:
            ok, detail = _probe_http(target_cfg, timeout)
    except Exception as e:  # a probe reports; it never takes the tick down
        ok, detail = False, f"probe error: {type(e).__name__}: {e}"[:500]
    latency = (time.monotonic() - start) * 1000
    if ok and latency > timeout * 1000:
        ok, detail = False, f"timeout after {timeout:g}s ({detail})"
    return ProbeResult(ok=ok, latency_ms=latency, detail=detail, target=label)


def probe_all(targets: Mapping[Hashable, tuple[Mapping[str, Any], float]],
              lambda_client: Any = None, max_workers: int = 32,
              grace_seconds: float = 1.0) -> dict[Hashable, ProbeResult]:
    """Probe every target concurrently: key -> (target_cfg, timeout) gives key -> result.

    Each probe is bounded by its timeout plus `grace_seconds` of wall time, even if a socket
    read or an invoke hangs (urllib's timeout is per socket operation, not per request, and a
    Lambda invoke waits for the function): a late probe is reported as a timeout and its worker
    thread is abandoned, not waited for.
    """
    if not targets:
        return {}
    from concurrent.futures import ThreadPoolExecutor

    if any(cfg.get("kind") != "lambda" for cfg, _ in targets.values()):
        _opener()  # once, here, not by every probe thread at the same moment
    pool = ThreadPoolExecutor(max_workers=min(max_workers, len(targets)),
                              thread_name_prefix="probe")
    start = time.monotonic()
    futures: dict[Hashable, Future[ProbeResult]] = {
        key: pool.submit(probe_target, cfg, timeout, lambda_client)
        for key, (cfg, timeout) in targets.items()}
    results: dict[Hashable, ProbeResult] = {}
    try:
        for key, fut in futures.items():
            cfg, timeout = targets[key]
            remaining = start + timeout + grace_seconds - time.monotonic()
            try:
                results[key] = fut.result(timeout=max(remaining, 0.0))
            except Exception:
                fut.cancel()
                results[key] = ProbeResult(ok=False, latency_ms=(time.monotonic() - start) * 1000,
                                           detail=f"timeout after {timeout:g}s",
                                           target=target_label(cfg))
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    return results
