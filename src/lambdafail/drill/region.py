"""A drill of every service whose primary is in one region, at once: `lambdafail drill
--scenario region-outage --outage-region REGION`.

Rule: each service is drilled by the ordinary runner (drill/runner.py) — its own pre-check and
lock, fault flag, observe, verify, restore in `finally`, its own reports, graded against its
own RTO — each in a thread, held together by one coordinator here: no service is injected
unless every service's pre-check passed; the sandbox region goes dark once, after every fault
flag is set (on AWS only the flags); it is lit again once, before any service fails back, and
the coordinator lights it in its own `finally` if no drill did; a signal (Ctrl-C, SIGTERM,
SIGHUP) interrupts every drill, and every one of them restores before the process exits. The
services being drilled together are not "other services" to each other's verify. No click,
no rich.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from lambdafail.aws import time_scale
from lambdafail.base.errors import ExitCode, UsageError
from lambdafail.drill.journal import DrillInterrupted, Listener, PhaseFailed
from lambdafail.drill.runner import Drill, DrillOptions
from lambdafail.drill.scenarios import FAULT_MARGIN_SECONDS, PrimaryDown, RegionOutage, msg
from lambdafail.drill.signals import signal_latch
from lambdafail.runtime.clock import iso

if TYPE_CHECKING:
    from lambdafail.aws import AwsContext
    from lambdafail.drill.runner import RestoreOutcome

#: report.json's sibling for the whole region: `region.json` in the drill's report directory.
SCHEMA = "lambdafail.drill.region/1"
SCENARIO = "region-outage"
_WAIT_SECONDS = 0.1


def primary_region(compiled: Mapping[str, Any], service: str) -> str:
    svc = compiled["services"][service]
    return str(svc["primary"].get("region") or compiled["region"])


def services_in(compiled: Mapping[str, Any], region: str) -> list[str]:
    """The services whose primary lives in `region`; a UsageError naming the regions the
    primaries are in when there is none."""
    names = sorted(compiled["services"])
    chosen = [n for n in names if primary_region(compiled, n) == region]
    if not chosen:
        where = sorted({primary_region(compiled, n) for n in names})
        raise UsageError(f"no service of topology {compiled['topology']!r} has its primary in "
                         f"{region}", hint="primaries are in: " + ", ".join(where))
    return chosen


class _Group:
    """What the drills of one region share: the two rendezvous, the stop signal, the outage."""

    def __init__(self, region: str, services: list[str], timeout: float, sandbox: bool,
                 endpoint_url: str) -> None:
        self.region = region
        self.services = services
        self.timeout = timeout
        self.sandbox = sandbox
        self.endpoint_url = endpoint_url
        self.stop = threading.Event()
        # Every pre-check passed (locks taken) → inject; every fault flag set → black out.
        self.ready = threading.Barrier(len(services))
        self.injected = threading.Barrier(len(services), action=self._black_out)
        self._lock = threading.Lock()
        self.dark = False  # the sandbox region is dark because of this drill
        self.lit: tuple[bool, str] | None = None  # the one attempt to light it again
        self.outage_error = ""

    def abort(self) -> None:
        self.ready.abort()
        self.injected.abort()

    def rendezvous(self, barrier: threading.Barrier, what: str) -> None:
        """Wait until every drill of the region got here; PhaseFailed when one cannot (or
        DrillInterrupted when the drill was signalled)."""
        try:
            barrier.wait(timeout=self.timeout)
        except threading.BrokenBarrierError:
            if self.stop.is_set():
                raise DrillInterrupted("interrupted") from None
            why = self.outage_error or f"not every service of {self.region} {what}"
            raise PhaseFailed(why) from None

    def _black_out(self) -> None:
        """The barrier's action, run once when every fault flag is set."""
        if not self.sandbox:
            return
        from lambdafail.sandbox import control

        seconds = (self.timeout + FAULT_MARGIN_SECONDS) * max(1.0, time_scale())
        try:
            control.outages(self.endpoint_url, {"region": self.region, "seconds": seconds})
        except Exception as e:
            self.outage_error = f"the sandbox region {self.region} could not be blacked out: " \
                                f"{msg(e)}"
            raise
        self.dark = True

    def light(self) -> tuple[bool, str] | None:
        """Light the region again, once for every drill (None: it was never dark)."""
        from lambdafail.sandbox import control

        with self._lock:
            if not self.dark:
                return None
            if self.lit is None or not self.lit[0]:
                try:
                    control.outages(self.endpoint_url, {"region": self.region, "end": True})
                    self.lit = (True, f"{self.region} answers again")
                except Exception as e:
                    self.lit = (False, msg(e))
            return self.lit


