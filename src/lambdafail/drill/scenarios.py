"""Drill scenarios: one class each — what it needs, how it injects the fault, how it undoes it.

Rule: adding a scenario is one `Scenario` subclass here with a `name`; the CLI's choices, the
pre-check, the injection and the restore all come from the registry, with no ladder of names.
A scenario touches only its own service, and records every undo it could not finish (with the
command that finishes it) in the restore outcome.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from lambdafail.aws import time_scale
from lambdafail.base.errors import AwsError, UsageError
from lambdafail.drill.journal import PhaseFailed
from lambdafail.runtime.clock import iso

if TYPE_CHECKING:
    from lambdafail.drill.runner import Drill, RestoreOutcome

# A fault outlives the drill's own deadlines by this much, then expires by itself: a crashed
# drill (kill -9, lost laptop) cannot keep a primary "down" forever.
FAULT_MARGIN_SECONDS = 60.0
COMMAND_TIMEOUT_SECONDS = 300.0

SCENARIOS: dict[str, type[Scenario]] = {}


def msg(e: BaseException) -> str:
    return str(getattr(e, "message", None) or e) or type(e).__name__


class Scenario:
    """One way to cause an outage. Subclasses set `name` and override what differs."""

    name: ClassVar[str] = ""
    # The kind of signal the service must have for this scenario (None: any service).
    needs_signal: ClassVar[str | None] = None
    # How much longer than 2 × --timeout the drill lock must live (user commands' own limit).
    extra_lock_seconds: ClassVar[float] = 0.0

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.name:
            SCENARIOS[cls.name] = cls

    def __init__(self, drill: Drill) -> None:
        self.drill = drill
        self.applied = False  # something in AWS to undo

    def signal(self) -> Mapping[str, Any]:
        return next(s for s in self.drill.svc.get("signals", []) if s["kind"] == self.needs_signal)

    def feasible(self) -> None:
        """Raise PhaseFailed (a failed check) or UsageError when this service cannot run it."""
        kinds = [s["kind"] for s in self.drill.svc.get("signals", [])]
        if self.needs_signal and self.needs_signal not in kinds:
            assert self.drill.rec is not None
            self.drill.rec.check("scenario possible", False,
                                 f"the service has no {self.needs_signal} signal")
            raise PhaseFailed(f"scenario {self.name} needs an {self.needs_signal} signal on the "
                              "service")

    def describe(self) -> str:
        raise NotImplementedError

    def warning(self) -> str | None:
        """Something the operator must know before saying yes (shown with the confirmation)."""
        return None

    def inject(self) -> str:
        """Cause the outage; return what was done."""
        raise NotImplementedError

    def undo(self, r: RestoreOutcome) -> None:
        """Step 1 of the restore: undo the injection (only called after `inject` began)."""

    def left_without_restore(self) -> list[str]:
        """What stays in place after --no-restore, besides the failover itself."""
        return []


class PrimaryDown(Scenario):
    """Force the primary's probes to fail through the state table's fault flag."""

    name = "primary-down"

    def describe(self) -> str:
        d = self.drill
        return (f"mark {d.opts.service}'s primary forced-unhealthy in {d.compiled['table']} "
                f"(until now + {d.opts.timeout + FAULT_MARGIN_SECONDS:g} s)")

    def inject(self) -> str:
        d = self.drill
        deadline = d.clock() + d.opts.timeout + FAULT_MARGIN_SECONDS
        self.applied = True
        d.store.set_fault(d.opts.service, "primary", deadline)
        return f"primary forced unhealthy until {iso(deadline)}"

    def undo(self, r: RestoreOutcome) -> None:
        if not self.applied:
            return
        d = self.drill
        assert d.rec is not None
        try:
            d.store.clear_fault(d.opts.service, "primary")
            d.rec.milestone("fault_cleared")
            d.rec.check("fault cleared", True, "primary no longer forced unhealthy")
        except Exception as e:  # listed as left over
            d.rec.check("fault cleared", False, msg(e))
            r.left.append(f"{d.opts.service}'s primary is still forced unhealthy (expires by "
                          "itself at the fault deadline)")
            r.instructions.append(
                f"aws dynamodb update-item --table-name {d.compiled['table']} --key "
                f"'{{\"pk\":{{\"S\":\"service\"}},\"sk\":{{\"S\":\"{d.opts.service}\"}}}}' "
                "--update-expression 'REMOVE faults.primary'")

    def left_without_restore(self) -> list[str]:
        if not self.applied:
            return []
        return [f"the primary's forced-unhealthy fault stays until it expires "
                f"(≤ {self.drill.opts.timeout + FAULT_MARGIN_SECONDS:g} s after injection)"]


class RegionOutage(PrimaryDown):
    """The primary's whole region goes dark. On AWS a region cannot be switched off: the
    primary is forced unhealthy, as in primary-down, while the orchestrator in the control
    region must act. On the sandbox the region is really blacked out as well (`lambdafail
    outage`): every request for it is cut off for the drill's duration, then lit again."""

    name = "region-outage"

    def __init__(self, drill: Drill) -> None:
        super().__init__(drill)
        self.dark: str | None = None  # the sandbox region this drill blacked out

    def region(self) -> str:
        d = self.drill
        return str(d.svc["primary"].get("region") or d.compiled["region"])

    @staticmethod
    def _sandbox() -> bool:
        from lambdafail.base import settings

        return settings.current().sandbox

    def feasible(self) -> None:
        super().feasible()
        d = self.drill
        if self.region() == d.compiled["region"]:
            assert d.rec is not None
            d.rec.check("watcher outside the region", False,
                        f"the orchestrator runs in {self.region()}, the primary's region")
            raise PhaseFailed(f"the orchestrator and its state live in {self.region()}, the "
                              "region of the primary: its outage would take the watcher down "
                              "too — set `control: {regions: [<another region>]}` "
                              "(docs/placement.md), or drill primary-down")

    def describe(self) -> str:
        what = ("black out the sandbox region " if self._sandbox()
                else "(on AWS a region cannot be switched off) ")
        return f"{what}{self.region()} and " + super().describe()

    def inject(self) -> str:
        from lambdafail.sandbox import control

        done = super().inject()
        if not self._sandbox():
            return done
        d = self.drill
        seconds = (d.opts.timeout + FAULT_MARGIN_SECONDS) * max(1.0, time_scale())
        control.outages(str(d.ctx.endpoint_url), {"region": self.region(), "seconds": seconds})
        self.dark = self.region()
        return f"{done}; sandbox region {self.region()} dark"

    def undo(self, r: RestoreOutcome) -> None:
        from lambdafail.sandbox import control

        d = self.drill
        if self.dark is not None:
            assert d.rec is not None
            try:
                control.outages(str(d.ctx.endpoint_url), {"region": self.dark, "end": True})
                d.rec.check("region lit again", True, f"{self.dark} answers again")
            except Exception as e:
                d.rec.check("region lit again", False, msg(e))
                r.left.append(f"sandbox region {self.dark} is still dark (it ends by itself)")
                r.instructions.append(f"lambdafail --sandbox outage {self.dark} --end")
        super().undo(r)


