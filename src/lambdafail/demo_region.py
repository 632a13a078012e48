"""The demo's region act: the primary's whole region goes dark; the watcher in another region
moves traffic within the RTO.

Rules: no click, no rich, no boto3 (AWS through `lambdafail.aws` on the sandbox). A second
topology (`demo-dr`) keeps its primary in us-east-1 as one of the sandbox's regional web
endpoints, its orchestrator and state in us-west-2 (`control:`), its standby and router in
us-east-2. The outage is the real `lambdafail --sandbox outage us-east-1`: nothing else is
stopped — the primary fails because its region does, and the decision is taken in us-west-2.
The act ends with the region lit and traffic rolled back.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lambdafail.demo_stage import Stage

TOPOLOGY_NAME = "demo-dr"
SERVICE = "shop"
PROTECTED = "us-east-1"  # the primary's region: it goes dark
CONTROL = "us-west-2"  # the watcher and its state
STANDBY_REGION = "us-east-2"  # the standby and its router
ROUTER_PARAMETER = "/demo-dr/shop/active"
FILE_NAME = "lambdafail-dr.yaml"


def topology_yaml(primary_url: str, standby_url: str, failure_threshold: int,
                  rto_seconds: int) -> str:
    return f"""\
# Written by `lambdafail demo` (the region act): the primary lives in {PROTECTED}, the watcher
# and its state in {CONTROL}, the standby and its router in {STANDBY_REGION}. When {PROTECTED}
# goes dark, the orchestrator in {CONTROL} decides and moves traffic.
version: 1
name: {TOPOLOGY_NAME}
region: {PROTECTED}
control: {{regions: [{CONTROL}]}}
defaults:
  health: {{interval: rate(1 minute), timeout_seconds: 3, failure_threshold: {failure_threshold},
           recovery_threshold: 2}}
  policy: {{cooldown_seconds: 2, failback: manual, rto_seconds: {rto_seconds}}}
services:
  {SERVICE}:
    primary: {{url: "{primary_url}"}}
    standby: {{url: "{standby_url}", region: {STANDBY_REGION}}}
    router: {{ssm_parameter: {ROUTER_PARAMETER}, region: {STANDBY_REGION}}}
"""


def run_act(demo: Stage) -> float:
    """Deploy `demo-dr`, black its primary's region out, time the switch decided from the
    control region, then light the region and roll back. Returns the switch time (s)."""
    from lambdafail import demo_stage as d
    from lambdafail.aws import call
    from lambdafail.base.errors import ExitCode
    from lambdafail.demo_stage import DemoEvent
    from lambdafail.model import naming
    from lambdafail.runtime.state import StateStore
    from lambdafail.sandbox import regional_web

    url = demo.result.sandbox_url
    primary = regional_web.url(url, PROTECTED, "shop-primary")
    standby = regional_web.url(url, STANDBY_REGION, "shop-standby")
    path = demo.workdir / FILE_NAME
    path.write_text(topology_yaml(primary, standby, d.FAILURE_THRESHOLD, d.RTO_SECONDS))
    demo.info(f"topology: {path} — primary in {PROTECTED}, watcher in {CONTROL}, "
              f"standby and router in {STANDBY_REGION}")
    demo.command(["deploy", "--yes"], file=path)
    store = StateStore(naming.table_name(TOPOLOGY_NAME), demo.ctx.client("dynamodb", CONTROL))
    demo.wait_for("the first probe tick in us-west-2", lambda st: st.health["primary"].ok is True
                  and st.health["standby"].ok is True, timeout=30, store=store, service=SERVICE)
    ssm = demo.ctx.client("ssm", STANDBY_REGION)

    def routed() -> str:
        return str(call(ssm, "get_parameter", Name=ROUTER_PARAMETER)["Parameter"]["Value"])

    demo.command(["outage", PROTECTED], file=None)
    t0 = time.monotonic()
    deadline = t0 + demo.opts.switch_timeout
    while routed() != standby:
        now = time.monotonic()
        if now >= deadline:
            raise demo.failed(f"{SERVICE}'s router did not move within "
                              f"{demo.opts.switch_timeout:g} s of {PROTECTED} going dark",
                              hint=f"see the sandbox log {demo.result.sandbox_log_file}")
        demo.emit(DemoEvent("wait", f"{PROTECTED} is dark; waiting for the orchestrator in "
                            f"{CONTROL} to move {SERVICE}…", step=demo.step, elapsed=now - t0))
        time.sleep(d.POLL_SECONDS)
    took = time.monotonic() - t0
    verdict = "within" if took <= d.RTO_SECONDS else "OVER"
    demo.emit(DemoEvent("waited", f"{SERVICE}: router on the standby in {STANDBY_REGION} "
                        f"{took:.1f} s after {PROTECTED} went dark — {verdict} its RTO of "
                        f"{d.RTO_SECONDS} s, decided in {CONTROL}", step=demo.step,
                        elapsed=took))
    demo.wait_for("the switch to be committed", lambda st: st.phase == "steady"
                  and st.active == "standby", timeout=30, store=store, service=SERVICE)
    # On-call works from the control region while the primary's region is out.
    demo.command(["status"], file=path, expect=ExitCode.DEGRADED)
    demo.command(["outage", PROTECTED, "--end"], file=None)
    demo.wait_for(f"the primary in {PROTECTED} probed healthy again",
                  lambda st: st.health["primary"].ok is True, timeout=30, store=store,
                  service=SERVICE)
    demo.command(["rollback", SERVICE, "--reason", "demo: region back", "--yes"], file=path)
    if routed() != primary:
        raise demo.failed(f"the rollback left {SERVICE}'s router at {routed()}")
    return took
