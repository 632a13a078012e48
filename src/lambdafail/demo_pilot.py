"""The demo's pilot-light act: a standby that is not running until a Lambda step starts it.

Rules: no click, no rich, no boto3 (AWS through `lambdafail.aws` on the sandbox). The step
function is a real Python zip the sandbox runs (`LAMBDAFAIL_SANDBOX_RESPONSE=run`); it asks a
loopback "starter" in the demo's process to bring the standby's web service up, so nothing is
left running once the demo closes (no detached process). The timings come from the state the
orchestrator wrote (the transition's log item: each step's start, end and duration), on the
same clock as the moment the primary was stopped.
"""

from __future__ import annotations

import io
import threading
import time
import zipfile
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from lambdafail.runtime.clock import parse_iso

if TYPE_CHECKING:
    from lambdafail.aws import AwsContext
    from lambdafail.demo_stage import Stage
    from lambdafail.sandbox.webservice import WebService

SERVICE = "pilot"
FUNCTION = "demo-start-standby"
ROUTER_PARAMETER = "/demo/pilot/active"

# The step function: one GET to the starter (idempotent there: starting twice is a no-op).
FUNCTION_SOURCE = '''\
import json
import urllib.request


def handle(event, context):
    key = event["lambdafail"]["idempotency_key"]
    with urllib.request.urlopen(event["start_url"] + "?key=" + key, timeout=5) as r:
        return {"starter": r.read().decode().strip(), "idempotency_key": key}
'''


def service_yaml(primary_url: str, standby_url: str, start_url: str) -> str:
    """The pilot service's block of the demo topology."""
    return f"""\
  {SERVICE}:                          # pilot light: the standby is off until needed
    primary: {{url: "{primary_url}"}}
    standby: {{url: "{standby_url}"}}
    router: {{ssm_parameter: {ROUTER_PARAMETER}}}
    recovery:
      failover:                      # before the router moves
        - lambda: {{function: {FUNCTION}, payload: {{start_url: "{start_url}"}},
                   timeout_seconds: 10}}
        - wait: {{healthy: 2, every_seconds: 6, timeout_seconds: 30}}
"""


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # the step function gave up waiting: its own error says so
        super().handle_error(request, client_address)


class Starter:
    """A loopback endpoint whose GET starts `standby` (what a real step function does to an
    ECS service or an Auto Scaling group). Counts the starts it was asked for."""

    def __init__(self, standby: WebService) -> None:
        self.standby = standby
        self.calls: list[str] = []
        starter = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                starter.calls.append(self.path)
                was = starter.standby.running
                starter.standby.start()  # the same port: the topology names it
                body = (b"already running" if was else b"started") + b"\n"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = _QuietServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.1}, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/start"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def create_function(ctx: AwsContext) -> str:
    """The step function in the sandbox's Lambda (before deploy: status checks it exists)."""
    from lambdafail.aws import call

    iam, lam = ctx.client("iam"), ctx.client("lambda")
    role = call(iam, "create_role", RoleName="demo-recovery-steps",
                AssumeRolePolicyDocument='{"Version": "2012-10-17", "Statement": []}')
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("start.py", FUNCTION_SOURCE)
    call(lam, "create_function", FunctionName=FUNCTION, Runtime="python3.12",
         Role=role["Role"]["Arn"], Handler="start.handle", Code={"ZipFile": buf.getvalue()},
         Timeout=10, Environment={"Variables": {"LAMBDAFAIL_SANDBOX_RESPONSE": "run"}})
    return FUNCTION


def phases(item: Mapping[str, Any], stopped_at: float) -> list[tuple[str, float]]:
    """(phase, seconds) of the failover in `item` (its log item), back to back from the
    primary's stop: detect (→ the plan's first step starts), each step (→ its end), then the
    switch (last step's end → committed); they add up to the total."""
    steps = (item.get("recovery") or {}).get("steps") or []
    committed = parse_iso(str(item["committed_at"]))
    mark = parse_iso(str(steps[0]["started_at"])) if steps else committed
    out = [("detect (primary down → plan started)", mark - stopped_at)]
    for n, s in enumerate(steps, 1):
        end = parse_iso(str(s["finished_at"]))
        out.append((f"step {n} {s['kind']}", end - mark))
        mark = end
    out.append(("switch (router moved, read back, committed)", committed - mark))
    out.append(("total (primary down → traffic on the standby)", committed - stopped_at))
    return out


def run_act(demo: Stage) -> list[tuple[str, float]]:
    """The primary of a pilot-light service dies; its failover plan starts the standby
    (lambda), sees it healthy (wait), then the router moves. Every phase timed."""
    from lambdafail import demo_stage as d
    from lambdafail.aws import call
    from lambdafail.demo_stage import DemoEvent

    assert demo.pilot_primary is not None and demo.pilot_standby is not None
    if demo.pilot_standby.running:
        raise demo.failed("the pilot standby is already running")
    stopped_at = time.time()
    demo.pilot_primary.stop()
    demo.info(f"{SERVICE}: primary stopped; its standby "
              f"{demo.pilot_standby.url} is off too")
    ssm = demo.ctx.client("ssm")
    standby_url = demo.pilot_standby.url

    def routed() -> bool:
        value = call(ssm, "get_parameter", Name=ROUTER_PARAMETER)
        return str(value["Parameter"]["Value"]) == standby_url

    t0 = time.monotonic()
    deadline = t0 + demo.opts.switch_timeout + 30  # + the plan: start, 2 healthy probes
    while not routed():
        if time.monotonic() >= deadline:
            raise demo.failed(f"{SERVICE}'s router did not move within "
                              f"{deadline - t0:.0f} s",
                              hint=f"see the sandbox log {demo.result.sandbox_log_file}")
        st = demo.store_get(SERVICE)
        step = ((st.pending or {}).get("recovery") or {}).get("step") if st else None
        demo.emit(DemoEvent("wait", "waiting for the plan: " + (
            f"step {step} running…" if step else "detecting the outage…"),
            step=demo.step, elapsed=time.monotonic() - t0))
        time.sleep(d.POLL_SECONDS)
    demo.wait_for_service(SERVICE, "the switch to be committed",
                          lambda st: st.phase == "steady" and st.active == "standby")
    item = next(e for e in demo.log(SERVICE) if e.get("to") == "standby")  # newest first
    timed = phases(item, stopped_at)
    for name, seconds in timed:
        demo.info(f"{seconds:6.2f} s  {name}")
    demo.command(["history", SERVICE])
    return timed