class Event(Scenario):
    """Put an event matching the service's event signal on the topology's bus."""

    name = "event"
    needs_signal = "event"

    def describe(self) -> str:
        return (f"put an event matching {json.dumps(self.signal()['pattern'])} on bus "
                f"{self.drill.compiled['bus']}")

    def inject(self) -> str:
        from lambdafail.aws import call

        d = self.drill
        bus = str(d.compiled["bus"])
        ev = sample_event(self.signal()["pattern"])
        entry = {"Source": ev["source"], "DetailType": ev["detail-type"],
                 "Detail": json.dumps(ev["detail"]), "EventBusName": bus}
        if ev.get("resources"):
            entry["Resources"] = ev["resources"]
        try:
            resp = call(d.ctx.client("events"), "put_events", resource=bus, Entries=[entry])
        except AwsError as e:
            if e.code in ("AccessDenied", "AccessDeniedException"):
                # The bus policy denies whoever is not one of the signal's senders.
                raise PhaseFailed(
                    f"{e.message} (only the signal's `senders` and lambdafail's orchestrator "
                    f"roles may put {ev['source']} events on {bus}: list the drilling "
                    f"identity in `senders`, docs/topology.md; or it lacks "
                    f"events:PutEvents: {e.hint})") from e
            raise
        if resp.get("FailedEntryCount"):
            failed = resp.get("Entries", [{}])[0]
            raise PhaseFailed(f"put_events refused the event: {failed.get('ErrorCode')} "
                              f"{failed.get('ErrorMessage')}")
        event_id = (resp.get("Entries") or [{}])[0].get("EventId", "?")
        return f"event {event_id} ({ev['source']} / {ev['detail-type']}) put on bus {bus}"