class _MemberOutage(RegionOutage):
    """The region-outage scenario of one service among the region's: its own fault flag; the
    blackout and the light are the group's (once for all)."""

    name: ClassVar[str] = ""  # not a scenario of its own: stays out of the registry

    def __init__(self, drill: Drill, group: _Group) -> None:
        super().__init__(drill)
        self.group = group

    def describe(self) -> str:
        return (super().describe() + f" (one outage for {len(self.group.services)} "
                f"service(s) of {self.group.region}: {', '.join(self.group.services)})")

    def inject(self) -> str:
        g = self.group
        try:
            done = PrimaryDown.inject(self)
        except BaseException:
            g.injected.abort()
            raise
        try:
            g.rendezvous(g.injected, "could be injected: the region was not blacked out")
        except PhaseFailed as e:
            if g.outage_error:
                raise PhaseFailed(g.outage_error) from e
            raise
        except Exception as e:  # the blackout failed in this thread (the barrier's action)
            raise PhaseFailed(g.outage_error or msg(e)) from e
        if not g.sandbox:
            return f"{done} (with every service of {g.region} at once)"
        self.dark = g.region
        return (f"{done}; sandbox region {g.region} dark (one outage for "
                f"{len(g.services)} service(s))")

    def undo(self, r: RestoreOutcome) -> None:
        d = self.drill
        assert d.rec is not None
        lit = self.group.light()
        if lit is not None:
            ok, detail = lit
            d.rec.check("region lit again", ok, detail)
            if not ok:
                r.left.append(f"sandbox region {self.group.region} is still dark (it ends by "
                              "itself)")
                r.instructions.append(f"lambdafail --sandbox outage {self.group.region} --end")
        PrimaryDown.undo(self, r)


class _MemberDrill(Drill):
    """One service's drill within the region's: the ordinary runner, with the group's
    rendezvous after its pre-check and an interruptible wait while it observes."""

    def __init__(self, compiled: Mapping[str, Any], ctx: AwsContext, opts: DrillOptions,
                 group: _Group, *, listener: Listener | None,
                 clock: Callable[[], float]) -> None:
        super().__init__(compiled, ctx, opts, listener=listener, clock=clock,
                         sleep=self._sleep)
        self.group = group
        self.scenario = _MemberOutage(self, group)
        self.siblings = frozenset(group.services) - {opts.service}
        self.restoring = False
        self.signalled = False
        self.error: BaseException | None = None
        self.report: dict[str, Any] | None = None
        self.done = threading.Event()  # set when run_in_thread returns, whatever happened

    def _sleep(self, seconds: float) -> None:
        """The observe loop's wait: the group's stop interrupts it once (never the restore)."""
        if self.restoring or self.signalled:
            time.sleep(seconds)
            return
        if self.group.stop.wait(seconds):
            self.signalled = True
            raise DrillInterrupted("interrupted")

    def _precheck(self) -> None:
        try:
            super()._precheck()
        except BaseException:
            self.group.abort()  # no service is injected unless every pre-check passed
            raise

    def _mark_deadline(self) -> None:
        super()._mark_deadline()
        assert self.rec is not None
        try:
            self.group.rendezvous(self.group.ready, "passed its pre-check")
        except PhaseFailed as e:
            self.rec.check("every service of the region ready", False, str(e))
            raise
        self.rec.check("every service of the region ready", True,
                       ", ".join(self.group.services))

    def _restore(self) -> None:
        self.restoring = True
        super()._restore()

    def run_in_thread(self) -> None:
        try:
            self.report = self.run()
        except BaseException as e:  # raised before anything changed: the coordinator says it
            self.error = e
            self.group.abort()
        finally:
            self.done.set()


