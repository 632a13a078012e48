"""`lambdafail demo`'s flow: the whole loop on the local sandbox, in one process, in a minute.

Rules: no click, no rich — progress leaves as `DemoEvent`s for the command to draw, and each
user-facing step (deploy, status, history, rollback, drill) runs through `run_command(argv)`,
which the command wires to the CLI itself (`lambdafail.cli.run`), so the demo exercises exactly
the code paths a user's commands take. The orchestrator runs as the *deployed* zip in the
sandbox's subprocesses; the outage is real (the primary's socket is closed). Whatever was
started — sandbox, web services — is stopped in `close()`, which the caller runs in a
`finally`. A step that does not end as expected raises `DemoStepFailed` carrying the step's own
exit code (a broken expectation of the demo itself is graded like a failed drill: 5).
"""

from __future__ import annotations

import os
import shlex
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lambdafail.base.errors import ExitCode

if TYPE_CHECKING:
    from lambdafail.aws import AwsContext
    from lambdafail.runtime.state import ServiceState
    from lambdafail.sandbox.server import Sandbox
    from lambdafail.sandbox.webservice import WebService

from lambdafail.demo_stage import COOLDOWN_SECONDS as COOLDOWN_SECONDS
from lambdafail.demo_stage import DEFAULT_TIME_SCALE as DEFAULT_TIME_SCALE
from lambdafail.demo_stage import FAILURE_THRESHOLD as FAILURE_THRESHOLD
from lambdafail.demo_stage import INTERVAL_SECONDS as INTERVAL_SECONDS
from lambdafail.demo_stage import POLL_SECONDS as POLL_SECONDS
from lambdafail.demo_stage import REGION as REGION
from lambdafail.demo_stage import ROUTER_PARAMETER as ROUTER_PARAMETER
from lambdafail.demo_stage import RTO_SECONDS as RTO_SECONDS
from lambdafail.demo_stage import SANDBOX_CREDENTIALS as SANDBOX_CREDENTIALS
from lambdafail.demo_stage import SERVICE as SERVICE
from lambdafail.demo_stage import TOPOLOGY_NAME as TOPOLOGY_NAME
from lambdafail.demo_stage import DemoEvent as DemoEvent
from lambdafail.demo_stage import DemoStepFailed as DemoStepFailed

Listener = Callable[[DemoEvent], None]
RunCommand = Callable[[Sequence[str]], int]


@dataclass
class DemoOptions:
    time_scale: float = DEFAULT_TIME_SCALE
    workdir: Path | None = None  # default: <cache>/lambdafail/demo/<timestamp>/
    keep: bool = False  # the sandbox uses the default state file so `--sandbox` finds it
    no_color: bool = False
    switch_timeout: float = 45.0  # seconds to wait for the orchestrator to fail over


@dataclass
class DemoResult:
    workdir: Path
    topology_file: Path
    report_dir: Path
    reports: dict[str, str] = field(default_factory=dict)
    sandbox_url: str = ""
    sandbox_state_file: Path | None = None
    sandbox_log_file: Path | None = None
    time_scale: float = DEFAULT_TIME_SCALE
    switch_seconds: float | None = None
    floor_seconds: float = 0.0
    wall_seconds: float = 0.0
    drill_passed: bool = False
    primary_url: str = ""
    standby_url: str = ""
    #: The pilot-light act's phases (name, seconds), from the orchestrator's own times.
    pilot_phases: list[tuple[str, float]] = field(default_factory=list)
    #: The region act: its primary's region dark → router on the standby (s).
    region_switch_seconds: float | None = None


def default_workdir(now: datetime | None = None) -> Path:
    from lambdafail.sandbox.statefile import default_state_file

    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    base = default_state_file().parent / "demo"
    path = base / stamp
    n = 1
    while path.exists():  # two demos in one second
        n += 1
        path = base / f"{stamp}-{n}"
    return path


