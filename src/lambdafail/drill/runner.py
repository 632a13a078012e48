"""The drill runner: pre-check → inject → observe → verify → restore (in `finally`) → grade.

Rules: a drill never leaves production failed over by accident and never reports a pass it did
not earn. Restore runs in `finally` — also on Ctrl-C, SIGTERM (turned into `DrillInterrupted`)
and timeout — and any part it cannot finish is listed with the exact commands that finish it.
Every phase, check and milestone goes to the journal as it happens. Only the named service is
ever touched. The drill drives nothing itself: the orchestrator's real probes, thresholds and
transition code do the detection and the switch; the drill injects a fault (its scenario),
watches, and grades. No click, no rich: `cli/commands/drill.py` renders the events emitted here.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lambdafail.aws import time_scale
from lambdafail.base.errors import UsageError
from lambdafail.drill import summary
from lambdafail.drill.grading import failure_seen_at
from lambdafail.drill.journal import (
    DrillInterrupted,
    Journal,
    Listener,
    PhaseFailed,
    Recorder,
)
from lambdafail.drill.options import DrillOptions as DrillOptions
from lambdafail.drill.options import RestoreOutcome as RestoreOutcome
from lambdafail.drill.scenarios import FAULT_MARGIN_SECONDS, SCENARIOS, Scenario
from lambdafail.drill.signals import SignalLatch, signal_latch
from lambdafail.runtime.clock import iso

if TYPE_CHECKING:
    from lambdafail.aws import AwsContext
    from lambdafail.runtime.state import ServiceState, StateStore

POLL_SECONDS = 0.2


class Drill:
    """One drill of one service. `run()` returns the report document (report.json)."""

    def __init__(self, compiled: Mapping[str, Any], ctx: AwsContext, opts: DrillOptions, *,
                 listener: Listener | None = None, clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if opts.service not in compiled["services"]:
            known = ", ".join(sorted(compiled["services"]))
            raise UsageError(f"no service {opts.service!r} in topology "
                             f"{compiled['topology']!r}", hint=f"services: {known}")
        if opts.scenario not in SCENARIOS:
            raise UsageError(f"unknown scenario {opts.scenario!r}",
                             hint=f"one of: {', '.join(SCENARIOS)}")
        if opts.timeout <= 0:
            raise UsageError("--timeout must be positive")
        self.compiled = compiled
        self.svc: Mapping[str, Any] = compiled["services"][opts.service]
        self.ctx = ctx
        self.opts = opts
        self.clock = clock
        self.sleep = sleep
        self.listener = listener
        self.drill_id = (f"{opts.service}-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime(clock()))}"
                         f"-{uuid.uuid4().hex[:6]}")
        self.rto = float(self.svc["policy"]["rto_seconds"])
        self._store: StateStore | None = None
        self.lock_held = False
        self.injected = False
        self.scenario: Scenario = SCENARIOS[opts.scenario](self)
        self.snapshot: dict[str, dict[str, Any]] = {}
        # Services drilled together with this one (drill/region.py): not "other services".
        self.siblings: frozenset[str] = frozenset()
        self.poll = max(0.02, POLL_SECONDS / max(1.0, time_scale()))
        self.journal: Journal | None = None
        self.report_dir: str | None = None
        self.rec: Recorder | None = None
        self.interrupted = False
        self.restore = RestoreOutcome(requested=opts.restore)
        self.others_changed: list[str] = []
        self.abort_reason = ""
        self.orchestrator_version = ""  # from the heartbeat, for the report's context

    def command_line(self, command: str, *args: str) -> str:
        """A complete `lambdafail` command line against this drill's topology and AWS."""
        import shlex

        file = ["-f", self.opts.topology_file] if self.opts.topology_file else []
        return shlex.join(["lambdafail", command, *file, *args, *self.opts.connection])

    def abort_command(self) -> str:
        """The one command that undoes what this drill left (see drill/restore.py `abort`)."""
        return self.command_line("drill", self.opts.service, "--abort", "--reason",
                                 f"end of drill {self.drill_id}")

    def warning(self) -> str | None:
        return self.scenario.warning()

    # -- AWS plumbing -------------------------------------------------------------------------

    @property
    def store(self) -> StateStore:
        if self._store is None:
            from lambdafail.runtime.state import StateStore

            self._store = StateStore(str(self.compiled["table"]), self.ctx.client("dynamodb"),
                                     self.compiled.get("history_retention_days"))
        return self._store

    def _state(self) -> ServiceState:
        st = self.store.get(self.opts.service)
        if st is None:
            raise PhaseFailed(f"{self.opts.service} has no state item; has `lambdafail deploy` "
                              "run?")
        return st

    def read_back(self, service: str | None = None) -> str | None:
        """Which side the router points at now ('primary' / 'standby' / None if neither)."""
        from lambdafail.runtime.routers import make_router, reads_committed

        name = service or self.opts.service
        confirmed: str | None = None
        cfg = dict(self.compiled["services"][name]["router"])
        if reads_committed(cfg):
            # A hook router has nothing in AWS to read: the committed side is its answer.
            st = self.store.get(name)
            confirmed = st.active if st else None
        router = make_router(cfg, self._clients(), confirmed=confirmed)
        return router.read_back()

    def _clients(self) -> Any:
        from lambdafail.oncall.common import clients_for

        return clients_for(self.ctx)

    # -- the run --------------------------------------------------------------------------------

    def default_report_dir(self) -> str:
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(self.clock()))
        return str(Path("drill-reports") / f"{self.opts.service}-{stamp}")

    def _sink(self, rec: dict[str, Any]) -> None:
        if self.journal is not None:
            self.journal.write(rec)
        if self.listener is not None:
            with contextlib.suppress(Exception):  # a display bug must never skip a restore
                self.listener(rec)

    def run(self) -> dict[str, Any]:
        """Run the drill. Returns the report document; never raises for a failed drill (the
        grade carries the exit code). UsageError/AwsError before anything changed propagate."""
        self.report_dir = self.opts.report_dir or self.default_report_dir()
        if not self.opts.dry_run:
            self.journal = Journal(Path(self.report_dir) / "journal.jsonl")
        self.rec = Recorder(self.drill_id, self.clock, [self._sink])
        rec = self.rec
        rec.emit("drill-start", service=self.opts.service, scenario=self.opts.scenario,
                 topology=self.compiled["topology"], timeout_s=self.opts.timeout,
                 rto_seconds=self.rto, dry_run=self.opts.dry_run)
        with signal_latch() as latch:
            return self._run(rec, latch)

    def _run(self, rec: Recorder, latch: SignalLatch) -> dict[str, Any]:
        """The phases, then the restore in `finally`, then the grade: all under the latch."""
        try:
            try:
                self._precheck()
                if self.opts.dry_run:
                    return self._dry_run_report()
                self._inject()
                self._observe()
                self._verify()
            except PhaseFailed:
                if self.opts.dry_run:
                    return self._dry_run_report()
            except (KeyboardInterrupt, DrillInterrupted):
                self.interrupted = True
                rec.note("interrupted: restoring before exit", level="warning")
            except Exception as e:  # recorded, then restored and graded
                if not self.injected and not self.lock_held:
                    raise  # nothing changed: the CLI reports it as the error it is
                rec.note(f"error: {getattr(e, 'message', None) or e!r}", level="error")
        except (KeyboardInterrupt, DrillInterrupted):
            # The first signal landed while a failure above was being handled.
            self.interrupted = True
        finally:
            latch.defer()
            if not self.opts.dry_run:
                self._restore()
            for signum in latch.unheeded():
                rec.note(f"signal {signum} received during the drill's restore: the "
                         "restore finished first", level="warning")
        report = self._report()
        with rec.phase("grade") as ph:
            g = report["grade"]
            rec.check("drill passed", bool(g["passed"]), "; ".join(g["reasons"]) or "RTO met")
            ph.detail = f"{g['result']} (exit {g['exit_code']})"
        report["phases"] = [p.to_dict(rec.origin) for p in rec.phases.values()]
        report["ended_at"] = iso(self.clock())
        rec.emit("drill-end", result=report["grade"]["result"],
                 exit_code=report["grade"]["exit_code"])
        if self.journal is not None:
            self.journal.close()
        return report

    # -- phase 1: pre-check ---------------------------------------------------------------------

    def _precheck(self) -> None:
        assert self.rec is not None
        rec = self.rec
        svc = self.opts.service
        with rec.phase("precheck") as ph:
            self._scenario_feasible()
            now = self.clock()
            states = self.store.load_all()
            st = states.get(svc)
            if st is None:
                rec.check("service deployed", False, "no state item; run `lambdafail deploy`")
                raise PhaseFailed(f"{svc} is not deployed (no state item)")
            rec.check("on primary", st.active == "primary" and st.phase == "steady",
                      f"active={st.active}, phase={st.phase}")
            for side in ("primary", "standby"):
                h = st.health[side]
                if side == "standby" and self._cold_standby_ready():
                    continue  # a cold standby is down until its plan starts it: checked above
                if h.ok is None:
                    rec.check(f"{side} healthy", False, "never probed by the orchestrator")
                else:
                    rec.check(f"{side} healthy", bool(h.ok) and not st.faulted(side, now),
                              f"last probe {'ok' if h.ok else 'FAILED'} at {h.at or 'an unknown time'}"
                              f"{': ' + h.detail if h.detail and not h.ok else ''}")
            faults = {k: v for k, v in st.faults.items() if now < float(v)}
            rec.check("no fault injected", not faults,
                      "none" if not faults else f"faults until {faults}")
            alarms = {a: s for a, s in st.alarms.items() if s == "ALARM"}
            rec.check("no alarm firing", not alarms, "none" if not alarms else str(alarms))
            rec.check("nothing blocked", not st.blocked, st.blocked or "none")
            # The orchestrator will not switch automatically inside the cooldown (a drill right
            # after a drill): the steady state includes being allowed to fail over at all.
            from lambdafail.runtime.decisions import cooldown_remaining

            wait = cooldown_remaining(st, dict(self.svc), self.clock())
            rec.check("cooldown elapsed", wait <= 0,
                      "none" if wait <= 0 else f"{wait:.0f} s left since the last transition; "
                      "the orchestrator would refuse to fail over")
            self._check_fresh(self.clock())
            routed = self._safe_read_back()
            rec.check("router points at primary", routed == "primary", f"read-back: {routed or 'neither side'}")
            lock = self.store.drill_lock(svc)
            busy = lock is not None and float(lock.get("lock_expires_epoch", 0)) > now
            rec.check("no other drill running", not busy,
                      "none" if not busy or lock is None else
                      f"drill {lock.get('drill_id', '?')} by {lock.get('owner', '?')} since "
                      f"{lock.get('started_at', '?')}")
            for name, other in states.items():
                if name != svc and name not in self.siblings:
                    self.snapshot[name] = {"active": other.active, "phase": other.phase}
            if not all(c.ok for c in ph.checks):
                raise PhaseFailed("steady state not met: " + "; ".join(
                    f"{c.name} ({c.detail})" for c in ph.checks if not c.ok))
            if self.opts.dry_run:
                ph.detail = "steady state met (dry run: no lock taken)"
                return
            # Observe and restore each get --timeout; user commands may take their own limit.
            ttl = self.opts.timeout * 2 + self.scenario.extra_lock_seconds + FAULT_MARGIN_SECONDS
            if not self.store.acquire_drill_lock(svc, self.drill_id, self.opts.operator, ttl,
                                                 now=self.clock()):
                lock = self.store.drill_lock(svc) or {}
                rec.check("drill lock taken", False,
                          f"held by drill {lock.get('drill_id', '?')} ({lock.get('owner', '?')})")
                raise PhaseFailed("another drill holds the lock for "
                                  f"{svc}: {lock.get('drill_id', '?')} by {lock.get('owner', '?')}")
            self.lock_held = True
            rec.check("drill lock taken", True, f"expires in {ttl:g} s")
            self._mark_deadline()
            ph.detail = "steady state met; lock taken"

    def restore_window(self) -> float:
        """Seconds from the lock to the restore deadline: observe and restore (each --timeout,
        plus what the scenario's own commands may take) and a margin for clock skew. Past it,
        the orchestrator finishes the restore itself (runtime/drill_guard.py)."""
        from lambdafail.runtime.drill_guard import RESTORE_MARGIN_SECONDS

        return (self.opts.timeout * 2 + self.scenario.extra_lock_seconds
                + RESTORE_MARGIN_SECONDS)

    def _mark_deadline(self) -> None:
        assert self.rec is not None
        from lambdafail.runtime import drill_guard

        now = self.clock()
        restore_by = now + self.restore_window()
        drill_guard.mark(self.store, self.opts.service, self.drill_id, self.opts.operator,
                         restore_by, now)
        self.rec.check("restore deadline recorded", True,
                       f"{iso(restore_by)}: if this machine dies, the orchestrator restores then")

    def _check_fresh(self, now: float) -> None:
        assert self.rec is not None
        from lambdafail.oncall.common import stale_after_seconds

        limit = stale_after_seconds(self.compiled)
        hb = self.store.heartbeat_item()
        epoch = float(hb["last_tick_epoch"]) if hb and "last_tick_epoch" in hb else None
        self.orchestrator_version = str((hb or {}).get("function_version") or "")
        if epoch is None:
            self.rec.check("orchestrator fresh", False, "no heartbeat: the orchestrator never "
                           "ticked")
            return
        # The heartbeat holds whole seconds: an age just under 0 is rounding, not the future.
        age = max(0.0, now - epoch)
        self.rec.check("orchestrator fresh", age <= limit,
                       f"last tick {age:.1f} s ago (limit {limit:g} s)")

    def _safe_read_back(self, service: str | None = None) -> str | None:
        try:
            return self.read_back(service)
        except Exception as e:  # a failed read-back is a failed check
            if self.rec is not None:
                self.rec.note(f"router read-back failed: {e}", level="warning")
            return None

    def _scenario_feasible(self) -> None:
        assert self.rec is not None
        self.scenario.feasible()
        self.rec.check("scenario possible", True, self.describe_injection())

    def describe_injection(self) -> str:
        return self.scenario.describe()

    # -- phase 2: inject ------------------------------------------------------------------------

    def _inject(self) -> None:
        assert self.rec is not None
        rec = self.rec
        with rec.phase("inject") as ph:
            start = self.clock()
            # Marked before the call: the outage may begin the moment the write lands, and a
            # drill must not grade itself on a clock that started late.
            warning = self.scenario.warning()
            if warning:
                rec.note(warning, level="warning")
            self.injected = True
            detail = self.scenario.inject()
            rec.milestone("injected", at=start)
            rec.check("fault injected", True, detail)
            ph.detail = detail

    # -- phase 3: observe -----------------------------------------------------------------------

    def _observe(self) -> None:
        assert self.rec is not None
        rec = self.rec
        inj = rec.milestones["injected"]
        deadline = inj + self.opts.timeout
        with rec.phase("observe") as ph:
            blocked: str | None = None
            while True:
                now = self.clock()
                st = self._state()
                seen = failure_seen_at(st, inj, now)
                switched = st.active == "standby" and st.phase == "steady"
                if seen is not None and not switched:
                    rec.milestone("first_failure_seen", at=seen)
                if st.blocked and st.blocked != blocked:
                    blocked = st.blocked
                    rec.note(f"orchestrator blocked: {blocked}", level="warning")
                if switched:
                    committed = st.last_transition_epoch()
                    if committed is None or committed < inj:
                        committed = now
                    # The state keeps only the latest probe's time: after the switch it may be
                    # later than the commit, and a failure is never seen after it was acted on.
                    rec.milestone("first_failure_seen",
                                  at=committed if seen is None else min(seen, committed))
                    rec.milestone("transition_committed", at=committed)
                    side = self._safe_read_back()
                    if side == "standby":
                        rec.milestone("router_verified", at=max(self.clock(), committed))
                        break
                if now >= deadline:
                    waiting = ("the first failure" if "first_failure_seen" not in rec.milestones
                               else "the transition" if "transition_committed"
                               not in rec.milestones else "the router read-back")
                    rec.check("switched to standby", False,
                              f"timed out after {self.opts.timeout:g} s waiting for {waiting}"
                              + (f" (orchestrator blocked: {blocked})" if blocked else ""))
                    raise PhaseFailed(f"timed out after {self.opts.timeout:g} s waiting for "
                                      f"{waiting}" + (f"; blocked: {blocked}" if blocked else ""))
                self.sleep(min(self.poll, max(0.0, deadline - now)))
            lt = st.last_transition or {}
            rec.check("switched to standby", True,
                      f"transition {lt.get('id', '?')} ({lt.get('reason', '?')}) committed, router "
                      "read-back: standby")
            if self.opts.check_url:
                ok, detail = http_check(self.opts.check_url)
                rec.check("HTTP check through the routed endpoint", ok, detail)
                if ok:
                    rec.milestone("http_verified")
            ph.detail = "switched to standby"

    # -- phase 4: verify ------------------------------------------------------------------------

    def _verify(self) -> None:
        assert self.rec is not None
        rec = self.rec
        with rec.phase("verify"):
            states = self.store.load_all()
            st = states[self.opts.service]
            rec.check("state: active is standby", st.active == "standby",
                      f"active={st.active}, phase={st.phase}")
            side = self._safe_read_back()
            rec.check("traffic points at the standby", side == "standby", f"read-back: {side or 'neither side'}")
            changed: list[str] = []
            for name, before in sorted(self.snapshot.items()):
                now_st = states.get(name)
                after = {"active": now_st.active, "phase": now_st.phase} if now_st else None
                if after != before:
                    changed.append(f"{name}: {before} → {after}")
            others_in_log = [e for e in self.store.log(since=self.rec.origin,
                                                          kind="transition")
                             if e.get("service") != self.opts.service
                             and e.get("service") not in self.siblings]
            changed += [f"{e.get('service')}: transition {e.get('transition_id')} "
                        f"({e.get('from')} → {e.get('to')})" for e in others_in_log]
            self.others_changed = changed
            rec.check("other services untouched", not changed,
                      f"{len(self.snapshot)} checked" if not changed else "; ".join(changed))

    # -- phase 5: restore (drill/restore.py) ----------------------------------------------------

    def _restore(self) -> None:
        from lambdafail.drill.restore import restore

        restore(self)

    # -- report ---------------------------------------------------------------------------------

    def _report(self) -> dict[str, Any]:
        return summary.report(self)

    def _cold_standby_ready(self) -> bool:
        """For a cold standby (its failover plan starts it), check the plan's readiness
        instead of the standby's health (as status does). False: not a cold standby."""
        from lambdafail.oncall.readiness import plan_readiness
        from lambdafail.runtime.recovery import cold_standby

        assert self.rec is not None
        if not cold_standby(dict(self.svc), "standby"):
            return False
        problems = plan_readiness(self.ctx, {"services": {self.opts.service: self.svc}}).get(
            self.opts.service, [])
        self.rec.check("standby's recovery plan can run", not problems,
                       "; ".join(problems) or "cold standby: started by its failover plan, "
                       "judged by its wait step")
        return True

    def _dry_run_report(self) -> dict[str, Any]:
        return summary.dry_run_report(self)


def http_check(url: str, timeout: float = 5.0) -> tuple[bool, str]:
    """GET `url`; healthy on 2xx/3xx."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            code = int(resp.status)
    except urllib.error.HTTPError as e:
        code = int(e.code)
    except Exception as e:  # any failure is the check's answer
        return False, f"GET {url}: {e}"
    return 200 <= code < 400, f"GET {url}: HTTP {code}"
