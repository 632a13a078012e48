"""Drills: pre-check → inject → observe → verify → restore (in `finally`) → grade.

Rules: a drill never leaves production failed over by accident and never reports a pass it did
not earn. Restore runs in `finally` — also on Ctrl-C, SIGTERM (turned into `DrillInterrupted`)
and timeout — and any part it cannot finish is listed with the exact commands that finish it.
Every phase, check and milestone is appended to a JSON-lines journal and fsynced as it happens,
so a crashed drill still leaves a record. Only the named service is ever touched. The drill
drives nothing itself: the orchestrator's real probes, thresholds and transition code do the
detection and the switch; the drill injects a fault, watches, and grades. No click, no rich:
`commands/drill.py` renders the events this module emits.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from lambdafail.aws import time_scale
from lambdafail.base.errors import ExitCode, UsageError
from lambdafail.drill.report import SCHEMA
from lambdafail.runtime.clock import iso
from lambdafail.runtime.clock import parse_iso_or_none as parse_iso

if TYPE_CHECKING:
    from lambdafail.aws import AwsContext
    from lambdafail.runtime.state import ServiceState, StateStore

SCENARIOS = ("primary-down", "event", "alarm", "command")
PHASES = ("precheck", "inject", "observe", "verify", "restore", "grade")
# A fault and a lock outlive the drill's own deadlines by this much, then expire by themselves:
# a crashed drill (kill -9, lost laptop) cannot keep a primary "down" or block drills forever.
FAULT_MARGIN_SECONDS = 60.0
POLL_SECONDS = 0.2
COMMAND_TIMEOUT_SECONDS = 300.0

Listener = Callable[[dict[str, Any]], None]


class DrillInterrupted(BaseException):
    """SIGTERM (or a second Ctrl-C) during a drill. A BaseException like KeyboardInterrupt, so
    no `except Exception` on the way swallows it and the `finally` restore always runs."""


class PhaseFailed(Exception):
    """A phase did not succeed; the drill goes straight to restore and grade."""


# ------------------------------------------------------------------------------------ journal


class Journal:
    """Append-only JSON lines, flushed and fsynced after every record (crash-proof)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = str(path)
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._f = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()
        self._lock = threading.Lock()

    def write(self, record: Mapping[str, Any]) -> None:
        line = json.dumps(record, default=str, sort_keys=False)
        with self._lock:
            if self._f.closed:
                return
            self._f.write(line + "\n")
            self._f.flush()
            os.fsync(self._f.fileno())

    def close(self) -> None:
        with self._lock:
            if not self._f.closed:
                self._f.close()