def probe_spacing(time_scale: float) -> float:
    """Real seconds between probe ticks in the sandbox (its scheduler never goes under 1 s)."""
    from lambdafail.sandbox.scheduler import MIN_REAL_INTERVAL_S

    return max(INTERVAL_SECONDS / time_scale, MIN_REAL_INTERVAL_S)


def detection_floor(time_scale: float) -> float:
    """failure_threshold × probe interval at this time scale: the nominal detection time."""
    return FAILURE_THRESHOLD * probe_spacing(time_scale)


def floor_text(time_scale: float) -> str:
    """How the measured switch time compares with the nominal one, and why it can be less."""
    return (f"nominal: failure_threshold {FAILURE_THRESHOLD} × {probe_spacing(time_scale):g} s "
            f"probe interval = {detection_floor(time_scale):g} s; a measurement can be shorter: "
            "the first failed probe can land just after the stop, and a late tick followed by an "
            "on-time one leaves the last interval short")


def topology_yaml(primary_url: str, standby_url: str, pilot: str = "") -> str:
    """The demo's topology; `pilot` is the pilot-light service's block (demo_pilot)."""
    return f"""\
# Written by `lambdafail demo`: one service on two local HTTP servers, switched by an SSM
# parameter. Against AWS, the same file with your own URLs works unchanged.
version: 1
name: {TOPOLOGY_NAME}
region: {REGION}
defaults:
  health:
    interval: rate(1 minute)     # sped up by the sandbox's time scale
    timeout_seconds: 3            # generous: a loaded laptop must not fail a healthy probe
    failure_threshold: {FAILURE_THRESHOLD}
    recovery_threshold: 2
  policy:
    cooldown_seconds: {COOLDOWN_SECONDS}          # real seconds; small so the drill can follow
    failback: manual             # `lambdafail rollback` brings traffic back
    rto_seconds: {RTO_SECONDS}
services:
  {SERVICE}:
    primary: {{url: "{primary_url}"}}
    standby: {{url: "{standby_url}"}}
    router: {{ssm_parameter: {ROUTER_PARAMETER}}}
{pilot}"""