class RegionDrill:
    """Every service whose primary is in `region`, drilled at once. `run()` returns the
    region's document (region.json); each service's report.json is in `drills`."""

    def __init__(self, compiled: Mapping[str, Any], ctx: AwsContext, region: str,
                 opts: DrillOptions, *, listener: Callable[[str], Listener] | None = None,
                 clock: Callable[[], float] = time.time, sandbox: bool = False) -> None:
        if opts.scenario != SCENARIO:
            raise UsageError(f"a drill of a whole region is a {SCENARIO} drill, not "
                             f"{opts.scenario}", hint=f"--scenario {SCENARIO}")
        self.compiled = compiled
        self.region = region
        self.opts = opts
        self.clock = clock
        self.services = services_in(compiled, region)
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(clock()))
        self.report_dir = opts.report_dir or str(Path("drill-reports") / f"region-{region}-"
                                                 f"{stamp}")
        self.group = _Group(region, self.services, opts.timeout, sandbox,
                            str(ctx.endpoint_url or ""))
        self.drills = [
            _MemberDrill(compiled, ctx, replace(opts, service=name,
                                                report_dir=str(Path(self.report_dir) / name)),
                         self.group, listener=listener(name) if listener else None,
                         clock=clock)
            for name in self.services]
        self.interrupted = False
        self.started = 0.0

    def warning(self) -> str | None:
        return self.drills[0].warning()

    def run(self) -> dict[str, Any]:
        """Run every drill; return the region's document. Never raises for a failed drill;
        an error before anything changed (as a single drill's) is raised after every drill
        has ended."""
        self.started = self.clock()
        threads = [threading.Thread(target=d.run_in_thread, name=f"drill-{d.opts.service}",
                                    daemon=True) for d in self.drills]
        with signal_latch() as latch:
            try:
                for t in threads:
                    t.start()
                self._wait()
            except (KeyboardInterrupt, DrillInterrupted):
                self.interrupted = True
                self.group.stop.set()
                self.group.abort()
            finally:
                latch.defer()  # from here on signals are recorded: every restore finishes
                self._wait()
                lit = self.group.light()  # no-op when a drill lit it (or it never went dark)
        errors = [d.error for d in self.drills if d.error is not None]
        if errors and not any(d.injected or d.report for d in self.drills):
            raise errors[0]
        return self._document(lit, errors)

    def _wait(self) -> None:
        """Until every drill's thread is done. Short waits on each drill's own event: the
        main thread stays ready for signals, and (unlike Thread.join) a wait a signal cut
        short never makes a running thread look finished."""
        for d in self.drills:
            while not d.done.wait(_WAIT_SECONDS):
                pass

    def _document(self, lit: tuple[bool, str] | None,
                  errors: list[BaseException]) -> dict[str, Any]:
        rows: list[dict[str, Any]] = []
        reasons: list[str] = []
        codes: list[int] = []
        for d in self.drills:
            doc = d.report
            if doc is None:
                codes.append(int(ExitCode.DRILL_FAILED))
                why = msg(d.error) if d.error is not None else "did not run"
                reasons.append(f"{d.opts.service}: {why}")
                rows.append({"service": d.opts.service, "result": "fail",
                             "exit_code": int(ExitCode.DRILL_FAILED), "switched": False,
                             "time_to_detect_s": None, "time_to_switch_s": None,
                             "total_s": None, "rto_seconds": d.rto, "rto_met": None,
                             "restored": None, "reasons": [why], "report_dir": None})
                continue
            g, t = doc["grade"], doc["timings"]
            codes.append(int(g["exit_code"]))
            reasons += [f"{d.opts.service}: {r}" for r in g["reasons"]]
            rows.append({"service": d.opts.service, "result": g["result"],
                         "exit_code": g["exit_code"],
                         "switched": doc["milestones"].get("router_verified") is not None,
                         "time_to_detect_s": t.get("time_to_detect_s"),
                         "time_to_switch_s": t.get("time_to_switch_s"),
                         "total_s": t.get("total_s"), "rto_seconds": doc["rto_seconds"],
                         "rto_met": g["rto_met"], "restored": doc["restore"]["ok"],
                         "reasons": list(g["reasons"]), "report_dir": d.report_dir})
        if lit is not None and not lit[0]:
            reasons.append(f"sandbox region {self.region} is still dark: {lit[1]}")
        code = self._exit_code(codes, lit)
        result = {0: "pass", int(ExitCode.RESTORE_INCOMPLETE): "restore-incomplete"}.get(
            code, "fail")
        if self.interrupted:
            reasons.append("interrupted (signal): every drill restored before exit"
                           if code != int(ExitCode.RESTORE_INCOMPLETE) else
                           "interrupted (signal)")
        return {
            "schema": SCHEMA, "topology": str(self.compiled["topology"]),
            "region": self.region, "scenario": SCENARIO, "dry_run": self.opts.dry_run,
            "started_at": iso(self.started), "ended_at": iso(self.clock()),
            "timeout_s": self.opts.timeout,
            "control_region": str(self.compiled["region"]),
            "outage": {"sandbox": self.group.sandbox, "blacked_out": self.group.dark,
                       "lit_again": None if lit is None else lit[0]},
            "services": rows,
            "grade": {"result": result, "passed": code == 0, "exit_code": code,
                      "reasons": reasons},
            "errors": [msg(e) for e in errors],
            "report_dir": None if self.opts.dry_run else self.report_dir,
            "drills": {d.opts.service: d.report for d in self.drills if d.report is not None},
        }

    def _exit_code(self, codes: list[int], lit: tuple[bool, str] | None) -> int:
        incomplete = int(ExitCode.RESTORE_INCOMPLETE)
        interrupted = int(ExitCode.INTERRUPTED)
        if incomplete in codes or (lit is not None and not lit[0]):
            return incomplete
        if self.interrupted or interrupted in codes:
            return interrupted
        if any(codes):
            return int(ExitCode.DRILL_FAILED)
        return 0


def write_region(doc: Mapping[str, Any], directory: str) -> str:
    """region.json (the document without the per-service reports, which sit in their own
    directories) in `directory`; returns its path."""
    import json

    path = Path(directory) / "region.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    slim = {k: v for k, v in doc.items() if k != "drills"}
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    path.write_text(json.dumps(slim, indent=2) + "\n", encoding="utf-8")
    return str(path)