def read_journal(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Records of a journal; a torn last line (crash mid-write) is ignored."""
    out: list[dict[str, Any]] = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


# ------------------------------------------------------------------------- phases & grading


@dataclass
class Check:
    name: str
    ok: bool
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail}


@dataclass
class Phase:
    name: str
    status: str = "skipped"  # passed | failed | skipped | interrupted
    started: float | None = None
    ended: float | None = None
    detail: str = ""
    checks: list[Check] = field(default_factory=list)
    skip: bool = False  # set inside the phase: it ends as "skipped" (on purpose), not "passed"

    def to_dict(self, origin: float) -> dict[str, Any]:
        def off(t: float | None) -> float | None:
            return None if t is None else round(t - origin, 3)

        return {"name": self.name, "status": self.status,
                "started_at": None if self.started is None else iso(self.started),
                "ended_at": None if self.ended is None else iso(self.ended),
                "start_s": off(self.started), "end_s": off(self.ended),
                "detail": self.detail, "checks": [c.to_dict() for c in self.checks]}


class Recorder:
    """Phases, checks and milestones as they happen, each one sent to the journal and the
    listener at once."""

    def __init__(self, drill_id: str, clock: Callable[[], float],
                 sinks: list[Listener]) -> None:
        self.drill_id = drill_id
        self.clock = clock
        self.sinks = sinks
        self.origin = clock()
        self.phases: dict[str, Phase] = {n: Phase(n) for n in PHASES}
        self.milestones: dict[str, float] = {}
        self.current: Phase | None = None

    def emit(self, kind: str, **fields: Any) -> None:
        t = self.clock()
        rec = {"at": iso(t), "epoch": round(t, 3), "offset_s": round(t - self.origin, 3),
               "drill_id": self.drill_id, "kind": kind, **fields}
        for sink in self.sinks:
            sink(rec)

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[Phase]:
        ph = self.phases[name]
        ph.started = self.clock()
        ph.status = "running"
        self.current = ph
        self.emit("phase-start", phase=name)
        try:
            yield ph
        except (KeyboardInterrupt, DrillInterrupted):
            ph.status = "interrupted"
            ph.detail = ph.detail or "interrupted (Ctrl-C / SIGTERM)"
            raise
        except PhaseFailed as e:
            ph.status = "failed"
            ph.detail = str(e)
            raise
        except Exception as e:
            ph.status = "failed"
            ph.detail = getattr(e, "message", None) or f"{type(e).__name__}: {e}"
            raise
        else:
            ph.status = "passed" if all(c.ok for c in ph.checks) else "failed"
            if ph.skip and ph.status == "passed":
                ph.status = "skipped"
            if ph.status == "failed" and not ph.detail:
                ph.detail = "; ".join(f"{c.name}: {c.detail}" for c in ph.checks if not c.ok)
        finally:
            ph.ended = self.clock()
            self.current = None
            self.emit("phase-end", phase=name, status=ph.status, detail=ph.detail)

    def check(self, name: str, ok: bool, detail: str = "") -> Check:
        c = Check(name, ok, detail)
        if self.current is not None:
            self.current.checks.append(c)
        self.emit("check", phase=self.current.name if self.current else None, name=name, ok=ok,
                  detail=detail)
        return c

    def milestone(self, name: str, at: float | None = None) -> None:
        if name in self.milestones:
            return
        t = self.clock() if at is None else at
        self.milestones[name] = t
        self.emit("milestone", name=name, milestone_at=iso(t),
                  milestone_offset_s=round(t - self.origin, 3))

    def note(self, text: str, level: str = "info") -> None:
        self.emit("note", text=text, level=level)


def timings(milestones: Mapping[str, float]) -> dict[str, float | None]:
    """time to detect = injected → first failure seen; time to switch = first failure seen →
    router verified; total = injected → router verified (what the RTO is about)."""
    inj = milestones.get("injected")
    seen = milestones.get("first_failure_seen")
    routed = milestones.get("router_verified")

    def span(a: float | None, b: float | None) -> float | None:
        return None if a is None or b is None else round(max(0.0, b - a), 3)

    return {"time_to_detect_s": span(inj, seen), "time_to_switch_s": span(seen, routed),
            "total_s": span(inj, routed)}


def grade(phases: Mapping[str, Phase], t: Mapping[str, float | None], rto_seconds: float,
          restore_requested: bool, restore_ok: bool | None,
          interrupted: bool = False) -> dict[str, Any]:
    """Pass only if every phase succeeded and the RTO was met. Pure."""
    reasons: list[str] = []
    for name in ("precheck", "inject", "observe", "verify"):
        ph = phases[name]
        if ph.status != "passed":
            reasons.append(f"{name} {ph.status}" + (f": {ph.detail}" if ph.detail else ""))
    total = t.get("total_s")
    rto_met: bool | None = None if total is None else total <= rto_seconds
    if rto_met is False:
        reasons.append(f"RTO missed: {total:.2f} s > {rto_seconds:g} s")
    elif rto_met is None and phases["inject"].status == "passed":
        reasons.append("no switch was measured, so the RTO was not met")
    if interrupted:
        reasons.append("the drill was interrupted")
    if restore_requested and restore_ok is False:
        reasons.append("restore incomplete: act by hand (see the restore section)")
    passed = not reasons and bool(rto_met)
    if restore_requested and restore_ok is False:
        result, code = "restore-incomplete", ExitCode.RESTORE_INCOMPLETE
    elif passed:
        result, code = "pass", ExitCode.OK
    else:
        result, code = "fail", ExitCode.DRILL_FAILED
    return {"result": result, "passed": passed, "rto_met": rto_met, "reasons": reasons,
            "exit_code": int(code)}


# -------------------------------------------------------------------------------- the drill


@dataclass
class DrillOptions:
    service: str
    scenario: str = "primary-down"
    timeout: float = 300.0
    restore: bool = True
    report_dir: str | None = None
    inject_cmd: str | None = None
    restore_cmd: str | None = None
    check_url: str | None = None
    dry_run: bool = False
    operator: str = ""
    topology_file: str = ""


@dataclass
class RestoreOutcome:
    requested: bool
    ok: bool | None = None  # None: nothing needed restoring
    path: str | None = None
    left: list[str] = field(default_factory=list)
    instructions: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"requested": self.requested, "ok": self.ok, "path": self.path,
                "left": list(self.left), "instructions": list(self.instructions)}


def sample_event(pattern: Mapping[str, Any]) -> dict[str, Any]:
    """An event (source, detail-type, detail) that matches `pattern`, for the event scenario.

    Picks the first literal value of every field (prefix/suffix/equals-ignore-case/wildcard
    operators give a value that satisfies them); raises UsageError when that is not enough."""
    from lambdafail.runtime.patterns import matches

    def value(spec: Any) -> Any:
        if isinstance(spec, list):
            for v in spec:
                got = value(v)
                if got is not _NO:
                    return got
            return _NO
        if isinstance(spec, dict):
            if "prefix" in spec and isinstance(spec["prefix"], str):
                return spec["prefix"] + "drill"
            if "suffix" in spec and isinstance(spec["suffix"], str):
                return "drill" + spec["suffix"]
            if "equals-ignore-case" in spec:
                return spec["equals-ignore-case"]
            if "wildcard" in spec and isinstance(spec["wildcard"], str):
                return spec["wildcard"].replace("*", "x")
            if "numeric" in spec:
                return _NO
            if spec.get("exists") is True:
                return "drill"
            if "anything-but" in spec:
                return "lambdafail-drill"
            return {k: value(v) for k, v in spec.items()}
        return spec

    def build(pat: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in pat.items():
            if k == "$or":
                continue
            got = value(v) if isinstance(v, list) else build(v) if isinstance(v, dict) else v
            if got is _NO:
                continue
            out[k] = got
        return out

    ev = build(pattern)
    if isinstance(pattern.get("$or"), list) and pattern["$or"]:
        ev.update(build(pattern["$or"][0]))
    event = {"id": f"drill-{uuid.uuid4()}", "source": ev.pop("source", "lambdafail.drill"),
             "detail-type": ev.pop("detail-type", "Server failure"),
             "detail": ev.pop("detail", {}) if isinstance(ev.get("detail"), dict) else {}}
    event.update({k: v for k, v in ev.items() if k in ("account", "region", "resources")})
    if not matches(pattern, event):
        raise UsageError("cannot build an event that matches this service's event signal",
                         hint="use --scenario command with --inject-cmd that emits the real "
                         "failure event")
    return event


_NO = object()


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
        self.fault_set = False
        self.alarm_set: str | None = None
        self.snapshot: dict[str, dict[str, Any]] = {}
        self.poll = max(0.02, POLL_SECONDS / max(1.0, time_scale()))
        self.journal: Journal | None = None
        self.report_dir: str | None = None
        self.rec: Recorder | None = None
        self.interrupted = False
        self.restore = RestoreOutcome(requested=opts.restore)
        self.others_changed: list[str] = []

    # -- AWS plumbing -------------------------------------------------------------------------

    @property
    def store(self) -> StateStore:
        if self._store is None:
            from lambdafail.runtime.state import StateStore

            self._store = StateStore(str(self.compiled["table"]), self.ctx.client("dynamodb"))
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
        from lambdafail.oncall import clients_for

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
        with _signal_latch() as latch:
            return self._run(rec, latch)

    def _run(self, rec: Recorder, latch: _SignalLatch) -> dict[str, Any]:
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
                if h.ok is None:
                    rec.check(f"{side} healthy", False, "never probed by the orchestrator")
                else:
                    rec.check(f"{side} healthy", bool(h.ok) and not st.faulted(side, now),
                              f"last probe {'ok' if h.ok else 'FAILED'} at {h.at}"
                              f"{': ' + h.detail if h.detail and not h.ok else ''}")
            faults = {k: v for k, v in st.faults.items() if now < float(v)}
            rec.check("no fault injected", not faults,
                      "none" if not faults else f"faults until {faults}")
            alarms = {a: s for a, s in st.alarms.items() if s == "ALARM"}
            rec.check("no alarm firing", not alarms, "none" if not alarms else str(alarms))
            rec.check("nothing blocked", not st.blocked, st.blocked or "none")
            # The orchestrator will not switch automatically inside the cooldown (a drill right
            # after a drill): the steady state includes being allowed to fail over at all.
            from lambdafail.runtime.transitions import cooldown_remaining

            wait = cooldown_remaining(st, dict(self.svc), self.clock())
            rec.check("cooldown elapsed", wait <= 0,
                      "none" if wait <= 0 else f"{wait:.0f} s left since the last transition; "
                      "the orchestrator would refuse to fail over")
            self._check_fresh(self.clock())
            routed = self._safe_read_back()
            rec.check("router points at primary", routed == "primary", f"read-back: {routed}")
            lock = self.store.drill_lock(svc)
            busy = lock is not None and float(lock.get("lock_expires_epoch", 0)) > now
            rec.check("no other drill running", not busy,
                      "none" if not busy or lock is None else
                      f"drill {lock.get('drill_id')} by {lock.get('owner')} since "
                      f"{lock.get('started_at')}")
            for name, other in states.items():
                if name != svc:
                    self.snapshot[name] = {"active": other.active, "phase": other.phase}
            if not all(c.ok for c in ph.checks):
                raise PhaseFailed("steady state not met: " + "; ".join(
                    f"{c.name} ({c.detail})" for c in ph.checks if not c.ok))
            if self.opts.dry_run:
                ph.detail = "steady state met (dry run: no lock taken)"
                return
            # Observe and restore each get --timeout; user commands may take their own limit.
            commands = 2 * COMMAND_TIMEOUT_SECONDS if self.opts.scenario == "command" else 0.0
            ttl = self.opts.timeout * 2 + commands + FAULT_MARGIN_SECONDS
            if not self.store.acquire_drill_lock(svc, self.drill_id, self.opts.operator, ttl,
                                                 now=self.clock()):
                lock = self.store.drill_lock(svc) or {}
                rec.check("drill lock taken", False,
                          f"held by drill {lock.get('drill_id')} ({lock.get('owner')})")
                raise PhaseFailed("another drill holds the lock for "
                                  f"{svc}: {lock.get('drill_id')} by {lock.get('owner')}")
            self.lock_held = True
            rec.check("drill lock taken", True, f"expires in {ttl:g} s")
            ph.detail = "steady state met; lock taken"

    def _check_fresh(self, now: float) -> None:
        assert self.rec is not None
        from lambdafail.oncall import stale_after_seconds

        limit = stale_after_seconds(self.compiled)
        hb = self.store.heartbeat_item()
        epoch = float(hb["last_tick_epoch"]) if hb and "last_tick_epoch" in hb else None
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
        sc = self.opts.scenario
        kinds = [s["kind"] for s in self.svc.get("signals", [])]
        if sc == "event" and "event" not in kinds:
            self.rec.check("scenario possible", False, "the service has no event signal")
            raise PhaseFailed("scenario event needs an event signal on the service")
        if sc == "alarm" and "alarm" not in kinds:
            self.rec.check("scenario possible", False, "the service has no alarm signal")
            raise PhaseFailed("scenario alarm needs an alarm signal on the service")
        if sc == "command" and not self.opts.inject_cmd:
            raise UsageError("--scenario command needs --inject-cmd (and usually --restore-cmd)")
        self.rec.check("scenario possible", True, self.describe_injection())

    def describe_injection(self) -> str:
        sc = self.opts.scenario
        svc = self.opts.service
        if sc == "primary-down":
            return (f"mark {svc}'s primary forced-unhealthy in {self.compiled['table']} "
                    f"(until now + {self.opts.timeout + FAULT_MARGIN_SECONDS:g} s)")
        if sc == "event":
            sig = next(s for s in self.svc["signals"] if s["kind"] == "event")
            return (f"put an event matching {json.dumps(sig['pattern'])} on bus "
                    f"{self.compiled['bus']}")
        if sc == "alarm":
            sig = next(s for s in self.svc["signals"] if s["kind"] == "alarm")
            return f"set alarm {sig['alarm_name']} to ALARM"
        return f"run: {self.opts.inject_cmd}"

    # -- phase 2: inject ------------------------------------------------------------------------

    def _inject(self) -> None:
        assert self.rec is not None
        rec = self.rec
        with rec.phase("inject") as ph:
            sc = self.opts.scenario
            start = self.clock()
            # Marked before the call: the outage may begin the moment the write lands, and a
            # drill must not grade itself on a clock that started late.
            self.injected = True
            if sc == "primary-down":
                deadline = start + self.opts.timeout + FAULT_MARGIN_SECONDS
                self.fault_set = True
                self.store.set_fault(self.opts.service, "primary", deadline)
                detail = f"primary forced unhealthy until {iso(deadline)}"
            elif sc == "event":
                detail = self._put_event()
            elif sc == "alarm":
                sig = next(s for s in self.svc["signals"] if s["kind"] == "alarm")
                name = str(sig["alarm_name"])
                self.alarm_set = name
                from lambdafail.aws import call

                call(self.ctx.client("cloudwatch"), "set_alarm_state", resource=name,
                     AlarmName=name, StateValue="ALARM",
                     StateReason=f"lambdafail drill {self.drill_id}")
                detail = f"alarm {name} set to ALARM"
            else:
                assert self.opts.inject_cmd is not None
                detail = _run_command(self.opts.inject_cmd, "--inject-cmd")
            rec.milestone("injected", at=start)
            rec.check("fault injected", True, detail)
            ph.detail = detail

    def _put_event(self) -> str:
        from lambdafail.aws import call

        sig = next(s for s in self.svc["signals"] if s["kind"] == "event")
        ev = sample_event(sig["pattern"])
        entry = {"Source": ev["source"], "DetailType": ev["detail-type"],
                 "Detail": json.dumps(ev["detail"]),
                 "EventBusName": str(self.compiled["bus"])}
        if ev.get("resources"):
            entry["Resources"] = ev["resources"]
        resp = call(self.ctx.client("events"), "put_events", resource=str(self.compiled["bus"]),
                    Entries=[entry])
        if resp.get("FailedEntryCount"):
            failed = resp.get("Entries", [{}])[0]
            raise PhaseFailed(f"put_events refused the event: {failed.get('ErrorCode')} "
                              f"{failed.get('ErrorMessage')}")
        event_id = (resp.get("Entries") or [{}])[0].get("EventId", "?")
        return (f"event {event_id} ({ev['source']} / {ev['detail-type']}) put on bus "
                f"{self.compiled['bus']}")

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
                seen = _failure_seen_at(st, inj, now)
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
                      f"transition {lt.get('id')} ({lt.get('reason')}) committed, router "
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
            rec.check("traffic points at the standby", side == "standby", f"read-back: {side}")
            changed: list[str] = []
            for name, before in sorted(self.snapshot.items()):
                now_st = states.get(name)
                after = {"active": now_st.active, "phase": now_st.phase} if now_st else None
                if after != before:
                    changed.append(f"{name}: {before} → {after}")
            others_in_log = [e for e in self.store.log(since=self.rec.origin)
                             if e.get("service") != self.opts.service]
            changed += [f"{e.get('service')}: transition {e.get('transition_id')} "
                        f"({e.get('from')} → {e.get('to')})" for e in others_in_log]
            self.others_changed = changed
            rec.check("other services untouched", not changed,
                      f"{len(self.snapshot)} checked" if not changed else "; ".join(changed))

    # -- phase 5: restore -----------------------------------------------------------------------

    def _restore(self) -> None:
        assert self.rec is not None
        rec = self.rec
        r = self.restore
        if not self.injected and not self.lock_held:
            return  # nothing changed, nothing to restore (the restore phase stays "skipped")
        svc = self.opts.service
        file_flag = f"-f {shlex.quote(self.opts.topology_file)} " if self.opts.topology_file \
            else ""
        table = str(self.compiled["table"])
        with contextlib.suppress(PhaseFailed), rec.phase("restore") as ph:
            if not self.opts.restore:
                if self.lock_held:
                    self._release_lock(r, svc, table)
                ph.skip = True
                r.left.append(f"{svc} is LEFT FAILED OVER on purpose (--no-restore)")
                if self.fault_set:
                    r.left.append(f"the primary's forced-unhealthy fault stays until it expires "
                                  f"(≤ {self.opts.timeout + FAULT_MARGIN_SECONDS:g} s after "
                                  "injection)")
                r.instructions.append(f"lambdafail rollback {file_flag}{svc}  # when you are "
                                      "done, fail back to the primary")
                rec.note(f"--no-restore: {svc} is LEFT FAILED OVER to its standby on purpose",
                         level="warning")
                ph.detail = "skipped on purpose (--no-restore): service left failed over"
                r.ok = None
                return
            # --timeout also bounds the fail-back wait (the primary must be healthy again).
            deadline = self.clock() + self.opts.timeout
            # 1. clear the fault / undo the injection
            if self.fault_set:
                try:
                    self.store.clear_fault(svc, "primary")
                    rec.milestone("fault_cleared")
                    rec.check("fault cleared", True, "primary no longer forced unhealthy")
                except Exception as e:  # listed as left over
                    rec.check("fault cleared", False, _msg(e))
                    r.left.append(f"{svc}'s primary is still forced unhealthy (expires by "
                                  "itself at the fault deadline)")
                    r.instructions.append(
                        f"aws dynamodb update-item --table-name {table} --key "
                        f"'{{\"pk\":{{\"S\":\"service\"}},\"sk\":{{\"S\":\"{svc}\"}}}}' "
                        "--update-expression 'REMOVE faults.primary'")
            if self.alarm_set:
                try:
                    from lambdafail.aws import call

                    call(self.ctx.client("cloudwatch"), "set_alarm_state",
                         resource=self.alarm_set, AlarmName=self.alarm_set, StateValue="OK",
                         StateReason=f"lambdafail drill {self.drill_id} restore")
                    rec.milestone("fault_cleared")
                    rec.check("alarm reset to OK", True, self.alarm_set)
                except Exception as e:
                    rec.check("alarm reset to OK", False, _msg(e))
                    r.left.append(f"alarm {self.alarm_set} is still in ALARM")
                    r.instructions.append(f"aws cloudwatch set-alarm-state --alarm-name "
                                          f"{shlex.quote(self.alarm_set)} --state-value OK "
                                          "--state-reason 'drill restore'")
            if self.opts.scenario == "command" and self.injected:
                if self.opts.restore_cmd:
                    try:
                        detail = _run_command(self.opts.restore_cmd, "--restore-cmd")
                        rec.milestone("fault_cleared")
                        rec.check("restore command", True, detail)
                    except Exception as e:
                        rec.check("restore command", False, _msg(e))
                        r.left.append("the outage caused by --inject-cmd may still be in place")
                        r.instructions.append(f"run by hand: {self.opts.restore_cmd}")
                else:
                    rec.note("no --restore-cmd: the outage caused by --inject-cmd is yours to "
                             "undo", level="warning")
                    r.left.append("no --restore-cmd given: undo what --inject-cmd did by hand")
            # 2. fail back through the rollback path, then 3. verify the primary is active
            if self.injected:
                self._fail_back(r, deadline, file_flag)
            # 4. release the lock
            if self.lock_held:
                self._release_lock(r, svc, table)
            r.ok = not r.left
            if not r.ok:
                raise PhaseFailed("restore incomplete: " + "; ".join(r.left))
            ph.detail = f"restored through {r.path or 'nothing to fail back'}; lock released"

    def _fail_back(self, r: RestoreOutcome, deadline: float, file_flag: str) -> None:
        assert self.rec is not None
        rec = self.rec
        svc = self.opts.service
        last_error = ""
        while True:
            try:
                st = self._state()
                if st.active == "primary" and st.phase == "steady":
                    if self._safe_read_back() == "primary":
                        rec.milestone("primary_restored")
                        rec.check("primary active again", True, "state and router read-back: "
                                  "primary")
                        return
                    last_error = "state says primary but the router does not point there yet"
                else:
                    r.path = r.path or self._rollback_path_name()
                    done, last_error = self._rollback_once()
                    if done:
                        continue  # re-read and verify
            except (PhaseFailed, Exception) as e:  # retried until the deadline
                last_error = _msg(e)
            if self.clock() >= deadline:
                break
            self.sleep(self.poll)
        rec.check("primary active again", False, last_error or "timed out")
        r.left.append(f"{svc} is still failed over to its standby ({last_error})")
        r.instructions.append(f"lambdafail status {file_flag}{svc}  # see where traffic is")
        r.instructions.append(f"lambdafail rollback {file_flag}{svc}  # fail back to the primary")

    def _rollback_path_name(self) -> str:
        return "lambdafail.oncall.rollback"

    def _rollback_once(self) -> tuple[bool, str]:
        """One attempt to fail back through the rollback path: `oncall.rollback`, the code
        behind `lambdafail rollback` (manual switch: no cooldown; it probes the primary from
        here first and refuses while it is not healthy, so the caller retries). Returns
        (done, why not)."""
        from lambdafail import oncall

        out = oncall.rollback(self.ctx, dict(self.compiled), self.opts.service,
                              note=f"lambdafail drill {self.drill_id}: restore",
                              actor=f"drill:{self.drill_id}"
                              + (f" ({self.opts.operator})" if self.opts.operator else ""))
        if out.outcome in ("switched", "noop") and out.verified:
            return True, ""
        return False, f"rollback {out.outcome}: {out.message}"

    def _release_lock(self, r: RestoreOutcome, svc: str, table: str) -> None:
        assert self.rec is not None
        try:
            self.store.release_drill_lock(svc, self.drill_id)
            self.lock_held = False
            self.rec.milestone("lock_released")
            self.rec.check("drill lock released", True, "")
        except Exception as e:
            self.rec.check("drill lock released", False, _msg(e))
            r.left.append(f"the drill lock on {svc} is still held (expires by itself)")
            r.instructions.append(
                f"aws dynamodb delete-item --table-name {table} --key "
                f"'{{\"pk\":{{\"S\":\"drill\"}},\"sk\":{{\"S\":\"{svc}\"}}}}'")

    # -- report ---------------------------------------------------------------------------------

    def _report(self) -> dict[str, Any]:
        assert self.rec is not None
        rec = self.rec
        t = timings(rec.milestones)
        g = grade(rec.phases, t, self.rto, self.opts.restore, self.restore.ok,
                  interrupted=self.interrupted)
        if not self.opts.restore and self.injected:
            g["reasons"].append("--no-restore: the service was left failed over on purpose")
        return {
            "schema": SCHEMA,
            "drill_id": self.drill_id,
            "topology": str(self.compiled["topology"]),
            "service": self.opts.service,
            "scenario": self.opts.scenario,
            "operator": self.opts.operator,
            "dry_run": self.opts.dry_run,
            "started_at": iso(rec.origin),
            "ended_at": None,
            "timeout_s": self.opts.timeout,
            "rto_seconds": self.rto,
            "phases": [p.to_dict(rec.origin) for p in rec.phases.values()],
            "milestones": {k: ({"at": iso(rec.milestones[k]),
                                "offset_s": round(rec.milestones[k] - rec.origin, 3)}
                               if k in rec.milestones else None)
                           for k in _MILESTONES},
            "timings": t,
            "restore": self.restore.to_dict(),
            "other_services": {"checked": sorted(self.snapshot),
                               "changed": list(self.others_changed)},
            "grade": g,
            "journal": self.journal.path if self.journal else None,
        }

    def _dry_run_report(self) -> dict[str, Any]:
        report = self._report()
        report["plan"] = {
            "inject": self.describe_injection(),
            "observe": f"poll {self.compiled['table']} and the router every {self.poll:g} s for "
                       f"up to {self.opts.timeout:g} s: injected → first failure seen → "
                       "transition committed → router verified (read-back)"
                       + (f" → HTTP {self.opts.check_url}" if self.opts.check_url else ""),
            "verify": "state and router read-back point at the standby; "
                      f"{len(self.snapshot)} other service(s) unchanged",
            "restore": ("clear the fault, fail back through the rollback path, verify the "
                        "primary, release the lock") if self.opts.restore
                       else "skipped (--no-restore): the service would be LEFT FAILED OVER",
            "grade": f"total (injected → router verified) ≤ rto_seconds {self.rto:g}",
        }
        ok = all(c.ok for c in self.rec.phases["precheck"].checks) if self.rec else False
        report["grade"] = {"result": "pass" if ok else "fail", "passed": ok, "rto_met": None,
                           "reasons": [] if ok else ["steady state not met"],
                           "exit_code": 0 if ok else int(ExitCode.DRILL_FAILED)}
        report["ended_at"] = iso(self.clock())
        return report


_MILESTONES = ("injected", "first_failure_seen", "transition_committed", "router_verified",
               "http_verified", "fault_cleared", "primary_restored", "lock_released")


def _failure_seen_at(st: ServiceState, injected: float, now: float) -> float | None:
    """When the orchestrator first recorded a failure after the injection (its own timestamp
    when it has one), or None. Anything it recorded before the injection does not count."""
    h = st.health["primary"]
    candidates: list[float] = []
    if h.ok is False:
        at = parse_iso(h.at)
        if at is not None and at >= injected - 0.001:
            candidates.append(at)
    if any(v == "ALARM" for v in st.alarms.values()):
        candidates.append(now)
    if st.blocked:
        # The orchestrator saw the failure but refused to act (standby down, cooldown): seen.
        candidates.append(now)
    if st.phase == "switching" and st.pending:
        started = parse_iso(st.pending.get("started_at"))
        if started is not None and started >= injected - 0.001:
            candidates.append(started)
    return min(candidates) if candidates else None


def _msg(e: BaseException) -> str:
    return str(getattr(e, "message", None) or e) or type(e).__name__


def _run_command(cmd: str, flag: str) -> str:
    """Run a user's inject/restore command through the shell; non-zero exit is a failure."""
    try:
        p = subprocess.run(cmd, shell=True, capture_output=True, text=True,
                           timeout=COMMAND_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired as e:
        raise PhaseFailed(f"{flag} timed out after {COMMAND_TIMEOUT_SECONDS:g} s") from e
    if p.returncode != 0:
        tail = (p.stderr or p.stdout).strip().splitlines()[-3:]
        raise PhaseFailed(f"{flag} exited {p.returncode}: {' / '.join(tail)}")
    return f"{flag} ok: {cmd}"


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


# ------------------------------------------------------------------------------------ signals


_TERMINATING = (signal.SIGTERM, *((signal.SIGHUP,) if hasattr(signal, "SIGHUP") else ()))


class _SignalLatch:
    """Ctrl-C, SIGTERM and SIGHUP during a drill, handled so that nothing re-enters I/O.

    The handler only records the signal (a handler that wrote to the journal or the terminal
    could re-enter a write it interrupted, and deadlock); the first signal before the restore
    raises DrillInterrupted once, so the `finally` restore runs. Every later signal — and any
    during the restore, which must not be cut short — is only recorded, and noted in the journal
    by the main loop once the restore is done. Repeated signals never hang the drill or change
    its exit code (kill -9 still works; the fault and lock expire).
    """

    def __init__(self) -> None:
        self.received: list[int] = []
        self.raised = False
        self.deferring = False

    def on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.received.append(signum)  # list.append: atomic, takes no lock
        if not self.raised and not self.deferring:
            self.raised = True
            raise DrillInterrupted(f"signal {signum}")

    def defer(self) -> None:
        """From now on signals are recorded, not obeyed (the restore is running)."""
        self.deferring = True

    def unheeded(self) -> list[int]:
        """Signals that did not interrupt anything: the restore finished first."""
        return self.received[1:] if self.raised else list(self.received)


@contextlib.contextmanager
def _signal_latch() -> Iterator[_SignalLatch]:
    """Install the latch for the drill's duration. Only the main thread may install handlers;
    elsewhere the latch is inert. A SIGINT that was ignored at start (a background job) stays
    ignored."""
    latch = _SignalLatch()
    if threading.current_thread() is not threading.main_thread():
        yield latch
        return
    sigs = [s for s in (signal.SIGINT, *_TERMINATING)
            if not (s == signal.SIGINT and signal.getsignal(s) is signal.SIG_IGN)]
    # SIGHUP too: a closed terminal or a dropped SSH session must not skip the restore.
    old = {sig: signal.signal(sig, latch.on_signal) for sig in sigs}
    try:
        yield latch
    finally:
        if latch.received:
            # Signalled: the drill is over and the process on its way out; a signal arriving
            # between here and the exit must not kill it with another code. SIG_IGN, not a
            # Python handler: interpreter shutdown resets Python handlers to SIG_DFL.
            for sig in old:
                signal.signal(sig, signal.SIG_IGN)
        else:
            for sig, handler in old.items():
                signal.signal(sig, handler)