class Alarm(Scenario):
    """Set one of the service's CloudWatch alarms to ALARM (its own actions fire too)."""

    name = "alarm"
    needs_signal = "alarm"

    def alarm_name(self) -> str:
        return str(self.signal()["alarm_name"])

    def describe(self) -> str:
        return f"set alarm {self.alarm_name()} to ALARM"

    def warning(self) -> str | None:
        return (f"alarm {self.alarm_name()} will go to ALARM for real: every action configured "
                "on it (SNS topics, paging, Auto Scaling, EC2 actions) fires as in an outage")

    def inject(self) -> str:
        from lambdafail.aws import call

        d = self.drill
        name = self.alarm_name()
        self.applied = True
        call(d.ctx.client("cloudwatch"), "set_alarm_state", resource=name, AlarmName=name,
             StateValue="ALARM", StateReason=f"lambdafail drill {d.drill_id}")
        return f"alarm {name} set to ALARM"

    def undo(self, r: RestoreOutcome) -> None:
        if not self.applied:
            return
        from lambdafail.aws import call

        d = self.drill
        assert d.rec is not None
        name = self.alarm_name()
        try:
            call(d.ctx.client("cloudwatch"), "set_alarm_state", resource=name, AlarmName=name,
                 StateValue="OK", StateReason=f"lambdafail drill {d.drill_id} restore")
            d.rec.milestone("fault_cleared")
            d.rec.check("alarm reset to OK", True, name)
        except Exception as e:
            d.rec.check("alarm reset to OK", False, msg(e))
            r.left.append(f"alarm {name} is still in ALARM")
            r.instructions.append(f"aws cloudwatch set-alarm-state --alarm-name "
                                  f"{shlex.quote(name)} --state-value OK "
                                  "--state-reason 'drill restore'")


class Command(Scenario):
    """Run the operator's --inject-cmd (a real outage) and later --restore-cmd."""

    name = "command"
    extra_lock_seconds = 2 * COMMAND_TIMEOUT_SECONDS

    def feasible(self) -> None:
        if not self.drill.opts.inject_cmd:
            raise UsageError("--scenario command needs --inject-cmd (and usually --restore-cmd)")

    def describe(self) -> str:
        return f"run: {self.drill.opts.inject_cmd}"

    def inject(self) -> str:
        assert self.drill.opts.inject_cmd is not None
        self.applied = True
        return run_command(self.drill.opts.inject_cmd, "--inject-cmd")

    def undo(self, r: RestoreOutcome) -> None:
        if not self.applied:
            return
        d = self.drill
        assert d.rec is not None
        if d.opts.restore_cmd:
            try:
                detail = run_command(d.opts.restore_cmd, "--restore-cmd")
                d.rec.milestone("fault_cleared")
                d.rec.check("restore command", True, detail)
            except Exception as e:
                d.rec.check("restore command", False, msg(e))
                r.left.append("the outage caused by --inject-cmd may still be in place")
                r.instructions.append(f"run by hand: {d.opts.restore_cmd}")
        else:
            d.rec.note("no --restore-cmd: the outage caused by --inject-cmd is yours to undo",
                       level="warning")
            r.left.append("no --restore-cmd given: undo what --inject-cmd did by hand")


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


def run_command(cmd: str, flag: str) -> str:
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