class Demo:
    """Run with `run()`; always `close()` (in a finally) unless handing the sandbox over."""

    STEPS = ("start the sandbox and two local HTTP services",
             "write the topology, deploy it, show status",
             "stop the primary for real and watch the orchestrator fail over",
             "status and history, restore the primary, roll back",
             "rehearse an outage with a drill",
             "pilot light: a Lambda step starts the standby, then traffic moves",
             "region outage: us-east-1 goes dark, the watcher in us-west-2 moves traffic",
             "summary")

    def __init__(self, opts: DemoOptions, run_command: RunCommand, listener: Listener):
        self.opts = opts
        self.run_command = run_command
        self.emit = listener
        self.workdir = opts.workdir or default_workdir()
        self.topology_file = self.workdir / "lambdafail.yaml"
        self.report_dir = self.workdir / "reports" / f"drill-{SERVICE}"
        self.sandbox: Sandbox | None = None
        self.primary: WebService | None = None
        self.standby: WebService | None = None
        self.pilot_primary: WebService | None = None
        self.pilot_standby: WebService | None = None
        self.starter: Any = None
        self._ctx: AwsContext | None = None
        self._store: Any = None
        self._step = 0
        self._started = time.monotonic()
        self.result = DemoResult(workdir=self.workdir, topology_file=self.topology_file,
                                 report_dir=self.report_dir, time_scale=opts.time_scale,
                                 floor_seconds=detection_floor(opts.time_scale))

    # -- the flow -------------------------------------------------------------------------------

    def run(self) -> DemoResult:
        from lambdafail.sandbox import backends

        backends.require_moto()  # exit 2 with the install hint, before anything starts
        self._started = time.monotonic()
        self._begin(1)
        self._start_everything()

        self._begin(2)
        from lambdafail import demo_pilot

        assert self.pilot_primary and self.pilot_standby and self.starter
        self.topology_file.write_text(topology_yaml(
            self.result.primary_url, self.result.standby_url,
            demo_pilot.service_yaml(self.pilot_primary.url, self.pilot_standby.url,
                                    self.starter.url)))
        self.info(f"topology: {self.topology_file}")
        self.info(f"{demo_pilot.SERVICE}'s standby is not running: Lambda "
                  f"{demo_pilot.create_function(self.ctx)} starts it when needed")
        self.command(["deploy", "--yes"])
        self.wait_for("the orchestrator's first probe tick",
                      lambda st: st.health["primary"].ok is True
                      and st.health["standby"].ok is True,
                      timeout=30)
        self.command(["status"])

        self._begin(3)
        self._fail_primary()

        self._begin(4)
        self.command(["status"], expect=ExitCode.DEGRADED)
        self.command(["history"])
        assert self.primary is not None
        try:
            self.primary.start()  # the same port: the topology names it
        except OSError as e:
            raise self.failed(f"cannot restart the primary on port {self.primary.port}: {e}",
                              hint="another program took the port meanwhile; run the demo "
                              "again") from None
        self.info(f"primary restarted on {self.primary.url}")
        self.wait_for("the orchestrator to see the primary healthy again",
                      lambda st: st.health["primary"].ok is True, timeout=30)
        self.command(["rollback", SERVICE, "--reason", "demo: primary restored", "--yes"])
        self.command(["status"])

        self._begin(5)
        self._wait_for_cooldown()
        self.command(["drill", SERVICE, "--yes", "--timeout", str(RTO_SECONDS),
                      "--report-dir", str(self.report_dir)])
        self.result.drill_passed = True
        self.result.reports = {p.name: str(p) for p in sorted(self.report_dir.glob("*"))
                               if p.is_file()}

        self._begin(6)
        self.result.pilot_phases = demo_pilot.run_act(self)

        self._begin(7)
        from lambdafail import demo_region

        self.result.region_switch_seconds = demo_region.run_act(self)

        self._begin(8)
        self.result.wall_seconds = time.monotonic() - self._started
        return self.result

    def close(self) -> None:
        """Stop the web services and the sandbox (idempotent)."""
        for svc in (self.primary, self.standby, self.pilot_primary, self.pilot_standby):
            if svc is not None:
                svc.stop()
        if self.starter is not None:
            self.starter.stop()
            self.starter = None
        if self.sandbox is not None:
            self.sandbox.stop()
            from lambdafail.sandbox import backends

            # moto's state is process-wide: a second demo in this process starts from nothing.
            backends.reset_all()
            self.sandbox = None

    # -- steps ----------------------------------------------------------------------------------

    def _begin(self, n: int) -> None:
        self._step = n
        self.emit(DemoEvent("step", self.STEPS[n - 1], step=n,
                            elapsed=time.monotonic() - self._started))

    def info(self, text: str) -> None:
        self.emit(DemoEvent("info", text, step=self._step))

    def _start_everything(self) -> None:
        from lambdafail.sandbox.server import Sandbox
        from lambdafail.sandbox.statefile import default_state_file
        from lambdafail.sandbox.webservice import WebService

        self.workdir.mkdir(parents=True, exist_ok=True)
        state_file = default_state_file() if self.opts.keep else self.workdir / "sandbox.json"
        self.sandbox = Sandbox(time_scale=self.opts.time_scale, state_file=state_file,
                               region=REGION)
        url = self.sandbox.start()
        for note in self.sandbox.notes:
            self.emit(DemoEvent("warning", note, step=self._step))
        self.result.sandbox_url = url
        self.result.sandbox_state_file = self.sandbox.state_file
        self.result.sandbox_log_file = self.sandbox.log_file
        self.info(f"sandbox on {url} (time scale {self.opts.time_scale:g}: rate(1 minute) "
                  f"ticks every {probe_spacing(self.opts.time_scale):g} s); "
                  f"log: {self.sandbox.log_file}")
        self.primary = WebService("primary").start()
        self.standby = WebService("standby").start()
        self.result.primary_url = self.primary.url
        self.result.standby_url = self.standby.url
        self.info(f"primary on {self.primary.url}, standby on {self.standby.url}")
        from lambdafail.demo_pilot import Starter

        self.pilot_primary = WebService("pilot-primary").start()
        # Its port is taken now and given back: the topology names it, the step starts it.
        self.pilot_standby = WebService("pilot-standby").start()
        self.pilot_standby.stop()
        self.starter = Starter(self.pilot_standby)

    def _fail_primary(self) -> None:
        assert self.primary is not None
        ssm = self.ctx.client("ssm")
        from lambdafail.aws import call

        routed = call(ssm, "get_parameter", Name=ROUTER_PARAMETER)["Parameter"]["Value"]
        if routed != self.result.primary_url:
            raise self.failed(f"the router points at {routed}, not at the primary")
        self.primary.stop()
        t0 = time.monotonic()
        self.info(f"primary stopped: {self.primary.url} now refuses connections")
        what = "the orchestrator to detect the outage and switch the router"
        deadline = t0 + self.opts.switch_timeout
        last_state = 0.0
        failures = 0
        while True:
            now = time.monotonic()
            value = call(ssm, "get_parameter", Name=ROUTER_PARAMETER)["Parameter"]["Value"]
            if value == self.result.standby_url:
                took = time.monotonic() - t0
                self.result.switch_seconds = took
                self.emit(DemoEvent("waited", f"router switched to the standby {took:.1f} s "
                                    f"after the primary went down ({floor_text(self.opts.time_scale)})",
                                    step=self._step, elapsed=took))
                return
            if now >= deadline:
                raise self.failed(f"the router still points at {value} "
                                  f"{self.opts.switch_timeout:g} s after the primary went down "
                                  f"(primary failures seen: {failures}/{FAILURE_THRESHOLD})",
                                  hint=f"see the sandbox log {self.result.sandbox_log_file}")
            if now - last_state >= 0.5:
                last_state = now
                st = self.state()
                if st is not None:
                    failures = st.health["primary"].failures
            self.emit(DemoEvent("wait", f"waiting for {what}… primary failed probes "
                                f"{failures}/{FAILURE_THRESHOLD}", step=self._step,
                                elapsed=now - t0))
            time.sleep(POLL_SECONDS)

    def store_get(self, service: str) -> ServiceState | None:
        self.state()  # builds the store
        st: ServiceState | None = self._store.get(service)
        return st

    def log(self, service: str) -> list[dict[str, Any]]:
        """The demo topology's transition log of `service`, newest first."""
        self.state()  # builds the store
        entries: list[dict[str, Any]] = self._store.log(service, kind="transition")
        return entries

    def wait_for_service(self, service: str, what: str,
                         ok: Callable[[ServiceState], bool], timeout: float = 30) -> None:
        t0 = time.monotonic()
        while True:
            st = self.store_get(service)
            if st is not None and ok(st):
                return
            if time.monotonic() - t0 >= timeout:
                raise self.failed(f"timed out after {timeout:g} s waiting for {what}")
            time.sleep(POLL_SECONDS)

    def _wait_for_cooldown(self) -> None:
        from lambdafail.runtime.decisions import cooldown_remaining

        policy = {"policy": {"cooldown_seconds": COOLDOWN_SECONDS}}
        self.wait_for(f"the {COOLDOWN_SECONDS} s cooldown after the rollback",
                      lambda st: cooldown_remaining(st, policy, time.time()) <= 0
                      and st.health["primary"].ok is True and st.health["standby"].ok is True,
                      timeout=COOLDOWN_SECONDS + 30)

    # -- helpers --------------------------------------------------------------------------------

    @property
    def ctx(self) -> AwsContext:
        if self._ctx is None:
            from lambdafail.aws import AwsContext

            self._ctx = AwsContext(region=REGION, endpoint_url=self.result.sandbox_url,
                                   credentials=dict(SANDBOX_CREDENTIALS))
        return self._ctx

    def state(self) -> ServiceState | None:
        if self._store is None:
            from lambdafail.model import naming
            from lambdafail.runtime.state import StateStore

            self._store = StateStore(naming.table_name(TOPOLOGY_NAME), self.ctx.client("dynamodb"))
        st: ServiceState | None = self._store.get(SERVICE)
        return st

    @property
    def step(self) -> int:
        return self._step

    def wait_for(self, what: str, ok: Callable[[ServiceState], bool], timeout: float,
                 store: Any = None, service: str = SERVICE) -> None:
        """Poll the state table (the demo topology's, or `store`'s item of `service`) until
        `ok(state)`, with a deadline, showing progress."""
        t0 = time.monotonic()
        while True:
            st = self.state() if store is None else store.get(service)
            elapsed = time.monotonic() - t0
            if st is not None and ok(st):
                self.emit(DemoEvent("waited", f"{what}: {elapsed:.1f} s", step=self._step,
                                    elapsed=elapsed))
                return
            if elapsed >= timeout:
                raise self.failed(f"timed out after {timeout:g} s waiting for {what}",
                                  hint=f"see the sandbox log {self.result.sandbox_log_file}")
            self.emit(DemoEvent("wait", f"waiting for {what}…", step=self._step,
                                elapsed=elapsed))
            time.sleep(POLL_SECONDS)

    def command(self, args: list[str], expect: ExitCode = ExitCode.OK,
                file: Path | bool | None = True) -> None:
        """Run `lambdafail --sandbox ARGS -f FILE` through the CLI (FILE: the demo's topology,
        or `file`; None: no file, e.g. `outage`); check its exit code."""
        topology = self.topology_file if file is True else file
        argv = ["--sandbox", *args, *(["-f", str(topology)] if isinstance(topology, Path)
                                      else [])]
        if self.opts.no_color:
            argv.append("--no-color")
        self.emit(DemoEvent("command", "lambdafail " + shlex.join(argv), step=self._step))
        with self._sandbox_env():
            rc = self.run_command(argv)
        if rc == ExitCode.INTERRUPTED:
            raise KeyboardInterrupt  # Ctrl-C inside the step: stop the demo, clean up
        if rc != expect:
            code = ExitCode(rc) if rc in set(ExitCode) and rc != ExitCode.OK else None
            raise self.failed(f"`lambdafail {args[0]}` exited {rc}, expected {int(expect)}",
                              exit_code=code)

    @contextmanager
    def _sandbox_env(self) -> Iterator[None]:
        # `--sandbox` finds the endpoint through this variable; the user's AWS profile must not
        # leak into calls meant for the sandbox (the sandbox takes any fake credentials).
        assert self.sandbox is not None
        saved = {k: os.environ.get(k) for k in ("LAMBDAFAIL_SANDBOX_STATE", "AWS_PROFILE")}
        os.environ["LAMBDAFAIL_SANDBOX_STATE"] = str(self.sandbox.state_file)
        os.environ.pop("AWS_PROFILE", None)
        try:
            yield
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v

    def failed(self, message: str, hint: str = "",
               exit_code: ExitCode | None = None) -> DemoStepFailed:
        n = self._step
        title = self.STEPS[n - 1] if n else "start"
        return DemoStepFailed(f"demo step {n} ({title}) failed: {message}",
                              hint or f"the demo's files are in {self.workdir}",
                              exit_code=exit_code)


def next_steps(result: DemoResult) -> list[str]:
    """What to try next: the same commands, against the sandbox and against AWS."""
    return [
        "Explore it yourself:",
        "  lambdafail demo --keep     # the same run, then the sandbox and both services stay",
        "                             # up, with the --sandbox commands to try in a 2nd terminal",
        "  lambdafail sandbox         # or a bare sandbox for your own topology (see README)",
        "Try it against AWS (credentials for a test account; nothing else changes):",
        "  lambdafail init            # an annotated lambdafail.yaml for your own services",
        "  lambdafail validate && lambdafail plan",
        "  lambdafail deploy && lambdafail status",
        "  lambdafail drill SERVICE   # a real failover, graded against rto_seconds, restored",
    ]
